"""First-day mistakes answered before Prefect and the model start (issue 15), and the report's
checks: through the real CLI on real files and real SQLite (PostgreSQL where the URL matters),
each with its exit code, its one line and what the database holds after it."""

import os
import shutil
import sqlite3
import subprocess
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from support.cli import heavy_imports_of, one_error_line
from typer.testing import CliRunner

from flows.cli import app

runner = CliRunner()


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A working folder with a good CSV; the data folder (not created) under it."""
    monkeypatch.setenv("SENTIMON_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "reviews.csv").write_text("id,text\nr1,great sound\nr2,the hinge broke\n")
    return tmp_path


def _tables(path):
    """Row counts of the tables a run writes, or None when there is no database file."""
    if not path.exists():
        return None
    with sqlite3.connect(path) as conn:
        return {
            table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("posts", "rejects", "batches", "source_cursors")
        }


def _run(*args, env=None):
    return runner.invoke(app, ["run", *args], env=env)


# --- the input, the config files and the settings ------------------------------------------


def test_a_missing_input_is_a_usage_error_with_did_you_mean(project):
    result = _run("--input", "reviws.csv")
    assert result.exit_code == 2
    one_error_line(result, "--input reviws.csv does not exist", "did you mean reviews.csv?")
    assert not (project / "data").exists()  # nothing created, nothing read


def test_a_missing_input_folder_says_so(project):
    result = _run("--input", "landing/today")
    assert result.exit_code == 2
    one_error_line(result, "does not exist", "there is no folder landing")


def test_no_input_and_no_source_is_a_usage_error(project):
    result = _run()
    assert result.exit_code == 2
    one_error_line(result, "give --input PATH_OR_URL, or --source NAME")


@pytest.mark.parametrize(
    ("url", "fragments"),
    [
        ("sqlite:///shop.db", ["a sql source needs cursor_column"]),
        (
            "sqlite:///nowhere.db?table=reviews&cursor=id",
            ["the database file nowhere.db does not exist"],
        ),
    ],
)
def test_an_ad_hoc_sql_input_is_checked_before_it_is_opened(project, url, fragments):
    result = _run("--input", url)
    assert result.exit_code == 2
    one_error_line(result, *fragments)
    assert not (project / "nowhere.db").exists()  # opening it would have created it


BROKEN_BRANDS = '[[brands]]\nname = "Sonora"\naliases = ["sonora audio",\nhandles = ["@sonora"]\n'


def test_a_brands_file_with_a_toml_error_names_file_and_line(project, monkeypatch):
    (project / "brands.toml").write_text(BROKEN_BRANDS)
    monkeypatch.setenv("SENTIMON_BRANDS", "brands.toml")
    result = _run("--input", "reviews.csv")
    assert result.exit_code == 1
    one_error_line(result, "brands file brands.toml:4: not valid TOML")
    assert not (project / "data").exists()


def test_a_sentimon_toml_with_a_toml_error_names_file_and_line(project):
    (project / "sentimon.toml").write_text('[sources.reviews]\nkind = "files"\npath = "in\n')
    result = _run("--source", "reviews")
    assert result.exit_code == 1
    one_error_line(result, "sentimon.toml:3: not valid TOML")


def test_sentimon_config_naming_a_missing_file_is_an_error(project, monkeypatch):
    monkeypatch.setenv("SENTIMON_CONFIG", "sentimon-prod.toml")
    result = _run("--input", "reviews.csv")
    assert result.exit_code == 1
    one_error_line(result, "SENTIMON_CONFIG names sentimon-prod.toml, which does not exist")


def test_an_unknown_source_lists_the_known_ones(project):
    (project / "in").mkdir()
    (project / "sentimon.toml").write_text('[sources.reviews]\nkind = "files"\npath = "in"\n')
    result = _run("--source", "review")
    assert result.exit_code == 2  # a name nothing knows
    one_error_line(
        result, "no source 'review' in sentimon.toml (did you mean 'reviews'? known: reviews)"
    )


def test_a_setting_of_the_wrong_kind_is_one_line(project, monkeypatch):
    monkeypatch.setenv("SENTIMON_WORKERS", "four")
    result = _run("--input", "reviews.csv")
    assert result.exit_code == 1
    one_error_line(result, "SENTIMON_WORKERS='four'", "valid integer")


# --- the results database ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "fragments"),
    [
        ("foo", ["SENTIMON_DATABASE_URL 'foo' is not a database URL", "sqlite:///PATH"]),
        ("mysql://me@localhost/reviews", ["mysql is not supported", "SQLite or PostgreSQL"]),
        ("postgresql+psycopg2://me@localhost/db", ["the psycopg2 driver is not installed"]),
        ("postgresql://me:secret@127.0.0.1:1/db", ["cannot be reached", "Connection refused"]),
    ],
)
def test_a_wrong_database_url_is_one_line(project, monkeypatch, url, fragments):
    monkeypatch.setenv("SENTIMON_DATABASE_URL", url)
    result = _run("--input", "reviews.csv")
    assert result.exit_code == 1
    line = one_error_line(result, *fragments)
    assert "secret" not in line
    assert "Traceback" not in result.output


OTHER_COMMANDS = [
    ["init"],
    ["report"],
    ["models", "list"],
    ["sources", "list"],
    ["rejects", "list"],
    ["label", "export"],
    ["score", "great sound"],
    ["backfill", "--model", "lstm-20261130-012d38e5"],
]


@pytest.mark.parametrize("command", OTHER_COMMANDS, ids=" ".join)
@pytest.mark.parametrize(
    ("url", "fragments"),
    [
        ("foo", ["SENTIMON_DATABASE_URL 'foo' is not a database URL"]),
        ("mysql://me@localhost/reviews", ["mysql is not supported"]),
        ("postgresql://me:secret@127.0.0.1:1/db", ["cannot be reached", "Connection refused"]),
    ],
    ids=["not-a-url", "mysql", "refused"],
)
def test_every_command_says_a_wrong_database_url_in_one_line(
    project, monkeypatch, command, url, fragments
):
    # `run` checks the database before it starts; the others meet it when they first open it.
    monkeypatch.setenv("SENTIMON_DATABASE_URL", url)
    result = runner.invoke(app, command)
    assert result.exit_code == 1, result.output
    line = one_error_line(result, *fragments)
    assert "secret" not in line


def test_backfill_with_a_misspelt_version_is_one_line_before_prefect(project):
    assert runner.invoke(app, ["init"]).exit_code == 0
    status, imported, stderr = heavy_imports_of(["backfill", "--model", "lstm-nope"], project)
    assert (status, imported) == ("exit 2", "[]"), stderr
    assert " ".join(stderr.split()).startswith(
        "error: model version 'lstm-nope' is not registered (known: lstm-"
    )


def test_an_empty_setting_is_the_default_not_the_current_folder(project, monkeypatch):
    for name in ("SENTIMON_CONFIG", "SENTIMON_LEXICON", "SENTIMON_BRANDS"):
        monkeypatch.setenv(name, "")
    result = runner.invoke(app, ["score", "great sound"])
    assert result.exit_code == 0, result.output
    assert '"label"' in result.output


def test_a_failed_statement_is_not_said_as_an_unreachable_server():
    from sqlalchemy.exc import OperationalError

    from flows.runtime.preflight import database_unreachable

    connecting = OperationalError(None, None, Exception("connection refused"))
    assert "cannot be reached: connection refused" in str(database_unreachable(connecting))
    locked = OperationalError("UPDATE model_versions SET active = 1", {}, Exception("locked"))
    assert str(database_unreachable(locked)) == "the results database failed: locked"


def test_a_postgresql_database_that_does_not_exist_is_one_line(project, monkeypatch):
    url = os.environ.get("SENTIMON_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("SENTIMON_TEST_POSTGRES_URL not set: PostgreSQL tests skipped")
    base = url.rsplit("/", 1)[0]
    monkeypatch.setenv("SENTIMON_DATABASE_URL", f"{base}/sentimon_no_such_db")
    result = _run("--input", "reviews.csv")
    assert result.exit_code == 1
    one_error_line(result, "cannot be reached", 'database "sentimon_no_such_db" does not exist')


def test_a_reachable_postgresql_database_passes_the_checks(project, pg_schema_url):
    from flows.runtime.preflight import check_database

    check_database(pg_schema_url)  # no error, and nothing written
    from sqlalchemy import create_engine

    engine = create_engine(pg_schema_url)
    with engine.connect() as conn:
        n = conn.execute(
            text(
                "SELECT count(*) FROM information_schema.tables "
                "WHERE table_schema = ANY(current_schemas(false))"
            )
        ).scalar_one()
    engine.dispose()
    assert n == 0


@pytest.fixture
def initialised(project):
    """A results database made by `sentimon init`, with one post; its path."""
    assert runner.invoke(app, ["init"]).exit_code == 0
    path = project / "data" / "sentimon.db"
    with sqlite3.connect(path) as conn:
        conn.execute(
            "INSERT INTO posts (source, external_id, text, created_at, ingested_at) "
            "VALUES ('s', 'p1', 'kept', '2026-11-01 12:00:00', '2026-11-01 12:00:00')"
        )
    return path


@pytest.fixture
def read_only():
    """read_only(path): make a file or folder unwritable for this user, even root (chattr +i);
    undone afterwards."""
    undo = []

    def make(path):
        if os.geteuid() == 0:
            if (
                shutil.which("chattr") is None
                or subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode
            ):
                pytest.skip("root without chattr +i: cannot make a read-only file")
            undo.append(["chattr", "-i", str(path)])
        else:
            mode = path.stat().st_mode
            path.chmod(0o555 if path.is_dir() else 0o444)
            undo.append(lambda: path.chmod(mode))

    yield make
    for step in reversed(undo):
        if callable(step):
            step()
        else:
            subprocess.run(step, check=True)


def test_a_read_only_database_file_is_one_line_without_run_again(initialised, read_only):
    before = _tables(initialised)
    read_only(initialised)
    result = _run("--input", "reviews.csv")
    assert result.exit_code == 1
    line = one_error_line(result, f"the results database {initialised} is read-only")
    assert "run again" not in line and "INSERT" not in line
    assert (
        _tables(initialised)
        == before
        == {
            "posts": 1,
            "rejects": 0,
            "batches": 0,
            "source_cursors": 0,
        }
    )


def test_a_read_only_database_folder_is_one_line_without_run_again(initialised, read_only):
    before = _tables(initialised)
    read_only(initialised.parent)
    result = _run("--input", "reviews.csv")
    assert result.exit_code == 1
    line = one_error_line(result, "folder", "is read-only for this user", "journal")
    assert "run again" not in line
    assert _tables(initialised) == before


def test_a_read_only_uri_is_one_line(initialised, monkeypatch):
    monkeypatch.setenv("SENTIMON_DATABASE_URL", f"sqlite:///file:{initialised}?mode=ro&uri=true")
    result = _run("--input", "reviews.csv")
    assert result.exit_code == 1
    one_error_line(result, "opened read-only (mode=ro", "drop mode=ro")
    assert _tables(initialised)["posts"] == 1


def test_a_file_that_is_no_sqlite_database_is_one_line(project, monkeypatch):
    (project / "notes.db").write_text("my notes\n")
    monkeypatch.setenv("SENTIMON_DATABASE_URL", "sqlite:///notes.db")
    result = _run("--input", "reviews.csv")
    assert result.exit_code == 1
    one_error_line(result, "notes.db is not an SQLite database")
    assert (project / "notes.db").read_text() == "my notes\n"


def test_a_database_failing_during_a_run_for_good_does_not_say_run_again(initialised):
    """What the run reports when the database refuses a write after the checks passed."""
    from sqlalchemy import create_engine
    from sqlalchemy.exc import DBAPIError

    from flows.runtime.preflight import database_failure
    from pipeline.errors import DatabaseFailedError, DatabaseUnavailableError

    engine = create_engine(f"sqlite:///file:{initialised}?mode=ro&uri=true")
    with pytest.raises(DBAPIError) as caught, engine.begin() as conn:
        conn.execute(text("DELETE FROM posts"))
    engine.dispose()
    err = database_failure(caught.value)
    assert isinstance(err, DatabaseUnavailableError)
    assert "readonly database" in str(err) and "run again" not in str(err)
    assert "DELETE" not in str(err)  # the driver's message, not the statement

    locked = sqlite3.OperationalError("database is locked")
    passing = database_failure(DBAPIError("INSERT ...", {}, locked))
    assert isinstance(passing, DatabaseFailedError) and "run again to resume" in str(passing)


# --- tracebacks only on request; nothing heavy imported before the checks ---------------------


@pytest.mark.parametrize("how", [["--debug"], "SENTIMON_DEBUG"])
def test_debug_adds_the_traceback(project, monkeypatch, how):
    if how == "SENTIMON_DEBUG":
        monkeypatch.setenv("SENTIMON_DEBUG", "1")
        args = []
    else:
        args = how
    result = runner.invoke(app, [*args, "run", "--input", "nope.csv"])
    assert result.exit_code == 2
    assert result.output.startswith("error: --input nope.csv does not exist")
    assert "Traceback" in result.output and "check_input_path" in result.output


def test_without_debug_there_is_no_traceback(project):
    result = _run("--input", "nope.csv")
    assert "Traceback" not in result.output


def test_the_checks_import_neither_prefect_nor_torch(project):
    """The reason a mistake answers in about a second rather than 15 (README, Configuration)."""
    env = {**os.environ, "SENTIMON_DATABASE_URL": "mysql://me@localhost/db"}
    status, imported, stderr = heavy_imports_of(["run", "--input", "reviews.csv"], project, env)
    assert (status, imported) == ("exit 1", "[]"), stderr
    assert "mysql is not supported" in stderr


@pytest.mark.parametrize("command", [["run", "--input", "reviews.csv"], ["score", "fine"]])
def test_a_bad_team_lexicon_value_is_one_line_before_prefect_and_torch(project, command):
    (project / "team.toml").write_text("[terms]\nbricked = -30\n")
    env = {**os.environ, "SENTIMON_LEXICON": str(project / "team.toml")}
    status, imported, stderr = heavy_imports_of(command, project, env)
    assert (status, imported) == ("exit 1", "[]"), stderr
    assert stderr.startswith("error: team lexicon") and "out of range" in stderr
    assert len(stderr.strip().splitlines()) == 1, stderr


@pytest.mark.parametrize(
    ("name", "content"), [("empty.csv", ""), ("header.csv", "id,text\n"), ("empty.jsonl", "")]
)
def test_an_input_with_no_record_is_said_before_prefect_and_torch(project, name, content):
    (project / name).write_text(content)
    status, imported, stderr = heavy_imports_of(["run", "--input", name], project)
    assert (status, imported) == ("exit 0", "[]"), stderr
    flat = " ".join(stderr.split())
    assert flat.startswith(f"warning: nothing new in {name.split('.')[0]}-"), stderr
    tables = _tables(project / "data" / "sentimon.db")
    assert tables is None or not any(tables.values())


def test_a_rerun_with_nothing_new_is_said_before_prefect_and_torch(project):
    from db.engine import make_engine
    from db.partitions import set_cursor
    from flows.runtime.sources import source_name_for
    from pipeline.sources import FileSource

    assert runner.invoke(app, ["init"]).exit_code == 0
    source = source_name_for("reviews.csv")  # read to its end, as a run leaves it
    read = FileSource(project / "reviews.csv", source, settle_seconds=0).read_batch(None, 10)
    engine = make_engine(f"sqlite:///{project / 'data' / 'sentimon.db'}")
    with engine.begin() as conn:
        set_cursor(conn, source, read.cursor_to)
    engine.dispose()
    status, imported, stderr = heavy_imports_of(["run", "--input", "reviews.csv"], project)
    assert (status, imported) == ("exit 0", "[]"), stderr
    flat = " ".join(stderr.split())
    assert flat.startswith(f"warning: nothing new in {source}"), stderr
    assert f"`sentimon sources delete {source}` removes them first" in flat
    # Grown since: the flow runs (it is not said to have nothing to read).
    with (project / "reviews.csv").open("a") as fh:
        fh.write("r3,one more\n")
    from flows.runtime.config import load_config
    from flows.runtime.first_read import check_first_read
    from flows.runtime.settings import Settings
    from flows.runtime.sources import resolve_source, with_run_options

    settings = Settings()
    resolved = resolve_source(load_config(settings.config), None, "reviews.csv")
    assert (
        check_first_read(settings.db_url, with_run_options(resolved, 0, None, False), None, None)
        is None
    )


def test_an_active_model_moved_away_is_one_line_before_prefect_and_torch(project):
    import shutil

    from db.engine import make_engine
    from db.registry import activate_model_version, register_model_version
    from flows.runtime.settings import BUNDLED_MODEL
    from pipeline.model.manifest import read_manifest, sha256_bytes

    assert runner.invoke(app, ["init"]).exit_code == 0
    copy = project / "data" / "models" / "mine"
    shutil.copytree(BUNDLED_MODEL, copy)
    engine = make_engine(f"sqlite:///{project / 'data' / 'sentimon.db'}")
    with engine.begin() as conn:
        version = read_manifest(copy).version + "-copy"
        sha256 = sha256_bytes((copy / "manifest.json").read_bytes())
        register_model_version(conn, version, str(copy), sha256, {})
        activate_model_version(conn, version)
    engine.dispose()
    copy.rename(project / "data" / "models" / "elsewhere")

    status, imported, stderr = heavy_imports_of(["run", "--input", "reviews.csv"], project)
    assert (status, imported) == ("exit 1", "[]"), stderr
    assert stderr.startswith(f"error: the active model's directory {copy} is missing")
    assert len(stderr.strip().splitlines()) == 1, stderr


@pytest.mark.parametrize("command", [["run", "--input", "reviews.csv"], ["score", "fine"]])
def test_a_team_lexicon_that_is_not_there_is_the_same_one_line_everywhere(project, command):
    result = runner.invoke(app, command, env={"SENTIMON_LEXICON": "team-lexicn.toml"})
    assert result.exit_code == 1
    one_error_line(
        result,
        "team lexicon team-lexicn.toml not found: fix SENTIMON_LEXICON or `lexicon` in "
        "sentimon.toml, or remove it",
    )


# --- reports ---------------------------------------------------------------------------------

BRANDS = '[[brands]]\nname = "Sonora"\n\n[[brands]]\nname = "Aurelle"\n'


@pytest.fixture
def reported(project, monkeypatch):
    """A database with scored and non-English posts of two brands, 2026-11-02 to 11-04."""
    from db import repository
    from db.engine import make_engine
    from flows.runtime.model_dirs import prepare_database
    from flows.runtime.settings import Settings
    from pipeline.records import Batch, Post, Prediction, ScoredPost

    (project / "brands.toml").write_text(BRANDS)
    monkeypatch.setenv("SENTIMON_BRANDS", "brands.toml")
    settings = Settings()
    engine = make_engine(settings.db_url)
    prepare_database(engine, settings.data_dir)
    with engine.connect() as conn:
        version = repository.active_model_version(conn).version

    def post(pid, day, brand, lang="en"):
        created = datetime(2026, 11, day, 12, tzinfo=UTC)
        p = Post(source="reviews", external_id=pid, text=f"text {pid}", created_at=created)
        pred = Prediction("positive", 0.1, 0.2, 0.7, version) if lang == "en" else None
        return ScoredPost(post=p, brands=(brand,), prediction=pred, lang=lang)

    batch = Batch(
        source="reviews",
        cursor_from=None,
        cursor_to="1",
        scored=[
            post("a", 2, "Sonora"),
            post("b", 3, "Aurelle"),
            post("c", 3, "Sonora", lang="de"),
            post("d", 4, "Aurelle", lang="fr"),
            post("e", 4, "Aurelle", lang="fr"),
        ],
    )
    with engine.begin() as conn:
        repository.commit_batch(conn, batch)
    engine.dispose()
    return project


@pytest.mark.parametrize(
    ("period", "fragments"),
    [
        (
            ["--since", "2026-10-01", "--until", "2026-10-08"],
            ["no posts between 2026-10-01 and 2026-10-08 (UTC)"],
        ),
        (["--since", "2026-12-01"], ["no posts since 2026-12-01 (UTC)"]),
        (["--until", "2026-11-01"], ["no posts before 2026-11-01 (UTC)"]),
    ],
)
def test_an_empty_period_says_when_the_posts_were_written(reported, period, fragments):
    result = runner.invoke(app, ["report", *period])
    assert result.exit_code == 2
    one_error_line(
        result, *fragments, "the 5 posts were written from 2026-11-02 12:00 to 2026-11-04 12:00"
    )


def test_a_report_before_backfill_says_why_it_has_no_rows_instead_of_an_empty_table(reported):
    from db import repository
    from db.engine import make_engine
    from db.registry import activate_model_version, register_model_version
    from flows.runtime.settings import Settings

    engine = make_engine(Settings().db_url)
    with engine.begin() as conn:  # another version activated, nothing backfilled yet
        active = repository.active_model_version(conn)
        register_model_version(conn, "lstm-newer", active.path, active.sha256, {})
        activate_model_version(conn, "lstm-newer")
    engine.dispose()
    result = runner.invoke(app, ["report"])
    assert result.exit_code == 0, result.output
    assert " ".join(result.output.split()) == (
        "warning: no stored post has a label of the active model lstm-newer yet: "
        "`sentimon backfill` scores them with it"
    )


def test_an_empty_period_of_a_source_and_a_source_without_posts(reported):
    result = runner.invoke(app, ["report", "--since", "2030-01-01", "--source", "reviews"])
    assert result.exit_code == 2
    one_error_line(result, "no posts of source reviews since 2030-01-01")
    # A source the database has no figures for is named as unknown, with those it has.
    result = runner.invoke(app, ["report", "--since", "2026-11-01", "--source", "shop"])
    assert result.exit_code == 2
    one_error_line(result, "unknown source 'shop': the sources are reviews")


def test_a_period_with_posts_reports(reported):
    result = runner.invoke(app, ["report", "--since", "2026-11-03", "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0].startswith("brand,")


def test_the_not_english_count_follows_brand(reported):
    def title(*args):
        result = runner.invoke(app, ["report", "--format", "md", *args])
        assert result.exit_code == 0, result.output
        return result.stdout.splitlines()[0]

    assert "not English: 3 (de 1, fr 2)" in title()
    assert "not English: 1 (de 1)" in title("--brand", "sonora")
    assert "not English: 2 (fr 2)" in title("--brand", "Aurelle")
    assert "not English" not in title("--brand", "Aurelle", "--until", "2026-11-04")


def test_a_broken_brands_file_is_an_error_not_a_fallback(reported):
    (reported / "brands.toml").write_text(BROKEN_BRANDS)
    for args in ([], ["--brand", "Sonora"]):
        result = runner.invoke(app, ["report", *args])
        assert result.exit_code == 1
        one_error_line(result, "brands file brands.toml:4: not valid TOML")


@pytest.mark.parametrize("option", ["--chart", "--html"])
def test_an_output_in_a_missing_folder_is_one_line(reported, option):
    result = runner.invoke(app, ["report", option, "out/report.file"])
    assert result.exit_code == 2
    one_error_line(result, f"{option} out/report.file: there is no folder out", "mkdir -p out")
    assert not (reported / "out").exists()


def test_an_output_that_is_a_folder_is_one_line(reported):
    (reported / "out").mkdir()
    result = runner.invoke(app, ["report", "--chart", "out"])
    assert result.exit_code == 2
    one_error_line(result, "--chart out is a folder")


def test_copies_are_counted_in_words():
    from pipeline.report.text import copies_text

    assert [copies_text(n) for n in (1, 2, 0)] == ["1 copy", "2 copies", "0 copies"]


# --- help --------------------------------------------------------------------------------------


def test_help_at_80_columns_keeps_examples_whole():
    run_help = runner.invoke(app, ["run", "--help"], terminal_width=80).stdout
    assert "…" not in run_help
    assert "text=review,id=uid" in run_help
    flat = " ".join(run_help.split())
    assert "Records per micro-batch" in flat and "default 500" in flat
    assert "Stop after this many batches" in flat
    train_help = runner.invoke(app, ["train", "--help"], terminal_width=80).stdout
    assert "…" not in train_help and "text=review,label=stars" in train_help
    assert "created_at" not in train_help


def test_top_level_help_names_the_settings():
    flat = " ".join(runner.invoke(app, ["--help"], terminal_width=100).stdout.split())
    for name in ("SENTIMON_DATABASE_URL", "SENTIMON_BRANDS", "SENTIMON_DATA_DIR", "--debug"):
        assert name in flat


# --- what a run and `sentimon score` say ---------------------------------------------------


@pytest.mark.slow
def test_the_run_summary_counts_rejects_by_reason(prefect_server, project):
    import json

    (project / "reviews.csv").write_text(
        "id,text,created_at\n"
        "r1,great sound,2026-11-02\n"
        "r2,the hinge broke,2026-11-02\n"
        "r3,comfy,3\n"
        "r4,too tight,12\n"
        'r5," ",2026-11-02\n'
    )
    result = _run("--input", "reviews.csv")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout[result.stdout.index("{") :])
    assert summary["rejects"] == 3
    assert summary["reject_reasons"] == {"unparsable created_at": 2, "empty text": 1}
    assert _tables(project / "data" / "sentimon.db") == {
        "posts": 2,
        "rejects": 3,
        "batches": 1,
        "source_cursors": 1,
    }


def test_a_reason_loses_its_details():
    from flows.runtime.batch import reason_kind

    assert reason_kind("unparsable created_at: '3' is a bare number") == "unparsable created_at"
    assert reason_kind("text over the size limit (25000 > 20000 chars)") == (
        "text over the size limit"
    )
    assert reason_kind("empty text") == "empty text"


@pytest.mark.slow
def test_score_says_which_texts_ingestion_would_not_score(project):
    import json

    german = "Das ist wirklich ein sehr schlechtes Produkt, ich bin sehr enttäuscht davon."
    result = runner.invoke(app, ["score", "", "great headphones, love them", german, "  "])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["label"] for line in lines] == [None, "positive", None, None]
    assert lines[0]["skipped"] == lines[3]["skipped"] == "empty text: ingestion rejects it"
    assert lines[2]["skipped"].startswith("not English (de)")
    assert "skipped" not in lines[1] and lines[1]["score"] > 0
    assert all(line["model_version"] == lines[1]["model_version"] for line in lines)


def test_training_without_the_lexicon_files_is_one_line_before_it_starts(project):
    config = project / "train.toml"
    config.write_text('[train]\nlexicons = ["vader", "textblob", "emoji"]\n', encoding="utf-8")
    result = runner.invoke(app, ["train", "--config", str(config), "--limit", "100"])
    assert result.exit_code == 1
    one_error_line(result, "Emoji_Sentiment_Data_v1.0.csv not found under", "make lexicons")
    assert not (project / "data" / "models").exists()


@pytest.mark.parametrize(
    ("args", "status", "said"),
    [
        (["train", "--config", "nope.toml"], "exit 2", "--config nope.toml does not exist"),
        (
            ["train", "--config", "typo.toml"],
            "exit 1",
            "unknown training settings ['epochz'] (did you mean 'epochs'?)",
        ),
        (
            ["train", "--base", "v", "--data", "labels.csv", "--config", "typo.toml"],
            "exit 2",
            "--config typo.toml applies to training from scratch",
        ),
        (
            ["train", "--base", "v", "--data", "labels.csv", "--holdout", "1.5"],
            "exit 2",
            "--holdout 1.5: give a share between 0 and 1",
        ),
        (["evaluate", "--format", "xml"], "exit 2", "--format is table or json"),
        (
            ["run", "--input", "reviews.csv", "--task-runner", "proc"],
            "exit 2",
            "--task-runner 'proc': use one of threads, dask",
        ),
    ],
)
def test_option_mistakes_are_said_before_prefect_and_torch_load(project, args, status, said):
    """Each was said after Prefect and torch loaded (4-11 s, some after ERROR log lines)."""
    (project / "typo.toml").write_text("[train]\nepochz = 3\n")
    (project / "labels.csv").write_text("text,label\ngreat,positive\nawful,negative\n")
    got, imported, stderr = heavy_imports_of(args, project)
    assert (got, imported) == (status, "[]"), stderr
    assert said in " ".join(stderr.split()), stderr


def _reviews_db(path):
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (k TEXT, ts INTEGER, body TEXT)")
        conn.execute("INSERT INTO t VALUES ('k1', 1, 'great sound')")


def test_a_table_sentimon_toml_reads_is_not_read_again_under_a_new_name(project):
    _reviews_db(project / "shop.db")
    (project / "sentimon.toml").write_text(
        '[sources.shop]\nkind = "sql"\nurl = "sqlite:///shop.db"\ntable = "t"\n'
        'cursor_column = "ts"\n'
    )
    status, imported, stderr = heavy_imports_of(
        ["run", "--input", f"sqlite:///{project}/shop.db?table=t&cursor=ts"], project
    )
    assert (status, imported) == ("exit 2", "[]"), stderr
    assert "table 't' there is source 'shop' of sentimon.toml; `sentimon run --source shop`" in (
        " ".join(stderr.split())
    )


def test_a_source_named_by_its_table_alone_asks_which_way(project):
    """An earlier sentimon named every ad hoc table by itself: whether the stored 't' read
    this database only the user knows, and either guess could lose or double rows."""
    from db.engine import make_engine
    from db.partitions import set_cursor
    from flows.runtime.sources import adhoc_source

    _reviews_db(project / "b.db")
    assert runner.invoke(app, ["init"]).exit_code == 0
    engine = make_engine(f"sqlite:///{project}/data/sentimon.db")
    with engine.begin() as conn:
        set_cursor(conn, "t", "5")
    engine.dispose()
    url = "sqlite:///b.db?table=t&cursor=ts&id=k"
    status, _, stderr = heavy_imports_of(["run", "--input", url], project)
    said = " ".join(stderr.split())
    assert status == "exit 2", stderr
    new_name = adhoc_source(url).name
    assert "a source 't' is stored" in said and "`--source t` reads on" in said
    assert f"`--source {new_name}` reads this one as a new source" in said


@pytest.mark.parametrize("command", [["init"], ["run", "--input", "reviews.csv"]], ids=" ".join)
def test_a_postgresql_search_path_without_a_schema_is_one_line(project, monkeypatch, command):
    """Every CREATE TABLE would fail with "no schema has been selected": said before any."""
    url = os.environ.get("SENTIMON_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("SENTIMON_TEST_POSTGRES_URL not set: PostgreSQL tests skipped")
    monkeypatch.setenv("SENTIMON_DATABASE_URL", f"{url}?options=-csearch_path%3Dsentimon_nope")
    result = runner.invoke(app, command)
    assert result.exit_code == 1, result.output
    one_error_line(result, "has no schema to write to: its search_path (sentimon_nope)")


def test_init_says_a_data_folder_it_cannot_make_in_one_line(project, monkeypatch):
    monkeypatch.setenv("SENTIMON_DATA_DIR", "/proc/sentimon-nope")
    result = runner.invoke(app, ["init"])
    assert result.exit_code == 1, result.output
    one_error_line(result, "folder cannot be created", "/proc/sentimon-nope")


@pytest.mark.parametrize(
    ("options", "status", "said"),
    [
        ('table = "tt"\ncursor_column = "ts"', "exit 1", "no table 'tt' in that database"),
        ('table = "t"\ncursor_column = "tz"', "exit 1", "t has no column 'tz'"),
        ('query = "SELEC k FROM t"\ncursor_column = "ts"', "exit 1", "cannot read query: near"),
        (
            'table = "t"\ncursor_column = "ts"\nid_column = "k"\nmap = { text = "bodyy" }',
            "exit 2",
            "1 of its first 1 records would be rejected",
        ),
    ],
)
def test_sql_source_mistakes_are_said_before_prefect_and_torch_load(project, options, status, said):
    _reviews_db(project / "shop.db")
    (project / "sentimon.toml").write_text(
        f'[sources.shop]\nkind = "sql"\nurl = "sqlite:///shop.db"\n{options}\n'
    )
    got, imported, stderr = heavy_imports_of(["run", "--source", "shop"], project)
    assert (got, imported) == (status, "[]"), stderr
    assert said in " ".join(stderr.split()), stderr
    assert not (project / "data" / "sentimon.db").exists()  # nothing stored


# --- a source another run is reading ---------------------------------------------------------


def test_a_source_another_run_holds_is_skipped_before_prefect_and_torch(project):
    """A second `run` of a source (cron overlapping a long run) says it leaves the source
    alone at once, exit 0 as the flow's own skip, instead of after ~17 s of start-up."""
    from sqlalchemy import create_engine, insert

    from db.tables import source_leases
    from flows.runtime.config import load_config
    from flows.runtime.leasing import process_owner
    from flows.runtime.sources import resolve_source

    assert runner.invoke(app, ["init"]).exit_code == 0
    name = resolve_source(load_config(project / "sentimon.toml"), None, "reviews.csv").name
    now = datetime.now(UTC)
    engine = create_engine(f"sqlite:///{project / 'data' / 'sentimon.db'}")
    with engine.begin() as conn:  # held by this test's process, alive and of this host
        conn.execute(
            insert(source_leases).values(
                source=name,
                owner=process_owner(),
                acquired_at=now,
                expires_at=now.replace(year=now.year + 1),
            )
        )
    engine.dispose()
    status, imported, stderr = heavy_imports_of(["run", "--input", "reviews.csv"], project)
    assert (status, imported) == ("exit 0", "[]"), stderr
    said = " ".join(stderr.split())
    assert said.startswith(f"skipped: source '{name}' is being processed by {process_owner()}")
    assert _tables(project / "data" / "sentimon.db")["posts"] == 0


@pytest.mark.parametrize(
    ("args", "status"),
    [(["models", "list"], "exit 0"), (["score", "--model", "lstm-nope", "fine"], "exit 2")],
)
def test_models_list_and_a_wrong_score_model_answer_without_torch(project, args, status):
    assert runner.invoke(app, ["init"]).exit_code == 0
    code, imported, stderr = heavy_imports_of(args, project)
    assert (code, imported) == (status, "[]"), stderr


def test_an_id_mapped_to_a_column_that_repeats_is_refused_before_anything_is_stored(project):
    """--map id=who, 300 reviews by 50 authors: 250 reviews would have been dropped silently."""
    rows = ["uid,body,who"] + [f"r{i},review number {i},user{i % 50}" for i in range(300)]
    (project / "rv.csv").write_text("\n".join(rows) + "\n")
    status, imported, stderr = heavy_imports_of(
        ["run", "--input", "rv.csv", "--map", "text=body,id=who"], project
    )
    assert (status, imported) == ("exit 2", "[]"), stderr
    said = " ".join(stderr.split())
    assert "250 of its first 300 records share their id (who) with a record of another text" in said
    assert not (project / "data" / "sentimon.db").exists()
