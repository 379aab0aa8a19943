"""A landing folder read per file (flows/partitions.py), without Prefect or Dask: the plan, and
the same results as a sequential read on real SQLite files."""

import json
import os
import time

import pytest
from sqlalchemy import text
from support.scaleout_data import assert_same_results, snapshot, write_landing

from db import migrate
from db.engine import make_engine
from db.partitions import partition_cursors, set_cursor
from flows.partitions import plan_partitions, read_partition
from flows.runtime.batch import process_batch
from flows.runtime.process import get_runtime
from flows.runtime.settings import Settings
from flows.runtime.sources import adhoc_source
from pipeline.sources import FileSource
from pipeline.sources.validate import Validator


@pytest.fixture
def engine(tmp_path):
    eng = make_engine(f"sqlite:///{tmp_path / 'plan.db'}")
    migrate.upgrade(eng)
    yield eng
    eng.dispose()


def _names(parts):
    return [os.path.basename(p.path) for p in parts]


def test_a_new_folder_is_read_per_file_only_when_asked(engine, tmp_path):
    folder = tmp_path / "landing"
    write_landing(folder)
    resolved = adhoc_source(str(folder), "reviews")

    assert plan_partitions(engine, resolved, requested=False) is None
    parts = plan_partitions(engine, resolved, requested=True)
    assert _names(parts) == ["part-00.jsonl", "part-01.jsonl", "part-02.jsonl"]
    assert {p.source for p in parts} == {"reviews"}
    assert [p.key for p in parts] == [f"reviews/{name}" for name in _names(parts)]
    assert all(os.path.isabs(p.path) for p in parts)


def test_a_file_still_being_written_waits_but_later_files_do_not(engine, tmp_path):
    folder = tmp_path / "landing"
    write_landing(folder)
    os.utime(folder / "part-01.jsonl", (time.time(), time.time()))  # just landed

    parts = plan_partitions(engine, adhoc_source(str(folder), "reviews"), requested=True)
    assert _names(parts) == ["part-00.jsonl", "part-02.jsonl"]


def test_the_mode_sticks_to_the_source(engine, tmp_path):
    folder = tmp_path / "landing"
    write_landing(folder)
    resolved = adhoc_source(str(folder), "reviews")
    first = folder / "part-00.jsonl"

    # Read in sequence before: stays in sequence, even when a run asks for files.
    with engine.begin() as conn:
        set_cursor(conn, "reviews", json.dumps({"file": "part-00.jsonl", "offset": 10}))
    assert plan_partitions(engine, resolved, requested=True) is None

    # Read per file before: stays per file; a fully read file is skipped until it changes.
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM source_cursors"))
        size = first.stat().st_size
        done = {"file": first.name, "offset": size, "size": size}
        set_cursor(conn, f"reviews/{first.name}", json.dumps(done))
        assert partition_cursors(conn, "reviews") == {first.name: json.dumps(done)}
        # A source whose name merely starts the same is someone else's.
        set_cursor(conn, "reviews-old/part-01.jsonl", json.dumps({"file": "x", "size": 1}))
        assert list(partition_cursors(conn, "reviews")) == [first.name]
    parts = plan_partitions(engine, resolved, requested=False)
    assert _names(parts) == ["part-01.jsonl", "part-02.jsonl"]

    with first.open("a") as fh:
        fh.write(json.dumps({"id": "late", "text": "@united late post"}) + "\n")
    os.utime(first, (time.time() - 3600, time.time() - 3600))
    parts = plan_partitions(engine, resolved, requested=False)
    assert _names(parts) == ["part-00.jsonl", "part-01.jsonl", "part-02.jsonl"]


def test_single_files_and_other_sources_are_never_partitioned(engine, tmp_path):
    folder = tmp_path / "landing"
    write_landing(folder)
    single = adhoc_source(str(folder / "part-00.jsonl"), "reviews")
    assert plan_partitions(engine, single, requested=True) is None
    sql = adhoc_source("sqlite:///shop.db?table=reviews&cursor=id", "shop")
    assert plan_partitions(engine, sql, requested=True) is None


@pytest.mark.slow
def test_reading_per_file_gives_the_results_of_a_sequential_read(tmp_path, monkeypatch):
    folder = tmp_path / "landing"
    n_lines = write_landing(folder)

    sequential_url = f"sqlite:///{tmp_path / 'sequential.db'}"
    monkeypatch.setenv("SENTIMON_DATABASE_URL", sequential_url)
    rt = get_runtime(Settings())
    reader = FileSource(folder, "reviews")
    while process_batch(rt, reader, Validator("reviews"), 5) is not None:
        pass
    reader.close()

    partitioned_url = f"sqlite:///{tmp_path / 'partitioned.db'}"
    monkeypatch.setenv("SENTIMON_DATABASE_URL", partitioned_url)
    prt = get_runtime(Settings())
    resolved = adhoc_source(str(folder), "reviews")
    parts = plan_partitions(prt.engine, resolved, requested=True)
    # Reversed: the order in which files are read must not matter.
    reports = [r for part in reversed(parts) for r in read_partition(part, 5, None, None)]
    assert sum(r.n_read for r in reports) == n_lines
    assert {r.source for r in reports} == {p.key for p in parts}

    ours, theirs = snapshot(prt.engine), snapshot(rt.engine)
    assert ours["n_read"] == theirs["n_read"] == n_lines  # every record read exactly once
    assert len(ours["posts"]) == n_lines - 3  # one reject per file
    assert any(dup for *_, dup in ours["posts"].values())  # the in-file repeats are linked
    assert len(ours["predictions"]) == len(ours["posts"])
    assert len({m[2] for m in ours["mentions"]}) == 4 and ours["aggregates"]
    assert_same_results(ours, theirs)

    # Every file is marked as read: the next run has nothing to plan and reads nothing.
    assert plan_partitions(prt.engine, resolved, requested=False) == []
    assert read_partition(parts[0], 5, None, None) == []
    assert snapshot(prt.engine)["n_read"] == n_lines


def test_files_read_per_file_keep_the_run_s_encoding(engine, tmp_path):
    import dataclasses

    folder = tmp_path / "landing"
    write_landing(folder)
    resolved = adhoc_source(str(folder), "reviews")
    latin = dataclasses.replace(
        resolved, config=resolved.config.model_copy(update={"encoding": "cp1252"})
    )
    parts = plan_partitions(engine, latin, requested=True)
    assert parts and {p.encoding for p in parts} == {"cp1252"}
