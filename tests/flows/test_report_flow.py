"""`sentimon report` and the `brand-report` flow for real: CLI, artifacts, events, chart, HTML."""

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from PIL import Image
from sqlalchemy import text
from typer.testing import CliRunner

from db import migrate, repository
from db.engine import make_engine
from flows.cli import app
from flows.runtime.settings import BUNDLED_BRANDS, Settings
from pipeline.records import Batch, Post, Prediction, ScoredPost
from pipeline.text.brand_file import load_brands

pytestmark = pytest.mark.slow
runner = CliRunner()

# Hand-written: each brand's figures over all scored posts of the active model.
BY_HAND = """
SELECT pb.brand,
       COUNT(*) AS volume,
       SUM(CASE WHEN p.duplicate_of IS NULL THEN 1 ELSE 0 END) AS uniq,
       SUM(CASE WHEN pr.label = 'positive' THEN 1 ELSE 0 END) AS positive,
       SUM(CASE WHEN pr.label = 'neutral' THEN 1 ELSE 0 END) AS neutral,
       SUM(CASE WHEN pr.label = 'negative' THEN 1 ELSE 0 END) AS negative,
       AVG(pr.score) AS mean_score
FROM posts p
JOIN post_brands pb ON pb.post_id = p.id
JOIN predictions pr ON pr.post_id = p.id
JOIN model_versions mv ON mv.version = pr.model_version AND mv.active
GROUP BY pb.brand
"""

TEXTS = [
    "@united lost my bag again, worst airline ever",
    "@JetBlue thank you for the great crew and the free snacks!",
    "@united flight 123 delayed three hours, no information",
    "@SouthwestAir love the quick boarding today",
    "@AmericanAir my seat was broken and nobody cared",
    "@JetBlue is my favourite airline, smooth flight",
    "@united the gate agent was wonderful, thanks",
    "@SouthwestAir cancelled my flight, rebooking takes forever",
    "@usairways on hold for two hours, terrible",
    "@AmericanAir thanks for the upgrade, very kind",
]


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("SENTIMON_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    return tmp_path / "data"


def test_report_json_after_ingesting_a_file_agrees_with_sql(prefect_server, data_dir, tmp_path):
    start = datetime(2026, 11, 1, tzinfo=UTC)
    lines = [
        json.dumps(
            {
                "id": f"p{i}",
                "text": f"{TEXTS[i % len(TEXTS)]} #{i}",
                "created_at": (start + timedelta(hours=5 * i)).isoformat(),
            }
        )
        for i in range(40)
    ]
    (tmp_path / "posts.jsonl").write_text("\n".join(lines) + "\n")
    ingested = runner.invoke(app, ["run", "--input", str(tmp_path / "posts.jsonl")])
    assert ingested.exit_code == 0, ingested.output

    result = runner.invoke(app, ["report", "--format", "json"])
    assert result.exit_code == 0, result.output
    report = {row["brand"]: row for row in json.loads(result.stdout)}

    engine = make_engine(Settings().db_url)
    with engine.connect() as conn:
        by_hand = {r.brand: r for r in conn.execute(text(BY_HAND))}
    engine.dispose()
    configured = set(load_brands(BUNDLED_BRANDS).names)
    total = sum(r.volume for b, r in by_hand.items() if b in configured)
    assert set(report) == set(by_hand) and len(report) >= 4
    for brand, r in by_hand.items():
        got = report[brand]
        assert (got["volume"], got["unique"], got["amplification"]) == (
            r.volume,
            r.uniq,
            r.volume - r.uniq,
        )
        assert (got["positive"], got["neutral"], got["negative"]) == (
            r.positive,
            r.neutral,
            r.negative,
        )
        assert got["mean_score"] == pytest.approx(r.mean_score, abs=1e-6)
        assert got["net_sentiment"] == pytest.approx((r.positive - r.negative) / r.volume, abs=1e-6)
        polar = r.positive + r.negative
        assert got["nss"] == (
            pytest.approx((r.positive - r.negative) / polar, abs=1e-6) if polar else None
        )
        assert got["share_of_voice"] == pytest.approx(r.volume / total, abs=1e-6)
        assert got["net_sentiment_low"] <= got["net_sentiment"] <= got["net_sentiment_high"]
        assert got["low_volume"] is True  # a handful of posts each
    for key in ("alerts", "top_positive", "top_negative"):
        assert all(isinstance(row[key], list) for row in report.values())

    # the other renderings of the same report
    chart, html = tmp_path / "chart.png", tmp_path / "report.html"
    rendered = runner.invoke(
        app,
        [
            "report",
            "--bucket",
            "hour",
            "--format",
            "csv",
            "--chart",
            str(chart),
            "--html",
            str(html),
        ],
    )
    assert rendered.exit_code == 0, rendered.output
    assert rendered.stdout.splitlines()[0].startswith("brand,volume,unique,")
    assert Image.open(chart).size[0] >= 1000
    page = html.read_text()
    assert page.startswith("<!DOCTYPE html>") and "data:image/png;base64," in page
    md = runner.invoke(
        app, ["report", "--format", "md", "--brand", "JetBlue", "--since", "2026-11-02"]
    )
    assert (
        md.exit_code == 0 and "| JetBlue |" in md.stdout and "| United Airlines |" not in md.stdout
    )
    bad = runner.invoke(app, ["report", "--bucket", "week"])
    assert bad.exit_code == 2


def _planted_drop(settings):
    """Nine steady days and a negative tenth for Apple, committed through commit_batch."""
    engine = make_engine(settings.db_url)
    migrate.upgrade(engine)
    probs = {"positive": (0.1, 0.2, 0.7), "neutral": (0.2, 0.6, 0.2), "negative": (0.7, 0.2, 0.1)}
    items = []
    for d in range(1, 11):
        mix = (12, 10, 8) if d < 10 else (5, 10, 15)
        labels = ["positive"] * mix[0] + ["neutral"] * mix[1] + ["negative"] * mix[2]
        for i, label in enumerate(labels):
            at = datetime(2024, 1, d, i % 24, tzinfo=UTC)
            body = f"day {d} post {i}: " + ("battery refund mess" if label == "negative" else "ok")
            items.append(
                ScoredPost(
                    Post("reviews", f"{d}-{i}", body, at),
                    ("Apple",),
                    Prediction(label, *probs[label], model_version="v1"),
                )
            )
    with engine.begin() as conn:
        repository.register_model_version(conn, "v1", "m/v1", "a" * 64, {}, activate=True)
        repository.commit_batch(conn, Batch("reviews", None, "end", items))
    engine.dispose()


def test_brand_report_flow_publishes_artifacts_and_emits_one_alert_event(prefect_server, data_dir):
    from prefect import get_client
    from prefect.events.filters import EventFilter, EventNameFilter

    from flows.report import brand_report_flow

    _planted_drop(Settings())
    first = brand_report_flow(since=None)
    second = brand_report_flow(since=None)  # idempotent: no new alert, no new event
    assert (first["new_alerts"], second["new_alerts"]) == (1, 0)
    assert first["brands"] == 1 and first["buckets"] == 10

    async def read():
        async with get_client() as client:
            artifacts = {a.key: a for a in await client.read_latest_artifacts()}
            page = await client.read_events(
                EventFilter(event=EventNameFilter(prefix=["sentimon.alert."])),
                limit=50,  # the client's default (100) is over the server's maximum
            )
            return artifacts, page.events

    deadline = time.monotonic() + 20
    while True:  # the server stores events a moment after they arrive
        artifacts, events = asyncio.run(read())
        if events or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert {"brand-report", "brand-aggregates"} <= set(artifacts)
    markdown = artifacts["brand-report"].data
    assert "| Apple |" in markdown and "sentiment-drop" in markdown and "battery" in markdown
    table = artifacts["brand-aggregates"].data
    rows = json.loads(table) if isinstance(table, str) else table
    assert len(rows) == 10 and rows[-1]["negative"] == 15
    assert [(e.event, e.resource.id) for e in events] == [
        ("sentimon.alert.sentiment-drop", "sentimon.brand.apple")
    ]
    assert events[0].payload["brand"] == "Apple" and events[0].payload["top_terms"]


def test_the_documented_automation_example_is_a_valid_automation():
    from prefect.events.schemas.automations import AutomationCore

    readme = (Path(__file__).resolve().parents[2] / "docs" / "reports.md").read_text()
    block = next(
        b.split("```", 1)[0] for b in readme.split("```yaml\n")[1:] if "sentimon-alerts" in b
    )
    automation = AutomationCore.model_validate(yaml.safe_load(block))
    assert automation.trigger.expect == {"sentimon.alert.*"}
    assert automation.actions[0].type == "send-notification"
