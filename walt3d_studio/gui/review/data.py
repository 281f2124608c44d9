"""What the review reads from the store beyond single calls: fresh rows of a few tracks (to patch the table after
an edit without re-reading 100,000 tracks) and per-track agreement of the machine with the human labels.

Read-only; every write goes through `store.detections` inside an undo command.
"""
from __future__ import annotations

from ...store.detections import TrackTable, track_table
from ...store.review import Agreement, agreement_by_track  # noqa: F401 (the review's import point)


def tracks_by_id(project, track_ids, min_mined_frames: int = 3) -> TrackTable:
    """The `track_table` rows of these tracks (same columns and meaning), in id order."""
    return track_table(project, min_mined_frames=min_mined_frames, track_ids=track_ids)


class AgreementCache:
    """Per-track `Agreement`: read for the whole camera once, then only for the tracks an edit touched."""

    def __init__(self):
        self._by_track: dict[int, Agreement] = {}

    def clear(self) -> None:
        self._by_track.clear()

    def load(self, project, camera_id: int) -> None:
        self._by_track = agreement_by_track(project, camera_id=camera_id)

    def refresh(self, project, track_ids) -> None:
        ids = [int(t) for t in track_ids]
        fresh = agreement_by_track(project, track_ids=ids)
        for tid in ids:
            if tid in fresh:
                self._by_track[tid] = fresh[tid]
            else:
                self._by_track.pop(tid, None)

    def total(self) -> Agreement:
        out = Agreement()
        for a in self._by_track.values():
            out.labelled += a.labelled
            out.with_p += a.with_p
            out.classifier_right += a.classifier_right
            out.rule_right += a.rule_right
        return out
