"""Training as a Prefect flow (`train-model`), and the rich progress bar `sentimon train` shows.

The flow has two tasks: train and save a model version
(`pipeline.training.experiment.run_training`),
then register it in the results database (and activate it if asked). On a terminal the
training task draws a progress bar per epoch; in a deployment it logs each epoch instead.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from db import repository
from db.engine import make_engine
from flows.runtime.model_dirs import prepare_database
from flows.runtime.settings import DEFAULT_TRAIN_CONFIG, Settings, model_path_ref
from pipeline.model.manifest import read_manifest
from pipeline.text.brand_file import load_brands
from pipeline.training.adapt import AdaptConfig, run_adaptation
from pipeline.training.experiment import run_training
from pipeline.training.train import EpochReport, TrainConfig


def load_train_config(path: Path, settings: Settings | None = None) -> TrainConfig:
    """The ``[train]`` table of ``path``; lexicons that need files read them from the data
    directory's ``lexicons/`` (`make lexicons` fetches them) unless the table names a folder."""
    config = TrainConfig.from_toml(path)
    if config.lexicon_dir:
        return config
    settings = settings or Settings()
    return replace(config, lexicon_dir=str(settings.data_dir / "lexicons"))


def describe_epoch(report: EpochReport) -> str:
    """One line per epoch: losses and validation metrics."""
    return (
        f"loss {report.train_loss:.3f}  val loss {report.val_loss:.3f}  "
        f"val acc {report.val_accuracy:.3f}  val macro-F1 {report.val_macro_f1:.3f}"
        + ("  best" if report.best else "")
    )


def train_with_progress(
    out_root: Path,
    config_path: Path,
    data: Path | None,
    column_map: dict[str, str] | None,
    limit: int | None,
    console: Console,
    label_map: dict[str, str] | None = None,
    generalisation: bool = False,
    brands_path: Path | None = None,
    settings: Settings | None = None,
) -> Path:
    """Train a model version into ``out_root`` with a progress bar; returns its directory.

    ``brands_path``: the brands file whose names the model reads as one <brand> token (with
    ``mask_brands``); default: SENTIMON_BRANDS or the bundled one. ``settings``: the run's
    (default: read from the environment).
    """
    settings = settings or Settings()
    config = load_train_config(config_path, settings)
    brands = load_brands(brands_path or settings.brands)
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("epoch {task.completed}/{task.total}"),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        current: list[TaskID] = []

        def on_stage(stage: str) -> None:
            current.append(progress.add_task(stage, total=config.epochs, status=""))

        def on_epoch(report: EpochReport) -> None:
            status = describe_epoch(report)
            progress.update(current[-1], completed=report.epoch, status=status)
            progress.console.log(f"epoch {report.epoch}: {status}")

        return run_training(
            out_root,
            config,
            data_path=data,
            column_map=column_map,
            on_epoch=on_epoch,
            limit=limit,
            label_map=label_map,
            generalisation=generalisation,
            on_stage=on_stage,
            brands=brands,
        )


@task(name="train-model-version", cache_policy=NO_CACHE)
def train_version(
    settings: Settings,
    out_root: str,
    config_path: str,
    data: str | None,
    column_map: dict[str, str] | None,
    label_map: dict[str, str] | None,
    limit: int | None,
    generalisation: bool,
    show_progress: bool,
) -> str:
    """Train and save a model version; returns its directory."""
    if show_progress:
        return str(
            train_with_progress(
                Path(out_root),
                Path(config_path),
                Path(data) if data else None,
                column_map,
                limit,
                Console(stderr=True),
                label_map,
                generalisation,
                settings=settings,
            )
        )
    logger = get_run_logger()

    def log_epoch(report: EpochReport) -> None:
        logger.info("epoch %d: %s", report.epoch, describe_epoch(report))

    return str(
        run_training(
            Path(out_root),
            load_train_config(Path(config_path), settings),
            data_path=Path(data) if data else None,
            column_map=column_map,
            on_epoch=log_epoch,
            limit=limit,
            label_map=label_map,
            generalisation=generalisation,
            on_stage=lambda stage: logger.info("%s", stage),
            brands=load_brands(settings.brands),
        )
    )


@task(name="register-model-version", cache_policy=NO_CACHE)
def register_version(settings: Settings, model_dir: str, activate: bool) -> dict[str, Any]:
    """Add the version to ``model_versions`` (with its metrics); activate it if asked."""
    info = read_manifest(Path(model_dir))
    engine = make_engine(settings.db_url)
    try:
        prepare_database(engine, settings.data_dir)
        ref = model_path_ref(info.path, settings.data_dir)
        with engine.begin() as conn:
            repository.register_model_version(
                conn, info.version, ref, info.sha256, info.metrics, activate=activate
            )
    finally:
        engine.dispose()
    test = info.metrics.get("test", {})
    return {
        "version": info.version,
        "path": str(info.path),
        "active": activate,
        "test_accuracy": test.get("accuracy"),
        "test_macro_f1": test.get("macro_f1"),
    }


@flow(name="train-model")
def train_flow(
    data: str | None = None,
    column_map: dict[str, str] | None = None,
    label_map: dict[str, str] | None = None,
    config_path: str = str(DEFAULT_TRAIN_CONFIG),
    out_root: str | None = None,
    activate: bool = True,
    limit: int | None = None,
    generalisation: bool = False,
    show_progress: bool = False,
) -> dict[str, Any]:
    """Train a model version on a labelled CSV (default: the bundled corpus), register it and
    (by default) activate it. ``show_progress`` draws a progress bar (the CLI sets it)."""
    settings = Settings()  # once per run; the tasks get it (small and picklable)
    model_dir = train_version(
        settings,
        out_root or str(settings.models_dir),
        config_path,
        data,
        column_map,
        label_map,
        limit,
        generalisation,
        show_progress,
    )
    summary = register_version(settings, model_dir, activate)
    create_markdown_artifact(
        key="trained-model",
        markdown=(
            f"### Model `{summary['version']}`\n\n"
            f"test accuracy {summary['test_accuracy']:.3f}, "
            f"macro-F1 {summary['test_macro_f1']:.3f}"
            + (" (active)" if activate else "")
            + f"\n\n`{summary['path']}`\n"
        ),
    )
    return summary


@task(name="adapt-model-version", cache_policy=NO_CACHE)
def adapt_version(
    base_dir: str,
    data: str,
    column_map: dict[str, str] | None,
    label_map: dict[str, str] | None,
    out_root: str,
    holdout: float,
    show_progress: bool,
) -> str:
    """Fine-tune a saved version on a labelled CSV and save the new version; returns its dir."""
    config = AdaptConfig(holdout=holdout)
    say = Console(stderr=True).log if show_progress else get_run_logger().info
    fine_tunes = [0]  # the folds' fine-tunes run one after another, each from epoch 1

    def on_epoch(report: EpochReport) -> None:
        fine_tunes[0] += report.epoch == 1
        say(f"fine-tune {fine_tunes[0]}, epoch {report.epoch}: {describe_epoch(report)}")

    adaptation = run_adaptation(
        Path(base_dir), Path(data), Path(out_root), config, column_map, label_map, on_epoch
    )
    return str(adaptation.path)


@flow(name="adapt-model")
def adapt_flow(
    base_dir: str,
    data: str,
    column_map: dict[str, str] | None = None,
    label_map: dict[str, str] | None = None,
    out_root: str | None = None,
    holdout: float = 0.3,
    activate: bool = False,
    show_progress: bool = False,
) -> dict[str, Any]:
    """Fine-tune a version (directory) on a team's labelled CSV, register the new version and
    (if asked) activate it. Returns the version, its path and the holdout metrics of the base
    and the new version on the same texts."""
    settings = Settings()  # once per run; the tasks get it (small and picklable)
    model_dir = adapt_version(
        base_dir,
        data,
        column_map,
        label_map,
        out_root or str(settings.models_dir),
        holdout,
        show_progress,
    )
    summary = register_version(settings, model_dir, activate)
    metrics = read_manifest(Path(model_dir)).metrics
    held = metrics["holdout"]
    base, new = held["base"], held["adapted"]
    create_markdown_artifact(
        key="adapted-model",
        markdown=(
            f"### Model `{summary['version']}` from `{metrics['adaptation']['base_version']}`\n\n"
            f"| on {new['n']} held-out labels | accuracy | macro-F1 |\n|---|---|---|\n"
            f"| base | {base['accuracy']:.3f} | {base['macro_f1']:.3f} |\n"
            f"| adapted | {new['accuracy']:.3f} | {new['macro_f1']:.3f} |\n"
        ),
    )
    return {
        "version": summary["version"],
        "path": summary["path"],
        "active": activate,
        "base_version": metrics["adaptation"]["base_version"],
        "metrics": held,
        "split": metrics["adaptation"]["split"],
        "folds_asked": metrics["adaptation"]["config"]["folds"],
    }
