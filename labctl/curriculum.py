"""Stable IDs from ``shared/CURRICULUM.md`` that recipes, tickets and reports refer to."""

from __future__ import annotations

FAMILIES: dict[str, str] = {
    "T1-HW": "defective or inoperative component or peripheral",
    "T1-PWR": "power supply problem",
    "T1-NET": "no connectivity to the intranet or the internet",
    "T1-CONFLICT": "two programs conflicting",
    "T1-ACCOUNT": "the user cannot access their account",
    "T1-VIRUS": "a virus alert that blocks or slows the workstation",
    "T1-USER": "a user mistake, or something the user cannot do",
    "T2-DISK": "storage space must be freed",
    "T2-PERF": "a performance problem",
    "T2-BACKUP": "a backup that did not complete",
    "T2-SOFT": "software problem: configuration, version consistency, licence",
    "T2-NETACCESS": "network access: VPN, company services, ACL/authentication, certificates",
    "T2-CONFLICT": "two programs conflicting",
    "T2-LOCALDATA": "data gone from the workstation's local disk",
    "T2-NETDATA": "data gone from the user's network folder",
    "T2-RIGHTS": "a problem that needs higher rights than the user has",
    "T2-USER": "a user mistake, or something the user cannot do",
}

COMPETENCIES: dict[str, str] = {
    "CP3": "install, deploy, configure and update a workstation; roll an update back",
    "CP4": "diagnose and resolve a workstation malfunction, methodically",
    "CP5": "secure a workstation and its data",
    "CP8": "handle an incident with a ticket tool and a remote-control tool",
    "CP11": "user accounts and rights in a directory",
    "CP12": "deploy applications and personalise client workstations",
    "CP14": "diagnose and resolve a network access malfunction, layer by layer",
}

CRITERIA: dict[str, str] = {
    "C1": "result conforms",
    "C2": "coherent approach",
    "C3": "rules respected",
    "C4": "communication",
}
