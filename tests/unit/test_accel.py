import pytest

from labctl.errors import ConfigError, HostError
from labctl.hypervisor.accel import choose_accel

GOOD = dict(cpu_flags={"vmx"}, kvm_dev=True, kvm_pvm=False, domain_types={"kvm", "qemu"})


def test_auto_takes_kvm_with_hardware_support():
    assert choose_accel("auto", **GOOD).accel == "kvm"


@pytest.mark.parametrize("change,why", [
    ({"cpu_flags": set()}, "vmx/svm"),
    ({"kvm_dev": False}, "/dev/kvm"),
    ({"kvm_pvm": True}, "kvm_pvm"),
    ({"domain_types": {"qemu"}}, "no kvm domain type"),
])
def test_auto_falls_back_to_tcg_and_says_why(change, why):
    choice = choose_accel("auto", **{**GOOD, **change})
    assert choice.accel == "qemu"
    assert why in choice.reason


def test_forced_kvm_without_support_is_a_clear_error():
    with pytest.raises(HostError, match="kvm_pvm"):
        choose_accel("kvm", **{**GOOD, "kvm_pvm": True})


def test_forced_qemu_always_works():
    assert choose_accel("qemu", cpu_flags=set(), kvm_dev=False, kvm_pvm=True).accel == "qemu"


def test_unknown_accel_is_refused():
    with pytest.raises(ConfigError):
        choose_accel("xen", **GOOD)
