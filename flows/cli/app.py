"""The Typer application, its command groups and the consoles the commands print to."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.console import Console

app = typer.Typer(help="sentimon: sentiment monitoring for brand reputation.", no_args_is_help=True)
models_app = typer.Typer(help="List and activate model versions.", no_args_is_help=True)
app.add_typer(models_app, name="models")
label_app = typer.Typer(
    help="Posts for a person to label, to adapt the model.", no_args_is_help=True
)
app.add_typer(label_app, name="label")
console = Console()
err_console = Console(stderr=True)

MapOption = Annotated[
    str | None,
    typer.Option(
        "--map", help="Column names of a foreign layout: text=review,created_at=date,id=uid"
    ),
]


def parse_map(value: str | None) -> dict[str, str] | None:
    """``"text=review,id=uid"`` -> ``{"text": "review", "id": "uid"}``."""
    if not value:
        return None
    pairs = [item.split("=", 1) for item in value.split(",") if item.strip()]
    if any(len(p) != 2 or not p[0].strip() or not p[1].strip() for p in pairs):
        raise typer.BadParameter("use ours=theirs pairs separated by commas, e.g. text=review")
    return {ours.strip(): theirs.strip() for ours, theirs in pairs}


def warn(message: str) -> None:
    """A warning on stderr, unwrapped (the commands in it stay copyable)."""
    from rich.markup import escape

    err_console.print(f"[yellow]warning:[/yellow] {escape(message)}", soft_wrap=True)


def parse_when(value: str | None) -> datetime | None:
    """``7d`` / ``24h`` relative to now, or an ISO date; UTC."""
    from flows.runtime.reporting import parse_time

    try:
        return parse_time(value)
    except ValueError as err:
        raise typer.BadParameter(str(err)) from err
