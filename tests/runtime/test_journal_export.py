"""``mmkit journal export``: every table read back with the csv module and pyarrow equals
what sqlite3 queries written here return from the journal; overwrite and output-directory
rules; ``--table`` parsing."""

from __future__ import annotations

import csv
import json
import re
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.runtime.journal_builder import Spec, build, run_cli

from mmkit.errors import MmkitError
from mmkit.runtime.journal_export import ALIASES, TABLES, export, parse_tables

Rows = list[dict[str, Any]]


@pytest.fixture(scope="module")
def real_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 240 s paper run on the synthetic market (fills, modifies, cancels, gates, estimates)."""
    d = tmp_path_factory.mktemp("runs")
    p = subprocess.run(
        [sys.executable, "-m", "mmkit", "--no-entrypoints", "trade", "--duration", "240",
         "--speed", "0", "--no-dashboard", "--journal-dir", str(d)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert p.returncode == 0, p.stderr[-2000:]
    (journal,) = d.glob("*.sqlite")
    return journal


def read_csv(path: Path) -> Rows:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def read_parquet(path: Path) -> Rows:
    import pyarrow.parquet as pq

    rows: Rows = pq.read_table(path).to_pylist()
    return rows


def _int(v: Any) -> int | None:
    return None if v in ("", None) else int(v)


def _float(v: Any) -> float | None:
    return None if v in ("", None) else float(v)


def _bool(v: Any) -> bool | None:
    if v in ("", None):
        return None
    return v if isinstance(v, bool) else {"true": True, "false": False}[v]


def _str(v: Any) -> str | None:
    return None if v is None else str(v)


def oracle(db: sqlite3.Connection, sql: str) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in db.execute(sql).fetchall()]


def start_ns(db: sqlite3.Connection) -> int:
    meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
    return int(meta["first_event_ns"])


def check_tables(journal: Path, out: Path, ext: str, read: Callable[[Path], Rows]) -> None:
    db = sqlite3.connect(journal)
    t0 = start_ns(db)
    csv_like = ext == "csv"

    def s(v: Any) -> str | None:  # CSV cannot tell an empty text from a missing one
        v = _str(v)
        return "" if csv_like and v is None else v

    fills = read(out / f"fills.{ext}")
    want = oracle(db, "SELECT ts, oid, cloid, side, px, sz, fee, tid, crossed, liquidation, "
                      "recv_ts, mid FROM fills ORDER BY ts, id")  # fmt: skip
    assert len(fills) == len(want) > 0
    for r, w in zip(fills, want, strict=True):
        got = (_int(r["ts_ns"]), _int(r["oid"]), s(r["cloid"]), _int(r["side"]),
               _float(r["px_usd"]), _float(r["sz_base"]), _float(r["fee_usd"]), _int(r["tid"]),
               _bool(r["crossed"]), _bool(r["liquidation"]))  # fmt: skip
        assert got == (w[0], w[1], s(w[2]), w[3], w[4], w[5], w[6], w[7], bool(w[8]),
                       bool(w[9]))  # fmt: skip
        assert _float(r["notional_usd"]) == pytest.approx(w[4] * w[5], rel=1e-12)
        assert (_int(r["recv_ns"]), _float(r["mid_at_fill_usd"])) == (w[10], w[11])
        assert _float(r["t_s"]) == pytest.approx((w[0] - t0) / 1e9, abs=1e-9)

    # orders: each action with the first answer to its request, joined here in Python
    first: dict[int, tuple[Any, ...]] = {}
    count: dict[int, int] = {}
    for row in oracle(db, "SELECT id, request_id, ts, outcome, reason, filled_sz, oid "
                          "FROM action_results ORDER BY id"):  # fmt: skip
        first.setdefault(row[1], row)
        count[row[1]] = count.get(row[1], 0) + 1
    actions = oracle(db, "SELECT ts, request_id, kind, px, sz, side, oid FROM actions "
                         "ORDER BY ts, id")  # fmt: skip
    orders = read(out / f"orders.{ext}")
    assert len(orders) == len(actions) > 0
    for r, a in zip(orders, actions, strict=True):
        ans = first.get(a[1])
        assert (_int(r["ts_ns"]), _int(r["request_id"]), s(r["kind"])) == (a[0], a[1], a[2])
        assert (_float(r["px_usd"]), _float(r["sz_base"]), _int(r["side"])) == (a[3], a[4], a[5])
        assert _int(r["answers"]) == count.get(a[1], 0)
        if ans is None:
            assert _int(r["result_ts_ns"]) is None and s(r["outcome"]) == s(None)
        else:
            assert _int(r["result_ts_ns"]) == ans[2]
            assert (s(r["outcome"]), s(r["reject_reason"])) == (s(ans[3]), s(ans[4]))
            assert _float(r["latency_ms"]) == pytest.approx((ans[2] - a[0]) / 1e6)
            assert _int(r["oid"]) == (a[6] if a[6] is not None else ans[6])

    gates = read(out / f"gate_events.{ext}")
    want = oracle(db, "SELECT ts, gate, state, reason, detail, mode, emergency FROM gate_events "
                      "ORDER BY id")  # fmt: skip
    assert [(_int(r["ts_ns"]), s(r["gate"]), s(r["state"]), s(r["reason"]), s(r["detail"]),
             s(r["mode"]), _bool(r["emergency"])) for r in gates] == [
        (w[0], s(w[1]), s(w[2]), s(w[3]), s(w[4]), s(w[5]), bool(w[6])) for w in want
    ]  # fmt: skip

    est = read(out / f"estimates.{ext}")
    want = oracle(db, "SELECT ts, kappa, A, sigma, warmed_up, extras FROM estimates "
                      "ORDER BY ts, id")  # fmt: skip
    assert len(est) == len(want)
    for r, w in zip(est, want, strict=True):
        assert (_int(r["ts_ns"]), _float(r["kappa"]), _float(r["A_per_s"]),
                _float(r["sigma_per_sqrt_s"]), _bool(r["warmed_up"])) == (
            w[0], w[1], w[2], w[3], bool(w[4]))  # fmt: skip
        assert json.loads(str(r["extras_json"])) == json.loads(w[5])

    pos = read(out / f"positions.{ext}")
    want = oracle(db, "SELECT ts, source, position, realized, unrealized, fees, mid "
                      "FROM positions ORDER BY ts, id")  # fmt: skip
    assert len(pos) == len(want) > 0
    for r, w in zip(pos, want, strict=True):
        assert (_int(r["ts_ns"]), s(r["source"]), _float(r["position_base"]),
                _float(r["realized_usd"]), _float(r["mid_usd"])) == (
            w[0], s(w[1]), w[2], w[3], w[6])  # fmt: skip
        eq = _float(r["equity_usd"])
        if None in (w[3], w[4], w[5]):
            assert eq is None
        else:
            assert eq == pytest.approx(w[3] + w[4] - w[5], rel=1e-12, abs=1e-12)
    db.close()


@pytest.mark.slow
@pytest.mark.parametrize(("fmt", "read"), [("csv", read_csv), ("parquet", read_parquet)])
def test_export_round_trips_a_real_run(
    real_run: Path, tmp_path: Path, fmt: str, read: Callable[[Path], Rows]
) -> None:
    out = tmp_path / "export"
    written = export(real_run, out, fmt=fmt)
    assert [p.name for p in written] == [f"{t}.{fmt}" for t in TABLES]
    check_tables(real_run, out, fmt, read)
    assert not list(out.glob(".*partial"))


@pytest.mark.parametrize(("fmt", "read"), [("csv", read_csv), ("parquet", read_parquet)])
def test_gate_closures_have_their_times(
    tmp_path: Path, fmt: str, read: Callable[[Path], Rows]
) -> None:
    spec = Spec(gates=[("warmup", "Warmup", 0, 30, "halt", False),
                       ("inventory", "Skew", 50, 55, "reduce_only", False),
                       ("kill_switch", "MaxDrawdown", 60, None, "halt", True)])  # fmt: skip
    journal = build(tmp_path / "g.sqlite", spec)
    export(journal, tmp_path / "x", fmt=fmt, tables=("gate_closures", "fills"))
    rows = read(tmp_path / "x" / f"gate_closures.{fmt}")
    got = [(r["gate"], _float(r["start_s"]), _float(r["end_s"]), _float(r["duration_s"]),
            _bool(r["kill_switch"]), r["ended_by"]) for r in rows]  # fmt: skip
    assert got == [
        ("warmup", 0.0, 30.0, 30.0, False, "reopened"),
        ("inventory", 50.0, 55.0, 5.0, False, "reopened"),
        ("kill_switch", 60.0, 100.0, 40.0, True, "still closed at end"),
    ]
    assert rows[2]["start_utc"] == "2023-11-14 22:14:20.000"
    assert sorted(p.name for p in (tmp_path / "x").iterdir()) == [
        f"fills.{fmt}",
        f"gate_closures.{fmt}",
    ]


def test_refuses_to_overwrite_without_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    journal = build(tmp_path / "j.sqlite", Spec(fills=[(5.0, 1, 100.0, 1.0, 0.01)]))
    out = tmp_path / "out"
    code, text, _ = run_cli(capsys, "export", str(journal), "--out", str(out), "--table", "fills")
    assert code == 0 and text.strip() == str(out / "fills.csv")
    (out / "fills.csv").write_text("mine\n")
    code, _, err = run_cli(capsys, "export", str(journal), "--out", str(out), "--table", "fills")
    assert code == 2 and "would overwrite" in err and "--force" in err
    assert (out / "fills.csv").read_text() == "mine\n"  # untouched
    code, _, _ = run_cli(
        capsys, "export", str(journal), "--out", str(out), "--table", "fills", "--force"
    )
    assert code == 0 and read_csv(out / "fills.csv")[0]["px_usd"] == "100.0"


def test_out_dir_is_created_only_under_an_existing_parent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    journal = build(tmp_path / "j.sqlite", Spec())
    deep = tmp_path / "no" / "such" / "dir"
    code, _, err = run_cli(capsys, "export", str(journal), "--out", str(deep))
    assert code == 2 and "does not exist" in err and str(deep.parent) in err
    assert not (tmp_path / "no").exists()
    afile = tmp_path / "afile"
    afile.write_text("x")
    code, _, err = run_cli(capsys, "export", str(journal), "--out", str(afile))
    assert code == 2 and "not a directory" in err
    code, _, _ = run_cli(capsys, "export", str(journal), "--out", str(tmp_path / "new"))
    assert code == 0 and (tmp_path / "new" / "fills.csv").is_file()
    code, _, err = run_cli(capsys, "export", str(journal), "--out", str(tmp_path / "n2"),
                           "--format", "xlsx")  # fmt: skip
    assert code == 2 and "--format" in err and not (tmp_path / "n2").exists()


def test_a_bad_value_names_the_table_and_column_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    journal = build(tmp_path / "j.sqlite", Spec(fills=[(5.0, 1, 100.0, 1.0, 0.01)]))
    db = sqlite3.connect(journal)
    db.execute("UPDATE fills SET px = 'abc'")
    db.commit()
    db.close()
    code, _, err = run_cli(capsys, "export", str(journal), "--out", str(tmp_path / "o"))
    assert code == 2, err
    assert str(journal) in err and "fills" in err and "px_usd" in err and "'abc'" in err
    assert "Traceback" not in err
    assert not (tmp_path / "o").exists()


def test_schema_lists_every_column_with_its_unit(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "export", "--schema")
    assert code == 0
    for t in TABLES.values():
        assert f"{t.name}: " in out
        for c in t.columns:
            assert re.search(rf"^  {re.escape(c.name)} +{c.type} ", out, re.M), c.name


_NAMES = [*TABLES, *ALIASES]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from(_NAMES), min_size=1, max_size=6),
    st.lists(st.sampled_from(["", " ", "  "]), min_size=2, max_size=2),
    st.booleans(),
)
def test_parse_tables(names: list[str], pads: list[str], upper: bool) -> None:
    text = ",".join(f"{pads[0]}{n.upper() if upper else n}{pads[1]}" for n in names)
    expected: set[str] = set()
    for n in names:
        expected |= set(ALIASES.get(n, (n,)))
    got = parse_tables(text)
    assert set(got) == expected and len(got) == len(set(got))
    assert list(got) == [t for t in TABLES if t in expected]


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_characters=","), min_size=1, max_size=12))
def test_unknown_tables_are_refused_by_name(name: str) -> None:
    if name.strip().lower() in _NAMES or not name.strip():
        return
    with pytest.raises(MmkitError, match="unknown table"):
        parse_tables(f"fills,{name}")
