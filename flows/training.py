"""`sentimon train` on the terminal: the training run with a rich progress bar per epoch."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from pipeline.experiment import run_training
from pipeline.train import EpochReport, TrainConfig


def train_with_progress(
    out_root: Path,
    config_path: Path,
    data: Path | None,
    column_map: dict[str, str] | None,
    limit: int | None,
    console: Console,
) -> Path:
    """Train a model version into ``out_root``; returns its directory."""
    config = TrainConfig.from_toml(config_path)
    with Progress(
        TextColumn("[bold]training"),
        BarColumn(),
        TextColumn("epoch {task.completed}/{task.total}"),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("train", total=config.epochs, status="")

        def on_epoch(report: EpochReport) -> None:
            status = (
                f"loss {report.train_loss:.3f}  val loss {report.val_loss:.3f}  "
                f"val acc {report.val_accuracy:.3f}  val macro-F1 {report.val_macro_f1:.3f}"
                + ("  best" if report.best else "")
            )
            progress.update(task, completed=report.epoch, status=status)
            progress.console.log(f"epoch {report.epoch}: {status}")

        return run_training(
            out_root, config, data_path=data, column_map=column_map, on_epoch=on_epoch, limit=limit
        )
