"""A way back from a mistake (issue 15): `sentimon sources list|reset` and `sentimon rejects
list|replay`, through the real CLI on real files and databases (SQLite; PostgreSQL when
SENTIMON_TEST_POSTGRES_URL is set)."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, text
from support.cli import one_error_line
from typer.testing import CliRunner

from flows.cli import app

runner = CliRunner()

BRANDS = """
[[brands]]
name = "Sonora"
aliases = ["sonora audio"]

[[brands]]
name = "Aurelle"
"""

# A headphone-review export with its own column names; created_at spread over three days.
REVIEWS = [
    ("h01", "Sonora cans sound great, deep bass", 4, "2026-11-02T09:15:00Z"),
    ("h02", "My Aurelle pair broke after a week, awful", 1, "2026-11-02T10:00:00Z"),
    ("h03", "sonora audio is the best I have owned", 5, "2026-11-02T11:30:00Z"),
    ("h04", "Aurelle ear pads are comfy for long flights", 4, "2026-11-03T08:00:00Z"),
    ("h05", "Sonora headband snapped, terrible quality", 1, "2026-11-03T12:45:00Z"),
    ("h06", "decent sound for the price", 3, "2026-11-03T13:00:00Z"),
    ("h07", "Aurelle noise cancelling is useless on trains", 2, "2026-11-04T07:20:00Z"),
    ("h08", "RT @hifi: Sonora cans sound great, deep bass", 4, "2026-11-04T09:00:00Z"),
    ("h09", "love my Sonora, battery lasts for days", 5, "2026-11-04T10:10:00Z"),
    ("h10", "Aurelle support never answered, awful", 1, "2026-11-04T18:00:00Z"),
    ("h11", "", 3, "2026-11-04T19:00:00Z"),  # empty: rejected by any mapping
]
RIGHT_MAP = "id=review_id,text=review_body,created_at=date"


def _write_inputs(folder):
    csv_lines = ["review_id,review_title,review_body,rating,date"]
    jsonl_lines = []
    for rid, body, rating, date in REVIEWS:
        quoted = '"' + body.replace('"', '""') + '"'
        csv_lines.append(f"{rid},title {rid},{quoted},{rating},{date}")
        jsonl_lines.append(
            json.dumps({"review_id": rid, "review_body": body, "rating": rating, "date": date})
        )
    (folder / "reviews.csv").write_text("\n".join(csv_lines) + "\n", encoding="utf-8")
    (folder / "reviews.jsonl").write_text("\n".join(jsonl_lines) + "\n", encoding="utf-8")
    (folder / "brands.toml").write_text(BRANDS, encoding="utf-8")


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SENTIMON_BRANDS", str(tmp_path / "brands.toml"))
    _write_inputs(tmp_path)
    return tmp_path


def _use_database(monkeypatch, project, name, url=None):
    """Point the CLI at a database of its own: a SQLite file under data-NAME, or ``url``."""
    monkeypatch.setenv("SENTIMON_DATA_DIR", str(project / f"data-{name}"))
    if url:
        monkeypatch.setenv("SENTIMON_DATABASE_URL", url)
        return url
    monkeypatch.delenv("SENTIMON_DATABASE_URL", raising=False)
    return f"sqlite:///{project / f'data-{name}' / 'sentimon.db'}"


def _accepting_rejects():
    """`run` stops a first batch that is mostly rejected for one reason unless told to accept
    it (the guard of issue 15); the mistake this file recovers from is the accepted one."""
    help_text = runner.invoke(app, ["run", "--help"], terminal_width=200).stdout
    return ["--accept-rejects"] if "--accept-rejects" in help_text else []


def _run(*args):
    result = runner.invoke(app, ["run", "--batch-size", "4", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout[result.stdout.index("{") :])


def _snapshot(url):
    """What a correct run leaves: posts, mentions, predictions, aggregates, alerts, rejects
    and cursors, keyed by what they mean (never by surrogate ids or wall-clock times)."""
    engine = create_engine(url)
    queries = {
        "posts": "SELECT p.source, p.external_id, p.text, p.created_at, p.author, p.url, p.lang,"
        " p.content_hash, d.external_id FROM posts p LEFT JOIN posts d ON d.id = p.duplicate_of",
        "post_brands": "SELECT p.external_id, b.brand FROM post_brands b"
        " JOIN posts p ON p.id = b.post_id",
        "predictions": "SELECT p.external_id, r.model_version, r.label, r.p_negative,"
        " r.p_neutral, r.p_positive, r.score"
        " FROM predictions r JOIN posts p ON p.id = r.post_id",
        "brand_sentiment": "SELECT brand, bucket, bucket_start, source, model_version, volume,"
        " n_unique, n_amplification, n_negative, n_neutral, n_positive, mean_score,"
        " net_sentiment, nss FROM brand_sentiment",
        "alerts": "SELECT brand, kind, bucket, bucket_start, observed, baseline, volume"
        " FROM alerts",
        "rejects": "SELECT source, locator, reason FROM rejects",
        "cursors": "SELECT source, position FROM source_cursors",
    }
    try:
        with engine.connect() as conn:
            return {
                name: sorted(
                    (tuple(_comparable(v) for v in row) for row in conn.execute(text(sql))),
                )
                for name, sql in queries.items()
            }
    finally:
        engine.dispose()


def _comparable(value):
    """Floats to 6 places (the same sums in another order differ in the last bits), the rest
    as text."""
    return f"{value:.6f}" if isinstance(value, float) else str(value)


def _mistake_then_replay(monkeypatch, project, input_name, wrong_map, url=None):
    """The wrong --map first (every record rejected, the cursor at the end), then
    `rejects replay` with the right one; returns the database URL and the replay's output."""
    db = _use_database(monkeypatch, project, "mistake", url)
    first = _run("--input", input_name, "--map", wrong_map, *_accepting_rejects())
    assert first["posts"] == 0 and first["rejects"] == len(REVIEWS)
    again = _run("--input", input_name, "--map", RIGHT_MAP)
    assert again["read"] == 0  # the cursor is at the end: a rerun reads nothing

    listed = runner.invoke(app, ["sources", "list", "--format", "json"])
    assert listed.exit_code == 0, listed.output
    (state,) = json.loads(listed.stdout)
    assert state["rejects"] == len(REVIEWS) and state["posts"] == 0
    source = state["source"]

    replay = runner.invoke(app, ["rejects", "replay", "--source", source, "--map", RIGHT_MAP])
    assert replay.exit_code == 0, replay.output
    return db, source, replay.stdout


@pytest.mark.slow
@pytest.mark.parametrize(
    ("input_name", "wrong_map"),
    [
        # JSONL has no header to check a --map against: a typo rejects every record.
        ("reviews.jsonl", "id=review_id,text=review_bdy,created_at=date"),
        # A CSV column that exists but is the wrong one: every rating is a bare small number.
        ("reviews.csv", "id=review_id,text=review_body,created_at=rating"),
    ],
)
def test_a_wrong_map_then_replay_ends_as_a_correct_first_run(
    prefect_server, project, monkeypatch, input_name, wrong_map
):
    right_db = _use_database(monkeypatch, project, "right")
    right = _run("--input", input_name, "--map", RIGHT_MAP)
    assert right["posts"] == len(REVIEWS) - 1 and right["rejects"] == 1
    expected = _snapshot(right_db)

    db, source, output = _mistake_then_replay(monkeypatch, project, input_name, wrong_map)
    flat = " ".join(output.split())
    assert f"{len(REVIEWS)} reject(s) replayed: {len(REVIEWS) - 1} stored" in flat
    assert "1 still rejected" in flat and "still rejected: missing text (1)" in flat
    assert _snapshot(db) == expected

    # Idempotent: a second replay validates the one left and stores nothing.
    twice = runner.invoke(app, ["rejects", "replay", "--source", source, "--map", RIGHT_MAP])
    assert twice.exit_code == 0, twice.output
    assert "1 reject(s) replayed: 0 stored" in " ".join(twice.stdout.split())
    assert _snapshot(db) == expected
    # A replay reads no record of the input: the source has read its file once.
    (state,) = json.loads(runner.invoke(app, ["sources", "list", "--format", "json"]).stdout)
    assert state["read"] == len(REVIEWS) and state["rejects"] == 1


@pytest.mark.slow
def test_replay_on_postgresql_ends_as_a_correct_first_run(
    prefect_server, project, monkeypatch, pg_schema_factory
):
    right_db = _use_database(monkeypatch, project, "right", pg_schema_factory())
    _run("--input", "reviews.jsonl", "--map", RIGHT_MAP)
    expected = _snapshot(right_db)
    db, source, _ = _mistake_then_replay(
        monkeypatch,
        project,
        "reviews.jsonl",
        "id=review_id,text=review_bdy,created_at=date",
        pg_schema_factory(),
    )
    assert _snapshot(db) == expected
    again = runner.invoke(app, ["rejects", "replay", "--source", source, "--map", RIGHT_MAP])
    assert again.exit_code == 0, again.output
    assert _snapshot(db) == expected


@pytest.mark.slow
def test_replay_checks_the_map_against_the_stored_columns_before_loading_anything(
    prefect_server, project, monkeypatch
):
    db, source, _ = _mistake_then_replay(
        monkeypatch, project, "reviews.jsonl", "id=review_id,text=review_bdy,created_at=date"
    )
    runner.invoke(app, ["sources", "reset", source, "--to-start", "--yes"])
    _run("--input", "reviews.jsonl", "--map", "text=review_bdy", *_accepting_rejects())
    before = _snapshot(db)

    typo = runner.invoke(app, ["rejects", "replay", "--source", source, "--map", "text=body"])
    assert typo.exit_code == 2
    one_error_line(typo, "no column 'body' for text", "review_body")
    unknown = runner.invoke(app, ["rejects", "replay", "--source", source[:-1]])
    assert unknown.exit_code == 2
    one_error_line(unknown, f"no source {source[:-1]!r} in the results", f"did you mean {source!r}")
    assert _snapshot(db) == before


@pytest.mark.slow
def test_replaying_a_source_with_no_rejects_left_is_not_an_error(
    prefect_server, project, monkeypatch
):
    """A known source whose rejects were all replayed: nothing to do, exit 0."""
    db = _use_database(monkeypatch, project, "none-left")
    _run("--input", "reviews.jsonl", "--map", RIGHT_MAP)
    (state,) = json.loads(runner.invoke(app, ["sources", "list", "--format", "json"]).stdout)
    source = state["source"]
    with create_engine(db).begin() as conn:
        conn.execute(text("DELETE FROM rejects"))
    done = runner.invoke(app, ["rejects", "replay", "--source", source])
    assert done.exit_code == 0, done.output
    assert f"source {source}: no rejects to replay" in done.stdout


@pytest.mark.slow
def test_a_broken_record_fixed_in_its_input_and_read_again_leaves_no_reject(
    prefect_server, project, monkeypatch
):
    """Invalid JSON cannot be replayed: fixed in the file and read again after a reset, the
    record is stored and its reject goes, in the batch's transaction."""
    db = _use_database(monkeypatch, project, "fixed")
    lines = (project / "reviews.jsonl").read_text().splitlines()
    broken = lines[1][:-1]  # the closing brace lost
    (project / "feed.jsonl").write_text("\n".join([lines[0], broken, *lines[2:]]) + "\n")
    first = _run("--input", "feed.jsonl", "--map", RIGHT_MAP)
    assert first["rejects"] == 2  # the broken line and the empty text (h11)
    (state,) = json.loads(runner.invoke(app, ["sources", "list", "--format", "json"]).stdout)
    source = state["source"]

    replay = runner.invoke(app, ["rejects", "replay", "--source", source, "--map", RIGHT_MAP])
    assert replay.exit_code == 0, replay.output
    said = " ".join(replay.stdout.split())
    assert "1 reject(s) could not be parsed" in said
    assert f"`sentimon sources reset {source} --to-start`" in said  # a command that runs

    (project / "feed.jsonl").write_text("\n".join(lines) + "\n")  # fixed in place
    reset = runner.invoke(app, ["sources", "reset", source, "--to-start", "--yes"])
    assert reset.exit_code == 0, reset.output
    again = _run("--input", "feed.jsonl", "--map", RIGHT_MAP)
    assert again["rejects"] == 1 and again["new_posts"] == 1  # h02, read whole now
    left = _snapshot(db)["rejects"]
    assert [(where, why) for _, where, why in left] == [
        (f"feed.jsonl@{sum(len(line) + 1 for line in lines[:-1])}", "missing text")
    ]
    (state,) = json.loads(runner.invoke(app, ["sources", "list", "--format", "json"]).stdout)
    assert state["rejects"] == 1


@pytest.mark.slow
def test_sources_reset_reads_again_and_refuses_while_an_ingest_runs(
    prefect_server, project, monkeypatch
):
    db = _use_database(monkeypatch, project, "reset")
    first = _run("--input", "reviews.jsonl", "--map", RIGHT_MAP)
    assert first["new_posts"] == len(REVIEWS) - 1
    (state,) = json.loads(runner.invoke(app, ["sources", "list", "--format", "json"]).stdout)
    source = state["source"]
    assert state["batches"] == 3 and state["read"] == len(REVIEWS) and state["rejects"] == 1
    assert json.loads(state["cursor"])["file"] == "reviews.jsonl"
    table = runner.invoke(app, ["sources", "list"], terminal_width=200)
    assert (
        table.exit_code == 0 and source in table.stdout and "reviews.jsonl @ byte" in table.stdout
    )
    header, row = table.stdout.splitlines()[:2]
    assert header.split()[-2:] == ["stored", "rejects"]
    assert row.split()[-2:] == [str(state["new_posts"]), "1"]  # what the source added

    # Another process (on another host) holds the source's lease: no reset, no replay.
    engine = create_engine(db)
    until = datetime.now(UTC) + timedelta(minutes=5)
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO source_leases VALUES (:s, 'elsewhere:42:1', :now, :until)"),
            {
                "s": source,
                "now": datetime.now(UTC).replace(tzinfo=None),
                "until": until.replace(tzinfo=None),
            },
        )
    cursor = _snapshot(db)["cursors"]
    busy = runner.invoke(app, ["sources", "reset", source, "--to-start", "--yes"])
    assert busy.exit_code == 1
    one_error_line(busy, "being read by a running ingest", "elsewhere:42:1", "nothing was reset")
    replay = runner.invoke(app, ["rejects", "replay", "--source", source, "--map", RIGHT_MAP])
    assert replay.exit_code == 1
    one_error_line(replay, "being read by a running ingest")
    assert _snapshot(db)["cursors"] == cursor
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM source_leases"))
    engine.dispose()

    # No --yes and no answer: nothing moves.
    unanswered = runner.invoke(app, ["sources", "reset", source, "--to-start"], input="n\n")
    assert unanswered.exit_code == 1 and "nothing was reset" in unanswered.output
    assert _snapshot(db)["cursors"] == cursor
    other = runner.invoke(app, ["sources", "reset", source, "--file", "zzz.jsonl", "--yes"])
    assert other.exit_code == 2
    one_error_line(other, "reads one file", "not 'zzz.jsonl'", "nothing was reset")

    done = runner.invoke(app, ["sources", "reset", source, "--file", "reviews.jsonl"], input="y\n")
    assert done.exit_code == 0, done.output
    assert json.loads(_snapshot(db)["cursors"][0][1]) == {"file": "reviews.jsonl", "offset": 0} | (
        {"ctime": json.loads(cursor[0][1])["ctime"]} if "ctime" in cursor[0][1] else {}
    )
    before = _snapshot(db)
    again = _run("--input", "reviews.jsonl", "--map", RIGHT_MAP)
    assert again["read"] == len(REVIEWS) and again["new_posts"] == 0
    assert _snapshot(db) == before | {"cursors": _snapshot(db)["cursors"]}
    # The re-read's posts are stored once, and the list counts them once.
    reread = runner.invoke(app, ["sources", "list"], terminal_width=200)
    assert reread.stdout.splitlines()[1].split()[-2:] == [str(first["new_posts"]), "1"]

    assert runner.invoke(app, ["sources", "reset", source, "--to-start", "--yes"]).exit_code == 0
    assert _snapshot(db)["cursors"] == []
    assert _run("--input", "reviews.jsonl", "--map", RIGHT_MAP)["new_posts"] == 0


def test_reset_and_list_answer_at_once_without_a_database(project, monkeypatch):
    _use_database(monkeypatch, project, "none")
    for args in (["sources", "list"], ["rejects", "list"], ["sources", "reset", "x", "--to-start"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 1, result.output
        one_error_line(result, "no results database")
    both = runner.invoke(app, ["sources", "reset", "x", "--to-start", "--file", "a.csv"])
    assert both.exit_code == 2
    one_error_line(both, "one of --to-start or --file")
    for args in (["sources", "reset", "--help"], ["rejects", "replay", "--help"]):
        assert runner.invoke(app, args, terminal_width=200).exit_code == 0
    help_text = " ".join(runner.invoke(app, ["sources", "reset", "--help"]).stdout.split())
    assert "stores nothing twice" in help_text


# --- `sources reset --file` names a file the source reads ----------------------------------

DAYS = ["posts-2026-11-02.jsonl", "posts-2026-11-03.jsonl", "posts-2026-11-04.jsonl"]


def _landing(folder):
    """A landing folder of three daily files, two records each."""
    folder.mkdir(parents=True, exist_ok=True)
    for day in DAYS:
        lines = [json.dumps({"id": f"{day}-{n}", "text": f"post {n} of {day}"}) for n in (1, 2)]
        (folder / day).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def _read_to_the_end(db, source, path):
    """The cursor a run leaves after reading ``path`` whole, stored as a batch commit stores
    it (the real reader, the real results database); returns it."""
    from db.engine import make_engine
    from db.partitions import set_cursor
    from pipeline.sources import FileSource

    cursor = FileSource(path, source, settle_seconds=0).read_batch(None, 100).cursor_to
    engine = make_engine(db)
    with engine.begin() as conn:
        set_cursor(conn, source, cursor)
    engine.dispose()
    return cursor


def _read_from(path, source, cursor):
    """Where the records the next run reads come from, file by file."""
    from pipeline.sources import FileSource

    batch = FileSource(path, source, settle_seconds=0).read_batch(cursor, 100)
    return sorted({record.locator.split("@")[0] for record in batch.records})


@pytest.mark.parametrize("known_by", ["demo", "sentimon.toml", "--input"])
def test_a_reset_to_a_file_the_folder_lacks_is_refused_and_moves_nothing(
    project, monkeypatch, known_by
):
    db = _use_database(monkeypatch, project, "reset-file")
    assert runner.invoke(app, ["init"]).exit_code == 0
    if known_by == "demo":
        source, folder = "demo", _landing(project / "data-reset-file" / "landing" / "demo")
    elif known_by == "sentimon.toml":
        (project / "sentimon.toml").write_text(
            '[sources.reviews]\nkind = "files"\npath = "landing/reviews"\n', encoding="utf-8"
        )
        source, folder = "reviews", _landing(project / "landing" / "reviews")
    else:
        from flows.runtime.sources import source_name_for

        folder = _landing(project / "landing")
        source = source_name_for("landing/")  # the name `run --input landing/` gives it
    cursor = _read_to_the_end(db, source, folder)
    assert json.loads(cursor)["file"] == DAYS[-1]

    # "nope" sorts before every file: moved there, the cursor would re-read them all.
    nope = runner.invoke(app, ["sources", "reset", source, "--file", "nope.jsonl", "--yes"])
    assert nope.exit_code == 2
    line = one_error_line(nope, f"{folder.resolve()}", "no file 'nope.jsonl'", "nothing was reset")
    assert "did you mean" not in line
    assert _snapshot(db)["cursors"] == [(source, cursor)]
    typo = runner.invoke(app, ["sources", "reset", source, "--file", "posts-2026-11-3.jsonl"])
    assert typo.exit_code == 2
    one_error_line(typo, "did you mean 'posts-2026-11-03.jsonl'?", ", ".join(DAYS))
    assert _snapshot(db)["cursors"] == [(source, cursor)]
    landed = "posts-2026-11-05.jsonl"  # there, but after the file being read
    (folder / landed).write_text('{"id": "late", "text": "late post"}\n', encoding="utf-8")
    ahead = runner.invoke(app, ["sources", "reset", source, "--file", landed, "--yes"])
    assert ahead.exit_code == 2
    one_error_line(ahead, "has not been read yet")
    assert _snapshot(db)["cursors"] == [(source, cursor)]

    done = runner.invoke(app, ["sources", "reset", source, "--file", DAYS[1], "--yes"])
    assert done.exit_code == 0, done.output
    assert f"the next run reads {DAYS[1]} again" in " ".join(done.stdout.split())
    ((_, moved),) = _snapshot(db)["cursors"]
    assert json.loads(moved) == {"file": DAYS[1], "offset": 0, "ctime": json.loads(cursor)["ctime"]}
    assert _read_from(folder, source, moved) == [*DAYS[1:], landed]


def test_a_single_file_source_is_reset_only_to_its_own_file(project, monkeypatch):
    from flows.runtime.sources import source_name_for

    db = _use_database(monkeypatch, project, "reset-single")
    assert runner.invoke(app, ["init"]).exit_code == 0
    source = source_name_for("reviews.jsonl")
    cursor = _read_to_the_end(db, source, project / "reviews.jsonl")

    # A cursor in another file would stop every later run of this one ("has a cursor in ...").
    other = runner.invoke(app, ["sources", "reset", source, "--file", "feed.jsonl", "--yes"])
    assert other.exit_code == 2
    one_error_line(
        other, "reads one file", "reviews.jsonl, not 'feed.jsonl'", "--file reviews.jsonl"
    )
    assert _snapshot(db)["cursors"] == [(source, cursor)]

    done = runner.invoke(app, ["sources", "reset", source, "--file", "reviews.jsonl", "--yes"])
    assert done.exit_code == 0, done.output
    ((_, moved),) = _snapshot(db)["cursors"]
    assert json.loads(moved)["file"] == "reviews.jsonl" and json.loads(moved)["offset"] == 0
    assert _read_from(project / "reviews.jsonl", source, moved) == ["reviews.jsonl"]


def test_a_source_read_from_another_folder_is_reset_only_to_a_file_it_has_read(
    project, monkeypatch, tmp_path_factory
):
    from flows.runtime.sources import source_name_for

    db = _use_database(monkeypatch, project, "reset-elsewhere")
    assert runner.invoke(app, ["init"]).exit_code == 0
    path = tmp_path_factory.mktemp("elsewhere") / "big.jsonl"
    path.write_text((project / "reviews.jsonl").read_text(encoding="utf-8"), encoding="utf-8")
    source = source_name_for(str(path))  # its input is not in this folder: unknown here
    cursor = _read_to_the_end(db, source, path)

    # A typo used to move the cursor into "big.json", which stopped every later run.
    typo = runner.invoke(app, ["sources", "reset", source, "--file", "big.json", "--yes"])
    assert typo.exit_code == 2
    one_error_line(
        typo, "has read no file 'big.json'", "did you mean 'big.jsonl'?", "nothing was reset"
    )
    assert _snapshot(db)["cursors"] == [(source, cursor)]
    done = runner.invoke(app, ["sources", "reset", source, "--file", "big.jsonl", "--yes"])
    assert done.exit_code == 0, done.output
    assert _read_from(path, source, _snapshot(db)["cursors"][0][1]) == ["big.jsonl"]


@pytest.mark.slow
def test_a_source_stored_with_the_wrong_text_is_deleted_and_read_again_as_a_first_run(
    prefect_server, project, monkeypatch
):
    right_db = _use_database(monkeypatch, project, "right")
    _run("--input", "reviews.csv", "--map", RIGHT_MAP)
    expected = _snapshot(right_db)

    db = _use_database(monkeypatch, project, "wrong-text")
    # Every title is a valid text: nothing is rejected, the posts are stored with the wrong one.
    wrong = _run(
        "--input", "reviews.csv", "--map", "id=review_id,text=review_title,created_at=date"
    )
    assert wrong["new_posts"] == len(REVIEWS) and wrong["rejects"] == 0
    (state,) = json.loads(runner.invoke(app, ["sources", "list", "--format", "json"]).stdout)
    source = state["source"]
    # (A reset and a re-read would keep the posts as first stored.)
    typo = runner.invoke(app, ["sources", "delete", source[:-1], "--yes"])
    assert typo.exit_code == 2
    one_error_line(typo, "has stored nothing", f"did you mean {source!r}?")
    unanswered = runner.invoke(app, ["sources", "delete", source], input="n\n")
    assert unanswered.exit_code == 1 and "nothing was deleted" in unanswered.output
    assert len(_snapshot(db)["posts"]) == len(REVIEWS)
    engine = create_engine(db)  # an ingest of the source is running elsewhere: refused
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO source_leases VALUES (:s, 'elsewhere:42:1', :now, :until)"),
            {
                "s": source,
                "now": datetime.now(UTC).replace(tzinfo=None),
                "until": (datetime.now(UTC) + timedelta(minutes=5)).replace(tzinfo=None),
            },
        )
    # Refused before the question: not after the user has said yes.
    busy = runner.invoke(app, ["sources", "delete", source], input="y\n")
    assert busy.exit_code == 1
    one_error_line(busy, "being read by a running ingest", "nothing was deleted")
    busy = runner.invoke(app, ["sources", "reset", source, "--to-start"], input="y\n")
    assert busy.exit_code == 1
    one_error_line(busy, "being read by a running ingest", "nothing was reset")
    assert len(_snapshot(db)["posts"]) == len(REVIEWS)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM source_leases"))
    engine.dispose()

    done = runner.invoke(app, ["sources", "delete", source], input="y\n")
    assert done.exit_code == 0, done.output
    flat = " ".join(done.stdout.split())
    assert f"deleted {len(REVIEWS)} posts, 0 rejects and 3 batch records" in flat
    assert "its next run reads the whole source again" in flat
    assert all(rows == [] for rows in _snapshot(db).values())

    _run("--input", "reviews.csv", "--map", RIGHT_MAP)
    assert _snapshot(db) == expected
