"""What a backfill reads: stored posts of a period that a model version has not scored yet."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, and_, or_, select

from db.tables import posts, predictions


@dataclass(frozen=True, slots=True)
class StoredPost:
    id: int
    text: str


def posts_to_rescore(
    conn: Connection,
    model_version: str,
    since: datetime | None,
    until: datetime | None,
    after_id: int,
    limit: int,
) -> list[StoredPost]:
    """Up to ``limit`` posts with id > ``after_id`` and ``since <= created_at < until`` that
    have no prediction by ``model_version``, in id order (keyset paging: a restarted backfill
    simply finds fewer posts left). Posts stored as non-English are left out, as at ingest.
    """
    scored = select(predictions.c.post_id).where(
        predictions.c.post_id == posts.c.id, predictions.c.model_version == model_version
    )
    conditions = [
        posts.c.id > after_id,
        ~scored.exists(),
        posts.c.text.is_not(None),
        or_(posts.c.lang.is_(None), posts.c.lang == "en"),
    ]
    if since is not None:
        conditions.append(posts.c.created_at >= since)
    if until is not None:
        conditions.append(posts.c.created_at < until)
    query = select(posts.c.id, posts.c.text).where(and_(*conditions)).order_by(posts.c.id)
    return [StoredPost(row.id, row.text) for row in conn.execute(query.limit(limit))]
