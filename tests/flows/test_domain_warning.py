"""A source whose text is unlike the training data is flagged: on its batches' rows, in the run
summary, in `sentimon report` and in the ingest-summary artifact; ordinary text is not.

Uses the committed default model: jargon it never saw against airline tweets like its corpus.
"""

import asyncio
import itertools
import json

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from db.tables import batches
from flows.cli import app
from flows.runtime.batch import process_batch
from flows.runtime.process import get_runtime
from flows.runtime.settings import Settings
from pipeline.model.domain_shift import MIN_POSTS
from pipeline.sources import FileSource
from pipeline.sources.validate import Validator

pytestmark = pytest.mark.slow

_NOUNS = ["lessee", "mitochondria", "oligomycin", "arbitration clause", "serum potassium"]
_VERBS = ["supersedes", "attenuates", "indemnifies", "titrates", "phosphorylates"]
_OBJECTS = ["the lessor's easement", "the membrane potential", "the escrow deposit"]
JARGON = [
    f"Pursuant to the protocol, the {n} {v} {o}."
    for n, v, o in itertools.product(_NOUNS, _VERBS, _OBJECTS)
]  # 75 posts

_HANDLES = ["@united", "@JetBlue", "@SouthwestAir", "@AmericanAir", "@VirginAmerica"]
_SAYINGS = [
    "my flight was delayed two hours and nobody told us why",
    "thanks for the great service today, the crew was so friendly",
    "lost my bag again, worst customer service ever",
    "the gate agent rebooked me fast, really appreciate it",
    "been on hold for an hour, this is ridiculous",
    "love the new seats and the free wifi",
    "can you help me change my flight tomorrow?",
    "cancelled flight and no hotel voucher, not happy",
    "on time and smooth landing, thank you",
    "why is the app not letting me check in?",
    "my flight to Chicago got cancelled",
    "great flight attendants on my flight home",
]
TWEETS = [f"{h} {s}" for h, s in itertools.product(_HANDLES, _SAYINGS)]  # 60 posts


def write_jsonl(path, texts):
    rows = [
        {"id": str(i), "text": t, "created_at": f"2026-11-{1 + i % 28:02d}T09:00:00Z"}
        for i, t in enumerate(texts)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("SENTIMON_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    return tmp_path / "data"


def test_inputs_are_big_enough_for_a_verdict():
    assert len(JARGON) >= MIN_POSTS and len(TWEETS) >= MIN_POSTS


def test_batches_record_how_unfamiliar_their_text_is(data_dir, tmp_path):
    rt = get_runtime(Settings())
    folder = tmp_path / "landing"
    folder.mkdir()
    write_jsonl(folder / "a.jsonl", TWEETS[:40] + JARGON[:40])
    source = FileSource(folder, "mixed", settle_seconds=0)
    while process_batch(rt, source, Validator("mixed"), batch_size=40) is not None:
        pass
    with rt.engine.connect() as conn:
        rows = conn.execute(select(batches).order_by(batches.c.id)).all()
    assert [r.n_scored for r in rows] == [40, 40]
    tweets, jargon = rows
    assert tweets.n_model_tokens > 40 and jargon.n_model_tokens > 40
    assert tweets.unknown_token_share < 0.05 < 0.2 < jargon.unknown_token_share
    assert jargon.mean_top_probability < tweets.mean_top_probability


def _flat(text):
    return " ".join(text.split())


def _artifact(key="ingest-summary"):
    from prefect import get_client

    async def latest():
        async with get_client() as client:
            found = await client.read_latest_artifacts()
            return {a.key: a.data for a in found}

    return asyncio.run(latest())[key]


def test_thresholds_can_be_set_in_the_environment(monkeypatch):
    monkeypatch.setenv("SENTIMON_MAX_UNKNOWN_TOKEN_SHARE", "0.2")
    monkeypatch.setenv("SENTIMON_MIN_MEAN_TOP_PROBABILITY", "0.3")
    thresholds = Settings().shift_thresholds
    assert (thresholds.max_unknown_token_share, thresholds.min_mean_top_probability) == (0.2, 0.3)


def test_unfamiliar_text_warns_in_run_report_and_artifact(prefect_server, data_dir, tmp_path):
    write_jsonl(tmp_path / "contracts.jsonl", JARGON)
    runner = CliRunner()
    run = runner.invoke(app, ["run", "--input", "contracts.jsonl", "--source", "contracts"])
    assert run.exit_code == 0, run.output
    result = json.loads(run.stdout)
    assert result["unknown_token_share"] > 0.2
    warning = result["warning"]
    assert "source `contracts` reads unlike the model's training data" in warning
    assert "sentimon label export --n 300 --source contracts" in warning
    assert "sentimon train --base lstm-" in warning
    assert "warning: " + _flat(warning) in _flat(run.stderr)
    assert f"> **Warning:** {warning}" in _artifact()

    md = runner.invoke(app, ["report", "--format", "md"])
    assert md.exit_code == 0, md.output
    assert "> **Warning:** source `contracts` reads unlike" in md.stdout
    table = runner.invoke(app, ["report"])
    assert "warning: source `contracts` reads unlike" in _flat(table.stdout)
    as_json = runner.invoke(app, ["report", "--format", "json"])
    json.loads(as_json.stdout)  # the warning goes to stderr, the JSON stays parsable
    assert "source `contracts` reads unlike" in _flat(as_json.stderr)
    html = runner.invoke(app, ["report", "--format", "md", "--html", "r.html"])
    assert html.exit_code == 0, html.output
    assert "<b>Warning:</b> source `contracts` reads unlike" in (tmp_path / "r.html").read_text()

    from flows.report import brand_report_flow

    assert brand_report_flow(since=None, evaluate=False)["warnings"]
    assert "> **Warning:** source `contracts` reads unlike" in _artifact("brand-report")


def test_ordinary_text_does_not_warn(prefect_server, data_dir, tmp_path):
    write_jsonl(tmp_path / "tweets.jsonl", TWEETS)
    runner = CliRunner()
    run = runner.invoke(app, ["run", "--input", "tweets.jsonl", "--source", "tweets"])
    assert run.exit_code == 0, run.output
    result = json.loads(run.stdout)
    assert result["unknown_token_share"] < 0.05
    assert "warning" not in result and "warning" not in run.stderr
    assert "Warning" not in _artifact()
    assert "Unknown token share" in _artifact()
    md = runner.invoke(app, ["report", "--format", "md"])
    assert md.exit_code == 0 and "Warning" not in md.stdout
