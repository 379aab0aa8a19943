"""Report wiring without Prefect: settings -> database -> report rows (used by the CLI and flows).

Kept free of prefect imports so that `sentimon report` starts quickly.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from db import repository
from db.buckets import Bucket
from db.engine import make_engine, redact_url
from db.labelling import known_brands
from db.language_stats import unscored_by_language
from db.report_queries import (
    ALL_SOURCES,
    load_report_data,
    posts_created,
    report_window,
    sources_seen,
    unlabelled_by,
)
from flows.runtime.settings import Settings
from pipeline.analytics.aggregate_math import DEFAULT_MIN_VOLUME
from pipeline.errors import EmptyPeriodError, NoDatabaseError, UnknownBrandError, UsageError
from pipeline.model.domain_shift import shift_warning
from pipeline.text.brand_file import load_brands

_UNITS = {"d": "days", "h": "hours"}


def parse_time(value: str | None, now: datetime | None = None) -> datetime | None:
    """``7d`` / ``24h`` before now, or an ISO date or datetime (naive means UTC); None stays."""
    if not value:
        return None
    if value[-1:] in _UNITS and value[:-1].isdigit():
        return (now or datetime.now(UTC)) - timedelta(**{_UNITS[value[-1]]: int(value[:-1])})
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as err:
        raise ValueError(f"{value!r}: use 7d, 24h or a date like 2026-11-01") from err
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True)
class BrandReport:
    """A built report: its rows (pipeline/report/rows.py) and what it covers."""

    rows: list[dict[str, Any]]
    title: str
    bucket: str
    model_version: str | None
    # Sources whose text reads unlike the training data (pipeline/model/domain_shift.py).
    warnings: list[str] = field(default_factory=list)


def configured_brands(settings: Settings) -> dict[str, tuple[str, ...]]:
    """Brand name -> the phrases that mention it (name, aliases, handles, hashtags).

    Read with pipeline/text/brand_file.py, which loads no spaCy: a report starts quickly.
    """
    return {brand.name: brand.phrases() for brand in load_brands(settings.brands).brands}


def resolve_brands(asked: Sequence[str], known: Mapping[str, Sequence[str]]) -> list[str]:
    """The brand names ``asked`` for, as ``known`` spells them (brand -> its phrases).

    A name, alias or handle matches whatever its case; anything else is an UnknownBrandError
    that lists the brands there are and the closest ones (difflib).
    """
    by_key: dict[str, str] = {}
    for name, phrases in known.items():
        for phrase in phrases:
            by_key.setdefault(phrase.strip().casefold(), name)
    for name in known:  # a brand's own name wins over another's alias
        by_key[name.strip().casefold()] = name
    resolved: list[str] = []
    for wanted in asked:
        hit = by_key.get(wanted.strip().casefold())
        if hit is None:
            raise UnknownBrandError(_unknown_brand(wanted, known, by_key))
        if hit not in resolved:
            resolved.append(hit)
    return resolved


def _brands_known(
    conn: Connection, settings: Settings, asked: Sequence[str]
) -> dict[str, tuple[str, ...]]:
    """The brands file's brands and, when one asked for is not among them, the brands stored:
    a source's own brand field can name a brand the file lacks, and the report shows it."""
    known = configured_brands(settings)
    phrases = {p.strip().casefold() for names in known.values() for p in names}
    if all(a.strip().casefold() in phrases for a in asked):
        return known
    stored = {name: (name,) for name in known_brands(conn) if name not in known}
    return {**known, **stored}


def check_source(source: str, known: Sequence[str]) -> None:
    """A UsageError when ``source`` is not one the database knows (a misspelt name would give
    an empty report that reads as a quiet week), naming those it knows."""
    if not known or source in known:
        return  # an empty database: the report says there is nothing yet
    # `run --input reviews.jsonl` names its source "reviews-<hash>": the stem is the likely slip.
    close = [name for name in known if name.startswith(source + "-")][:1] or (
        difflib.get_close_matches(source, list(known), n=1, cutoff=0.6)
    )
    hint = f"did you mean {close[0]!r}? " if close else ""
    shown = ", ".join(known[:30]) + (f" and {len(known) - 30} more" if len(known) > 30 else "")
    raise UsageError(f"unknown source {source!r}: {hint}the sources are {shown}")


def _unknown_brand(wanted: str, known: Mapping[str, Sequence[str]], by_key: dict[str, str]) -> str:
    names = sorted(known, key=str.casefold)
    if not names:
        return f"unknown brand {wanted!r}: no brand is known yet (no brands file, no data)"
    close = difflib.get_close_matches(wanted.strip().casefold(), list(by_key), n=6, cutoff=0.6)
    suggestions = list(dict.fromkeys(by_key[key] for key in close))[:3]
    hint = f"did you mean {' or '.join(repr(s) for s in suggestions)}? " if suggestions else ""
    shown = ", ".join(names[:30]) + (f" and {len(names) - 30} more" if len(names) > 30 else "")
    return f"unknown brand {wanted!r}: {hint}the brands are {shown}"


def make_report(
    settings: Settings,
    since: datetime | None = None,
    until: datetime | None = None,
    bucket: str = "day",
    source: str | None = None,
    brands: Sequence[str] | None = None,
    min_volume: int = DEFAULT_MIN_VOLUME,
    top_n: int = 3,
    require_posts: bool = False,
) -> BrandReport:
    """The brand report of the active model version over [since, until).

    The brands file must be readable (a ConfigError otherwise: a report of other brands than
    asked for would mislead). With ``require_posts`` (the CLI), a period given by ``since``
    or ``until`` that holds no post is an EmptyPeriodError saying when the posts were written;
    a scheduled report of a quiet week stays an empty report.
    """
    from db.buckets import check_bucket
    from db.migrate import current_revision  # alembic: only once a report is built
    from pipeline.report.rows import build_report

    checked = check_bucket(bucket)
    names = list(configured_brands(settings))
    url = settings.db_url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        # Checked before connecting: SQLite would create an empty file at a misspelt path.
        raise NoDatabaseError(
            f"no results database at {redact_url(url)}: run `sentimon init` or `sentimon demo` "
            "first, or fix SENTIMON_DATABASE_URL"
        )
    engine = make_engine(url)
    try:
        if current_revision(engine) is None:
            raise NoDatabaseError(
                f"no results database at {redact_url(settings.db_url)}: "
                "run `sentimon init` or `sentimon demo` first"
            )
        with engine.connect() as conn:
            if brands:
                brands = resolve_brands(brands, _brands_known(conn, settings, brands))
            if require_posts and source is not None and source != ALL_SOURCES:
                # The CLI's: a scheduled report of a source with no figures yet stays empty.
                check_source(source, sources_seen(conn))
            if require_posts and (since is not None or until is not None):
                _check_period(conn, since, until, checked, source or ALL_SOURCES)
            active = repository.active_model_version(conn)
            if active is None:
                return BrandReport([], "Brand sentiment (no active model)", bucket, None)
            data = load_report_data(
                conn, active.version, checked, since, until, brands, source or ALL_SOURCES, top_n
            )
            # Non-English posts are stored but not scored: say how many the figures leave out.
            unscored = unscored_by_language(
                conn,
                since,
                until,
                active.version,
                brands=brands or None,
                source=None if source in (None, ALL_SOURCES) else source,
            )
            skipped = {lang: n for lang, n in unscored.items() if lang != "en"}
            unlabelled = unlabelled_by(conn, active.version)
    finally:
        engine.dispose()
    rows = build_report(data, names, brands, min_volume)
    title = report_title(data.since, data.until, bucket, source, active.version)
    if skipped:
        langs = ", ".join(f"{lang} {n}" for lang, n in sorted(skipped.items()))
        title += f"; not scored, not English: {sum(skipped.values())} ({langs})"
    thresholds = settings.shift_thresholds
    warnings = [
        warning
        for name, signals in sorted(data.signals.items())
        if (warning := shift_warning(name, signals, thresholds, active.version))
    ]
    if unlabelled:  # an empty report otherwise, with nothing to say why
        warnings.append(
            f"no stored post has a label of the active model {active.version} yet: "
            "`sentimon backfill` scores them with it"
        )
    return BrandReport(rows, title, bucket, active.version, warnings)


def _check_period(
    conn: Connection,
    since: datetime | None,
    until: datetime | None,
    bucket: Bucket,
    source: str,
) -> None:
    """An EmptyPeriodError when no post was created in the report's window."""
    start, end = report_window(since, until, bucket)
    if posts_created(conn, start, end, source)[0]:
        return
    n, first, last = posts_created(conn, source=source)
    span = (
        f"between {_day(start)} and {_day(end)}"
        if start is not None and end is not None
        else f"since {_day(start)}"
        if start is not None
        else f"before {_day(end)}"
    )
    of = f" of source {source}" if source != ALL_SOURCES else ""
    if n == 0 or first is None or last is None:
        where = f"the database holds none{of} yet: `sentimon run` stores them"
    else:
        written = (
            f"the only post{of} was written on {_day(first)}"
            if n == 1
            else f"the {n} posts{of} were written from {_day(first)} to {_day(last)}"
        )
        where = f"{written}; choose --since/--until in that span"
    raise EmptyPeriodError(f"no posts{of} {span} (UTC): {where}")


def _day(moment: datetime | None) -> str:
    if moment is None:
        return "?"
    stamp = moment.astimezone(UTC) if moment.tzinfo else moment
    return stamp.strftime("%Y-%m-%d %H:%M") if (stamp.hour or stamp.minute) else f"{stamp:%Y-%m-%d}"


def report_title(
    since: datetime | None, until: datetime | None, bucket: str, source: str | None, version: str
) -> str:
    """What the report covers, in one line."""
    fmt = "%Y-%m-%d" if bucket == "day" else "%Y-%m-%d %H:00"
    if since is None and until is None:
        span = "all posts"
    else:
        start = since.strftime(fmt) if since else "the first post"
        end = until.strftime(fmt) + " UTC" if until else "now"
        span = f"{start} to {end}" if since is None else f"{start} UTC to {end}"
    where = f"source {source}" if source and source != ALL_SOURCES else "all sources"
    return f"Brand sentiment, {span} ({bucket} buckets, {where}, model {version})"
