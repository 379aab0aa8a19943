"""Composition root: Prefect flows, the `sentimon` CLI and settings wiring.

The only layer that imports prefect, and where engines, the spaCy pipeline and the model are
created (once per process) and passed down to pipeline/ and db/.
"""
