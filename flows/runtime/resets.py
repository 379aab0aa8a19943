"""Moving a source's cursor back (`sentimon sources reset`), deleting what a source stored
(`sentimon sources delete`), and opening the results database for the commands that inspect
it (`sources list`, `rejects list`).

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

from db import repository
from db.leases import Lease, lease_holder
from db.partitions import set_cursor
from db.source_removal import SourceContents, SourceDeletion, delete_source, source_contents
from db.sources import (
    SourceState,
    batch_positions,
    forget_cursors,
    source_state,
    source_states,
)
from flows.runtime.config import ProjectConfig
from flows.runtime.leasing import give_back, held_elsewhere, take_source
from flows.runtime.settings import DEMO_SOURCE, Settings, demo_landing
from flows.runtime.sources import source_name_for
from pipeline.errors import SourceBusyError, SourceError, UsageError
from pipeline.sources import FileSource
from pipeline.sources.rewind import cursor_file, rewound_cursor

_STREAM_ID = re.compile(r"\d+-\d+")
_DIGEST = re.compile(r"[0-9a-f]{8}")


@contextmanager
def holding(engine: Engine, source: str, doing: str) -> Iterator[Lease]:
    """The source's lease for the time of the block; SourceBusyError while an ingest holds it."""
    try:
        lease = take_source(engine, source)
    except SourceBusyError as err:
        raise _busy(engine, source, doing) from err
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


def check_not_held(engine: Engine, source: str, doing: str) -> None:
    """SourceBusyError while a live run holds ``source``: asked before the user confirms
    anything (reads only; `holding` takes the lease itself, which settles a race)."""
    with engine.connect() as conn:
        if held_elsewhere(conn, source) is None:
            return
    raise _busy(engine, source, doing)


def _busy(engine: Engine, source: str, doing: str) -> SourceBusyError:
    with engine.connect() as conn:
        held = lease_holder(conn, source)
    who = f"{held[0]}, lease until {held[1]:%Y-%m-%d %H:%M:%S} UTC" if held else "another run"
    return SourceBusyError(
        f"source {source!r} is being read by a running ingest ({who}): nothing was "
        f"{doing}; try again once that run has finished"
    )


def plan_reset(
    engine: Engine, project: ProjectConfig, source: str, file: str | None, input_path: Path | None
) -> ResetPlan:
    """The reset of ``source`` to its start (``file`` None) or to the start of ``file``.

    ``input_path`` is the file or folder the source reads (``source_input``), None when that
    cannot be known: ``file`` is then checked only against the cursor.
    """
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
    if input_path is None:
        # The input is unknown here (given from another folder): F must be a file the
        # source has read, or a typo would send the cursor into a file that is not there.
        with engine.connect() as conn:
            read = [cursor_file(p) for p in [*batch_positions(conn, source), state.position]]
        _check_read_file(source, file, sorted({f for f in read if f}))
    _check_file(source, file, input_path)
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


@dataclass(frozen=True)
class DeletionPlan:
    """What deleting a source removes, and what its next run then reads."""

    contents: SourceContents
    rereads: str


def plan_deletion(engine: Engine, project: ProjectConfig, source: str) -> DeletionPlan:
    """What deleting ``source`` would remove; UsageError when the database knows no such
    source (with the names it knows)."""
    with engine.connect() as conn:
        contents = source_contents(conn, source)
        state = source_state(conn, source)
    if state is None and contents.empty:
        raise UsageError(f"source {source!r} has stored nothing{known_sources(engine, source)}")
    if state is not None and _kind(project, state) == "redis":
        # Its position is its consumer group's, in Redis: the entries read stay acknowledged.
        rereads = (
            "only new entries of its stream (to read the old ones again, move its consumer "
            "group back: XGROUP SETID STREAM GROUP 0)"
        )
    else:
        rereads = "the whole source again"
    return DeletionPlan(contents, rereads)


def apply_deletion(engine: Engine, source: str) -> SourceDeletion:
    """Delete what ``source`` stored, in one transaction under its lease (db/source_removal.py)."""
    with holding(engine, source, "deleted"), engine.begin() as conn:
        return delete_source(conn, source)


def _kind(project: ProjectConfig, state: SourceState) -> str:
    """files, sql or redis: from sentimon.toml when it names the source, else the cursor."""
    if state.name in project.sources:
        return project.sources[state.name].kind
    if state.partitions or cursor_file(state.position) is not None:
        return "files"
    if state.position and _STREAM_ID.fullmatch(state.position):
        return "redis"
    return "sql"


def source_input(settings: Settings, project: ProjectConfig, source: str) -> Path | None:
    """The file or folder that files source ``source`` reads, where that can be known: the
    path sentimon.toml gives it, the demo's landing folder, or an ``--input`` in the current
    folder (or sentimon.toml's) whose resolved path gives the source's name (NAME-DIGEST, see
    flows/runtime/sources.py ``source_name_for``: a match is that input, not a guess). None
    otherwise, e.g. an input named with --source and given from another folder.
    """
    if source in project.sources:
        return project.files_path(source) if project.sources[source].kind == "files" else None
    if source == DEMO_SOURCE:
        return demo_landing(settings.data_dir)
    stem, _, digest = source.rpartition("-")
    if not stem or not _DIGEST.fullmatch(digest):
        return None
    for folder in dict.fromkeys([Path.cwd(), project.folder]):
        try:
            entries = list(folder.iterdir())
        except OSError:
            continue
        for entry in entries:
            named = entry.name.split(".")[0][:64] == stem or entry.is_symlink()
            if named and source_name_for(str(entry)) == source:
                return entry
    return None


def _check_read_file(source: str, file: str, read: list[str]) -> None:
    """``file`` must be one of the files ``read`` (those the source's cursors name)."""
    if not read or file in read:
        return
    close = difflib.get_close_matches(file, read, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}? " if close else ""
    shown = ", ".join(read) if len(read) <= 6 else f"{len(read):,} files, {read[0]} to {read[-1]}"
    raise UsageError(
        f"source {source!r} has read no file {file!r}: {hint}it has read {shown} (a file it "
        "has not read yet needs no reset: the next run reads it); nothing was reset"
    )


def _check_file(source: str, file: str, input_path: Path | None) -> None:
    """``file`` must be a file name; when the source's input is known, a file it reads.

    A name that is not one of them would still move the cursor: a folder's cursor at a name
    that sorts before every file re-reads them all, and a single file's cursor in another
    file stops its next run.
    """
    if not file or "/" in file or "\\" in file:
        raise UsageError(f"--file {file!r}: give the name of a file of the landing folder")
    if input_path is None:
        return
    if input_path.is_file():
        if file != input_path.name:
            raise UsageError(
                f"source {source!r} reads one file, {input_path}, not {file!r}: "
                f"--file {input_path.name} (or --to-start) reads it again; nothing was reset"
            )
        return
    try:
        names = [p.name for p in FileSource(input_path, source).files()]
    except (OSError, SourceError):  # gone or unreadable: the next run says so itself
        return
    if file in names:
        return
    close = difflib.get_close_matches(file, names, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}? " if close else ""
    if not names:
        held = "it holds no file to read"
    elif len(names) <= 6:
        held = f"its files: {', '.join(names)}"
    else:
        held = f"its {len(names):,} files run from {names[0]} to {names[-1]}"
    raise UsageError(
        f"source {source!r} reads the folder {input_path}, which has no file {file!r} to "
        f"read: {hint}{held}; nothing was reset"
    )


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
