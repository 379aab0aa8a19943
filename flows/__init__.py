"""Composition root: Prefect flows and deployments, `sentimon serve` and the `sentimon` CLI.

The only layer that imports prefect. flows/runtime/ holds the Prefect-free process wiring:
engines, the spaCy pipeline and the model are created there (once per process) and passed down
to pipeline/ and db/.
"""
