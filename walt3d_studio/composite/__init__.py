"""WALT3D compositing: splits, sampling non-intersecting objects, far-to-near pasting onto the median
background, and the pseudo-groundtruth (amodal/visible masks and boxes, keypoints, depth, normals, instances)."""
