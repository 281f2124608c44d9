"""Compositor core on synthetic scenes with exact 3D truth: the rasteriser's depth against the analytic ground and
face planes, paste order on every overlapping pair, visible masks and occlusion against a full z-buffer render,
keypoint visibility, feathering and gain."""
import cv2
import numpy as np
import pytest

from walt3d_studio.composite import synthetic
from walt3d_studio.composite.order import overlap, walt3d_order
from walt3d_studio.composite.paste import feather_alpha, label_map, object_gain, paste
from walt3d_studio.composite.render import RenderContext, rasterize, render_maps
from walt3d_studio.composite.visibility import instance_map, keypoint_visibility, pseudo_gt
from walt3d_studio.mining.detection import decode_rle


@pytest.fixture(scope="module")
def cam():
    return synthetic.make_camera((320, 180), focal=250.0, pitch_deg=15.0, height_m=6.0)


@pytest.fixture(scope="module")
def ctx(cam):
    return RenderContext(cam)


def test_ground_depth_is_the_analytic_plane_and_nan_above_horizon(cam, ctx):
    depth, normal, ids = render_maps(ctx, [])
    xs, ys = np.meshgrid(np.arange(320.0), np.arange(180.0))
    p = np.stack([xs, ys, np.ones_like(xs)], -1) @ np.linalg.inv(cam.K).T
    denom = p @ cam.n
    with np.errstate(divide="ignore"):
        truth = np.where(denom < 0, -cam.d / denom, np.nan)
    assert np.array_equal(np.isnan(depth), np.isnan(truth)) and np.isnan(depth[0, 0]) and not np.isnan(depth[-1, 0])
    ok = ~np.isnan(truth)
    assert np.max(np.abs(depth[ok] - truth[ok]) / truth[ok]) < 1e-6
    assert (ids == -1).all()
    np.testing.assert_allclose(normal[-1, 5].astype(float), cam.n, atol=1e-3)


def test_box_face_depth_and_silhouette(cam, ctx):
    [o] = synthetic.scene(cam, [{"kind": "vehicle", "xy": (0.0, 14.0), "yaw": 0.3}], ctx)
    r = rasterize(ctx, [o.mesh])
    hit = r.mesh_id == 0
    # every covered pixel's depth is the first face plane its ray meets (analytic ray-box intersection)
    v, f = o.mesh.vertices, o.mesh.faces
    ys, xs = np.nonzero(hit)
    rays = ctx.rays[ys, xs]
    best = np.full(len(rays), np.inf)
    for tri in f:
        a, b, c = v[tri]
        nrm = np.cross(b - a, c - a)
        with np.errstate(divide="ignore", invalid="ignore"):
            s = (nrm @ a) / (rays @ nrm)
        P = rays * s[:, None]
        # inside test by barycentric sign
        def side(p, q, r_):
            return np.einsum("ij,j->i", np.cross(q - p, P - p), nrm)
        inside = (side(a, b, c) >= -1e-9) & (side(b, c, a) >= -1e-9) & (side(c, a, b) >= -1e-9) & (s > 0)
        best = np.where(inside, np.minimum(best, s), best)
    good = np.isfinite(best)
    assert good.mean() > 0.98  # edge pixels may sit on a boundary
    assert np.max(np.abs(r.depth[ys, xs][good] - best[good]) / best[good]) < 0.01
    # silhouette of a convex object = convex hull of its projected corners
    hull = cv2.convexHull(cam.project(v).astype(np.float32))
    poly = np.zeros((180, 320), np.uint8)
    cv2.fillConvexPoly(poly, np.round(hull).astype(np.int32), 1)
    inter, union = np.logical_and(poly, hit).sum(), np.logical_or(poly, hit).sum()
    assert inter / union > 0.97
    # normals are unit vectors facing the camera
    n = r.normal[hit]
    np.testing.assert_allclose(np.linalg.norm(n, axis=1), 1.0, atol=1e-5)


def _truth_instances(ctx, objs):
    return rasterize(ctx, [o.mesh for o in objs], ground=False).mesh_id


SPECS = [{"kind": "vehicle", "xy": (0.5, 12.0), "yaw": 0.2}, {"kind": "vehicle", "xy": (-0.8, 17.0), "yaw": 1.3},
         {"kind": "person", "xy": (1.2, 9.5)}, {"kind": "vehicle", "xy": (1.5, 22.0), "yaw": -0.4},
         {"kind": "person", "xy": (-2.0, 14.5)}]


def test_order_visible_masks_and_occlusion_exact(cam, ctx):
    objs = synthetic.scene(cam, SPECS, ctx)
    order, broken = walt3d_order(objs, ctx)
    assert broken == 0
    pos = {i: p for p, i in enumerate(order)}
    truth = _truth_instances(ctx, objs)
    n_pairs = 0
    for i in range(len(objs)):
        for j in range(i + 1, len(objs)):
            ov = overlap(objs[i], objs[j])
            if ov is None:
                continue
            n_pairs += 1
            # truth: at the overlap pixels the z-buffer shows the nearer one
            x0, y0 = max(objs[i].box[0], objs[j].box[0]), max(objs[i].box[1], objs[j].box[1])
            ys, xs = np.nonzero(ov[2])
            seen = truth[ys + y0, xs + x0]
            near_truth = i if (seen == i).sum() > (seen == j).sum() else j
            near_paste = i if pos[i] > pos[j] else j
            assert near_truth == near_paste, (i, j)
    assert n_pairs >= 3
    lab = label_map(cam.image_size, objs, order)
    gt = pseudo_gt(objs, order, lab)
    occluded = 0
    for t in gt:
        vis_truth = truth == t.index
        vis = decode_rle(t.visible_rle)
        assert np.array_equal(vis, vis_truth)  # IoU 1.0
        amodal = decode_rle(t.amodal_rle)
        occ_truth = 1 - vis_truth.sum() / amodal.sum()
        assert abs(t.occlusion - occ_truth) < 0.005
        occluded += t.occlusion > 0.05
        ys, xs = np.nonzero(vis)
        assert t.visible_box == [xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1]
    assert occluded >= 2
    # depth ranks: 0 = nearest = pasted last
    assert gt[-1].depth_rank == 0 and gt[0].depth_rank == len(objs) - 1
    inst = instance_map(lab)
    assert np.array_equal(inst == 0, truth == -1)


def test_keypoint_visibility_rule():
    lab = np.full((10, 10), -1, np.int16)
    lab[:, 5:] = 2       # a nearer object (paste position 2) covers the right half
    lab[:, :5] = 1       # this object (position 1) on the left
    kp = np.array([[2, 2, 2], [7, 2, 2], [7, 3, 1], [7, 4, 0], [2, 5, 1], [20, 5, 2]], float)
    out = keypoint_visibility(kp, lab, 1)
    assert out[:, 2].tolist() == [2, 1, 1, 0, 1, 1]      # out of the frame: not seen, so 1
    # for the nearer object, (2, 2) lies on the farther one: not on its own pixels, so not "visible"
    assert keypoint_visibility(kp, lab, 2)[:, 2].tolist() == [1, 2, 1, 0, 1, 1]
    lab[2, 2] = 2                                          # on its own pixels: visible
    assert keypoint_visibility(kp, lab, 2)[0, 2] == 2


def test_keypoints_of_synthetic_scene_hidden_exactly_where_covered(cam, ctx):
    objs = synthetic.scene(cam, SPECS, ctx)
    order, _ = walt3d_order(objs, ctx)
    lab = label_map(cam.image_size, objs, order)
    truth = _truth_instances(ctx, objs)
    for t in pseudo_gt(objs, order, lab):
        for (x, y, v), (_, _, v0) in zip(t.keypoints, objs[t.index].keypoints):
            xi, yi = int(round(x)), int(round(y))
            if not (0 <= xi < 320 and 0 <= yi < 180):
                assert v == (1 if v0 == 2 else v0)
                continue
            other = truth[yi, xi]
            assert v == (2 if other == t.index else 1)   # visible only on its own visible pixels


def test_paste_pixels_follow_the_label_map_and_feather_keeps_masks(cam, ctx):
    objs = synthetic.scene(cam, SPECS, ctx)
    order, _ = walt3d_order(objs, ctx)
    bg = np.full((180, 320, 3), 128, np.uint8)
    img = paste(bg, objs, order)
    lab = label_map(cam.image_size, objs, order)
    for p, i in enumerate(order):
        px = img[lab == p]
        assert (px == objs[i].rgba[0, 0, :3] * 0 + np.array(
            [(37 * (i + 1)) % 256, (91 * (i + 1)) % 256, (151 * (i + 1)) % 256], np.uint8)).all()
    assert (img[lab == -1] == 128).all()
    soft = paste(bg, objs, order, feather=1.5)
    assert (soft[lab == -1] == 128).all()       # feathering never spills outside the masks
    a = feather_alpha(np.ones((7, 7), bool), 2.0)
    assert a[3, 3] == 1.0 and 0 < a[0, 3] < 1


def test_gain_matches_lighting_of_the_background():
    from walt3d_studio.composite.scene import SceneObject

    mask = np.zeros((20, 20), bool)
    mask[5:15, 5:15] = True
    rgba = np.zeros((20, 20, 4), np.uint8)
    rgba[..., :3] = 100             # source frame's ground around the object
    rgba[mask, :3] = 60             # the object
    rgba[..., 3] = mask * 255
    o = SceneObject(key=1, kind="vehicle", box=(0, 0, 20, 20), mask=mask, rgba=rgba)
    bg = np.full((20, 20, 3), 130, np.uint8)  # the background window is brighter
    g = object_gain(o, bg)
    np.testing.assert_allclose(g, 131 / 101, rtol=1e-6)
    out = paste(bg, [o], [0], gain=True)
    assert out[10, 10, 0] == round(60 * 131 / 101)


def test_distorted_camera_ground_depth_follows_the_lens():
    from walt3d_studio.camera import Camera

    cam = Camera.looking_at_ground((160, 90), 120.0, 25.0, 5.0, dist=[-0.2, 0.05, 0, 0, 0])
    ctx = RenderContext(cam)
    px = np.array([[5.0, 85.0], [80.0, 60.0], [150.0, 88.0]])
    want = cam.ground_depth(px)
    got = ctx.ground_depth[px[:, 1].astype(int), px[:, 0].astype(int)]
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_rendering_never_changes_the_context(cam, ctx):
    objs = synthetic.scene(cam, SPECS, ctx)
    before = ctx.ground_depth.copy(), ctx.ground_inf.copy()
    render_maps(ctx, [o.mesh for o in objs])
    depth, _, ids = render_maps(ctx, [])
    assert np.array_equal(ctx.ground_inf, before[1]) and (ids == -1).all()
    np.testing.assert_array_equal(depth, before[0])


@pytest.mark.slow
def test_shape_model_vehicles_and_proxy_body_visibility_matches_zbuffer():
    """The real meshes the fitters produce (the vehicle shape model's mean, the proxy body), non-convex, with known
    poses: the paste's visible masks agree with a z-buffer render of the whole scene."""
    from walt3d_studio.camera import Camera
    from walt3d_studio.composite.render import Mesh
    from walt3d_studio.composite.scene import object_from_mesh
    from walt3d_studio.reconstruct import bodies
    from walt3d_studio.reconstruct.vehicle_shape import mesh_for_alpha

    cam = Camera.looking_at_ground((320, 180), 250.0, 10.0, 3.0)
    ctx = RenderContext(cam)
    Rw, tw = cam.world_to_cam()
    up = cam.n

    def vehicle(xy, yaw):
        v, f = mesh_for_alpha(np.zeros(0))
        c, s = np.cos(yaw), np.sin(yaw)
        R = Rw @ np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
        return Mesh.outward(v @ R.T + Rw @ np.array([xy[0], xy[1], 0.0]) + tw, f)

    def person(xy):
        toward = -(Rw @ np.array([0, 1.0, 0]))          # facing the camera, along the ground
        R = np.column_stack([np.cross(up, toward), up, toward])
        params = {"global_orient": bodies.matrix_to_rotvec(R), "body_pose": np.zeros(69), "transl": np.zeros(3)}
        shape = {"body_model": "proxy", "height_m": 1.75, "betas": [0] * 10}
        v, f = bodies.posed_mesh(params, shape)
        foot = Rw @ np.array([xy[0], xy[1], 0.0]) + tw
        v = v - v.mean(0)
        v = v - (v @ up).min() * up + foot             # stand on the ground at xy
        return Mesh.outward(v, f)

    meshes = [vehicle((0.8, 11.0), 0.3), vehicle((-1.5, 15.0), 1.2), person((0.2, 7.0))]
    objs = [object_from_mesh(cam, ctx, key=i + 1, kind=k, mesh=m, rgb=(50 * i, 90, 200), track_id=i + 1)
            for i, (k, m) in enumerate(zip(("vehicle", "vehicle", "person"), meshes))]
    order, broken = walt3d_order(objs, ctx)
    assert broken == 0 and order[-1] == 2               # the person, nearest, goes on top
    truth = rasterize(ctx, meshes, ground=False).mesh_id
    lab = label_map(cam.image_size, objs, order)
    gt = pseudo_gt(objs, order, lab)
    assert sum(t.occlusion > 0.05 for t in gt) >= 1
    for t in gt:
        vis, want = decode_rle(t.visible_rle), truth == t.index
        assert (vis & want).sum() / (vis | want).sum() > 0.995
        assert abs(t.occlusion - (1 - want.sum() / decode_rle(t.amodal_rle).sum())) < 0.005
