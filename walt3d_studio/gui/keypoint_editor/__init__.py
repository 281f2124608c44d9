"""The vehicle keypoint editor (issue 4): label the keypoints of mined vehicles one at a time.

`install_keypoint_editor(window)` adds it to a MainWindow: a dock (canvas, car diagram, keypoint list, queue
filters, status line), the Keypoints menu (open the editor, train / predict as jobs, COCO export / import)
and undo through `window.undo_stack`. Modules: `editor` (the dock and its edits), `canvas` (the zoomed crop
and the markers), `diagram` (the schematic car), `commands` (undoable edits), `frame_overlay` (the vehicle on
the main frame view), `style` (colours), `controller` (the wiring).
"""
from .controller import KeypointEditorController, install_keypoint_editor, latest_model

__all__ = ["KeypointEditorController", "install_keypoint_editor", "latest_model"]
