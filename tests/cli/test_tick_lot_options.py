"""``--tick`` and ``--lot`` must be finite and > 0 wherever they are given. Before: ``data
convert --tick -1 --lot nan`` exited 0 and wrote them into the store's metadata, and
``backtest --tick -1`` (or nan) exited 0 having ignored the value; ``calibrate --tick nan``
was refused only after the engine had run over the data."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.cli.helpers import out_args, run_cli
from tests.data.helpers import hl_book, hl_trades, write_capture

BAD = ["-1", "0", "nan", "inf"]


def _refused(args: list[str], option: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(args, capsys)
    assert code == 2, (args, code, out, err)
    assert err.startswith("error: ") and f"- {option}: " in err, err
    assert "Traceback" not in err and "internal error" not in err


@pytest.mark.parametrize("value", BAD)
@pytest.mark.parametrize("option", ["--tick", "--lot"])
def test_convert_refuses_a_tick_or_lot_that_is_not_positive(
    option: str, value: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cap = write_capture(
        tmp_path / "cap.txt",
        [(1, hl_book(1000, [("100.0", "1")], [("101.0", "1")])), (2, hl_trades(1001))],
        gz=False,
    )
    out = tmp_path / "c.parquet"
    _refused(["data", "convert", str(cap), str(out), option, value], option, capsys)
    assert not out.exists()  # nothing written
    code, _, err = run_cli(["data", "convert", str(cap), str(out), option, "0.5"], capsys)
    assert code == 0, err  # a valid value is still taken


@pytest.mark.parametrize("value", BAD)
@pytest.mark.parametrize("command", ["backtest", "calibrate"])
def test_backtest_and_calibrate_refuse_it_before_the_work(
    command: str,
    value: str,
    synthetic_store: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    cold: list[list[str]],
) -> None:
    extra = out_args(command, tmp_path)
    _refused([command, str(synthetic_store), "--tick", value, *extra], "--tick", capsys)
    assert cold == []  # no warm-up: said at once
    assert list(tmp_path.iterdir()) == [tmp_path / "stamps"]  # nothing written
