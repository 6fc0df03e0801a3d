# labctl: community.libvirt's guest-agent connection, with patient agent calls.
#
# community.libvirt.libvirt_qemu gives every guest-agent call 5 s. Under software
# emulation on a loaded host, a guest whose one vCPU a fault keeps busy (a runaway
# process, a CPU-bound service) can take longer than that to answer, and the task
# fails with "Guest agent not available for now" although nothing is wrong with the
# recipe (seen on 2026-12-05). This connection is the same plugin with each agent
# call given AGENT_TIMEOUT seconds; labctl/faults/playbook.py selects it.
from __future__ import annotations

DOCUMENTATION = """
---
name: labctl_qemu
short_description: Run tasks on libvirt/qemu virtual machines through the guest agent (patient calls)
description:
    - community.libvirt.libvirt_qemu with a longer timeout on each guest-agent call.
options:
  remote_addr:
    description: Virtual machine name.
    default: inventory_hostname
    vars:
      - name: ansible_host
      - name: inventory_hostname
  executable:
    description:
      - Shell to use for execution inside container.
    default: /bin/sh
    vars:
      - name: ansible_shell_type
  virt_uri:
    description: Libvirt URI to connect to to access the virtual machine.
    default: qemu:///system
    vars:
      - name: ansible_libvirt_uri
"""

from ansible_collections.community.libvirt.plugins.connection import libvirt_qemu as _base

AGENT_TIMEOUT = 60


class _PatientAgent:
    """The libvirt_qemu binding, whose qemuAgentCommand waits at least AGENT_TIMEOUT seconds."""

    labctl_patient = True

    def __init__(self, binding):
        self._binding = binding

    def __getattr__(self, name):
        return getattr(self._binding, name)

    def qemuAgentCommand(self, domain, command, timeout, flags):  # noqa: N802 - libvirt's name
        return self._binding.qemuAgentCommand(domain, command, max(timeout, AGENT_TIMEOUT), flags)


if getattr(_base, "libvirt_qemu", None) is not None and not getattr(_base.libvirt_qemu, "labctl_patient", False):
    _base.libvirt_qemu = _PatientAgent(_base.libvirt_qemu)


class Connection(_base.Connection):
    """The community plugin's connection; only its agent calls' timeout differs."""

    transport = "labctl_qemu"
