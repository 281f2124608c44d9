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


def explain_os_error(e: BaseException, where=None) -> "Walt3DError | None":
    """A truthful user message for a write that failed because of the disk, not the project: a full disk or
    quota, a read-only location, missing permission. None for anything else (a real bug shows its traceback).

    `where` is the folder written to; the message says how much room there is and what to do. Never says the
    project is damaged: these failures leave it as it was (every write is atomic)."""
    import errno
    import os
    import shutil
    from pathlib import Path

    code = getattr(e, "errno", None)
    place = Path(where) if where is not None else (Path(e.filename).parent if getattr(e, "filename", None) else None)
    at = f" at {place}" if place is not None else ""
    if code in (errno.ENOSPC, errno.EDQUOT):
        free = None
        probe = place
        while probe is not None and not probe.exists() and probe != probe.parent:
            probe = probe.parent
        if probe is not None:
            try:
                free = shutil.disk_usage(probe).free
            except OSError:
                pass
        room = f" ({free / 1e6:.0f} MB free)" if free is not None else ""
        what = "The disk quota is used up" if code == errno.EDQUOT else "The disk is full"
        return Walt3DError(f"{what}{at}{room}; the write was not made and the project is unchanged.",
                           "Free some space on that disk (a few hundred MB at least, more for exports and mining) "
                           "and run the command again. Nothing needs restoring.")
    if code == errno.EROFS:
        return Walt3DError(f"The location{at} is read-only; nothing was written and the project is unchanged.",
                           "Open the project read-only to look at it, or copy it (or give an output path) on a "
                           "writable disk to change it. Nothing needs restoring.")
    if code in (errno.EACCES, errno.EPERM) and isinstance(e, OSError):
        return Walt3DError(f"No permission for {getattr(e, 'filename', None) or place} ({os.strerror(code)}); "
                           "nothing was changed.",
                           "Check the folder's owner and permissions, or choose a folder you may write to.")
    return None
