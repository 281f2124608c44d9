"""Atomic writes leave the old file or folder whole when writing fails, and no temporary behind."""
import pytest

from walt3d_studio.atomic import atomic_folder, atomic_path, write_text


def test_failed_file_write_keeps_old(tmp_path):
    target = tmp_path / "a.json"
    write_text(target, "old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("disk full")
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]


def test_folder_swap_and_failure(tmp_path):
    out = tmp_path / "ds"
    with atomic_folder(out) as tmp:
        (tmp / "x").write_text("1")
    assert (out / "x").read_text() == "1"
    with pytest.raises(FileExistsError):
        with atomic_folder(out):
            pass
    with pytest.raises(RuntimeError):
        with atomic_folder(out, replace=True) as tmp:
            (tmp / "y").write_text("2")
            raise RuntimeError("cancelled")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"] and (out / "x").exists()
    with atomic_folder(out, replace=True) as tmp:
        (tmp / "y").write_text("2")
    assert sorted(p.name for p in out.iterdir()) == ["y"] and sorted(p.name for p in tmp_path.iterdir()) == ["ds"]


def test_what_is_swapped_in_has_the_modes_a_plain_write_would_give(tmp_path):
    """Temporaries are private while written (mkstemp 0600, mkdtemp 0700); files and folders swapped in get the
    usual modes (0666 / 0777 less the umask), so a report or dataset can be shared or served."""
    import importlib
    import os
    import stat

    import walt3d_studio.atomic as atomic

    old = os.umask(0o022)
    try:
        importlib.reload(atomic)  # the module reads the umask once
        atomic.write_bytes(tmp_path / "plot.png", b"png")
        with atomic.atomic_folder(tmp_path / "export") as d:
            (d / "a.json").write_text("{}")
        assert stat.S_IMODE((tmp_path / "plot.png").stat().st_mode) == 0o644
        assert stat.S_IMODE((tmp_path / "export").stat().st_mode) == 0o755
    finally:
        os.umask(old)
        importlib.reload(atomic)
