"""``mmkit journal show``: the first line says what happened, figures carry units, the
statistics and fill figures agree with computations written here from the journal's rows
(sqlite3 and plain Python), and the quoting time agrees with a brute-force replay."""

from __future__ import annotations

import itertools
import json
import math
import re
import sqlite3
import statistics
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.runtime.journal_builder import NS, T0, Spec, build, run_cli, summary_row

from mmkit.cli.journal_cmd import parse_fills
from mmkit.errors import MmkitError
from mmkit.reports.journal_report import report_of
from mmkit.reports.run import quoting_seconds
from mmkit.runtime.journal_read import best_quotes
from mmkit.runtime.order_quotes import Quote

FILLS = [
    (12.5, 1, 100.0, 0.5, 0.01),
    (20.2, -1, 100.3, 0.3, -0.002),
    (30.0, -1, 100.5, 0.4, 0.01),
    (70.0, 1, 101.0, 0.25, 0.005),
]
KILLED = Spec(
    run_s=200,
    fills=FILLS,
    gates=[
        ("warmup", "Warmup", 0, 10, "halt", False),
        ("kill_switch", "MaxDrawdown", 160, None, "halt", True),
    ],
    rejections={"post_only_would_cross": 3, "insufficient_margin": 2, "not_sent": 1},
    quotes=[
        (10.5, 1, 1, "open", 99.5),
        (10.6, 2, -1, "open", 100.5),
        (40.0, 2, -1, "canceled", 100.5),
        (50.0, 3, -1, "open", 100.9),
    ],
    mid_step=-0.004,
)


@pytest.fixture
def killed(tmp_path: Path) -> Path:
    return build(tmp_path / "killed.sqlite", KILLED)


def test_first_line_says_the_kill_switch_tripped(
    killed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_cli(capsys, "show", str(killed))
    assert code == 0
    first, second = out.splitlines()[:2]
    # halted: 160 -> 200 s of the 200 s run; 4 fills; warmup 0 -> 10 s
    assert first.startswith("HALTED by kill switch at 160.0 s (MaxDrawdown): 20% of the 200.0 s")
    assert "warmup used 5% of the data (10.0 s, ended by ready)" in first
    assert "4 fills" in first
    assert second.startswith("KILL SWITCH TRIPPED at 160.0 s (2023-11-14 22:16:00.000 UTC)")
    assert '"why": "MaxDrawdown"' in second


def test_no_raw_floats_and_units_everywhere(
    killed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, _ = run_cli(capsys, "show", str(killed))
    # no raw float (-0.004339999999999995): every number has at most 8 significant digits
    numbers = re.findall(r"\d[\d,]*\.\d+", out)
    assert numbers
    long = [x for x in numbers if len(x.replace(",", "").replace(".", "").lstrip("0")) > 8]
    assert not long, long
    for label in ("equity at end", "realized PnL", "fees, net"):
        line = next(ln for ln in out.splitlines() if ln.startswith(label))
        assert line.rstrip().endswith("USD"), line
    assert re.search(r"^quoting both sides \(after warmup\) +\d+\.\d s \(\d+\.\d%\)$", out, re.M)
    assert "Sharpe (per 60 s window" in out and "caveat" in out


def test_rejections_by_reason_and_per_side_fills_match_the_rows(
    killed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, _ = run_cli(capsys, "show", str(killed))
    db = sqlite3.connect(killed)
    by_reason = dict(
        db.execute(
            "SELECT reason, COUNT(*) FROM action_results WHERE outcome='rejected' "
            "AND reason != 'not_sent' GROUP BY reason"
        ).fetchall()
    )
    buys, sells = db.execute("SELECT SUM(side = 1), SUM(side = -1) FROM fills").fetchone()
    db.close()
    for reason, n in by_reason.items():
        assert re.search(rf"^{reason} +{n}$", out, re.M), reason
    assert re.search(r"^not sent .* 1$", out, re.M)
    assert f"rejections: {sum(by_reason.values())} of" in out
    assert re.search(rf"^fills \(bid / ask\) +{buys + sells} \({buys} / {sells}\)$", out, re.M)


def test_fill_list_last_n_and_all(killed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def listed(out: str) -> list[str]:
        return [ln for ln in out.splitlines() if re.match(r"^\d+ +\d+\.\d{3} +2023-", ln)]

    _, out, _ = run_cli(capsys, "show", str(killed), "--fills", "2")
    rows = listed(out)
    assert len(rows) == 2
    # the last two fills, oldest first: the sell at 30 s, the buy at 70 s
    assert rows[0].split()[1] == "30.000" and " sell " in rows[0]
    assert rows[1].split()[1] == "70.000" and " buy " in rows[1] and "101" in rows[1]
    _, out, _ = run_cli(capsys, "show", str(killed), "--fills", "all")
    assert len(listed(out)) == len(FILLS)
    _, out, _ = run_cli(capsys, "show", str(killed), "--fills", "0")
    assert listed(out) == []
    for bad in ("-1", "x", "2.5"):
        code, _, err = run_cli(capsys, "show", str(killed), "--fills", bad)
        assert code == 2 and "--fills" in err and "Traceback" not in err


def equity_oracle(path: Path) -> tuple[list[int], list[float]]:
    db = sqlite3.connect(path)
    rows = db.execute(
        "SELECT ts, realized + unrealized - fees FROM positions WHERE source = 'local' "
        "AND mid IS NOT NULL ORDER BY ts"
    ).fetchall()
    db.close()
    return [int(r[0]) for r in rows], [float(r[1]) for r in rows]


def test_json_statistics_agree_with_an_independent_computation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a long run so there are enough 60 s windows for a Sharpe ratio
    fills = [(5.0 + 37.0 * k, 1 if k % 3 else -1, 100.0 + 0.1 * (k % 7), 0.1, 0.001)
             for k in range(40)]  # fmt: skip
    path = build(tmp_path / "long.sqlite", Spec(run_s=1800, fills=fills, mid_step=0.0005))
    code, out, _ = run_cli(capsys, "show", "--json", "--window", "120", str(path))
    assert code == 0
    d = json.loads(out)["report"]
    ts, eq = equity_oracle(path)
    # equity at each 120 s boundary: the last sample at or before it (samples are 1 s apart)
    bounds = [ts[0] + k * 120 * NS for k in range((ts[-1] - ts[0]) // (120 * NS) + 1)]
    at = [eq[max(i for i, t in enumerate(ts) if t <= b)] for b in bounds]
    rets = [b - a for a, b in itertools.pairwise(at)]
    sharpe = statistics.mean(rets) / statistics.stdev(rets)
    assert d["stats"]["window_s"] == 120.0
    assert d["stats"]["n_windows"] == len(rets) == 15
    assert d["stats"]["sharpe"] == pytest.approx(sharpe, rel=1e-9)
    assert d["stats"]["sharpe_daily"] == pytest.approx(sharpe * math.sqrt(86400 / 120), rel=1e-9)
    peak, mdd = -math.inf, 0.0
    for x in eq:
        peak = max(peak, x)
        mdd = max(mdd, peak - x)
    assert d["stats"]["max_drawdown_usd"] == pytest.approx(mdd, rel=1e-9)
    assert d["pnl"]["equity_usd"] == pytest.approx(eq[-1], rel=1e-12)
    db = sqlite3.connect(path)
    vol, n, fees = db.execute("SELECT SUM(px * sz), COUNT(*), SUM(fee) FROM fills").fetchone()
    db.close()
    assert d["fills"]["volume_usd"] == pytest.approx(vol, rel=1e-12)
    assert d["fills"]["fills_per_hour"] == pytest.approx(n * 3600 / 1800)
    assert d["fills"]["turnover"] == pytest.approx(vol * 3600 / 1800)
    assert d["pnl"]["fees_net_usd"] == pytest.approx(-fees, rel=1e-9)
    # full precision in JSON: the raw value, not a rounded text
    assert isinstance(d["fills"]["volume_usd"], float)


def test_json_keeps_the_summary_and_adds_the_report(
    killed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, _ = run_cli(capsys, "show", "--json", "--fills", "all", str(killed))
    d = json.loads(out)
    assert d["counts"]["fills"] == len(FILLS) and "timeline" in d
    r = d["report"]
    assert r["run"]["verdict"] == "halted"
    assert r["rejections_by_reason"] == {"post_only_would_cross": 3, "insufficient_margin": 2}
    assert r["not_sent"] == 1
    trips = r["run"]["kill_switch_trips"]
    assert [k["reason"] for k in trips] == ["MaxDrawdown"] and trips[0]["t_s"] == 160.0
    assert [f["px_usd"] for f in d["fill_list"]] == [f[2] for f in FILLS]
    # quoting both sides: 10.6 -> 40 (bid 1 + ask 2), then 50 -> end (bid 1 + ask 3)
    assert r["run"]["quoting_s"] == pytest.approx((40 - 10.6) + (200 - 50))
    assert r["run"]["warmup_s"] == 10.0 and r["run"]["warmup_ended_by"] == "ready"


QUOTES = [(10.5, 1, 1, "open", 99.5), (10.6, 2, -1, "open", 100.5)]
WARMUP = ("warmup", "Warmup", 0, 10, "halt", False)


@pytest.mark.parametrize(
    ("spec", "verdict", "first"),
    [
        (Spec(fills=FILLS[:2], gates=[WARMUP], quotes=QUOTES), "ok",
         "OK: quoted 99% of the 90.0 s after warmup"),
        (Spec(fills=FILLS[:2], gates=[WARMUP, ("data_quality", "Stale", 20, 90, "halt", False)],
              quotes=QUOTES),
         "mostly_halted", "MOSTLY HALTED: gates closed 78% of the 90.0 s after warmup"),
        (Spec(fills=FILLS[:2], gates=[WARMUP], quotes=QUOTES,
              warmup_extras={"warmup.timed_out": 1.0, "warmup.after_s": 9.5}),
         "ok", "OK: quoted 99% of the 90.0 s after warmup; warmup used 10% of the data "
               "(10.0 s, ended by timeout)"),
        (Spec(places=0, gates=[WARMUP]), "never_quoted",
         "NEVER QUOTED: no time with both sides resting in the 90.0 s after warmup"),
        (Spec(places=0, gates=[("warmup", "Warmup", 0, None, "halt", False)]), "warmup_only",
         "WARMUP ONLY: warmup never ended (100.0 s, all of the data)"),
    ],
)  # fmt: skip
def test_verdicts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], spec: Spec, verdict: str, first: str
) -> None:
    path = build(tmp_path / "r.sqlite", spec)
    assert report_of(path).verdict == verdict
    _, out, _ = run_cli(capsys, "show", str(path))
    assert out.splitlines()[0].startswith(first), out.splitlines()[0]


@pytest.mark.slow
def test_a_real_run_whose_kill_switch_trips_says_so_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A paper run with a drawdown limit it is bound to hit: the journal's first line is the
    trip, and the report's trip time is the kill switch's journaled closure."""
    import subprocess
    import sys

    from tests.runtime.test_trade_cli import journal_of

    p = subprocess.run(
        [sys.executable, "-m", "mmkit", "--no-entrypoints", "trade", "--duration", "120",
         "--speed", "0", "--no-dashboard", "--journal-dir", str(tmp_path),
         "--set", "gates.kill_switch.max_drawdown_usd=0.01"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert p.returncode == 3, p.stderr[-2000:]  # 3: the kill switch tripped
    journal = journal_of(p.stdout)
    code, text, _ = run_cli(capsys, "show", str(journal))
    assert code == 0
    first, second = text.splitlines()[:2]
    assert first.startswith("HALTED by kill switch at ") and "MaxDrawdown" in first
    assert second.startswith("KILL SWITCH TRIPPED at ")
    db = sqlite3.connect(journal)
    first_kill = db.execute(
        "SELECT MIN(ts) FROM gate_events WHERE state = 'closed' AND emergency = 1 "
        "AND gate != 'engine'"
    ).fetchone()[0]
    start = int(dict(db.execute("SELECT key, value FROM meta").fetchall())["first_event_ns"])
    db.close()
    r = report_of(journal)
    assert r.verdict == "halted"
    assert r.timeline.kill_trips[0].closed_s == pytest.approx((first_kill - start) / NS)


# -- parsing and the pure time accounting ---------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.integers(-(10**6), 10**9).map(str), st.text(max_size=8)),
       st.sampled_from(["", " ", "\t"]))  # fmt: skip
def test_parse_fills(text: str, pad: str) -> None:
    arg = pad + text + pad
    stripped = text.strip()
    if stripped.lower() == "all":
        assert parse_fills(arg) is None
        return
    try:
        n = int(stripped, 10)
    except ValueError:
        with pytest.raises(MmkitError, match="--fills"):
            parse_fills(arg)
        return
    if n < 0:
        with pytest.raises(MmkitError, match="--fills"):
            parse_fills(arg)
    else:
        assert parse_fills(arg) == n


@st.composite
def updates(draw: st.DrawFn) -> list[Quote]:
    out: list[Quote] = []
    t = T0
    for _ in range(draw(st.integers(0, 25))):
        t += draw(st.integers(0, 3)) * NS
        out.append(
            Quote(t, draw(st.integers(1, 6)), draw(st.sampled_from([1, -1, 0])),
                  draw(st.booleans()), float(draw(st.integers(90, 110))))
        )  # fmt: skip
    return out


def _book_after(quotes: list[Quote], t: int) -> dict[int, tuple[int, float]]:
    """Replay every update at or before ``t`` from scratch (the oracle)."""
    book: dict[int, tuple[int, float]] = {}
    for q in quotes:
        if q.ts_ns > t:
            break
        book.pop(q.oid, None)
        if q.resting and q.side in (1, -1):
            book[q.oid] = (q.side, q.px)
    return book


@settings(max_examples=300, deadline=None)
@given(updates(), st.integers(0, 5), st.integers(0, 5))
def test_quoting_time_equals_a_brute_force_replay(
    quotes: list[Quote], lead_s: int, tail_s: int
) -> None:
    """Our best quotes rebuilt from the order updates, timed by the shared
    ``quoting_seconds``, equal a replay of the book over every interval."""
    start = T0 + lead_s * NS
    end = (quotes[-1].ts_ns if quotes else T0) + tail_s * NS
    times = sorted({q.ts_ns for q in quotes} | {start, end})
    expected = 0
    for a, b in itertools.pairwise(times):
        if a < start or b > end:
            continue
        sides = {s for s, _ in _book_after(quotes, a).values()}
        if sides == {1, -1}:
            expected += b - a
    got = quoting_seconds(*best_quotes(quotes), start, end)
    assert got == pytest.approx(expected / NS, abs=1e-9)


@settings(max_examples=300, deadline=None)
@given(updates())
def test_best_quotes_equal_a_brute_force_replay(quotes: list[Quote]) -> None:
    ts, bid, ask = best_quotes(quotes)
    assert list(ts) == sorted({q.ts_ns for q in quotes})
    for t, b, a in zip(ts, bid, ask, strict=True):
        book = _book_after(quotes, int(t))
        bids = [p for s, p in book.values() if s == 1]
        asks = [p for s, p in book.values() if s == -1]
        assert (max(bids) if bids else math.nan) == pytest.approx(b, nan_ok=True)
        assert (min(asks) if asks else math.nan) == pytest.approx(a, nan_ok=True)


# -- the journal's report against the session's own ----------------------------------------

#: summary rows the session computes from its in-memory records and ``journal show`` from the
#: journal's rows, with the same labels: they must print the same text
SAME_ROWS = (
    "verdict",
    "fills (bid / ask)",
    "volume USD (bid / ask)",
    "fills per hour",
    "turnover (USD/hour)",
    "fees paid (USD)",
    "net fees (USD)",
    "Sharpe (per 60 s window",
    "Sortino (per 60 s window)",
    "max drawdown (USD)",
    "return (USD)",
)


@pytest.mark.slow
@pytest.mark.parametrize("data", ["synthetic", "binance-usdm"])
def test_the_journal_tells_what_the_session_reported(
    data: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A paper run's end-of-run summary (from the observer's memory) and ``journal show``
    (from the journal file) agree on the fills, fees, statistics, verdict and rejections."""
    import subprocess
    import sys

    from tests.conftest import SHARED_DATA
    from tests.runtime.test_trade_cli import journal_of

    args = ["--duration", "300"]
    if data != "synthetic":
        capture = SHARED_DATA / "binance-usdm" / "btcusdt_20240808.gz"
        if not capture.is_file():
            pytest.skip("../shared/data is not available")
        args = ["--data", str(capture), "--duration", "200"]
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
    rep = json.loads(js)["report"]
    assert rep["fills"]["fills"] > 0
    for label in SAME_ROWS[1:]:
        assert summary_row(shown, label) == summary_row(summary, label), label
    assert summary_row(summary, "verdict").split()[-1] == rep["run"]["verdict"]
    rej = summary_row(summary, "rejections by reason").removeprefix("rejections by reason").strip()
    got = {k: v for k, v in (x.rsplit(" ", 1) for x in rej.split(", ")) if rej != "none"}
    assert {k: int(v.replace(",", "")) for k, v in got.items()} == rep["rejections_by_reason"]
