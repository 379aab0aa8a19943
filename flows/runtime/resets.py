"""Moving a source's cursor back (`sentimon sources reset`), and opening the results database
for the commands that inspect it (`sources list`, `rejects list`).

A reset is planned first (what the cursor becomes, what the next run reads again), shown to
the user for confirmation, then applied under the source's lease: never while an ingest of the
source runs, and only if the cursor is still the one the plan was made from.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from db import migrate, repository
from db.engine import make_engine, redact_url
from db.leases import Lease, lease_holder
from db.partitions import set_cursor
from db.sources import SourceState, forget_cursors, source_state, source_states
from flows.runtime.config import ProjectConfig
from flows.runtime.leasing import give_back, take_source
from flows.runtime.settings import Settings
from pipeline.errors import NoDatabaseError, SourceBusyError, SourceError, UsageError
from pipeline.sources.rewind import cursor_file, rewound_cursor

_STREAM_ID = re.compile(r"\d+-\d+")


def open_results(settings: Settings) -> Engine:
    """The results database, upgraded to the current schema; NoDatabaseError when there is
    none yet (nothing is created)."""
    url = settings.db_url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        raise NoDatabaseError(f"no results database at {redact_url(url)}: nothing ingested yet")
    engine = make_engine(url)
    if migrate.current_revision(engine) is None:
        raise NoDatabaseError(
            f"no results database at {redact_url(url)}: run `sentimon init` or `sentimon run` first"
        )
    migrate.upgrade(engine)
    return engine


@contextmanager
def holding(engine: Engine, source: str, doing: str) -> Iterator[Lease]:
    """The source's lease for the time of the block; SourceBusyError while an ingest holds it."""
    try:
        lease = take_source(engine, source)
    except SourceBusyError as err:
        with engine.connect() as conn:
            held = lease_holder(conn, source)
        who = f"{held[0]}, lease until {held[1]:%Y-%m-%d %H:%M:%S} UTC" if held else "another run"
        raise SourceBusyError(
            f"source {source!r} is being read by a running ingest ({who}): nothing was "
            f"{doing}; try again once that run has finished"
        ) from err
    try:
        yield lease
    finally:
        give_back(engine, lease)


@dataclass(frozen=True)
class ResetPlan:
    """What a reset changes: ``position`` replaces a sequential cursor (None deletes it), and
    ``files`` lists the per-file cursors to delete (None: all of them)."""

    source: str
    old_position: str | None
    position: str | None
    files: list[str] | None
    rereads: str  # what the next run reads again, for the confirmation prompt


def plan_reset(engine: Engine, project: ProjectConfig, source: str, file: str | None) -> ResetPlan:
    """The reset of ``source`` to its start (``file`` None) or to the start of ``file``."""
    with engine.connect() as conn:
        state = source_state(conn, source)
    if state is None or (state.position is None and not state.partitions):
        raise UsageError(f"source {source!r} has no cursor to reset{known_sources(engine, source)}")
    kind = _kind(project, state)
    if kind == "redis":
        raise UsageError(
            f"source {source!r} is a Redis stream: its position is its consumer group's, kept "
            "in Redis; move it there (XGROUP SETID STREAM GROUP ID)"
        )
    if file is None:
        what = "every record of the source again"
        return ResetPlan(source, state.position, None, None, what)
    if kind != "files":
        raise UsageError(f"--file is for files sources; source {source!r} is not one")
    _check_file(project, source, file)
    if state.partitions:  # read per file: each file has its own cursor
        if file not in state.partitions:
            known = ", ".join(sorted(state.partitions))
            raise UsageError(f"source {source!r} has read no file {file!r} (it has read {known})")
        return ResetPlan(source, state.position, None, [file], f"{file} again, and only it")
    position = rewound_cursor(source, state.position, file)
    what = f"{file} again from its first record, then the files named after it"
    return ResetPlan(source, state.position, position, [], what)


def apply_reset(engine: Engine, plan: ResetPlan) -> None:
    """Apply ``plan`` under the source's lease, if the cursor has not moved since."""
    with holding(engine, plan.source, "reset"), engine.begin() as conn:
        if repository.get_cursor(conn, plan.source) != plan.old_position:
            raise SourceError(
                f"source {plan.source!r} was read since the reset was planned: nothing was "
                "reset; run it again"
            )
        if plan.files is None:
            forget_cursors(conn, plan.source)
        elif plan.files:
            forget_cursors(conn, plan.source, plan.files)
        else:
            set_cursor(conn, plan.source, plan.position)


def _kind(project: ProjectConfig, state: SourceState) -> str:
    """files, sql or redis: from sentimon.toml when it names the source, else the cursor."""
    if state.name in project.sources:
        return project.sources[state.name].kind
    if state.partitions or cursor_file(state.position) is not None:
        return "files"
    if state.position and _STREAM_ID.fullmatch(state.position):
        return "redis"
    return "sql"


def _check_file(project: ProjectConfig, source: str, file: str) -> None:
    """``file`` must be a file name; one of the folder's files when sentimon.toml knows it."""
    if not file or "/" in file or "\\" in file:
        raise UsageError(f"--file {file!r}: give the name of a file of the landing folder")
    if source not in project.sources or project.sources[source].kind != "files":
        return
    folder = project.files_path(source)
    if folder.is_dir() and not (folder / file).is_file():
        names = sorted(p.name for p in folder.iterdir() if p.is_file())[:20]
        raise UsageError(f"{folder} has no file {file!r} (it has {', '.join(names) or 'none'})")


def source_names(engine: Engine) -> list[str]:
    """The sources the results database knows (cursors, batches, rejects, leases)."""
    with engine.connect() as conn:
        return [s.name for s in source_states(conn)]


def known_sources(engine: Engine, name: str) -> str:
    """``; did you mean X? the database knows: A, B`` for an error about source ``name``."""
    names = source_names(engine)
    if not names:
        return "; the database knows no source yet"
    close = difflib.get_close_matches(name, [n for n in names if n != name], n=1)
    hint = f"; did you mean {close[0]!r}? " if close else "; "
    return f"{hint}the database knows: {', '.join(names)} (`sentimon sources list`)"
