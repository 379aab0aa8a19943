"""`sentimon demo`: replay the corpus's test split as a stream, score it, print the report."""

from __future__ import annotations

from typing import Annotated

import typer

from flows.cli.app import app, console
from flows.cli.errors import handle_errors, interruptible, running_flow
from flows.cli.report import report
from flows.runtime.settings import load_settings


@app.command()
@handle_errors()
def demo(
    batch_size: Annotated[int, typer.Option(min=1)] = 500,
    days: Annotated[int, typer.Option(min=1)] = 30,
    limit: Annotated[int | None, typer.Option(help="Replay only the first N posts.")] = None,
) -> None:
    """Replay the corpus's test split as a 30-day stream, score it, print the brand report."""
    from flows.demo import run_demo

    settings = load_settings()
    with (
        interruptible("the batches committed before it are kept; `sentimon demo` again resumes"),
        running_flow(),
    ):
        landing = run_demo(settings, batch_size=batch_size, days=days, limit=limit, console=console)
    console.print(f"landing folder: {landing}")
    report(fmt="table", since=None, until=None)
