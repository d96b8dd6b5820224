"""Stage 6, training: FLOPs, memory per device, step time and the training layout search."""
