"""Errors a user can cause. Each says what is wrong and what to do; the GUI shows it, the CLI prints it."""


class Walt3DError(Exception):
    """Base of every error a user can cause. `hint` says what to do about it."""

    def __init__(self, message: str, hint: str = ""):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n{self.hint}" if self.hint else self.message


class BadInputError(Walt3DError):
    """A file or folder the user gave cannot be used as it is."""


class CalibrationError(Walt3DError):
    """A calibration cannot be read, or cannot be computed from the inputs given."""


class ProjectError(Walt3DError):
    """The project folder is missing, damaged, too new, or in use."""


class ProjectLockedError(ProjectError):
    """Another program holds the project open for writing."""


class Cancelled(Exception):
    """A job was cancelled by the user; not an error, nothing partial is kept."""
