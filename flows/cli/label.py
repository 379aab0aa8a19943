"""`sentimon label export`: posts for a person to label."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from flows.cli.app import console, label_app
from flows.cli.errors import handle_errors
from flows.runtime.settings import load_settings


@label_app.command("export")
@handle_errors()
def label_export(
    n: Annotated[int, typer.Option("--n", min=1, help="How many posts.")] = 300,
    source: Annotated[str | None, typer.Option(help="Only this source.")] = None,
    brand: Annotated[str | None, typer.Option(help="Only posts mentioning this brand.")] = None,
    out: Annotated[Path | None, typer.Option(help="The CSV to write.")] = None,
) -> None:
    """Write the stored posts the active model is least sure of (spread over sources and
    brands, each text once) to a CSV whose empty `label` column a person fills in."""
    from flows.runtime.labelling import export_for_labelling

    export = export_for_labelling(load_settings(), n, source, brand, out)
    console.print(
        f"{export.rows} posts to label (model {export.model_version}) written to {export.path}",
        soft_wrap=True,
    )
    if export.rows < n:
        console.print(
            f"fewer than the {n} asked for: that is every stored post of this selection scored "
            f"by {export.model_version}, originals only (retweets and copies left out) and "
            "each text once",
            soft_wrap=True,
        )
    console.print(
        "fill the label column (negative, neutral or positive; leave a row empty to skip it), "
        f"then: sentimon train --base {export.model_version} --data {export.path} "
        "--map text=text,label=label",
        soft_wrap=True,
    )
