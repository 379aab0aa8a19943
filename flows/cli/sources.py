"""`sentimon sources list|reset|delete`: where each source stands, moving its cursor back, and
deleting what it stored."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from flows.cli.app import console, err_console, sources_app
from flows.cli.errors import handle_errors, usage_error
from flows.runtime.settings import load_settings

FormatOption = Annotated[str, typer.Option("--format", help="table or json")]


@sources_app.command("list")
@handle_errors()
def sources_list(fmt: FormatOption = "table") -> None:
    """Each source the database knows: its cursor, its last batch and what its batches read,
    the rejects it holds now, and the run holding it, if any."""
    if fmt not in ("table", "json"):
        raise usage_error(f"--format {fmt!r}: use table or json")
    from db.sources import source_states
    from flows.runtime.results_db import open_results

    engine = open_results(load_settings())
    with engine.connect() as conn:
        states = source_states(conn)
    now = datetime.now(UTC)
    rows = [_as_dict(s, now) for s in states]
    if fmt == "json":
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    if not rows:
        console.print("no sources yet: `sentimon run --input PATH` reads one")
        return
    from rich.table import Table

    table = Table(box=None, pad_edge=False)
    # "stored": the posts this source added; a re-read's posts are kept once, so counting the
    # posts its batches wrote (JSON's "posts") would show more than the database holds.
    counts = ("batches", "read", "stored", "rejects")
    for name in ("source", "cursor", "last batch (UTC)", *counts):
        table.add_column(
            name,
            justify="right" if name in counts else "left",
            overflow="fold",
        )
    for s, row in zip(states, rows, strict=True):
        last = f"{s.last_batch_at:%Y-%m-%d %H:%M:%S}" if s.last_batch_at else "-"
        cursor = _cursor_text(s.position, s.partitions)
        if row["running"]:
            cursor += " (being read)"
        table.add_row(
            s.name, cursor, last, str(s.batches), str(s.n_read), str(s.n_new_posts), str(s.rejects)
        )
    print_table(table)


def print_table(table: Any) -> None:
    """A rich table on stdout: fitted to a terminal, whole lines into a pipe or a file (where
    a cut cell would be lost to grep and scripts)."""
    from rich.console import Console

    out = console if console.is_terminal else Console(width=1_000, highlight=False)
    out.print(table, markup=False, highlight=False, soft_wrap=True)


def _as_dict(state: Any, now: datetime) -> dict[str, Any]:
    running = state.lease_expires_at is not None and state.lease_expires_at > now
    return {
        "source": state.name,
        "cursor": state.position,
        "cursor_updated_at": _iso(state.cursor_updated_at),
        "file_cursors": state.partitions,
        "batches": state.batches,
        "last_batch_at": _iso(state.last_batch_at),
        "read": state.n_read,
        "posts": state.n_posts,
        "new_posts": state.n_new_posts,
        "rejects": state.rejects,
        "running": running,
        "lease_owner": state.lease_owner if running else None,
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _cursor_text(position: str | None, partitions: dict[str, str | None]) -> str:
    """A files cursor as ``FILE @ OFFSET``; others as stored; per-file cursors counted."""
    if partitions:
        return f"{len(partitions)} file(s), read per file"
    if position is None:
        return "- (reads from the start)"
    try:
        data = json.loads(position)
    except ValueError:
        return position
    if isinstance(data, dict) and "file" in data:
        unit, at = ("row", data["row"]) if "row" in data else ("byte", data.get("offset", 0))
        return f"{data['file']} @ {unit} {at:,}"
    return position


RESET_HELP = """Move SOURCE's cursor back, so that the next `sentimon run` reads again.

--to-start: the whole source again. --file F (a files source; F one of the files it reads):
F again from its first record, then the files named after it (a source read per file: F
alone).

Re-reading stores nothing twice: posts are keyed by source and id (or a digest of the text),
predictions by post and model version, rejects by source and place in the input, and the
aggregates count only what is new. So a reset re-reads to store what was missed (with a
corrected --map, or after `sources reset` of a file that was rewritten); it does not re-score
stored posts (`sentimon backfill` does). Rejects that a re-read now stores keep their row until
`sentimon rejects replay` clears them. Refused while an ingest of the source is running; asks
for confirmation unless --yes."""


@sources_app.command("reset", help=RESET_HELP)
@handle_errors()
def sources_reset(
    source: Annotated[str, typer.Argument(help="A source of `sentimon sources list`.")],
    to_start: Annotated[
        bool, typer.Option("--to-start", help="Read the whole source again.")
    ] = False,
    file: Annotated[
        str | None,
        typer.Option("--file", help="Read this file of a landing folder again (its name)."),
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    if to_start == (file is not None):
        raise usage_error("give one of --to-start or --file F")
    from flows.runtime.config import load_config
    from flows.runtime.resets import apply_reset, check_not_held, plan_reset, source_input
    from flows.runtime.results_db import open_results

    settings = load_settings()
    engine = open_results(settings)
    project = load_config(settings.config)
    input_path = source_input(settings, project, source) if file is not None else None
    plan = plan_reset(engine, project, source, file, input_path)
    check_not_held(engine, source, "reset")  # before asking, not after the user said yes
    question = f"source {source}: the next run reads {plan.rereads}. Move the cursor back?"
    if not yes and not _confirmed(question):
        err_console.print("nothing was reset")
        raise typer.Exit(1)
    apply_reset(engine, plan)
    console.print(f"source {source}: cursor moved back; the next run reads {plan.rereads}")


DELETE_HELP = """Delete everything SOURCE stored: its posts with their predictions and brand
mentions, its share of the aggregates, its rejects, its batch records and its cursor.

The way back from a run that stored its input wrongly (a wrong --map, the wrong file): a reset
and a re-read keep the posts already stored, so delete the source, then run the input again
with the right options. The input itself is not touched. Other sources' posts that repeated
one of its posts are linked again among themselves and their aggregates rebuilt; alerts already
raised stay. Refused while an ingest of the source is running; asks for confirmation unless
--yes."""


@sources_app.command("delete", help=DELETE_HELP)
@handle_errors()
def sources_delete(
    source: Annotated[str, typer.Argument(help="A source of `sentimon sources list`.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    from flows.runtime.config import load_config
    from flows.runtime.resets import apply_deletion, check_not_held, plan_deletion
    from flows.runtime.results_db import open_results

    settings = load_settings()
    engine = open_results(settings)
    plan = plan_deletion(engine, load_config(settings.config), source)
    check_not_held(engine, source, "deleted")
    stored = plan.contents
    what = (
        f"{stored.posts:,} posts (with their predictions and brand mentions), "
        f"{stored.rejects:,} rejects and {stored.batches:,} batch records"
    )
    if not yes and not _confirmed(f"source {source}: delete its {what}?"):
        err_console.print("nothing was deleted")
        raise typer.Exit(1)
    done = apply_deletion(engine, source)
    gone = done.contents
    console.print(
        f"source {source}: deleted {gone.posts:,} posts, {gone.rejects:,} rejects and "
        f"{gone.batches:,} batch records; its next run reads {plan.rereads}"
    )
    if done.relinked:
        console.print(
            f"{done.relinked:,} posts of other sources repeated its posts: linked again among "
            f"themselves, aggregates of {done.refreshed_days:,} days rebuilt"
        )


def _confirmed(question: str) -> bool:
    """The user's answer; no answer (stdin closed, not a terminal) is no."""
    try:
        return typer.confirm(question, err=True)
    except typer.Abort:
        err_console.print()  # end the prompt's line
        return False
