"""Journal fidelity: fills are journaled with the engine time they were received at
(``fills.recv_ts``) and the mid at that moment (``fills.mid``), so ``journal show`` prices
spread captured and markouts on the clock of the snapshots and of the run summary.

Oracles: the spread captured and markouts are recomputed here in plain Python from the
definitions (size-weighted edge over the last snapshot mid at or before a time; markout in
bp of the fill price) and from the journal's rows read with ``sqlite3``; the slow tests
compare ``journal show`` with the summary the ``mmkit trade`` process printed from its
in-memory records.
"""

from __future__ import annotations

import json
import math
import shutil
import sqlite3
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.runtime.journal_builder import run_cli, summary_row

from mmkit.core.events import OwnFill
from mmkit.core.types import Side
from mmkit.reports.journal_report import report_of
from mmkit.runtime.journal import SCHEMA_VERSION, Journal
from mmkit.runtime.journal_read import load_run

NS = 1_000_000_000
T0 = 1_720_000_000 * NS
HORIZONS = {"1s": 1.0, "5s": 5.0, "30s": 30.0, "60s": 60.0}

#: one fill: (venue time s, receive delay s (negative: the venue clock runs ahead), side,
#: price USD, size)
FillSpec = tuple[float, float, int, float, float]


def write_run(path: Path, fills: list[FillSpec], mids: list[float], *, recv: bool = True) -> Path:
    """A journal of ``len(mids)`` one-second local snapshots (mid ``mids[k]`` at second k,
    flat equity) and ``fills``, journaled with their receive time and mid when ``recv``."""
    j = Journal(path)
    j.set_meta("mode", "paper")
    j.set_meta("coin", "BTC")
    for i, (t, delay, side, px, sz) in enumerate(fills):
        recv_ns = T0 + round((t + delay) * NS)
        f = OwnFill(T0 + round(t * NS), 10 + i, None, Side(side), px, sz, 0.0, tid=i + 1)
        if recv:
            j.fill(f, recv_ns=recv_ns, mid=mids[min(len(mids) - 1, max(0, int(t + delay)))])
        else:
            j.fill(f)
    for k, m in enumerate(mids):
        j.position(T0 + k * NS, 0.0, "local", realized=0.0, unrealized=0.0, fees=0.0, mid=m)
    j.set_meta("first_event_ns", str(T0))
    j.set_meta("last_event_ns", str(T0 + (len(mids) - 1) * NS))
    j.close()
    return path


def oracle(
    times_ns: list[int], fills: list[FillSpec], mids: list[float]
) -> tuple[float, dict[str, float]]:
    """Spread captured (bp, size weighted) and markouts (bp) of ``fills`` placed at
    ``times_ns`` against one-second snapshots, from the definitions."""
    snaps = [T0 + k * NS for k in range(len(mids))]

    def mid_at(t: int) -> float | None:
        before = [m for s, m in zip(snaps, mids, strict=True) if s <= t]
        return before[-1] if before else None

    num = den = 0.0
    for t, (_, _, side, px, sz) in zip(times_ns, fills, strict=True):
        m = mid_at(t)
        if m is not None:
            num += side * (m - px) / m * 1e4 * sz
            den += sz
    spread = num / den if den else math.nan
    out: dict[str, float] = {}
    for key, h in HORIZONS.items():
        num = den = 0.0
        for t, (_, _, side, px, sz) in zip(times_ns, fills, strict=True):
            th = t + round(h * NS)
            m = mid_at(th)
            if m is not None and th <= snaps[-1]:
                num += side * (m - px) / px * 1e4 * sz
                den += sz
        out[key] = num / den if den else math.nan
    return spread, out


def drop_new_columns(path: Path) -> None:
    """Make ``path`` look like a schema-1 journal: no ``fills.recv_ts`` / ``fills.mid``."""
    db = sqlite3.connect(path)
    db.execute("ALTER TABLE fills DROP COLUMN recv_ts")
    db.execute("ALTER TABLE fills DROP COLUMN mid")
    db.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    db.commit()
    db.close()


FILLS: list[FillSpec] = [
    (10.2, -0.9, 1, 99.9, 0.5),  # the venue stamp is in second 10, the receive time in 9
    (20.7, 0.6, -1, 100.4, 0.25),  # received in the next second
    (35.0, 0.0, 1, 100.1, 1.0),
]
MIDS = [100.0 + 0.05 * k + (0.3 if k % 2 else 0.0) for k in range(101)]


def test_the_fill_row_keeps_both_clocks_and_the_mid(tmp_path: Path) -> None:
    path = write_run(tmp_path / "j.sqlite", FILLS, MIDS)
    db = sqlite3.connect(path)
    rows = db.execute("SELECT ts, recv_ts, mid FROM fills ORDER BY id").fetchall()
    schema = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
    db.close()
    assert schema == str(SCHEMA_VERSION) and SCHEMA_VERSION >= 2
    for (ts, recv, mid), (t, delay, *_rest) in zip(rows, FILLS, strict=True):
        assert ts == T0 + round(t * NS)
        assert recv == T0 + round((t + delay) * NS)
        assert mid == MIDS[int(t + delay)]
    f = load_run(path).fills
    assert f.ts_ns.tolist() == [r[1] for r in rows]
    assert f.venue_ts_ns.tolist() == [r[0] for r in rows]
    assert f.recv_known.all() and f.mid.tolist() == [r[2] for r in rows]
    assert f.clock_note == ""


def test_an_unknown_mid_is_stored_as_null_and_read_as_nan(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.sqlite")
    fill = OwnFill(T0, 1, None, Side.BUY, 100.0, 1.0, 0.0, tid=7)
    assert j.fill(fill, recv_ns=T0 + 5, mid=math.nan)
    assert not j.fill(fill, recv_ns=T0 + 9, mid=100.0)  # the same fill again: ignored
    j.close()
    db = sqlite3.connect(tmp_path / "j.sqlite")
    assert db.execute("SELECT recv_ts, mid FROM fills").fetchall() == [(T0 + 5, None)]
    db.close()
    f = load_run(tmp_path / "j.sqlite").fills
    assert len(f) == 1 and math.isnan(float(f.mid[0])) and int(f.ts_ns[0]) == T0 + 5


def test_the_report_prices_fills_at_their_receive_time(tmp_path: Path) -> None:
    path = write_run(tmp_path / "j.sqlite", FILLS, MIDS)
    r = report_of(path)
    recv = [T0 + round((t + d) * NS) for t, d, *_ in FILLS]
    venue = [T0 + round(t * NS) for t, *_ in FILLS]
    spread, mk = oracle(recv, FILLS, MIDS)
    wrong, _ = oracle(venue, FILLS, MIDS)
    assert abs(spread - wrong) > 1.0  # the two clocks give different answers here
    assert r.fills.spread_captured_bp == pytest.approx(spread, rel=1e-12)
    assert r.fills.markouts_bp == pytest.approx(mk, rel=1e-12)
    assert "venue's time stamp" not in r.fills.caveat
    assert "resolved to 1 s" in r.fills.caveat  # the snapshot-grid limit is stated


def test_spread_at_the_fill_mid_equals_the_definition(tmp_path: Path) -> None:
    """The journal-only figure: edge over the mid journaled with each fill."""
    path = write_run(tmp_path / "j.sqlite", FILLS, MIDS)
    at = report_of(path).at_fill
    mids = [MIDS[int(t + d)] for t, d, *_ in FILLS]
    num = sum(s * (m - px) / m * 1e4 * sz for m, (_, _, s, px, sz) in zip(mids, FILLS, strict=True))
    usd = sum(s * (m - px) * sz for m, (_, _, s, px, sz) in zip(mids, FILLS, strict=True))
    assert at["fills"] == len(FILLS)
    assert at["spread_captured_bp"] == pytest.approx(num / sum(f[4] for f in FILLS), rel=1e-12)
    assert at["spread_captured_usd"] == pytest.approx(usd, rel=1e-12)
    drop_new_columns(path)
    old = report_of(path)
    assert old.at_fill["fills"] == 0 and math.isnan(old.at_fill["spread_captured_bp"])
    assert old.to_json()["spread_at_fill"]["spread_captured_bp"] is None  # JSON: no NaN


def test_a_schema_1_journal_is_read_on_the_venue_clock_with_a_note(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_run(tmp_path / "old.sqlite", FILLS, MIDS)
    drop_new_columns(path)
    r = report_of(path)
    venue = [T0 + round(t * NS) for t, *_ in FILLS]
    spread, mk = oracle(venue, FILLS, MIDS)
    assert r.fills.spread_captured_bp == pytest.approx(spread, rel=1e-12)
    assert r.fills.markouts_bp == pytest.approx(mk, rel=1e-12)
    assert "no fill journaled with the engine receive time" in r.fills.caveat
    f = load_run(path).fills
    assert not f.recv_known.any() and bool(np.isnan(f.mid).all())
    code, out, err = run_cli(capsys, "show", str(path))
    assert code == 0 and "Traceback" not in err
    assert "venue's time stamp" in out


def test_appending_to_an_old_journal_adds_the_columns(tmp_path: Path) -> None:
    path = write_run(tmp_path / "old.sqlite", FILLS, MIDS)
    drop_new_columns(path)
    j = Journal(path)  # migrates: ALTER TABLE ... ADD COLUMN
    j.fill(OwnFill(T0 + 50 * NS, 99, None, Side.SELL, 101.0, 0.1, 0.0, tid=99),
           recv_ns=T0 + 51 * NS, mid=100.5)  # fmt: skip
    j.close()
    db = sqlite3.connect(path)
    rows = db.execute("SELECT recv_ts, mid FROM fills ORDER BY id").fetchall()
    db.close()
    assert rows == [(None, None)] * len(FILLS) + [(T0 + 51 * NS, 100.5)]
    f = load_run(path).fills
    assert f.recv_known.tolist() == [False] * len(FILLS) + [True]
    assert f.clock_note.startswith(f"fill times: {len(FILLS)} of {len(FILLS) + 1} fills")


fill_specs = st.lists(
    st.tuples(
        st.floats(0.0, 95.0, allow_nan=False),
        st.floats(-2.0, 2.0, allow_nan=False),
        st.sampled_from([1, -1]),
        st.floats(90.0, 110.0, allow_nan=False),
        st.floats(0.001, 3.0, allow_nan=False),
    ),
    min_size=1,
    max_size=12,
).map(lambda fs: sorted(fs, key=lambda f: f[0] + f[1]))


@settings(max_examples=40, deadline=None)
@given(fill_specs, st.lists(st.floats(95.0, 105.0, allow_nan=False), min_size=100, max_size=100))
def test_spread_and_markouts_equal_the_definitions_on_the_receive_clock(
    fills: list[FillSpec], mids: list[float]
) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = write_run(Path(d) / "j.sqlite", fills, mids)
        r = report_of(path)
    recv = [T0 + round((t + dl) * NS) for t, dl, *_ in fills]
    spread, mk = oracle(recv, fills, mids)
    assert r.fills.spread_captured_bp == pytest.approx(spread, rel=1e-9, abs=1e-9, nan_ok=True)
    assert r.fills.markouts_bp == pytest.approx(mk, rel=1e-9, abs=1e-9, nan_ok=True)


# -- a real paper run: the journal says what the session said ------------------------------

#: summary rows of the fill statistics whose text must be the same in both
FILL_ROWS = (
    "fills (bid / ask)",
    "spread captured (bp, size weighted)",
    "spread captured (USD)",
    "markout 1s",
    "markout 5s",
    "markout 30s",
    "markout 60s",
)


def _summary_number(text: str, label: str) -> float:
    """The first number of a summary row (``+0.771`` of ``spread captured ... +0.771``)."""
    value = summary_row(text, label).removeprefix(" ".join(label.split())).split()[0]
    return float(value.rstrip(";").replace(",", ""))


@pytest.mark.slow
@pytest.mark.parametrize("data", ["synthetic", "binance-usdm"])
def test_journal_show_prints_the_summary_spread_and_markouts(
    data: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``mmkit trade`` (paper) and ``journal show`` of its journal print the same spread
    captured and markouts; reading the same journal as a schema-1 one (no receive times)
    would not, on the capture whose exchange clock differs from the engine's."""
    import subprocess
    import sys

    from tests.conftest import SHARED_DATA
    from tests.runtime.test_trade_cli import journal_of

    args = ["--duration", "300"]
    if data != "synthetic":
        capture = SHARED_DATA / "binance-usdm" / "btcusdt_20240808.gz"
        if not capture.is_file():
            pytest.skip("../shared/data is not available")
        args = ["--data", str(capture)]
    p = subprocess.run(
        [sys.executable, "-m", "mmkit", "--no-entrypoints", "trade", *args, "--speed", "0",
         "--no-dashboard", "--journal-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert p.returncode == 0, p.stderr[-2000:]
    summary = p.stdout
    journal = journal_of(summary)
    _, shown, _ = run_cli(capsys, "show", str(journal))
    _, js, _ = run_cli(capsys, "show", "--json", str(journal))
    rep = json.loads(js)["report"]["fills"]
    assert rep["fills"] > 0
    for label in FILL_ROWS:
        assert summary_row(shown, label) == summary_row(summary, label), label
    assert _summary_number(summary, "spread captured (bp, size weighted)") == pytest.approx(
        rep["spread_captured_bp"], abs=5e-4
    )
    for key in HORIZONS:
        got = rep["markouts_bp"][key]
        want = _summary_number(summary, f"markout {key} (bp; USD total; fills)")
        assert got == pytest.approx(want, abs=5e-4), key
    if data == "synthetic":
        return
    old = tmp_path / "as-schema-1.sqlite"
    shutil.copy(journal, old)
    drop_new_columns(old)
    before = report_of(old).fills
    assert "venue's time stamp" in before.caveat
    assert before.spread_captured_bp != pytest.approx(rep["spread_captured_bp"], abs=1e-3)
