"""Training shared by segmenters and by labelers that train (classifiers, self-training):
the seeded ``Trainer``, the losses and the device/AMP helpers."""
