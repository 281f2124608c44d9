"""`walt3d --progress jsonl`: one JSON object per line on stdout, result/error last, cancel by signal."""
from __future__ import annotations

import io
import json
import os
import signal
import time
import subprocess
import sys
from pathlib import Path

import pytest

from test_mining_cli import OBJS
from test_mining_scenes import make_project
from walt3d_studio import progress
from walt3d_studio.cli import main
from walt3d_studio.errors import Cancelled

REPO = Path(__file__).resolve().parent.parent


def _lines(text: str) -> list[dict]:
    out = [json.loads(line) for line in text.splitlines() if line.strip()]
    assert all(isinstance(o, dict) for o in out)
    return out


@pytest.mark.slow
def test_mine_shard_reports_jsonl_and_result(tmp_path, capfd):
    p, cam, _, _ = make_project(tmp_path, OBJS, 6)
    root = p.root
    p.close()
    shard = tmp_path / "shard"
    assert main(["--progress", "jsonl", "mine", str(root), "--shard-out", str(shard)]) == 0
    cap = capfd.readouterr()
    objs = _lines(cap.out)  # every stdout line parses: nothing for people leaked into the protocol
    steps = [o for o in objs if "done" in o]
    assert steps and steps[-1]["done"] == steps[-1]["total"] == 6
    assert all(o["message"].startswith("mining cam") for o in steps)
    assert [d["done"] for d in steps] == sorted(d["done"] for d in steps)
    res = objs[-1]["result"]
    assert res["rc"] == 0 and res["shard"] == str(shard.resolve()) and res["frames"] == 6
    assert "Wrote shard" in res["output"] and "Wrote shard" in cap.err  # people's text goes to the log
    assert (shard / "shard.json").exists()
    assert progress.mode() == "bar"  # back to the default for the next command of this process


def test_error_line_has_message_and_hint(tmp_path, capfd):
    assert main(["--progress", "jsonl", "info", str(tmp_path / "nothing")]) == 2
    objs = _lines(capfd.readouterr().out)
    assert len(objs) == 1 and objs[0]["rc"] == 2
    err = objs[0]["error"]
    assert "not a WALT3D Studio project" in err["message"] and "walt3d init" in err["hint"]
    assert err["kind"] == "ProjectError"


def test_plain_cli_prints_text_not_json(tmp_path, capsys):
    assert main(["--quiet", "info", str(tmp_path / "nothing")]) == 2
    assert "error:" in capsys.readouterr().err


def test_reporter_throttles_but_keeps_the_newest():
    buf = io.StringIO()
    rep = progress.JsonlReporter(buf, min_interval=10.0)
    for i in range(1, 50):
        rep.progress(i, 100, f"step {i}")
    rep.flush_pending()
    rep.progress(100, 100, "done")  # the final report always goes out
    objs = _lines(buf.getvalue())
    assert [o["done"] for o in objs] == [1, 49, 100]


def test_request_cancel_stops_live_contexts():
    progress.set_mode("quiet")
    try:
        with progress.progress_context("x") as ctx:
            ctx.progress(1, 3)
            progress.request_cancel()
            with pytest.raises(Cancelled):
                ctx.progress(2, 3)
    finally:
        progress._cancel_requested.clear()
        progress.set_mode("bar")


def _child(args, **kw):
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    return subprocess.Popen([sys.executable, "-m", "walt3d_studio.cli", "--progress", "jsonl", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=True, **kw)


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_to_process_group_cancels_cleanly(tmp_path, sig):
    p, cam, _, _ = make_project(tmp_path, OBJS, 80)
    root = p.root
    p.close()
    shard = tmp_path / "shard"
    proc = _child(["mine", str(root), "--shard-out", str(shard), "--workers", "1"])
    first = proc.stdout.readline()  # wait until it is really mining
    assert "done" in json.loads(first)
    os.killpg(proc.pid, sig)
    out, err = proc.communicate(timeout=60)
    objs = _lines(first + out)
    assert proc.returncode == 130, err
    assert objs[-1]["cancelled"] is True and objs[-1]["rc"] == 130
    assert not (shard / "shard.json").exists()  # no shard a merge could take for complete
    from walt3d_studio.store import Project

    with Project.open(root) as p:  # the project is not locked nor changed
        assert p.conn.execute("SELECT COUNT(*) FROM detections").fetchone()[0] == 0



def test_an_explained_os_fault_is_a_user_error_and_a_bug_is_internal(capfd):
    from walt3d_studio.errors import ProjectError

    def full_disk(args):
        raise OSError(28, "No space left on device")

    explain = lambda e: ProjectError("The disk is full.", "Free some space, then run it again.")  # noqa: E731
    assert progress.run_jsonl(full_disk, None, explain) == 2
    err = _lines(capfd.readouterr().out)[-1]["error"]
    assert err["message"] == "The disk is full." and err["hint"].startswith("Free some space")
    assert progress.run_jsonl(lambda a: 1 / 0, None) == 1
    cap = capfd.readouterr()
    err = _lines(cap.out)[-1]["error"]
    assert err["kind"] == "internal" and "ZeroDivisionError" in err["message"] and "Traceback" in cap.err


@pytest.mark.slow
def test_a_child_whose_parent_dies_cancels(tmp_path):
    """The app is killed while its child mines: the child notices (it is reparented) and stops cleanly."""
    p, cam, _, _ = make_project(tmp_path, OBJS, 400)
    root = p.root
    p.close()
    shard, out = tmp_path / "shard", tmp_path / "child.jsonl"
    # a middle process stands for the app: it starts the child in a new session, then dies
    code = (f"import os, subprocess, sys, time\n"
            f"child = subprocess.Popen([sys.executable, '-m', 'walt3d_studio.cli', '--progress', 'jsonl', 'mine', "
            f"{str(root)!r}, '--shard-out', {str(shard)!r}, '--workers', '1'], stdout=open({str(out)!r}, 'w'), "
            f"stderr=subprocess.DEVNULL, start_new_session=True, env=dict(os.environ, WALT3D_EXIT_WITH_PARENT=str(os.getpid())))\n"
            f"print(child.pid, flush=True)\n"
            f"while not open({str(out)!r}).read().strip(): time.sleep(0.05)\n"
            f"os._exit(0)\n")
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    mid = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    pid = int(mid.stdout.split()[0])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        os.killpg(pid, signal.SIGKILL)
        pytest.fail("the orphaned child kept running")
    objs = _lines(out.read_text())
    assert objs[-1].get("cancelled") is True and not (shard / "shard.json").exists()
