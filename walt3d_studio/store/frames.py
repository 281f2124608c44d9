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


def frame_sources(project) -> dict[int, dict]:
    """{frame id: {camera, width, height, source_path, source_index}}: where every frame of the project came
    from (camera name and size, source file)."""
    cur = project.conn.execute(
        "SELECT f.id AS frame_id, c.name AS camera, c.width AS width, c.height AS height, s.path AS source_path,"
        " f.camera_id AS camera_id, f.source_index AS source_index FROM frames f"
        " JOIN cameras c ON c.id = f.camera_id JOIN sources s ON s.id = f.source_id")
    names = [d[0] for d in cur.description]
    return {r["frame_id"]: r for r in (dict(zip(names, v)) for v in cur.fetchall())}


def frames_by_source_index(project) -> dict[tuple[int, str, int], int]:
    """{(camera id, source file name, index in that source): frame id} (labels and keypoints files name
    frames this way, so they survive a re-import)."""
    from pathlib import Path

    return {(r["camera_id"], Path(r["source_path"]).name, r["source_index"]): fid
            for fid, r in frame_sources(project).items()}


def frame_cameras(project) -> dict[int, int]:
    """{frame id: camera id} of every frame."""
    cur = project.conn.execute("SELECT id AS frame_id, camera_id FROM frames")
    names = [d[0] for d in cur.description]
    return {r["frame_id"]: r["camera_id"] for r in (dict(zip(names, v)) for v in cur.fetchall())}


def source_frames(project, source_id: int) -> list[dict]:
    """A source's frames in source order: source_index, file_name (image folders), pts (videos)."""
    cur = project.conn.execute("SELECT source_index, file_name, pts FROM frames WHERE source_id = ?"
                               " ORDER BY source_index", (int(source_id),))
    names = [d[0] for d in cur.description]
    return [dict(zip(names, v)) for v in cur.fetchall()]
