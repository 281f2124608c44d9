"""The built-in detector on the demo footage (41 frames, 480x270: a car driving and turning, a pedestrian,
a cyclist): each is detected and tracked under one track id while apart; border detections are truncated."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from walt3d_studio.background_job import compute_backgrounds
from walt3d_studio.mining.crops import crop_file, read_png_rgba
from walt3d_studio.mining.mine import mine
from walt3d_studio.store import Project
from walt3d_studio.store.detections import detection_table, track_table

GIF = Path(__file__).resolve().parent.parent / "resources" / "footage" / "parking-lot-person-bicycle-car.gif"


@pytest.fixture(scope="module")
def gif_project(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    p = Project.create(root / "gif")
    cam = p.add_camera("parking-lot", "UTC")
    p.add_source(GIF, cam)
    compute_backgrounds(p, cam, hours_per_window=None)
    report = mine(p, cam)
    yield p, cam, report
    p.close()


def _by_frame(p, cam):
    dt = detection_table(p, camera_id=cam)
    table = p.frame_table(cam)
    pos = {int(f): i for i, f in enumerate(table.ids)}
    frames = np.array([pos[int(f)] for f in dt.frame_id])
    return dt, frames


def _centre(box):
    return box[0] + box[2] / 2, box[1] + box[3] / 2


def test_car_is_one_track_through_the_clip(gif_project):
    p, cam, report = gif_project
    assert report.frames == 41
    dt, frames = _by_frame(p, cam)
    car_tracks = set()
    for t in range(41):
        sel = np.flatnonzero(frames == t)
        biggest = sel[np.argmax(dt.area[sel])]
        assert dt.area[biggest] > 3000, f"frame {t}: no car-sized detection"
        assert dt.category[biggest] == "car"
        car_tracks.add(int(dt.track_id[biggest]))
    assert len(car_tracks) == 1
    tracks = track_table(p, cam)
    car = tracks.id == car_tracks.pop()
    assert tracks.category[car][0] == "car" and tracks.length[car][0] == 41 and tracks.usable[car][0]


def test_pedestrian_and_cyclist_are_one_track_each(gif_project):
    p, cam, _ = gif_project
    dt, frames = _by_frame(p, cam)
    cx = np.array([_centre(b)[0] for b in dt.box])
    cy = np.array([_centre(b)[1] for b in dt.box])
    small = dt.area < 1500
    # the pedestrian walks up and out of the top left part of the view in the first ~15 frames
    walker = small & (cx > 140) & (cx < 230) & (cy < 60)
    # the cyclist rides down from the top edge towards the right, all through the clip
    cyclist = small & (cx > 300) & (cy < 120)
    assert len(set(frames[walker])) >= 10 and len(set(frames[cyclist])) >= 38
    assert len(set(dt.track_id[walker])) == 1
    assert len(set(dt.track_id[cyclist])) == 1
    assert dt.track_id[walker][0] != dt.track_id[cyclist][0]
    walker_cats = set(dt.category[walker])
    assert "person" in walker_cats and "car" not in walker_cats
    assert "car" not in set(dt.category[cyclist])
    # one detection per object per frame: nothing else is moving in those regions
    for t in set(frames[cyclist]):
        assert np.sum(cyclist & (frames == t)) == 1


def test_border_detections_are_truncated_and_not_mined(gif_project):
    p, cam, _ = gif_project
    dt, frames = _by_frame(p, cam)
    W, H = 480, 270
    x, y, w, h = dt.box.T
    at_border = (x <= 2) | (y <= 2) | (W - (x + w) <= 2) | (H - (y + h) <= 2)
    assert at_border.sum() >= 20  # the car enters at the bottom, leaves at the left; the cyclist enters at the top
    assert np.all(dt.rule_verdict[at_border] == "truncated")
    assert not np.any(dt.verdict[at_border] == "unoccluded")
    assert np.all(dt.rule_verdict[~at_border] != "truncated")
    # frame 0: the car touches the bottom edge
    first = np.flatnonzero(frames == 0)
    car0 = first[np.argmax(dt.area[first])]
    assert dt.rule_verdict[car0] == "truncated"


def test_mined_objects_have_rgba_crops_and_frame_index(gif_project):
    p, cam, report = gif_project
    dt, frames = _by_frame(p, cam)
    mined = np.flatnonzero(dt.verdict == "unoccluded")
    assert len(mined) == report.mined > 30
    for i in mined[:: max(1, len(mined) // 8)]:
        path = p.root / dt.crop_path[i]  # a span of the run's pack of crops
        assert Path(crop_file(path)).is_file() and path.is_relative_to(p.root / "arrays" / "crops")
        crop = read_png_rgba(path)
        assert crop.shape[2] == 4 and (crop[..., 3] > 0).sum() == dt.area[i]
        # the crop's colour pixels are the frame's at the box (exact frame index, no re-decoding needed later)
        assert dt.source_index[i] == frames[i]  # one source: decode index == capture position
    assert np.all([c is None for c in dt.crop_path[dt.verdict != "unoccluded"]])
