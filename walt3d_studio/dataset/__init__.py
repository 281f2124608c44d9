"""Datasets the program reads and writes (COCO keypoints, CarFusion, ...). Qt-free; import submodules directly."""
