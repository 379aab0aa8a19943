"""The PNG chart: a real image of the right shape, drawn without touching pyplot's state."""

import io
import sys
from datetime import UTC, datetime, timedelta

import matplotlib
import numpy as np
from PIL import Image

from pipeline.analytics.aggregate_math import Counts
from pipeline.report.charts import render_chart
from pipeline.report.rows import build_report
from pipeline.report.types import AlertRecord, BucketCounts, ReportData


def report_rows(n_brands, bucket="day", n_buckets=14):
    step = timedelta(days=1) if bucket == "day" else timedelta(hours=1)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    series = []
    for b in range(n_brands):
        for i in range(n_buckets):
            if i == 5 and b == 0:
                continue  # a gap
            pos, neg = 10 + (i * 7 + b) % 9, 5 + (i * 3 + b) % 8
            series.append(
                BucketCounts(
                    f"Brand {b}",
                    start + i * step,
                    Counts(pos + neg + 10, pos + neg + 10, 0, neg, 10, pos, 0.0),
                )
            )
    alert = AlertRecord(
        "Brand 0", "sentiment-drop", bucket, start + 9 * step, -0.5, 0.1, -0.2, 30, "v1", "drop"
    )
    data = ReportData("v1", bucket, "*", None, None, series, {}, {}, [alert])
    return build_report(data, [f"Brand {b}" for b in range(n_brands)])


def image(png):
    return Image.open(io.BytesIO(png))


def test_one_panel_per_brand_in_a_readable_size():
    backend = matplotlib.get_backend()
    had_pyplot = "matplotlib.pyplot" in sys.modules
    png = render_chart(report_rows(5), "Five brands")
    img = image(png)
    assert img.format == "PNG"
    assert img.size[0] >= 1500 and img.size[1] >= 600  # 3 columns x 2 rows of panels
    pixels = np.asarray(img.convert("L"))
    assert pixels.std() > 10  # something is drawn
    assert matplotlib.get_backend() == backend
    assert ("matplotlib.pyplot" in sys.modules) == had_pyplot


def test_hour_buckets_single_brand_and_empty_report():
    one = image(render_chart(report_rows(1, "hour", 48), "One brand, hourly", "hour"))
    assert one.size[0] < one.size[1] * 3  # one column, not a strip
    empty = image(render_chart([], "Nothing"))
    assert empty.format == "PNG"


def test_a_long_title_wraps_inside_a_one_column_chart():
    title = (
        "Brand sentiment, 2026-11-01 UTC to 2026-11-30 UTC (day buckets, source "
        "headphone-reviews-2026, model lstm-20261130-922bc5a2); not scored, not English: 12 (ja)"
    )
    img = np.asarray(image(render_chart(report_rows(1), title)).convert("L"))
    band = img[: img.shape[0] // 8]  # the title's band, above the panel
    assert (band < 128).any()  # the title is drawn there
    # Nothing dark at the left or right edge: the title is not cut off by the figure's sides.
    assert band[:, :3].min() > 200 and band[:, -3:].min() > 200
