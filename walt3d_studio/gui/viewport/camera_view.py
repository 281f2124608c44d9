"""Rendering through the calibrated camera: the OpenGL projection of a pinhole K (`projection_matrix`) and the
warp from that undistorted render into the camera's own, distorted pixels (`CameraWarp`). Numpy and OpenCV only:
the viewport's VTK scene (scene.py) renders with these, and they are tested against `Camera.project`."""
from __future__ import annotations

import numpy as np


def projection_matrix(K, size, offset=(0, 0), near: float = 0.1, far: float = 2000.0) -> np.ndarray:
    """OpenGL projection (VTK eye frame: x right, y up, looking down -z) of a pinhole camera K into a window of
    `size` = (W, H) pixels whose column `x + offset[0]` / top-down row `y + offset[1]` holds camera pixel (x, y),
    with pixel centres at integer camera coordinates (as `Camera.project` has them)."""
    K = np.asarray(K, float)
    W, H = size
    ox, oy = offset
    fx, s, cx, fy, cy = K[0, 0], K[0, 1], K[0, 2], K[1, 1], K[1, 2]
    P = np.zeros((4, 4))
    P[0] = [2 * fx / W, -2 * s / W, 1 - 2 * (cx + ox + 0.5) / W, 0]
    P[1] = [0, 2 * fy / H, 2 * (cy + oy + 0.5) / H - 1, 0]
    P[2] = [0, 0, -(far + near) / (far - near), -2 * far * near / (far - near)]
    P[3] = [0, 0, -1, 0]
    return P


class _Geometry:
    """A render window's intrinsics, size, offset and warp maps (see CameraWarp)."""

    def __init__(self, K, size, offset, maps, image_size):
        self.K, self.size, self.offset, self.maps, self.image_size = K, size, offset, maps, image_size

    def warp(self, img, nearest=False):
        return CameraWarp.warp(self, img, nearest)


class CameraWarp:
    """Where each pixel of the camera's (distorted) image is in the undistorted pinhole render.

    `size`/`offset`: the render window (W, H) and where camera pixel (0, 0) lies in it (a margin around the image
    where barrel distortion pulls the image corners in from outside the pinhole frame), `K` the intrinsics to
    render with. With distortion the render is made at `scale` (2) times the image's resolution, so that sampling
    it back (nearest, for the per-object pass) moves an edge by at most a quarter pixel. `maps`: for every image
    pixel the render's (x, y) (float32, for cv2.remap), or None for a camera without distortion (then the render
    is the image, pixel for pixel)."""

    MAX_MARGIN = 0.5  # of the image size on each side: beyond that, a lens model this strong is cut off

    def __init__(self, camera, step: int = 8, scale: int = 2):
        w, h = (int(v) for v in camera.image_size)
        self.image_size = (w, h)
        self.K = np.asarray(camera.K, float)
        if camera.dist is None or not np.any(np.asarray(camera.dist)):
            self.size, self.offset, self.maps = (w, h), (0, 0), None
            self.shade = self   # the shaded pass: the same window
            return
        from scipy.ndimage import map_coordinates

        # undistort a coarse grid (exact, with the camera's own iteration) and interpolate it cubically: the
        # distortion is smooth, and the whole image through undistort_pixels would take a second
        gx = np.unique(np.r_[np.arange(0, w, step), w - 1]).astype(float)
        gy = np.unique(np.r_[np.arange(0, h, step), h - 1]).astype(float)
        X, Y = np.meshgrid(gx, gy)
        U = camera.undistort_pixels(np.c_[X.ravel(), Y.ravel()]).reshape(len(gy), len(gx), 2)
        lo = np.clip(np.floor(-U.reshape(-1, 2).min(axis=0)) + 2, 0, [self.MAX_MARGIN * w, self.MAX_MARGIN * h])
        hi = np.clip(np.ceil(U.reshape(-1, 2).max(axis=0) - [w - 1, h - 1]) + 2, 0,
                     [self.MAX_MARGIN * w, self.MAX_MARGIN * h])
        ox, oy = int(lo[0]), int(lo[1])
        # render pixel r holds camera (undistorted) coordinate u with r = scale * (u + offset) + (scale - 1) / 2:
        # the centres of the scale x scale sub-pixels of camera pixel u are spread evenly around it
        sh = (scale - 1) / 2
        self.K = np.diag([scale, scale, 1.0]) @ self.K + np.array([[0, 0, sh], [0, 0, sh], [0, 0, 0]])
        self.offset = (scale * ox, scale * oy)
        self.size = (scale * (w + ox + int(hi[0])), scale * (h + oy + int(hi[1])))
        ix = np.interp(np.arange(w, dtype=float), gx, np.arange(len(gx)))   # image pixel -> coarse grid index
        iy = np.interp(np.arange(h, dtype=float), gy, np.arange(len(gy)))
        IX, IY = np.meshgrid(ix, iy)
        base = [map_coordinates(U[..., k], [IY, IX], order=3, mode="nearest") + o for k, o in ((0, ox), (1, oy))]
        self.maps = tuple((scale * b + sh).astype(np.float32) for b in base)
        # the shaded pass needs no sub-pixel edges (it is blended, bilinearly): it is rendered at the image's
        # own resolution, a quarter of the pixels
        self.shade = _Geometry(np.asarray(camera.K, float), (w + ox + int(hi[0]), h + oy + int(hi[1])), (ox, oy),
                               tuple(b.astype(np.float32) for b in base), self.image_size)

    def warp(self, img: np.ndarray, nearest: bool = False) -> np.ndarray:
        """A render of the window (top row first) -> the camera's image (H, W, ...)."""
        import cv2

        w, h = self.image_size
        if self.maps is None:
            ox, oy = self.offset
            return img[oy:oy + h, ox:ox + w]
        return cv2.remap(img, self.maps[0], self.maps[1], cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=0)
