"""Training and evaluation on exported amodal datasets: torchvision Mask R-CNN with amodal box and mask heads
and a keypoint head (12 vehicle + 17 person keypoints in one 29-slot layout), run as a job with checkpoints and
resume; evaluation of AP box / AP mask and PCK per occlusion level (paper §5–6). Qt-free; torch imported lazily."""
