"""Atomic writes: a reader sees the old file (or folder) or the new one, never half of either.

One rule for every file the project writes: write to a uniquely named temporary beside the target (same file
system, so the final rename is atomic), fsync it, then `os.replace`. On any error the temporary is removed
and the target is untouched. Folders (exports, shard outputs) are built in a temporary folder beside the
target and swapped in at the end.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# mkstemp/mkdtemp make private (0600/0700) temporaries; what we swap in gets the modes a plain open() or mkdir()
# would give (a report or dataset shared or served must be readable). Read once: the umask does not change.
_UMASK = _current_umask()
FILE_MODE, FOLDER_MODE = 0o666 & ~_UMASK, 0o777 & ~_UMASK


@contextmanager
def atomic_path(target: str | os.PathLike, suffix: str = ""):
    """Yields a temporary path beside `target`; on success it replaces `target`, on error it is removed.

    `suffix` keeps an extension writers rely on (e.g. np.savez appends '.npz' unless the name ends with it).
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=f".tmp{suffix}", dir=target.parent)
    os.fchmod(fd, FILE_MODE)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        _fsync_file(tmp)
        os.replace(tmp, target)
        fsync_dir(target.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes(target: str | os.PathLike, data: bytes) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def write_text(target: str | os.PathLike, text: str) -> None:
    write_bytes(target, text.encode("utf-8"))


@contextmanager
def atomic_folder(target: str | os.PathLike, *, replace: bool = False):
    """Yields a temporary folder beside `target`; on success it becomes `target`, on error it is removed.

    With `replace`, an existing `target` is swapped out at the end (and removed only after the new one is in
    place); without it an existing `target` is an error raised before any work starts.
    """
    target = Path(target)
    if target.exists() and not replace:
        raise FileExistsError(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    os.chmod(tmp, FOLDER_MODE)
    try:
        yield tmp
        old = None
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
            old.rmdir()
            os.replace(target, old)
        os.replace(tmp, target)
        fsync_dir(target.parent)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _fsync_file(path: Path) -> None:
    if path.is_file():
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def staging_folder(target: str | os.PathLike) -> Path:
    """A new empty temporary folder beside `target` (same file system) to build an export in; stale ones left
    by a killed earlier run of the same export are removed first."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(target)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    os.chmod(tmp, FOLDER_MODE)
    return tmp


def remove_stale(target: str | os.PathLike) -> None:
    """Remove temporaries of `target` (files or folders named like ours) left behind by a killed writer."""
    target = Path(target)
    if not target.parent.is_dir():
        return
    name = glob_escape(target.name)
    for old in target.parent.glob(f".{name}.*.old"):  # a swap killed half-way: the old target comes back
        if not target.exists():
            os.replace(old, target)
    for p in [*target.parent.glob(f".{name}.*.tmp*"), *target.parent.glob(f".{name}.*.old")]:
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)


def glob_escape(name: str) -> str:
    import glob

    return glob.escape(name)


def swap_in(pairs: list[tuple[Path, Path]]) -> None:
    """Move each finished temporary (file or folder) onto its target, as close to together as renames allow.

    Old targets are moved aside first and put back if any rename fails, so a failure leaves the old export whole;
    they are deleted only once every new piece is in place."""
    aside: list[tuple[Path, Path]] = []
    moved: list[Path] = []
    try:
        for tmp, target in pairs:
            if target.exists() or target.is_symlink():
                old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
                old.rmdir()
                os.replace(target, old)
                aside.append((old, target))
            os.replace(tmp, target)
            moved.append(target)
        fsync_dir(pairs[0][1].parent) if pairs else None
    except BaseException:
        for target in moved:
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target, ignore_errors=True)
            else:
                target.unlink(missing_ok=True)
        for old, target in aside:
            os.replace(old, target)
        for tmp, _ in pairs:
            if tmp.is_dir():
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                tmp.unlink(missing_ok=True)
        raise
    for old, _ in aside:
        if old.is_dir() and not old.is_symlink():
            shutil.rmtree(old, ignore_errors=True)
        else:
            old.unlink(missing_ok=True)
