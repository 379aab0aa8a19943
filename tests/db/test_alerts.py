"""Alert evaluation on planted series: a drop fires exactly one alert, a flat series none."""

import math
import statistics
from collections import defaultdict
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, text

from db import repository
from db.tables import alerts
from flows.runtime.alerts import evaluate_alerts
from pipeline.analytics.alert_rules import AlertRules
from pipeline.records import Batch

NEGATIVE_TEXTS = [
    "battery drains overnight and support wants a refund form",
    "battery swollen after the update, refund please",
    "screen flickers, battery hot, worst phone",
    "refund denied twice, battery still dies",
]


def day_posts(scored, day, brand, d, pos, neu, neg, prefix="", texts=None):
    """pos/neu/neg posts of ``brand`` spread over the hours of 2024-01-d."""
    items = []
    labels = ["positive"] * pos + ["neutral"] * neu + ["negative"] * neg
    probs = {"positive": (0.1, 0.2, 0.7), "neutral": (0.2, 0.6, 0.2), "negative": (0.7, 0.2, 0.1)}
    for i, label in enumerate(labels):
        body = f"{brand} day {d} post {i} is {label}"
        if label == "negative" and texts:
            body = f"{texts[i % len(texts)]} ({i})"
        items.append(
            scored(
                f"{prefix}{brand}-{d}-{i}",
                label,
                probs[label],
                day(d, i % 24, i % 60),
                (brand,),
                text=body,
            )
        )
    return items


def commit(db, items):
    with db.begin() as conn:
        repository.commit_batch(conn, Batch("reviews", None, None, items))


@pytest.fixture
def planted_drop(db, scored, day):
    """Apple: 9 steady days, then day 10 turns negative. Google: 10 identical days."""
    items = []
    for d in range(1, 10):
        items += day_posts(scored, day, "Apple", d, 12 + d % 3, 10, 8 - d % 2)
    items += day_posts(scored, day, "Apple", 10, 5, 10, 15, texts=NEGATIVE_TEXTS)
    for d in range(1, 11):
        items += day_posts(scored, day, "Google", d, 10, 10, 10)
    commit(db, items)
    return db


def daily_net_sentiment(conn, brand):
    """(volume, net sentiment, positive, negative) per day, by hand from predictions."""
    rows = conn.execute(
        text(
            "SELECT p.created_at, pr.label FROM posts p "
            "JOIN post_brands pb ON pb.post_id = p.id "
            "JOIN predictions pr ON pr.post_id = p.id WHERE pb.brand = :b"
        ),
        {"b": brand},
    )
    days = defaultdict(lambda: [0, 0, 0])
    for created, label in rows:
        key = str(created)[:10]
        days[key][0] += 1
        days[key][1] += label == "positive"
        days[key][2] += label == "negative"
    return {k: (n, (p - m) / n, p, m) for k, (n, p, m) in sorted(days.items())}


def test_a_planted_drop_fires_exactly_one_alert(planted_drop):
    with planted_drop.begin() as conn:
        fired = evaluate_alerts(conn, "v1")
        series = daily_net_sentiment(conn, "Apple")
    assert [(a.brand, a.kind, a.bucket) for a in fired] == [("Apple", "sentiment-drop", "day")]
    alert = fired[0]
    assert alert.bucket_start == datetime(2024, 1, 10, tzinfo=UTC)
    # Recomputed by hand: the 7 days before day 10 are the baseline.
    days = list(series.values())
    n, observed, pos, neg = days[-1]
    baseline_values = [net for _, net, _, _ in days[-8:-1]]
    baseline = statistics.fmean(baseline_values)
    std = statistics.stdev(baseline_values)
    se = math.sqrt(((pos + neg) / n - observed**2) / n)
    assert alert.observed == pytest.approx(observed)
    assert alert.baseline == pytest.approx(baseline)
    assert alert.threshold == pytest.approx(baseline - 2.0 * math.sqrt(std**2 + se**2))
    assert alert.volume == n == 30
    # It names the posts and terms behind it.
    terms = [t["term"] for t in alert.details["top_terms"]]
    assert terms[:2] == ["battery", "refund"]
    assert "apple" not in terms
    assert len(alert.details["top_negative"]) == 3
    assert all(
        "battery" in p["text"] or "refund" in p["text"] for p in alert.details["top_negative"]
    )
    assert "Apple" in alert.summary and "-0.33" in alert.summary


def test_evaluating_again_stores_and_returns_nothing_new(planted_drop, scored, day):
    with planted_drop.begin() as conn:
        first = evaluate_alerts(conn, "v1")
    commit(planted_drop, day_posts(scored, day, "Apple", 10, 0, 0, 3, prefix="late-"))
    with planted_drop.begin() as conn:
        again = evaluate_alerts(conn, "v1")
        stored = conn.execute(select(func.count()).select_from(alerts)).scalar_one()
    assert len(first) == 1
    assert again == []
    assert stored == 1


def test_a_flat_series_fires_nothing(db, scored, day):
    items = []
    for d in range(1, 11):
        items += day_posts(scored, day, "Apple", d, 12, 10, 8)
        items += day_posts(scored, day, "Google", d, 10, 10, 10)
    commit(db, items)
    with db.begin() as conn:
        assert evaluate_alerts(conn, "v1") == []
        assert conn.execute(select(func.count()).select_from(alerts)).scalar_one() == 0


def test_too_little_history_fires_no_drop(db, scored, day):
    items = []
    for d in range(1, 3):  # two days of baseline: fewer than min_baseline_buckets
        items += day_posts(scored, day, "Apple", d, 20, 10, 0)
    items += day_posts(scored, day, "Apple", 3, 0, 5, 25)
    commit(db, items)
    with db.begin() as conn:
        # No drop on two days of baseline; the spike rule (30 posts vs 60 in the week before,
        # i.e. 8.6 a day) does fire: it judges volume, not history.
        assert [a.kind for a in evaluate_alerts(conn, "v1")] == ["volume-spike"]
        # With a looser rule the same data is enough: the check itself works.
        loose = AlertRules(min_baseline_buckets=2)
        assert [a.kind for a in evaluate_alerts(conn, "v1", rules=loose)] == ["sentiment-drop"]


def test_a_volume_spike_fires_once_per_day(db, scored, day):
    items = []
    for d in range(2, 9):
        items += day_posts(scored, day, "Google", d, 2, 2, 1)  # 5 posts a day
    # 40 posts on day 9, all before 20:00; half of them negative
    items += day_posts(scored, day, "Google", 9, 10, 10, 20, texts=NEGATIVE_TEXTS)
    commit(db, items)
    with db.begin() as conn:
        fired = evaluate_alerts(conn, "v1")
        later = evaluate_alerts(conn, "v1", as_of=day(9, 23, 30))
    assert [(a.brand, a.kind, a.bucket, a.bucket_start) for a in fired] == [
        ("Google", "volume-spike", "day", day(9, 0))
    ]
    spike = fired[0]
    # by hand: 40 posts in the 24 h to the last post's hour, 35 in the 7 days before
    assert (spike.observed, spike.baseline, spike.threshold) == (40, 5.0, 20.0)
    assert spike.details["top_negative"] and spike.details["top_terms"]
    assert later == []  # same day: the same alert


def test_as_of_picks_the_bucket_judged(planted_drop, day):
    with planted_drop.begin() as conn:
        # Judged at day 9, Apple is fine; the drop of day 10 is not seen yet.
        assert evaluate_alerts(conn, "v1", as_of=day(9, 18)) == []
        assert len(evaluate_alerts(conn, "v1", as_of=day(10, 18))) == 1


def test_an_empty_database_has_no_alerts(db):
    with db.begin() as conn:
        assert evaluate_alerts(conn, "v1") == []
