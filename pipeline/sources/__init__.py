"""Replayable readers behind one ``Source`` interface (see ``base``)."""

from pipeline.sources.base import RAW_KEEP, Source, SourceBatch
from pipeline.sources.files import FileSource

__all__ = ["RAW_KEEP", "FileSource", "Source", "SourceBatch"]
