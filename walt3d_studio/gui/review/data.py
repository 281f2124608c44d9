"""What the review reads from the store beyond single calls: fresh rows of a few tracks (to patch the table after
an edit without re-reading 100,000 tracks) and per-track agreement of the machine with the human labels.

Read-only; every write goes through `store.detections` inside an undo command.
"""
from __future__ import annotations

from dataclasses import dataclass

from ...store.detections import EFFECTIVE_LABEL_SQL, TrackTable, _chunks, track_table


def tracks_by_id(project, track_ids, min_mined_frames: int = 3) -> TrackTable:
    """The `track_table` rows of these tracks (same columns and meaning), in id order."""
    return track_table(project, min_mined_frames=min_mined_frames, track_ids=track_ids)


@dataclass
class Agreement:
    """Over a track's human-labelled detections: how many, and how many the classifier / the rule got right."""

    labelled: int = 0
    with_p: int = 0            # labelled detections the classifier scored
    classifier_right: int = 0  # P(unoccluded) >= 0.5 exactly when the label is U
    rule_right: int = 0        # rule verdict unoccluded exactly when the label is U


_AGREEMENT = """
    SELECT x.track_id, COUNT(*), SUM(v.p_unoccluded IS NOT NULL),
           SUM(v.p_unoccluded IS NOT NULL AND ((v.p_unoccluded >= 0.5) = (x.lab = 'U'))),
           SUM((COALESCE(v.rule_verdict, '') = 'unoccluded') = (x.lab = 'U'))
    FROM (SELECT d.id, d.track_id, """ + EFFECTIVE_LABEL_SQL + """ AS lab
          FROM detections d JOIN tracks t ON t.id = d.track_id WHERE {where}) x
    JOIN verdicts v ON v.detection_id = x.id
    WHERE x.lab IS NOT NULL GROUP BY x.track_id
"""


def agreement_by_track(project, *, camera_id: int | None = None, track_ids=None) -> dict[int, Agreement]:
    """Per track with labelled detections: one aggregate query (the effective label is the detection's own
    newest label, else its track's, as in `store.detections`)."""
    out: dict[int, Agreement] = {}
    if track_ids is None:
        queries = [(_AGREEMENT.format(where="t.camera_id = ? AND t.n_labelled > 0"), [camera_id])]
    else:
        ids = sorted({int(t) for t in track_ids if t is not None and int(t) >= 0})
        queries = [(_AGREEMENT.format(where=f"t.id IN ({','.join('?' * len(c))})"), c) for c in _chunks(ids, 500)]
    for q, args in queries:
        for tid, n, with_p, clf, rule in project.conn.execute(q, args):
            out[int(tid)] = Agreement(int(n), int(with_p or 0), int(clf or 0), int(rule or 0))
    return out


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
