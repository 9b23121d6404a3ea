"""Running the real ``mmkit`` command line in process, for tests of its messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from mmkit.cli.main import main


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``mmkit --no-entrypoints ARGS`` through :func:`mmkit.cli.main.main`, the entry point
    the shell runs (errors rendered as the user sees them): (exit status, stdout, stderr)."""
    code = 0
    try:
        main(["--no-entrypoints", *args])
    except SystemExit as exc:
        code = int(exc.code) if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


def out_args(command: str, tmp_path: Path) -> list[str]:
    """The options a command needs besides its data to get past its own checks (calibrate
    writes an overlay: ``--out``), so that a test reaches the option it is about."""
    return ["--out", str(tmp_path / "o.toml")] if command == "calibrate" else []
