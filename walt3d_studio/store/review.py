"""Aggregates the occlusion review shows: per track, how often the classifier and the rule agree with the
people's labels. Read-only; one aggregate query per call."""
from __future__ import annotations

from dataclasses import dataclass

from .detections import EFFECTIVE_LABEL_SQL, _chunks


@dataclass
class Agreement:
    """Over a track's human-labelled detections: how many, and how many the classifier / the rule got right."""

    labelled: int = 0
    with_p: int = 0            # labelled detections the classifier scored
    classifier_right: int = 0  # P(unoccluded) >= 0.5 exactly when the label is U
    rule_right: int = 0        # rule verdict unoccluded exactly when the label is U


_AGREEMENT = """
    SELECT x.track_id AS track_id, COUNT(*) AS n, SUM(v.p_unoccluded IS NOT NULL) AS with_p,
           SUM(v.p_unoccluded IS NOT NULL AND ((v.p_unoccluded >= 0.5) = (x.lab = 'U'))) AS classifier_right,
           SUM((COALESCE(v.rule_verdict, '') = 'unoccluded') = (x.lab = 'U')) AS rule_right
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
        cur = project.conn.execute(q, args)
        names = [d[0] for d in cur.description]
        for values in cur.fetchall():
            r = dict(zip(names, values))
            out[int(r["track_id"])] = Agreement(int(r["n"]), int(r["with_p"] or 0), int(r["classifier_right"] or 0),
                                                int(r["rule_right"] or 0))
    return out
