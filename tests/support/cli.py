"""Assertions on what the CLI printed."""


def one_error_line(result, *fragments):
    """The output is one line, an ``error:`` line holding every fragment; returns it."""
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error:"), result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def heavy_imports_of(args, cwd, env=None):
    """Run the CLI with ``args`` in a fresh interpreter; return (exit status, which of
    prefect, torch and spacy it imported, stderr). A mistake said before those load answers
    in about a second rather than several."""
    import os
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from flows.cli import app\n"
        "try:\n"
        f"    app({list(args)!r}, prog_name='sentimon')\n"
        "except SystemExit as done:\n"
        "    print('exit', done.code)\n"
        "print(sorted(m for m in ('prefect', 'torch', 'spacy') if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        env=env if env is not None else os.environ,
        capture_output=True,
        text=True,
    )
    *_, status, imported = done.stdout.splitlines() or ["", ""]
    return status, imported, done.stderr
