"""First-day mistakes (issue 15), through the real CLI on real files and SQLite."""

import sqlite3
from datetime import UTC, datetime

import pytest
from support.cli import one_error_line
from typer.testing import CliRunner

from flows.cli import app

runner = CliRunner()
FIELD_LIST = "our fields: text, id, created_at, author, url, brand"


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("SENTIMON_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    return tmp_path / "data"


def _rows(data_dir, sql):
    with sqlite3.connect(data_dir / "sentimon.db") as conn:
        return conn.execute(sql).fetchall()


@pytest.mark.slow
def test_epoch_strings_in_a_csv_are_stored_and_bare_small_numbers_rejected(
    prefect_server, data_dir, tmp_path
):
    (tmp_path / "reviews.csv").write_text(
        "uid,review_body,date\n"
        "r1,great sound and comfy,1795545240\n"
        "r2,the hinge broke in a week,1795545240.5\n"
        "r3,fine for the price,2026-11-25T12:00:00Z\n"
        "r4,battery dies fast,3\n"
        "r5,too tight on my head,12\n"
    )
    result = runner.invoke(
        app,
        [
            "run",
            "--input",
            "reviews.csv",
            "--map",
            "id=uid,text=review_body,created_at=date",
        ],
    )
    assert result.exit_code == 0, result.output
    stored = dict(_rows(data_dir, "SELECT external_id, created_at FROM posts"))
    assert set(stored) == {"r1", "r2", "r3"}
    want = datetime.fromtimestamp(1795545240, UTC).strftime("%Y-%m-%d %H:%M:%S")
    assert stored["r1"].startswith(want)
    assert stored["r2"].startswith(want + ".5")
    rejects = dict(_rows(data_dir, "SELECT external_id, reason FROM rejects"))
    assert set(rejects) == {"r4", "r5"}
    assert all(reason.startswith("unparsable created_at") for reason in rejects.values())
    assert "bare number" in rejects["r4"]


def test_run_help_lists_the_created_at_forms():
    result = runner.invoke(app, ["run", "--help"], terminal_width=200)
    assert result.exit_code == 0
    flat = " ".join(result.stdout.split())
    assert "created_at accepts" in flat
    for form in ("ISO 8601", "RFC 2822", "1795545240.5", "bare small number"):
        assert form in flat


BRANDS = """
[[brands]]
name = "Sonora"
aliases = ["sonora audio"]

[[brands]]
name = "Aurelle"

[[brands]]
name = "Basswerk"
"""


@pytest.fixture
def headphones(data_dir, tmp_path, monkeypatch):
    (tmp_path / "brands.toml").write_text(BRANDS)
    monkeypatch.setenv("SENTIMON_BRANDS", str(tmp_path / "brands.toml"))
    return tmp_path


@pytest.mark.slow
def test_report_brand_matches_any_case_and_an_unknown_brand_lists_the_brands(
    prefect_server, headphones, data_dir
):
    (headphones / "reviews.jsonl").write_text(
        '{"id": "a", "text": "Sonora headphones sound great", "created_at": "2026-11-02"}\n'
        '{"id": "b", "text": "my Aurelle pair broke, awful", "created_at": "2026-11-02"}\n'
        '{"id": "c", "text": "sonora audio is the best I own", "created_at": "2026-11-03"}\n'
        # A brand the source names that the brands file lacks: stored, reported, and asked for.
        '{"id": "d", "text": "love these", "created_at": "2026-11-03", "brand": "Zentro"}\n'
    )
    ingested = runner.invoke(app, ["run", "--input", "reviews.jsonl"])
    assert ingested.exit_code == 0, ingested.output
    assert "nothing new" not in ingested.stderr
    # Run again: nothing is stored twice, and the output says why nothing was read.
    again = runner.invoke(app, ["run", "--input", "reviews.jsonl"])
    assert again.exit_code == 0, again.output
    assert '"read": 0' in again.stdout
    assert "warning: nothing new in reviews-" in again.stderr
    assert "sentimon sources reset reviews-" in again.stderr
    assert "sentimon sources delete reviews-" in " ".join(again.stderr.split())
    exact = runner.invoke(app, ["report", "--format", "csv", "--brand", "Sonora"])
    lower = runner.invoke(app, ["report", "--format", "csv", "--brand", "sonora"])
    alias = runner.invoke(app, ["report", "--format", "csv", "--brand", "SONORA AUDIO"])
    assert exact.exit_code == lower.exit_code == alias.exit_code == 0, lower.output
    assert exact.stdout == lower.stdout == alias.stdout
    rows = lower.stdout.splitlines()
    assert len(rows) == 2 and rows[1].startswith("Sonora,2,")
    stored_only = runner.invoke(app, ["report", "--format", "csv", "--brand", "Zentro"])
    assert stored_only.exit_code == 0, stored_only.output
    assert stored_only.stdout.splitlines()[1].startswith("Zentro,1,")

    typo = runner.invoke(app, ["report", "--brand", "Sonra"])
    assert typo.exit_code == 2
    one_error_line(typo, "unknown brand 'Sonra'", "did you mean 'Sonora'", "Aurelle, Basswerk")
    # A misspelt source would read as a quiet week: it names the sources there are.
    source = runner.invoke(app, ["report", "--source", "reviews"])
    assert source.exit_code == 2
    one_error_line(source, "unknown source 'reviews': did you mean 'reviews-")


def test_an_unknown_brand_is_a_one_line_usage_error_before_any_data(headphones):
    assert runner.invoke(app, ["init"]).exit_code == 0
    result = runner.invoke(app, ["report", "--brand", "Nobody"])
    assert result.exit_code == 2
    line = one_error_line(result, "unknown brand 'Nobody'", "Aurelle, Basswerk, Sonora")
    assert "did you mean" not in line
    known = runner.invoke(app, ["report", "--brand", "basswerk", "--format", "json"])
    assert known.exit_code == 0, known.output


@pytest.mark.parametrize(
    ("since", "until"),
    [("2026-11-10", "2026-11-01"), ("2026-11-10", "2026-11-10"), ("7d", "2020-01-01")],
)
def test_until_not_after_since_is_a_one_line_usage_error(headphones, since, until):
    assert runner.invoke(app, ["init"]).exit_code == 0
    result = runner.invoke(app, ["report", "--since", since, "--until", until])
    assert result.exit_code == 2
    one_error_line(result, f"--until {until} is not after --since {since}")


@pytest.mark.parametrize(
    ("mapping", "fragments"),
    [
        (
            "review_body=text",
            ["--map review_body=text", "did you mean text=review_body?", FIELD_LIST],
        ),
        ("text=review_body,stars=rating", ["'stars' is not one of our fields", FIELD_LIST]),
        ("text=review_body,text=title", ["--map names text twice"]),
        ("text", ["use ours=theirs pairs"]),
    ],
)
def test_a_wrong_map_is_a_one_line_usage_error_before_anything_starts(
    data_dir, tmp_path, mapping, fragments
):
    (tmp_path / "reviews.csv").write_text("uid,review_body,rating\nr1,great,5\n")
    result = runner.invoke(app, ["run", "--input", "reviews.csv", "--map", mapping])
    assert result.exit_code == 2
    one_error_line(result, *fragments)
    assert not data_dir.exists()  # no database, no cursor: nothing was read


@pytest.mark.parametrize(
    ("mapping", "fragments"),
    [
        (["--map", "text=reviw"], ["reviews.csv has no column for text=reviw", "uid, review"]),
        (["--map", "text=review,created_at=when"], ["created_at=when"]),
        ([], ["no column for text=text", "uid, review, rating", "did you mean text=review?"]),
    ],
)
def test_a_mapped_column_the_csv_lacks_is_a_usage_error_before_anything_is_read(
    data_dir, tmp_path, mapping, fragments
):
    (tmp_path / "reviews.csv").write_text("uid,review,rating\nr1,great,5\n")
    result = runner.invoke(app, ["run", "--input", "reviews.csv", *mapping])
    assert result.exit_code == 2
    one_error_line(result, *fragments)
    assert not data_dir.exists()  # no database, no cursor: the corrected run reads it all


def test_the_cli_knows_the_fields_validation_maps():
    from flows.cli.app import INGEST_FIELDS
    from pipeline.sources.validate import FIELDS

    assert sorted(INGEST_FIELDS) == sorted(FIELDS)


@pytest.mark.parametrize(
    ("header", "mapping", "suggested"),
    [
        # "review_id" is the nearer spelling, but mapping it would store ids as the texts.
        (
            "review_id,review_body,stars,posted",
            "text=review_text",
            "did you mean text=review_body?",
        ),
        ("review_id,review_body,stars,posted", None, "did you mean text=review_body?"),
        ("ReviewID,createdAt,msg", None, "did you mean text=msg?"),
        # "posted_on" holds the word "post", "reviewer" "review": neither is a text column.
        (
            "review_id,review_body,headline,posted_on,reviewer,product_brand,stars",
            None,
            "did you mean text=review_body?",
        ),
        ("id,date", None, "e.g. text=COLUMN"),
        ("review_id,review_body", "text=review_body,id=reviewid", "did you mean id=review_id?"),
    ],
)
def test_the_suggested_text_column_is_one_that_can_hold_text(
    data_dir, tmp_path, header, mapping, suggested
):
    (tmp_path / "reviews.csv").write_text(
        header + "\n" + ",".join(["x"] * header.count(",")) + ",y\n"
    )
    args = ["run", "--input", "reviews.csv", *(["--map", mapping] if mapping else [])]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    one_error_line(result, suggested)
    assert not data_dir.exists()


@pytest.mark.parametrize("separator, name", [(";", "semicolon"), ("\t", "tab")])
def test_a_csv_with_another_separator_is_named_as_such(data_dir, tmp_path, separator, name):
    header = separator.join(["review_id", "review_body", "stars"])
    (tmp_path / "reviews.csv").write_text(f"{header}\n" + separator.join(["r1", "great", "5"]))
    result = runner.invoke(app, ["run", "--input", "reviews.csv", "--map", "text=review_body"])
    assert result.exit_code == 2
    one_error_line(result, f"reviews.csv looks {name}-separated", "save it as CSV with commas")
    assert not data_dir.exists()


@pytest.mark.parametrize(
    ("name", "body", "said"),
    [
        ("reviews.tsv", "id\ttext\nr1\tgreat\n", "reviews.tsv is tab-separated"),
        (
            "reviews.json",
            '[\n  {"id": "r1", "text": "great"}\n]\n',
            "reviews.json holds a JSON array: sentimon reads JSON lines",
        ),
    ],
)
def test_a_format_read_as_something_else_is_named_before_anything_is_read(
    data_dir, tmp_path, name, body, said
):
    (tmp_path / name).write_text(body)
    result = runner.invoke(app, ["run", "--input", name])
    assert result.exit_code == 1
    one_error_line(result, said)
    assert not data_dir.exists()


def test_a_report_on_a_misspelt_sqlite_path_leaves_no_file(data_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("SENTIMON_DATABASE_URL", f"sqlite:///{tmp_path / 'sentimn.db'}")
    result = runner.invoke(app, ["report"])
    assert result.exit_code == 1
    one_error_line(result, "no results database at", "fix SENTIMON_DATABASE_URL")
    assert not list(tmp_path.glob("sentimn.db*"))
    html = runner.invoke(app, ["report", "--format", "html"])  # the way to an HTML page
    assert html.exit_code == 2 and "--html" in html.output


@pytest.mark.slow
def test_a_folder_another_source_read_is_refused_under_a_new_name(
    prefect_server, data_dir, tmp_path
):
    # The demo's landing folder given to `run --input` became a second source that stored
    # every post again (and doubled the reports' volumes). Naming the source is the way to
    # say a second copy is meant.
    landing = tmp_path / "landing"
    landing.mkdir()
    for day in (1, 2):
        row = f'{{"id": "{day}", "text": "great sound {day}", "created_at": "2026-11-0{day}"}}'
        (landing / f"p{day}.jsonl").write_text(row + "\n", encoding="utf-8")
    first = runner.invoke(
        app, ["run", "--input", "landing", "--source", "mine", "--settle-seconds", "0"]
    )
    assert first.exit_code == 0, first.output
    again = runner.invoke(app, ["run", "--input", "landing", "--settle-seconds", "0"])
    assert again.exit_code == 2
    one_error_line(
        again,
        "--input landing: p2.jsonl was read already by source 'mine' (2 posts stored)",
        "`sentimon run --input landing --source mine` reads on",
    )
    one_file = runner.invoke(app, ["run", "--input", "landing/p2.jsonl"])
    assert one_file.exit_code == 2
    assert _rows(data_dir, "SELECT count(*) FROM posts") == [(2,)]
    # Its own name reads on (nothing new); a new name stores a second copy, as asked.
    resumed = runner.invoke(app, ["run", "--input", "landing", "--source", "mine"])
    assert resumed.exit_code == 0, resumed.output
    copy = runner.invoke(
        app, ["run", "--input", "landing", "--source", "copy", "--settle-seconds", "0"]
    )
    assert copy.exit_code == 0, copy.output
    assert _rows(data_dir, "SELECT count(*) FROM posts") == [(4,)]
