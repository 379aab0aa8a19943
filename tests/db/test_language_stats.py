"""Posts stored without a prediction (other languages), counted by language and period."""

from sqlalchemy import func, select

from db import repository
from db.language_stats import unscored_by_language
from db.tables import post_brands, posts, predictions
from pipeline.records import Batch, Post, ScoredPost


def unscored(external_id, lang, created_at, brands=()):
    post = Post(
        source="s", external_id=external_id, text=f"text {external_id}", created_at=created_at
    )
    return ScoredPost(post=post, brands=brands, prediction=None, lang=lang)


def test_unscored_posts_are_stored_and_counted_by_language(db, scored, day):
    batch = Batch(
        source="s",
        cursor_from=None,
        cursor_to="1",
        scored=[
            scored("1", "positive", (0.1, 0.2, 0.7), day(1), brands=("Apple",), source="s"),
            unscored("2", "es", day(1), brands=("Apple",)),
            unscored("3", "es", day(2)),
            unscored("4", "fr", day(3)),
            unscored("5", None, day(3)),
        ],
    )
    with db.begin() as conn:
        counts = repository.commit_batch(conn, batch)
    assert (counts.n_new_posts, counts.n_new_predictions) == (5, 1)

    with db.connect() as conn:
        assert conn.execute(select(func.count()).select_from(predictions)).scalar_one() == 1
        assert conn.execute(select(func.count()).select_from(post_brands)).scalar_one() == 2
        langs = dict(conn.execute(select(posts.c.external_id, posts.c.lang)).all())
        assert langs == {"1": "en", "2": "es", "3": "es", "4": "fr", "5": None}

        assert unscored_by_language(conn) == {"es": 2, "fr": 1, "und": 1}
        assert unscored_by_language(conn, since=day(2)) == {"es": 1, "fr": 1, "und": 1}
        assert unscored_by_language(conn, since=day(1), until=day(2)) == {"es": 1}
        # By a version that scored nothing yet, the English post counts as unscored too.
        assert unscored_by_language(conn, model_version="v2")["en"] == 1
        assert "en" not in unscored_by_language(conn, model_version="v1")


def test_a_batch_of_only_unscored_posts_commits(db, day):
    batch = Batch(source="s", cursor_from=None, cursor_to="1", scored=[unscored("1", "de", day(1))])
    with db.begin() as conn:
        counts = repository.commit_batch(conn, batch)
    assert (counts.n_new_posts, counts.n_new_predictions) == (1, 0)
    with db.connect() as conn:
        assert unscored_by_language(conn) == {"de": 1}
