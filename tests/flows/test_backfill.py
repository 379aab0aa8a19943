"""`sentimon backfill`: a second model version scores a period's stored posts, and only those."""

import json
from datetime import date

import pytest
from sqlalchemy import create_engine, func, select
from typer.testing import CliRunner

from db.aggregates import refresh_aggregates
from db.tables import brand_sentiment, predictions

pytestmark = pytest.mark.slow
runner = CliRunner()


def _aggregates(engine, version):
    """The version's brand_sentiment rows by what they mean, scores to 6 places."""
    bs = brand_sentiment.c
    query = select(
        bs.brand,
        bs.bucket,
        bs.bucket_start,
        bs.source,
        bs.volume,
        bs.n_negative,
        bs.n_neutral,
        bs.n_positive,
        bs.mean_score,
        bs.net_sentiment,
    ).where(bs.model_version == version)
    with engine.connect() as conn:
        return sorted(
            tuple(round(v, 6) if isinstance(v, float) else v for v in row)
            for row in conn.execute(query)
        )


def _count(engine, query):
    with engine.connect() as conn:
        return conn.execute(query).scalar_one()


def test_backfill_scores_the_period_with_another_version(prefect_server, tmp_path, monkeypatch):
    from flows.cli import app

    data = tmp_path / "data"
    monkeypatch.setenv("SENTIMON_DATA_DIR", str(data))
    monkeypatch.chdir(tmp_path)
    posts = tmp_path / "posts.jsonl"
    with posts.open("w") as fh:
        for day in range(1, 7):
            for n in range(5):
                text = ["@united the flight was great", "@united lost my bag again"][n % 2]
                fh.write(
                    json.dumps(
                        {
                            "id": f"{day}-{n}",
                            "text": f"{text} {n}",
                            "created_at": f"2026-03-0{day}T10:0{n}:00Z",
                        }
                    )
                    + "\n"
                )
    assert runner.invoke(app, ["run", "--input", str(posts)]).exit_code == 0

    config = tmp_path / "tiny.toml"
    config.write_text("[train]\nepochs = 1\nembed_dim = 16\nhidden_size = 8\nmin_freq = 1\n")
    trained = runner.invoke(
        app, ["train", "--limit", "600", "--config", str(config), "--no-activate"]
    )
    assert trained.exit_code == 0, trained.output
    version = next((data / "models").iterdir()).name

    args = ["backfill", "--model", version, "--since", "2026-03-02", "--until", "2026-03-05"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["new_predictions"] == 15  # days 2, 3 and 4

    engine = create_engine(f"sqlite:///{data / 'sentimon.db'}")
    by_version = select(func.count()).where(predictions.c.model_version == version)
    assert _count(engine, by_version) == 15
    assert _count(engine, select(func.count()).select_from(predictions)) == 30 + 15
    rows = select(func.sum(brand_sentiment.c.volume)).where(
        brand_sentiment.c.model_version == version, brand_sentiment.c.bucket == "day"
    )
    assert _count(engine, rows) == 15
    # Added chunk by chunk, the version's aggregates equal a rebuild of the days it scored.
    added = _aggregates(engine, version)
    with engine.begin() as conn:
        refresh_aggregates(
            conn, version, ["United Airlines"], [date(2026, 3, d) for d in range(1, 7)]
        )
    assert _aggregates(engine, version) == added and len(added) == 6  # 3 days, 1 hour each

    again = runner.invoke(app, args)
    assert json.loads(again.stdout)["new_predictions"] == 0
    unknown = runner.invoke(app, ["backfill", "--model", "nope"])
    assert unknown.exit_code == 2 and "not registered" in unknown.output
