"""The `sentimon` command line (Typer). Each command wires settings to one flow or function."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from flows.settings import DEFAULT_TRAIN_CONFIG, Settings

app = typer.Typer(help="sentimon: sentiment monitoring for brand reputation.", no_args_is_help=True)
models_app = typer.Typer(help="List and activate model versions.", no_args_is_help=True)
app.add_typer(models_app, name="models")
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


@app.command()
def init() -> None:
    """Create or upgrade the results database to the latest schema (idempotent)."""
    from db.engine import make_engine, redact_url
    from db.migrate import current_revision
    from flows.runtime import prepare_database

    settings = Settings()
    engine = make_engine(settings.db_url)
    model_dir = prepare_database(engine)
    console.print(f"database {redact_url(settings.db_url)} at revision {current_revision(engine)}")
    console.print(f"active model: {model_dir}")


@app.command()
def run(
    input_path: Annotated[
        str | None,
        typer.Option(
            "--input",
            help="A CSV/JSONL/Parquet file or landing folder, or a sqlite://, postgresql:// "
            "or redis:// URL (see README).",
        ),
    ] = None,
    source: Annotated[
        str | None,
        typer.Option(help="A source of sentimon.toml, or the name of an --input."),
    ] = None,
    batch_size: Annotated[int | None, typer.Option(min=1)] = None,
    max_batches: Annotated[int | None, typer.Option(min=1)] = None,
    column_map: MapOption = None,
) -> None:
    """Ingest and score what the source holds now, in micro-batches, then exit."""
    from flows.ingest import ingest_and_score
    from pipeline.errors import SentimonError

    if input_path is None and source is None:
        raise typer.BadParameter("give --input PATH_OR_URI or --source NAME")
    try:
        result = ingest_and_score(
            input_path,
            source,
            batch_size,
            max_batches,
            column_map=parse_map(column_map),
            show_progress=sys.stderr.isatty(),
        )
    except SentimonError as err:
        err_console.print(f"[red]error:[/red] {err}")
        raise typer.Exit(1) from err
    if "skipped" in result:
        err_console.print(f"[yellow]skipped:[/yellow] {result['skipped']}")
    console.print_json(data=result)


@app.command()
def backfill(
    since: Annotated[str | None, typer.Option(help="7d, 24h or a date (UTC), inclusive")] = None,
    until: Annotated[str | None, typer.Option(help="a date (UTC), exclusive")] = None,
    model: Annotated[
        str | None, typer.Option(help="A registered model version (default: the active one).")
    ] = None,
    chunk_size: Annotated[int, typer.Option(min=1)] = 2000,
) -> None:
    """Re-score stored posts of a period with a model version and refresh its aggregates."""
    from db import repository
    from flows.backfill import backfill as backfill_flow

    try:
        result = backfill_flow(parse_when(since), parse_when(until), model, chunk_size)
    except repository.UnknownModelVersionError as err:
        err_console.print(f"{err}; `sentimon models list` shows the registered versions")
        raise typer.Exit(1) from err
    console.print_json(data=result)


@app.command()
def score(
    texts: Annotated[list[str] | None, typer.Argument(help="Texts to score.")] = None,
    input_path: Annotated[
        str | None,
        typer.Option("--input", help="Plain text (a line each), .jsonl, or - for stdin."),
    ] = None,
    model: Annotated[Path | None, typer.Option(help="A model version directory.")] = None,
) -> None:
    """Print one JSON line per text: label, probabilities, score and model version."""
    from flows.runtime import resolve_model_dir
    from pipeline.artifacts import load_scorer

    items = list(texts or [])
    if input_path:
        items.extend(_read_texts(input_path))
    if not items:
        raise typer.BadParameter("give texts as arguments or --input FILE|-")
    scorer = load_scorer(model or resolve_model_dir(Settings()))
    for pred in scorer.score_texts(items):
        sys.stdout.write(
            json.dumps(
                {
                    "label": pred.label,
                    "p_negative": round(pred.p_negative, 6),
                    "p_neutral": round(pred.p_neutral, 6),
                    "p_positive": round(pred.p_positive, 6),
                    "score": round(pred.score, 6),
                    "model_version": pred.model_version,
                }
            )
            + "\n"
        )


def _read_texts(input_path: str) -> list[str]:
    if input_path == "-":
        lines = sys.stdin.read().splitlines()
        is_jsonl = False
    else:
        path = Path(input_path)
        lines = path.read_text(encoding="utf-8").splitlines()
        is_jsonl = path.suffix == ".jsonl"
    if not is_jsonl:
        return [line for line in lines if line.strip()]
    texts = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            texts.append(str(json.loads(line)["text"]))
        except (json.JSONDecodeError, KeyError, TypeError) as err:
            raise typer.BadParameter(
                f"{input_path} line {n}: needs a JSON object with text"
            ) from err
    return texts


@app.command()
def report(
    fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table",
    since: Annotated[str | None, typer.Option(help="7d, 24h or a date (UTC)")] = None,
    until: Annotated[str | None, typer.Option(help="a date (UTC)")] = None,
) -> None:
    """Per-brand volume, label counts and net sentiment for the active model version."""
    from db import repository
    from db.engine import make_engine
    from db.migrate import current_revision
    from pipeline.report import report_json, report_table

    if fmt not in ("table", "json"):
        raise typer.BadParameter("--format is table or json")
    settings = Settings()
    engine = make_engine(settings.db_url)
    if current_revision(engine) is None:
        err_console.print("no results database yet: run `sentimon init` or `sentimon demo`")
        raise typer.Exit(1)
    with engine.connect() as conn:
        active = repository.active_model_version(conn)
        rows = (
            repository.brand_report(conn, active.version, parse_when(since), parse_when(until))
            if active
            else []
        )
    if fmt == "json":
        sys.stdout.write(report_json(rows) + "\n")
    else:
        version = active.version if active else "none"
        console.print(report_table(rows, title=f"Brand sentiment (model {version})"))


def parse_when(value: str | None) -> datetime | None:
    """``7d`` / ``24h`` relative to now, or an ISO date; UTC."""
    if not value:
        return None
    units = {"d": "days", "h": "hours"}
    if value[-1:] in units and value[:-1].isdigit():
        return datetime.now(UTC) - timedelta(**{units[value[-1]]: int(value[:-1])})
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as err:
        raise typer.BadParameter(f"{value!r}: use 7d, 24h or a date like 2026-11-01") from err
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@app.command()
def train(
    data: Annotated[
        Path | None, typer.Option(help="A labelled CSV (default: bundled corpus).")
    ] = None,
    column_map: MapOption = None,
    config: Annotated[Path, typer.Option(help="Hyperparameters (TOML).")] = DEFAULT_TRAIN_CONFIG,
    out: Annotated[Path | None, typer.Option(help="Where the version directory goes.")] = None,
    activate: Annotated[bool, typer.Option(help="Make it the active model.")] = True,
    limit: Annotated[int | None, typer.Option(help="Train on a sample (smoke runs).")] = None,
) -> None:
    """Train an LSTM model version, register it, and (by default) activate it."""
    from db import repository
    from db.engine import make_engine
    from flows.runtime import prepare_database
    from flows.training import train_with_progress
    from pipeline.artifacts import read_manifest

    settings = Settings()
    model_dir = train_with_progress(
        out or settings.models_dir, config, data, parse_map(column_map), limit, console
    )
    info = read_manifest(model_dir)
    engine = make_engine(settings.db_url)
    prepare_database(engine)
    with engine.begin() as conn:
        repository.register_model_version(
            conn, info.version, str(info.path), info.sha256, info.metrics, activate=activate
        )
    test = info.metrics.get("test", {})
    console.print(
        f"model {info.version} in {model_dir}: test accuracy {test.get('accuracy', 0):.3f}, "
        f"macro-F1 {test.get('macro_f1', 0):.3f}" + (" (active)" if activate else "")
    )


@models_app.command("list")
def models_list() -> None:
    """The registered model versions; * marks the active one."""
    from db import repository
    from db.engine import make_engine
    from flows.runtime import prepare_database

    engine = make_engine(Settings().db_url)
    prepare_database(engine)
    with engine.connect() as conn:
        for row in repository.list_model_versions(conn):
            f1 = (row.metrics or {}).get("test", {}).get("macro_f1")
            mark = "*" if row.active else " "
            f1_text = f"{f1:.3f}" if isinstance(f1, float) else "-"
            console.print(f"{mark} {row.version}  test macro-F1 {f1_text}  {row.path}")


@models_app.command("activate")
def models_activate(version: str) -> None:
    """Make VERSION the model that new batches are scored with."""
    from db import repository
    from db.engine import make_engine
    from flows.runtime import prepare_database

    engine = make_engine(Settings().db_url)
    prepare_database(engine)
    try:
        with engine.begin() as conn:
            repository.activate_model_version(conn, version)
    except repository.UnknownModelVersionError as err:
        err_console.print(f"{err}; `sentimon models list` shows the registered versions")
        raise typer.Exit(1) from err
    console.print(f"active model: {version}")


@app.command()
def demo(
    batch_size: Annotated[int, typer.Option(min=1)] = 500,
    days: Annotated[int, typer.Option(min=1)] = 30,
    limit: Annotated[int | None, typer.Option(help="Replay only the first N posts.")] = None,
) -> None:
    """Replay the corpus's test split as a 30-day stream, score it, print the brand report."""
    from flows.demo import run_demo

    settings = Settings()
    landing = run_demo(settings, batch_size=batch_size, days=days, limit=limit, console=console)
    console.print(f"landing folder: {landing}")
    report(fmt="table", since=None, until=None)


if __name__ == "__main__":
    app()
