"""Parts joined into their object (issue 12: "a blob too small under a larger moving one (a roof, a windscreen)
joins it"), on a rendered scene with exact truth run through the real foreground detector and `mine`.

Three cars have a band across their middle painted the road's own colour (wider than the detector's closing
size), so each comes out as a roof blob and a body blob: two drive (their pieces move together: joined), one stands
still (nothing tells whether the pieces belong together: not joined, and its body is not mined). A walker walks
close above one car the other way (narrow: no part), and a flat cart rolls above another car more slowly than it
(the shape of a roof, but it does not move with the car: not joined, and the car is still mined)."""
from __future__ import annotations

import numpy as np

from test_mining_scenes import Obj, render, write_frames

W, H = 480, 240
N = 70
CAR = (56, 40)
BAND = (9, 18)  # rows of a split car painted the road's colour (the detector closes gaps of up to ~6 px here)
WALKER, CART, STATIC = 2, 5, 7


def _scene():
    objs = [Obj("rect", (200, 40, 40), CAR, (-20, 8), (4.0, 0.0)),        # 0 split car A
            Obj("rect", (40, 160, 200), CAR, (-160, 8), (4.0, 0.0)),      # 1 normal car, A's lane
            Obj("ellipse", (230, 230, 60), (12, 22), (230, 64), (-2.0, 0.0), "person"),  # 2 walker
            Obj("rect", (40, 200, 60), CAR, (10, 94), (3.0, 0.0)),        # 3 normal car under the walker
            Obj("rect", (220, 120, 30), CAR, (470, 150), (-3.5, 0.0)),    # 4 split car B
            Obj("rect", (240, 240, 240), (40, 10), (300, 74), (1.0, 0.0), "other"),  # 5 flat cart
            Obj("rect", (150, 60, 200), CAR, (200, 94), (3.0, 0.0)),      # 6 normal car under the cart
            Obj("rect", (60, 60, 220), CAR, (10, 150), (0.0, 0.0))]       # 7 split car standing still
    return objs, (0, 4, STATIC)


def _project(tmp_path):
    from walt3d_studio.store import Project

    objs, split = _scene()
    bg, frames, truth = render(objs, N, W, H)
    for t, img in enumerate(frames):
        for i in split:
            m = truth[t][i]["visible"]
            if not m.any():
                continue
            y0 = int(np.flatnonzero(m.any(axis=1))[0])
            band = np.zeros_like(m)
            band[y0 + BAND[0]:y0 + BAND[1]] = True
            img[m & band] = bg[m & band]
    folder = write_frames(tmp_path / "frames", frames)
    p = Project.create(tmp_path / "parts")
    cam = p.add_camera("cam", "UTC")
    p.add_source(folder, cam)
    p.save_background(cam, "all", bg.astype(np.float32), n_frames=N, first_time=None, last_time=None,
                      settings={"hours_per_window": None})
    return p, cam, objs, split, truth


def _mask_iou(a, b):
    return (a & b).sum() / max((a | b).sum(), 1)


def _owner(mask, truth_t):
    """The true objects holding at least 30 % of the detection's mask pixels, and the share of each."""
    out = {}
    for j, r in enumerate(truth_t):
        if r["present"]:
            share = (mask & r["amodal"]).sum() / max(mask.sum(), 1)
            if share >= 0.3:
                out[j] = share
    return out


def _holds(mask, truth_t):
    """The true objects at least half of whose pixels lie in the detection's mask."""
    return {j for j, r in enumerate(truth_t) if r["present"] and (mask & r["amodal"]).sum() >= 0.5 * r["amodal"].sum()}


def _run(tmp_path, settings=None):
    from walt3d_studio.mining.detection import decode_rle
    from walt3d_studio.mining.mine import mine
    from walt3d_studio.store.detections import detection_rles, detection_table, verdict_reasons

    p, cam, objs, split, truth = _project(tmp_path)
    with p:
        mine(p, cam, settings)
        dt = detection_table(p, camera_id=cam)
        ids = [int(v) for v in dt.id]
        rles = detection_rles(p, ids)
        reasons = verdict_reasons(p, ids)
        pos = {int(f): k for k, f in enumerate(p.frame_table(cam).ids)}
        rows = []
        for i, d in enumerate(ids):
            t = pos[int(dt.frame_id[i])]
            m = decode_rle(rles[d])
            rows.append({"t": t, "mask": m, "owners": _owner(m, truth[t]), "holds": _holds(m, truth[t]),
                         "mined": bool(dt.mined[i]),
                         "track": int(dt.track_id[i]), "reasons": reasons[d], "category": dt.category[i]})
    return rows, truth, split


def test_a_car_split_into_roof_and_body_is_joined_and_mined_whole_but_a_walker_or_cart_above_a_car_is_not(tmp_path):
    rows, truth, split = _run(tmp_path)
    walker = WALKER
    joined = [r for r in rows if "joined_parts" in r["reasons"].get("flags", [])]
    assert joined, "no join at all"
    # every join is of one moving split car's two pieces; the walker and the cart are never joined to anything
    for r in joined:
        assert len(r["holds"]) == 1 and r["holds"] <= set(split[:2]), (r["t"], r["holds"])
        assert "joined with a piece above it" in r["reasons"]["parts"]
    for i in (walker, CART):
        assert all(r["holds"] == {i} for r in rows if i in r["holds"])
    # the walker and the cart were above their cars, inside their columns, in several frames, as blobs of their own
    for above, car in ((walker, 3), (CART, 6)):
        over = [t for t in range(N) if truth[t][above]["present"] and truth[t][car]["present"]
                and _x_inside(truth[t][above]["amodal"], truth[t][car]["amodal"])]
        assert len(over) >= 8
        assert sum(r["t"] in over for r in rows if r["holds"] == {above}) >= 0.8 * len(over)
        assert sum(r["t"] in over and r["mined"] for r in rows if r["holds"] == {car}) >= 0.8 * len(over)
    # each moving split car: mined in most frames where it is whole in view, always as the whole car, in one track
    for i in split[:2]:
        mined = [r for r in rows if r["mined"] and i in r["owners"]]
        whole = [t for t in range(N) if truth[t][i]["present"] and not truth[t][i]["truncated"]]
        assert len(mined) >= 0.6 * len(whole), (i, len(mined), len(whole))
        ious = [_mask_iou(r["mask"], truth[r["t"]][i]["amodal"]) for r in mined]
        assert min(ious) >= 0.85, (i, sorted(ious)[:5])
        assert len({r["track"] for r in rows if r["owners"].get(i, 0) > 0.9 and r["mined"]}) == 1
    # no roof piece alone is mined: every mined detection of a split car holds the car
    for r in rows:
        if r["mined"] and set(r["owners"]) & set(split):
            assert r["holds"] == set(r["owners"]), (r["t"], r["owners"], r["holds"])
    # the car standing still: not joined (no motion to tell), never mined, its body rejected for the piece above it
    still = [r for r in rows if STATIC in r["owners"]]
    assert still and not any(r["mined"] for r in still)
    bodies = [r for r in still if "part_above" in r["reasons"]["flags"]]
    assert len(bodies) >= N - 5 and all(r["reasons"]["parts"].startswith("a piece above it may be") for r in bodies)
    # the normal cars and the walker are still mined, alone (the cart is not: as wide as a car and far lower, the
    # learned size prior's own part check rejects it as too small for a whole car)
    for i in (1, 3, 6, walker):
        mined = [r for r in rows if r["mined"] and i in r["owners"]]
        assert mined and all(r["holds"] == {i} == set(r["owners"]) for r in mined), i
        assert all("joined_parts" not in r["reasons"].get("flags", []) for r in mined)


def test_the_cart_fits_a_roofs_size_and_place_so_only_its_motion_keeps_it_apart(tmp_path):
    """With the motion test made toothless (any spread, no travel needed) the cart is joined to the car under
    it: the test above is not passed on size and place alone."""
    from walt3d_studio.mining.mine import MineSettings
    from walt3d_studio.mining.parts import PartSettings

    rows, _, _ = _run(tmp_path, MineSettings(parts=PartSettings(tolerance=10.0, min_motion=0.0)))
    assert sum(r["holds"] == {CART, 6} for r in rows) >= 5


def _x_inside(a, b):
    ca, cb = np.flatnonzero(a.any(axis=0)), np.flatnonzero(b.any(axis=0))
    return ca[0] >= cb[0] and ca[-1] <= cb[-1]


def test_without_the_join_the_split_cars_are_mined_without_their_roofs(tmp_path):
    """The same scene with the join off: the bodies are mined alone (the test above is not vacuous)."""
    from walt3d_studio.mining.mine import MineSettings

    rows, truth, split = _run(tmp_path, MineSettings(parts=None))
    bad = [r for r in rows if r["mined"] and set(r["owners"]) & set(split[:2])
           and _mask_iou(r["mask"], truth[r["t"]][next(iter(set(r["owners"]) & set(split)))]["amodal"]) < 0.85]
    assert len(bad) > 20


def _det(rows, cols, category="other"):
    from walt3d_studio.mining.detection import Detection

    m = np.zeros((60, 80), bool)
    m[rows[0]:rows[1], cols[0]:cols[1]] = True
    return Detection.from_full_mask(m, category)


def test_union_fills_only_the_columns_between_piece_and_body():
    from walt3d_studio.mining.parts import PartSettings, candidates, union

    body = _det((26, 50), (10, 70), "car")
    roof = _det((10, 20), (20, 60))              # 6 px above the body, inside its columns
    assert candidates([body, roof], PartSettings()) == [(1, 0, 6.0)]
    u = union(body, [roof], fill_gap=True)
    full = np.zeros((60, 80), bool)
    full[u.mask_xy[1]:u.mask_xy[1] + u.mask.shape[0], u.mask_xy[0]:u.mask_xy[0] + u.mask.shape[1]] = u.mask
    assert full[20:26, 20:60].all() and not full[20:26, 10:20].any() and not full[20:26, 60:70].any()
    assert u.area == body.area + roof.area + 6 * 40 and u.extra["joined_parts"][0]["area"] == roof.area
    assert union(body, [roof], fill_gap=False).area == body.area + roof.area


def test_what_is_no_part_by_size_shape_or_place():
    from walt3d_studio.mining.parts import PartSettings, candidates

    st = PartSettings()
    body = _det((26, 50), (10, 70), "car")
    assert candidates([body, _det((0, 22), (30, 42), "person")], st) == []   # a walker: narrow, not a slice
    assert candidates([body, _det((8, 20), (25, 53))], st) == []             # a smaller copy: a far car
    assert candidates([body, _det((10, 20), (60, 79))], st) == []            # beside it, not over it
    assert candidates([body, _det((0, 8), (20, 60))], st) == []              # 18 px above: gap > 0.5 x 24
    # a piece cut by the top border (the body is not) may be a car coming into view: no part
    tall = _det((16, 50), (10, 70), "car")
    assert candidates([tall, _det((0, 12), (20, 60))], st, (80, 60)) == []
    assert candidates([tall, _det((0, 12), (20, 60))], st) == [(1, 0, 4.0)]
    # both cut by the left border (a car coming into view): the piece's shape is not judged, only its size
    side, piece = _det((18, 52), (0, 12), "car"), _det((4, 14), (0, 10))
    assert candidates([side, piece], st, (80, 60)) == [(1, 0, 4.0)]
    assert candidates([side, piece], st) == []
