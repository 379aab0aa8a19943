"""The `sentimon` command line (Typer). Each command wires settings to one flow or function."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from flows.settings import DEFAULT_TRAIN_CONFIG, Settings

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


def _fail(err: Exception, prefix: str = "[red]error:[/red]") -> typer.Exit:
    """Print an error as one line (its text never read as rich markup); the exit to raise."""
    from rich.markup import escape

    err_console.print(f"{prefix} {escape(str(err))}", soft_wrap=True)
    return typer.Exit(1)


def parse_map(value: str | None) -> dict[str, str] | None:
    """``"text=review,id=uid"`` -> ``{"text": "review", "id": "uid"}``."""
    if not value:
        return None
    pairs = [item.split("=", 1) for item in value.split(",") if item.strip()]
    if any(len(p) != 2 or not p[0].strip() or not p[1].strip() for p in pairs):
        raise typer.BadParameter("use ours=theirs pairs separated by commas, e.g. text=review")
    return {ours.strip(): theirs.strip() for ours, theirs in pairs}


def _warn(message: str) -> None:
    """A warning on stderr, unwrapped (the commands in it stay copyable)."""
    from rich.markup import escape

    err_console.print(f"[yellow]warning:[/yellow] {escape(message)}", soft_wrap=True)


@app.command()
def init() -> None:
    """Create or upgrade the results database to the latest schema (idempotent)."""
    from db.engine import make_engine, redact_url
    from db.migrate import current_revision
    from flows.runtime import prepare_database

    settings = Settings()
    engine = make_engine(settings.db_url)
    model_dir = prepare_database(engine, settings.data_dir)
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
    task_runner: Annotated[
        str,
        typer.Option(
            help="threads (default) or dask: a landing folder's files are scored in parallel "
            "on Dask workers (README: Scaling out)."
        ),
    ] = "threads",
    dask_address: Annotated[
        str | None,
        typer.Option(help="A Dask scheduler, tcp://HOST:8786 (default: a local cluster)."),
    ] = None,
    settle_seconds: Annotated[
        float | None,
        typer.Option(
            min=0,
            help="Leave a landing folder's files alone until unchanged this long (default 5; "
            "0 reads them now).",
        ),
    ] = None,
) -> None:
    """Ingest and score what the source holds now, in micro-batches, then exit."""
    from sqlalchemy.exc import DBAPIError

    from flows.ingest import ingest_and_score
    from flows.scaleout import make_task_runner
    from pipeline.errors import SentimonError

    if input_path is None and source is None:
        raise typer.BadParameter("give --input PATH_OR_URI or --source NAME")
    try:
        runner = make_task_runner(task_runner, dask_address)
        flow = (
            ingest_and_score
            if runner is None
            else ingest_and_score.with_options(task_runner=runner)
        )
        result = flow(
            input_path,
            source,
            batch_size,
            max_batches,
            column_map=parse_map(column_map),
            show_progress=sys.stderr.isatty(),
            partition_files=runner is not None,
            settle_seconds=settle_seconds,
        )
    except SentimonError as err:
        err_console.print(f"[red]error:[/red] {err}")
        raise typer.Exit(1) from err
    except DBAPIError as err:
        # err.orig only: the full message repeats the statement and its parameters.
        err_console.print(
            f"[red]error:[/red] the results database failed: {err.orig}. The failed batch was "
            "rolled back; run again to resume after the last committed batch."
        )
        raise typer.Exit(1) from err
    if "skipped" in result:
        err_console.print(f"[yellow]skipped:[/yellow] {result['skipped']}")
    console.print_json(data=result)
    if "warning" in result:
        _warn(result["warning"])


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
    model: Annotated[
        str | None,
        typer.Option(help="A registered version or a model directory (default: the active)."),
    ] = None,
) -> None:
    """Print one JSON line per text: label, probabilities, score and model version.

    The team lexicon (SENTIMON_LEXICON or `lexicon` in sentimon.toml) is read if set.
    """
    from flows.runtime import load_scoring_model, resolve_model, team_lexicon_path
    from pipeline.errors import SentimonError

    items = list(texts or [])
    if input_path:
        items.extend(_read_texts(input_path))
    if not items:
        raise typer.BadParameter("give texts as arguments or --input FILE|-")
    settings = Settings()
    try:
        scorer = load_scoring_model(resolve_model(model, settings), team_lexicon_path(settings))
    except SentimonError as err:
        raise _fail(err) from err
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
    brand: Annotated[
        list[str] | None, typer.Option("--brand", help="Only this brand (repeatable).")
    ] = None,
    since: Annotated[str | None, typer.Option(help="7d, 24h or a date (UTC)")] = None,
    until: Annotated[str | None, typer.Option(help="a date (UTC), exclusive")] = None,
    bucket: Annotated[str, typer.Option(help="hour or day buckets")] = "day",
    source: Annotated[str | None, typer.Option(help="One source (default: all)")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table, json, csv or md")] = "table",
    chart: Annotated[Path | None, typer.Option(help="Write a PNG chart here.")] = None,
    html: Annotated[Path | None, typer.Option(help="Write a self-contained HTML report.")] = None,
    min_volume: Annotated[int, typer.Option(min=1, help="Flag buckets below this.")] = 30,
) -> None:
    """Per-brand volume, labels, net sentiment, NSS, share of voice, alerts and top posts."""
    from flows.reporting import NoDatabaseError, make_report
    from pipeline.report import report_csv, report_json
    from pipeline.report_text import report_markdown, report_table

    if fmt not in ("table", "json", "csv", "md"):
        raise typer.BadParameter("--format is table, json, csv or md")
    if bucket not in ("hour", "day"):
        raise typer.BadParameter("--bucket is hour or day")
    try:
        built = make_report(
            Settings(), parse_when(since), parse_when(until), bucket, source, brand, min_volume
        )
    except NoDatabaseError as err:
        err_console.print(str(err))
        raise typer.Exit(1) from err
    if fmt == "json":
        sys.stdout.write(report_json(built.rows) + "\n")
    elif fmt == "csv":
        sys.stdout.write(report_csv(built.rows))
    elif fmt == "md":
        sys.stdout.write(report_markdown(built.rows, built.title, built.warnings))
    else:
        # Piped or captured output gets the table's natural width, not the 80-column default.
        out = console if console.is_terminal else Console(width=110)
        out.print(report_table(built.rows, built.title, built.warnings))
    if fmt in ("json", "csv"):  # stdout stays machine-readable
        for warning in built.warnings:
            _warn(warning)
    png = _write_chart(built, chart) if chart or html else None
    if html:
        from pipeline.html_report import render_html

        html.write_text(render_html(built.rows, built.title, png, built.warnings), encoding="utf-8")
        err_console.print(f"HTML report written to {html}")


def _write_chart(built: Any, path: Path | None) -> bytes:
    from pipeline.charts import render_chart

    png = render_chart(built.rows, built.title, built.bucket)
    if path:
        path.write_bytes(png)
        err_console.print(f"chart written to {path}")
    return png


def parse_when(value: str | None) -> datetime | None:
    """``7d`` / ``24h`` relative to now, or an ISO date; UTC."""
    from flows.reporting import parse_time

    try:
        return parse_time(value)
    except ValueError as err:
        raise typer.BadParameter(str(err)) from err


@app.command()
def train(
    data: Annotated[
        Path | None, typer.Option(help="A labelled CSV (default: bundled corpus).")
    ] = None,
    column_map: MapOption = None,
    labels: Annotated[
        str | None,
        typer.Option(
            "--labels",
            help="Label values -> classes: 'stars' (1-2 neg, 3 neu, 4-5 pos) or "
            "1=negative,3=neutral,5=positive. Default: neg/neu/pos spellings, -1/0/1, stars.",
        ),
    ] = None,
    config: Annotated[Path, typer.Option(help="Hyperparameters (TOML).")] = DEFAULT_TRAIN_CONFIG,
    out: Annotated[Path | None, typer.Option(help="Where the version directory goes.")] = None,
    activate: Annotated[
        bool | None,
        typer.Option(
            help="Make it the active model (default: yes when training from scratch, "
            "no with --base)."
        ),
    ] = None,
    limit: Annotated[int | None, typer.Option(help="Train on a sample (smoke runs).")] = None,
    generalisation: Annotated[
        bool,
        typer.Option(
            help="Also train without the airline tweets and on them only, testing each on "
            "the other side (about doubles the time); stored in metrics.json."
        ),
    ] = False,
    base: Annotated[
        str | None,
        typer.Option(
            help="Fine-tune this version (registered name or directory) on --data instead of "
            "training from scratch: same vocabulary, tokenizer and lexicon."
        ),
    ] = None,
    holdout: Annotated[
        float,
        typer.Option(
            help="With --base: share of the labels kept aside to measure the new version and "
            "its base on the same texts."
        ),
    ] = 0.3,
    fmt: Annotated[str, typer.Option("--format", help="text or json")] = "text",
) -> None:
    """Train an LSTM model version (the train-model flow), register it, activate it.

    With --base, fine-tune an existing version on a team's labels instead (the adapt-model
    flow); the new version is registered but not activated unless --activate.
    """
    from flows.training import train_flow
    from pipeline.corpus import parse_label_map
    from pipeline.errors import SentimonError

    if fmt not in ("text", "json"):
        raise typer.BadParameter("--format is text or json")
    try:
        if base is not None:
            _adapt(
                base,
                data,
                parse_map(column_map),
                parse_label_map(labels),
                out,
                holdout,
                bool(activate),
                fmt,
            )
            return
        summary = train_flow(
            data=str(data) if data else None,
            column_map=parse_map(column_map),
            label_map=parse_label_map(labels),
            config_path=str(config),
            out_root=str(out) if out else None,
            activate=activate is not False,
            limit=limit,
            generalisation=generalisation,
            show_progress=True,
        )
    except SentimonError as err:
        raise _fail(err, "training failed:") from err
    if fmt == "json":
        sys.stdout.write(json.dumps({"version": summary["version"], "metrics": summary}) + "\n")
        return
    console.print(
        f"model {summary['version']} in {summary['path']}: test accuracy "
        f"{summary['test_accuracy']:.3f}, macro-F1 {summary['test_macro_f1']:.3f}"
        + (" (active)" if summary["active"] else "")
    )


def _adapt(
    base: str,
    data: Path | None,
    column_map: dict[str, str] | None,
    label_map: dict[str, str] | None,
    out: Path | None,
    holdout: float,
    activate: bool,
    fmt: str,
) -> None:
    """`train --base`: fine-tune, register, print the holdout metrics beside the base's."""
    from flows.runtime import resolve_model
    from flows.training import adapt_flow
    from pipeline.corpus import load_corpus
    from pipeline.errors import CorpusError

    if data is None:
        raise CorpusError(
            "--base needs --data: the labelled CSV to fine-tune on (e.g. the file "
            "`sentimon label export` wrote, with its label column filled)"
        )
    if not data.is_file():
        raise CorpusError(f"labelled file {data} does not exist: check the path")
    settings = Settings()
    base_dir = resolve_model(base, settings)
    # Read once here, so that a wrong column or label is one line, not a failed flow run.
    load_corpus(data, column_map, label_map=label_map, skip_unlabelled=True)
    summary = adapt_flow(
        base_dir=str(base_dir),
        data=str(data),
        column_map=column_map,
        label_map=label_map,
        out_root=str(out) if out else None,
        holdout=holdout,
        activate=activate,
        show_progress=True,
    )
    if fmt == "json":
        sys.stdout.write(
            json.dumps({"version": summary["version"], "metrics": summary["metrics"]}) + "\n"
        )
        return
    held = summary["metrics"]
    rows = [("accuracy", "accuracy"), ("macro-F1", "macro_f1")]
    if "sign_accuracy" in held["adapted"]:
        rows += [("accuracy of the score's sign", "sign_accuracy"), ("ROC AUC", "auc")]
    console.print(
        f"on {held['adapted']['n']} held-out labels ({', '.join(held['adapted']['classes'])}):"
    )
    console.print(f"  {'':<30}{'base':>8}{'new':>8}")
    for title, key in rows:
        b, a = held["base"].get(key), held["adapted"].get(key)
        if b is None or a is None:
            continue
        console.print(f"  {title:<30}{b:>8.3f}{a:>8.3f}")
    console.print(
        f"model {summary['version']} (from {summary['base_version']}) in {summary['path']}"
        + (" (active)" if activate else ""),
        soft_wrap=True,
    )
    if not activate:
        console.print(
            f"next: `sentimon models activate {summary['version']}`, then `sentimon backfill` "
            "to re-score stored posts",
            soft_wrap=True,
        )
    else:
        console.print("next: `sentimon backfill` to re-score stored posts")


@app.command()
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
    from flows.evaluation import print_report, resolve_uci, uci_hint
    from flows.runtime import resolve_model
    from pipeline.errors import SentimonError
    from pipeline.evaluation import evaluate_version

    if fmt not in ("table", "json"):
        raise typer.BadParameter("--format is table or json")
    settings = Settings()
    uci_dir = resolve_uci(uci, settings)
    try:
        result = evaluate_version(resolve_model(model, settings), uci_dir)
    except SentimonError as err:
        err_console.print(f"evaluation failed: {err}")
        raise typer.Exit(1) from err
    hint = None if uci_dir else uci_hint(settings)
    if fmt == "json":
        sys.stdout.write(json.dumps(result, indent=2) + "\n")
        if hint:
            err_console.print(hint, soft_wrap=True, markup=False, highlight=False)
    else:
        print_report(result, console, hint)


@models_app.command("list")
def models_list() -> None:
    """The registered model versions; * marks the active one."""
    from db import repository
    from db.engine import make_engine
    from flows.runtime import prepare_database

    settings = Settings()
    engine = make_engine(settings.db_url)
    prepare_database(engine, settings.data_dir)
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

    settings = Settings()
    engine = make_engine(settings.db_url)
    prepare_database(engine, settings.data_dir)
    try:
        with engine.begin() as conn:
            repository.activate_model_version(conn, version)
    except repository.UnknownModelVersionError as err:
        err_console.print(f"{err}; `sentimon models list` shows the registered versions")
        raise typer.Exit(1) from err
    console.print(f"active model: {version}")


@label_app.command("export")
def label_export(
    n: Annotated[int, typer.Option("--n", min=1, help="How many posts.")] = 300,
    source: Annotated[str | None, typer.Option(help="Only this source.")] = None,
    brand: Annotated[str | None, typer.Option(help="Only posts mentioning this brand.")] = None,
    out: Annotated[Path | None, typer.Option(help="The CSV to write.")] = None,
) -> None:
    """Write the stored posts the active model is least sure of (spread over sources and
    brands, each text once) to a CSV whose empty `label` column a person fills in."""
    from flows.labelling import export_for_labelling
    from pipeline.errors import SentimonError

    try:
        export = export_for_labelling(Settings(), n, source, brand, out)
    except SentimonError as err:
        raise _fail(err) from err
    console.print(
        f"{export.rows} posts to label (model {export.model_version}) written to {export.path}",
        soft_wrap=True,
    )
    console.print(
        "fill the label column (negative, neutral or positive; leave a row empty to skip it), "
        f"then: sentimon train --base {export.model_version} --data {export.path} "
        "--map text=text,label=label",
        soft_wrap=True,
    )


@app.command()
def serve(
    report_cron: Annotated[
        str | None, typer.Option(help="When the brand report runs (default daily 06:00).")
    ] = None,
    train_cron: Annotated[
        str | None, typer.Option(help="When retraining runs, once resumed (default Sun 03:00).")
    ] = None,
    timezone: Annotated[str, typer.Option(help="Time zone of the cron schedules.")] = "UTC",
    limit: Annotated[
        int | None, typer.Option(min=1, help="At most this many flow runs at once.")
    ] = None,
) -> None:
    """Serve the flows as Prefect deployments with their schedules (needs `prefect server start`).

    ingest-and-score/SOURCE every `every_minutes` of sentimon.toml, brand-report/daily, and
    train-model/weekly (paused). Runs until interrupted.
    """
    from flows.config import load_config
    from flows.serve import build_deployments, check_server, serve_deployments
    from pipeline.errors import SentimonError

    try:
        check_server()
        deployments = build_deployments(
            load_config(Settings().config), report_cron, train_cron, timezone
        )
    except SentimonError as err:
        err_console.print(f"[red]error:[/red] {err}")
        raise typer.Exit(1) from err
    serve_deployments(deployments, limit)


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
