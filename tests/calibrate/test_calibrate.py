"""Calibration recovers the synthetic market's truth; finite on the real capture; journal fits."""

from __future__ import annotations

import json
import math
import tomllib
from pathlib import Path

import numpy as np
import pytest

from mmkit.calibrate.intensity import fit_all, fit_loglinear, fit_mle
from mmkit.calibrate.journal_fits import own_fill_kappa, prediction_scores
from mmkit.calibrate.report import validate_overlay, write
from mmkit.calibrate.run import calibrate
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
BTC = REPO / ".." / "shared" / "data" / "binance-usdm" / "btcusdt_20240808.gz"
TRUE_K, TRUE_A, TRUE_SIGMA = 3000.0, 1.0, 8e-5


@pytest.fixture(scope="module")
def synthetic_hour(tmp_path_factory: pytest.TempPathFactory) -> Path:
    p = resolve(
        SyntheticParams(
            duration_s=3600.0,
            seed=11,
            tick=0.1,
            lot=0.001,
            k=TRUE_K,
            A=TRUE_A,
            sigma_regimes=[TRUE_SIGMA],
            informed_frac=0.0,  # informed flow (a later default) is not this test's market
        ),
        Instrument(),
        11,
    )
    path = tmp_path_factory.mktemp("syn") / "hour.parquet"
    write_store(path, generate_chunks(p), store_meta(p))
    return path


@pytest.mark.slow
def test_recovers_synthetic_k_A_within_5pct_and_sigma_within_10pct(synthetic_hour: Path) -> None:
    cal = calibrate([synthetic_hour]).calibration
    for name, fit in cal.intensity.items():
        assert abs(fit.kappa.value / TRUE_K - 1) < 0.05, (name, fit.kappa)
        assert abs(fit.A.value / TRUE_A - 1) < 0.05, (name, fit.A)
        assert fit.kappa.lo < fit.kappa.value < fit.kappa.hi
    assert abs(cal.sigma.value / TRUE_SIGMA - 1) < 0.10
    assert abs(cal.sigma_calm.value / TRUE_SIGMA - 1) < 0.10
    assert cal.sigma.lo < cal.sigma.value < cal.sigma.hi


def test_mle_interval_covers_truth_on_exponential_depths() -> None:
    rng = np.random.default_rng(3)
    d = rng.exponential(1 / 2000.0, 20_000)
    fits = fit_all(d, duration_s=10_000.0)
    for fit in fits.values():
        assert abs(fit.kappa.value / 2000 - 1) < 0.05
    m = fit_mle(d, 10_000.0)
    assert m.kappa.lo < 2000 < m.kappa.hi
    assert m.A.lo < 1.0 < m.A.hi
    assert fit_loglinear(d, 10_000.0).kappa.quality["r_squared"] > 0.99


def test_too_few_trades_give_nan_not_errors() -> None:
    fits = fit_all(np.array([1e-4]), 10.0)
    assert math.isnan(fits["mle"].kappa.value)
    assert math.isnan(fits["student_t"].kappa.value)


def test_overlay_validates_and_layers_under_trade_params(
    synthetic_hour: Path, tmp_path: Path
) -> None:
    run = calibrate([synthetic_hour])
    out = tmp_path / "params.toml"
    report = write(run.calibration, out)
    validate_overlay(out)
    data = tomllib.loads(out.read_text())
    assert set(data) == {"estimators"}
    settings = load_settings(None, get_host().registry, env={}, overlays=[out])
    assert settings.component_params("estimator", "kappa").prior_kappa == pytest.approx(
        data["estimators"]["kappa"]["prior_kappa"]
    )
    rep = json.loads(report.read_text())
    assert rep["units"]["kappa_per_tick"] > 0
    assert all(e["lo"] is None or e["lo"] <= e["value"] for e in rep["estimates"] if e["value"])


def test_journal_own_fill_kappa_and_prediction_scores(tmp_path: Path) -> None:
    j = Journal(tmp_path / "run.sqlite")
    rng = np.random.default_rng(5)
    mid = 100.0
    for i in range(400):
        ts = 1_000_000_000 * (i + 1)
        j.position(ts - 1, 0.0, "local", mid=mid)
        d = rng.exponential(1 / 500.0)
        side = Side.BUY if i % 2 else Side.SELL
        px = mid * (1 - d) if side is Side.BUY else mid * (1 + d)
        j.fill(OwnFill(ts, i, None, side, px, 0.1, 0.0, tid=i))
        p = float(rng.uniform())
        j.record_prediction(ts, "fill", str(i), p)
        j.record_outcome(ts, "fill", str(i), float(rng.uniform() < p))
    j.close()
    own, n = own_fill_kappa(tmp_path / "run.sqlite", prior_kappa=2000.0)
    assert n == 400
    assert own.lo < own.value < own.hi
    assert abs(own.value / 500 - 1) < 0.15
    scores = prediction_scores(tmp_path / "run.sqlite")
    assert scores[0].model == "fill" and scores[0].n == 400
    assert 0 < scores[0].scores["brier"] < 0.25


@pytest.mark.slow
def test_real_capture_finite_parameters_intervals_and_plots(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("matplotlib")
    if not BTC.exists():
        pytest.skip(f"{BTC} not available")
    out = tmp_path / "params.toml"
    plots = tmp_path / "plots"
    with pytest.raises(SystemExit) as exc:
        main(["calibrate", str(BTC), "--out", str(out), "--plots", str(plots), "--no-progress"])
    assert exc.value.code in (0, None)
    rep = json.loads(out.with_suffix(".calibration.json").read_text())
    by = {(e["name"], e["method"]): e for e in rep["estimates"]}
    for key in [
        ("kappa", "offline fit: mle"),
        ("A", "offline fit: mle"),
        ("kappa", "offline fit: student_t"),
        ("kappa", "offline fit: loglinear"),
        ("sigma", "offline fit: bipower"),
    ]:
        e = by[key]
        assert all(e[k] is not None and math.isfinite(e[k]) for k in ("value", "lo", "hi")), e
        assert e["lo"] <= e["value"] <= e["hi"]
    assert (plots / "intensity_fit.png").stat().st_size > 1000
    assert (plots / "sigma_path.png").stat().st_size > 1000
    assert "kappa" in capsys.readouterr().out


def test_missing_file_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["calibrate", str(tmp_path / "nope.parquet"), "--out", str(tmp_path / "p.toml")])
    assert exc.value.code == 2
    assert "no such file" in capsys.readouterr().err


def test_missing_optional_dependency_names_the_extra() -> None:
    from mmkit.errors import MmkitError
    from mmkit.extras import require

    with pytest.raises(MmkitError, match=r"pip install 'mmkit\[plots\]'"):
        require("matplotlib_does_not_exist", "plots", "--plots")
