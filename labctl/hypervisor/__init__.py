"""Hypervisor backends. libvirt is the one there is; it is imported lazily."""
