"""A run over data with problems in it says so first: a truncated capture (a download cut
short) used to give an ordinary "OK" report over the part that could be read, without a
word, from ``mmkit backtest``, ``mmkit calibrate`` and ``mmkit trade --data`` alike.

* backtest: the report's first line and its notes (with the first problem), for both
  cadences, for a market read back from the converted-market cache, and for the converted
  store (whose metadata keeps what the conversion found);
* calibrate: the first line of its output and the overlay's header;
* trade --data: the lines under the summary's verdict;
* a whole capture says nothing of the kind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.backtest.helpers import quick_settings
from tests.cli.helpers import run_cli
from tests.data.helpers import hl_book, hl_trades, write_capture

from mmkit.backtest.runner import BacktestOptions, run_backtest
from mmkit.cli.journal_cmd import input_problems
from mmkit.data.loaders import convert

WARMUP = "estimators.warmup.max_warmup_secs=5"
BIDS = [("100.0", "1"), ("99.9", "2")]
ASKS = [("100.1", "1"), ("100.2", "2")]


def capture(tmp_path: Path, name: str, cut: bool) -> Path:
    """Two minutes of a Hyperliquid book and trades, or its first half (a cut gzip)."""
    lines = []
    for i in range(1, 1200):
        t = 100 * i
        lines.append((t * 1_000_000, hl_book(t, BIDS, ASKS)))
        lines.append((t * 1_000_000 + 1, hl_trades(t, "B" if i % 2 else "A", tid=i)))
    full = write_capture(tmp_path / f"{name}.gz", lines)
    if cut:
        data = full.read_bytes()
        full.write_bytes(data[: len(data) // 2])
    return full


def backtest(path: Path, cadence: str, cache_dir: Path) -> tuple[str, list[str]]:
    host, s = quick_settings()
    opts = BacktestOptions(cadence=cadence, duration_s=600.0)  # type: ignore[arg-type]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MMKIT_CACHE_DIR", str(cache_dir))
        rep = run_backtest(s, host, [path], opts).report
    assert rep.run is not None
    return rep.run.headline, list(rep.run.notes)


@pytest.mark.parametrize("cadence", ["event", "timer"])
def test_a_truncated_capture_is_said_first(tmp_path: Path, cadence: str) -> None:
    cut = capture(tmp_path, "cut", cut=True)
    for _ in range(2):  # the timer cadence's second run reads the converted-market cache
        headline, notes = backtest(cut, cadence, tmp_path / "cache")
        assert "input data problems: cut.gz: truncated 1" in headline
        (note,) = [n for n in notes if n.startswith("input data problems:")]
        assert "input ends early" in note and "a gap is marked here" in note


def test_the_converted_store_keeps_saying_it(tmp_path: Path) -> None:
    store = tmp_path / "cut.parquet"
    convert([capture(tmp_path, "cut", cut=True)], store)
    headline, notes = backtest(store, "event", tmp_path / "cache")
    assert "input data problems: cut.parquet: truncated 1" in headline
    assert any("cut.gz:" in n and "input ends early" in n for n in notes)


@pytest.mark.parametrize("cadence", ["event", "timer"])
def test_a_whole_capture_says_nothing_of_the_kind(tmp_path: Path, cadence: str) -> None:
    headline, notes = backtest(capture(tmp_path, "whole", cut=False), cadence, tmp_path / "c")
    assert "input data problems" not in headline
    assert not any("input data problems" in n for n in notes)


@pytest.mark.parametrize("cut", [True, False])
def test_calibrate_says_it_first_and_in_the_overlay(
    tmp_path: Path, cut: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    data = capture(tmp_path, "cap", cut=cut)
    out = tmp_path / "o.toml"
    code, stdout, err = run_cli(["calibrate", str(data), "--out", str(out)], capsys)
    assert code == 0, err
    first = stdout.strip().splitlines()[0]
    header = [ln for ln in out.read_text().splitlines() if ln.startswith("#")]
    if cut:
        assert first.startswith("input data problems: cap.gz: truncated 1; the first: ")
        assert any(ln.startswith("# WARNING: input data problems: cap.gz") for ln in header)
    else:
        assert "input data problems" not in stdout
        assert not any("input data problems" in ln for ln in header)


@pytest.mark.parametrize("cut", [True, False])
def test_paper_trading_a_capture_says_it_under_the_verdict(
    tmp_path: Path, cut: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    data = capture(tmp_path, "cap", cut=cut)
    jdir = tmp_path / "runs"
    args = ["trade", "--data", str(data), "--speed", "0", "--journal-dir", str(jdir)]
    code, stdout, err = run_cli([*args, "--no-dashboard", "--set", WARMUP], capsys)
    assert code == 0, err
    said = [ln for ln in stdout.splitlines() if ln.startswith("input data problems:")]
    (journal,) = jdir.glob("*.sqlite")
    code, shown, err = run_cli(["journal", "show", str(journal)], capsys)
    assert code == 0, err
    again = [ln for ln in shown.splitlines() if ln.startswith("input data problems:")]
    if cut:
        (line,) = said
        assert line.startswith("input data problems: cap.gz: truncated 1")
        # under the verdict, before the summary's table
        assert stdout.index(line) < stdout.index("mmkit trade: summary")
        assert again == said  # and the journal says the same
    else:
        assert said == again == []


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(st.text(), st.lists(st.text()).map(json.dumps), st.builds(json.dumps, st.integers()))
)
def test_the_journal_field_is_read_whatever_it_holds(raw: str) -> None:
    """``journal show`` reads ``input_problems`` as written (a JSON list of lines) and turns
    anything else into one line saying so: never an exception, never a non-string line."""
    got = input_problems({"input_problems": raw})
    assert isinstance(got, list) and all(isinstance(x, str) for x in got)
    try:
        want = json.loads(raw)
    except ValueError:
        want = None
    if isinstance(want, list) and all(isinstance(x, str) for x in want):
        assert got == want
    else:
        assert len(got) == 1 and "not a list of lines" in got[0]
    assert input_problems({}) == []
