"""Sweeps rank only what ran: halted / never-quoting runs are listed but not ranked, ties are
reported as ties, and every row says what the engine did (verdict, headline, time quoting)."""

from __future__ import annotations

import json
import math
import random
import tomllib
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import rankdata
from typer.testing import CliRunner

from mmkit.errors import ConfigError
from mmkit.sweep.cli import EXIT_NO_BEST, best_toml, table_rows
from mmkit.sweep.grid import parse_sweep
from mmkit.sweep.outcome import VERDICTS, Policy, engine_facts, outcome_of
from mmkit.sweep.run import SweepResult, make_tasks, rank, run_local, ties

# --- report fragments shaped like BacktestReport.to_json()["run"] ---------------------------


def _run(
    verdict: str = "ok",
    *,
    quoting_frac: float | None = 0.9,
    post_s: float = 100.0,
    post_halted_s: float = 0.0,
    trips: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "verdict": verdict,
        "headline": f"{verdict.upper()}: crafted",
        "run_s": post_s + 10.0,
        "warmup_s": 10.0,
        "post_warmup_s": post_s,
        "quoting_s": None if quoting_frac is None else quoting_frac * post_s,
        "quoting_frac": quoting_frac,
        "halted_s": post_halted_s,
        "post_warmup_halted_s": post_halted_s,
        "kill_switch_trips": trips or [],
    }


def _row(
    index: int, equity: float | None, run: dict[str, Any] | None = None, **params: Any
) -> dict[str, Any]:
    report: dict[str, Any] = {"equity": equity, "fills": 10, "orders_sent": 50, "max_drawdown": 1.0}
    if run is not None:
        report["run"] = run
    return {"index": index, "params": params or {"q.g.gamma": float(index)}, "report": report}


TRIP = {"t_s": 41.2, "gate": "kill_switch", "reason": "too_many_rejections", "description": "x"}
SPEC = parse_sweep({"grid": {"q.g.gamma": [1.0]}}, "t")


# --- outcome of one run --------------------------------------------------------------------


def test_ok_run_reads_the_report_run_object() -> None:
    out = outcome_of(_row(0, 1.0, _run("ok", quoting_frac=0.85))["report"])
    assert out.source == "report"
    assert out.verdict == "ok" and out.excluded == ""
    assert out.quoting_frac == pytest.approx(0.85)
    assert out.headline == "OK: crafted"


def test_kill_switch_trip_excludes_and_names_when_and_why() -> None:
    out = outcome_of(_row(0, 5.0, _run("halted", trips=[TRIP]))["report"])
    assert out.kill_switch_trips == 1
    assert out.excluded.startswith("halted: kill switch tripped at 41.2 s")
    assert "too_many_rejections" in out.excluded


def test_a_trip_excludes_even_when_the_verdict_says_ok() -> None:
    out = outcome_of(_row(0, 5.0, _run("ok", trips=[TRIP, TRIP]))["report"])
    assert out.kill_switch_trips == 2
    assert out.excluded.startswith("halted")


@pytest.mark.parametrize(
    ("run", "start"),
    [
        (_run("never_quoted", quoting_frac=0.0), "never quoted"),
        (_run("ok", quoting_frac=0.0), "never quoted"),  # the fact, whatever the verdict
        (_run("warmup_only", quoting_frac=None, post_s=0.0), "warmup used the whole run"),
        (_run("mostly_halted", post_halted_s=40.0), "mostly halted (report's verdict)"),
        (_run("ok", post_halted_s=60.0), "mostly halted: 60% of post-warmup time"),
        (_run("bogus"), "unknown verdict 'bogus'"),
    ],
)
def test_runs_that_did_not_trade_are_excluded_with_a_reason(
    run: dict[str, Any], start: str
) -> None:
    out = outcome_of(_row(0, 0.0, run)["report"])
    assert out.excluded.startswith(start), out.excluded


def test_policy_fractions_move_the_line() -> None:
    halted60 = _row(0, 0.0, _run("ok", post_halted_s=60.0))["report"]
    assert outcome_of(halted60, policy=Policy(max_halted_frac=0.7)).excluded == ""
    assert outcome_of(halted60, policy=Policy(max_halted_frac=0.5)).excluded
    quoting30 = _row(0, 0.0, _run("ok", quoting_frac=0.3))["report"]
    assert outcome_of(quoting30).excluded == ""  # default min_quoting_frac 0
    assert outcome_of(quoting30, policy=Policy(min_quoting_frac=0.5)).excluded.startswith(
        "quoted too little: 30%"
    )


def test_without_a_run_object_the_engine_facts_decide() -> None:
    report = {"equity": 3.0, "fills": 4, "orders_sent": 20}
    facts = engine_facts([(7.5, "kill_switch", "MaxDrawdown", "MaxDrawdown {...}")], 120.0, 118.0)
    out = outcome_of(report, facts)
    assert out.source == "engine" and out.verdict == "halted"
    assert out.excluded.startswith("halted: kill switch tripped at 7.5 s: MaxDrawdown")
    clean = outcome_of(report, engine_facts([], 120.0, 5.0))
    assert clean.verdict == "ok" and clean.excluded == "" and clean.quoting_frac is None
    assert "time quoting not reported" in clean.headline
    silent = outcome_of({"equity": 0.0, "fills": 0, "orders_sent": 0})
    assert silent.source == "none" and silent.excluded == "never quoted"


def test_a_failed_run_is_excluded_with_its_error() -> None:
    out = outcome_of({}, None, Policy(), "FileNotFoundError: x.parquet")
    assert out.verdict == "failed" and out.excluded == "failed: FileNotFoundError: x.parquet"


def test_a_run_that_raises_is_a_failed_row_not_the_end_of_the_sweep(tmp_path: Path) -> None:
    spec = parse_sweep({"sweep": {"cadence": "timer"}, "grid": {"quoters.glft.gamma": [10.0]}}, "t")
    missing = tmp_path / "nowhere.parquet"
    tasks = make_tasks(spec, [missing], sets=("instrument.tick=0.1",))
    res = run_local(spec, tasks)
    (row,) = res.rows
    assert row["outcome"]["verdict"] == "failed" and row["rank"] is None
    assert "nowhere.parquet" in row["error"] and row["unranked"] == f"failed: {row['error']}"
    assert res.best is None


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=6), c, max_size=3),
    max_leaves=12,
)
_run_keys = st.sampled_from(
    [
        "verdict",
        "headline",
        "run_s",
        "warmup_s",
        "post_warmup_s",
        "quoting_s",
        "quoting_frac",
        "halted_s",
        "post_warmup_halted_s",
        "kill_switch_trips",
    ]
)


@settings(max_examples=300)
@given(
    st.dictionaries(_run_keys, _json, max_size=10) | _json,
    st.dictionaries(st.sampled_from(["fills", "orders_sent", "equity"]), _json),
)
def test_any_report_gives_an_outcome_without_traceback_or_nan(
    run: Any, extra: dict[str, Any]
) -> None:
    out = outcome_of({**extra, "run": run})
    json.dumps(out.to_json(), allow_nan=False)  # no NaN / inf anywhere
    assert out.verdict and out.headline
    if out.verdict in ("halted", "never_quoted", "warmup_only", "mostly_halted", "failed"):
        assert out.excluded  # a run the report says did not trade is never ranked
    if out.kill_switch_trips:
        assert out.excluded.startswith("halted")
    if out.verdict not in VERDICTS:
        assert out.excluded


def test_a_huge_trip_count_is_counted_not_expanded() -> None:
    # a corrupt report once made a worker allocate one dict per claimed trip (22 GB, OOM)
    out = outcome_of({"run": {"kill_switch_trips": 10**15}})
    assert out.kill_switch_trips == 10**15 and out.verdict == "halted"
    assert out.excluded.startswith("halted") and "more" in out.headline


# --- ranking -------------------------------------------------------------------------------


def test_tie_rule_is_absolute_below_one_and_relative_above() -> None:
    assert ties(0.0, 1e-9, 1e-9) and not ties(0.0, 2e-9, 1e-9)
    assert ties(1e6, 1e6 + 0.5e-3, 1e-9) and not ties(1e6, 1e6 + 2e-3, 1e-9)


def test_halted_row_is_listed_but_never_ranked_or_best() -> None:
    rows = [
        _row(0, 50.0, _run("halted", trips=[TRIP])),  # best equity, but it stopped at 41 s
        _row(1, -2.0, _run("ok")),
        _row(2, -5.0, _run("ok")),
        _row(3, 9.0, _run("never_quoted", quoting_frac=0.0)),
    ]
    res = SweepResult(SPEC, rank(SPEC, rows))
    assert [(r["index"], r["rank"]) for r in res.rows] == [(1, 1), (2, 2), (0, None), (3, None)]
    assert res.best is not None and res.best["index"] == 1
    assert res.rows[2]["unranked"].startswith("halted: kill switch tripped at 41.2 s")
    assert res.rows[3]["unranked"] == "never quoted"
    inc = SweepResult(SPEC, rank(SPEC, rows, include_halted=True), include_halted=True)
    assert [r["index"] for r in inc.rows] == [0, 3, 1, 2]
    text = best_toml(inc)
    assert text is not None and "WARNING: ranked with --include-halted" in text


def test_nothing_ranked_means_no_best() -> None:
    rows = [_row(i, float(i), _run("halted", trips=[TRIP])) for i in range(3)]
    res = SweepResult(SPEC, rank(SPEC, rows))
    assert res.best is None and res.tied_best == [] and res.best_overlay() == {}
    assert best_toml(res) is None
    assert res.to_json()["best_index"] is None


def test_equal_objectives_share_a_rank_and_say_tie() -> None:
    rows = [
        _row(0, 1.0, _run()),
        _row(1, 3.0, _run()),
        _row(2, 3.0 + 1e-12, _run()),  # float noise: a tie
        _row(3, 3.0, _run()),
    ]
    res = SweepResult(SPEC, rank(SPEC, rows))
    assert [(r["index"], r["rank"], r["tie"]) for r in res.rows] == [
        (1, 1, True),
        (2, 1, True),
        (3, 1, True),
        (0, 4, False),
    ]
    assert [r["index"] for r in res.tied_best] == [1, 2, 3]
    headers, table = table_rows(res, ["q.g.gamma"], top=10)
    note = headers.index("note")
    assert [t[note] for t in table] == ["tie", "tie", "tie", ""]
    assert [t[0] for t in table] == ["1", "1", "1", "4"]
    text = best_toml(res)
    assert text is not None
    assert "# TIE: 3 runs equal within tie_tolerance 1e-09" in text
    for i in (1, 2, 3):
        assert f"#   run {i}: q.g.gamma = {float(i):g}" in text
    assert tomllib.loads(text) == {"q": {"g": {"gamma": 1.0}}}  # the first in grid order


def test_ties_do_not_chain_past_the_tolerance() -> None:
    spec = parse_sweep({"sweep": {"tie_tolerance": 0.05}, "grid": {"a.b": [1]}}, "t")
    rows = [_row(0, 10.0, _run()), _row(1, 9.6, _run()), _row(2, 9.2, _run())]
    assert ties(9.6, 9.2, 0.05)  # neighbours tie ...
    ranked = rank(spec, rows)
    # ... but 9.2 is not within 5% of 10 (the group's first): it does not join via 9.6
    assert [(r["index"], r["rank"]) for r in ranked] == [(0, 1), (1, 1), (2, 3)]


def test_minimised_metric_ranks_lowest_first_and_keeps_the_reported_value() -> None:
    spec = parse_sweep({"sweep": {"metric": "-max_drawdown"}, "grid": {"a.b": [1]}}, "t")
    rows = [_row(i, 0.0, _run()) for i in range(3)]
    for r, dd in zip(rows, (3.0, 1.0, 2.0), strict=True):
        r["report"]["max_drawdown"] = dd
    ranked = rank(spec, rows)
    assert [(r["index"], r["value"]) for r in ranked] == [(1, 1.0), (2, 2.0), (0, 3.0)]


_values = st.lists(
    st.tuples(
        st.one_of(st.none(), st.sampled_from([-1.0, 0.0, 0.5, 2.0]), st.floats(-1e3, 1e3)),
        st.booleans(),  # halted
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=300)
@given(_values, st.booleans(), st.randoms(use_true_random=False))
def test_ranks_are_competition_ranks_of_the_runs_that_traded(
    vals: list[tuple[float | None, bool]], descending: bool, rnd: random.Random
) -> None:
    metric = "equity" if descending else "-equity"
    spec = parse_sweep(
        {"sweep": {"metric": metric, "tie_tolerance": 0.0}, "grid": {"a.b": [1]}}, "t"
    )
    rows = [
        _row(i, v, _run("halted", trips=[TRIP]) if halted else _run())
        for i, (v, halted) in enumerate(vals)
    ]
    ranked = rank(spec, rows)
    by_index = {r["index"]: r for r in ranked}
    eligible = [i for i, (v, h) in enumerate(vals) if v is not None and not h]
    # oracle: scipy's "min" ranking of the eligible values (the best value gets rank 1)
    if eligible:
        signed = np.array([vals[i][0] for i in eligible], dtype=float)
        expect = rankdata(-signed if descending else signed, method="min")
        assert [by_index[i]["rank"] for i in eligible] == [int(x) for x in expect]
        best = max(signed) if descending else min(signed)
        res = SweepResult(spec, ranked)
        assert res.best is not None and res.best["report"]["equity"] == best
    for i, (v, h) in enumerate(vals):
        if v is None or h:
            assert by_index[i]["rank"] is None and by_index[i]["unranked"]
    # rows: ranked ones first in rank order, then the others in grid order
    ranks = [r["rank"] for r in ranked]
    k = sum(x is not None for x in ranks)
    assert all(x is not None for x in ranks[:k]) and ranks[:k] == sorted(ranks[:k])
    assert [r["index"] for r in ranked[k:]] == sorted(r["index"] for r in ranked[k:])
    for r in ranked:
        shares = sum(1 for o in ranked if o["rank"] is not None and o["rank"] == r["rank"])
        assert r["tie"] == (r["rank"] is not None and shares > 1)
    # the order the results came back in (Dask: completion order) changes nothing
    shuffled = list(rows)
    rnd.shuffle(shuffled)
    again = rank(spec, shuffled)
    assert [(r["index"], r["rank"]) for r in again] == [(r["index"], r["rank"]) for r in ranked]


@pytest.mark.parametrize(
    "head",
    [
        {"max_halted_frac": 1.5},
        {"max_halted_frac": -0.1},
        {"min_quoting_frac": "half"},
        {"min_quoting_frac": math.nan},
        {"tie_tolerance": -1e-9},
        {"tie_tolerance": math.inf},
        {"tie_tolerance": True},
    ],
)
def test_bad_policy_keys_are_config_errors(head: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match=next(iter(head))):
        parse_sweep({"sweep": head, "grid": {"a.b": [1]}}, "sweep.toml")


@settings(max_examples=200)
@given(
    st.dictionaries(
        st.sampled_from(["max_halted_frac", "min_quoting_frac", "tie_tolerance"]), _json
    )
)
def test_policy_keys_parse_or_raise_config_errors_only(head: dict[str, Any]) -> None:
    try:
        spec = parse_sweep({"sweep": head, "grid": {"a.b": [1]}}, "fuzz.toml")
    except ConfigError:
        return
    assert 0.0 <= spec.policy.max_halted_frac <= 1.0
    assert 0.0 <= spec.policy.min_quoting_frac <= 1.0
    assert 0.0 <= spec.tie_tolerance < math.inf


# --- the command: exit status and files, with the runs faked ---------------------------------


def _fake_sweep(monkeypatch: pytest.MonkeyPatch, reports: list[dict[str, Any]]) -> None:
    """Replace the Dask client and the runs by canned rows (run i gets report i)."""
    import mmkit.sweep.cluster as cluster
    import mmkit.sweep.run as run_mod

    @contextmanager
    def no_client(scheduler: str | None, workers: int | None = None) -> Any:
        yield None

    def canned(
        spec: Any, tasks: Any, client: Any, on_done: Any = None, *, include_halted: bool = False
    ) -> SweepResult:
        rows = [
            {"index": t.index, "params": t.overrides, "report": reports[t.index]} for t in tasks
        ]
        return SweepResult(spec, rank(spec, rows, include_halted=include_halted), include_halted)

    monkeypatch.setattr(cluster, "dask_client", no_client)
    monkeypatch.setattr(run_mod, "run_sweep", canned)


def _invoke(tmp_path: Path, *extra: str) -> Any:
    from mmkit.cli.main import build_app

    grid = tmp_path / "sweep.toml"
    grid.write_text('[grid]\n"quoters.glft.gamma" = [10.0, 50.0, 100.0]\n')
    data = tmp_path / "x.parquet"  # never read (the sweep is canned); the CLI checks it exists
    data.write_bytes(b"PAR1")
    args = [
        "--no-entrypoints",
        "sweep",
        str(data),
        "--grid",
        str(grid),
        "-o",
        str(tmp_path / "best.toml"),
        *extra,
    ]
    return CliRunner().invoke(build_app(args), args)


def test_cli_all_halted_writes_no_best_and_exits_4(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reports = [_row(i, 2.0, _run("halted", trips=[TRIP]))["report"] for i in range(3)]
    reports[0]["fill_ratio"] = math.nan  # strict JSON out: null
    _fake_sweep(monkeypatch, reports)
    res = _invoke(tmp_path)
    assert res.exit_code == EXIT_NO_BEST, res.output
    assert not (tmp_path / "best.toml").exists()
    assert "no best parameters: no run could be ranked" in res.output
    assert (
        "not ranked: 3 of 3 runs: 3 halted (--include-halted ranks halted runs too)" in res.output
    )
    saved = json.loads((tmp_path / "best.results.json").read_text())
    assert saved["ranked"] == 0 and saved["best_index"] is None
    assert all(r["outcome"]["verdict"] == "halted" for r in saved["rows"])
    assert saved["rows"][0]["report"]["fill_ratio"] is None
    again = _invoke(tmp_path, "--include-halted")
    assert again.exit_code == 0, again.output
    assert "WARNING: ranked with --include-halted" in (tmp_path / "best.toml").read_text()


def test_cli_tie_for_best_is_said_and_refused_on_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reports = [_row(i, e, _run())["report"] for i, e in enumerate([1.0, 4.0, 4.0])]
    _fake_sweep(monkeypatch, reports)
    res = _invoke(tmp_path)
    assert res.exit_code == 0, res.output
    assert "TIE for best: 2 runs within tie_tolerance 1e-09" in res.output
    text = (tmp_path / "best.toml").read_text()
    assert "quoters.glft.gamma = 50" in text and "quoters.glft.gamma = 100" in text
    assert tomllib.loads(text) == {"quoters": {"glft": {"gamma": 50.0}}}
    (tmp_path / "best.toml").unlink()
    refused = _invoke(tmp_path, "--tie-break", "refuse")
    assert refused.exit_code == EXIT_NO_BEST, refused.output
    assert not (tmp_path / "best.toml").exists()
    assert "--tie-break refuse: best.toml is not written" in refused.output
    bad = _invoke(tmp_path, "--tie-break", "random")
    assert isinstance(bad.exception, ConfigError)  # mmkit's main prints it, exit status 2
    assert bad.exception.problems == ["--tie-break 'random': choose first or refuse"]
