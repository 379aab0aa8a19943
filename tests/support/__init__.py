"""Helpers the tests share: a live Prefect server, scale-out data."""
