"""`sentimon evaluate`: a model version beside VADER and TextBlob, as JSON or rich tables.

Also the `evaluate-model` flow, for running the same evaluation from a deployment (it leaves a
markdown artifact with the headline table).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from rich.console import Console, Group
from rich.table import Table

from db import repository
from db.engine import make_engine
from db.migrate import current_revision
from flows.runtime import resolve_model_dir
from flows.settings import Settings
from pipeline.errors import ArtifactError
from pipeline.evaluation import TOOLS, evaluate_version
from pipeline.records import LABELS

_TOOL_NAMES = {"model": "LSTM model", "vader": "VADER", "textblob": "TextBlob"}


def resolve_model(model: str | None, settings: Settings) -> Path:
    """A model directory from a path, a registered version name, or (None) the active model."""
    if model is None:
        return resolve_model_dir(settings)
    path = Path(model)
    if path.is_dir():
        return path
    engine = make_engine(settings.db_url)
    try:
        if current_revision(engine) is not None:
            with engine.connect() as conn:
                for row in repository.list_model_versions(conn):
                    if row.version == model:
                        return Path(row.path)
    finally:
        engine.dispose()
    raise ArtifactError(
        f"{model!r} is neither a model directory nor a registered version: "
        "`sentimon models list` shows the versions"
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
    return Group(*parts)


def print_report(report: dict[str, Any], console: Console) -> None:
    console.print(render_report(report))
    if not report.get("generalisation"):
        console.print(
            "no held-out-topic results recorded: train with `sentimon train --generalisation`"
        )


@task(name="evaluate-model-version", cache_policy=NO_CACHE)
def evaluate_task(model_dir: str) -> dict[str, Any]:
    return evaluate_version(Path(model_dir))


@flow(name="evaluate-model")
def evaluate_flow(model: str | None = None) -> dict[str, Any]:
    """Evaluate a model version (path, registered name, or the active one) on its test split."""
    report = evaluate_task(str(resolve_model(model, Settings())))
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
    create_markdown_artifact(key="model-evaluation", markdown="\n".join(lines) + "\n")
    return report
