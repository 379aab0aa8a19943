"""Link posts that repeat an earlier post's content (``posts.duplicate_of``)."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy import Connection, Integer, Text, any_, bindparam, func, select, update
from sqlalchemy.dialects import postgresql

from db.sql import chunked
from db.tables import posts


def first_posts(conn: Connection, hashes: Collection[str]) -> dict[str, int]:
    """The first stored post (lowest id) of each content hash that has one.

    A batch looks its hashes up before it inserts its posts, so that a post repeating stored
    content is inserted with ``duplicate_of`` set: an UPDATE afterwards rewrote the row and all
    its index entries, most of the duplicate links' cost.
    """
    if not hashes:
        return {}
    query = select(posts.c.content_hash, func.min(posts.c.id)).group_by(posts.c.content_hash)
    ordered = sorted(hashes)
    if conn.dialect.name == "postgresql":  # one statement: the hashes as one array value
        array = bindparam(None, ordered, type_=postgresql.ARRAY(Text()))
        return dict(conn.execute(query.where(posts.c.content_hash == any_(array))).all())
    found: dict[str, int] = {}
    for chunk in chunked(ordered):
        found.update(conn.execute(query.where(posts.c.content_hash.in_(chunk))).all())
    return found


def link_repeats(conn: Connection, new_posts: Sequence[tuple[int, str, bool]]) -> int:
    """Link the repeats within a batch of content that no stored post had; returns links made.

    ``new_posts`` are (post id, content hash, linkable) of the posts a batch just inserted
    whose hash ``first_posts`` did not find. The first post of a hash (lowest id) is the
    original and stays unlinked; a later linkable one points at it. The database has no other
    post of these hashes, so no query is needed to find the first. Two batches committing the
    same new text at the same moment on PostgreSQL may both keep theirs as originals (each
    sees only its own rows).
    """
    first: dict[str, int] = {}
    for post_id, content_hash, _ in new_posts:
        first[content_hash] = min(first.get(content_hash, post_id), post_id)
    links = [
        {"post_id": post_id, "original": first[content_hash]}
        for post_id, content_hash, linkable in new_posts
        if linkable and first[content_hash] != post_id
    ]
    if links:
        conn.execute(
            update(posts)
            .where(posts.c.id == bindparam("post_id", type_=Integer()))
            .values(duplicate_of=bindparam("original", type_=Integer())),
            links,
        )
    return len(links)
