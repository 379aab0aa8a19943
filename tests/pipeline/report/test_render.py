"""Report rows and their renderings: JSON keys, CSV, markdown and self-contained HTML."""

import csv
import io
import json
import re
from datetime import UTC, datetime
from html.parser import HTMLParser

import pytest
from rich.console import Console

from pipeline.analytics.aggregate_math import Counts
from pipeline.report.html import render_html
from pipeline.report.rows import CSV_KEYS, REPORT_KEYS, build_report, report_csv, report_json
from pipeline.report.text import report_markdown, report_table
from pipeline.report.types import AlertRecord, BucketCounts, ReportData, TopPost

HOSTILE = '<script>alert("x")</script> | **bold** [link](javascript:x) & more'


def at(d, h=0):
    return datetime(2024, 1, d, h, tzinfo=UTC)


@pytest.fixture
def data():
    post = TopPost(7, "tweets", "t7", at(2, 5), "negative", -0.8, 4, HOSTILE, "javascript:evil()")
    good = TopPost(8, "tweets", "t8", at(2, 6), "positive", 0.9, 0, "great", "https://x.test/8")
    alert = AlertRecord(
        brand="Apple",
        kind="sentiment-drop",
        bucket="day",
        bucket_start=at(2),
        observed=-0.4,
        baseline=0.1,
        threshold=-0.1,
        volume=40,
        model_version="v1",
        summary=f"drop {HOSTILE}",
        details={"top_terms": [{"term": "battery", "posts": 9}], "top_negative": [post.as_dict()]},
        created_at=at(3),
        id=1,
    )
    return ReportData(
        model_version="v1",
        bucket="day",
        source="*",
        since=at(1),
        until=at(3),
        series=[
            BucketCounts("Apple", at(1), Counts(40, 30, 10, 10, 10, 20, 6.0)),
            BucketCounts("Apple", at(2), Counts(40, 40, 0, 25, 10, 5, -8.0)),
            BucketCounts("Google", at(1), Counts(10, 10, 0, 0, 10, 0, 0.0)),
            BucketCounts("Acme", at(2), Counts(5, 5, 0, 5, 0, 0, -3.0)),
        ],
        top_positive={"Apple": [good]},
        top_negative={"Apple": [post]},
        alerts=[alert],
    )


def test_build_report_rows(data):
    rows = build_report(data, ["Apple", "Google"])
    assert [r["brand"] for r in rows] == ["Apple", "Google", "Acme"]
    apple = rows[0]
    assert set(apple) == set(REPORT_KEYS)
    assert (apple["volume"], apple["unique"], apple["amplification"]) == (80, 70, 10)
    assert (apple["positive"], apple["neutral"], apple["negative"]) == (25, 20, 35)
    assert apple["net_sentiment"] == pytest.approx(-10 / 80)
    assert apple["nss"] == pytest.approx(-10 / 60, abs=1e-6)  # rounded to 6 places
    assert apple["mean_score"] == pytest.approx(-2 / 80)
    assert apple["share_of_voice"] == pytest.approx(80 / 90)
    assert apple["net_sentiment_low"] < apple["net_sentiment"] < apple["net_sentiment_high"]
    assert [b["share_of_voice"] for b in apple["series"]] == [pytest.approx(0.8), 1.0]
    assert rows[1]["nss"] is None and rows[1]["low_volume"]
    assert rows[2]["share_of_voice"] is None  # not a configured brand
    assert [a["kind"] for a in apple["alerts"]] == ["sentiment-drop"]
    assert [r["brand"] for r in build_report(data, ["Apple"], brands=["Google"])] == ["Google"]


def test_json_and_csv(data):
    rows = build_report(data, ["Apple", "Google"])
    parsed = json.loads(report_json(rows))
    assert [list(r) for r in parsed] == [list(REPORT_KEYS)] * 3
    assert parsed[0]["top_negative"][0]["text"] == HOSTILE  # JSON keeps the text as it is
    lines = list(csv.DictReader(io.StringIO(report_csv(rows))))
    assert list(lines[0]) == [*CSV_KEYS, "n_alerts"]
    assert lines[0]["brand"] == "Apple" and lines[0]["n_alerts"] == "1"
    assert float(lines[0]["net_sentiment"]) == pytest.approx(rows[0]["net_sentiment"])


def test_markdown_escapes_user_text(data):
    md = report_markdown(build_report(data, ["Apple"]), "Report")
    assert "<script>" not in md and "\\<script\\>" in md
    assert "\\| \\*\\*bold\\*\\*" in md
    table_lines = [line for line in md.splitlines() if line.startswith("| Apple")]
    assert len(table_lines) == 1 and table_lines[0].count(" | ") == 13
    assert "battery" in md
    assert report_markdown([], "Empty").endswith("No scored posts in this window.\n")


class _Collector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.attrs, self.text = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs.extend(attrs)

    def handle_data(self, data):
        self.text.append(data)


def test_html_is_self_contained_and_escaped(data):
    page = render_html(build_report(data, ["Apple"]), "Report <b>", b"\x89PNG fake")
    parsed = _Collector()
    parsed.feed(page)
    assert "script" not in parsed.tags
    assert HOSTILE in "".join(parsed.text)  # shown as text
    assert "Report <b>" in parsed.text  # the title too
    sources = [v for k, v in parsed.attrs if k in ("src", "href")]
    assert sources[0].startswith("data:image/png;base64,")
    assert "https://x.test/8" in sources and not any("javascript" in s for s in sources)
    assert not re.search(r"(src|href)=\"(?!data:|https://x\.test)", page)  # nothing fetched


def test_terminal_table_renders_user_text_literally(data):
    console = Console(record=True, width=250)
    console.print(report_table(build_report(data, ["Apple"]), "Report"))
    out = console.export_text()
    assert "[link](javascript:x)" in out and "sentiment-drop" in out
    assert "net sentiment = (positive - negative) / volume" in out


def test_people_read_a_posts_text_repaired_and_json_keeps_it_as_stored(data):
    # Feeds deliver HTML entities and mojibake; the terminal, markdown and HTML show the text
    # as the model read it, JSON the stored text.
    stored = "fast &amp;amp; cheap, donâ€™t   wait"
    post = TopPost(9, "reviews", "r9", at(2, 7), "negative", -0.7, 9, stored, None)
    data.top_negative["Apple"] = [post]
    rows = build_report(data, ["Apple"])
    assert json.loads(report_json(rows))[0]["top_negative"][0]["text"] == stored
    console = Console(width=200, record=True)
    console.print(report_table(rows, "Report"))
    for shown in (console.export_text(), report_markdown(rows, "Report")):
        assert "fast & cheap, don't wait" in shown and "&amp;" not in shown
    parsed = _Collector()
    parsed.feed(render_html(rows, "Report", b"\x89PNG fake"))
    assert "fast & cheap, don't wait" in "".join(parsed.text)
