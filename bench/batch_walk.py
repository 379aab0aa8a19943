"""The walk of one micro-batch through the code: which project files it enters, and how often.

Runs `sentimon run` on a small JSONL file (one batch of 20 posts, max one batch, a temporary
data directory and Prefect home) and follows the Python calls of the second batch request with
sys.setprofile: every call into, or return to, a different file of flows/, pipeline/ or db/ is a
stop; library frames (Prefect, SQLAlchemy, spaCy, torch) are looked through. The first batch
pays for one-off work (engines, the model, spaCy), so the walk is that of the second.

    .venv/bin/python bench/batch_walk.py              # this checkout
    .venv/bin/python bench/batch_walk.py --repo DIR   # another checkout of sentimon (before/after)

Prints the calls from one project file into another in the order first made, then the summary
(Walk.summary). Numbers are of the walk's structure, not its speed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
from pathlib import Path
from types import FrameType
from typing import Any

PACKAGES = ("flows", "pipeline", "db")
# The function whose extent is one micro-batch, in both layouts: the Prefect task per batch.
BATCH_FUNCTION = "score_next_batch"


class Walk:
    """Stops between project files while a BATCH_FUNCTION frame is on the stack."""

    def __init__(self, root: Path, skip: int) -> None:
        self.root = root
        self.skip = skip  # batch calls to leave out before the one recorded
        self.stack: list[tuple[int, str]] = []  # (frame id, file) of project frames
        self.active = False
        self.done = False
        self.stops: list[tuple[str, str]] = []  # (kind, file)
        self.edges: list[tuple[str, str]] = []  # (caller file, callee file), first time each
        self._names: dict[str, str | None] = {}

    def _file(self, frame: FrameType) -> str | None:
        path = frame.f_code.co_filename
        if path not in self._names:
            try:
                rel = Path(path).resolve().relative_to(self.root)
                self._names[path] = rel.as_posix() if rel.parts[0] in PACKAGES else None
            except ValueError:
                self._names[path] = None
        return self._names[path]

    def __call__(self, frame: FrameType, event: str, arg: Any) -> None:
        if self.done or event not in ("call", "return"):
            return
        if not self.active and frame.f_code.co_name != BATCH_FUNCTION:
            return  # cheap: most of the process (Prefect's server) never gets further
        name = self._file(frame)
        if name is None:
            return
        if event == "call":
            if not self.active:
                if self.skip:
                    self.skip -= 1
                    return
                self.active = True
            here = self.stack[-1][1] if self.stack else None
            self.stack.append((id(frame), name))
            if name != here:
                self.stops.append(("enter", name))
                if here is not None and (here, name) not in self.edges:
                    self.edges.append((here, name))
        elif self.active and self.stack and self.stack[-1][0] == id(frame):
            self.stack.pop()
            if not self.stack:
                self.active, self.done = False, True
                return
            back = self.stack[-1][1]
            if back != name:
                self.stops.append(("return", back))

    def summary(self) -> dict[str, Any]:
        """files: project files the batch enters; stops: distinct calls from one file into
        another (a loop over posts counts once); reentries: those stops that go back into a
        file the walk had already entered and left; transitions: every change of file."""
        seen: set[str] = set()
        reentries = 0
        for caller, callee in self.edges:
            if callee in seen:
                reentries += 1
            seen.update((caller, callee))
        return {
            "files": len({f for _, f in self.stops}),
            "stops": len(self.edges),
            "reentries": reentries,
            "transitions": len(self.stops),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", type=Path, default=Path(__file__).resolve().parents[1])
    parser.add_argument("--json", action="store_true", help="print the summary as JSON only")
    args = parser.parse_args()
    root = args.repo.resolve()
    sys.path.insert(0, str(root))
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    sys.dont_write_bytecode = True

    work = Path(tempfile.mkdtemp(prefix="sentimon-walk-"))
    os.environ["PREFECT_HOME"] = str(work / "prefect")
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    os.environ["PREFECT_LOGGING_LEVEL"] = "WARNING"
    os.environ.pop("PREFECT_API_URL", None)
    os.environ["SENTIMON_DATA_DIR"] = str(work / "data")
    os.environ["SENTIMON_WORKERS"] = "1"  # analysis in this process, where the profiler sees it
    os.chdir(work)  # no sentimon.toml of the caller's
    posts = work / "posts.jsonl"
    rows = [
        {"id": i, "text": f"@united flight {i} was {'late again' if i % 2 else 'great, thanks'}"}
        for i in range(40)
    ]
    posts.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")

    from typer.testing import CliRunner

    from flows.cli import app

    walk = Walk(root, skip=1)
    sys.setprofile(walk)
    threading.setprofile(walk)
    try:
        argv = ["run", "--input", str(posts), "--source", "walk", "--batch-size", "20"]
        result = CliRunner().invoke(app, [*argv, "--max-batches", "2"])
    finally:
        sys.setprofile(None)
        threading.setprofile(None)  # type: ignore[arg-type]
    if result.exit_code != 0:
        raise SystemExit(f"sentimon run failed: {result.output}")
    summary = walk.summary()
    if args.json:
        print(json.dumps(summary))
        return
    for caller, callee in walk.edges:
        print(f"{caller} -> {callee}")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
