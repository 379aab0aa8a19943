"""How many stored posts were not scored, by language: what reports say about skipped posts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, func, select

from db.tables import post_brands, posts, predictions


def unscored_by_language(
    conn: Connection,
    since: datetime | None = None,
    until: datetime | None = None,
    model_version: str | None = None,
    brands: Sequence[str] | None = None,
    source: str | None = None,
) -> dict[str, int]:
    """Posts created in ``[since, until)`` that have no prediction, counted by ``posts.lang``.

    Ingest stores non-English posts without scoring them, so each key but "en" counts posts
    skipped for their language (a post stored before languages were identified counts under
    "und"). With ``model_version``, a post counts when that version has not scored it; with
    ``brands``, when it mentions one of them; with ``source``, when that source sent it.
    """
    scored = select(predictions.c.post_id).where(predictions.c.post_id == posts.c.id)
    if model_version is not None:
        scored = scored.where(predictions.c.model_version == model_version)
    lang = func.coalesce(posts.c.lang, "und")
    query = select(lang.label("lang"), func.count().label("n")).where(~scored.exists())
    if since is not None:
        query = query.where(posts.c.created_at >= since)
    if until is not None:
        query = query.where(posts.c.created_at < until)
    if brands:
        mentioned = select(post_brands.c.post_id).where(
            post_brands.c.post_id == posts.c.id, post_brands.c.brand.in_(list(brands))
        )
        query = query.where(mentioned.exists())
    if source is not None:
        query = query.where(posts.c.source == source)
    query = query.group_by(lang).order_by(lang)
    return {row.lang: int(row.n) for row in conn.execute(query)}
