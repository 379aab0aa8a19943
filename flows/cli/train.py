"""`sentimon train`: train a model version, or fine-tune one on a team's labels (--base)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from flows.cli.app import app, console, parse_map, warn
from flows.cli.errors import handle_errors, interruptible, running_flow
from flows.runtime.settings import DEFAULT_TRAIN_CONFIG, load_settings

_STOPPED = (
    "training stopped before it finished; `sentimon models list` shows the registered versions"
)


@app.command()
@handle_errors()
def train(
    data: Annotated[
        Path | None, typer.Option(help="A labelled CSV (default: bundled corpus).")
    ] = None,
    column_map: Annotated[
        str | None,
        typer.Option(
            "--map",
            help="The CSV's column names for our fields, ours=theirs pairs separated by commas, "
            "e.g. text=review,label=stars (our fields: text, label, weight).",
        ),
    ] = None,
    labels: Annotated[
        str | None,
        typer.Option(
            "--labels",
            help="Label values -> classes: 'stars' (1-2 neg, 3 neu, 4-5 pos) or value=class "
            "pairs, e.g. 1=negative,5=positive. Default: neg/neu/pos spellings, -1/0/1, stars.",
        ),
    ] = None,
    config: Annotated[
        Path, typer.Option(help="Hyperparameters (TOML).", show_default="configs/lstm.toml")
    ] = DEFAULT_TRAIN_CONFIG,
    out: Annotated[Path | None, typer.Option(help="Where the version directory goes.")] = None,
    activate: Annotated[
        bool | None,
        typer.Option(
            help="Make it the active model (default: yes when training from scratch on "
            "all the data, no with --base or --limit)."
        ),
    ] = None,
    limit: Annotated[int | None, typer.Option(help="Train on a sample (smoke runs).")] = None,
    generalisation: Annotated[
        bool,
        typer.Option(
            help="Also train without the airline tweets and on them only, testing each on "
            "the other side (about doubles the time); stored in metrics.json."
        ),
    ] = False,
    base: Annotated[
        str | None,
        typer.Option(
            help="Fine-tune this version (registered name or directory) on --data instead of "
            "training from scratch: same vocabulary, tokenizer and lexicon."
        ),
    ] = None,
    holdout: Annotated[
        float,
        typer.Option(
            help="With --base: share of the labels kept aside to measure the new version and "
            "its base on the same texts."
        ),
    ] = 0.3,
    fmt: Annotated[str, typer.Option("--format", help="text or json")] = "text",
) -> None:
    """Train an LSTM model version (the train-model flow), register it, activate it.

    With --base, fine-tune an existing version on a team's labels instead (the adapt-model
    flow); the new version is registered but not activated unless --activate.
    """
    from flows.runtime.preflight import check_input_path

    if fmt not in ("text", "json"):
        raise typer.BadParameter("--format is text or json")
    if data is not None:  # before Prefect and torch are imported: a wrong path costs no wait
        check_input_path(data, f"--data {data}", folders=False)
    from pipeline.training.corpus import parse_label_map

    if base is not None:
        from pipeline.errors import UsageError

        unused = [
            name
            for name, given in (
                (f"--config {config}", config != DEFAULT_TRAIN_CONFIG),
                ("--limit", limit is not None),
                ("--generalisation", generalisation),
            )
            if given
        ]
        if unused:  # said rather than ignored: the user expects them to change something
            raise UsageError(
                f"{' and '.join(unused)} {'applies' if len(unused) == 1 else 'apply'} to "
                "training from scratch: fine-tuning with "
                "--base keeps the base version's settings (leave them out, or drop --base)"
            )
        if not 0 < holdout < 1:
            raise UsageError(f"--holdout {holdout}: give a share between 0 and 1, e.g. 0.3")
        _adapt(
            base,
            data,
            parse_map(column_map),
            parse_label_map(labels),
            out,
            holdout,
            bool(activate),
            fmt,
        )
        return
    columns, label_map = parse_map(column_map), parse_label_map(labels)
    _check_config(config)
    from flows.training import train_flow  # Prefect and torch: ~4 s, after the quick checks

    with interruptible(_STOPPED), running_flow():
        summary = train_flow(
            data=str(data) if data else None,
            column_map=columns,
            label_map=label_map,
            config_path=str(config),
            out_root=str(out) if out else None,
            # A smoke run's model, trained on a sample, is not what the reports should use.
            activate=activate if activate is not None else limit is None,
            limit=limit,
            generalisation=generalisation,
            show_progress=True,
        )
    if fmt == "json":
        sys.stdout.write(json.dumps({"version": summary["version"], "metrics": summary}) + "\n")
        return
    console.print(
        f"model {summary['version']} in {summary['path']}: test accuracy "
        f"{summary['test_accuracy']:.3f}, macro-F1 {summary['test_macro_f1']:.3f}"
        + (" (active)" if summary["active"] else "")
    )
    if not summary["active"]:
        sample = f" (trained on a sample of {limit} texts)" if limit is not None else ""
        console.print(
            f"not activated{sample}: `sentimon models activate {summary['version']}` makes it "
            "the active model",
            soft_wrap=True,
        )


def _adapt(
    base: str,
    data: Path | None,
    column_map: dict[str, str] | None,
    label_map: dict[str, str] | None,
    out: Path | None,
    holdout: float,
    activate: bool,
    fmt: str,
) -> None:
    """`train --base`: fine-tune, register, print the holdout metrics beside the base's."""
    from pipeline.errors import UsageError
    from pipeline.training.corpus import read_labels

    if data is None:
        raise UsageError(
            "--base needs --data: the labelled CSV to fine-tune on (e.g. the file "
            "`sentimon label export` wrote, with its label column filled)"
        )
    settings = load_settings()
    # Read first, before torch and Prefect are imported (~4 s), so that a wrong column or
    # label, or a file not labelled yet, is one line within a second or two.
    read_labels(data, column_map, label_map)
    from flows.runtime.model_dirs import resolve_model

    base_dir = resolve_model(base, settings)  # a wrong name: one line, still before torch
    from flows.training import adapt_flow

    with interruptible(_STOPPED), running_flow():
        summary = adapt_flow(
            base_dir=str(base_dir),
            data=str(data),
            column_map=column_map,
            label_map=label_map,
            out_root=str(out) if out else None,
            holdout=holdout,
            activate=activate,
            show_progress=True,
        )
    held = summary["metrics"]
    cautions = [c for c in (untested(held), untaught(summary["split"]), worse_than_base(held)) if c]
    if fmt == "json":
        sys.stdout.write(
            json.dumps({"version": summary["version"], "metrics": summary["metrics"]}) + "\n"
        )
        for caution in cautions:
            warn(caution)
        return
    rows = [("accuracy", "accuracy"), ("macro-F1", "macro_f1")]
    if "sign_accuracy" in held["adapted"]:
        rows += [("accuracy of the score's sign", "sign_accuracy"), ("ROC AUC", "auc")]
    console.print(
        f"on {held['adapted']['n']} held-out labels ({', '.join(held['adapted']['classes'])}):"
    )
    console.print(f"  {'':<30}{'base':>8}{'new':>8}")
    for title, key in rows:
        b, a = held["base"].get(key), held["adapted"].get(key)
        if b is None or a is None:
            continue
        console.print(f"  {title:<30}{b:>8.3f}{a:>8.3f}")
    console.print(
        f"model {summary['version']} (from {summary['base_version']}) in {summary['path']}"
        + (" (active)" if activate else ""),
        soft_wrap=True,
    )
    fewer = fewer_folds(summary["split"], summary["folds_asked"])
    if fewer:
        console.print(fewer, soft_wrap=True)
    for caution in cautions:
        warn(caution)
    if not activate:
        console.print(
            f"next: `sentimon models activate {summary['version']}`, then `sentimon backfill` "
            "to re-score stored posts",
            soft_wrap=True,
        )
    else:
        console.print("next: `sentimon backfill` to re-score stored posts")


def fewer_folds(split: dict[str, Any], asked: int) -> str | None:
    """A note when a class had too few labels for the fine-tunes asked for, or None.

    Each fold must hold every class in its training part, so the smallest class caps the
    folds; under two, one fine-tune stops early on a fifth of the labels, which makes the new
    version's figures depend more on which texts those are.
    """
    done = split.get("folds", asked)
    counts = split.get("train_labels") or {}
    if done >= asked or not counts:
        return None
    label, n = min(counts.items(), key=lambda item: item[1])
    runs = "one fine-tune" if done < 2 else f"{done} fine-tunes averaged"
    return (
        f"note: {runs} instead of {asked}: the labels trained on hold only {n} {label} "
        f"text(s) (each fine-tune needs every class); label more {label} texts for steadier "
        "results"
    )


# Fewer held-out labels than this cannot tell two versions apart: one text is 3+ points.
MIN_HELD_OUT = 30


def untested(held: dict[str, Any]) -> str | None:
    """A warning when the held-out labels are too few, or all of one class, to tell whether
    the new version is better than its base (its figures on them can then read perfect while
    it labels the team's posts worse), or None."""
    adapted = held["adapted"]
    n, classes = adapted["n"], adapted["classes"]
    if n >= MIN_HELD_OUT and len(classes) > 1:
        return None
    what = f"all {classes[0]}" if len(classes) == 1 else f"fewer than {MIN_HELD_OUT}"
    return (
        f"the {n} held-out labels ({what}) cannot tell whether the new version is better than "
        "its base: label more (a few hundred, of every kind the posts have) before activating it"
    )


def untaught(split: dict[str, Any]) -> str | None:
    """A warning when the labels leave out a polar class while holding the other one: the new
    version learnt to put the missing class's posts elsewhere (e.g. 19 neutral labels and one
    positive made a version that called 99% of the demo's posts neutral), or None. Positive and
    negative labels without neutral (star ratings) are fine: the head is trained on those two."""
    present = set(split.get("train_labels") or {})
    missing = [c for c in ("negative", "positive") if c not in present]
    if not present or len(missing) != 1:
        return None
    return (
        f"the labels hold no {missing[0]} text: the new version was taught nothing about "
        f"{missing[0]} posts and may call many of them {' or '.join(sorted(present))}; label "
        f"some {missing[0]} posts too before activating it"
    )


def worse_than_base(held: dict[str, Any]) -> str | None:
    """A warning when the new version does worse than its base on the held-out labels (by the
    accuracy of the score's sign for positive/negative labels, else macro-F1), or None.

    A few hundred labels can teach the wrong thing (inconsistent labels, too few of a class):
    said before the next step suggests activating the version.
    """
    key, name = (
        ("sign_accuracy", "accuracy of the score's sign")
        if "sign_accuracy" in held["adapted"]
        else ("macro_f1", "macro-F1")
    )
    new, base = held["adapted"][key], held["base"][key]
    if new >= base:
        return None
    return (
        f"the new version does worse than its base on the {held['adapted']['n']} held-out "
        f"labels ({name} {new:.3f} against {base:.3f}): check the labels, or label more, "
        "before activating it"
    )


def _check_config(config: Path) -> None:
    """The training config and the lexicon files it needs, before Prefect and torch load
    (~8 s): a missing file, a misspelt setting or a missing lexicon is one line at once."""
    from flows.runtime.preflight import check_input_path
    from pipeline.errors import ConfigError
    from pipeline.model.lexicon_sources import check_package_files
    from pipeline.training.config import TrainConfig

    check_input_path(config, f"--config {config}", folders=False)
    table = TrainConfig.from_toml(config)
    folder = table.lexicon_dir or load_settings().data_dir / "lexicons"
    try:
        check_package_files(list(table.lexicons), Path(folder))
    except ConfigError as err:
        raise ConfigError(f"{config}: {err}") from None
