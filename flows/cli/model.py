"""`sentimon evaluate` and `models list|activate`: judging and choosing model versions."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from flows.cli.app import app, console, err_console, models_app
from flows.cli.errors import handle_errors
from flows.runtime.settings import load_settings


@app.command()
@handle_errors()
def evaluate(
    model: Annotated[
        str | None,
        typer.Option(help="A registered version or a model directory (default: the active)."),
    ] = None,
    uci: Annotated[
        Path | None,
        typer.Option(
            help="The UCI sentences: a folder with amazon.json, imdb.json and yelp.json, or the "
            "npm package sentiment@5.0.2 unpacked (default: $SENTIMON_DATA_DIR/uci if present)."
        ),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table",
) -> None:
    """The model beside VADER and TextBlob on its test split (overall, by topic, by length)
    and on the UCI sentences (Amazon, IMDb, Yelp) when they are found."""
    if fmt not in ("table", "json"):  # before the imports below (Prefect, torch: ~4 s)
        raise typer.BadParameter("--format is table or json")
    from flows.evaluation import print_report, resolve_uci, uci_hint
    from flows.runtime.model_dirs import resolve_model
    from pipeline.training.evaluation import evaluate_version

    settings = load_settings()
    uci_dir = resolve_uci(uci, settings)
    result = evaluate_version(resolve_model(model, settings), uci_dir)
    hint = None if uci_dir else uci_hint(settings)
    if fmt == "json":
        sys.stdout.write(json.dumps(result, indent=2) + "\n")
        if hint:
            err_console.print(hint, soft_wrap=True, markup=False, highlight=False)
    else:
        print_report(result, console, hint)


@models_app.command("list")
@handle_errors()
def models_list() -> None:
    """The registered model versions; * marks the active one."""
    from db import repository
    from flows.runtime.results_db import open_results
    from flows.runtime.settings import model_dir_of

    settings = load_settings()
    engine = open_results(settings)  # before process's imports (torch): a quick answer
    from flows.runtime.model_dirs import prepare_database

    prepare_database(engine, settings.data_dir)
    with engine.connect() as conn:
        for row in repository.list_model_versions(conn):
            mark = "*" if row.active else " "
            # One line per version, however narrow the terminal: the list is grepped.
            line = f"{mark} {row.version}  {_quality(row.metrics or {})}  {row.path}"
            if not (model_dir_of(row.path, settings.data_dir) / "manifest.json").is_file():
                line += "  (directory missing)"
            console.print(line, soft_wrap=True, markup=False)


def _quality(metrics: dict[str, Any]) -> str:
    """A version's macro-F1, with what it was measured on: the corpus's test split, or for an
    adapted version the team's labels kept aside, beside its base version's on the same texts
    (the two are not comparable with each other)."""

    def f1(block: dict[str, Any]) -> str:
        value = block.get("macro_f1")
        return f"{value:.3f}" if isinstance(value, float) else "-"

    holdout = metrics.get("holdout")
    if isinstance(holdout, dict) and "adapted" in holdout:
        base = metrics.get("adaptation", {}).get("base_version", "base")
        n = holdout["adapted"].get("n", "?")
        return (
            f"macro-F1 {f1(holdout['adapted'])} on {n} held-out team labels "
            f"({base}: {f1(holdout.get('base', {}))})"
        )
    return f"test macro-F1 {f1(metrics.get('test', {}))}"


@models_app.command("activate")
@handle_errors()
def models_activate(version: str) -> None:
    """Make VERSION the model that new batches are scored with."""
    from db import repository
    from flows.runtime.results_db import open_results

    settings = load_settings()
    engine = open_results(settings)  # before process's imports (torch): a quick answer
    from flows.runtime.model_dirs import prepare_database
    from flows.runtime.settings import model_dir_of
    from pipeline.errors import ArtifactError

    prepare_database(engine, settings.data_dir)
    with engine.begin() as conn:
        row = repository.get_model_version(conn, version)
        model_dir = model_dir_of(row.path, settings.data_dir)
        if not (model_dir / "manifest.json").is_file():
            # Activated, it would fail every run and backfill until another one is.
            raise ArtifactError(
                f"model version {version}'s directory {model_dir} is missing or incomplete: "
                "restore it, or activate another version (`sentimon models list`)"
            )
        repository.activate_model_version(conn, version)
    console.print(f"active model: {version}")
    # Reports show the labels of the active model: until a backfill, stored posts have none.
    console.print(
        "new batches are scored with it; `sentimon backfill` re-scores the posts stored "
        "already, which reports show only once it has scored them",
        soft_wrap=True,
    )
