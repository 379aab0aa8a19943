"""The named choices of the LSTM's configuration, apart from the torch module that reads them:
training configs are checked against them without importing torch (pipeline/training/config.py)."""

POOLINGS = ("maxmean", "max", "mean")
PRIOR_MODES = ("logits", "polarity")
