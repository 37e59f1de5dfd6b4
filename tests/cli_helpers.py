"""Running ``scientist`` in-process for tests (click >= 8.2 keeps stderr apart from stdout)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner, Result

from agent.cli import cli


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], prog_name="scientist")


def assert_ok(result: Result) -> None:
    assert result.exit_code == 0, f"exit {result.exit_code}\n{result.output}\n{result.exception!r}"
    assert "Traceback" not in result.output


def assert_one_line_error(result: Result, *names: str | Path) -> str:
    """Exit status 1, exactly one ``error: `` line on stderr naming every path given, no traceback."""
    assert result.exit_code == 1, f"exit {result.exit_code}\n{result.output}"
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    for name in names:
        assert str(name) in lines[0], (name, lines[0])
    for text in (result.stdout, result.stderr, result.output):
        assert "Traceback" not in text
    assert isinstance(result.exception, SystemExit)
    return lines[0]
