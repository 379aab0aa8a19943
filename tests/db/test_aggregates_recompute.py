"""Every figure of the brand report, recomputed independently from predictions.

A crafted dataset (two sources, four brands of which one is not configured, multi-brand posts,
retweets, a post without a prediction, a second model version) is committed through
commit_batch. The test then reads the raw rows with a hand-written SQL join, recomputes each
figure in plain Python (scipy's Wilson interval for the two proportions), and compares it with
the report that db/report_queries.py + pipeline/report/rows.py build, per bucket and in total, in
day and hour buckets, over all sources and over one.
"""

import math
import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest
from scipy.stats import binomtest
from sqlalchemy import text

from db import repository
from db.buckets import floor_to_bucket
from db.report_queries import load_report_data
from db.tables import post_brands, posts
from pipeline.records import Batch
from pipeline.report.rows import build_report

CONFIGURED = ["Apple", "Google", "Coachella"]
RAW_SQL = """
SELECT p.id, p.source, p.created_at, p.duplicate_of, pb.brand, pr.label, pr.score
FROM posts p
JOIN post_brands pb ON pb.post_id = p.id
JOIN predictions pr ON pr.post_id = p.id
WHERE pr.model_version = 'v1'
"""
PROBS = {"negative": (0.7, 0.2, 0.1), "neutral": (0.2, 0.6, 0.2), "positive": (0.05, 0.15, 0.8)}


@pytest.fixture
def crafted(db, scored, day):
    rng = random.Random(2024)
    brand_sets = [("Apple",), ("Google",), ("Apple", "Google"), ("Coachella",), ("Acme",), ()]
    by_source = defaultdict(list)
    for i in range(160):
        source = "reviews" if i % 3 else "tweets"
        label = rng.choice(["negative", "neutral", "neutral", "positive", "positive"])
        # Jitter the probabilities so that scores (and so top-post ranks) differ.
        jitter = rng.uniform(-0.04, 0.04)
        neg, neu, pos = PROBS[label]
        p = (neg + jitter, neu, pos - jitter)
        at = day(1 + rng.randrange(3), rng.randrange(24), rng.randrange(60))
        brands = rng.choice(brand_sets)
        by_source[source].append(
            scored(f"{source}-{i}", label, p, at, brands, source, text=f"post {i} {label} words")
        )
    rescored = [
        scored(
            "reviews-1",
            "negative",
            (0.9, 0.05, 0.05),
            day(1),
            ("Apple",),
            "reviews",
            model_version="v2",
            # The same post scored by another version: its stored text, as a backfill reads it.
            text=next(
                s.post.text for s in by_source["reviews"] if s.post.external_id == "reviews-1"
            ),
        )
    ]
    with db.begin() as conn:
        for source, items in by_source.items():
            repository.commit_batch(conn, Batch(source, None, "end", items))
        repository.commit_batch(conn, Batch("reviews", "end", "end", rescored))
        # A non-English post: stored and mentioned, never scored, never counted.
        post_id = conn.execute(
            posts.insert().returning(posts.c.id),
            {
                "source": "tweets",
                "external_id": "x-de",
                "text": "schlecht",
                "lang": "de",
                "created_at": day(2, 12),
                "ingested_at": day(2, 12),
            },
        ).scalar_one()
        conn.execute(post_brands.insert(), {"post_id": post_id, "brand": "Apple"})
        # Retweets: every seventh post copies an earlier one of the same brand set.
        ids = conn.execute(
            text("SELECT id FROM posts WHERE lang IS NULL OR lang = 'en' ORDER BY id")
        )
        ordered = [r[0] for r in ids]
        for n, pid in enumerate(ordered):
            if n % 7 == 6:
                conn.execute(
                    text("UPDATE posts SET duplicate_of = :o WHERE id = :p"),
                    {"o": ordered[n - 5], "p": pid},
                )
        repository.refresh_aggregates(
            conn, "v1", ["Apple", "Google", "Coachella", "Acme"], [day(1), day(2), day(3)]
        )
    return db


def raw_rows(conn):
    """(id, source, created_at, duplicate_of, brand, label, score) of every v1-scored mention."""
    rows = []
    for r in conn.execute(text(RAW_SQL)):
        # Raw SQL gets SQLite's stored text and PostgreSQL's naive UTC timestamp.
        created = r.created_at
        created = datetime.fromisoformat(created) if isinstance(created, str) else created
        created = created.replace(tzinfo=UTC)
        rows.append((r.id, r.source, created, r.duplicate_of, r.brand, r.label, r.score))
    return rows


def wilson(k, n):
    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    return ci.low, ci.high


def expected_interval(pos, neg, n):
    p1, p2 = pos / n, neg / n
    l1, u1 = wilson(pos, n)
    l2, u2 = wilson(neg, n)
    r = -math.sqrt(p1 * p2 / ((1 - p1) * (1 - p2))) if 0 < p1 < 1 and 0 < p2 < 1 else 0.0
    lo = p1 - p2 - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2 - 2 * r * (p1 - l1) * (u2 - p2))
    hi = p1 - p2 + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2 - 2 * r * (u1 - p1) * (p2 - l2))
    return max(-1, lo), min(1, hi)


def expected_figures(rows, volumes_for_sov, brand, min_volume=30):
    """rows: (id, source, created_at, duplicate_of, brand, label, score) of one brand."""
    n = len(rows)
    pos = sum(r[5] == "positive" for r in rows)
    neg = sum(r[5] == "negative" for r in rows)
    unique = sum(r[3] is None for r in rows)
    configured_total = sum(v for b, v in volumes_for_sov.items() if b in CONFIGURED)
    lo, hi = expected_interval(pos, neg, n)
    return {
        "volume": n,
        "unique": unique,
        "amplification": n - unique,
        "positive": pos,
        "neutral": n - pos - neg,
        "negative": neg,
        "mean_score": pytest.approx(sum(r[6] for r in rows) / n, abs=1e-6),
        "net_sentiment": pytest.approx((pos - neg) / n, abs=1e-6),
        "net_sentiment_low": pytest.approx(lo, abs=1e-6),
        "net_sentiment_high": pytest.approx(hi, abs=1e-6),
        "nss": pytest.approx((pos - neg) / (pos + neg), abs=1e-6) if pos + neg else None,
        "share_of_voice": (
            pytest.approx(n / configured_total, abs=1e-6) if brand in CONFIGURED else None
        ),
        "low_volume": n < min_volume,
    }


def all_posts(conn):
    """(id, created_at, duplicate_of) of every stored post, scored or not."""
    out = []
    for r in conn.execute(text("SELECT id, created_at, duplicate_of FROM posts")):
        created = r.created_at
        created = datetime.fromisoformat(created) if isinstance(created, str) else created
        out.append((r.id, created.replace(tzinfo=UTC), r.duplicate_of))
    return out


def expected_top(rows, label, posts_in_window):
    """Originals ranked by copies in the window (any source or brand), then by lean, then id."""
    copies = defaultdict(int)
    for _, _, original in posts_in_window:
        if original is not None:
            copies[original] += 1
    candidates = {r[0]: r for r in rows if r[5] == label and r[3] is None}
    sign = 1 if label == "negative" else -1
    ranked = sorted(candidates.values(), key=lambda r: (-copies[r[0]], sign * r[6], r[0]))
    return [(r[0], copies[r[0]]) for r in ranked[:3]]


@pytest.mark.parametrize(
    ("bucket", "source", "since_until"),
    [
        ("day", None, None),
        ("hour", None, None),
        ("day", "reviews", None),
        ("hour", "tweets", ((1, 10, 30), (2, 14, 10))),
        ("day", None, ((2, 5, 0), (3, 0, 0))),
    ],
)
def test_report_figures_equal_an_independent_recomputation(
    crafted, day, bucket, source, since_until
):
    since = day(*since_until[0]) if since_until else None
    until = day(*since_until[1]) if since_until else None
    with crafted.connect() as conn:
        data = load_report_data(conn, "v1", bucket, since, until, None, source or "*")
        report = build_report(data, CONFIGURED)
        raw = raw_rows(conn)
        stored = all_posts(conn)
    # The window widened to whole buckets, as documented.
    step = timedelta(days=1) if bucket == "day" else timedelta(hours=1)
    start = floor_to_bucket(since, bucket) if since else None
    end = None
    if until:
        end = floor_to_bucket(until, bucket)
        end = end + step if end < until else end

    def inside(at):
        return (start is None or at >= start) and (end is None or at < end)

    in_window = [
        r
        for r in raw
        if (start is None or r[2] >= start)
        and (end is None or r[2] < end)
        and (source is None or r[1] == source)
    ]
    by_brand = defaultdict(list)
    for r in in_window:
        by_brand[r[4]].append(r)
    volumes = {b: len(rs) for b, rs in by_brand.items()}
    assert [r["brand"] for r in report] == sorted(by_brand, key=lambda b: (-volumes[b], b))
    assert {"Acme", "Apple", "Google", "Coachella"} <= set(by_brand) or since_until
    for row in report:
        brand = row["brand"]
        rows = by_brand[brand]
        assert {k: row[k] for k in expected_figures(rows, volumes, brand)} == expected_figures(
            rows, volumes, brand
        )
        # the series, bucket by bucket
        buckets = defaultdict(list)
        for r in rows:
            buckets[floor_to_bucket(r[2], bucket)].append(r)
        assert [b["bucket_start"] for b in row["series"]] == [
            s.isoformat() for s in sorted(buckets)
        ]
        for b in row["series"]:
            start_b = floor_to_bucket(datetime.fromisoformat(b["bucket_start"]), bucket)
            vols = defaultdict(int)
            for r in in_window:
                if floor_to_bucket(r[2], bucket) == start_b:
                    vols[r[4]] += 1
            want = expected_figures(buckets[start_b], vols, brand)
            assert {k: b[k] for k in want} == want
        for label in ("negative", "positive"):
            got = [(p["post_id"], p["copies"]) for p in row[f"top_{label}"]]
            assert got == expected_top(rows, label, [p for p in stored if inside(p[1])])


def test_the_unscored_post_and_the_other_model_version_are_left_out(crafted):
    with crafted.connect() as conn:
        v1 = build_report(load_report_data(conn, "v1"), CONFIGURED)
        v2 = build_report(load_report_data(conn, "v2"), CONFIGURED)
        scored_apple = conn.execute(
            text(
                "SELECT COUNT(*) FROM post_brands pb "
                "JOIN predictions pr ON pr.post_id = pb.post_id "
                "WHERE pb.brand = 'Apple' AND pr.model_version = 'v1'"
            )
        ).scalar_one()
    assert next(r for r in v1 if r["brand"] == "Apple")["volume"] == scored_apple
    assert [(r["brand"], r["volume"], r["negative"]) for r in v2] == [("Apple", 1, 1)]


def test_brand_filter_keeps_share_of_voice_among_all_configured_brands(crafted):
    with crafted.connect() as conn:
        everyone = build_report(load_report_data(conn, "v1"), CONFIGURED)
        data = load_report_data(conn, "v1", brands=["Google"])
        only_google = build_report(data, CONFIGURED, brands=["Google"])
    assert [r["brand"] for r in only_google] == ["Google"]
    google = next(r for r in everyone if r["brand"] == "Google")
    assert only_google[0]["share_of_voice"] == google["share_of_voice"]
    assert sum(r["share_of_voice"] for r in everyone if r["brand"] in CONFIGURED) == (
        pytest.approx(1.0, abs=1e-5)  # shares are rounded to 6 places
    )
    assert set(data.top_negative) == {"Google"}
