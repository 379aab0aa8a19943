"""The one place where errors become CLI messages.

Any error of the catalogue (pipeline/errors.py) that a command raises becomes one red `error:`
line on stderr, its text never read as rich markup, and exit status 1 (2 for a UsageError, as
click's own usage errors); with `sentimon --debug` (or SENTIMON_DEBUG=1) its traceback follows.
Anything else is a bug and keeps its traceback."""

from __future__ import annotations

import functools
from collections.abc import Callable
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


def error_line(err: SentimonError, doing: str | None = None) -> str:
    """``error: [doing: ]message[; next step]``, as rich markup with the message escaped."""
    message = str(err)
    hint = next((h for kind, h in _NEXT.items() if isinstance(err, kind)), None)
    if hint:
        message = f"{message}; {hint}"
    lead = f"{doing}: " if doing else ""
    return f"[red]error:[/red] {escape(lead + message)}"


def handle_errors(doing: str | None = None) -> Callable[[Command], Command]:
    """Decorate a command so that a SentimonError ends it with one error line and exit 1 (2 for
    a UsageError).

    ``doing`` (e.g. "training failed") goes before the error's own message.
    """

    def decorate(command: Command) -> Command:
        @functools.wraps(command)
        def run(*args: Any, **kwargs: Any) -> Any:
            try:
                return command(*args, **kwargs)
            except SentimonError as err:
                err_console.print(error_line(err, doing), soft_wrap=True)
                if _debug:
                    err_console.print_exception()
                raise typer.Exit(2 if isinstance(err, UsageError) else 1) from err

        return run  # type: ignore[return-value]

    return decorate


def usage_error(message: str) -> UsageError:
    """A usage mistake found by a command itself: one `error:` line and exit 2, not click's
    boxed usage text (raise what this returns inside a @handle_errors command)."""
    return UsageError(message)
