"""``mmkit data synth`` holds its options to the bounds ``[feeds.synthetic]`` has in a
config file: a negative or endless duration, a negative tick, a NaN mid, an informed share
above 1 and an impossible order rate are refused (exit 2, the option named, nothing
written); before, they wrote a store (or generated for ever)."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest

from mmkit.cli.main import main
from mmkit.data.store import read_meta


def _synth(out: Path, *args: str) -> tuple[object, str]:
    err = io.StringIO()
    code: object = 0
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            main(["--no-entrypoints", "data", "synth", str(out), *args])
        except SystemExit as exc:
            code = exc.code
    return code, err.getvalue()


@pytest.mark.parametrize(
    "args",
    [
        ["--duration-s", "-5"],
        ["--duration-s", "0"],
        ["--duration-s", "1e300"],
        ["--duration-s", "nan"],
        ["--tick", "-1"],
        ["--lot", "-1"],
        ["--mid0", "nan"],
        ["--mid0", "0"],
        ["--k", "inf"],
        ["--A", "-1"],
        ["--A", "1e300"],
        ["--informed-frac", "2"],
    ],
)
def test_a_bad_option_is_refused_and_nothing_is_written(args: list[str], tmp_path: Path) -> None:
    out = tmp_path / "s.parquet"
    code, err = (
        _synth(out, "--duration-s", "5", *args) if args[0] != "--duration-s" else _synth(out, *args)
    )
    assert code == 2, err
    assert args[0] in err or "synthetic:" in err, err
    assert not out.exists()


def test_good_options_write_a_store(tmp_path: Path) -> None:
    out = tmp_path / "s.parquet"
    code, err = _synth(out, "--duration-s", "5", "--tick", "0.5", "--informed-frac", "0")
    assert code in (0, None), err
    meta = read_meta(out)
    assert meta.tick == 0.5 and meta.rows > 0
