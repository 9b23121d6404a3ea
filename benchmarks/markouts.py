"""Markouts of the default engine: the USD-M BTC capture next to the synthetic market.

    python benchmarks/markouts.py [--duration 3600] [--seeds 0 1 2]
                                  [--set informed_frac=0.5 ...]

Both are measured with the same command, ``mmkit --no-entrypoints backtest <data> --json``
(plus ``--set estimators.warmup.max_warmup_secs=30`` so the 345 s capture is not spent in
warmup), and the figures printed are the report's ``markouts_bp`` (size-weighted
``side * (mid(t + h) - fill_px) / fill_px`` in bp, h = 1 / 5 / 30 s), the fill count and the
mid's realised volatility (bp per sqrt(s), from the report's mid path sampled every second).
The synthetic store is written by :func:`mmkit.data.synthetic.generate_chunks` with the
default :class:`~mmkit.data.params.SyntheticParams` (or the ``--set`` overrides, used to
calibrate the defaults; a list field takes comma-separated values, e.g.
``--set sigma_regimes=2e-5,5e-5``). The capture row needs ``<repo>/../shared/data`` and is
skipped without it. Figures only: nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
USDM = REPO.parent / "shared" / "data" / "binance-usdm" / "btcusdt_20240808.gz"
MMKIT = [sys.executable, "-m", "mmkit", "--no-entrypoints"]
HORIZONS = ("1s", "5s", "30s")


def backtest(data: Path, *extra: str) -> dict[str, Any]:
    """The JSON report of ``mmkit backtest data --json`` (default config)."""
    cmd = [*MMKIT, "backtest", str(data), "--json", *extra]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=data.parent)
    report: dict[str, Any] = json.loads(out.stdout)
    return report


def write_synthetic(path: Path, seed: int, duration_s: float, overrides: dict[str, str]) -> None:
    """Write the synthetic market (default params + ``overrides``) to the store ``path``."""
    from mmkit.data.params import SyntheticParams
    from mmkit.data.store import write_store
    from mmkit.data.synthetic import generate_chunks, resolve, store_meta

    types = {f.name: f.type for f in fields(SyntheticParams)}
    kw: dict[str, Any] = {}
    for name, text in overrides.items():
        if name not in types:
            raise SystemExit(f"--set {name}: SyntheticParams has no such field")
        try:
            if str(types[name]).startswith("list"):  # e.g. sigma_regimes=3e-5,8e-5
                kw[name] = [float(v) for v in text.split(",")]
            else:
                kw[name] = int(text) if types[name] in ("int", int) else float(text)
        except ValueError:
            raise SystemExit(f"--set {name}={text}: not a number ({types[name]})") from None
    p = resolve(replace(SyntheticParams(seed=seed, duration_s=duration_s), **kw))
    write_store(path, generate_chunks(p), store_meta(p))


def realised_vol_bp(store: Path) -> float:
    """Std of 1 s log-returns of the store's trade reference mids (or BBO mids), bp/sqrt(s)."""
    import numpy as np

    from mmkit.data.schema import FLAG_END, RecordKind
    from mmkit.data.store import read_all

    c = read_all(store)
    bbo = np.flatnonzero((c["kind"] == RecordKind.BBO) & ((c["flags"] & FLAG_END) != 0))
    if bbo.size < 2:
        return math.nan
    ts = c["ts"][bbo]
    mid = 0.5 * (c["px"][bbo] + c["px"][bbo - 1])
    grid = np.arange(ts[0], ts[-1], 1_000_000_000)
    k = np.searchsorted(ts, grid, side="right") - 1
    r = np.diff(np.log(mid[k]))
    return float(np.std(r) * 1e4)


def _num(value: object) -> float:
    """``value`` as a float, NaN when the report has none (``None``)."""
    return float(value) if isinstance(value, int | float) else math.nan


def row(name: str, rep: dict[str, Any], vol: float) -> None:
    mk = rep["markouts_bp"]
    # a horizon without fills (e.g. a run shorter than warmup) has no markout: shown as nan
    cells = "  ".join(f"{_num(mk.get(h)):+7.2f}" for h in HORIZONS)
    print(f"{name:<34} {cells}   {rep['fills']:>6}   {rep['equity']:+9.2f}   {vol:6.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--duration", type=float, default=3600.0, help="synthetic seconds")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument(
        "--set", action="append", default=[], help="SyntheticParams NAME=VALUE (lists: V1,V2)"
    )
    ap.add_argument("--no-capture", action="store_true", help="skip the capture row")
    args = ap.parse_args()
    overrides = dict(s.split("=", 1) for s in args.set)
    print(f"{'data':<34} {'mk 1s':>7}  {'mk 5s':>7}  {'mk 30s':>7}   fills   equity $   vol")
    if args.no_capture:
        pass
    elif not USDM.is_file():
        print("USD-M BTC capture: skipped, ../shared/data not available")
    else:
        with tempfile.TemporaryDirectory() as tmp:
            from mmkit.data.loaders import convert

            store = Path(tmp) / "usdm.parquet"
            convert([USDM], store)
            rep = backtest(store, "--set", "estimators.warmup.max_warmup_secs=30")
            row("USD-M BTC capture (345 s)", rep, realised_vol_bp(store))
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            store = Path(tmp) / f"syn{seed}.parquet"
            write_synthetic(store, seed, args.duration, overrides)
            rep = backtest(store, "--set", "estimators.warmup.max_warmup_secs=30")
            row(f"synthetic seed {seed} ({args.duration:g} s)", rep, realised_vol_bp(store))


if __name__ == "__main__":
    main()
