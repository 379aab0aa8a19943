"""What `sentimon run` checks before Prefect, spaCy and the model start (~15 s): a mistake in
the input, sentimon.toml, the brands file or the results database answers at once, in one line.

Nothing here writes: no folder is created, no database file, no cursor. Only plain imports
(tomllib, pydantic, SQLAlchemy and the database driver), never prefect or torch.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError
from sqlalchemy.engine import URL

from flows.runtime.config import ProjectConfig, load_config
from flows.runtime.model_dirs import resolve_model_dir
from flows.runtime.settings import Settings
from flows.runtime.sources import ResolvedSource, input_name, resolve_source
from pipeline.errors import (
    ConfigError,
    DatabaseFailedError,
    DatabaseUnavailableError,
    SentimonError,
    SourceError,
    UsageError,
)
from pipeline.model.team_lexicon import load_team_lexicon
from pipeline.text.brand_file import load_brands

if TYPE_CHECKING:
    from sqlalchemy.exc import DBAPIError

    from db.sources import SourceState

# libpq's connect_timeout (2 s is its smallest useful value): an unreachable database server
# answers within it instead of the operating system's minutes.
CONNECT_TIMEOUT_S = 2
DATABASE_EXAMPLES = "sqlite:///PATH or postgresql+psycopg://USER@HOST:5432/DB"
_SQLITE_MAGIC = b"SQLite format 3\x00"


def check_run(settings: Settings, input_path: str | None, source: str | None) -> ResolvedSource:
    """Everything `sentimon run` needs that can be checked without starting it; the source.

    Raises a UsageError (a wrong option value, exit 2) or another SentimonError (exit 1).
    """
    if input_path is None and source is None:
        raise UsageError("give --input PATH_OR_URL, or --source NAME from sentimon.toml")
    if input_path is not None and _is_path(input_path):
        check_input_path(Path(input_path.removeprefix("file://")))
    project = check_config(settings)
    try:
        resolved = resolve_source(project, source, input_path)
    except ValidationError as err:  # an ad hoc SQL or Redis URL without its options
        problem = err.errors()[0]["msg"].removeprefix("Value error, ")
        raise UsageError(f"--input {_shown(input_path)}: {problem}") from None
    if input_path is None and resolved.path is not None:
        check_input_path(resolved.path, f"source {source!r}: its path")
    if resolved.url is not None and resolved.config.kind == "sql":
        _check_sqlite_input(
            resolved.url, f"--input {_shown(input_path)}" if input_path else f"source {source!r}"
        )
    if resolved.url is not None and resolved.config.kind == "redis":
        _check_redis_stream(resolved.url, str(resolved.config.stream), resolved.config.group)
    load_brands(settings.brands)
    lexicon = settings.lexicon or project.lexicon_path()
    if lexicon is not None:
        load_team_lexicon(lexicon)  # its values too, before the workers would each say it
    check_database(settings.db_url)
    # The active model, as the run will load it: a directory moved away since it was
    # activated is one line now, not an error from the flow after Prefect has started.
    resolve_model_dir(settings)
    if input_path is not None and source is None and resolved.path is not None:
        _check_not_read_by_another(settings.db_url, resolved, input_path)
    if input_path is not None and source is None and resolved.url is not None:
        _check_table_or_stream_is_new(settings.db_url, project, resolved, input_path)
    return resolved


def _check_table_or_stream_is_new(
    url: str, project: ProjectConfig, resolved: ResolvedSource, input_path: str
) -> None:
    """Refuse a new ad hoc SQL or Redis source that another source reads already.

    A table or stream of sentimon.toml under the auto-made name would be a new source storing
    every row again. And a stored source named by the table or stream alone (how an earlier
    sentimon named every such input, whatever its database) may be this very input: only the
    user knows, so the line names both ways on.
    """
    cfg = resolved.config
    option, value = ("table", cfg.table) if cfg.kind == "sql" else ("stream", cfg.stream)
    if cfg.kind == "sql" and cfg.table is None:
        return
    for name, other in project.sources.items():
        if other.kind != cfg.kind or (other.table if cfg.kind == "sql" else other.stream) != value:
            continue
        try:
            other_url = other.resolved_url(name)
        except ConfigError:
            continue  # its url_env is not set here: it cannot be compared
        if input_name(str(value), other_url, option, value) == resolved.name:
            raise UsageError(
                f"--input {_shown(input_path)}: {option} {value!r} there is source {name!r} of "
                f"sentimon.toml; `sentimon run --source {name}` reads on where it stopped (a new "
                "name would store every row again)"
            )
    names = {state.name: state for state in _stored_states(url)}
    old = names.get(str(value))
    if old is not None and resolved.name not in names:
        raise UsageError(
            f"--input {_shown(input_path)}: a source {value!r} is stored ({old.n_posts:,} posts), "
            f"named by its {option} alone as an earlier sentimon named every ad hoc {option}: "
            f"if it read this one, `--source {value}` reads on where it stopped; if not, "
            f"`--source {resolved.name}` reads this one as a new source"
        )


def _stored_states(url: str) -> list[SourceState]:
    """The sources the results database holds; none when it does not exist yet."""
    from db import migrate
    from db.engine import make_engine
    from db.sources import source_states

    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return []
    engine = make_engine(url)
    try:
        if migrate.current_revision(engine) is None:
            return []
        with engine.connect() as conn:
            return list(source_states(conn))
    finally:
        engine.dispose()


def _check_not_read_by_another(url: str, resolved: ResolvedSource, input_path: str) -> None:
    """Refuse a new ad hoc files source whose files another source has read already.

    An input's source name comes from its path, so the same folder under another name (the
    demo's landing folder, or a folder sentimon.toml names) would be a new source that stores
    every post again and doubles the reports' volumes. A stored cursor names the file it is in
    and how that file looked (pipeline/sources/identity.py): a file of this input with that
    name, unchanged but for what was appended, is the same file. Naming the source (--source)
    says a second copy is meant.
    """
    from pipeline.sources.identity import change, parse_cursor

    states = _stored_states(url)
    if any(state.name == resolved.name for state in states):
        return  # this input's own source: it reads on
    folder = resolved.path if resolved.path is not None and resolved.path.is_dir() else None
    for state in states:
        for position in [state.position, *state.partitions.values()]:
            try:
                cursor = parse_cursor(position)
            except SourceError:
                continue  # a SQL or Redis source's cursor
            if cursor is None or cursor.identity is None:
                continue
            file = folder / cursor.file if folder is not None else resolved.path
            if file is None or file.name != cursor.file or not file.is_file():
                continue
            try:
                same = change(file, cursor) is None
            except OSError:
                continue
            if same:
                raise UsageError(
                    f"--input {_shown(input_path)}: {cursor.file} was read already by source "
                    f"{state.name!r} ({state.n_posts:,} posts stored); `sentimon run --input "
                    f"{_shown(input_path)} --source {state.name}` reads on where it stopped, "
                    "and --source NEW_NAME stores it again as another source"
                )


def check_config(settings: Settings) -> ProjectConfig:
    """sentimon.toml, parsed; SENTIMON_CONFIG naming a missing file is an error."""
    if "SENTIMON_CONFIG" in os.environ and not settings.config.exists():
        raise ConfigError(
            f"SENTIMON_CONFIG names {settings.config}, which does not exist: fix or unset it"
        )
    return load_config(settings.config)


def check_input_path(path: Path, what: str | None = None, folders: bool = True) -> None:
    """A file (or, with ``folders``, a folder) that exists and that this user may read."""
    what = what or f"--input {path}"
    if not path.exists():
        raise UsageError(f"{what} does not exist: {_did_you_mean(path, folders)}")
    if path.is_dir() and not folders:
        raise UsageError(f"{what} is a folder, not a file")
    if path.is_dir():
        if not os.access(path, os.R_OK | os.X_OK):
            raise SourceError(f"{what}: the folder cannot be read by this user (permission denied)")
    elif not path.is_file():
        raise UsageError(f"{what} is not a regular file or a folder")
    elif not os.access(path, os.R_OK):
        raise SourceError(f"{what} cannot be read by this user (permission denied)")


def check_database_url(url: str) -> URL:
    """A URL SQLAlchemy can parse, of SQLite or PostgreSQL, whose driver is installed; the URL
    as db/engine.py uses it (postgresql:// means the psycopg driver)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        parsed = make_url(url)
    except ArgumentError:
        shown = f" {url!r}" if "@" not in url else ""
        raise ConfigError(
            f"SENTIMON_DATABASE_URL{shown} is not a database URL: give {DATABASE_EXAMPLES}"
        ) from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")  # as db/engine.py does
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise ConfigError(
            f"SENTIMON_DATABASE_URL: {backend} is not supported; sentimon stores its results in "
            f"SQLite or PostgreSQL: give {DATABASE_EXAMPLES}"
        )
    try:
        parsed.get_dialect().import_dbapi()
    except (NoSuchModuleError, ImportError) as err:
        driver = parsed.get_driver_name()
        raise ConfigError(
            f"SENTIMON_DATABASE_URL: the {driver} driver is not installed ({err}); "
            "use postgresql+psycopg:// (installed with sentimon)"
        ) from None
    return parsed


def check_database(url: str) -> None:
    """The results database: a supported URL, then a SQLite file that can be written or a
    PostgreSQL server that answers within CONNECT_TIMEOUT_S."""
    parsed = check_database_url(url)
    if parsed.get_backend_name() == "sqlite":
        _check_sqlite(parsed.database, dict(parsed.query))
    else:
        _check_postgresql(parsed)


def _check_sqlite(database: str | None, query: dict[str, object]) -> None:
    if not database or database == ":memory:":
        return
    if query.get("uri") in ("true", True):
        mode = query.get("mode")
        if mode == "ro":
            raise DatabaseUnavailableError(
                f"the results database {database} is opened read-only (mode=ro in "
                "SENTIMON_DATABASE_URL): sentimon run writes to it; drop mode=ro"
            )
        return
    path = Path(database).expanduser()
    if path.is_dir():
        raise DatabaseUnavailableError(
            f"the results database {path} is a folder: point SENTIMON_DATABASE_URL at a file"
        )
    if path.exists():
        if not os.access(path, os.R_OK | os.W_OK):
            raise DatabaseUnavailableError(
                f"the results database {path} is read-only for this user: make it writable "
                "or point SENTIMON_DATABASE_URL elsewhere; nothing was read"
            )
        _check_sqlite_header(path)
    folder = _nearest_existing(path.parent)
    if not os.access(folder, os.W_OK | os.X_OK):
        need = (
            "SQLite writes its journal beside the database"
            if folder == path.parent
            else f"{path.parent} must be created in it"
        )
        raise DatabaseUnavailableError(
            f"the results database's folder {folder} is read-only for this user ({need}): "
            "make it writable or point SENTIMON_DATA_DIR or SENTIMON_DATABASE_URL elsewhere; "
            "nothing was read"
        )


def _check_sqlite_header(path: Path) -> None:
    try:
        with path.open("rb") as fh:
            head = fh.read(len(_SQLITE_MAGIC))
    except OSError as err:
        raise DatabaseUnavailableError(f"the results database {path}: {err}") from err
    if head and head != _SQLITE_MAGIC:
        raise DatabaseUnavailableError(
            f"the results database {path} is not an SQLite database: point "
            "SENTIMON_DATABASE_URL or SENTIMON_DATA_DIR at another file"
        )


def _check_postgresql(url: URL) -> None:
    from sqlalchemy import create_engine
    from sqlalchemy.exc import DBAPIError
    from sqlalchemy.pool import NullPool

    engine = create_engine(
        url, poolclass=NullPool, connect_args={"connect_timeout": CONNECT_TIMEOUT_S}
    )
    shown = url.render_as_string(hide_password=True)
    try:
        with engine.connect() as conn:
            schema = conn.exec_driver_sql("SELECT current_schema()").scalar()
            path = conn.exec_driver_sql("SHOW search_path").scalar()
    except DBAPIError as err:
        raise database_unreachable(err, shown) from None
    finally:
        engine.dispose()
    if schema is None:  # every table would fail to be created: "no schema has been selected"
        raise DatabaseUnavailableError(
            f"the results database {shown} has no schema to write to: its search_path "
            f"({path}) names none that exists; create it (CREATE SCHEMA ...) or fix "
            "options=-csearch_path in SENTIMON_DATABASE_URL"
        )


def database_unreachable(err: DBAPIError, shown: str | None = None) -> DatabaseUnavailableError:
    """A connection to the results database that failed (server down, wrong host, user or
    database name), said in the driver's words without SQLAlchemy's statement dump. An error
    of a statement (SQLite's "database is locked", a read-only file) is said as a failure of
    the database, not of the connection."""
    reason = " ".join(str(err.orig).split()) if err.orig else type(err).__name__
    where = f"the results database {shown}" if shown else "the results database"
    if err.statement is not None:  # connected, then a statement failed
        return DatabaseUnavailableError(f"{where} failed: {reason}")
    return DatabaseUnavailableError(
        f"{where} cannot be reached: {reason}; check SENTIMON_DATABASE_URL (host, port, user, "
        "database) and that the server runs"
    )


def _check_sqlite_input(url: str, what: str) -> None:
    """A sqlite:// input: its file must exist (opening it would create an empty one)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        raise UsageError(f"{what}: {_shown(url)} is not a database URL") from None
    if parsed.get_backend_name() != "sqlite" or parsed.query.get("uri"):
        return
    if parsed.database and parsed.database != ":memory:":
        database = Path(parsed.database)
        check_input_path(database, f"{what}: the database file {database}", folders=False)


def _check_redis_stream(url: str, stream: str, group: str) -> None:
    """A Redis input's stream must exist: a misspelt name would otherwise be created empty
    and read as "nothing new" (pipeline/sources/redis_stream.py ``check_stream``). Read-only
    (TYPE, a bounded SCAN). A Redis that does not answer within CONNECT_TIMEOUT_S is one line
    here; one that denies these commands is left to the run, which says so itself."""
    import redis

    from pipeline.sources.redis_stream import check_stream, shown_url

    try:
        client = redis.Redis.from_url(
            url, socket_connect_timeout=CONNECT_TIMEOUT_S, socket_timeout=CONNECT_TIMEOUT_S
        )
    except ValueError:  # not a URL redis-py reads: the run's own error says it
        return
    try:
        check_stream(client, stream, group, url)
    except (redis.ConnectionError, redis.TimeoutError) as err:
        raise SourceError(
            f"the Redis server at {shown_url(url)} does not answer ({str(err).rstrip('.')}): "
            "start it or fix "
            "the URL; nothing was read"
        ) from None
    except redis.RedisError:
        return  # no permission for TYPE or SCAN, say: the run meets what it meets
    finally:
        client.close()


# Faults a second run does not mend until someone acts: SQLite's READONLY (8), FULL (13) and
# CANTOPEN (14) primary codes; PostgreSQL's read_only_sql_transaction, insufficient_privilege
# and disk_full SQLSTATEs. What to do about each.
_SQLITE_FIXES = {
    8: "make the database file and its folder writable for this user",
    13: "free disk space",
    14: "make the database's folder writable for this user",
}
_SQLSTATE_FIXES = {
    "25006": "connect to a server that accepts writes (not a read-only replica)",
    "42501": "grant this database user the rights it lacks",
    "53100": "free disk space on the database server",
}


def database_failure(err: DBAPIError) -> SentimonError:
    """The error a run reports when the results database fails under it.

    Only the driver's message: SQLAlchemy's own repeats the statement and its parameters. A
    lasting fault (read-only, full, permission denied) says what to fix first; anything else
    may be passing, and the next run resumes after the last committed batch.
    """
    orig = err.orig
    reason = " ".join(str(orig).split()) if orig is not None else type(err).__name__
    code = getattr(orig, "sqlite_errorcode", None)
    fix = (_SQLITE_FIXES.get(code & 0xFF) if code is not None else None) or _SQLSTATE_FIXES.get(
        getattr(orig, "sqlstate", None) or ""
    )
    if fix is not None:
        return DatabaseUnavailableError(
            f"the results database cannot be written: {reason}; {fix}. The failed batch was "
            "rolled back; once that is fixed, the next run resumes after the last committed "
            "batch."
        )
    return DatabaseFailedError(
        f"the results database failed: {reason}. The failed batch was "
        "rolled back; run again to resume after the last committed batch."
    )


def _nearest_existing(folder: Path) -> Path:
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder


def _did_you_mean(path: Path, folders: bool = True) -> str:
    parent = path.parent
    try:
        names = [p.name for p in parent.iterdir()] if parent.is_dir() else []
    except OSError:
        names = []
    close = difflib.get_close_matches(path.name, names, n=1, cutoff=0.8)
    if close:
        return f"did you mean {parent / close[0]}?"
    missing = "" if parent.is_dir() else f" (there is no folder {parent})"
    return f"give a file{' or a landing folder' if folders else ''}{missing}"


def _is_path(input_path: str) -> bool:
    scheme = input_path.split("://", 1)[0] if "://" in input_path else ""
    return scheme in ("", "file")


def _shown(value: str | None) -> str:
    """An input URL without its password (resolve_source refuses those anyway)."""
    if value and "@" in value and "://" in value:
        scheme, rest = value.split("://", 1)
        return f"{scheme}://…@{rest.split('@', 1)[1]}"
    return str(value)
