"""Track stitching with appearance (issue 12), on a rendered scene run through the foreground detector and `mine`,
with exact truth: a red car missed for 6 frames while a blue car turns up exactly where the red one was heading
(and turns off down the image): on motion alone the two are equally good continuations and the blue one wins; with the colour
term the blue car is refused and the red car that reappears joins its own track."""
from __future__ import annotations

import dataclasses


from test_mining_class_vote import project_of
from walt3d_studio.mining.mine import MineSettings, mine
from walt3d_studio.mining.stitch import StitchSettings
from walt3d_studio.store.detections import detection_table, verdict_reasons

RED, BLUE, GREEN = (210, 30, 30), (30, 40, 210), (40, 190, 40)


def _red(t):  # 4 px/frame to the right; missed in frames 20-25 (it matched the background there)
    return None if 20 <= t <= 25 else ("rect", (10 + 4 * t, 100, 40, 24))


def _blue(t):  # turns up at frame 23 where the red car was heading, and drives off down the image
    return ("rect", (10 + 4 * 23, 100 + 12 * (t - 23), 40, 24)) if 23 <= t <= 30 else None


def _green(t):  # another car in the far lane throughout
    return "rect", (280 - 3 * t, 20, 36, 22)


SCENE = [("car", RED, _red), ("car", BLUE, _blue), ("car", GREEN, _green)]


def _tracks_by_object(p, cam, truth):
    dt = detection_table(p, camera_id=cam)
    pos = {int(f): i for i, f in enumerate(p.frame_table(cam).ids)}
    out: dict[int, set] = {}
    for i in range(len(dt)):
        x, y, w, h = (int(v) for v in dt.box[i])
        inside = [o for o, m in truth[pos[int(dt.frame_id[i])]].items() if m[y:y + h, x:x + w].sum() > 0.5 * m.sum()]
        assert len(inside) == 1
        out.setdefault(inside[0], set()).add(int(dt.track_id[i]))
    return out, dt


def test_a_blue_car_where_the_red_one_was_heading_does_not_join_it(tmp_path):
    p, cam, truth = project_of(tmp_path, SCENE, 40)
    with p:
        mine(p, cam)
        by_obj, dt = _tracks_by_object(p, cam, truth)
        assert len(by_obj[0]) == 1, by_obj           # the red car is one track across its 6 missed frames
        assert not by_obj[0] & by_obj[1], by_obj     # and the blue car is not in it
        assert not by_obj[2] & (by_obj[0] | by_obj[1])
        red = next(iter(by_obj[0]))
        rs = verdict_reasons(p, dt.id)
        joined = [rs[int(d)].get("stitched_from") for d, t in zip(dt.id, dt.track_id) if t == red]
        assert sum(j is not None for j in joined) == 40 - 26  # frames 26-39 came from the joined fragment
    # the same scene on motion alone: both fragments continue the red car's motion exactly, and the first to
    # start (the blue car) takes the red track: the case the colour term is for
    p2, cam2, truth2 = project_of(tmp_path, SCENE, 40, name="motion_only")
    with p2:
        mine(p2, cam2, MineSettings(stitch=dataclasses.replace(StitchSettings(), appearance=False)))
        by_obj, _ = _tracks_by_object(p2, cam2, truth2)
        assert by_obj[0] & by_obj[1] and len(by_obj[0]) == 2
