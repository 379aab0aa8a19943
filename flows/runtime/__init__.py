"""Prefect-free process wiring: settings, config, sources, the lease, the batch step, the pool."""
