"""Start-up: the wall time of one-shot commands, as a user runs them from a warm `.venv`.

    .venv/bin/python bench/startup.py [--runs 9] [--sentimon .venv/bin/sentimon] [--with-run]

Runs `sentimon score "the service was great"` and `sentimon report` ``--runs`` times each,
taking turns, in a temporary data folder whose database `sentimon init` made first (so that
`score` resolves the active model from it, as it does for a user), and prints the median and
the range of each. The first run of each is a warm-up and not counted (it fills the page cache;
for `run`, it also creates Prefect's database in the temporary PREFECT_HOME). ``--with-run``
adds `sentimon run --input FILE` on a new file of one post each time: a flow run, with
Prefect's temporary API server (no PREFECT_API_URL). Not part of the test suite
(docs/performance.md).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

COMMANDS = {
    "score": ["score", "the service was great"],
    "report": ["report"],
}


def timed(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, capture_output=True)  # noqa: S603 (our command)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--sentimon", default=str(ROOT / ".venv" / "bin" / "sentimon"))
    parser.add_argument("--with-run", action="store_true", help="time `sentimon run` too")
    args = parser.parse_args()
    commands = dict(COMMANDS)
    if args.with_run:
        commands["run"] = ["run", "--input", "post-N.jsonl"]
    with tempfile.TemporaryDirectory() as data_dir:
        env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
        env.update(SENTIMON_DATA_DIR=data_dir, PREFECT_HOME=str(Path(data_dir) / "prefect"))
        init = [args.sentimon, "init"]
        subprocess.run(init, env=env, check=True, capture_output=True)  # noqa: S603
        seconds: dict[str, list[float]] = {name: [] for name in commands}
        for run in range(args.runs + 1):
            for name, argv in commands.items():
                if name == "run":  # a new source of one post each time
                    post = Path(data_dir) / f"post-{run}.jsonl"
                    record = {"id": str(run), "text": "the service was great"}
                    # One ended line: a last line without its newline waits as still being written.
                    post.write_text(
                        json.dumps({**record, "created_at": "2026-11-30T10:00:00Z"}) + "\n"
                    )
                    argv = ["run", "--input", str(post)]
                wall = timed([args.sentimon, *argv], env)
                if run:  # the first round warms the page cache
                    seconds[name].append(wall)
    for name, walls in seconds.items():
        label = "sentimon " + " ".join(commands[name])
        print(
            f"{label:<40} median {statistics.median(walls):.2f} s"
            f"  (min {min(walls):.2f}, max {max(walls):.2f}, {len(walls)} runs)"
        )


if __name__ == "__main__":
    main()
