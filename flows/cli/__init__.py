"""The `sentimon` command line (Typer). Each command wires settings to one flow or function.

One module per command group: run.py (init, run, backfill, score), sources.py, rejects.py,
report.py, train.py, model.py (evaluate, models), label.py, serve.py and demo.py; errors.py
turns the error catalogue into messages. Importing this package registers every command on ``app``.
"""

# Import order is the order of `sentimon --help`.
from flows.cli import run, sources, rejects, report, train, model, label, serve, demo  # noqa: I001
from flows.cli.app import app, main, parse_map, parse_when

__all__ = [
    "app",
    "demo",
    "label",
    "main",
    "model",
    "parse_map",
    "parse_when",
    "rejects",
    "report",
    "run",
    "serve",
    "sources",
    "train",
]
