"""`sentimon evaluate`: a model version beside VADER and TextBlob, as JSON or rich tables.

Also the `evaluate-model` flow, for running the same evaluation from a deployment (it leaves a
markdown artifact with the headline table and the UCI sentences' table).

The UCI sentences (`pipeline.training.devsets`) are read from ``--uci DIR`` or, when it exists,
``$SENTIMON_DATA_DIR/uci``; without them the in-corpus tables come with one line saying how to
fetch them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from rich.console import Console, Group
from rich.table import Table

from flows.runtime.model_dirs import resolve_model
from flows.runtime.settings import Settings
from pipeline.records import LABELS
from pipeline.report.markdown import md_text
from pipeline.training.devsets import UCI_SOURCES, fetch_command
from pipeline.training.evaluation import TOOLS, evaluate_version

_TOOL_NAMES = {"model": "LSTM model", "vader": "VADER", "textblob": "TextBlob"}
_UCI_NAMES = {"amazon": "Amazon", "imdb": "IMDb", "yelp": "Yelp"}
_UCI_TITLE = (
    "UCI sentences, out of domain (positive iff score > 0): accuracy / ROC AUC of the score / "
    "share labelled neutral"
)


def resolve_uci(uci: Path | None, settings: Settings) -> Path | None:
    """The UCI sentences' folder: ``uci`` if given, else ``<data dir>/uci`` if it exists."""
    if uci is not None:
        return uci
    default = settings.data_dir / "uci"
    return default if default.is_dir() else None


def uci_hint(settings: Settings) -> str:
    """One line: the UCI sentences were not found, and the command that fetches them."""
    folder = settings.data_dir / "uci"
    return (
        f"UCI sentences (out-of-domain set) not in {folder}: fetch them with "
        f"`{fetch_command(folder)}` (in a checkout: `make uci`), or pass --uci DIR"
    )


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def headline_table(report: dict[str, Any]) -> Table:
    """Accuracy, macro-F1, Spearman, ECE and per-class F1 of each tool on the test split."""
    tools = report["test"]["tools"]
    table = Table(title=f"Test split ({report['test']['n']:,} texts): {report['version']}")
    table.add_column("metric")
    for name in TOOLS:
        table.add_column(_TOOL_NAMES[name], justify="right")
    rows = [("accuracy", "accuracy"), ("macro-F1", "macro_f1"), ("Spearman (score)", "spearman")]
    for title, key in rows:
        table.add_row(title, *(_fmt(tools[name][key]) for name in TOOLS))
    table.add_row("ECE", *(_fmt(tools[name]["ece"]) for name in TOOLS))
    for label in LABELS:
        for part in ("precision", "recall", "f1"):
            table.add_row(
                f"{label} {part}", *(_fmt(tools[name]["per_class"][label][part]) for name in TOOLS)
            )
    return table


def confusion_table(report: dict[str, Any]) -> Table:
    """The confusion matrices side by side: rows true labels, columns predicted."""
    table = Table(title="Confusion (rows: true label; columns: predicted neg / neu / pos)")
    table.add_column("true")
    for name in TOOLS:
        table.add_column(_TOOL_NAMES[name], justify="right")
    for i, label in enumerate(LABELS):
        cells = [
            " ".join(f"{n:>5}" for n in report["test"]["tools"][name]["confusion"][i])
            for name in TOOLS
        ]
        table.add_row(label, *cells)
    return table


def summary_table(title: str, groups: dict[str, dict[str, Any]]) -> Table:
    """macro-F1 and Spearman per tool for each slice or held-out run."""
    table = Table(title=f"{title}: macro-F1 / Spearman of the score")
    table.add_column("texts")
    table.add_column("n", justify="right")
    for name in TOOLS:
        table.add_column(_TOOL_NAMES[name], justify="right")
    for key, tools in groups.items():
        n = next(iter(tools.values()))["n"]
        table.add_row(
            key,
            f"{n:,}",
            *(f"{_fmt(tools[t]['macro_f1'])} / {_fmt(tools[t]['spearman'])}" for t in TOOLS),
        )
    return table


def _uci_cell(metrics: dict[str, Any]) -> str:
    return " / ".join(_fmt(metrics[k]) for k in ("accuracy", "auc", "neutral_share"))


def uci_table(uci: dict[str, dict[str, Any]]) -> Table:
    """Per UCI source: accuracy of the score's sign, ROC AUC and neutral share of each tool."""
    table = Table(title=_UCI_TITLE)
    table.add_column("source")
    table.add_column("n", justify="right")
    for name in TOOLS:
        table.add_column(_TOOL_NAMES[name], justify="right")
    for source in UCI_SOURCES:
        tools = uci[source]
        table.add_row(
            _UCI_NAMES[source],
            f"{tools[TOOLS[0]]['n']:,}",
            *(_uci_cell(tools[t]) for t in TOOLS),
        )
    return table


def render_report(report: dict[str, Any]) -> Group:
    """Every table of an evaluation report, for a rich console."""
    parts: list[Table] = [headline_table(report), confusion_table(report)]
    slices = report["test"]["slices"]
    if "topic" in slices:
        parts.append(summary_table("Test split by topic", slices["topic"]))
    parts.append(summary_table("Test split by length", slices["length"]))
    held_out = report.get("generalisation") or {}
    runs = {
        name.replace("_", " "): run["tools"]
        for name, run in held_out.items()
        if isinstance(run, dict) and "tools" in run
    }
    if runs:
        parts.append(
            summary_table(
                f"Held-out topic ({held_out.get('topic')}): trained on one side, tested on the "
                "other (recorded at training)",
                runs,
            )
        )
    if report.get("uci"):
        parts.append(uci_table(report["uci"]))
    return Group(*parts)


def print_report(report: dict[str, Any], console: Console, hint: str | None = None) -> None:
    """The tables; ``hint`` (`uci_hint`) is printed, unwrapped, when the report has no UCI."""
    if report.get("note"):
        console.print(f"note: {report['note']}", soft_wrap=True, markup=False, highlight=False)
    console.print(render_report(report))
    if not report.get("generalisation"):
        console.print(
            "no held-out-topic results recorded: train with `sentimon train --generalisation`"
        )
    if not report.get("uci") and hint:
        console.print(hint, soft_wrap=True, markup=False, highlight=False)


def markdown_summary(report: dict[str, Any], hint: str | None = None) -> str:
    """The `evaluate-model` artifact: the test split's headline and the UCI sentences."""
    tools = report["test"]["tools"]
    lines = [
        f"### Model `{report['version']}` on {report['test']['n']:,} test texts\n",
        "| tool | accuracy | macro-F1 | Spearman |",
        "|---|---|---|---|",
        *(
            f"| {_TOOL_NAMES[t]} | {_fmt(tools[t]['accuracy'])} | {_fmt(tools[t]['macro_f1'])} "
            f"| {_fmt(tools[t]['spearman'])} |"
            for t in TOOLS
        ),
    ]
    if report.get("note"):
        lines.append(f"\nNote: {md_text(report['note'])}")
    uci = report.get("uci")
    if uci:
        names = " | ".join(_TOOL_NAMES[t] for t in TOOLS)
        lines += [
            f"\n### {_UCI_TITLE}\n",
            f"| source | n | {names} |",
            "|---|---|" + "---|" * len(TOOLS),
            *(
                f"| {_UCI_NAMES[s]} | {uci[s][TOOLS[0]]['n']:,} | "
                + " | ".join(_uci_cell(uci[s][t]) for t in TOOLS)
                + " |"
                for s in UCI_SOURCES
            ),
        ]
    elif hint:
        lines += ["", hint]
    return "\n".join(lines) + "\n"


@task(name="evaluate-model-version", cache_policy=NO_CACHE)
def evaluate_task(model_dir: str, uci: str | None = None) -> dict[str, Any]:
    return evaluate_version(Path(model_dir), None if uci is None else Path(uci))


@flow(name="evaluate-model")
def evaluate_flow(model: str | None = None, uci: str | None = None) -> dict[str, Any]:
    """Evaluate a model version (path, registered name, or the active one) on its test split
    and, when found (``uci`` or ``$SENTIMON_DATA_DIR/uci``), on the UCI sentences."""
    settings = Settings()
    uci_dir = resolve_uci(None if uci is None else Path(uci), settings)
    report = evaluate_task(
        str(resolve_model(model, settings)), None if uci_dir is None else str(uci_dir)
    )
    markdown = markdown_summary(report, None if uci_dir else uci_hint(settings))
    create_markdown_artifact(key="model-evaluation", markdown=markdown)
    return report
