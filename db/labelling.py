"""What `sentimon label export` reads: stored posts a model version scored, least sure first."""

from __future__ import annotations

from sqlalchemy import Connection, and_, case, func, or_, select

from db.tables import post_brands, posts, predictions
from pipeline.records import Candidate


def known_sources(conn: Connection) -> list[str]:
    return list(conn.execute(select(posts.c.source).distinct().order_by(posts.c.source)).scalars())


def known_brands(conn: Connection) -> list[str]:
    query = select(post_brands.c.brand).distinct().order_by(post_brands.c.brand)
    return list(conn.execute(query).scalars())


def uncertain_posts(
    conn: Connection,
    model_version: str,
    per_group: int,
    source: str | None = None,
    brand: str | None = None,
) -> list[Candidate]:
    """Up to ``per_group`` least-confident posts of each (source, brand) group, as scored by
    ``model_version``: originals only (``duplicate_of`` unset), English or unknown language.

    A post mentioning two brands comes once per brand (`pipeline.training.labelling` merges them); a
    post without a brand is in its source's brand-less group. The cap per group keeps the
    read small however many posts are stored, and still lets every group fill the request.
    """
    p = predictions.c
    top = case(
        (and_(p.p_negative >= p.p_neutral, p.p_negative >= p.p_positive), p.p_negative),
        (p.p_neutral >= p.p_positive, p.p_neutral),
        else_=p.p_positive,
    )
    conditions = [
        p.model_version == model_version,
        posts.c.duplicate_of.is_(None),
        posts.c.text.is_not(None),
        or_(posts.c.lang.is_(None), posts.c.lang == "en"),
    ]
    if source is not None:
        conditions.append(posts.c.source == source)
    if brand is not None:
        conditions.append(post_brands.c.brand == brand)
    rank = (
        func.row_number()
        .over(partition_by=[posts.c.source, post_brands.c.brand], order_by=[top, posts.c.id])
        .label("rank")
    )
    ranked = (
        select(
            posts.c.id,
            posts.c.source,
            posts.c.text,
            post_brands.c.brand,
            p.label,
            p.p_negative,
            p.p_neutral,
            p.p_positive,
            rank,
        )
        .join(predictions, predictions.c.post_id == posts.c.id)
        .outerjoin(post_brands, post_brands.c.post_id == posts.c.id)
        .where(and_(*conditions))
        .subquery()
    )
    query = select(ranked).where(ranked.c.rank <= per_group).order_by(ranked.c.id)
    return [
        Candidate(
            post_id=row.id,
            source=row.source,
            text=row.text,
            brands=(row.brand,) if row.brand is not None else (),
            label=row.label,
            p_negative=row.p_negative,
            p_neutral=row.p_neutral,
            p_positive=row.p_positive,
        )
        for row in conn.execute(query)
    ]
