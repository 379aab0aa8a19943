"""Assertions on what the CLI printed."""


def one_error_line(result, *fragments):
    """The output is one line, an ``error:`` line holding every fragment; returns it."""
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error:"), result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]
