"""Training: corpus loading, splits, the training loop, evaluation, baselines, labelling."""
