"""`sentimon run` records exactly the brand mentions a brand monitor expects, and skips
(stores but does not score) posts in other languages."""

import json

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from db.language_stats import unscored_by_language
from db.tables import post_brands, posts, predictions
from flows.cli import app
from flows.runtime.process import get_runtime
from flows.runtime.settings import Settings

pytestmark = pytest.mark.slow

# (id, text, brand field or None, expected post_brands rows) against configs/brands.toml.
POSTS = [
    ("1", "United Airlines lost my bag", None, {"United Airlines"}),
    ("2", "UNITED airlines! never again", None, {"United Airlines"}),
    ("3", "@united thanks for nothing", None, {"United Airlines"}),
    ("4", "#United #fail", None, {"United Airlines"}),
    ("5", "#UnitedAirlinesSucks so much", None, {"United Airlines"}),
    ("6", "(@UNITED) where is my bag?", None, {"United Airlines"}),
    ("7", "@JetBlue beats @AmericanAir every time", None, {"JetBlue", "American Airlines"}),
    ("8", "the flight was fine", "Southwest Airlines", {"Southwest Airlines"}),
    ("9", "on time for once", "@VirginAmerica|JetBlue", {"Virgin America", "JetBlue"}),
    # near misses: no row
    ("10", "disunited and reunited", None, set()),
    ("11", "the United States of America", None, set()),
    ("12", "#UnitedStates #unitedway", None, set()),
    ("13", "@united_fan hello there", None, set()),
    ("14", "apple pie in the big apple", None, set()),
    ("15", "no brand here at all, lovely day", None, set()),
    # not English: stored with its language and its mention, not scored
    ("16", "Me encanta mi nuevo iPhone, la cámara es increíble", None, {"Apple"}),
]
NON_ENGLISH = {"16": "es"}


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("SENTIMON_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    return tmp_path / "data"


def test_run_records_exactly_the_expected_mentions(prefect_server, data_dir, tmp_path):
    path = tmp_path / "posts.jsonl"
    rows = []
    for external_id, text, brand, _ in POSTS:
        row = {"id": external_id, "text": text, "created_at": "2026-11-02T10:00:00Z"}
        if brand is not None:
            row["brand"] = brand
        rows.append(json.dumps(row))
    path.write_text("\n".join(rows) + "\n")

    result = CliRunner().invoke(app, ["run", "--input", str(path), "--batch-size", "7"])
    assert result.exit_code == 0, result.output

    engine = get_runtime(Settings()).engine
    with engine.connect() as conn:
        mentions = {
            (row.external_id, row.brand)
            for row in conn.execute(
                select(posts.c.external_id, post_brands.c.brand).join(
                    post_brands, post_brands.c.post_id == posts.c.id
                )
            )
        }
        langs = dict(conn.execute(select(posts.c.external_id, posts.c.lang)).all())
        scored = set(
            conn.execute(
                select(posts.c.external_id).join(predictions, predictions.c.post_id == posts.c.id)
            ).scalars()
        )
        skipped = unscored_by_language(conn)

    assert mentions == {(i, brand) for i, _, _, brands in POSTS for brand in brands}
    assert langs == {i: NON_ENGLISH.get(i, "en") for i, *_ in POSTS}
    # Posts without a brand are scored too; only the Spanish one is not.
    assert scored == {i for i, *_ in POSTS} - set(NON_ENGLISH)
    assert skipped == {"es": 1}
    # ... and the report says how many posts its figures leave out for their language.
    report = CliRunner().invoke(app, ["report", "--format", "md"])
    assert report.exit_code == 0, report.output
    assert "not scored, not English: 1 (es 1)" in report.stdout
