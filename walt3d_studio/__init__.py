"""WALT3D Studio: realistic, automatically labelled occlusion training data from stationary time-lapse."""

__version__ = "0.1.0"
