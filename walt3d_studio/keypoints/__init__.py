"""Keypoints: schemas (vehicle-12, person COCO-17), PCK, and the heatmap keypoint model (torch, lazily).

Qt-free. `schema` and `metrics` are light; `model` and `train` import torch when used.
"""
from ..keypoint_schema import JointLayout, KeypointSchema, builtin_schemas, joint_layout, load_schema, schema_for_category

__all__ = ["JointLayout", "KeypointSchema", "builtin_schemas", "joint_layout", "load_schema",
           "schema_for_category"]
