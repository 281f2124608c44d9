"""The 3D scene of the viewport, in VTK (no Qt here): the ground with a 1 m grid, the calibrated camera as a
frustum, every fitted object at the current frame (vehicles: the shape model's mesh at the track's α, moved by
an actor transform per frame; people: the posed body mesh) coloured by class, and each track's ground
trajectory with its current position marked.

Rendered offscreen into an RGB array (the back buffer read with GetPixelData): the dock shows that image, so the
same code runs on a desktop and headless (VTK_DEFAULT_OPENGL_WINDOW=vtkOSOpenGLRenderWindow, set by the dock when
there is no display). Coordinates are DESIGN's world frame (`Camera.world_to_cam`: z up, origin at the camera's foot).

Through the camera (`camera_view`): VTK renders with the calibrated K as an explicit projection matrix (pixel
centres at integer coordinates, like `camera.project`), into a window a little larger than the image when the
lens distorts, and the render is then warped into the camera's distorted pixels (`CameraWarp`), so meshes land
where `camera.project` puts them. A second pass in flat per-object colours gives each object's silhouette; its
edge is drawn against the object's mined mask with the IoU written beside it. The silhouettes agree with the
store's rasteriser (`reconstruct.silhouette.silhouette_mask`) to IoU >= 0.98 (tests/gui/test_viewport.py).
"""
from __future__ import annotations

import numpy as np

from .camera_view import CameraWarp, projection_matrix

# torch's native stack (triton, pulled in by torchvision.ops) segfaults when it is first imported after VTK has
# loaded its OpenGL libraries in the same process (seen with torch 2.14 + VTK 9.7): when torch is installed, load it
# before any VTK code runs, so a later in-process torch use (a keypoint model, a trained detector) stays safe.
try:
    import torchvision.ops  # noqa: F401
except ImportError:
    pass

CLASS_COLOURS = {"vehicle": (0.30, 0.65, 1.0), "person": (1.0, 0.60, 0.20)}
BACKGROUND = (0.12, 0.12, 0.14)
GROUND = (0.22, 0.22, 0.24)
# the grid is drawn opaque in a colour between grid and background: a translucent actor would send every frame
# through VTK's translucent pass (about 20 ms more per frame in software GL)
GRID = tuple(0.6 * g + 0.4 * b for g, b in zip((0.45, 0.45, 0.5), BACKGROUND))
MESH_AMBIENT = 0.35
MESH_ALPHA = 0.6                  # through the camera: how much of a pixel a mesh covers is the mesh's shade
MINED_EDGE = (255, 255, 255)      # the mined mask's outline in camera mode (RGB)


def iou_colour(iou: float | None) -> tuple[int, int, int]:
    """RGB of an IoU label: red below 0.5, amber below 0.7, green from 0.7 (grey when there is no mined mask)."""
    if iou is None:
        return (200, 200, 200)
    return (240, 70, 60) if iou < 0.5 else (255, 190, 40) if iou < 0.7 else (90, 220, 110)


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


def _actor(pd, colour, width=1.0, opacity=1.0, ambient=0.0):
    import vtk

    m = vtk.vtkPolyDataMapper()
    m.SetInputData(pd)
    a = vtk.vtkActor()
    a.SetMapper(m)
    a.GetProperty().SetColor(*colour)
    a.GetProperty().SetAmbient(ambient)   # meshes: a little ambient so faces turned from the light stay coloured
    a.GetProperty().SetDiffuse(1.0 - 0.5 * ambient)
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
        self.window.SetMultiSamples(0)   # 4x MSAA costs ~45 ms a frame in software GL (OSMesa)
        self.window.SetSize(*size)
        self.renderer = vtk.vtkRenderer()
        self.renderer.SetBackground(*BACKGROUND)
        self.window.AddRenderer(self.renderer)
        self._pixels = vtk.vtkUnsignedCharArray()
        self.camera = None                       # the calibrated walt3d Camera
        self.R_cw = np.eye(3)
        self.t_cw = np.zeros(3)
        self.by_frame: dict[int, list] = {}       # frame id -> [(TrackFit, DetectionFit)]
        self.fits: dict[int, object] = {}         # track id -> TrackFit
        self.track_frames: dict[int, list] = {}   # track id -> frame ids where it has a fitted pose
        self.actors: dict[int, object] = {}       # track id -> mesh actor
        self.markers: dict[int, object] = {}      # track id -> current-position marker
        self.paths: dict[int, object] = {}        # track id -> ground trajectory actor
        self.static: list = []                    # grid and frustum (hidden through the camera)
        self.here: dict[int, tuple] = {}          # track id -> (TrackFit, DetectionFit) shown at this frame
        self.frame_id: int | None = None
        self.through_camera = False
        self.backdrop: np.ndarray | None = None   # the frame behind the meshes through the camera
        self.warp: CameraWarp | None = None
        self.only: set[int] | None = None         # show just these tracks (the "needs review" filter)
        self.selected: int | None = None          # track id highlighted (white edges)
        self.mask_source = None                   # detection id -> bool (H, W) mined mask, or None
        self.silhouettes: dict[int, dict] = {}    # through the camera: track -> {box, mask, mined, iou} (in box)
        self.last_ids: np.ndarray | None = None   # through the camera: track index + 1 per pixel (0: none)
        self._order: list[int] = []               # track ids of the last per-object pass, by index - 1
        self.extent, self.centre = 30.0, np.zeros(2)
        self._moving = False                      # only the view changed since the frame was set (orbit, zoom)
        self._merged = None                       # the frame's meshes and markers as one actor, while moving
        self._merged_key = None
        self._merged_hides: list = []             # the actors the merged one stands for (hidden meanwhile)

    # ------------------------------------------------------------------------------ content
    def load(self, camera, fits, frame_of_detection: dict[int, int]) -> None:
        """Build the static scene and index the fits by frame (`fits` with their detections)."""
        self.renderer.RemoveAllViewProps()
        for d in (self.actors, self.markers, self.paths, self.by_frame, self.fits, self.here, self.track_frames):
            d.clear()
        self.static = []
        self._merged, self._merged_key, self._merged_hides, self._moving = None, None, [], False
        self.camera = camera
        self.warp = None
        R, t = camera.cam_to_world()
        self.R_cw, self.t_cw = np.asarray(R), np.asarray(t)
        ground = []
        for tf in fits:
            self.fits[tf.track_id] = tf
            path = []
            for df in tf.detections:
                fid = frame_of_detection.get(df.detection_id)
                pos = self.position_cam(df)
                if fid is None or df.status == "skipped" or pos is None:
                    continue
                self.by_frame.setdefault(fid, []).append((tf, df))
                path.append(self.R_cw @ pos + self.t_cw)
                self.track_frames.setdefault(tf.track_id, []).append(fid)
            if len(path) > 1:
                P = np.array(path)
                P[:, 2] = 0.02                                   # on the ground, just above the grid
                a = _actor(_polydata(P, lines=np.c_[np.arange(len(P) - 1), np.arange(1, len(P))]),
                           CLASS_COLOURS.get(tf.kind, (1, 1, 1)), width=2.0)
                self.paths[tf.track_id] = a
                self.renderer.AddActor(a)
            ground += path
        centre = np.mean(ground, axis=0)[:2] if ground else np.zeros(2)
        extent = float(np.clip(np.max(np.linalg.norm(np.array(ground)[:, :2], axis=1)) * 1.2 if ground else 30.0,
                               10.0, 150.0))
        P, L = grid_lines(extent, 1.0, centre * 0)          # around the camera's foot: its useful range
        self.static.append(_actor(_polydata(P, lines=L), GRID))
        P, L = frustum_lines(camera, depth=min(3.0, extent / 5))
        self.static.append(_actor(_polydata(P, lines=L), (1.0, 1.0, 0.3), width=2.0))
        for a in self.static:
            self.renderer.AddActor(a)
        self.extent = extent
        self.centre = centre
        self.reset_view()

    @staticmethod
    def position_cam(df) -> np.ndarray | None:
        """Where a fitted object is in one frame (camera frame): a vehicle's t, a body's SMPL translation."""
        if df.t is not None:
            return np.asarray(df.t, float)
        transl = (df.params or {}).get("transl")
        return None if transl is None else np.asarray(transl, float)

    def world_from_object(self, df) -> np.ndarray:
        """4x4 object -> world of a vehicle's pose in one frame."""
        T = np.eye(4)
        T[:3, :3] = self.R_cw @ np.asarray(df.R, float)
        T[:3, 3] = self.R_cw @ np.asarray(df.t, float) + self.t_cw
        return T

    def _vehicle_actor(self, tf):
        from ...reconstruct.vehicle_shape import mesh_for_alpha

        # the same model as reconstruct.meshes.mesh_in_camera: cars and buses/trucks have their own PCA models
        v, f = mesh_for_alpha(np.asarray(tf.shape.get("alpha", []), float), tf.shape.get("class", "car"))
        return _actor(_polydata(v, faces=f), CLASS_COLOURS["vehicle"], ambient=MESH_AMBIENT)

    def set_only(self, track_ids) -> None:
        """Show just these tracks (None: all), e.g. those whose fit needs review."""
        self.only = None if track_ids is None else {int(t) for t in track_ids}
        self.set_frame(self.frame_id)

    def shown(self, track_id: int) -> bool:
        return self.only is None or track_id in self.only

    def set_frame(self, frame_id: int | None) -> None:
        """Show the fitted objects of one frame: vehicles move by their actor's transform, bodies are re-posed."""
        import vtk

        self._unmerge()
        self._moving = False
        self.frame_id = frame_id
        here = {tf.track_id: (tf, df) for tf, df in self.by_frame.get(frame_id, []) if self.shown(tf.track_id)}
        self.here = here
        for tid, a in self.actors.items():
            a.SetVisibility(tid in here)
        for tid, m in self.markers.items():
            m.SetVisibility(tid in here and not self.through_camera)
        for tid, p in self.paths.items():
            p.SetVisibility(self.shown(tid) and not self.through_camera)
        for a in self.static:
            a.SetVisibility(not self.through_camera)
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
                    if a is not None:
                        a.SetVisibility(False)
                    continue
                pd = _polydata(v @ self.R_cw.T + self.t_cw, faces=f)
                if a is None:
                    a = self.actors[tid] = _actor(pd, CLASS_COLOURS.get(tf.kind, (1, 1, 1)), ambient=MESH_AMBIENT)
                    self.renderer.AddActor(a)
                else:
                    a.GetMapper().SetInputData(pd)
            colour = np.array(self.shade(tf))
            # the selected track's mesh stands out: white edges on a low-poly vehicle; a dense body mesh would turn
            # all white, so it is drawn lighter instead
            dense = a.GetMapper().GetInput().GetNumberOfPolys() > 1500
            if tid == self.selected and dense:
                colour = 0.45 * colour + 0.55
            a.GetProperty().SetColor(*colour)
            a.GetProperty().SetEdgeVisibility(tid == self.selected and not dense)
            a.GetProperty().SetEdgeColor(1.0, 1.0, 1.0)
            mk = self.markers.get(tid)
            if mk is None:
                s = vtk.vtkSphereSource()
                s.SetRadius(0.25 if tf.kind == "vehicle" else 0.1)
                s.Update()
                mk = self.markers[tid] = _actor(s.GetOutput(), (1, 1, 1), ambient=MESH_AMBIENT)
                mk.SetVisibility(not self.through_camera)
                self.renderer.AddActor(mk)
            p = self.R_cw @ self.position_cam(df) + self.t_cw
            mk.SetPosition(float(p[0]), float(p[1]), 0.05)

    @staticmethod
    def shade(tf) -> tuple:
        """The class colour, darker for a lower silhouette IoU (the fit's own quality)."""
        iou = tf.quality.get("iou", tf.quality.get("silhouette_iou"))
        base = np.array(CLASS_COLOURS.get(tf.kind, (1, 1, 1)))
        q = 1.0 if iou is None else float(np.clip((iou - 0.3) / 0.6, 0, 1))
        return tuple(base * (0.45 + 0.55 * q))

    def pick(self, x: float, y: float) -> int | None:
        """The track whose mesh is under image point (x, y) of the last render (top-left origin), if any."""
        import vtk

        if self.through_camera:  # the per-object pass of the last render says it exactly, distortion included
            ids = self.last_ids
            xi, yi = int(round(x)), int(round(y))
            if ids is None or not (0 <= yi < ids.shape[0] and 0 <= xi < ids.shape[1]) or ids[yi, xi] == 0:
                return None
            return self._order[int(ids[yi, xi]) - 1]
        self._unmerge()   # pick the tracks' own actors (the next orbit merges again, from its cache)
        h = self.window.GetSize()[1]
        picker = vtk.vtkPropPicker()
        if not picker.Pick(float(x), float(h - 1 - y), 0.0, self.renderer):
            return None
        actor = picker.GetActor()
        return next((tid for tid, a in self.actors.items() if a is actor and a.GetVisibility()), None)

    # ------------------------------------------------------------------------------ views
    def _leave_camera(self) -> None:
        c = self.renderer.GetActiveCamera()
        c.SetUseExplicitProjectionTransformMatrix(False)
        c.SetWindowCenter(0.0, 0.0)
        c.SetViewAngle(30.0)
        self.through_camera = False
        self.set_frame(self.frame_id)

    def reset_view(self) -> None:
        c = self.renderer.GetActiveCamera()
        cx, cy = (float(v) for v in self.centre)
        e = self.extent
        c.SetFocalPoint(cx, cy, 0.0)
        c.SetPosition(cx - 0.35 * e, cy - 0.45 * e, 0.35 * e)  # over the objects, the grid fading behind
        c.SetViewUp(0, 0, 1)
        self._leave_camera()
        self.renderer.ResetCameraClippingRange()

    def top_view(self) -> None:
        c = self.renderer.GetActiveCamera()
        cx, cy = (float(v) for v in self.centre)
        c.SetFocalPoint(cx, cy, 0.0)
        c.SetPosition(cx, cy, 2.2 * self.extent)
        c.SetViewUp(0, 1, 0)
        self._leave_camera()
        self.renderer.ResetCameraClippingRange()

    def frame_track(self, track_id: int) -> bool:
        """Orbit view centred on a track's mesh at this frame, close enough that it fills about half the view
        (keeps the viewing direction; leaves the camera view). False when the track has no mesh here."""
        self._unmerge()
        a = self.actors.get(track_id)
        if a is None or not a.GetVisibility():
            return False
        if self.through_camera:
            self._leave_camera()
        b = np.array(a.GetBounds(), float).reshape(3, 2)
        centre = b.mean(axis=1)
        radius = max(float(np.linalg.norm(b[:, 1] - b[:, 0])) / 2, 0.5)
        c = self.renderer.GetActiveCamera()
        d = np.array(c.GetDirectionOfProjection(), float)
        if d[2] > -0.2:  # looking level or up (e.g. from under the grid): look down on it instead
            d = np.array([0.45, 0.6, -0.65])
            d /= np.linalg.norm(d)
            c.SetViewUp(0, 0, 1)
        dist = radius / np.sin(np.radians(c.GetViewAngle()) / 2) * 1.3
        c.SetFocalPoint(*centre)
        c.SetPosition(*(centre - d * dist))
        c.OrthogonalizeViewUp()
        self.renderer.ResetCameraClippingRange()
        return True

    def camera_view(self, backdrop: np.ndarray | None = None) -> None:
        """Through the calibrated camera: its pose and intrinsics (lens distortion included, by warping the render),
        the frame as backdrop, meshes half-transparent, each object's silhouette edge against its mined mask."""
        if self.warp is None:
            self.warp = CameraWarp(self.camera)
        c = self.renderer.GetActiveCamera()
        centre = self.t_cw
        c.SetPosition(*centre)
        c.SetFocalPoint(*(centre + self.R_cw @ np.array([0, 0, 1.0])))
        c.SetViewUp(*(self.R_cw @ np.array([0, -1.0, 0])))
        self._project(self.warp)
        self.through_camera = True
        self.backdrop = None if backdrop is None else np.asarray(backdrop)[..., :3]
        self.set_frame(self.frame_id)

    def _project(self, g) -> None:
        """Render through the camera with geometry g (intrinsics, window size, offset)."""
        c = self.renderer.GetActiveCamera()
        c.SetExplicitProjectionTransformMatrix(_matrix(projection_matrix(g.K, g.size, g.offset)))
        c.SetUseExplicitProjectionTransformMatrix(True)

    def orbit(self, d_azimuth: float, d_elevation: float) -> None:
        c = self.renderer.GetActiveCamera()
        c.Azimuth(d_azimuth)
        c.Elevation(d_elevation)
        c.OrthogonalizeViewUp()
        self.renderer.ResetCameraClippingRange()
        self._moving = True

    def zoom(self, factor: float) -> None:
        self.renderer.GetActiveCamera().Dolly(factor)
        self.renderer.ResetCameraClippingRange()
        self._moving = True

    # While only the view moves (orbit, zoom) the frame's meshes and markers are drawn as one merged actor: in
    # software GL each actor costs about 0.4 ms a frame whatever its size, so 50 vehicles and their markers cost
    # 20 ms as actors and 2 ms merged. The merge (about 5 ms) is made once per frame shown; a frame change, a
    # pick or a selection goes back to the actors (which the merge leaves untouched).
    def _merge(self) -> None:
        from vtkmodules.util.numpy_support import numpy_to_vtk, vtk_to_numpy

        key = (self.frame_id, self.selected, None if self.only is None else frozenset(self.only))
        parts = [(a, None) for tid, a in self.actors.items() if a.GetVisibility() and tid != self.selected]
        parts += [(m, m.GetPosition()) for tid, m in self.markers.items() if m.GetVisibility()]
        if len(parts) < 4:
            return
        if self._merged is None or self._merged_key != key:
            P, F, C, n = [], [], [], 0
            for a, shift in parts:
                pd = a.GetMapper().GetInput()
                v = vtk_to_numpy(pd.GetPoints().GetData()).astype(float)
                f = vtk_to_numpy(pd.GetPolys().GetConnectivityArray()).reshape(-1, 3)
                M = a.GetUserMatrix()
                if M is not None:
                    T = np.array([[M.GetElement(i, j) for j in range(4)] for i in range(4)])
                    v = v @ T[:3, :3].T + T[:3, 3]
                if shift is not None:
                    v = v + np.asarray(shift)
                P.append(v)
                F.append(f + n)
                C.append(np.tile(np.round(np.array(a.GetProperty().GetColor()) * 255), (len(f), 1)))
                n += len(v)
            pd = _polydata(np.concatenate(P), faces=np.concatenate(F))
            pd.GetCellData().SetScalars(numpy_to_vtk(np.concatenate(C).astype(np.uint8), deep=True))
            if self._merged is None:
                self._merged = _actor(pd, (1, 1, 1), ambient=MESH_AMBIENT)
                m = self._merged.GetMapper()
                m.SetScalarModeToUseCellData()
                m.SetColorModeToDirectScalars()
                self.renderer.AddActor(self._merged)
            else:
                self._merged.GetMapper().SetInputData(pd)
            self._merged_key = key
        self._merged_hides = [a for a, _ in parts]
        for a in self._merged_hides:
            a.SetVisibility(False)
        self._merged.SetVisibility(True)

    def _unmerge(self) -> None:
        for a in self._merged_hides:
            a.SetVisibility(True)
        self._merged_hides = []
        if self._merged is not None:
            self._merged.SetVisibility(False)

    # ------------------------------------------------------------------------------ rendering
    def _read(self) -> np.ndarray:
        """The back buffer as RGB (H, W, 3) uint8, top row first (GetPixelData: no re-render, unlike
        vtkWindowToImageFilter)."""
        from vtkmodules.util.numpy_support import vtk_to_numpy

        w, h = self.window.GetSize()
        self.window.GetPixelData(0, 0, w - 1, h - 1, 0, self._pixels, 0)
        return vtk_to_numpy(self._pixels).reshape(h, w, 3)[::-1]

    def render(self, size=None) -> np.ndarray:
        """The scene as an RGB (H, W, 3) uint8 image, top row first (through the camera: the camera's image size,
        whatever `size` says)."""
        if self.through_camera:
            return self._render_camera()
        if size is not None:
            self.window.SetSize(int(size[0]), int(size[1]))
        if self._moving and not self._merged_hides:
            self._merge()
        self.window.Render()
        return np.ascontiguousarray(self._read())

    def _render_camera(self) -> np.ndarray:
        import cv2

        g = self.warp.shade
        self._project(g)
        self.window.SetSize(*g.size)
        self.window.Render()
        shaded = g.warp(np.ascontiguousarray(self._read()))
        self._project(self.warp)
        self.window.SetSize(*self.warp.size)
        ids = self.warp.warp(self._id_pass(), nearest=True)
        w, h = self.warp.image_size
        back = self.backdrop
        if back is None or back.shape[:2] != (h, w):
            back = np.full((h, w, 3), 60, np.uint8)
        back = np.ascontiguousarray(back, dtype=np.uint8)
        blend = cv2.addWeighted(back, 1 - MESH_ALPHA, shaded, MESH_ALPHA, 0)
        out = np.where((ids > 0)[..., None], blend, back)
        self.last_ids = ids
        self.silhouettes = {}
        labels = []
        from scipy.ndimage import find_objects

        from ...reconstruct.silhouette import mask_iou

        for k, box in enumerate(find_objects(ids, max_label=len(self._order)), 1):
            if box is None:
                continue
            tid = self._order[k - 1]
            tf, df = self.here[tid]
            mined = self.mask_source(df.detection_id) if self.mask_source is not None else None
            if mined is not None and mined.shape != ids.shape:
                mined = None
            (y0, y1), (x0, x1) = (box[0].start, box[0].stop), (box[1].start, box[1].stop)
            if mined is not None and mined.any():  # the region both masks lie in: every count below stays in it
                mx, my, mw, mh = cv2.boundingRect(mined.astype(np.uint8))
                y0, y1, x0, x1 = min(y0, my), max(y1, my + mh), min(x0, mx), max(x1, mx + mw)
            m = ids[y0:y1, x0:x1] == k
            mm = None if mined is None else mined[y0:y1, x0:x1]
            iou = None if mm is None else mask_iou(m, mm)
            if mm is not None:
                cs, _ = cv2.findContours(mm.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
                cv2.drawContours(out, cs, -1, MINED_EDGE, 1, cv2.LINE_AA, offset=(x0, y0))
            cs, _ = cv2.findContours(m.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
            edge = tuple(int(255 * v) for v in CLASS_COLOURS.get(tf.kind, (1, 1, 1)))
            cv2.drawContours(out, cs, -1, edge, 3 if tid == self.selected else 2, cv2.LINE_AA, offset=(x0, y0))
            self.silhouettes[tid] = {"box": (y0, y1, x0, x1), "mask": m, "mined": mm, "iou": iou}
            labels.append((f"IoU {iou:.2f}" if iou is not None else "no mask", (int(x0), int(y0) - 5),
                           iou_colour(iou)))
        size = 0.4 if w < 800 else 0.5   # small frames are shown enlarged: smaller letters
        for text, (x, y), colour in labels:  # on top of every edge
            y = max(y, 12)
            cv2.putText(out, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, size, (0, 0, 0), 3, cv2.LINE_AA)
            cv2.putText(out, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, size, colour, 1, cv2.LINE_AA)
        return out

    def silhouette(self, track_id: int) -> np.ndarray | None:
        """The track's silhouette in the last render through the camera, as a bool mask of the whole image."""
        sil = self.silhouettes.get(track_id)
        if sil is None:
            return None
        w, h = self.warp.image_size
        full = np.zeros((h, w), bool)
        y0, y1, x0, x1 = sil["box"]
        full[y0:y1, x0:x1] = sil["mask"]
        return full

    def _id_pass(self) -> np.ndarray:
        """Render every shown mesh opaque, unlit, in a flat colour that encodes its index: (H, W) uint8 (uint16 from
        256 objects; at most 65535), 0 = none."""
        self._order = [tid for tid, a in self.actors.items() if a.GetVisibility()][:65535]
        saved = []
        for k, tid in enumerate(self._order, 1):
            p = self.actors[tid].GetProperty()
            saved.append((p.GetColor(), p.GetEdgeVisibility(), p.GetLighting(), p.GetAmbient(), p.GetDiffuse()))
            p.SetColor((k & 255) / 255.0, ((k >> 8) & 255) / 255.0, ((k >> 16) & 255) / 255.0)
            p.SetEdgeVisibility(False)
            p.LightingOff()       # unlit, the fragment is ambient * colour + diffuse * colour: exactly the colour
            p.SetAmbient(0.0)
            p.SetDiffuse(1.0)
        bg = self.renderer.GetBackground()
        self.renderer.SetBackground(0, 0, 0)
        try:
            self.window.Render()
            rgb = self._read()
        finally:
            self.renderer.SetBackground(*bg)
            for tid, (colour, edges, lit, ambient, diffuse) in zip(self._order, saved):
                p = self.actors[tid].GetProperty()
                p.SetColor(*colour)
                p.SetEdgeVisibility(edges)
                p.SetLighting(lit)
                p.SetAmbient(ambient)
                p.SetDiffuse(diffuse)
        if len(self._order) < 256:
            return np.ascontiguousarray(rgb[..., 0])
        return np.ascontiguousarray(rgb[..., 0].astype(np.uint16) | (rgb[..., 1].astype(np.uint16) << 8))
