"""End to end: the classifier writes into the trade journal; ``mmkit signals lead-lag`` finds
an injected lead between two Binance-format captures."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest
from tests.cli.helpers import run_cli
from typer.testing import CliRunner

from mmkit.components import Estimates
from mmkit.runtime.journal import Journal, open_readonly
from mmkit.signals.adverse_selection import AdverseSelectionEstimator
from mmkit.signals.params import AdverseSelectionParams
from mmkit.signals.synthetic import lead_lag_mids, toxic_flow_events


def test_classifier_writes_predictions_and_outcomes_to_the_journal(tmp_path: Path) -> None:
    path = tmp_path / "run.sqlite"
    journal = Journal(path)
    est = AdverseSelectionEstimator(AdverseSelectionParams())
    est.attach_prediction_log(journal)
    out = Estimates()
    for ev in toxic_flow_events(5, 30):
        est.on_event(ev, ev.ts)
        est.estimate(out, ev.ts)
    journal.close()
    with open_readonly(path) as db:
        preds = db.execute("SELECT key FROM predictions WHERE model = 'adverse'").fetchall()
        outs = db.execute("SELECT key, outcome FROM outcomes WHERE model = 'adverse'").fetchall()
    assert len(preds) == len(outs) == 30
    assert {k for (k,) in preds} == {k for k, _ in outs}
    assert {o for _, o in outs} <= {0.0, 1.0}


def _capture(path: Path, mids: np.ndarray, t0: int, step: int, sym: str) -> None:
    with gzip.open(path, "wt") as fh:
        for i, m in enumerate(mids):
            bid, ask = f"{m - 0.01:.4f}", f"{m + 0.01:.4f}"
            d = {"u": i + 1, "s": sym.upper(), "b": bid, "B": "1.0", "a": ask, "A": "1.0"}
            fh.write(f"{t0 + i * step} {json.dumps({'stream': f'{sym}@bookTicker', 'data': d})}\n")


def test_cli_lead_lag_on_captures(tmp_path: Path) -> None:
    from mmkit.cli.main import build_app

    lead, fol = lead_lag_mids(3, 2500, 3, mid0=60000.0, sigma_step=2e-4)
    t0, step = 1_723_161_253_000_000_000, 50_000_000
    _capture(tmp_path / "lead.gz", lead, t0, step, "btcusdt")
    _capture(tmp_path / "fol.gz", fol, t0 + 1000, step, "btcusdt")
    args = ["signals", "lead-lag", str(tmp_path / "lead.gz"), str(tmp_path / "fol.gz")]
    args += ["--interval", "0.05", "--max-lag", "8", "--perms", "199"]
    res = CliRunner().invoke(build_app(args), args)
    assert res.exit_code == 0, res.output
    assert "lag 3 samples = 150 ms" in res.output and "(significant)" in res.output


def test_cli_refuses_too_few_permutations(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(["signals", "lead-lag", "a.gz", "b.gz", "--perms", "50"], capsys)
    assert code == 2 and "--perms 50:" in err and "at least 100" in err
