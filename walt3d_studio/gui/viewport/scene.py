"""The 3D scene of the viewport, in VTK (no Qt here): the ground with a 1 m grid, the calibrated camera as a
frustum, every fitted object at the current frame (vehicles: the shape model's mesh at the track's α, moved by
an actor transform per frame; people: the posed body mesh) coloured by class, and each track's ground
trajectory with its current position marked.

Rendered offscreen (vtkWindowToImageFilter) into an RGB array: the dock shows that image, so the same code runs
on a desktop and headless (VTK_DEFAULT_OPENGL_WINDOW=vtkOSOpenGLRenderWindow, set by the dock when there is no
display). Coordinates are DESIGN's world frame (`Camera.world_to_cam`: z up, origin at the camera's foot).
"""
from __future__ import annotations

import numpy as np

# torch's native stack (triton, pulled in by torchvision.ops) segfaults when it is first imported after VTK has
# loaded its OpenGL libraries in the same process (seen with torch 2.14 + VTK 9.7): when torch is installed, load it
# before any VTK code runs, so a later in-process torch use (a keypoint model, a trained detector) stays safe.
try:
    import torchvision.ops  # noqa: F401
except ImportError:
    pass

CLASS_COLOURS = {"vehicle": (0.30, 0.65, 1.0), "person": (1.0, 0.60, 0.20)}
GROUND = (0.22, 0.22, 0.24)
GRID = (0.45, 0.45, 0.5)


def _polydata(points, faces=None, lines=None):
    import vtk
    from vtkmodules.util.numpy_support import numpy_to_vtk, numpy_to_vtkIdTypeArray

    pd = vtk.vtkPolyData()
    pts = vtk.vtkPoints()
    pts.SetData(numpy_to_vtk(np.ascontiguousarray(points, dtype=np.float64), deep=True))
    pd.SetPoints(pts)
    for cells, n, setter in ((faces, 3, pd.SetPolys), (lines, 2, pd.SetLines)):
        if cells is None or len(cells) == 0:
            continue
        c = np.asarray(cells, np.int64).reshape(-1, n)
        arr = np.column_stack([np.full(len(c), n, np.int64), c]).ravel()
        ca = vtk.vtkCellArray()
        ids = numpy_to_vtkIdTypeArray(arr, deep=True)
        if hasattr(ca, "ImportLegacyFormat"):  # VTK >= 9.1 (SetCells is deprecated from 9.6)
            ca.ImportLegacyFormat(ids)
        else:
            ca.SetCells(len(c), ids)
        setter(ca)
    return pd


def _actor(pd, colour, width=1.0, opacity=1.0):
    import vtk

    m = vtk.vtkPolyDataMapper()
    m.SetInputData(pd)
    a = vtk.vtkActor()
    a.SetMapper(m)
    a.GetProperty().SetColor(*colour)
    a.GetProperty().SetLineWidth(width)
    a.GetProperty().SetOpacity(opacity)
    return a


def _matrix(T):
    import vtk

    m = vtk.vtkMatrix4x4()
    for i in range(4):
        for j in range(4):
            m.SetElement(i, j, float(T[i, j]))
    return m


def grid_lines(extent: float, spacing: float = 1.0, centre=(0.0, 0.0)) -> tuple[np.ndarray, np.ndarray]:
    """Points and line index pairs of a ground grid (z = 0) every `spacing` metres within ±extent of centre."""
    cx, cy = (np.round(np.asarray(centre, float) / spacing) * spacing)
    ticks = np.arange(-extent, extent + spacing / 2, spacing)
    pts, lines = [], []
    for t in ticks:
        k = len(pts)
        pts += [(cx + t, cy - extent, 0), (cx + t, cy + extent, 0), (cx - extent, cy + t, 0), (cx + extent, cy + t, 0)]
        lines += [(k, k + 1), (k + 2, k + 3)]
    return np.array(pts, float), np.array(lines, np.int64)


def frustum_lines(camera, depth: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """World points and lines of the camera drawn as a pyramid: its centre and the image corners at `depth` m."""
    w, h = camera.image_size
    corners = np.array([[-0.5, -0.5], [w - 0.5, -0.5], [w - 0.5, h - 0.5], [-0.5, h - 0.5]])
    rays = camera.rays(corners)
    rays = rays / rays[:, 2:3] * depth                      # camera frame, on the plane z = depth
    P = camera.camera_to_world_points(np.r_[np.zeros((1, 3)), rays])
    return P, np.array([[0, 1], [0, 2], [0, 3], [0, 4], [1, 2], [2, 3], [3, 4], [4, 1]])


class FitScene:
    """The viewport's VTK scene; `set_frame(frame_id)` moves the fitted objects, `render()` returns RGB."""

    def __init__(self, size=(800, 600)):
        import vtk

        self.window = vtk.vtkRenderWindow()
        self.window.SetOffScreenRendering(1)
        self.window.SetSize(*size)
        self.renderer = vtk.vtkRenderer()
        self.renderer.SetBackground(0.12, 0.12, 0.14)
        self.window.AddRenderer(self.renderer)
        self.camera = None                       # the calibrated walt3d Camera
        self.R_cw = np.eye(3)
        self.t_cw = np.zeros(3)
        self.by_frame: dict[int, list] = {}       # frame id -> [(TrackFit, DetectionFit)]
        self.actors: dict[int, object] = {}       # track id -> mesh actor
        self.markers: dict[int, object] = {}      # track id -> current-position marker
        self.frame_id: int | None = None
        self.through_camera = False
        self._backdrop = None
        self.selected: int | None = None          # track id highlighted (white edges)

    # ------------------------------------------------------------------------------ content
    def load(self, camera, fits, frame_of_detection: dict[int, int]) -> None:
        """Build the static scene and index the fits by frame (`fits` with their detections)."""
        self.renderer.RemoveAllViewProps()
        self.actors.clear()
        self.markers.clear()
        self.by_frame.clear()
        self.camera = camera
        R, t = camera.cam_to_world()
        self.R_cw, self.t_cw = np.asarray(R), np.asarray(t)
        ground = []
        for tf in fits:
            path = []
            for df in tf.detections:
                fid = frame_of_detection.get(df.detection_id)
                if fid is None or df.status == "skipped" or df.t is None:
                    continue
                self.by_frame.setdefault(fid, []).append((tf, df))
                path.append(self.R_cw @ np.asarray(df.t, float) + self.t_cw)
            if len(path) > 1:
                P = np.array(path)
                P[:, 2] = 0.02                                   # on the ground, just above the grid
                self.renderer.AddActor(_actor(_polydata(P, lines=np.c_[np.arange(len(P) - 1), np.arange(1, len(P))]),
                                              CLASS_COLOURS.get(tf.kind, (1, 1, 1)), width=2.0))
            ground += path
        centre = np.mean(ground, axis=0)[:2] if ground else np.zeros(2)
        extent = float(np.clip(np.max(np.linalg.norm(np.array(ground)[:, :2], axis=1)) * 1.2 if ground else 30.0,
                               10.0, 150.0))
        P, L = grid_lines(extent, 1.0, centre * 0)          # around the camera's foot: its useful range
        self.renderer.AddActor(_actor(_polydata(P, lines=L), GRID, opacity=0.6))
        P, L = frustum_lines(camera, depth=min(3.0, extent / 5))
        self.renderer.AddActor(_actor(_polydata(P, lines=L), (1.0, 1.0, 0.3), width=2.0))
        self.extent = extent
        self.centre = centre
        self.reset_view()

    def world_from_object(self, df) -> np.ndarray:
        """4x4 object -> world of a vehicle's pose in one frame."""
        T = np.eye(4)
        T[:3, :3] = self.R_cw @ np.asarray(df.R, float)
        T[:3, 3] = self.R_cw @ np.asarray(df.t, float) + self.t_cw
        return T

    def _vehicle_actor(self, tf):
        from ...reconstruct.vehicle_shape import mesh_for_alpha

        v, f = mesh_for_alpha(np.asarray(tf.shape.get("alpha", []), float))
        return _actor(_polydata(v, faces=f), CLASS_COLOURS["vehicle"])

    def set_frame(self, frame_id: int | None) -> None:
        """Show the fitted objects of one frame: vehicles move by their actor's transform, bodies are re-posed."""
        import vtk

        self.frame_id = frame_id
        here = {tf.track_id: (tf, df) for tf, df in self.by_frame.get(frame_id, [])}
        for tid, a in self.actors.items():
            a.SetVisibility(tid in here)
        for tid, m in self.markers.items():
            m.SetVisibility(tid in here)
        for tid, (tf, df) in here.items():
            a = self.actors.get(tid)
            if tf.kind == "vehicle" and df.R is not None:
                if a is None:
                    a = self.actors[tid] = self._vehicle_actor(tf)
                    self.renderer.AddActor(a)
                a.SetUserMatrix(_matrix(self.world_from_object(df)))
            else:
                from ...errors import Walt3DError
                from ...reconstruct.meshes import mesh_in_camera

                try:
                    v, f = mesh_in_camera(tf, df)
                except Walt3DError:  # an SMPL fit whose model file is not here: no mesh, the rest still shows
                    continue
                pd = _polydata(v @ self.R_cw.T + self.t_cw, faces=f)
                if a is None:
                    a = self.actors[tid] = _actor(pd, CLASS_COLOURS.get(tf.kind, (1, 1, 1)))
                    self.renderer.AddActor(a)
                else:
                    a.GetMapper().SetInputData(pd)
            iou = tf.quality.get("iou", tf.quality.get("silhouette_iou"))
            base = np.array(CLASS_COLOURS.get(tf.kind, (1, 1, 1)))
            q = 1.0 if iou is None else float(np.clip((iou - 0.3) / 0.6, 0, 1))
            a.GetProperty().SetColor(*(base * (0.45 + 0.55 * q)))   # darker = worse fit
            a.GetProperty().SetOpacity(0.5 if self.through_camera else 1.0)
            a.GetProperty().SetEdgeVisibility(tid == self.selected)   # the selected track's mesh stands out
            a.GetProperty().SetEdgeColor(1.0, 1.0, 1.0)
            mk = self.markers.get(tid)
            if mk is None:
                s = vtk.vtkSphereSource()
                s.SetRadius(0.25)
                s.Update()
                mk = self.markers[tid] = _actor(s.GetOutput(), (1, 1, 1))
                self.renderer.AddActor(mk)
            p = self.R_cw @ np.asarray(df.t, float) + self.t_cw
            mk.SetPosition(float(p[0]), float(p[1]), 0.05)

    def pick(self, x: float, y: float) -> int | None:
        """The track whose mesh is under image point (x, y) of the last render (top-left origin), if any."""
        import vtk

        h = self.window.GetSize()[1]
        picker = vtk.vtkPropPicker()
        if not picker.Pick(float(x), float(h - 1 - y), 0.0, self.renderer):
            return None
        actor = picker.GetActor()
        return next((tid for tid, a in self.actors.items() if a is actor and a.GetVisibility()), None)

    # ------------------------------------------------------------------------------ views
    def reset_view(self) -> None:
        c = self.renderer.GetActiveCamera()
        cx, cy = (float(v) for v in self.centre)
        e = self.extent
        c.SetFocalPoint(cx, cy, 0.0)
        c.SetPosition(cx - 0.35 * e, cy - 0.45 * e, 0.35 * e)  # over the objects, the grid fading behind
        c.SetViewUp(0, 0, 1)
        self.through_camera = False
        self._set_backdrop(None)
        self.renderer.ResetCameraClippingRange()

    def top_view(self) -> None:
        c = self.renderer.GetActiveCamera()
        cx, cy = (float(v) for v in self.centre)
        c.SetFocalPoint(cx, cy, 0.0)
        c.SetPosition(cx, cy, 2.2 * self.extent)
        c.SetViewUp(0, 1, 0)
        self.through_camera = False
        self._set_backdrop(None)
        self.renderer.ResetCameraClippingRange()

    def camera_view(self, backdrop: np.ndarray | None = None) -> None:
        """Through the calibrated camera: its pose and field of view, the frame as backdrop, meshes half-transparent.
        (Lens distortion is not applied to the meshes here; the frame view's overlay has it.)"""
        cam = self.camera
        w, h = cam.image_size
        self.window.SetSize(int(w), int(h))
        c = self.renderer.GetActiveCamera()
        centre = self.t_cw
        c.SetPosition(*centre)
        c.SetFocalPoint(*(centre + self.R_cw @ np.array([0, 0, 1.0])))
        c.SetViewUp(*(self.R_cw @ np.array([0, -1.0, 0])))
        fy = float(cam.K[1, 1])
        c.SetViewAngle(float(np.degrees(2 * np.arctan(h / 2 / fy))))
        cx, cy = float(cam.K[0, 2]), float(cam.K[1, 2])
        c.SetWindowCenter(-(cx - (w - 1) / 2) / (w / 2), (cy - (h - 1) / 2) / (h / 2))  # principal point offset
        self.through_camera = True
        self._set_backdrop(backdrop)
        self.set_frame(self.frame_id)
        c.SetClippingRange(0.1, 1000.0)

    def _set_backdrop(self, rgb) -> None:
        import vtk
        from vtkmodules.util.numpy_support import numpy_to_vtk

        if rgb is None:
            self.renderer.TexturedBackgroundOff()
            return
        img = vtk.vtkImageData()
        h, w = rgb.shape[:2]
        img.SetDimensions(w, h, 1)
        arr = numpy_to_vtk(np.ascontiguousarray(rgb[::-1]).reshape(-1, 3), deep=True)  # VTK rows go bottom-up
        img.GetPointData().SetScalars(arr)
        tex = vtk.vtkTexture()
        tex.SetInputData(img)
        self.renderer.SetBackgroundTexture(tex)
        self.renderer.TexturedBackgroundOn()

    def orbit(self, d_azimuth: float, d_elevation: float) -> None:
        c = self.renderer.GetActiveCamera()
        c.Azimuth(d_azimuth)
        c.Elevation(d_elevation)
        c.OrthogonalizeViewUp()
        self.renderer.ResetCameraClippingRange()

    def zoom(self, factor: float) -> None:
        self.renderer.GetActiveCamera().Dolly(factor)
        self.renderer.ResetCameraClippingRange()

    def render(self, size=None) -> np.ndarray:
        """The scene as an RGB (H, W, 3) uint8 image, top row first."""
        import vtk
        from vtkmodules.util.numpy_support import vtk_to_numpy

        if size is not None and not self.through_camera:
            self.window.SetSize(int(size[0]), int(size[1]))
        self.window.Render()
        f = vtk.vtkWindowToImageFilter()
        f.SetInput(self.window)
        f.ReadFrontBufferOff()
        f.Update()
        out = f.GetOutput()
        w, h, _ = out.GetDimensions()
        a = vtk_to_numpy(out.GetPointData().GetScalars()).reshape(h, w, -1)[::-1, :, :3]
        return np.ascontiguousarray(a)
