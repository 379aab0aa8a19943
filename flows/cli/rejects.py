"""`sentimon rejects list|replay`: records refused by validation, and a way back for them."""

from __future__ import annotations

import json
import os
import sys
from typing import Annotated

import typer

from flows.cli.app import INGEST_FIELDS, MapOption, console, err_console, parse_map, rejects_app
from flows.cli.errors import handle_errors, usage_error
from flows.cli.sources import print_table
from flows.runtime.settings import load_settings

RAW_SHOWN = 60  # characters of the raw input in the table (json gives it whole)


@rejects_app.command("list")
@handle_errors()
def rejects_list(
    source: Annotated[str | None, typer.Option(help="Only this source's rejects.")] = None,
    reason: Annotated[
        str | None,
        typer.Option(
            help="Only rejects whose reason contains this, in any case (e.g. 'missing text')."
        ),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many, oldest first.")] = 50,
    fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table",
) -> None:
    """Rejects in the order they were read: source, place in the input, reason, raw input.

    `replayable` says whether `sentimon rejects replay` can validate the record again (its
    fields were kept); the others could not be parsed at all: fixed in their input, they are
    read again after `sentimon sources reset S --to-start`, and their rejects cleared."""
    if fmt not in ("table", "json"):
        raise usage_error(f"--format {fmt!r}: use table or json")
    from db.rejects import count_rejects, list_rejects
    from flows.runtime.resets import known_sources, source_names
    from flows.runtime.results_db import open_results

    engine = open_results(load_settings())
    with engine.connect() as conn:
        rows = list_rejects(conn, source, reason, limit)
        total = count_rejects(conn, source, reason)
    if source is not None and not rows and total == 0:
        with engine.connect() as conn:
            any_of_source = count_rejects(conn, source)
        if not any_of_source and source not in source_names(engine):
            hint = known_sources(engine, source)
            raise usage_error(f"no source {source!r} in the results database{hint}")
    if fmt == "json":
        items = [
            {
                "id": r.id,
                "source": r.source,
                "locator": r.locator,
                "external_id": r.external_id,
                "reason": r.reason,
                "raw": r.raw,
                "created_at": r.created_at.isoformat(),
                "replayable": r.replayable,
            }
            for r in rows
        ]
        sys.stdout.write(json.dumps(items, indent=2, ensure_ascii=False) + "\n")
    else:
        from rich.table import Table

        table = Table(box=None, pad_edge=False)
        for name in ("id", "source", "where", "reason", "raw"):
            table.add_column(name, overflow="fold")
        for r in rows:
            raw = r.raw if len(r.raw) <= RAW_SHOWN else r.raw[: RAW_SHOWN - 1] + "…"
            table.add_row(str(r.id), r.source, r.locator, r.reason, raw)
        if rows:
            print_table(table)
    shown = f"{len(rows)} of {total}" if total > len(rows) else str(total)
    err_console.print(f"{shown} reject(s)", highlight=False)


REPLAY_HELP = """Validate SOURCE's rejects again, with --map if given (else the source's map in
sentimon.toml), and store those that now pass, as a run would have: scored, added to the
aggregates, alert rules evaluated. Each batch commits in one transaction that stores its posts
and deletes their rejects; rejects that fail again stay, with the new reason. Running it again
stores nothing twice. The source's cursor does not move.

Only rejects whose fields were kept can be replayed; records the reader could not parse
(invalid JSON, undecodable bytes) need their input fixed and read again: `sentimon sources reset
S --to-start` (or `--file F`), then `sentimon run`; each reject read again as a post is cleared."""


@rejects_app.command("replay", help=REPLAY_HELP)
@handle_errors()
def rejects_replay(
    source: Annotated[str, typer.Option(help="The source whose rejects to replay.")],
    column_map: MapOption = None,
) -> None:
    mapping = parse_map(column_map, INGEST_FIELDS)
    from db.rejects import count_rejects, reject_columns
    from flows.runtime.config import load_config
    from flows.runtime.resets import holding, known_sources, source_names
    from flows.runtime.results_db import open_results

    settings = load_settings()
    engine = open_results(settings)
    if mapping is None:
        project = load_config(settings.config)
        if source in project.sources:
            mapping = project.sources[source].column_map
    with engine.connect() as conn:
        n_rejects = count_rejects(conn, source)
        columns = reject_columns(conn, source)
    if not n_rejects:
        if source not in source_names(engine):
            hint = known_sources(engine, source)
            raise usage_error(f"no source {source!r} in the results database{hint}")
        console.print(f"source {source}: no rejects to replay")
        return
    if columns is not None:
        _check_columns(source, columns, mapping or {})
    from flows.runtime.process import get_runtime
    from flows.runtime.replay import replay_rejects

    rt = get_runtime(settings)
    with holding(engine, source, "replayed") as lease:
        report = replay_rejects(rt, source, mapping, lease)
    console.print(
        f"source {source}: {report.replayed} reject(s) replayed: {report.stored} stored "
        f"({report.new_posts} new post(s)), {report.still_rejected} still rejected; "
        f"{len(report.alerts)} new alert(s)",
        highlight=False,
        soft_wrap=True,
    )
    if report.reasons:
        reasons = ", ".join(f"{why} ({n})" for why, n in report.reasons.most_common())
        console.print(f"still rejected: {reasons}", highlight=False, soft_wrap=True)
    if report.not_replayable:
        console.print(
            f"{report.not_replayable} reject(s) could not be parsed when read and cannot be "
            f"replayed: fix them in the input, then `sentimon sources reset {source} --to-start` "
            "(or `--file F`, their file) and `sentimon run` read it again (stored posts are kept "
            "once; a reject read again as a post is cleared)",
            highlight=False,
            soft_wrap=True,
        )
    if report.alerts and os.environ.get("PREFECT_API_URL"):
        from flows.alerts import emit_alert_events

        emit_alert_events(report.alerts)


def _check_columns(source: str, columns: list[str], mapping: dict[str, str]) -> None:
    """A mapped column no reject has would reject them all again: say so now."""
    import difflib

    wanted = {"text": "text", **mapping}
    for ours, theirs in wanted.items():
        if theirs not in columns:
            close = difflib.get_close_matches(theirs, columns, n=1)
            hint = f"did you mean {ours}={close[0]}? " if close else ""
            raise usage_error(
                f"the rejects of {source!r} have no column {theirs!r} for {ours}: {hint}their "
                f"columns are {', '.join(columns)}"
            )
