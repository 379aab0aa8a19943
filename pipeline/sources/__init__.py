"""Replayable readers behind one ``Source`` interface (see ``base``).

The SQL reader lives in ``db.sql_source`` (pipeline/ stays free of SQLAlchemy); the Redis
reader is imported from ``pipeline.sources.redis_stream`` by whoever needs it, so that a files
run does not load the Redis client.
"""

from pipeline.sources.base import RAW_KEEP, Source, SourceBatch
from pipeline.sources.files import SETTLE_SECONDS, FileSource

__all__ = [
    "RAW_KEEP",
    "SETTLE_SECONDS",
    "FileSource",
    "Source",
    "SourceBatch",
]
