"""The guard against consuming a source by mistake.

A wrong ``--map``, the wrong encoding or the wrong file turns every record into a reject, and
committing that batch moves the source's cursor past records that were never stored. So the
first batch of a source (one with no cursor yet) is refused when more than half of its records
would be rejected for one reason, when a mapped field is in none of them, or when many of them
share an id with a record of another text: nothing is committed, and the run says why.
``--accept-rejects`` stores such a batch all the same. Later batches are never refused: by then
the options are known to fit the input, and a bad stretch of records is quarantined as usual.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence

from pipeline.errors import FirstBatchRejectedError
from pipeline.records import Post, RawRecord, Reject
from pipeline.sources.validate import field_names

# Refused when the rejects of one reason are more than this share of the records read.
GUARD_SHARE = 0.5
_DETAIL = re.compile(r"\s*\([^)]*\)")


def reason_kind(reason: str) -> str:
    """What rejects of one cause share: the reason without its details (after a colon, or in
    parentheses): ``unparsable created_at: '3' ...`` -> ``unparsable created_at``."""
    return _DETAIL.sub("", reason.split(": ", 1)[0]).strip()


def first_batch_refusal(source: str, n_read: int, rejects: Sequence[Reject]) -> str | None:
    """Why the first batch of ``source`` (``n_read`` records, these rejects) must not be
    committed; None when it may."""
    if not rejects or n_read == 0:
        return None
    kinds = Counter(reason_kind(r.reason) for r in rejects)
    kind, count = kinds.most_common(1)[0]
    if count <= GUARD_SHARE * n_read:
        return None
    example = next(r for r in rejects if reason_kind(r.reason) == kind)
    return (
        f"source {source!r}: {count} of its first {n_read} records would be rejected as "
        f'"{example.reason}" (the first at {example.locator}); nothing was stored. Fix the '
        "command or the input, or rerun with --accept-rejects to store the records that pass "
        "and quarantine the rest"
    )


def check_first_batch(source: str, n_read: int, rejects: Sequence[Reject]) -> None:
    """Raise FirstBatchRejectedError when ``first_batch_refusal`` gives a reason."""
    if (why := first_batch_refusal(source, n_read, rejects)) is not None:
        raise FirstBatchRejectedError(why)


def unmapped_field_refusal(
    source: str, records: Sequence[RawRecord], column_map: Mapping[str, str] | None
) -> str | None:
    """Why the first batch of ``source`` must not be committed when a field that ``--map``
    names (``id=reviewid``) is in none of its records; None when each is in some.

    A missing text rejects the record, which ``first_batch_refusal`` catches; a missing id or
    time does not: each post would get a content hash for its id, or the time it was read, and
    correcting the map afterwards would store every post a second time under its real id.
    """
    read = [r.fields for r in records if r.fields is not None]
    if not column_map or not read:
        return None
    present = set().union(*read)
    absent = [
        (ours, theirs)
        for ours, theirs in column_map.items()
        if ours != "text" and theirs not in present
    ]
    if not absent:
        return None
    pairs = ", ".join(f"{ours}={theirs}" for ours, theirs in absent)
    that = "that field" if len(absent) == 1 else "those fields"
    return (
        f"source {source!r}: --map {pairs}: none of its first {len(records)} records has "
        f"{that} (the first has {field_names(read[0])}); "
        "nothing was stored. Fix --map, or rerun with --accept-rejects to store the records "
        f"without {'it' if len(absent) == 1 else 'them'}"
    )


def check_mapped_fields(
    source: str, records: Sequence[RawRecord], column_map: Mapping[str, str] | None
) -> None:
    """Raise FirstBatchRejectedError when ``unmapped_field_refusal`` gives a reason."""
    if (why := unmapped_field_refusal(source, records, column_map)) is not None:
        raise FirstBatchRejectedError(why)


# Refused when records sharing an id with a different record are more than this share of the
# posts: only the first of each would be stored.
REPEATED_ID_SHARE = 0.1


def repeated_id_refusal(
    source: str, posts: Sequence[Post], column_map: Mapping[str, str] | None
) -> str | None:
    """Why the first batch of ``source`` must not be committed when many of its posts share
    an id with a post of another text (``--map id=author``); None otherwise.

    Posts are unique on (source, id): a repeated id keeps its first post and drops the rest,
    silently, and correcting the map afterwards stores every post again under its real id
    beside the ones already stored. A record sent twice (same id, same text) is no mistake.
    """
    texts: dict[str, str] = {}
    lost = 0
    for post in posts:
        first = texts.setdefault(post.external_id, post.text)
        lost += first != post.text
    if lost <= REPEATED_ID_SHARE * len(posts):
        return None
    column = (column_map or {}).get("id", "id")
    return (
        f"source {source!r}: {lost} of its first {len(posts)} records share their id "
        f"({column}) with a record of another text: {len(texts)} distinct ids, and only the "
        "first record of each would be stored; nothing was stored. Map id to a column unique "
        "to each post (or leave it out: each post is then keyed by its content), or rerun "
        "with --accept-rejects to store them as they are"
    )


def check_repeated_ids(
    source: str, posts: Sequence[Post], column_map: Mapping[str, str] | None
) -> None:
    """Raise FirstBatchRejectedError when ``repeated_id_refusal`` gives a reason."""
    if (why := repeated_id_refusal(source, posts, column_map)) is not None:
        raise FirstBatchRejectedError(why)
