"""calibrate runs the engine's own estimators: end state, honest intervals, reasons, auto fit.

Oracles: the synthetic generator's parameters (k, A, sigma: inputs, never fitted here), the
engine itself (a backtest through the public path, or an Engine built by
``build_engine``), the exact chi-square / Poisson laws (scipy) and numpy computations done
another way (Kish's effective sample size, direct counting of the intensity curve).
"""

from __future__ import annotations

import json
import math
import tomllib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import chi2

from mmkit.calibrate.engine_state import ewma_effective_n, run_engine_estimators
from mmkit.calibrate.estimate import Estimate
from mmkit.calibrate.intensity import (
    SMALL_SAMPLE_TRADES,
    IntensityFit,
    book_kappa_estimate,
    curve_residual,
    fit_all,
    select_fit,
    widen_to_bound,
)
from mmkit.calibrate.journal_fits import prediction_log_note, prediction_scores
from mmkit.calibrate.plots import intensity_curve, sigma_series, time_axis
from mmkit.calibrate.report import validate_overlay, write
from mmkit.calibrate.run import calibrate
from mmkit.calibrate.scan import ScanResult
from mmkit.calibrate.volatility import SigmaFit
from mmkit.cli.main import main
from mmkit.config.loader import load_settings
from mmkit.core.events import OwnFill
from mmkit.core.types import Instrument, Side
from mmkit.data.params import SyntheticParams
from mmkit.data.store import write_store
from mmkit.data.synthetic import generate_chunks, resolve, store_meta
from mmkit.plugin_manager import get_host
from mmkit.runtime.journal import Journal

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "data"
USDM = SHARED / "binance-usdm" / "btcusdt_20240808.gz"
HL = SHARED / "hyperliquid" / "btcusd_20250126.gz"
TRUE_K, TRUE_A, TRUE_SIGMA = 3000.0, 1.5, 8e-5


def _store(path: Path, duration_s: float, seed: int) -> Path:
    """A synthetic capture with constant volatility (no vol of vol, no jump cascades, no
    informed flow): its true k, A and sigma are the generator's inputs."""
    p = resolve(
        SyntheticParams(
            duration_s=duration_s,
            seed=seed,
            tick=0.1,
            lot=0.001,
            k=TRUE_K,
            A=TRUE_A,
            sigma_regimes=[TRUE_SIGMA],
            vol_of_vol=0.0,
            cascade_rate_per_h=0.0,
            informed_frac=0.0,
        ),
        Instrument(),
        seed,
    )
    write_store(path, generate_chunks(p), store_meta(p))
    return path


@pytest.fixture(scope="module")
def half_hour(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _store(tmp_path_factory.mktemp("syn") / "half_hour.parquet", 1800.0, 11)


@pytest.fixture(scope="module")
def two_minutes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _store(tmp_path_factory.mktemp("syn") / "two_minutes.parquet", 120.0, 4)


def _rows(est: list[Estimate], method_part: str) -> dict[str, Estimate]:
    return {e.name: e for e in est if method_part in e.method}


def _inside(x: float, e: Estimate) -> bool:
    return e.lo <= x <= e.hi


# -- the must-show: engine end state and generator truth ------------------------------------
@pytest.mark.slow
def test_calibrate_recovers_the_engines_end_state_and_the_generators_truth(
    half_hour: Path, tmp_path: Path
) -> None:
    from mmkit.backtest.runner import BacktestOptions, run_backtest

    run = calibrate([half_hour])
    cal = run.calibration
    eng = _rows(cal.engine, "engine end state")
    off = _rows(cal.offline_estimates(), "offline fit")
    # the engine itself, through the public path: a backtest on the same capture
    host = get_host()
    bt = run_backtest(load_settings(None, host.registry, env={}), host, [half_hour])
    end = bt.session.engine.estimates
    for name, value in (("kappa.robust", end.extras["kappa.robust"]), ("sigma", end.sigma)):
        e = eng[name]
        assert e.finite and _inside(value, e), (name, value, e)
        assert abs(value / e.value - 1) < 0.01, (name, value, e.value)  # same estimators
    # the offline fits agree with the engine's end state (intervals overlap) ...
    for off_name, eng_name in (("kappa", "kappa.robust"), ("A", "A"), ("sigma", "sigma")):
        o, e = off[off_name], eng[eng_name]
        assert o.lo <= e.hi and e.lo <= o.hi, (o, e)
    # ... the offline fit of the engine's own window lands inside the engine's interval
    assert cal.window_kappa is not None and _inside(cal.window_kappa.value, eng["kappa.robust"])
    assert any(c.startswith("trade kappa") and "AGREE" in c for c in cal.comparisons)
    # ... and both recover the generator's inputs (an oracle nobody fitted)
    assert _inside(TRUE_K, eng["kappa.robust"]) and _inside(TRUE_K, cal.chosen_kappa())
    assert _inside(TRUE_A, eng["A"]) and _inside(TRUE_A, off["A"])
    assert _inside(TRUE_SIGMA, eng["sigma"]) and _inside(TRUE_SIGMA, off["sigma"])
    # the overlay it writes runs a backtest with --params
    out = tmp_path / "params.toml"
    write(cal, out)
    validate_overlay(out)
    layered = load_settings(None, host.registry, env={}, overlays=[out])
    assert layered.component_params("estimator", "kappa").prior_kappa == pytest.approx(
        cal.chosen_kappa().value
    )
    res = run_backtest(layered, host, [half_hour], BacktestOptions(duration_s=60.0))
    assert res.report.market_events > 0


def test_engine_state_equals_an_engine_built_by_build_engine(two_minutes: Path) -> None:
    """The same events through a real Engine (quoter and executor included, actions not
    sent anywhere) leave the estimators where calibrate's run leaves them."""
    from mmkit.assembly import build_engine
    from mmkit.core.events import Timer
    from mmkit.data.adapter import events_from_chunks
    from mmkit.data.market_stream import open_records

    host = get_host()
    settings = load_settings(None, host.registry, env={})
    state = run_engine_estimators([two_minutes], settings, registry=host.registry)
    engine = build_engine(settings, host)
    step = int(settings.engine.timer_ms * 1_000_000)
    next_timer = -1
    for ev in events_from_chunks(open_records(two_minutes).chunks):
        t = ev.local_ts if ev.local_ts >= 0 else ev.ts
        if next_timer < 0:
            next_timer = t
        while next_timer <= t:
            engine.on_event(Timer(next_timer, local_ts=next_timer), next_timer)
            next_timer += step
        engine.on_event(ev, t)
    ours, theirs = state.estimates, engine.estimates
    assert ours.sigma == pytest.approx(theirs.sigma, rel=1e-12)
    assert ours.kappa == pytest.approx(theirs.kappa, rel=1e-12)
    assert ours.extras["kappa.robust"] == pytest.approx(theirs.extras["kappa.robust"], rel=1e-12)
    a_ours, a_theirs = ours.A, theirs.A
    assert a_ours == pytest.approx(a_theirs, rel=1e-12)


def test_engine_rows_have_an_interval_or_a_reason(two_minutes: Path) -> None:
    cal = calibrate([two_minutes]).calibration
    assert {e.name for e in cal.engine} >= {"kappa", "kappa.robust", "A", "sigma"}
    for e in cal.estimates():
        if not e.finite:
            assert e.note, e  # every missing value or interval says why
    book = next(e for e in cal.engine if e.name == "kappa.book")
    assert math.isfinite(book.value) or "book snapshot" in book.note


# -- honest intervals, small samples, reasons -----------------------------------------------
@given(
    k=st.floats(1.0, 1e7),
    rel=st.floats(0.0, 0.5),
    n=st.integers(1, 100_000),
)
def test_widened_interval_is_never_sharper_than_n_exponential_depths(
    k: float, rel: float, n: int
) -> None:
    lo, hi, _ = widen_to_bound(k, k * (1 - rel), k * (1 + rel), n)
    exact_lo = k * chi2.ppf(0.025, 2 * n) / (2 * n)
    exact_hi = k * chi2.ppf(0.975, 2 * n) / (2 * n)
    assert 0.0 <= lo <= exact_lo * (1 + 1e-12)
    assert hi >= exact_hi * (1 - 1e-12)
    assert lo <= k <= hi


def test_sixty_four_trades_at_the_touch_get_an_honest_interval_and_warnings() -> None:
    """The Hyperliquid case: 64 trades, nearly all one tick from mid."""
    rng = np.random.default_rng(1)
    d = np.full(64, 0.5 / 105_000)
    d[:8] += rng.exponential(1e-5, 8)
    fits = fit_all(d, 25.0)
    t = fits["student_t"].kappa
    assert t.hi / t.lo > 1.5  # not [138738, 138740]
    assert t.hi / t.value >= chi2.ppf(0.975, 128) / 128 * (1 - 1e-9)
    assert "SMALL SAMPLE" in t.note and "at one depth" in t.note
    for f in fits.values():
        if math.isfinite(f.kappa.value):
            assert f.kappa.lo <= f.kappa.value <= f.kappa.hi


def test_calibrate_warns_about_a_small_sample(tmp_path: Path) -> None:
    path = _store(tmp_path / "short.parquet", 40.0, 2)
    cal = calibrate([path]).calibration
    assert cal.trades < SMALL_SAMPLE_TRADES
    text = " ".join(cal.warnings)
    assert "small sample" in text and f"{cal.trades} market trades" in text
    assert "mid returns for sigma" in text
    out = tmp_path / "p.toml"
    write(cal, out)
    assert "# WARNING: small sample" in out.read_text()


def test_book_kappa_nan_says_why() -> None:
    empty = np.zeros(0)
    assert "no book samples" in book_kappa_estimate(empty, empty, 0).note
    failed = book_kappa_estimate(empty, empty, 25)
    assert math.isnan(failed.value) and "0 of 25 book regressions" in failed.note


# -- fit selection by goodness of fit --------------------------------------------------------
def test_auto_picks_the_fit_with_the_smallest_curve_residual() -> None:
    rng = np.random.default_rng(7)
    # a touch-heavy market: 70% of the trades at one tick, an exponential tail behind them
    d = np.concatenate([np.full(7000, 1e-6), rng.exponential(1 / 3000.0, 3000)])
    fits = fit_all(d, 1000.0)
    chosen, reason = select_fit(fits)
    scores = {
        n: f.kappa.quality["curve_rms_log"]
        for n, f in fits.items()
        if math.isfinite(f.kappa.quality.get("curve_rms_log", math.nan))
    }
    assert chosen == min(scores, key=lambda n: scores[n])
    assert chosen in reason and "residual" in reason


@given(ks=st.lists(st.floats(500.0, 20_000.0), min_size=1, max_size=4))
def test_select_fit_returns_the_minimum_residual(ks: list[float]) -> None:
    d = -np.log1p(-(np.arange(2000) + 0.5) / 2000) / 3000.0  # Exp(3000) quantiles
    fits = {}
    for i, k in enumerate(ks):
        e = Estimate("kappa", k, k * 0.9, k * 1.1, "u", f"m{i}", 2000)
        e.quality["curve_rms_log"] = curve_residual(d, 1000.0, k, 1.0)
        fits[f"m{i}"] = IntensityFit(f"m{i}", e, Estimate("A", 1.0, 0.9, 1.1, "u", "m", 2000))
    chosen, _ = select_fit(fits)
    best = min(fits, key=lambda n: fits[n].kappa.quality["curve_rms_log"])
    assert fits[chosen].kappa.quality["curve_rms_log"] == fits[best].kappa.quality["curve_rms_log"]


def test_curve_residual_is_small_for_the_true_curve_and_grows_when_wrong() -> None:
    d = -np.log1p(-(np.arange(5000) + 0.5) / 5000) / 3000.0  # Exp(3000) quantiles
    # 5000 trades over 2500 s: A = 5000 / (2 * 2500) = 1
    true = curve_residual(d, 2500.0, 3000.0, 1.0)
    assert true < 0.02
    assert curve_residual(d, 2500.0, 6000.0, 1.0) > 10 * true
    assert curve_residual(d, 2500.0, 3000.0, 2.0) == pytest.approx(math.log(2.0), rel=0.05)


def test_explicit_kappa_method_still_works(two_minutes: Path, tmp_path: Path) -> None:
    out = tmp_path / "p.toml"
    with pytest.raises(SystemExit) as exc:
        main(
            [
                "calibrate",
                str(two_minutes),
                "--out",
                str(out),
                "--no-progress",
                "--kappa-method",
                "mle",
            ]
        )
    assert exc.value.code in (0, None)
    rep = json.loads(out.with_suffix(".calibration.json").read_text())
    assert rep["kappa_method"] == "mle" and rep["kappa_method_requested"] == "mle"
    mle = next(e for e in rep["offline_fits"] if e["method"] == "offline fit: mle")
    assert tomllib.loads(out.read_text())["estimators"]["kappa"]["prior_kappa"] == (
        pytest.approx(mle["value"])
    )


def test_cli_reports_engine_first_then_offline_and_the_choice(
    two_minutes: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "p.toml"
    with pytest.raises(SystemExit) as exc:
        main(["calibrate", str(two_minutes), "--out", str(out), "--no-progress"])
    assert exc.value.code in (0, None)
    text = capsys.readouterr().out
    assert text.index("engine end state (primary)") < text.index("offline fit")
    assert "kappa fit written: " in text and "residual" in text
    toml = out.read_text()
    assert "# engine end state" in toml and "# offline fit" in toml
    assert "# overlay: prior_kappa = offline fit" in toml


# -- journal ---------------------------------------------------------------------------------
def test_empty_prediction_log_says_why(tmp_path: Path) -> None:
    j = Journal(tmp_path / "run.sqlite")
    for i in range(3):
        j.fill(OwnFill(1_000_000_000 * (i + 1), i, None, Side.BUY, 100.0, 0.1, 0.0, tid=i))
    j.close()
    models = prediction_scores(tmp_path / "run.sqlite")
    note = prediction_log_note(tmp_path / "run.sqlite", models)
    assert models == [] and "empty" in note and "3 fills" in note
    assert "adverse_selection" in note


# -- plots: their content from the data they draw -------------------------------------------
@given(span=st.floats(0.001, 1e7))
def test_time_axis_unit_fits_the_span(span: float) -> None:
    per, unit = time_axis(span)
    assert {1.0: "s", 60.0: "min", 3600.0: "h"}[per] == unit
    shown = span / per
    assert shown <= 180.0 or unit == "h"
    assert unit == "s" or shown > 3.0


def _sigma_fit(seconds: int) -> SigmaFit:
    ts = (np.arange(seconds) * 1_000_000_000).astype(np.int64)
    path = np.full(seconds, 1e-4)
    e = Estimate("sigma", 1e-4, 9e-5, 1.1e-4, "u", "bipower", seconds)
    return SigmaFit(e, e, e, e, ts, path, path * 1.1, np.zeros(seconds))


def test_sigma_path_of_six_minutes_is_drawn_in_minutes() -> None:
    s = sigma_series(_sigma_fit(361))
    assert s["unit"] == "min"
    assert s["t"][-1] == pytest.approx(6.0)
    assert np.all(np.diff(s["t"]) > 0)
    assert s["bipower"] == 1e-4 and np.allclose(s["multi-scale bipower"], 1.1e-4)


def test_intensity_curve_counts_trades_reaching_each_depth() -> None:
    rng = np.random.default_rng(2)
    d = rng.exponential(1 / 3000.0, 500)
    z = np.zeros(0)
    scan = ScanResult(
        0.1,
        250.0,
        np.zeros(500, np.int64),
        d,
        np.zeros(500, np.int8),
        np.full(500, 100.0),
        np.zeros(0, np.int64),
        z,
        np.zeros(0, np.int64),
        z,
        z,
    )
    fits = fit_all(d, 250.0)
    c = intensity_curve(scan, fits)
    depth = c["depth_bp"] / 1e4
    direct = np.array([np.count_nonzero(d >= x) for x in depth]) / (2 * 250.0)
    assert np.allclose(c["rate"], direct)
    k, a = fits["mle"].kappa.value, fits["mle"].A.value
    assert np.allclose(c["fits"]["mle"], a * np.exp(-k * depth))


@given(h=st.floats(1.0, 2000.0))
def test_ewma_effective_n_matches_kish(h: float) -> None:
    lam = 0.5 ** (1.0 / h)
    w = lam ** np.arange(int(60 * h) + 10)
    kish = w.sum() ** 2 / np.sum(w * w)
    assert ewma_effective_n(h) == pytest.approx(kish, rel=1e-6)


# -- the real captures -----------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("capture", [USDM, HL], ids=["binance-usdm", "hyperliquid"])
def test_real_capture_engine_state_comparison_and_reasons(capture: Path) -> None:
    if not capture.exists():
        pytest.skip(f"{capture} not available")
    run = calibrate([capture])
    cal = run.calibration
    rows = {e.name: e for e in cal.engine}
    assert {"kappa", "kappa.robust", "A", "sigma"} <= set(rows)
    assert len(cal.comparisons) >= 3
    for e in cal.estimates():
        if not e.finite:
            assert e.note, e
    for f in cal.intensity.values():  # no interval sharper than n exponential depths allow
        k = f.kappa
        if math.isfinite(k.value):
            assert k.hi >= k.value * chi2.ppf(0.975, 2 * k.n) / (2 * k.n) * 0.999
            assert k.lo <= k.value * chi2.ppf(0.025, 2 * k.n) / (2 * k.n) * 1.001
    s = sigma_series(run.sigma)
    span_s = (run.sigma.path_ts[-1] - run.sigma.path_ts[0]) / 1e9 if s["t"].size else 0
    assert s["unit"] == time_axis(span_s)[1]
    if capture == HL:
        assert any("small sample" in w for w in cal.warnings)
        assert math.isfinite(cal.book_kappa.value) or "book regressions" in cal.book_kappa.note
    else:
        assert s["unit"] == "min"  # 345 s


def test_calibrate_with_a_journal_without_predictions_warns(
    two_minutes: Path, tmp_path: Path
) -> None:
    j = Journal(tmp_path / "run.sqlite")
    j.fill(OwnFill(1_000_000_000, 1, None, Side.SELL, 100.0, 0.1, 0.0, tid=1))
    j.close()
    cal = calibrate([two_minutes], journal=tmp_path / "run.sqlite").calibration
    assert cal.models == []
    assert any("prediction log is empty" in w and "--journal" in w for w in cal.warnings)
