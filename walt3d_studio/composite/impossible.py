"""How often a composite is physically impossible: a pair of pasted objects whose 3D ground footprints intersect
(two objects in one place), or whose masks overlap with the paste order contradicting 3D depth (the farther one
drawn on top). Measured the same way for WALT3D and both WALT2D baselines, on pairs where both objects have 3D.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .order import nearer, overlap
from .scene import SceneObject


@dataclass
class Impossible:
    images: int = 0
    images_impossible: int = 0
    pairs: int = 0                 # pairs with 3D on both sides that overlap in the image or intersect in 3D
    intersecting: int = 0          # footprints intersect
    misordered: int = 0            # masks overlap, paste order contradicts 3D depth (and footprints apart)
    unmeasured: int = 0            # overlapping pairs lacking 3D on a side
    per_method: dict = field(default_factory=dict)

    @property
    def impossible(self) -> int:
        return self.intersecting + self.misordered

    @property
    def pair_rate(self) -> float:
        return self.impossible / self.pairs if self.pairs else 0.0

    @property
    def image_rate(self) -> float:
        return self.images_impossible / self.images if self.images else 0.0

    def add(self, other: "Impossible") -> None:
        for k in ("images", "images_impossible", "pairs", "intersecting", "misordered", "unmeasured"):
            setattr(self, k, getattr(self, k) + getattr(other, k))

    def as_dict(self) -> dict:
        return {"images": self.images, "images_impossible": self.images_impossible, "pairs": self.pairs,
                "intersecting": self.intersecting, "misordered": self.misordered, "unmeasured": self.unmeasured,
                "pair_rate": round(self.pair_rate, 4), "image_rate": round(self.image_rate, 4)}


def measure(objs: list[SceneObject], order: list[int], ctx=None, relation=None) -> Impossible:
    """Count impossible pairs of one composite. `order` is the paste order (far to near as pasted);
    `relation(i, j)` may give a cached `nearer`."""
    pos = {i: p for p, i in enumerate(order)}
    out = Impossible(images=1)
    members = list(order)
    for a in range(len(members)):
        for b in range(a + 1, len(members)):
            i, j = members[a], members[b]
            oi, oj = objs[i], objs[j]
            has3d = oi.footprint is not None and oj.footprint is not None
            ov = overlap(oi, oj)
            if not has3d:
                out.unmeasured += ov is not None
                continue
            hit = oi.footprint.intersects(oj.footprint)
            if not hit and ov is None:
                continue
            out.pairs += 1
            if hit:
                out.intersecting += 1
                continue
            r = relation(i, j) if relation is not None else nearer(oi, oj, ctx, ov)
            on_top_i = pos[i] > pos[j]
            if (r > 0) != on_top_i:
                out.misordered += 1
    out.images_impossible = int(out.impossible > 0)
    return out
