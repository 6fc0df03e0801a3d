"""Choose hardware acceleration (KVM) or software emulation (QEMU TCG)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError, HostError


@dataclass(frozen=True)
class AccelChoice:
    accel: str  # libvirt domain type: "kvm" or "qemu"
    reason: str


def host_facts() -> dict:
    cpuinfo = Path("/proc/cpuinfo").read_text(errors="replace") if Path("/proc/cpuinfo").exists() else ""
    return {
        "cpu_flags": set(re.findall(r"\b(vmx|svm)\b", cpuinfo)),
        "kvm_dev": os.access("/dev/kvm", os.R_OK | os.W_OK),
        "kvm_pvm": Path("/sys/module/kvm_pvm").exists(),
    }


def choose_accel(requested: str, *, cpu_flags: set[str], kvm_dev: bool, kvm_pvm: bool,
                 domain_types: set[str] | None = None) -> AccelChoice:
    """Pick the libvirt domain type.

    ``auto`` takes KVM only when the CPU exposes VT-x/AMD-V, /dev/kvm is usable and
    the KVM module is not the paravirtual ``kvm_pvm`` (stock guest kernels hang
    under it). Anything else gets TCG, which is slow but always works.
    """
    if requested not in ("auto", "kvm", "qemu"):
        raise ConfigError(f"accel must be auto, kvm or qemu (got {requested!r})")
    if requested == "qemu":
        return AccelChoice("qemu", "software emulation requested")
    problems = []
    if not cpu_flags:
        problems.append("the CPU shows no vmx/svm flag")
    if not kvm_dev:
        problems.append("/dev/kvm is missing or not writable")
    if kvm_pvm:
        problems.append("KVM here is the paravirtual kvm_pvm module")
    if domain_types is not None and "kvm" not in domain_types:
        problems.append("libvirt reports no kvm domain type")
    if requested == "kvm":
        if problems:
            raise HostError("KVM was requested but cannot be used: " + "; ".join(problems),
                            hint="set accel = \"auto\" or \"qemu\" (software emulation)")
        return AccelChoice("kvm", "KVM requested")
    if problems:
        return AccelChoice("qemu", "software emulation (TCG): " + "; ".join(problems))
    return AccelChoice("kvm", "hardware virtualisation (" + "/".join(sorted(cpu_flags)) + ")")
