"""Net sentiment, NSS, share of voice and the 95% interval, checked against references."""

import numpy as np
import pytest
from scipy.stats import binomtest

from pipeline.analytics.aggregate_math import (
    Counts,
    net_sentiment,
    net_sentiment_interval,
    nss,
    share_of_voice,
    total,
    wilson_interval,
)


@pytest.mark.parametrize(("k", "n"), [(0, 1), (0, 10), (3, 10), (10, 10), (81, 263), (1, 1000)])
def test_wilson_matches_scipy(k, n):
    ref = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert wilson_interval(k, n) == pytest.approx((ref.low, ref.high), abs=1e-12)


def test_ratios_and_their_empty_cases():
    assert net_sentiment(6, 2, 10) == pytest.approx(0.4)
    assert nss(6, 2) == pytest.approx(0.5)
    assert net_sentiment(0, 0, 0) is None
    assert nss(0, 0) is None  # only neutral posts: no NSS, but a net sentiment of 0
    assert net_sentiment(0, 0, 5) == 0.0
    empty = Counts()
    assert (empty.mean_score, empty.net_sentiment, empty.net_sentiment_interval) == (None,) * 3
    assert empty.low_volume()


def test_counts_add_up():
    a = Counts(3, 2, 1, 1, 1, 1, 0.5)
    b = Counts(2, 2, 0, 0, 0, 2, 1.5)
    s = total([a, b])
    assert s == Counts(5, 4, 1, 1, 1, 3, 2.0)
    assert s.mean_score == pytest.approx(0.4)
    assert s.net_sentiment == pytest.approx(0.4)
    assert s.nss == pytest.approx(0.5)
    assert not Counts(volume=30).low_volume(30) and Counts(volume=29).low_volume(30)


def test_share_of_voice_is_among_configured_brands():
    shares = share_of_voice({"A": 30, "B": 10, "Other": 60}, ["A", "B", "C"])
    assert shares == {"A": pytest.approx(0.75), "B": pytest.approx(0.25), "Other": None}
    assert share_of_voice({"Other": 5}, ["A"]) == {"Other": None}


@pytest.mark.parametrize(
    ("pos", "neg", "n"), [(0, 0, 5), (5, 0, 5), (0, 5, 5), (3, 4, 20), (1, 0, 1)]
)
def test_interval_bounds_and_symmetry(pos, neg, n):
    lo, hi = net_sentiment_interval(pos, neg, n)
    d = (pos - neg) / n
    assert -1 <= lo <= d <= hi <= 1
    # Swapping positive and negative mirrors the interval.
    assert net_sentiment_interval(neg, pos, n) == pytest.approx((-hi, -lo))


def test_interval_narrows_with_volume():
    widths = [
        np.subtract(*net_sentiment_interval(4 * k, 3 * k, 10 * k)[::-1]) for k in (1, 10, 100)
    ]
    assert widths[0] > widths[1] > widths[2] > 0


def test_inconsistent_counts_are_refused():
    with pytest.raises(ValueError, match="counts do not fit"):
        net_sentiment_interval(4, 3, 5)


# (p_negative, p_neutral, p_positive)
MIXED = [(0.3, 0.4, 0.3), (0.1, 0.3, 0.6), (0.5, 0.45, 0.05), (0.7, 0.1, 0.2)]


@pytest.mark.parametrize("n", [30, 100, 500])
@pytest.mark.parametrize("p", MIXED)
def test_coverage_is_close_to_95_percent(p, n):
    rng = np.random.default_rng(7)
    truth = p[2] - p[0]
    draws = rng.multinomial(n, p, size=4_000)
    hits = [
        lo <= truth <= hi
        for lo, hi in (net_sentiment_interval(int(x[2]), int(x[0]), n) for x in draws)
    ]
    assert 0.935 <= np.mean(hits) <= 0.965


def test_coverage_is_conservative_when_nearly_all_posts_are_neutral():
    rng = np.random.default_rng(7)
    draws = rng.multinomial(30, (0.05, 0.9, 0.05), size=4_000)
    hits = [lo <= 0 <= hi for lo, hi in (net_sentiment_interval(x[2], x[0], 30) for x in draws)]
    assert np.mean(hits) >= 0.95
