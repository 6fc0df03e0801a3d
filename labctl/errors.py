"""One exception hierarchy for the library.

Every error carries a message for the person at the keyboard and, where there is
one, a hint saying what to do. The CLI maps each class to an exit code; library
code never exits the process.
"""

from __future__ import annotations


class LabError(Exception):
    """Base class: something the user can act on."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class ConfigError(LabError):
    """A configuration, recipe, roster or manifest file is malformed."""

    exit_code = 2


class NotFoundError(LabError):
    """A named seat, image or fault does not exist."""

    exit_code = 3


class AlreadyExistsError(LabError):
    """A named thing exists and the operation would clobber it."""

    exit_code = 4


class HostError(LabError):
    """The host lacks something (libvirt down, tool missing, disk full, port taken)."""

    exit_code = 5


class GuestError(LabError):
    """A guest did not answer or a command in it could not be run."""

    exit_code = 6


class BuildError(LabError):
    """An image build failed."""

    exit_code = 7
