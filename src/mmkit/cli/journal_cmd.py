"""``mmkit journal show | export | plot | compare``: read run journals.

Every command checks the file first (:func:`mmkit.runtime.journal_read.check_journal`): a
missing file, a directory, an empty or non-SQLite file, or a journal from another mmkit
version is one error line naming the file (exit status 2), never a traceback.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from mmkit.cli.common import print_table
from mmkit.errors import MmkitError

if TYPE_CHECKING:
    from mmkit.reports.journal_report import RunReport
    from mmkit.runtime.gate_timeline import GateEpisode, GateTimeline
    from mmkit.runtime.journal import JournalSummary
    from mmkit.runtime.journal_read import FillArrays, RunData

#: fills listed by ``journal show`` unless ``--fills`` says otherwise
DEFAULT_FILLS = 10


def timeline_headline(tl: GateTimeline) -> list[str]:
    """Kill-switch trips (when, why) or that there was none, then the time halted."""
    lines = [
        f"KILL SWITCH TRIPPED at {e.closed_s:,.1f} s"
        + (f" ({e.closed_utc} UTC)" if e.closed_utc else "")
        + f": {_reason(e)}"
        for e in tl.kill_trips
    ] or ["kill switch: not tripped"]
    pct = f" ({100.0 * tl.halted_s / tl.run_s:.0f}%)" if tl.run_s > 0 else ""
    lines.append(f"halted {tl.halted_s:,.1f} s of {tl.run_s:,.1f} s{pct}")
    return lines


def _reason(e: GateEpisode) -> str:
    return f"{e.reason} {e.detail}" if e.detail else e.reason


def _episode_row(e: GateEpisode) -> tuple[str, ...]:
    if e.ended_by == "reopened":
        end = f"{e.end_s:,.3f}"
    elif e.ended_by == "reason changed":
        end = f"{e.end_s:,.3f} (reason changed)"
    else:
        end = "still closed at end"
    gate = f"{e.gate} (KILL SWITCH)" if e.kill_switch else e.gate
    return (
        gate,
        _reason(e),
        e.closed_utc or "-",
        f"{e.closed_s:,.3f}",
        end,
        f"{e.duration_s:,.3f}",
    )


def parse_fills(text: str) -> int | None:
    """``--fills``: a count of the most recent fills to list (0: none) or ``all`` (None)."""
    t = text.strip().lower()
    if t == "all":
        return None
    try:
        n = int(t, 10)
    except ValueError:
        raise MmkitError(f"--fills: expected a number of fills or 'all', got {text!r}") from None
    if n < 0:
        raise MmkitError(f"--fills: must be 0 or more (or 'all'), got {n}")
    return n


def _window(window_s: float) -> float:
    if not (math.isfinite(window_s) and window_s > 0):
        raise MmkitError(f"--window: must be a positive number of seconds, got {window_s}")
    return window_s


def _pct(frac: float) -> str:
    return "n/a" if not math.isfinite(frac) else f"{100.0 * frac:.1f}%"


def time_rows(r: RunReport) -> list[tuple[str, str]]:
    """Where the run's time went (s and %), as :func:`mmkit.reports.run.account_run` counts
    it (warmup and the end-of-run shutdown are not halts)."""
    a = r.account
    ended = {"ready": "ended: ready", "timeout": "ended: timeout", "never": "never ended",
             "none": "no warmup estimator"}  # fmt: skip
    post_halted = a.post_warmup_halted_s / a.post_warmup_s if a.post_warmup_s > 0 else math.nan
    whole = r.timeline
    pct = f" ({100.0 * whole.halted_s / whole.run_s:.0f}%)" if whole.run_s > 0 else ""
    return [
        ("run length (first event to end-of-run shutdown)", f"{a.run_s:,.1f} s"),
        ("warmup", f"{a.warmup_s:,.1f} s ({ended.get(a.warmup_ended_by, a.warmup_ended_by)})"),
        ("after warmup", f"{a.post_warmup_s:,.1f} s"),
        ("quoting both sides (after warmup)", f"{a.quoting_s:,.1f} s ({_pct(a.quoting_frac)})"),
        ("halted after warmup", f"{a.post_warmup_halted_s:,.1f} s ({_pct(post_halted)})"),
        ("gates closed in halt mode (whole journal, warmup and shutdown included)",
         f"halted {whole.halted_s:,.1f} s of {whole.run_s:,.1f} s{pct}"),
        ("kill-switch trips", str(len(a.kill_switch_trips))),
        ("stopped by", r.stopped_by or "-"),
    ]  # fmt: skip


def pnl_rows(r: RunReport, adjusted: float | None, divergences: int) -> list[tuple[str, str]]:
    """The run's money at its end (USD) and position (base units)."""
    from mmkit.reports.journal_report import size, usd

    mark = f"{r.mark:,.6f}" if math.isfinite(r.mark) else "n/a"
    rows = [
        ("equity at end (realized + unrealized - fees)", usd(r.equity_usd)),
        ("realized PnL", usd(r.realized_usd)),
        ("unrealized PnL (at the last mid)", usd(r.unrealized_usd)),
        ("fees, net (paid - rebates)", usd(r.fees_usd)),
        ("mark (the mid at the last snapshot)", mark),
        (f"final position ({r.coin or 'base units'})", size(r.final_position)),
        ("reconciliation adjustments adopted", str(divergences)),
    ]
    if adjusted is not None:
        rows.append(("adjusted position (venue - fills)", size(adjusted)))
    return rows


def fill_list_rows(run: RunData, limit: int | None) -> list[tuple[str, ...]]:
    """The last ``limit`` fills (all when None), oldest first, with the mid at the fill and the
    edge over it in bp (positive: bought below / sold above the mid)."""
    import numpy as np

    from mmkit.reports.journal_report import usd
    from mmkit.runtime.gate_timeline import utc_text

    f: FillArrays = run.fills
    n = len(f)
    lo = 0 if limit is None else max(0, n - limit)
    k = np.searchsorted(run.snap_ts_ns, f.ts_ns, side="right") - 1
    rows: list[tuple[str, ...]] = []
    for i in range(lo, n):
        ts = int(f.ts_ns[i])
        mid = float(run.mid[k[i]]) if k[i] >= 0 else math.nan
        side = int(f.side[i])
        edge = side * (mid - float(f.px[i])) / mid * 1e4 if math.isfinite(mid) else math.nan
        rows.append(
            (
                str(i + 1),
                f"{(ts - run.start_ns) / 1e9:,.3f}",
                utc_text(ts) or "-",
                "buy" if side > 0 else "sell",
                f"{float(f.px[i]):,.10g}",
                f"{float(f.sz[i]):.6g}",
                f"{float(f.px[i] * f.sz[i]):,.2f}",
                usd(float(f.fee[i])),
                "taker" if bool(f.crossed[i]) else "maker",
                "n/a" if not math.isfinite(mid) else f"{mid:,.10g}",
                "n/a" if not math.isfinite(edge) else f"{edge:+.2f}",
            )
        )
    return rows


def closure_totals(tl: GateTimeline) -> list[tuple[str, str, str, str]]:
    """Per gate and reason: closures, total and longest time closed (s), longest first."""
    acc: dict[tuple[str, str], list[float]] = {}
    for e in tl.episodes:
        acc.setdefault((e.gate, e.reason), []).append(e.duration_s)
    out = sorted(acc.items(), key=lambda kv: -sum(kv[1]))
    return [(g, r, str(len(d)), f"{sum(d):,.3f} (longest {max(d):,.3f})") for (g, r), d in out]


def register(cli: typer.Typer) -> None:
    app = typer.Typer(help="Read run journals.", no_args_is_help=True)
    cli.add_typer(app, name="journal")

    @app.command("show")
    def show(
        run: Path = typer.Argument(..., help="A journal file (runs/*.sqlite)."),
        as_json: bool = typer.Option(False, "--json", help="Machine-readable, full precision."),
        fills: str = typer.Option(
            str(DEFAULT_FILLS), "--fills", help="List the last N fills, or 'all' (0: none)."
        ),
        window: float = typer.Option(
            60.0, "--window", help="Sharpe / Sortino sampling window (s)."
        ),
    ) -> None:
        """Summarise one run. The first line says what happened (kill-switch trip, mostly
        halted, never quoted, or OK); then where the time went, PnL, the standard
        statistics (Sharpe with its window), fills per side, spread captured, markouts,
        fees, rejections by reason, every gate closure (when, why, how long), the last fills,
        faults."""
        from mmkit.reports.journal_report import build_report, read_warmup
        from mmkit.runtime.journal import summarize
        from mmkit.runtime.journal_read import check_journal, load_run

        limit = parse_fills(fills)
        check_journal(run)
        s = summarize(run)
        data = load_run(run)
        try:
            r = build_report(data, warmup=read_warmup(run), window_s=_window(window))
        except ValueError as exc:
            raise MmkitError(f"{run}: not a readable mmkit journal ({exc})") from None
        if as_json:
            d = asdict(s)
            d["path"] = str(s.path)
            d["meta"].pop("config", None)
            d["report"] = r.to_json()
            if limit != 0:
                lo = 0 if limit is None else max(0, len(data.fills) - limit)
                f = data.fills
                d["fill_list"] = [
                    {"ts_ns": int(f.ts_ns[i]), "t_s": (int(f.ts_ns[i]) - data.start_ns) / 1e9,
                     "side": int(f.side[i]), "px_usd": float(f.px[i]), "sz": float(f.sz[i]),
                     "fee_usd": float(f.fee[i]), "oid": int(f.oid[i]),
                     "crossed": bool(f.crossed[i])}
                    for i in range(lo, len(f))
                ]  # fmt: skip
            typer.echo(json.dumps(d, indent=2, default=str))
            return
        _print_show(r, s, data, limit)

    @app.command("export")
    def export_cmd(
        run: Path | None = typer.Argument(None, help="A journal file (runs/*.sqlite)."),
        out: Path | None = typer.Option(
            None, "--out", help="Output directory (created if its parent exists)."
        ),
        fmt: str = typer.Option("csv", "--format", help="csv or parquet."),
        table: str = typer.Option(
            "all",
            "--table",
            help="Comma-separated: fills, orders, gate_events, gate_closures, estimates, "
            "positions (aliases: gates, equity, all).",
        ),
        force: bool = typer.Option(False, "--force", help="Replace existing files."),
        schema: bool = typer.Option(
            False, "--schema", help="Print every table's columns with units and exit."
        ),
    ) -> None:
        """Write a journal's tables as CSV or Parquet, one file per table (units in the
        column names; --schema describes them)."""
        from mmkit.runtime.journal_export import export, parse_tables, schema_text

        if schema:
            typer.echo(schema_text(), nl=False)
            return
        if run is None:
            raise MmkitError("journal export: give the journal file (runs/*.sqlite)")
        if out is None:
            raise MmkitError("--out: give the directory to write the tables into")
        fmt_ = fmt.strip().lower()
        for p in export(run, out, fmt=fmt_, tables=parse_tables(table), force=force):
            typer.echo(str(p))

    @app.command("plot")
    def plot_cmd(
        run: Path = typer.Argument(..., help="A journal file (runs/*.sqlite)."),
        out: Path = typer.Option(..., "--out", help="The PNG to write."),
    ) -> None:
        """Plot a run: mid with our quotes and fills, equity, position; gate closures and
        kill-switch trips shaded (needs the plots extra: pip install 'mmkit[plots]')."""
        from mmkit.extras import pyplot
        from mmkit.output_paths import check_output_file
        from mmkit.reports.journal_report import build_report, read_warmup
        from mmkit.runtime.journal_plot import plot_series, render
        from mmkit.runtime.journal_read import load_run

        check_output_file(out, "--out")
        pyplot(
            "mmkit journal plot"
        )  # a missing matplotlib is a clear error before the journal is read
        try:
            from matplotlib.backend_bases import FigureCanvasBase

            kinds = FigureCanvasBase.get_supported_filetypes()
        except ImportError:  # pyplot() let it through: a stand-in (tests); png only
            kinds = {"png": "Portable Network Graphics"}
        suffix = out.suffix.lower().lstrip(".")
        if not suffix:  # matplotlib would add .png: say the file it writes
            out = out.with_suffix(".png")
        elif suffix not in kinds:
            raise MmkitError(
                f"--out {out}: matplotlib cannot write .{suffix} files; use one of "
                + ", ".join(f".{k}" for k in sorted(kinds))
                + " (e.g. run.png)"
            )
        data = load_run(run)
        try:
            headline = build_report(data, warmup=read_warmup(run)).headline
        except ValueError as exc:
            raise MmkitError(f"{run}: not a readable mmkit journal ({exc})") from None
        series = plot_series(data, headline=headline)
        try:
            render(series, out)
        except OSError as exc:
            raise MmkitError(f"--out {out}: cannot write ({exc.strerror or exc})") from None
        typer.echo(str(out))

    @app.command("compare")
    def compare_cmd(
        runs: list[Path] = typer.Argument(..., help="Two or more journal files."),
        as_json: bool = typer.Option(False, "--json", help="Machine-readable, full precision."),
        window: float = typer.Option(
            60.0, "--window", help="Sharpe / Sortino sampling window (s), the same for all."
        ),
    ) -> None:
        """The runs' headline figures and statistics side by side, with each run's
        difference from the first."""
        from mmkit.reports.journal_compare import compare, to_json
        from mmkit.reports.journal_report import report_of

        if len(runs) < 2:
            raise MmkitError("journal compare: give at least two journals")
        w = _window(window)
        reports = [report_of(p, window_s=w) for p in runs]
        rows = compare(reports)
        if as_json:
            typer.echo(json.dumps(to_json(reports, rows), indent=2))
            return
        for i, r in enumerate(reports, 1):
            typer.echo(f"run {i}: {r.path}")
            typer.echo(f"  {r.headline}")
        typer.echo("")
        heads = ["figure"] + [f"run {i}" for i in range(1, len(reports) + 1)]
        heads += [f"run {i} - run 1" for i in range(2, len(reports) + 1)]
        print_table(heads, [(row.label, *row.text, *row.diff_text) for row in rows])
        caveats = [(i, r.equity.caveat) for i, r in enumerate(reports, 1) if r.equity.caveat]
        if caveats:
            typer.echo("")
            for i, c in caveats:
                typer.echo(f"run {i} statistics: {c}")


def input_problems(meta: dict[str, str]) -> list[str]:
    """The ``input_problems`` a paper run over replayed data journaled (a JSON list of
    lines); none for another run, or for a value that is not such a list (said as such)."""
    import json

    raw = meta.get("input_problems")
    if raw is None:
        return []
    try:
        got = json.loads(raw)
    except ValueError:
        got = None
    if isinstance(got, list) and all(isinstance(x, str) for x in got):
        return got
    return [f"(the journal's input_problems is not a list of lines: {raw[:80]!r})"]


def _print_show(r: RunReport, s: JournalSummary, data: RunData, limit: int | None) -> None:
    """The human-readable ``journal show``."""
    from mmkit.reports.stats import to_rows
    from mmkit.runtime.gate_timeline import utc_text

    tl = r.timeline
    typer.echo(r.headline)
    said = s.fault_headline()
    if said is not None:
        typer.echo(said)
    for line in input_problems(s.meta):  # what the replayed data itself had wrong
        typer.echo(f"input data problems: {line}")
    for line in timeline_headline(tl)[:-1]:  # each trip: when (UTC too) and why, in full
        if line.startswith("KILL SWITCH"):
            typer.echo(line)
    typer.echo("")
    title = f"journal {s.path}"
    ident: list[tuple[str, str]] = [
        (k, s.meta[k])
        for k in ("mode", "coin", "mmkit_version", "seed", "schema_version")
        if k in s.meta
    ]
    print_table(["run", ""], ident + time_rows(r), title=title)
    typer.echo("")
    print_table(["PnL", ""], pnl_rows(r, s.adjusted_position, s.divergences))
    typer.echo("")
    es = r.equity
    spacing = _spacing_s(data)
    print_table(
        ["statistics", ""],
        to_rows(es),
        title=(
            f"statistics: equity sampled every {spacing}, cut into {es.window_s:g} s windows"
            " (Sharpe and Sortino per window, not annualised; 'daily' scales by"
            f" sqrt(86400 / {es.window_s:g}))"
        ),
    )
    typer.echo("")
    print_table(
        ["fills", ""],
        to_rows(r.fills),
        title="fills (markouts: side x (mid after h - fill price); mids from the 1 s snapshots)",
    )
    typer.echo("")
    rej = sorted(r.rejections_by_reason.items(), key=lambda kv: (-kv[1], kv[0]))
    rej_rows = [(k, f"{n:,}") for k, n in rej] or [("(none)", "0")]
    if r.not_sent:
        rej_rows.append(("not sent (a halt gate closed first; not a rejection)", f"{r.not_sent:,}"))
    print_table(
        ["reason", "count"],
        rej_rows,
        title=f"rejections: {r.rejections:,} of {r.orders_sent:,} orders sent, by reason",
    )
    if tl.episodes:
        typer.echo("")
        print_table(
            ["gate", "reason", "closed (UTC)", "closed (s)", "reopened (s)", "duration (s)"],
            [_episode_row(e) for e in tl.episodes],
            title="gate closures (s: seconds since the run's first event)",
        )
        typer.echo("")
        print_table(
            ["gate", "reason", "closures", "time closed (s)"],
            closure_totals(tl),
            title="gate closures by gate and reason",
        )
    if limit != 0 and len(data.fills):
        typer.echo("")
        shown = len(data.fills) if limit is None else min(limit, len(data.fills))
        print_table(
            ["#", "t (s)", "UTC", "side", "price (USD)", "size", "notional (USD)", "fee",
             "liquidity", "mid (USD)", "edge (bp)"],
            fill_list_rows(data, limit),
            title=f"fills: the last {shown:,} of {len(data.fills):,} (--fills N or --fills all)",
        )  # fmt: skip
    typer.echo("")
    print_table(["table", "rows"], sorted(s.counts.items()), title="journal rows")
    if s.link_events:
        typer.echo("")
        print_table(
            ["at (UTC)", "venue link"],
            [(utc_text(ts), m) for ts, m in s.link_events],
            title="venue link transitions (live)",
        )
    if s.faults:
        typer.echo("")
        print_table(["component", "fault"], s.faults)


def _spacing_s(data: RunData) -> str:
    """The median time between equity samples, as text ("1 s")."""
    import numpy as np

    if data.snap_ts_ns.size < 2:
        return "(fewer than 2 samples)"
    return f"{float(np.median(np.diff(data.snap_ts_ns))) / 1e9:g} s"
