"""Report wiring without Prefect: settings -> database -> report rows (used by the CLI and flows).

Kept free of prefect imports so that `sentimon report` starts quickly.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from db import repository
from db.engine import make_engine, redact_url
from db.language_stats import unscored_by_language
from db.migrate import current_revision
from db.report_queries import ALL_SOURCES, brands_seen, load_report_data
from flows.runtime.settings import Settings
from pipeline.analytics.aggregate_math import DEFAULT_MIN_VOLUME
from pipeline.errors import ConfigError, NoDatabaseError, UnknownBrandError
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
) -> BrandReport:
    """The brand report of the active model version over [since, until)."""
    from db.buckets import check_bucket
    from pipeline.report.rows import build_report

    checked = check_bucket(bucket)
    engine = make_engine(settings.db_url)
    try:
        if current_revision(engine) is None:
            raise NoDatabaseError(
                f"no results database at {redact_url(settings.db_url)}: "
                "run `sentimon init` or `sentimon demo` first"
            )
        with engine.connect() as conn:
            if brands:
                try:
                    known = configured_brands(settings)
                except ConfigError:  # no brands file: the brands seen
                    known = {name: (name,) for name in brands_seen(conn)}
                brands = resolve_brands(brands, known)
            active = repository.active_model_version(conn)
            if active is None:
                return BrandReport([], "Brand sentiment (no active model)", bucket, None)
            data = load_report_data(
                conn, active.version, checked, since, until, brands, source or ALL_SOURCES, top_n
            )
            # Non-English posts are stored but not scored: say how many the figures leave out.
            skipped = {
                lang: n
                for lang, n in unscored_by_language(conn, since, until, active.version).items()
                if lang != "en"
            }
    finally:
        engine.dispose()
    try:
        names = list(configured_brands(settings))
    except ConfigError:
        names = sorted({row.brand for row in data.series})  # no brands file: all brands seen
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
    return BrandReport(rows, title, bucket, active.version, warnings)


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
