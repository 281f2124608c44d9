"""3D reconstruction of mined objects on the camera's ground plane: vehicles (PCA keypoint shape model fitted
with EPnP and track-level optimisation) and people (SMPL-layout bodies). Qt-free; results go to store/fits.py."""
