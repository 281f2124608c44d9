"""Small reads of a camera's frames that stages and panels need beside `Project.frame_table`."""
from __future__ import annotations


def camera_frame_ids(project, camera_id: int) -> list[int]:
    return [r[0] for r in project.conn.execute("SELECT id FROM frames WHERE camera_id = ? ORDER BY id",
                                               (camera_id,))]


def frame_file_names(project, camera_id: int) -> dict[int, str]:
    """{frame id: file name} of a camera's image-folder frames (video frames have none)."""
    cur = project.conn.execute("SELECT id, file_name FROM frames WHERE camera_id = ? AND file_name IS NOT NULL",
                               (camera_id,))
    names = [d[0] for d in cur.description]
    return {r["id"]: r["file_name"] for r in (dict(zip(names, v)) for v in cur.fetchall())}


def capture_span(project, camera_id: int | None = None) -> tuple[float, float] | None:
    """First and last capture time (UTC seconds) of a camera's frames (or all), None without frames."""
    q = "SELECT MIN(capture_time) AS t0, MAX(capture_time) AS t1 FROM frames" + \
        (" WHERE camera_id = ?" if camera_id is not None else "")
    cur = project.conn.execute(q, (camera_id,) if camera_id is not None else ())
    r = dict(zip([d[0] for d in cur.description], cur.fetchone()))
    return None if r["t0"] is None else (float(r["t0"]), float(r["t1"]))
