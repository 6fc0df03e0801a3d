"""labctl_qemu: the guest-agent connection the playbooks use gives each agent call 60 s.

The plugin is loaded the way Ansible loads it (from ansible/connection_plugins/), and
the libvirt binding under it is a stand-in that records the timeouts it is given; the
real connection runs in every VM test that runs a playbook.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from pathlib import Path

import pytest

from labctl.faults import playbook

PLUGIN = Path(__file__).resolve().parents[2] / "ansible" / "connection_plugins" / "labctl_qemu.py"


@pytest.fixture
def plugin(monkeypatch):
    pytest.importorskip("ansible_collections.community.libvirt")
    base = importlib.import_module("ansible_collections.community.libvirt.plugins.connection.libvirt_qemu")
    seen = []
    binding = types.SimpleNamespace(
        qemuAgentCommand=lambda dom, cmd, timeout, flags: seen.append(timeout) or '{"return": {}}',
        VIR_DOMAIN_QEMU_AGENT_COMMAND_DEFAULT=-1)
    monkeypatch.setattr(base, "libvirt_qemu", binding)
    spec = importlib.util.spec_from_file_location("labctl_qemu_under_test", PLUGIN)
    mod = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, mod)
    spec.loader.exec_module(mod)
    return base, mod, seen


def test_every_agent_call_gets_at_least_a_minute(plugin):
    base, mod, seen = plugin
    base.libvirt_qemu.qemuAgentCommand("dom", "{}", 5, 0)
    base.libvirt_qemu.qemuAgentCommand("dom", "{}", 300, 0)
    assert seen == [mod.AGENT_TIMEOUT, 300] and mod.AGENT_TIMEOUT >= 60
    assert base.libvirt_qemu.VIR_DOMAIN_QEMU_AGENT_COMMAND_DEFAULT == -1  # the rest of the binding is untouched


def test_loading_twice_does_not_wrap_twice(plugin):
    base, mod, _ = plugin
    once = base.libvirt_qemu
    mod2 = types.ModuleType("again")
    exec(compile(PLUGIN.read_text(), str(PLUGIN), "exec"), mod2.__dict__)
    assert base.libvirt_qemu is once


def test_it_is_the_community_connection_under_labctls_name(plugin):
    base, mod, _ = plugin
    assert issubclass(mod.Connection, base.Connection) and mod.Connection.transport == "labctl_qemu"
    assert "name: labctl_qemu" in mod.DOCUMENTATION and "ansible_libvirt_uri" in mod.DOCUMENTATION


def test_playbooks_use_it_and_the_sandbox_shows_it():
    assert playbook.CONNECTION == "labctl_qemu"
    assert (playbook.CONNECTION_PLUGINS_DIR / f"{playbook.CONNECTION}.py").is_file()
