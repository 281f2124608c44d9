"""A metric size prior: a blob too wide or too tall for one object of its track's class is a merge.

Needs a calibrated camera: the foreground detector then gives each blob its width and upright height in
metres at its ground contact point (`SizeClassifier`, det.extra["size"]). The class is the track's (after the
vote), so one odd frame does not decide the class it is judged by. Ranges and where they come from are in
docs/mining.md ("Size prior"); they are upper bounds only (a small blob is a far or partly seen object, not a
merge). The image width of a car is its length seen side-on, its width seen head-on: the bound is on the
longest single vehicle a class may hold, so two cars nose to tail in a lane exceed it.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

# class -> (max width at the ground in metres, max upright height in metres; None: not checked).
# "person" also holds cyclists (no bike class yet): a bicycle side-on is ~1.7-1.8 m long, so the width bound
# is a cyclist's, not a walker's (1.1 m would catch walker pairs but flags the demo's lone cyclist).
DEFAULT_LIMITS = {"person": (1.9, 2.2), "car": (7.5, None)}


@dataclass
class SizePrior:
    limits: dict = field(default_factory=lambda: dict(DEFAULT_LIMITS))

    def to_dict(self) -> dict:
        return asdict(self)

    def check(self, category: str, size: dict | None) -> str | None:
        """Why the blob is too big for one `category` object (None when it fits or cannot be measured)."""
        lim = self.limits.get(category)
        if lim is None or not size or "width_m" not in size:
            return None
        max_w, max_h = lim
        w, h = size.get("width_m"), size.get("height_m")
        if max_w is not None and w is not None and w == w and w > max_w:
            return f"too wide for one {category}: {w:.2f} m > {max_w:.2f} m"
        if max_h is not None and h is not None and h == h and h > max_h:
            return f"too tall for one {category}: {h:.2f} m > {max_h:.2f} m"
        return None


def apply_size_prior(records: list[dict], prior: SizePrior, crop_dir=None) -> int:
    """Mark records (with the track's class in "category" and the detector's metric "size") whose blob is too
    big for one object: rule verdict occluded, flag "too_large", reason under "size_prior". Mined ones are
    un-mined (their crops removed). Returns how many were marked."""
    from pathlib import Path

    n = 0
    for r in records:
        why = prior.check(r["category"], r.get("size"))
        if why is None:
            continue
        n += 1
        reasons = r["reasons"]
        reasons["size_prior"] = why
        if "too_large" not in reasons.setdefault("flags", []):
            reasons["flags"].append("too_large")
        if r["rule_verdict"] in ("unoccluded", "rejected", "truncated"):
            r["rule_verdict"] = "occluded"
        if r["decided_by"] == "rule" and r["verdict"] != "occluded":
            r["verdict"] = "occluded"
            if r.get("crop") and crop_dir is not None:
                (Path(crop_dir) / Path(r["crop"]).name).unlink(missing_ok=True)
            r["crop"] = None
    return n
