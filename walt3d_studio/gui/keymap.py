"""Every key of the app in one table: (panel, key, action, description).

The menus and shortcuts take their keys from here (`bind(action, id)`), the Help > Keyboard shortcuts sheet
lists this table, and `python -m walt3d_studio.gui.keymap --readme` writes the README's "Keys" section from it,
so the three never disagree. Adding a key is one `Key(...)` entry below plus `bind(action, "its.id")` where the
QAction is made. Entries with `bound=False` are documented only (mouse gestures, or keys a panel handles itself,
e.g. Ctrl+Z inside a tool, which goes through the window's Undo action).

Keys are written as QKeySequence's portable strings ("Ctrl+Shift+Z", "PgDown"); this module imports Qt only
inside the functions that need it, so the README generator runs without a display.
"""
from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Key:
    id: str                  # the action's id, e.g. "review.label.U"
    panel: str               # where the key works (one sheet section per panel)
    keys: tuple[str, ...]    # key sequences (first one is shown), or mouse gestures when bound=False
    action: str              # short name (menu text without the &)
    description: str         # what it does, one line
    bound: bool = True       # False: documented only (no QAction carries it)


GENERAL, VIEW, TIMELINE, REVIEW, BRUSH, CALIB, KEYPOINTS, COMPOSITES, VIEWPORT = (
    "Everywhere", "Frame view", "Timeline", "Occlusion review", "Static-occluder brush", "Calibrate by lines",
    "Keypoint editor", "Composites", "3D viewport")
PANELS = (GENERAL, VIEW, TIMELINE, REVIEW, BRUSH, CALIB, KEYPOINTS, COMPOSITES, VIEWPORT)

KEYS: tuple[Key, ...] = (
    # -- everywhere
    Key("file.new", GENERAL, ("Ctrl+N",), "New project", "Create a project folder (NAME.walt3d)"),
    Key("file.open", GENERAL, ("Ctrl+O",), "Open project", "Open a project for labelling (takes its lock)"),
    Key("file.quit", GENERAL, ("Ctrl+Q",), "Quit", "Close the window; every edit is already on disk"),
    Key("edit.undo", GENERAL, ("Ctrl+Z",), "Undo",
        "Undo the last edit and go back to its frame (inside a tool: its last stroke)"),
    Key("edit.redo", GENERAL, ("Ctrl+Shift+Z", "Ctrl+Y"), "Redo", "Redo the edit undone last"),
    Key("help.keys", GENERAL, ("?", "F1"), "Keyboard shortcuts", "Show this sheet"),
    Key("jobs.panel", GENERAL, ("Ctrl+J",), "Jobs", "Show the jobs: progress, time, log, Cancel"),
    Key("file.export_dataset", GENERAL, ("Ctrl+E",), "Export dataset", "Export the composites as a dataset"),
    Key("keypoints.open", GENERAL, ("Ctrl+Shift+K",), "Open keypoint editor",
        "Label keypoints of mined vehicles, one at a time"),
    # -- frame view
    Key("view.fit", VIEW, ("F",), "Fit frame", "Show the whole frame"),
    Key("view.frame_selected", VIEW, ("Z",), "Frame selected object", "Zoom to the selected object"),
    Key("view.follow", VIEW, ("Shift+Z",), "Follow selected object",
        "Keep the selected object framed while stepping through frames (on/off)"),
    Key("view.overlays", VIEW, ("G",), "Horizon and ground grid", "Show the horizon and a 1 m ground grid"),
    Key("view.background", VIEW, ("B",), "Show background", "Show the median background of this frame's window"),
    Key("view.fits", VIEW, ("M",), "3D fits on the frame",
        "Draw each fitted object: vehicles' wireframe and 3D box, people's outline and skeleton"),
    Key("view.mouse.zoom", VIEW, ("Wheel",), "Zoom", "Zoom about the cursor", bound=False),
    Key("view.mouse.pan", VIEW, ("Drag",), "Pan", "Move the frame (when no tool is active)", bound=False),
    # -- timeline
    Key("go.play", TIMELINE, ("K",), "Play / pause", "Play the frames at capture speed"),
    Key("go.next", TIMELINE, ("Right",), "Next frame", "One frame forward"),
    Key("go.prev", TIMELINE, ("Left",), "Previous frame", "One frame back"),
    Key("go.forward", TIMELINE, ("PgDown",), "Forward 1 s", "One second of capture time forward"),
    Key("go.back", TIMELINE, ("PgUp",), "Back 1 s", "One second of capture time back"),
    Key("go.first", TIMELINE, ("Home",), "First frame", "Go to the first frame"),
    Key("go.last", TIMELINE, ("End",), "Last frame", "Go to the last frame"),
    # -- occlusion review
    Key("review.label.U", REVIEW, ("U",), "Label object unoccluded",
        "Label the selected object (or every selected track) unoccluded"),
    Key("review.label.O", REVIEW, ("O",), "Label object occluded",
        "Label the selected object (or every selected track) occluded"),
    Key("review.label.X", REVIEW, ("X",), "Label object not an object / wrong class",
        "Label the selected object (or every selected track) not an object"),
    Key("review.track.U", REVIEW, ("Shift+U",), "Label whole track unoccluded",
        "Every detection of the selected track(s), one undo step"),
    Key("review.track.O", REVIEW, ("Shift+O",), "Label whole track occluded",
        "Every detection of the selected track(s), one undo step"),
    Key("review.track.X", REVIEW, ("Shift+X",), "Label whole track not an object / wrong class",
        "Every detection of the selected track(s), one undo step"),
    Key("review.fit.accept", REVIEW, ("W",), "Accept track's fit", "Accept the selected track's 3D fit (undoable)"),
    Key("review.fit.reject", REVIEW, ("Shift+W",), "Reject track's fit",
        "Reject the selected track's 3D fit (undoable)"),
    Key("review.next", REVIEW, ("Space",), "Next unreviewed", "Go to the next detection without a label"),
    Key("review.select_all", REVIEW, ("Ctrl+A",), "Select all tracks shown",
        "Select every track the filters show (then U / O / X labels them all)"),
    Key("review.mouse.multi", REVIEW, ("Shift+Click", "Ctrl+Click"), "Select several tracks",
        "In the tracks table: a range, or one more track", bound=False),
    Key("review.mouse.pick", REVIEW, ("Click",), "Select object", "Click an object on the frame", bound=False),
    # -- static-occluder brush
    Key("brush.mouse.paint", BRUSH, ("Drag",), "Paint", "Paint the mask with the brush", bound=False),
    Key("brush.mouse.erase", BRUSH, ("Shift+Drag",), "Erase", "Erase with the brush", bound=False),
    Key("brush.undo", BRUSH, ("Ctrl+Z", "Ctrl+Shift+Z"), "Undo / redo a stroke",
        "Strokes undo one by one while the brush is open; Save is one step of the window's undo", bound=False),
    Key("tool.leave", BRUSH, ("Escape",), "Leave the tool",
        "Close the brush or the calibration tool (asks when there is unsaved work)"),
    Key("calib.mouse.draw", CALIB, ("Drag", "Click twice"), "Draw a line", "Draw the highlighted line",
        bound=False),
    Key("calib.leave", CALIB, ("Escape",), "Leave the tool", "Close the tool (asks when lines would be lost)",
        bound=False),
    Key("calib.undo", CALIB, ("Ctrl+Z", "Ctrl+Shift+Z"), "Undo / redo a line",
        "Lines undo one by one while the tool is open", bound=False),
    # -- keypoint editor (keys work while focus is in the editor)
    Key("kp.mouse.place", KEYPOINTS, ("Click",), "Place keypoint", "Place the current keypoint", bound=False),
    Key("kp.mouse.move", KEYPOINTS, ("Drag",), "Move keypoint", "Drag a placed point", bound=False),
    Key("kp.skip", KEYPOINTS, ("Tab",), "Skip", "The current keypoint is absent; go to the next"),
    Key("kp.back", KEYPOINTS, ("Shift+Tab",), "Back", "Step back to the previous keypoint"),
    Key("kp.visible", KEYPOINTS, ("1",), "Visible",
        "Selected point visible (an absent one: placed at the cursor, or click to place it)"),
    Key("kp.occluded", KEYPOINTS, ("2",), "Occluded", "Selected point labelled but occluded"),
    Key("kp.absent", KEYPOINTS, ("3",), "Absent", "Selected point absent"),
    Key("kp.cycle", KEYPOINTS, ("V",), "Cycle state", "Visible → occluded → absent"),
    Key("kp.swap", KEYPOINTS, ("F",), "Swap L/R", "Swap left and right keypoints"),
    Key("kp.accept", KEYPOINTS, ("Return", "Enter"), "Accept", "Accept the proposal"),
    Key("kp.copy_next", KEYPOINTS, ("C",), "Copy to next frame",
        "Copy this vehicle's points to the next frame of its track (moved with its box) as a proposal"),
    Key("kp.clear", KEYPOINTS, ("Delete", "Backspace"), "Clear", "Clear this vehicle's keypoints"),
    Key("kp.next", KEYPOINTS, ("N",), "Next", "Next vehicle without keypoints"),
    Key("kp.prev", KEYPOINTS, ("P",), "Prev", "Previous vehicle"),
    Key("kp.fit", KEYPOINTS, ("R",), "Zoom", "Zoom back to the vehicle"),
    Key("kp.full", KEYPOINTS, ("Ctrl+F",), "Full frame", "Show this vehicle's frame in the main view"),
    Key("kp.deselect", KEYPOINTS, ("Escape",), "Deselect", "Deselect the selected point"),
    # -- composites review (keys work while the picture has focus)
    Key("comp.step", COMPOSITES, ("Left", "Right"), "Previous / next composite", "Browse the composites",
        bound=False),
    Key("comp.reject_object", COMPOSITES, ("R",), "Reject object", "Reject the object under the cursor (undoable)",
        bound=False),
    Key("comp.reject", COMPOSITES, ("Shift+R",), "Reject composite", "Reject the composite shown (undoable)",
        bound=False),
    # -- 3D viewport (keys work while the render has focus: click it)
    Key("vp.mouse.orbit", VIEWPORT, ("Drag",), "Orbit", "Turn the view about its centre", bound=False),
    Key("vp.mouse.zoom", VIEWPORT, ("Wheel",), "Zoom", "Move the view nearer or farther", bound=False),
    Key("vp.mouse.pick", VIEWPORT, ("Click",), "Select track", "Select the track whose mesh is clicked",
        bound=False),
    Key("vp.frame", VIEWPORT, ("F",), "Frame selected mesh", "Centre the view on the selected track's mesh",
        bound=False),
    Key("vp.next", VIEWPORT, ("Space",), "Next fit to review",
        "Select the next fit that needs review and go to its first frame (W / Shift+W accept / reject it)",
        bound=False),
)

BY_ID = {k.id: k for k in KEYS}
README_BEGIN = "<!-- keys:begin (generated by `python -m walt3d_studio.gui.keymap --readme`; do not edit) -->"
README_END = "<!-- keys:end -->"


def entry(key_id: str) -> Key:
    try:
        return BY_ID[key_id]
    except KeyError:
        raise KeyError(f"{key_id!r} is not in walt3d_studio.gui.keymap.KEYS: add an entry there") from None


def sequences(key_id: str) -> list:
    """The QKeySequences of a bound entry."""
    from PySide6.QtGui import QKeySequence

    return [QKeySequence(s) for s in entry(key_id).keys]


def native(key_id: str) -> str:
    """The first key as the platform writes it (for tooltips and hints)."""
    from PySide6.QtGui import QKeySequence

    k = entry(key_id).keys[0]
    return QKeySequence(k).toString(QKeySequence.NativeText) or k


def bind(action, key_id: str, tooltip: bool = True):
    """Give a QAction its keys from the table (menus then show them) and a tooltip that names the key."""
    k = entry(key_id)
    if k.bound:
        action.setShortcuts(sequences(key_id))
    action.setProperty("keymap_id", key_id)
    if tooltip:
        action.setToolTip(f"{k.description} ({native(key_id)})")
        if not action.statusTip():
            action.setStatusTip(k.description)
    return action


def by_panel() -> list[tuple[str, list[Key]]]:
    return [(p, [k for k in KEYS if k.panel == p]) for p in PANELS]


def _keys_text(k: Key) -> str:
    return " / ".join(k.keys)


def sheet_html() -> str:
    """The Help sheet: one table per panel."""
    from html import escape

    parts = []
    for panel, keys in by_panel():
        rows = "".join(f"<tr><td width='24%'><b>{escape(_keys_text(k))}</b></td>"
                       f"<td width='28%'>{escape(k.action)}</td>"
                       f"<td>{escape(k.description)}</td></tr>" for k in keys)
        parts.append(f"<h3>{escape(panel)}</h3><table width='100%' cellspacing='0' cellpadding='2'>{rows}</table>")
    return "".join(parts)


def readme_section() -> str:
    """The README's Keys section (Markdown), between the markers."""
    lines = [README_BEGIN, ""]
    for panel, keys in by_panel():
        lines += [f"**{panel}**", "", "| Key | Action | What it does |", "| --- | --- | --- |"]
        lines += ["| " + " | ".join((_keys_text(k), k.action, k.description)) + " |" for k in keys]
        lines.append("")
    lines.append(README_END)
    return "\n".join(lines)


def update_readme(path: Path) -> bool:
    """Write the Keys section into README (between the markers, else appended under '## Keys'). True if changed."""
    text = path.read_text(encoding="utf-8")
    section = readme_section()
    pattern = re.compile(re.escape(README_BEGIN) + r".*?" + re.escape(README_END), re.S)
    if pattern.search(text):
        new = pattern.sub(lambda _: section, text)
    else:
        new = text.rstrip("\n") + "\n\n## Keys\n\nThe same sheet as Help > Keyboard shortcuts (`?`).\n\n" + \
            section + "\n"
    if new == text:
        return False
    from ..atomic import write_text

    write_text(path, new)
    return True


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m walt3d_studio.gui.keymap",
                                 description="Print the key table, or write it into the README.")
    ap.add_argument("--readme", nargs="?", const=str(Path(__file__).resolve().parents[2] / "README.md"),
                    metavar="PATH", help="rewrite the Keys section of README.md (default: the repository's)")
    args = ap.parse_args(argv)
    if args.readme:
        changed = update_readme(Path(args.readme))
        print(f"{args.readme}: {'updated' if changed else 'already up to date'}")
    else:
        print(readme_section())
    return 0


if __name__ == "__main__":
    sys.exit(main())
