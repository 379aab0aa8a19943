"""From a source's name or an ad hoc ``--input`` to a reader object.

Flow and task parameters carry only the source name and the input string (they are shown in
the Prefect UI); each task rebuilds its reader from them, which is cheap, so nothing live or
secret ever passes through Prefect.

Ad hoc inputs:
- a path: a CSV/JSONL(.gz)/Parquet file or a landing folder, named NAME-DIGEST after it unless
  ``--source`` names it (``source_name_for``);
- ``sqlite:///shop.db?table=reviews&cursor=id[&id=review_id]`` or the same with a
  ``postgresql://`` URL (its password from PGPASSWORD or ~/.pgpass, never in the URL);
- ``redis://127.0.0.1:6379/0?stream=posts[&group=sentimon][&consumer=NAME]``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from flows.runtime.config import ProjectConfig, SourceConfig
from pipeline.errors import ConfigError
from pipeline.sources import SETTLE_SECONDS, FileSource, Source

_SQL_SCHEMES = ("sqlite", "postgresql", "postgres", "mysql", "mariadb")


@dataclass(frozen=True)
class ResolvedSource:
    """A source's name, its configuration, and the files path when it is a files source."""

    name: str
    config: SourceConfig
    path: Path | None = None
    url: str | None = None


def resolve_source(
    project: ProjectConfig, source: str | None, input_path: str | None
) -> ResolvedSource:
    """The named source of sentimon.toml, or an ad hoc one built from ``input_path``."""
    if input_path is None:
        if source is None:
            raise ConfigError("give --input PATH_OR_URI, or --source NAME from sentimon.toml")
        cfg = project.source(source)
        if cfg.kind == "files":
            return ResolvedSource(source, cfg, path=project.files_path(source))
        url = cfg.resolved_url(source)
        if cfg.url is not None:  # written in sentimon.toml: relative to it, as a files path is
            url = _beside(url, project.folder)
        return ResolvedSource(source, cfg, url=url)
    return adhoc_source(input_path, source)


def with_run_options(
    resolved: ResolvedSource,
    settle_seconds: float | None = None,
    encoding: str | None = None,
    reread_changed: bool = False,
) -> ResolvedSource:
    """``resolved`` with a run's options in place of sentimon.toml's (those given)."""
    given = {"settle_seconds": settle_seconds, "encoding": encoding}
    update: dict[str, Any] = {key: value for key, value in given.items() if value is not None}
    if reread_changed:
        update["reread_changed"] = True
    if not update:
        return resolved
    return dataclasses.replace(resolved, config=resolved.config.model_copy(update=update))


def adhoc_source(input_path: str, name: str | None = None) -> ResolvedSource:
    """A source from ``--input``: a path, or a SQL or Redis URL with the options in its query."""
    scheme = urlsplit(input_path).scheme.split("+")[0].lower()
    if scheme in ("", "file") or len(scheme) == 1:  # one letter: a Windows drive
        path = Path(input_path.removeprefix("file://"))
        cfg = SourceConfig(kind="files", path=str(path))
        return ResolvedSource(name or source_name_for(input_path), cfg, path=path)
    url, options = _split_options(input_path)
    if scheme in _SQL_SCHEMES:
        cfg = SourceConfig(
            kind="sql",
            url="(ad hoc)",
            table=options.pop("table", None),
            cursor_column=options.pop("cursor", None),
            id_column=options.pop("id", None),
        )
        default_name = input_name(str(cfg.table), url, "table", cfg.table)
    elif scheme in ("redis", "rediss"):
        cfg = SourceConfig(
            kind="redis",
            url="(ad hoc)",
            stream=options.pop("stream", None),
            group=options.pop("group", "sentimon"),
            consumer=options.pop("consumer", None),
        )
        default_name = input_name(str(cfg.stream), url, "stream", cfg.stream)
    else:
        raise ConfigError(
            f"--input {scheme}://...: give a path, a sqlite:// or postgresql:// URL, or redis://"
        )
    if options:
        raise ConfigError(f"--input: unknown option(s) {', '.join(sorted(options))}")
    return ResolvedSource(name or str(default_name), cfg, url=url)


def _beside(url: str, folder: Path) -> str:
    """A relative ``sqlite:///x.db`` taken from ``folder``; any other URL as it is."""
    if not url.startswith("sqlite:///") or url.startswith("sqlite:////"):
        return url
    path = url.removeprefix("sqlite:///")
    if not path or path.startswith(":memory:"):
        return url
    return f"sqlite:///{folder / path}"


def _split_options(input_path: str) -> tuple[str, dict[str, str]]:
    """The URL without sentimon's options, and those options.

    Passwords are refused: --input is a flow parameter, and flow parameters are shown in
    the Prefect UI and its logs.
    """
    parts = urlsplit(input_path)
    if parts.password:
        raise ConfigError(
            "--input holds a password, which would be shown in the Prefect UI: put the URL in "
            "an environment variable and name it with url_env in sentimon.toml, or use "
            "PGPASSWORD / ~/.pgpass"
        )
    ours = {"table", "cursor", "id", "stream", "group", "consumer"}
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    options = {k: v for k, v in pairs if k in ours}
    rest = "&".join(f"{k}={v}" for k, v in pairs if k not in ours)
    # Not urlunsplit: it turns sqlite:////abs/path into sqlite://abs/path.
    base = input_path.split("?", 1)[0]
    return (f"{base}?{rest}" if rest else base), options


def open_source(resolved: ResolvedSource) -> Source:
    """Build the reader for ``resolved``; imports stay inside so each kind costs only itself."""
    cfg = resolved.config
    if cfg.kind == "files":
        assert resolved.path is not None
        settle = SETTLE_SECONDS if cfg.settle_seconds is None else cfg.settle_seconds
        return FileSource(
            resolved.path,
            resolved.name,
            settle_seconds=settle,
            encoding=cfg.encoding,
            reread_changed=cfg.reread_changed,
        )
    assert resolved.url is not None
    if cfg.kind == "sql":
        from db.sql_source import SqlSource

        return SqlSource(
            url=resolved.url,
            name=resolved.name,
            table=cfg.table,
            query=cfg.query,
            cursor_column=str(cfg.cursor_column),
            id_column=cfg.id_column,
        )
    from pipeline.sources.redis_stream import CLAIM_IDLE_MS, RedisStreamSource

    return RedisStreamSource(
        url=resolved.url,
        stream=str(cfg.stream),
        group=cfg.group,
        # One consumer name per host: after a crash the next run on this host picks up its own
        # pending entries first; other hosts claim them only once they have idled.
        consumer=cfg.consumer or f"{resolved.name}@{socket.gethostname()}",
        name=resolved.name,
        claim_idle_ms=cfg.claim_idle_ms or CLAIM_IDLE_MS,
    )


def input_name(stem: str, url: str, option: str, value: str | None) -> str:
    """An ad hoc SQL or Redis input's source name: its table or stream, then a digest of the
    database or server and that table or stream, for the reason ``source_name_for`` gives: by
    its table alone, table t of b.db would resume at a.db's cursor and its ids be taken for
    a.db's posts. A SQLite path is resolved first, so the same file keeps its name from any
    folder."""
    if url.startswith("sqlite:///"):
        database = Path(url.removeprefix("sqlite:///").split("?", 1)[0]).expanduser()
        url = f"sqlite:///{database.resolve()}"
    digest = hashlib.sha256(f"{url}?{option}={value}".encode()).hexdigest()[:8]
    return f"{stem[:64]}-{digest}"


def source_name_for(input_path: str) -> str:
    """An ad hoc input's source name: its file or folder name without suffixes, then a digest of
    its resolved path.

    The name keys the cursor, so two different inputs must never share one: by name alone,
    d2/posts.jsonl would resume at d1/posts.jsonl's offset, and feed.csv after feed.jsonl
    would sort before the cursor and be skipped. The same path keeps its name across runs.
    """
    resolved = Path(input_path.removeprefix("file://")).expanduser().resolve()
    stem = resolved.name.split(".")[0][:64] or "input"
    digest = hashlib.sha256(os.fsencode(resolved)).hexdigest()[:8]
    return f"{stem}-{digest}"
