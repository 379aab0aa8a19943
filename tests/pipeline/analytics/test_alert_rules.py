"""The alert rules and the term ranking as plain functions."""

import math
import statistics

import pytest

from pipeline.analytics.aggregate_math import Counts
from pipeline.analytics.alert_rules import AlertRules, check_sentiment_drop, check_volume_spike
from pipeline.analytics.terms import post_terms, top_terms


def bucket(pos, neu, neg):
    return Counts(volume=pos + neu + neg, negative=neg, neutral=neu, positive=pos)


RULES = AlertRules()


def test_a_drop_beyond_k_spreads_fires_and_reports_its_figures():
    history = [bucket(12, 10, 8), bucket(13, 10, 7), bucket(11, 10, 9), bucket(12, 11, 7)]
    last = bucket(5, 10, 15)
    check = check_sentiment_drop(last, history, RULES)
    values = [(c.positive - c.negative) / c.volume for c in history]
    se = math.sqrt(((5 + 15) / 30 - (-1 / 3) ** 2) / 30)
    assert check.fired
    assert check.baseline == pytest.approx(statistics.fmean(values))
    assert check.std == pytest.approx(statistics.stdev(values))
    assert check.se == pytest.approx(se)
    assert check.threshold == pytest.approx(check.baseline - 2 * math.hypot(check.std, se))
    assert (check.volume, check.n_baseline) == (30, 4)


def test_a_flat_baseline_does_not_fire_on_sampling_noise():
    history = [bucket(10, 10, 10)] * 7  # standard deviation 0
    # One post more negative than usual: well within the last bucket's own error.
    check = check_sentiment_drop(bucket(9, 11, 11), history, RULES)
    assert check.std == 0 and check.se > 0
    assert not check.fired


def test_thin_data_gives_no_verdict():
    history = [bucket(12, 10, 8)] * 7
    assert check_sentiment_drop(bucket(1, 2, 10), history, RULES) is None  # 13 < min volume
    assert check_sentiment_drop(bucket(5, 10, 15), history[:2], RULES) is None  # 2 < 3 days
    quiet = [bucket(2, 2, 2)] * 7  # below min volume: not usable as baseline
    assert check_sentiment_drop(bucket(5, 10, 15), quiet, RULES) is None


def test_volume_spike():
    assert check_volume_spike(40, 35, RULES).fired  # 40 >= 3 x 5
    assert not check_volume_spike(14, 35, RULES).fired
    assert not check_volume_spike(19, 14, RULES).fired  # 3 x 2 = 6 but under 20 posts
    assert check_volume_spike(20, 14, RULES).threshold == 20
    assert check_volume_spike(500, 0, RULES) is None  # no baseline


def test_rules_refuse_nonsense():
    with pytest.raises(ValueError, match="day or hour"):
        AlertRules(bucket="week")
    with pytest.raises(ValueError, match="min_baseline_buckets"):
        AlertRules(min_baseline_buckets=1)


def test_terms_count_posts_not_occurrences_and_skip_noise():
    texts = [
        "Refund refund REFUND!!! @united https://t.co/x",
        "no refund, the battery died",
        "Battery died again #fail",
        "",
    ]
    assert post_terms(texts[0]) == {"refund"}
    assert top_terms(texts, n=3) == [("battery", 2), ("died", 2), ("refund", 2)]
    assert top_terms(texts, exclude=["Battery Co"], n=2) == [("died", 2), ("refund", 2)]
    assert top_terms([], n=3) == []
    assert top_terms(["one lonely post"], n=3) == []  # min_posts=2
