"""3D fits in the review: the tracks table's fit columns, each fitted object drawn over the frame (vehicles:
mesh wireframe + 3D box; people: silhouette outline + COCO-17 skeleton), and accept / reject of a track's fit
(W / Shift+W), one undoable command each.

What is drawn comes from the Qt-free `reconstruct.overlay` on the mesh `reconstruct.meshes.mesh_in_camera`
returns, through the calibrated camera's own projection: the same shape and lines the fitter scored. Colour
says the review state at a glance: green accepted, red rejected, amber needs review, cyan ok.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPen, QPolygonF, QUndoCommand

from ...errors import Walt3DError
from ..errors import show_error

FITS_Z = 13  # above the masks (12), below boxes and ids (14)
STATE_COLOURS = {"accept": (90, 220, 110), "reject": (240, 70, 60), "needs_review": (255, 190, 40),
                 "ok": (60, 210, 255)}
_CACHE = 64  # frames whose drawing is kept (scrubbing back and forth does not recompute meshes)


def fit_drawing(camera, track_fit, det_fit, skeleton=()) -> dict:
    """Qt-free: the pixel geometry of one fitted object {lines (S,2,2), thick (B,2,2), polylines [..]}."""
    from ...reconstruct import overlay as ov
    from ...reconstruct.meshes import mesh_in_camera

    if det_fit.R is None and track_fit.kind == "vehicle":
        return {"lines": np.zeros((0, 2, 2)), "thick": np.zeros((0, 2, 2)), "polylines": []}
    v, f = mesh_in_camera(track_fit, det_fit)
    if track_fit.kind == "vehicle":
        from ...reconstruct.vehicle_shape import mesh_for_alpha

        v_obj, _ = mesh_for_alpha(np.asarray(track_fit.shape.get("alpha", []), float))
        return {"lines": ov.wireframe_segments(camera, v, f),
                "thick": ov.box_segments(camera, v_obj, det_fit.R, det_fit.t), "polylines": []}
    from ...reconstruct.bodies import coco17_keypoints

    kp = coco17_keypoints(det_fit.params, track_fit.shape)
    return {"lines": np.zeros((0, 2, 2)), "thick": ov.skeleton_segments(camera, kp, skeleton),
            "polylines": ov.outline_polylines(camera, v, f)}


class FitsItem(pg.GraphicsObject):
    """Every fitted object of the frame shown, painted in one pass with cosmetic pens."""

    def __init__(self):
        super().__init__()
        self.items: list[dict] = []  # lines, thick, polylines, colour, selected
        self.size = (0, 0)

    def set_items(self, items: list[dict], size) -> None:
        self.prepareGeometryChange()
        self.items, self.size = items, size
        self.update()

    def boundingRect(self) -> QRectF:
        w, h = self.size
        return QRectF(-0.5, -0.5, max(w, 1), max(h, 1))

    def paint(self, p, *args) -> None:
        p.setRenderHint(p.RenderHint.Antialiasing, True)
        p.setBrush(Qt.NoBrush)
        for it in self.items:
            c = QColor(*it["colour"])
            for segs, width, alpha in ((it["lines"], 1.0, 150), (it["thick"], 2.5 if it["selected"] else 2.0, 255)):
                if len(segs) == 0:
                    continue
                c.setAlpha(alpha)
                pen = QPen(c, width)
                pen.setCosmetic(True)
                p.setPen(pen)
                p.drawLines([QPointF(float(a), float(b)) for a, b in segs.reshape(-1, 2)])
            c.setAlpha(255)
            pen = QPen(c, 2.0)
            pen.setCosmetic(True)
            p.setPen(pen)
            for poly in it["polylines"]:
                p.drawPolygon(QPolygonF([QPointF(float(x), float(y)) for x, y in poly]))


class FitReviewCommand(QUndoCommand):
    """Accept / reject a track's fit (a human label, `store.fits.set_fit_review`); undo restores the verdict
    before and goes back to the frame where it was given."""

    def __init__(self, fits, track_id: int, value: str | None, place):
        word = {"accept": "accepted", "reject": "rejected", None: "review cleared"}[value]
        super().__init__(f"Fit of track {track_id} {word}")
        self.fits, self.track_id, self.value, self.place = fits, track_id, value, place
        self.project = fits.rc.window.project
        self.old: str | None = None
        self._done = False

    def _set(self, value, jump: bool) -> None:
        from ...store.fits import set_fit_review

        try:
            old = set_fit_review(self.project, self.track_id, value, "user")
        except Walt3DError as e:
            show_error(self.fits.rc.window, e)
            return
        if not self._done:
            self.old, self._done = old, True
        self.fits.edited(self.track_id, self.place, jump)

    def redo(self) -> None:
        self._set(self.value, jump=self._done)

    def undo(self) -> None:
        self._set(self.old, jump=True)


class FitReview:
    """Fit columns, the fit overlay and the accept / reject keys, wired into the ReviewController."""

    def __init__(self, rc):
        from ...keypoint_schema import load_schema

        self.rc = rc
        w = rc.window
        self.item = FitsItem()
        w.frame_view.add_item(self.item, FITS_Z)
        self.skeleton = load_schema("person17").skeleton
        self._camera = None
        self._cache: dict[int, list] = {}
        self.summaries: dict[int, dict] = {}
        self.act_show = rc._action("3D &fits on the frame", self.set_visible, "view.fits", checkable=True,
                                   checked=True)
        self.act_accept = rc._action("&Accept track's fit", lambda: self.review("accept"), "review.fit.accept")
        self.act_reject = rc._action("Re&ject track's fit", lambda: self.review("reject"), "review.fit.reject")
        menus = {m.title(): m for m in (a.menu() for a in w.menuBar().actions()) if m is not None}
        if "&View" in menus:
            menus["&View"].addAction(self.act_show)
        review = getattr(rc, "review_menu", None)
        if review is not None:
            review.addSeparator()
            review.addActions([self.act_accept, self.act_reject])

    # ------------------------------------------------------------------------------ data
    def reload(self) -> None:
        """Re-read the camera's fits (after a camera change, a fit job, or opening a project)."""
        from ...store.fits import fit_summaries

        rc = self.rc
        self._cache.clear()
        self._camera = None
        self.summaries = {}
        if rc.project is not None and rc.camera_id is not None:
            self.summaries = fit_summaries(rc.project, rc.camera_id)
            try:
                self._camera = rc.project.calibration(rc.camera_id)
            except Walt3DError:
                self._camera = None
        rc.panel.model.set_fits(self.summaries)
        self.update_actions()

    def update_actions(self) -> None:
        w = self.rc.window
        ok = bool(self.summaries) and not w.jobs.busy and not (w.project is not None and w.project.readonly)
        locked = w.lock_reason(self.rc.camera_id) if hasattr(w, "lock_reason") else None  # a fit job writes it
        for a in (self.act_accept, self.act_reject):
            a.setEnabled(ok and not locked)
            a.setToolTip(f"Locked: {locked}" if locked else a.text().replace("&", ""))

    def describe(self, track_id: int) -> str:
        """One line about a track's fit for the review panel: method, quality, state and why ('' if unfitted)."""
        s = self.summaries.get(track_id)
        if s is None:
            return ""
        bits = [s["method"]]
        if s["reproj_px"] == s["reproj_px"]:  # not NaN
            bits.append(f"reprojection {s['reproj_px']:.1f} px")
        if s["iou"] == s["iou"]:
            bits.append(f"IoU {s['iou']:.2f}")
        if s.get("height_m") is not None:
            bits.append(f"height {s['height_m']:.2f} m" + (f" ({s['height_flag']})" if s.get("height_flag") else ""))
        state = {"accept": "accepted by you", "reject": "rejected by you"}.get(s["review"]) or \
            s["status"].replace("_", " ")
        why = f": {s['reason']}" if s.get("reason") and not s["review"] else ""
        return f"3D fit ({s['kind']}): {', '.join(bits)}; <b>{state}</b>{why}."

    def state(self, track_id: int) -> str | None:
        s = self.summaries.get(track_id)
        return None if s is None else (s["review"] or s["status"])

    # ------------------------------------------------------------------------------ drawing
    def set_visible(self, on: bool) -> None:
        self.item.setVisible(on)
        if on:
            self.draw()

    def draw(self) -> None:
        rc = self.rc
        if not self.item.isVisible() or self._camera is None or not self.summaries or rc.position < 0 \
                or rc.position >= len(rc._frame_ids):
            self.item.set_items([], (0, 0))
            return
        fid = int(rc._frame_ids[rc.position])
        geo = self._cache.get(fid)
        if geo is None:
            from ...store.fits import fits_for_frame

            geo = []
            for tf, df in fits_for_frame(rc.project, fid):
                if df.status == "skipped":
                    continue
                try:
                    g = fit_drawing(self._camera, tf, df, self.skeleton)
                except Walt3DError:  # e.g. an SMPL fit whose model file is not on this machine
                    continue
                geo.append((tf.track_id, g))
            if len(self._cache) > _CACHE:
                self._cache.clear()
            self._cache[fid] = geo
        items = [dict(g, colour=STATE_COLOURS.get(self.state(tid), STATE_COLOURS["ok"]),
                      selected=tid == rc.track_id, track_id=tid) for tid, g in geo]
        items.sort(key=lambda it: it["selected"])
        self.item.set_items(items, rc._size or self._camera.image_size)

    # ------------------------------------------------------------------------------ accept / reject
    def review(self, value: str) -> bool:
        from ..tools import blocked_by_tool

        rc = self.rc
        if blocked_by_tool(rc.window):
            return False
        if rc.track_id is None:
            rc.status("No track selected: pick one in the review panel or click an object.")
            return False
        locked = rc.window.lock_reason(rc.camera_id) if hasattr(rc.window, "lock_reason") else None
        if locked:
            rc.status(f"Camera locked: {locked}", 8000)
            return False
        if rc.track_id not in self.summaries:
            rc.status(f"Track {rc.track_id} has no 3D fit: Reconstruct > Fit vehicles / Fit people in 3D.")
            return False
        if self.summaries[rc.track_id]["review"] == value:
            rc.status(f"No change: the fit of track {rc.track_id} is {value}ed already.", 2500)
            return False
        return rc._push(FitReviewCommand(self, rc.track_id, value, rc.place()))

    def edited(self, track_id: int, place, jump: bool) -> None:
        """After a verdict (or its undo): refresh that track's column and colour; undo/redo go back to its frame."""
        from ...store.fits import fit_summaries

        rc, w = self.rc, self.rc.window
        if jump and place.camera_id is not None and place.camera_id != w.camera_id:
            w.select_camera(place.camera_id)
        fresh = fit_summaries(rc.project, track_ids=[track_id]) if rc.project is not None else {}
        self.summaries.update(fresh)
        rc.panel.model.set_fits(fresh, replace=False)
        w.context.notify_store_changed("fit_reviews", place.camera_id)  # e.g. the 3D view's "needs review" filter
        if jump:
            rc.track_id, rc.detection_id = place.track_id, place.detection_id
            if place.camera_id == rc.camera_id and place.position != w.timeline.position:
                w.timeline.set_position(place.position)
                return
        rc._show_frame(w.timeline.position)
