"""Privacy blur changes exactly the intended regions: heads from the fitted body or keypoints, plates between
the lamps, each cut to the object's visible mask; nothing else moves."""
import numpy as np
import pytest

from export_scene import H, W, rect, rle, scene
from walt3d_studio.camera import Camera
from walt3d_studio.dataset.privacy import apply_privacy, cascade_available, check_blur, head_region, plate_regions
from walt3d_studio.errors import BadInputError
from walt3d_studio.store.composites import CompositeObject


def _objects(shift=0, person_pose=None, car_pose=None, hide_head=False):
    out = []
    for idx, o in enumerate(scene(shift)):
        visible = o["visible"].copy()
        if hide_head and o["kind"] == "person":
            visible[:12] = False  # something nearer covers the top of the person
        pose = dict(o["pose"])
        if o["kind"] == "person" and person_pose is not None:
            pose = person_pose
        if o["kind"] == "vehicle":
            pose = car_pose or {}
        out.append(CompositeObject(idx=idx, kind=o["kind"], amodal_rle=rle(o["amodal"]),
                                   visible_rle=rle(visible), amodal_box=[0, 0, 1, 1], visible_box=[0, 0, 1, 1],
                                   occlusion=0.0, depth_rank=1 - idx, keypoints=o["kp"], pose=pose))
    out[1].amodal_box = [30, 6, 10, 38]
    return out


@pytest.fixture
def image():
    return np.random.default_rng(1).integers(0, 256, (H, W, 3), dtype=np.uint8)


def _changed(a, b):
    return (a != b).any(axis=2)


def test_blur_changes_exactly_head_and_plate(image):
    objs = _objects()
    person, car = objs[1], objs[0]
    head = head_region(person, (H, W)) & rect(30, 6, 40, 44)
    plates = [m & (rect(8, 14, 40, 34) & ~rect(30, 6, 40, 44)) for m in plate_regions(car, (H, W))]
    assert len(plates) == 2  # no fitted pose: both faces
    intended = head | plates[0] | plates[1]
    out, counts = apply_privacy(image, objs, ("faces", "plates"))
    changed = _changed(out, image)
    assert counts == {"faces": 1, "plates": 2}
    assert not (changed & ~intended).any()            # nothing outside the regions moved
    assert changed[intended].mean() > 0.9             # noise inside them did (a pixel may blur to itself)
    # the head sits at the head keypoints (rows 8..16 of the person), not at its feet
    ys = np.nonzero(head)[0]
    assert ys.min() >= 6 and ys.max() < 22
    out2, _ = apply_privacy(image, objs, ("plates",))
    assert not (_changed(out2, image) & head).any()


def test_head_cut_to_visible_mask(image):
    objs = _objects(hide_head=True)
    out, counts = apply_privacy(image, objs, ("faces",))
    changed = _changed(out, image)
    assert not changed[:12].any()          # whatever stands in front of the head stays sharp
    assert changed[12:20, 30:40].any()


def test_fitted_pose_picks_the_face_and_the_head(image):
    # the car's forward axis points away from the camera: only the rear plate (tail lights 6, 7) is blurred
    away = {"R": np.eye(3)[:, [2, 0, 1]].tolist(), "t": [0.0, 1.5, 12.0]}
    car = _objects(car_pose=away)[0]
    (rear,) = plate_regions(car, (H, W))
    assert rear[26, 18] and not rear[30, 18]  # the rear lamps are at y=26, the front ones at y=28
    toward = {"R": (-np.eye(3)[:, [2, 0, 1]]).tolist(), "t": [0.0, 1.5, 12.0]}
    (front,) = plate_regions(_objects(car_pose=toward)[0], (H, W))
    assert front[30, 18] and not front[26, 18]
    # a body's transl raised along the ground normal, projected: the head of a person 8 m away
    cam = Camera.looking_at_ground((W, H), 60.0, 0.0, 1.5)
    transl = cam.backproject_to_ground([[35.0, 40.0]])[0] + np.array([0, -0.9, 0])
    person = _objects(person_pose={"transl": transl.tolist()})[1]
    m = head_region(person, (H, W), cam)
    ys, xs = np.nonzero(m)
    head_px = cam.project((transl + 0.6 * cam.n)[None])[0]
    assert abs(xs.mean() - head_px[0]) < 1 and abs(ys.mean() - head_px[1]) < 1


def test_requests_checked(image):
    assert check_blur("none") == () and check_blur("faces, plates") == ("faces", "plates")
    with pytest.raises(BadInputError, match="Unknown privacy"):
        check_blur("faces,irises")
    out, counts = apply_privacy(image, _objects(), ())
    assert out is image and counts == {}
    if cascade_available():
        out, counts = apply_privacy(image, _objects(), ("cascade",))  # runs; noise has no faces
        assert counts["cascade"] >= 0
    else:  # OpenCV 5 moved the Haar cascades out of the main package
        with pytest.raises(BadInputError, match="cascade"):
            check_blur("faces,cascade")
