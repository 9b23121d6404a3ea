"""``mmkit journal plot``: what the plot draws (``plot_series``) against the journal's rows
read here with sqlite3; the PNG renderer; a clear error without matplotlib."""

from __future__ import annotations

import importlib.util
import math
import sqlite3
import sys
from pathlib import Path

import numpy as np
import pytest
from tests.runtime.journal_builder import NS, T0, Spec, build, run_cli

from mmkit.runtime.journal_plot import plot_series, render
from mmkit.runtime.journal_read import load_run

HAS_MPL = importlib.util.find_spec("matplotlib") is not None

SPEC = Spec(
    run_s=120,
    fills=[(12.5, 1, 100.0, 0.5, 0.01), (20.2, -1, 100.3, 0.3, -0.002), (65.0, 1, 99.9, 0.2, 0.0)],
    gates=[
        ("warmup", "Warmup", 0, 10, "halt", False),
        ("data_quality", "Stale", 30, 33.5, "halt", False),
        ("inventory", "Skew", 40, 45, "reduce_only", False),
        ("kill_switch", "MaxDrawdown", 90, None, "halt", True),
    ],
    quotes=[
        (10.5, 1, 1, "open", 99.5),
        (10.5, 2, -1, "open", 100.5),
        (11.0, 3, 1, "open", 99.8),
        (15.0, 3, 1, "canceled", 99.8),
        (20.0, 2, -1, "canceled", 100.5),
    ],
)


@pytest.fixture
def journal(tmp_path: Path) -> Path:
    return build(tmp_path / "run.sqlite", SPEC)


def test_series_are_the_journal_rows(journal: Path) -> None:
    s = plot_series(load_run(journal))
    db = sqlite3.connect(journal)
    snaps = db.execute(
        "SELECT ts, realized + unrealized - fees, position, mid FROM positions "
        "WHERE source = 'local' ORDER BY ts"
    ).fetchall()
    fills = db.execute("SELECT ts, px, side FROM fills ORDER BY ts").fetchall()
    db.close()
    np.testing.assert_allclose(s.t_s, [(r[0] - T0) / NS for r in snaps])
    np.testing.assert_allclose(s.equity_usd, [r[1] for r in snaps], rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(s.position, [r[2] for r in snaps])
    np.testing.assert_array_equal(s.mid_usd, [r[3] for r in snaps])
    np.testing.assert_allclose(s.fill_t_s, [(r[0] - T0) / NS for r in fills])
    np.testing.assert_array_equal(s.fill_px_usd, [r[1] for r in fills])
    np.testing.assert_array_equal(s.fill_side, [r[2] for r in fills])
    assert s.run_s == 120.0


def test_shading_marks_each_closure_by_kind(journal: Path) -> None:
    s = plot_series(load_run(journal))
    got = [(sh.kind, sh.start_s, sh.end_s, sh.label) for sh in s.shades]
    assert got == [
        ("warmup", 0.0, 10.0, "warmup: Warmup"),
        ("halt", 30.0, 33.5, "data_quality: Stale"),
        ("reduce_only", 40.0, 45.0, "inventory: Skew"),
        ("kill", 90.0, 120.0, "kill_switch: MaxDrawdown"),
    ]


def test_quotes_around_the_mid(journal: Path) -> None:
    s = plot_series(load_run(journal))
    pts = {
        round(t, 3): (b, a)
        for t, b, a in zip(s.quote_t_s, s.best_bid_usd, s.best_ask_usd, strict=True)
    }
    assert pts[10.5] == (99.5, 100.5)  # both orders of the same instant
    assert pts[11.0] == (99.8, 100.5)  # a better bid
    assert pts[15.0] == (99.5, 100.5)  # it left: back to the first bid
    assert pts[20.0][0] == 99.5 and math.isnan(pts[20.0][1])  # no ask any more
    assert pts[120.0][0] == 99.5 and math.isnan(pts[120.0][1])  # held to the run's end
    assert sorted(pts) == [10.5, 11.0, 15.0, 20.0, 120.0]


def test_cli_draws_the_report_headline(
    journal: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """What the command hands the renderer: this journal's series, titled with its report's
    first line (the kill switch)."""
    import mmkit.extras
    import mmkit.runtime.journal_plot as jp

    drawn: list[jp.PlotSeries] = []

    def fake_render(series: jp.PlotSeries, out: Path) -> Path:
        drawn.append(series)
        return out

    monkeypatch.setattr(jp, "render", fake_render)
    monkeypatch.setattr(mmkit.extras, "pyplot", lambda what="--plots": None)
    code, _, err = run_cli(capsys, "plot", str(journal), "--out", str(tmp_path / "p.png"))
    assert code == 0, err
    (s,) = drawn
    assert s.headline.startswith("HALTED by kill switch at 90.0 s (MaxDrawdown)")
    assert [sh.kind for sh in s.shades][-1] == "kill"
    np.testing.assert_array_equal(s.fill_px_usd, [100.0, 100.3, 99.9])


@pytest.mark.skipif(not HAS_MPL, reason="matplotlib (the plots extra) is not installed")
def test_render_writes_a_png(journal: Path, tmp_path: Path) -> None:
    out = render(plot_series(load_run(journal)), tmp_path / "run.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.skipif(not HAS_MPL, reason="matplotlib (the plots extra) is not installed")
def test_cli_plot(journal: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "plot", str(journal), "--out", str(tmp_path / "p.png"))
    assert code == 0 and out.strip() == str(tmp_path / "p.png")
    assert (tmp_path / "p.png").stat().st_size > 0
    code, _, err = run_cli(capsys, "plot", str(journal), "--out", str(tmp_path / "no" / "p.png"))
    assert code == 2 and "does not exist" in err
    code, _, err = run_cli(capsys, "plot", str(journal), "--out", str(tmp_path))
    assert code == 2 and "is a directory" in err
    # a suffix matplotlib cannot write: said before the journal is read (was exit 70)
    code, _, err = run_cli(capsys, "plot", str(journal), "--out", str(tmp_path / "p.txt"))
    assert code == 2 and "cannot write .txt files" in err and ".png" in err
    assert not (tmp_path / "p.txt").exists()
    # no suffix: matplotlib writes a PNG, and the command says the file it wrote
    code, out, _ = run_cli(capsys, "plot", str(journal), "--out", str(tmp_path / "bare"))
    assert code == 0 and out.strip() == str(tmp_path / "bare.png")
    assert (tmp_path / "bare.png").read_bytes()[:4] == b"\x89PNG"


def test_cli_says_which_extra_is_missing(
    journal: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    code, _, err = run_cli(capsys, "plot", str(journal), "--out", str(tmp_path / "p.png"))
    assert code == 2, err
    assert "matplotlib" in err and "mmkit[plots]" in err and "Traceback" not in err
    assert not (tmp_path / "p.png").exists()


def test_without_matplotlib_the_error_names_the_command(
    journal: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """``mmkit journal plot`` has no ``--plots`` option: a missing matplotlib is said in
    the command's own name (it said "--plots needs matplotlib")."""
    import importlib

    real = importlib.import_module

    def no_mpl(name: str, package: str | None = None) -> object:
        if name.split(".")[0] == "matplotlib":
            raise ImportError(name)
        return real(name, package)

    monkeypatch.setattr(importlib, "import_module", no_mpl)
    code, _, err = run_cli(capsys, "plot", str(journal), "--out", str(tmp_path / "p.png"))
    assert code != 0 and "mmkit journal plot needs matplotlib" in err and "--plots" not in err
