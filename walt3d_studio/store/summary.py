"""The project's summary counts (`walt3d info`, the app's status): per camera frames, detections, tracks,
mined, usable tracks, labels, human keypoints, orphans, fits, composites. One aggregate query per count."""
from __future__ import annotations

from .detections import EFFECTIVE_LABEL_SQL


def _one(conn, sql: str, args=()) -> int:
    return int(conn.execute(sql, args).fetchone()[0] or 0)


def camera_counts(project, camera_id: int, min_mined_frames: int = 3) -> dict:
    c = project.conn
    dets = "FROM detections d JOIN frames f ON f.id = d.frame_id LEFT JOIN tracks t ON t.id = d.track_id " \
           "WHERE f.camera_id = ?"
    args = (camera_id,)
    return {
        "frames": _one(c, "SELECT COUNT(*) FROM frames WHERE camera_id = ?", args),
        "detections": _one(c, f"SELECT COUNT(*) {dets}", args),
        "tracks": _one(c, "SELECT COUNT(*) FROM tracks WHERE camera_id = ?", args),
        "mined": _one(c, "SELECT COALESCE(SUM(n_mined), 0) FROM tracks WHERE camera_id = ?", args),
        "usable_tracks": _one(c, "SELECT COUNT(*) FROM tracks WHERE camera_id = ? AND n_mined >= ?",
                              (camera_id, min_mined_frames)),
        # detections with a person's occlusion label (their own, or their track's)
        "labels": _one(c, f"SELECT COUNT(*) {dets} AND {EFFECTIVE_LABEL_SQL} IS NOT NULL", args),
        "human_keypoints": _one(c, "SELECT COUNT(*) FROM keypoints k JOIN detections d ON d.id = k.detection_id "
                                   "JOIN frames f ON f.id = d.frame_id WHERE f.camera_id = ? AND k.id IN "
                                   "(SELECT MAX(id) FROM keypoints WHERE origin = 'human' "
                                   "GROUP BY detection_id, schema) AND k.points_json != 'null'", args),
        "orphans": _one(c, "SELECT COUNT(*) FROM orphans WHERE camera_id = ? AND resolved IS NULL", args),
        "fits": _one(c, "SELECT COUNT(*) FROM track_fits tf JOIN tracks t ON t.id = tf.track_id "
                        "WHERE t.camera_id = ?", args),
        "composites": _one(c, "SELECT COUNT(*) FROM composites WHERE camera_id = ?", args),
    }


def project_counts(project) -> dict:
    """Open orphans by kind, and runs by stage (status counts and the newest run)."""
    from .orphans import count_orphans
    from .runs import runs_summary

    return {"orphans": count_orphans(project), "runs": runs_summary(project)}

