"""The desktop shell (PySide6 + pyqtgraph). Everything Qt lives in this package and nowhere else.

Modules: `app` (entry point), `main_window` (menus, project, wiring), `frame_view` (the image and its
overlays), `timeline` (scrubber, playback, navigation keys), `jobs` (long work off the UI thread),
`calibration_tool` (drawing lines for vanishing-point calibration), `errors` (showing `Walt3DError`).
"""

