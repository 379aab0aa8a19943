"""The one place where errors become CLI messages.

Any error of the catalogue (pipeline/errors.py) that a command raises becomes one red `error:`
line on stderr, its text never read as rich markup, and exit status 1 (2 for a UsageError, as
click's own usage errors); with `sentimon --debug` (or SENTIMON_DEBUG=1) its traceback follows.
So does a results database that cannot be reached or fails under a command (exit 1). Anything
else is a bug and keeps its traceback."""

from __future__ import annotations

import contextlib
import functools
import logging
import sys
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import typer
from rich.markup import escape

from flows.cli.app import err_console
from pipeline.errors import SentimonError, UnknownModelVersionError, UsageError

Command = TypeVar("Command", bound=Callable[..., Any])

# What to do next, where the error's own text cannot know it is read at a terminal.
_NEXT = {UnknownModelVersionError: "`sentimon models list` shows the registered versions"}


# Set by the app's callback for each invocation (`sentimon --debug`, SENTIMON_DEBUG=1).
_debug = False


def set_debug(on: bool) -> None:
    """Whether an error's traceback is printed after its one line."""
    global _debug
    _debug = on


def error_line(err: SentimonError) -> str:
    """``error: message[; next step]``, as rich markup with the message escaped.

    No "training failed:" lead: most errors are found before anything starts (a wrong file,
    name or label), and the message itself says what is wrong and where.
    """
    message = str(err)
    hint = next((h for kind, h in _NEXT.items() if isinstance(err, kind)), None)
    if hint:
        message = f"{message}; {hint}"
    return f"[red]error:[/red] {escape(message)}"


def _unreachable_database(err: Exception) -> SentimonError | None:
    """A results database that cannot be reached (server down; wrong host, user or database
    in SENTIMON_DATABASE_URL) as one error line; None for any other exception.

    Every command opens the database its own way; `sentimon run` checks it before it starts,
    the others meet the failure on their first query. SQLAlchemy is loaded by then: without
    it, the error cannot be one of its own.
    """
    exc = sys.modules.get("sqlalchemy.exc")
    if exc is None or not isinstance(err, exc.OperationalError | exc.InterfaceError):
        return None
    from flows.runtime.preflight import database_unreachable

    return database_unreachable(err)


def handle_errors() -> Callable[[Command], Command]:
    """Decorate a command so that a SentimonError, or a results database that cannot be
    reached, ends it with one error line and exit 1 (2 for a UsageError)."""

    def decorate(command: Command) -> Command:
        @functools.wraps(command)
        def run(*args: Any, **kwargs: Any) -> Any:
            try:
                return command(*args, **kwargs)
            except SentimonError as err:
                err_console.print(error_line(err), soft_wrap=True)
                if _debug:
                    err_console.print_exception()
                raise typer.Exit(2 if isinstance(err, UsageError) else 1) from err
            except Exception as err:
                failure = _unreachable_database(err)
                if failure is None:
                    raise  # a bug: its traceback is the report
                err_console.print(error_line(failure), soft_wrap=True)
                if _debug:
                    err_console.print_exception()
                raise typer.Exit(1) from err

        return run  # type: ignore[return-value]

    return decorate


class _NoSentimonTraceback(logging.Filter):
    """Keeps a log record's line but drops its traceback when it is a SentimonError's."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], SentimonError):
            record.exc_info = record.exc_text = None
        return True


@contextlib.contextmanager
def running_flow() -> Iterator[None]:
    """While a command runs a flow: Prefect's API answers (its temporary server, launched
    early by `flows.api_server.start` or now; one error line if it does not come up), and no
    SentimonError traceback on the terminal without --debug.

    Prefect logs an exception that ends a flow run with its traceback (``logger.exception`` in
    its flow engine), and a SentimonError is already said in one error line. The filter sits on
    the root logger's handlers, Prefect's console handler among them (Prefect's logging.yml;
    enter this after prefect is imported): the run loggers' own API handler has sent the record
    whole before it propagates there, so the Prefect UI keeps the traceback.
    """
    from flows.api_server import running

    handlers = [] if _debug else list(logging.getLogger().handlers)
    quiet = _NoSentimonTraceback()
    for handler in handlers:
        handler.addFilter(quiet)
    try:
        with running():
            yield
    finally:
        for handler in handlers:
            handler.removeFilter(quiet)


@contextlib.contextmanager
def interruptible(kept: str) -> Iterator[None]:
    """Ctrl-C inside ends the command with ``interrupted: <kept>`` and exit status 130.

    A transaction cut short is rolled back, so what a run or backfill committed before the
    interrupt is whole; ``kept`` tells the user so and how to go on. (Typer would exit 130
    silently, leaving them to wonder what was stored.)
    """
    quiet = _InterruptCrashes()
    loggers = [logging.getLogger(name) for name in _RUN_LOGGERS]
    for logger in loggers:
        logger.addFilter(quiet)
    try:
        yield
    except KeyboardInterrupt:
        err_console.print(
            f"[yellow]interrupted:[/yellow] {escape(kept)}", soft_wrap=True, highlight=False
        )
        raise typer.Exit(130) from None
    finally:
        for logger in loggers:
            logger.removeFilter(quiet)


# Prefect's loggers of flow and task runs (its own records, not a flow's log calls).
_RUN_LOGGERS = ("prefect.flow_runs", "prefect.task_runs")


class _InterruptCrashes(logging.Filter):
    """Drops Prefect's ERROR lines about a run aborted by the interrupt ("Crash detected!
    Execution was aborted by an interrupt signal.", one per task and flow run): the
    `interrupted:` line says it once, with what is kept. The flow run still ends Crashed in
    the Prefect UI."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.levelno >= logging.ERROR and "interrupt signal" in record.getMessage())


def usage_error(message: str) -> UsageError:
    """A usage mistake found by a command itself: one `error:` line and exit 2, not click's
    boxed usage text (raise what this returns inside a @handle_errors command)."""
    return UsageError(message)
