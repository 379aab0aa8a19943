"""The Typer application, its command groups and the consoles the commands print to."""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.console import Console

from pipeline.errors import UsageError

ENVIRONMENT_HELP = (
    "Settings come from the environment (all optional): SENTIMON_DATABASE_URL, the results "
    "database (default sqlite:///sentimon-data/sentimon.db; or "
    "postgresql+psycopg://USER@HOST:5432/DB); SENTIMON_DATA_DIR, the data folder (default "
    "sentimon-data); SENTIMON_BRANDS, the brands file (default: the bundled example); "
    "SENTIMON_CONFIG, the sources file (default sentimon.toml); SENTIMON_DEBUG=1, tracebacks "
    "on errors (README, Configuration)."
)

# Markdown: a help text's paragraphs reflow to the terminal (the default keeps each docstring
# line break, so a narrow terminal broke sentences mid-line), and `code` reads as code.
app = typer.Typer(no_args_is_help=True, rich_markup_mode="markdown")


def main() -> int:
    """The `sentimon` command (pyproject.toml's script): ``app``, then a quick exit.

    Click's own usage errors (a misspelt option, a bad value) come out as one ``error:`` line
    with exit status 2, like ours, instead of Typer's usage text and boxed panel.
    """
    # Click's exceptions, or the copy of Click that Typer vendors (0.19 on): the module that
    # holds typer.BadParameter, a public name in both.
    errors = sys.modules[typer.BadParameter.__module__]
    no_args_help: Any = getattr(errors, "NoArgsIsHelpError", ())  # Click 8.2 on
    try:
        result = app(standalone_mode=False, prog_name="sentimon")
    except errors.UsageError as err:
        usage: Any = err  # Click's class, seen through a module looked up at run time
        if isinstance(usage, no_args_help):
            usage.show()  # `sentimon models`: the group's help, as Click shows it
        else:
            message = usage.format_message().rstrip(".")
            # "...Did you mean 'models'?" takes the hint after a space, not "?;".
            sep = " See" if message.endswith("?") else "; see"
            where = f"{sep} '{usage.ctx.command_path} --help'" if usage.ctx is not None else ""
            err_console.print(
                f"error: {message}{where}",
                soft_wrap=True,
                markup=False,
                highlight=False,
            )
        return int(usage.exit_code)
    except errors.ClickException as err:
        err.show()
        return int(err.exit_code)
    except (getattr(errors, "Abort", typer.Abort), typer.Abort):  # Typer's copy has none
        err_console.print("Aborted.", markup=False, highlight=False)
        return 1
    finally:
        # At exit the interpreter searches every object torch and spaCy made for cycles
        # before freeing them: ~0.5 s of a ~3 s `sentimon score`. Frozen, they are left to the
        # OS; atexit handlers and plain reference counting still run.
        gc.freeze()
    # Without standalone mode Click returns what ended the command: a typer.Exit's code, or
    # the command's return value (None: every command prints rather than returns).
    return result if isinstance(result, int) else 0


models_app = typer.Typer(help="List and activate model versions.", no_args_is_help=True)
app.add_typer(models_app, name="models")
label_app = typer.Typer(
    help="Posts for a person to label, to adapt the model.", no_args_is_help=True
)
app.add_typer(label_app, name="label")
sources_app = typer.Typer(
    help="Each source's cursor, batches and rejects; move a cursor back.", no_args_is_help=True
)
app.add_typer(sources_app, name="sources")
rejects_app = typer.Typer(
    help="Records refused by validation: list them, replay them with another --map.",
    no_args_is_help=True,
)
app.add_typer(rejects_app, name="rejects")
console = Console()
err_console = Console(stderr=True)

# Help examples stay short and without spaces: rich cuts a word longer than the help column.
MapOption = Annotated[
    str | None,
    typer.Option(
        "--map",
        help="The input's column names for our fields, ours=theirs pairs separated by commas, "
        "e.g. text=review,id=uid (our fields: text, id, created_at, author, url, brand).",
    ),
]


# Our fields that an ingest --map may name (pipeline/sources/validate.py FIELDS; kept here so
# that the CLI checks a map without importing the pipeline).
INGEST_FIELDS = ("text", "id", "created_at", "author", "url", "brand")


def parse_map(value: str | None, fields: Sequence[str] | None = None) -> dict[str, str] | None:
    """``"text=review,id=uid"`` -> ``{"text": "review", "id": "uid"}``.

    With ``fields``, each left side must be one of them (ours=theirs): a reversed pair, an
    unknown field or a field mapped twice is a UsageError (one line, exit 2) naming them.
    """
    if not value:
        return None
    pairs = [item.split("=", 1) for item in value.split(",") if item.strip()]
    if any(len(p) != 2 or not p[0].strip() or not p[1].strip() for p in pairs):
        raise UsageError(
            f"--map {value!r}: use ours=theirs pairs separated by commas, e.g. text=review"
        )
    mapping: dict[str, str] = {}
    allowed = ", ".join(fields or ())
    for ours, theirs in ((o.strip(), t.strip()) for o, t in pairs):
        if fields is not None and ours not in fields:
            if theirs in fields:
                raise UsageError(
                    f"--map {ours}={theirs}: the left side is our field, the right side the "
                    f"input's column; did you mean {theirs}={ours}? (our fields: {allowed})"
                )
            raise UsageError(
                f"--map {ours}={theirs}: {ours!r} is not one of our fields; write ours=theirs, "
                f"ours being one of our fields: {allowed}"
            )
        if ours in mapping:
            raise UsageError(f"--map names {ours} twice ({mapping[ours]} and {theirs})")
        mapping[ours] = theirs
    return mapping


def _print_version(asked: bool) -> None:
    if asked:
        from importlib.metadata import PackageNotFoundError, version

        try:
            console.print(f"sentimon {version('sentimon')}", highlight=False)
        except PackageNotFoundError:  # run from a source tree that was never installed
            console.print("sentimon (not installed: no version recorded)", highlight=False)
        raise typer.Exit()


@app.callback(epilog=ENVIRONMENT_HELP)
def global_options(
    debug: Annotated[
        bool,
        typer.Option("--debug", help="On an error, show its traceback too (or SENTIMON_DEBUG=1)."),
    ] = False,
    show_version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Print sentimon's version and exit.",
            callback=_print_version,
            is_eager=True,
        ),
    ] = False,
) -> None:
    """sentimon: sentiment monitoring for brand reputation."""
    from flows.cli.errors import set_debug

    set_debug(debug or os.environ.get("SENTIMON_DEBUG", "").lower() in ("1", "true", "yes"))
    # Before any command imports prefect: its temporary server would otherwise try to send
    # usage analytics, and log an ERROR for each failed attempt on a machine without network.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # Prefect's 20 s is too short for a first run on a slow machine (its temporary server also
    # creates its database then: ~35 s on the 2-core VM), which then failed with a traceback.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")


def warn(message: str) -> None:
    """A warning on stderr, unwrapped (the commands in it stay copyable)."""
    from rich.markup import escape

    err_console.print(f"[yellow]warning:[/yellow] {escape(message)}", soft_wrap=True)


def parse_when(value: str | None) -> datetime | None:
    """``7d`` / ``24h`` relative to now, or an ISO date; UTC."""
    from flows.runtime.reporting import parse_time

    try:
        return parse_time(value)
    except ValueError as err:
        raise typer.BadParameter(str(err)) from err
