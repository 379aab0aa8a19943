"""db.labelling: the least-confident scored originals per (source, brand), on a real database."""

from sqlalchemy import select, update

from db import repository
from db.labelling import known_brands, known_sources, uncertain_posts
from db.tables import posts
from pipeline.records import Batch


def _commit(db, items, source="reviews"):
    with db.begin() as conn:
        repository.commit_batch(
            conn, Batch(source=source, cursor_from=None, cursor_to="1", scored=items, rejects=[])
        )


def test_least_sure_per_group_originals_only(db, scored, day):
    _commit(
        db,
        [
            scored("a", "positive", (0.1, 0.2, 0.7), day(1), ("Acme",), text="sure thing"),
            scored("b", "neutral", (0.3, 0.4, 0.3), day(1), ("Acme",), text="hmm maybe"),
            scored("c", "negative", (0.5, 0.2, 0.3), day(2), ("Acme", "Zed"), text="meh ok"),
            scored("d", "neutral", (0.33, 0.34, 0.33), day(2), (), text="no brand here"),
            scored("e", "neutral", (0.3, 0.4, 0.3), day(3), ("Acme",), text="hmm maybe"),
            scored(
                "f",
                "neutral",
                (0.3, 0.4, 0.3),
                day(3),
                ("Acme",),
                model_version="v0",
                text="other model",
            ),
        ],
    )
    with db.begin() as conn:  # "e" repeats "b" (ingest links what content_key calls a copy)
        first = conn.execute(select(posts.c.id).where(posts.c.external_id == "b")).scalar_one()
        conn.execute(update(posts).where(posts.c.external_id == "e").values(duplicate_of=first))
    with db.connect() as conn:
        got = uncertain_posts(conn, "v1", per_group=2)
        by_group = {}
        for c in got:
            by_group.setdefault((c.source, c.brands), []).append(c.text)
        assert by_group[("reviews", ("Acme",))] == ["hmm maybe", "meh ok"]  # 2 of 3, "e" a copy
        assert by_group[("reviews", ("Zed",))] == ["meh ok"]
        assert by_group[("reviews", ())] == ["no brand here"]
        assert all(c.text != "other model" for c in got)
        only_zed = uncertain_posts(conn, "v1", per_group=5, brand="Zed")
        assert [c.text for c in only_zed] == ["meh ok"]
        assert uncertain_posts(conn, "v1", per_group=5, source="tickets") == []
        assert known_sources(conn) == ["reviews"] and known_brands(conn) == ["Acme", "Zed"]
