"""HMR 2.0 as a WALT3D Studio body estimator (entry point group `walt3d_studio.body_estimators`, name `hmr2`).

Nothing heavy is imported until an estimator runs: listing only asks whether `hmr2` can be imported.
"""
from __future__ import annotations

import numpy as np

from walt3d_studio.reconstruct import bodies
from walt3d_studio.reconstruct.body_estimators import EstimatorSpec, PersonDetection, TrackEstimate, package_missing
from walt3d_studio.reconstruct.body_ground import box_bottom_pixels, place_to_boxes


def _check() -> str | None:
    reason = package_missing("hmr2", "torch")
    return f"{reason} (install 4D-Humans: see plugins/walt3d_hmr2/README.md)" if reason else None


def axis_to_ray(ray) -> np.ndarray:
    """The rotation taking the optical axis (0, 0, 1) to the direction `ray` (the crop camera → ours)."""
    r = np.asarray(ray, float) / np.linalg.norm(ray)
    z = np.array([0.0, 0.0, 1.0])
    v, c = np.cross(z, r), float(z @ r)
    if np.linalg.norm(v) < 1e-12:
        return np.eye(3)
    vx = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.eye(3) + vx + vx @ vx / (1 + c)


def _crop_input(path, size: int, mean, std) -> np.ndarray:
    """(3, size, size) float32: the crop padded to a square 1.2× its longer side, resized, normalised."""
    import cv2

    from walt3d_studio.mining.crops import read_png_rgba

    rgba = read_png_rgba(path)
    h, w = rgba.shape[:2]
    side = int(np.ceil(1.2 * max(h, w)))
    canvas = np.zeros((side, side, 3), np.float32)
    y0, x0 = (side - h) // 2, (side - w) // 2
    canvas[y0:y0 + h, x0:x0 + w] = rgba[..., :3]
    img = cv2.resize(canvas, (size, size), interpolation=cv2.INTER_AREA)
    img = (img - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    return img.transpose(2, 0, 1)


class HMR2Estimator:
    name = "hmr2"

    def __init__(self, checkpoint: str | None = None, device: str = "cpu", batch_size: int = 16):
        self.checkpoint, self.device, self.batch_size = checkpoint, device, int(batch_size)
        self.settings = {"checkpoint": checkpoint, "device": device}
        self._model = None

    def _load(self):
        if self._model is None:
            from hmr2.models import DEFAULT_CHECKPOINT, load_hmr2

            model, cfg = load_hmr2(self.checkpoint or DEFAULT_CHECKPOINT)
            self._model = model.to(self.device).eval()
            self._cfg = cfg
        return self._model, self._cfg

    def _predict(self, crops: list) -> dict:
        import torch

        model, cfg = self._load()
        size = int(cfg.MODEL.IMAGE_SIZE)
        mean = 255.0 * np.asarray(cfg.MODEL.IMAGE_MEAN)
        std = 255.0 * np.asarray(cfg.MODEL.IMAGE_STD)
        out = {"global_orient": [], "body_pose": [], "betas": []}
        for i in range(0, len(crops), self.batch_size):
            batch = np.stack([_crop_input(c, size, mean, std) for c in crops[i:i + self.batch_size]])
            with torch.no_grad():
                res = model({"img": torch.as_tensor(batch, device=self.device)})
            sp = res["pred_smpl_params"]
            for k in out:
                out[k].append(sp[k].detach().cpu().numpy().astype(float))
        return {k: np.concatenate(v) for k, v in out.items()}

    def estimate_track(self, camera, detections: list[PersonDetection], body_model: str = "proxy") -> TrackEstimate:
        n = len(detections)
        params: list[dict | None] = [None] * n
        foot = np.full((n, 3), np.nan)
        failed = {d.detection_id: "no crop of this detection (run mining's crops first)"
                  for d in detections if not d.crop_path}
        use = [i for i, d in enumerate(detections) if d.crop_path]
        if not use:
            return TrackEstimate({"betas": [0.0] * 10, "body_model": body_model}, params, foot, failed)
        pred = self._predict([detections[i].crop_path for i in use])
        betas = np.median(pred["betas"].reshape(len(use), -1), axis=0)[:bodies.N_BETAS]
        shape = {"betas": betas.tolist(), "body_model": body_model}
        kind, file, sha = bodies.parse_body_model(body_model)
        shape["height_m"] = round(bodies.proxy_rest(shape).height if kind == "proxy" else
                                  bodies.smpl_rest_height(bodies.find_smpl_npz(file, sha), betas), 3)
        boxes = np.array([detections[i].box for i in use], float)
        centres = np.c_[boxes[:, 0] + boxes[:, 2] / 2 - 0.5, boxes[:, 1] + boxes[:, 3] / 2 - 0.5]
        rays = camera.rays(centres)
        G0 = camera.backproject_to_ground(box_bottom_pixels(boxes))
        for k, i in enumerate(use):
            if not np.isfinite(G0[k]).all():
                failed[detections[i].detection_id] = "the box bottom is at or above the horizon, not on the ground"
                continue
            R = axis_to_ray(rays[k]) @ pred["global_orient"][k].reshape(3, 3)
            go = bodies.matrix_to_rotvec(R)
            bp = bodies.matrix_to_rotvec(pred["body_pose"][k].reshape(23, 3, 3)).reshape(69)
            p = {"global_orient": go, "body_pose": bp, "transl": np.zeros(3)}
            v, _ = bodies.posed_mesh(p, shape)
            j = bodies.posed_joints(p, shape)
            # the floor point below the pelvis, at the level of the lowest vertex: it goes on the ground
            low = float((v @ camera.n).min())
            origin = j[0] - (j[0] @ camera.n - low) * camera.n
            pts = v - origin
            G = place_to_boxes(camera, np.eye(3)[None], G0[k:k + 1], pts, boxes[k:k + 1])[0]
            params[i] = {"global_orient": go.tolist(), "body_pose": bp.tolist(), "betas": shape["betas"],
                         "transl": (G - origin).tolist()}
            foot[i] = G
        return TrackEstimate(shape, params, foot, failed, {"source": "hmr2"})


def _create(**options):
    return HMR2Estimator(**options)


spec = EstimatorSpec("hmr2", "HMR 2.0 (4D-Humans): SMPL pose and shape from each crop, placed on the ground plane "
                     "by the box bottom's ray", _create, check=_check, needs_pixels=True)
