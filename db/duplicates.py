"""Link posts that repeat an earlier post's content (``posts.duplicate_of``)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, bindparam, func, select, update

from db.sql import chunked
from db.tables import posts


def link_duplicates(conn: Connection, candidates: Sequence[tuple[int, str]]) -> int:
    """Point each new post at the first stored post with its content hash; returns links made.

    ``candidates`` are (post id, content hash) of posts just inserted whose content may repeat
    an earlier one. The first post of a hash (lowest id) is the original and stays unlinked.
    Runs inside the batch's transaction; two batches committing the same new text at the same
    moment on PostgreSQL may both keep theirs as originals (each sees only its own rows).
    """
    links: list[dict[str, int]] = []
    for chunk in chunked(list(candidates)):
        hashes = sorted({h for _, h in chunk})
        first = dict(
            conn.execute(
                select(posts.c.content_hash, func.min(posts.c.id))
                .where(posts.c.content_hash.in_(hashes))
                .group_by(posts.c.content_hash)
            ).all()
        )
        links.extend(
            {"post_id": post_id, "original": first[h]}
            for post_id, h in chunk
            if first.get(h) is not None and first[h] != post_id
        )
    if links:
        conn.execute(
            update(posts)
            .where(posts.c.id == bindparam("post_id"))
            .values(duplicate_of=bindparam("original")),
            links,
        )
    return len(links)
