"""`sentimon init`, `run`, `backfill` and `score`: the data path."""

from __future__ import annotations

import difflib
import json
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer

from flows.cli.app import (
    INGEST_FIELDS,
    MapOption,
    app,
    console,
    err_console,
    parse_map,
    parse_when,
    warn,
)
from flows.cli.errors import handle_errors, interruptible, running_flow
from flows.runtime.settings import load_settings

if TYPE_CHECKING:
    from flows.runtime.config import SourceConfig
    from flows.runtime.settings import Settings


@app.command()
@handle_errors()
def init() -> None:
    """Create or upgrade the results database to the latest schema (idempotent)."""
    from db.engine import make_engine, redact_url
    from db.migrate import current_revision
    from flows.runtime.model_dirs import prepare_database
    from flows.runtime.preflight import check_database
    from pipeline.errors import DatabaseUnavailableError
    from pipeline.model.manifest import read_manifest

    settings = load_settings()
    check_database(settings.db_url)  # as `run` does: one line for a file or server it cannot use
    try:
        engine = make_engine(settings.db_url)  # makes a SQLite file's folder
    except OSError as err:  # a file system that refuses it though it looks writable (/proc)
        raise DatabaseUnavailableError(
            f"the results database's folder cannot be created ({err}): point SENTIMON_DATA_DIR "
            "or SENTIMON_DATABASE_URL elsewhere"
        ) from None
    model_dir = prepare_database(engine, settings.data_dir)
    # Unwrapped, however narrow the terminal: a URL or path broken mid-word cannot be copied.
    console.print(
        f"database {redact_url(settings.db_url)} at revision {current_revision(engine)}",
        soft_wrap=True,
        markup=False,
    )
    # The version's name, as `models list`, `score` and the reports show it.
    console.print(
        f"active model: {read_manifest(Path(model_dir)).version} ({model_dir})",
        soft_wrap=True,
        markup=False,
    )


CREATED_AT_FORMS = (
    "created_at accepts: ISO 8601 (2026-11-25T12:00:00Z, 2026-11-25, 20261125), RFC 2822 "
    "(Wed, 25 Nov 2026 12:00:00 +0000) or epoch seconds (1795545240, 1795545240.5: 9 digits or "
    "more, as a number or a string). Naive times are UTC; a missing one means now; a bare small "
    "number (3, 12) is not a time and the record is rejected."
)


@app.command(epilog=CREATED_AT_FORMS)
@handle_errors()
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
    batch_size: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Records per micro-batch, each committed in one transaction (default 500, "
            "or batch_size of the source in sentimon.toml).",
        ),
    ] = None,
    max_batches: Annotated[
        int | None,
        typer.Option(
            min=1, help="Stop after this many batches (default: read all the source holds)."
        ),
    ] = None,
    column_map: MapOption = None,
    task_runner: Annotated[
        str,
        typer.Option(
            help="threads (default) or dask: a landing folder's files are scored in parallel "
            "on Dask workers (docs/operations.md, Scaling out)."
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
    encoding: Annotated[
        str | None,
        typer.Option(
            help="The encoding of CSV and JSONL files that are not UTF-8, e.g. cp1252, "
            "latin-1, shift_jis (default UTF-8).",
        ),
    ] = None,
    reread_changed: Annotated[
        bool,
        typer.Option(
            "--reread-changed",
            help="Read an input file rewritten or truncated since the last run again from its "
            "start (without it, such a file is refused; stored records are kept once).",
        ),
    ] = False,
    accept_rejects: Annotated[
        bool,
        typer.Option(
            "--accept-rejects",
            help="Store a new source's first batch even when more than half of it is rejected "
            "for one reason (without it, nothing is stored and the run exits 2).",
        ),
    ] = False,
) -> None:
    """Ingest and score what the source holds now, in micro-batches, then exit."""
    # Checked before Prefect and the model start: a mistake answers at once.
    from flows.runtime.first_read import busy_source, check_first_read
    from flows.runtime.preflight import check_run
    from flows.runtime.sources import with_run_options
    from flows.scaleout import check_scheduler, check_task_runner

    check_task_runner(task_runner, dask_address)
    if dask_address:
        check_scheduler(dask_address)
    mapping = parse_map(column_map, INGEST_FIELDS)
    if encoding is not None:
        encoding = _check_encoding_option(encoding, input_path)
    settings = load_settings()
    resolved = check_run(settings, input_path, source)
    if input_path is not None and "://" not in input_path:
        _check_not_binary(Path(input_path))
        _check_csv_columns(Path(input_path), mapping or {}, encoding)
    busy = busy_source(settings.db_url, resolved.name)
    if busy is not None:  # another run holds it: said now, not after Prefect and the model load
        from flows.runtime.totals import RunTotals

        _print_run(RunTotals(resolved.name, skipped=busy).as_dict(), resolved.config)
        return
    # The flow's first batch, read but not committed: its refusals answer here too, and so
    # does a source with nothing to read.
    nothing = check_first_read(
        settings.db_url,
        with_run_options(resolved, settle_seconds, encoding, reread_changed),
        batch_size,
        mapping,
        accept_rejects=accept_rejects,
        partition_files=task_runner == "dask",
    )
    if nothing is not None:
        from flows.runtime.totals import RunTotals

        _print_run(RunTotals(resolved.name, notices=nothing or None).as_dict(), resolved.config)
        return
    # Nothing wrong found: Prefect's temporary server comes up while the flow's modules load.
    from flows.api_server import start

    start()
    if task_runner != "dask":  # Dask's workers build runtimes of their own
        _start_workers_early(settings)
    with interruptible(
        f"every batch of {resolved.name} committed before it is kept, and the same command "
        "resumes after the last one (`sentimon sources list` shows where it stands)"
    ):
        result = _ingest(
            (task_runner, dask_address),
            input_path,
            source,
            batch_size,
            max_batches,
            column_map=mapping,
            settle_seconds=settle_seconds,
            encoding=encoding,
            reread_changed=reread_changed,
            accept_rejects=accept_rejects,
        )
    _print_run(result, resolved.config)


def _start_workers_early(settings: Settings) -> None:
    """With SENTIMON_WORKERS > 1, the flow's analysis workers start now: they load the model
    while Prefect and the flow start, instead of during the first batches
    (flows/runtime/workers.py)."""
    if settings.workers < 2:
        return
    from flows.runtime.config import team_lexicon_path
    from flows.runtime.model_dirs import resolve_model_dir
    from flows.runtime.workers import start_early, worker_key

    model_dir, lexicon = resolve_model_dir(settings), team_lexicon_path(settings)
    start_early(worker_key(model_dir, settings.brands, lexicon, settings.workers))


def _ingest(runner_options: tuple[str, str | None], *args: Any, **options: Any) -> dict[str, Any]:
    """Run the ingest flow (``args`` and ``options`` are its own) with the task runner of
    ``runner_options`` (kind, Dask address); a database failure is one message."""
    from sqlalchemy.exc import DBAPIError

    from flows.ingest import ingest_and_score
    from flows.runtime.preflight import database_failure
    from flows.scaleout import make_task_runner

    try:
        runner = make_task_runner(*runner_options)
        flow = (
            ingest_and_score
            if runner is None
            else ingest_and_score.with_options(task_runner=runner)
        )
        with running_flow():
            result = flow(
                *args,
                show_progress=sys.stderr.isatty(),
                partition_files=runner is not None,
                **options,
            )
    except DBAPIError as err:
        raise database_failure(err) from err
    return cast("dict[str, Any]", result)  # the summary: no return_state among ``options``


def _print_run(result: dict[str, Any], config: SourceConfig) -> None:
    """The run's summary as JSON on stdout; a skipped run, notices and a warning on stderr."""
    if "skipped" in result:
        err_console.print(f"[yellow]skipped:[/yellow] {result['skipped']}")
    console.print_json(data=result)
    waiting = any(" was modified less than " in notice for notice in result.get("notices", []))
    if not result.get("read") and "skipped" not in result and not waiting:
        # Exit 0 all the same (a scheduled run often finds nothing new), but a person who
        # pointed it at an empty file, or re-ran one, is told why nothing was stored.
        source = result.get("source", "the source")
        if config.kind == "redis":  # its position is its consumer group's, kept in Redis
            again = (
                f"`XGROUP SETID {config.stream} {config.group} 0` in Redis reads the stream "
                "again (posts stored already are kept once)"
            )
        else:
            again = (
                f"`sentimon sources reset {source} --to-start` reads it again (posts stored "
                f"already are kept as they are: if they were stored with a wrong --map, "
                f"`sentimon sources delete {source}` removes them first)"
            )
        warn(
            f"nothing new in {source}: no record after where its last run stopped (an empty "
            f"input, or one read already); `sentimon sources list` shows where it stands, "
            f"{again}"
        )
    for notice in result.get("notices", []):
        warn(notice)
    if "warning" in result:
        warn(result["warning"])


@app.command()
@handle_errors()
def backfill(
    since: Annotated[str | None, typer.Option(help="7d, 24h or a date (UTC), inclusive")] = None,
    until: Annotated[str | None, typer.Option(help="a date (UTC), exclusive")] = None,
    model: Annotated[
        str | None, typer.Option(help="A registered model version (default: the active one).")
    ] = None,
    chunk_size: Annotated[int, typer.Option(min=1)] = 2000,
) -> None:
    """Re-score stored posts of a period with a model version and refresh its aggregates."""
    # Mistakes answer in one line before Prefect and torch load (~5 s).
    period = parse_when(since), parse_when(until)
    settings = load_settings()
    from flows.runtime.results_db import open_results

    open_results(settings).dispose()  # never create one under a misspelt URL
    if model is not None:
        from flows.runtime.model_dirs import registered_version

        registered_version(model, settings)
    from flows.backfill import backfill as backfill_flow

    with (
        interruptible(
            "every chunk re-scored before it is kept, and the same command resumes after the "
            "last one"
        ),
        running_flow(),
    ):
        result = backfill_flow(*period, model, chunk_size)
    console.print_json(data=result)


@app.command()
@handle_errors()
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

    A text that `sentimon run` would not score is not labelled: its line has null figures and
    says why under "skipped" (an empty text, one over the size limit, or not English).
    The team lexicon (SENTIMON_LEXICON or `lexicon` in sentimon.toml) is read if set.
    """
    from flows.runtime.model_dirs import resolve_model

    items = list(texts or [])
    if input_path:
        items.extend(_read_texts(input_path))
    if not items and input_path:
        from pipeline.errors import UsageError

        shown = "standard input" if str(input_path) == "-" else str(input_path)
        raise UsageError(f"--input {shown} holds no texts: nothing to score")
    if not items:
        raise typer.BadParameter("give texts as arguments or --input FILE|-")
    settings = load_settings()
    model_dir = resolve_model(model, settings)  # a wrong name answers before torch loads
    from flows.runtime.config import load_config
    from pipeline.model.team_lexicon import load_team_lexicon

    lexicon = settings.lexicon or load_config(settings.config).lexicon_path()
    if lexicon is not None:
        load_team_lexicon(lexicon)  # a bad one answers before torch loads, as for `run`
    from flows.runtime.config import team_lexicon_path
    from flows.runtime.process import load_scoring_model

    scorer = load_scoring_model(model_dir, team_lexicon_path(settings))
    skipped = _not_scored(items, scorer.text_config.normalization)
    kept = [t for t, why in zip(items, skipped, strict=True) if why is None]
    scored = iter(scorer.score_texts(kept))
    for why in skipped:
        if why is not None:
            line: dict[str, object] = dict.fromkeys(
                ("label", "p_negative", "p_neutral", "p_positive", "score")
            )
            line |= {"model_version": scorer.version, "skipped": why}
        else:
            pred = next(scored)
            line = {
                "label": pred.label,
                "p_negative": round(pred.p_negative, 6),
                "p_neutral": round(pred.p_neutral, 6),
                "p_positive": round(pred.p_positive, 6),
                "score": round(pred.score, 6),
                "model_version": pred.model_version,
            }
        sys.stdout.write(json.dumps(line) + "\n")


def _not_scored(texts: list[str], normalization: int) -> list[str | None]:
    """For each text, why `sentimon run` would not score it (as pipeline/sources/validate.py
    and pipeline/analysis.py decide), or None."""
    from pipeline.sources.validate import MAX_TEXT_CHARS
    from pipeline.text.language import ENGLISH, LanguageIdentifier
    from pipeline.text.normalize import normalize_text

    language = LanguageIdentifier()
    reasons: list[str | None] = []
    for text in texts:
        if not text.strip():
            reasons.append("empty text: ingestion rejects it")
        elif len(text) > MAX_TEXT_CHARS:
            reasons.append(
                f"text over the size limit ({len(text)} > {MAX_TEXT_CHARS} chars): "
                "ingestion rejects it"
            )
        elif (lang := language.identify(normalize_text(text, normalization))) != ENGLISH:
            reasons.append(f"not English ({lang}): ingestion stores it without a score")
        else:
            reasons.append(None)
    return reasons


def _check_encoding_option(encoding: str, input_path: str | None) -> str:
    """``--encoding`` as a codec name; a usage error when unknown or given for a URL input."""
    from pipeline.errors import UsageError
    from pipeline.sources.encoding import check_encoding

    if input_path is not None and "://" in input_path:
        raise UsageError("--encoding is for files (CSV and JSONL), not for a database or stream")
    return check_encoding(encoding)


def _check_not_binary(path: Path) -> None:
    """Refuse a single input file of binary data, or of a format read as something else,
    before anything starts (a landing folder's binary files are passed over with a notice
    while it is read)."""
    from pipeline.errors import SourceError
    from pipeline.sources.encoding import BINARY_SAMPLE_BYTES, binary_reason, refused_file
    from pipeline.sources.landing import open_regular

    if not path.is_file() or path.name.lower().endswith((".gz", ".parquet")):
        return
    try:
        with open_regular(path) as fh:
            head = fh.read(BINARY_SAMPLE_BYTES)
    except OSError:
        return  # the run reports what is wrong with it
    why = binary_reason(head)
    if why is not None:
        raise SourceError(refused_file(path.name, why))
    _check_known_format(path, head)


def _check_known_format(path: Path, head: bytes) -> None:
    """Refuse, with the way to convert it, a single input of a format sentimon does not read
    but that a run would read as JSON lines, rejecting every record: a tab-separated file, or
    one JSON array (a file of JSON lines holds one object per line)."""
    from pipeline.errors import SourceError

    name = path.name.lower()
    if name.endswith((".csv", ".jsonl")):  # read as what they say they are
        return
    if name.endswith((".tsv", ".tab")):
        raise SourceError(
            f"{path.name} is tab-separated: sentimon reads CSV (commas), JSONL and Parquet; "
            "save it as CSV and run again"
        )
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"["):
        raise SourceError(
            f"{path.name} holds a JSON array: sentimon reads JSON lines, one object per line; "
            f"convert it, e.g. `jq -c '.[]' {path.name} > {path.stem}.jsonl`"
        )


def _check_csv_columns(path: Path, mapping: dict[str, str], encoding: str | None = None) -> None:
    """Refuse a CSV input whose header lacks the text column or a mapped one: every row would
    be rejected and the cursor moved past them."""
    from pipeline.errors import UsageError
    from pipeline.sources.files import csv_header, other_separator

    found = csv_header(path, encoding)
    if found is None:
        return
    name, header = found
    if separator := other_separator(header):
        raise UsageError(
            f"{name} looks {separator}-separated (its header is {header[0]!r}): sentimon reads "
            "comma-separated CSV; save it as CSV with commas (or as JSONL) and run again"
        )
    wanted = {"text": "text", **mapping}
    missing = [f"{ours}={theirs}" for ours, theirs in wanted.items() if theirs not in header]
    if missing:
        ours, theirs = missing[0].split("=", 1)
        close = _likely_column(ours, theirs, header)
        example = f"did you mean {ours}={close}?" if close else f"e.g. {ours}=COLUMN"
        raise UsageError(
            f"{name} has no column for {', '.join(missing)}: its columns are "
            f"{', '.join(header)}; map ours=theirs with --map, {example}"
        )


# Column names that hold a post's text, and names that never do (an id, a time, a rating):
# "review_id" is nearer "review_text" than "review_body" is, and mapping it stores ids as texts.
_TEXT_WORDS = ("text", "body", "review", "content", "message", "msg", "comment", "tweet", "post")
_NOT_TEXT = re.compile(r"(^|_)(id|uid|uuid|date|time|at|on|posted|created|stars?|rating|score)$")


def _snake(name: str) -> str:
    """``createdAt`` -> ``created_at``: camel case keeps its word boundaries when lowered."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def _likely_column(ours: str, theirs: str, header: list[str]) -> str | None:
    """The header column that ``--map ours=theirs`` most likely meant: the nearest by spelling
    (a typo's fix), and for the text, only among columns whose name could hold text."""
    columns = header
    if ours == "text":
        columns = [c for c in header if not _NOT_TEXT.search(_snake(c))]
        # Whole words: "posted_on" holds "post" and "reviewer" "review", neither a text.
        worded = [c for c in columns if set(_snake(c).split("_")) & set(_TEXT_WORDS)]
        close = difflib.get_close_matches(theirs, worded or columns, n=1, cutoff=0.0)
        return close[0] if close else None
    close = difflib.get_close_matches(theirs, columns, n=1, cutoff=0.5)
    return close[0] if close else None


def _read_texts(input_path: str) -> list[str]:
    from pipeline.errors import UsageError
    from pipeline.sources.validate import field_names

    if input_path == "-":
        lines = sys.stdin.read().splitlines()
        is_jsonl = False
    else:
        path = Path(input_path)
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError as err:
            raise UsageError(f"--input {input_path}: no such file") from err
        except IsADirectoryError as err:
            raise UsageError(
                f"--input {input_path} is a folder: give one text file (one text per line, or "
                ".jsonl), or score a folder's files with `sentimon run --input`"
            ) from err
        except PermissionError as err:
            raise UsageError(f"--input {input_path}: not readable ({err.strerror})") from err
        except UnicodeDecodeError as err:
            raise UsageError(
                f"--input {input_path} is not UTF-8 text (byte {err.start}): convert it, e.g. "
                f"`iconv -f cp1252 -t utf-8 {input_path}`"
            ) from err
        if path.suffix.lower() in (".csv", ".tsv", ".parquet"):
            # Read line by line, a CSV's header and whole rows (ids, dates) would be scored.
            raise UsageError(
                f"--input {input_path}: score reads one text per line, or .jsonl with a "
                '"text" field; for a table, `sentimon run --input '
                f"{input_path} --map text=COLUMN` stores and scores its rows"
            )
        is_jsonl = path.suffix == ".jsonl"
    if not is_jsonl:
        # A blank line is an empty text: its line says "skipped", so that output line N is
        # still input line N. (In .jsonl a blank line is no record at all.)
        return lines
    texts = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise UsageError(f"--input {input_path} line {n}: not JSON ({err.msg})") from err
        if not isinstance(record, dict) or "text" not in record:
            has = (
                f"its fields are {field_names(record)}"
                if isinstance(record, dict) and record
                else "it is not an object with fields"
            )
            raise UsageError(
                f'--input {input_path} line {n}: needs a "text" field ({has}); for other '
                f"field names, `sentimon run --input {input_path} --map text=FIELD`"
            )
        texts.append(str(record["text"]))
    return texts
