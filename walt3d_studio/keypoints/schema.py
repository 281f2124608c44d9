"""Keypoint schemas now live in `walt3d_studio.keypoint_schema` (the base layer, so that `store/` never imports the
keypoints stage). This name stays, as the very same module object, for plug-ins and older code."""
import sys

from .. import keypoint_schema as _schema

sys.modules[__name__] = _schema
