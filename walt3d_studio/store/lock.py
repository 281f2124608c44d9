"""The project's write lock: one program writes a project at a time (an OS lock on the project folder, `.lock`
saying who holds it), and the holder may let a child job it started write too (a token in `.lock-delegate`,
passed in the child's environment)."""
from __future__ import annotations

import fcntl
import os
import socket
from pathlib import Path

from ..atomic import write_text
from ..errors import ProjectLockedError


def take_lock(root: Path) -> int:
    """An exclusive lock on the project, held while it is open for writing, so two programs never both write.

    The OS lock is on the project folder itself, which is never removed while in use (deleting `.lock` must not
    let a second writer in); `.lock` only says who holds it."""
    try:
        fd = os.open(root, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError as e:
        from ..errors import explain_os_error

        raise (explain_os_error(e, root) or e) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        if _delegated_to_us(root):
            return DELEGATED
        try:
            holder = (root / ".lock").read_text(errors="replace").strip() or "another program"
        except OSError:
            holder = "another program"
        raise ProjectLockedError(f"{root.name} is already open in {holder}.",
                                 "Close it there first, or open this project read-only.")
    try:
        write_text(root / ".lock", f"WALT3D Studio (pid {os.getpid()} on {socket.gethostname()})")
    except OSError as e:
        from ..errors import explain_os_error

        release_lock(fd)
        raise (explain_os_error(e, root) or e) from None
    return fd


DELEGATED = -1  # "the lock holder (our parent, the app) lets this child write": nothing to release
DELEGATE_ENV = "WALT3D_LOCK_DELEGATE"
DELEGATE_FILE = ".lock-delegate"


def _delegated_to_us(root: Path) -> bool:
    """A child job the lock holder started may write too: it was given the token the holder left in the
    project (see `Project.delegate_lock`); SQLite's busy timeout then keeps the two writers in turn."""
    token = os.environ.get(DELEGATE_ENV)
    if not token:
        return False
    try:
        return (root / DELEGATE_FILE).read_text().strip() == token
    except OSError:
        return False


def release_lock(fd: int | None) -> None:
    if fd is not None and fd != DELEGATED:
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
