"""``mmkit trade``: paper trading by default; live on Hyperliquid with ``--venue hyperliquid``.

Which runner runs is chosen by the configured venue's capabilities
(:meth:`mmkit.registry.ComponentRegistry.trading_venue`), never by its name: a venue with a
simulated side is paper-traded; a live-only venue, or any run asked to be live (``--url`` /
``venue.url``, ``--live``), goes to the live runner with a venue's live side.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from mmkit.cli.common import ConfigOption, SetOption, print_table, settings_from_cli
from mmkit.plugin_manager import get_host

if TYPE_CHECKING:
    from mmkit.faults import FaultLog
    from mmkit.reports.summary import SessionReport
    from mmkit.runtime.observer import HaltReport
    from mmkit.runtime.session import Session

#: exit status of ``mmkit trade`` when the kill switch tripped during the run
EXIT_KILL_SWITCH = 3
#: exit status of a run that ended normally but whose components faulted (a component
#: raised or returned what the engine refused; each fault halted a quoting cycle)
EXIT_FAULTED = 5


def exit_status(report: HaltReport, faults: FaultLog | None) -> int:
    """What ``mmkit trade`` exits with after its summary: :data:`EXIT_KILL_SWITCH` if the
    kill switch tripped (it says more), else :data:`EXIT_FAULTED` if any component faulted
    (rejected input does not count: refusing bad data is a component working), else 0."""
    if report.kill_trips:
        return EXIT_KILL_SWITCH
    if faults is not None and sum(faults.counts().values()) > 0:
        return EXIT_FAULTED
    return 0


def headline_lines(
    report: HaltReport,
    session_rep: SessionReport | None = None,
    faults: FaultLog | None = None,
    kill_switch: bool = True,
) -> list[str]:
    """The summary's first lines: with ``session_rep``, first what happened in one line
    (:mod:`mmkit.reports.run`'s headline: halted by the kill switch, never quoted, warmup
    only, mostly halted, or OK with the time quoting); then the components' faults, if any
    (``faults``: :meth:`~mmkit.faults.FaultLog.headline`); then whether the kill switch
    tripped (when, after the run's first event, and why; ``kill_switch`` False: no gate of
    the run declares the kill-switch role, which is said instead) and how much of the run
    was spent halted, per gate. With ``session_rep`` the halted time leaves out the warmup and the
    engine's end-of-run shutdown (both are how every run starts and ends, not halts)."""
    lines: list[str] = []
    if session_rep is not None:
        lines.append(session_rep.run.headline)
    said = faults.headline() if faults is not None else None
    if said is not None:
        lines.append(said)
    for trip in report.kill_trips:
        at = (trip.ts - report.start_ns) / 1e9 if report.start_ns >= 0 else math.nan
        lines.append(
            f"KILL SWITCH TRIPPED at {at:,.1f} s: {trip.description} "
            f"(gate {trip.gate}; exit status {EXIT_KILL_SWITCH})"
        )
    if not report.kill_trips:
        lines.append(
            "kill switch: not tripped"
            if kill_switch
            else "kill switch: none configured (no gate declares the kill-switch role)"
        )
    if session_rep is not None:
        acc = session_rep.run
        run_s, halted_s, closed = acc.run_s, acc.halted_s, acc.closed_by_gate()
        excl = " (warmup and end-of-run shutdown excluded)"
    else:
        run_s, halted_s, closed, excl = report.run_s, report.halted_s, report.closed_s, ""
    pct = f" ({100.0 * halted_s / run_s:.0f}%)" if run_s > 0 else ""
    per_gate = ", ".join(
        f"{g} {s:,.1f} s"
        for g, s in sorted(closed.items(), key=lambda kv: (-kv[1], kv[0]))
        if s > 0
    )
    lines.append(
        f"halted {halted_s:,.1f} s of {run_s:,.1f} s{pct}{excl}"
        + (f"; gates closed: {per_gate}" if per_gate else "")
    )
    return lines


def what_ran(session: Session) -> str:
    """Which components ran compiled and which ran Python (``[engine] twins``), for the
    summary: ``8 of 8 compiled twins``, with the Python ones named."""
    from mmkit.twins import summary

    return summary(session.engine.twin_choices).removeprefix("components: ")


def reconciliation_rows(status: dict[str, Any]) -> list[tuple[str, str]]:
    """Where the run's equity started and how the venue's position was reconciled.

    ``equity at start`` is the venue's unrealized PnL of the position held at start-up (it
    is adopted at the venue's entry price), so ``equity change`` is what the run made and
    compares with the change of the venue's account value. Adjustments are venue position
    differences no fill of ours explained, booked at the venue's entry price (not trading
    PnL); divergences ``seen`` but not ``adopted`` were fills in flight.
    """

    def n(x: Any, d: int) -> str:
        return f"{x:,.{d}f}" if isinstance(x, int | float) and math.isfinite(x) else "-"

    start = status.get("equity_start", math.nan)
    eq = status.get("equity", math.nan)
    change = eq - start if isinstance(start, float) and isinstance(eq, float) else math.nan
    pending = " (one pending)" if status.get("divergence_pending") else ""
    return [
        ("venue account value at start", n(status.get("account_value_start", math.nan), 6)),
        ("equity at start (venue unrealized)", n(start, 4)),
        ("equity change", n(change, 4)),
        (
            "reconciliation adjustments",
            f"{status.get('adjustment_count', 0)}: {n(status.get('adjusted_position', 0.0), 6)}"
            f" position, {n(status.get('adjustments_usd', 0.0), 4)} USD",
        ),
        (
            "position divergences seen / adopted",
            f"{status.get('divergences_seen', 0)} / {status.get('divergences_adopted', 0)}"
            + pending,
        ),
    ]


def summary_rows(
    status: dict[str, Any],
    extra: dict[str, Any],
    session_rep: SessionReport | None = None,
) -> list[tuple[str, str]]:
    """The summary table: ``extra`` first, then the session's figures; with
    ``session_rep`` (:func:`mmkit.reports.summary.session_report`) also what the engine
    did: time quoting, warmup, halts and the gate timeline, equity decomposition, fills per
    side, spread captured, markouts, fees and rebates, Sharpe / Sortino with their window,
    and rejections by reason."""

    def n(x: Any, d: int = 4) -> str:
        if isinstance(x, float):
            return f"{x:,.{d}f}" if math.isfinite(x) else "-"
        return str(x)

    rows = [(k, n(v) if not isinstance(v, str) else v) for k, v in extra.items()]
    rows += [
        ("fills", n(status["fills"])),
        ("volume (USD)", n(status["volume_usd"], 2)),
        ("final position", n(status["position"], 6)),
        ("realized PnL", n(status["realized"])),
        ("unrealized PnL (position at the mark)", n(status["unrealized"])),
        ("fees", n(status["fees"])),
        ("mark (the mid at the end of the run)", n(status["mid"], 6)),
        ("equity (realized + unrealized - fees)", n(status["equity"])),
        ("max drawdown", n(status["max_drawdown"])),
        *reconciliation_rows(status),
        ("kappa (confidence)", f"{n(status['kappa'], 1)} ({n(status['kappa_confidence'], 3)})"),
        ("sigma (confidence)", f"{status['sigma']:.3e} ({n(status['sigma_confidence'], 3)})"),
        ("warmed up", str(status["warmed_up"])),
        ("actions sent", n(status["actions"])),
        ("rejections", n(status["rejections"])),
        ("faults refused", n(status["faults"])),
        ("gates closed at end", ", ".join(status["closed_gates"]) or "none"),
    ]
    if session_rep is not None:
        from mmkit.reports.summary import report_rows

        rows += report_rows(session_rep)
    return rows


def instrument_of_data(path: Path) -> dict[str, Any]:
    """``instrument.tick`` / ``instrument.sz_decimals`` flags from a capture or event store
    (its first chunk is read to learn them); empty when the data does not say."""
    from mmkit.data.market_stream import open_records

    src = open_records(path)
    next(src.chunks, None)
    out: dict[str, Any] = {}
    tick = src.tick
    if math.isfinite(tick) and tick > 0:
        out["instrument.tick"] = tick
    lot = src.lot
    if math.isfinite(lot) and 0 < lot <= 1:
        out["instrument.sz_decimals"] = max(0, round(-math.log10(lot)))
    return out


def tick_message(data: Path, inferred: dict[str, Any]) -> str:
    """The line ``mmkit trade --data`` prints when it took the instrument from the data."""
    if "instrument.tick" not in inferred:
        return (
            f"note: {data.name} does not say its price tick; the configured tick is used "
            "(set instrument.tick to match the data)"
        )
    lot = inferred.get("instrument.sz_decimals")
    size = f" and size decimals {lot}" if lot is not None else ""
    return (
        f"instrument tick {inferred['instrument.tick']:g}{size} taken from the data "
        f"({data.name}), as `mmkit backtest` does; set instrument.tick to override"
    )


def check_speed(speed: float | None) -> None:
    """Refuse a ``--speed`` that is negative or not finite, saying what the flag accepts
    (0 is accepted here although ``trade.speed`` in a config must be > 0: on the command
    line it means "no clock, as fast as possible")."""
    if speed is None or (math.isfinite(speed) and speed >= 0):
        return
    from mmkit.errors import ConfigError

    raise ConfigError(
        [
            f"--speed {speed:g}: must be 0 (as fast as possible) or a positive speed-up "
            "over real time (e.g. 100: 100 simulated seconds per wall second)"
        ]
    )


def register(cli: typer.Typer) -> None:
    @cli.command("trade")
    def trade(
        config: Path | None = ConfigOption,
        sets: list[str] = SetOption,
        params: list[Path] = typer.Option(
            [],
            "--params",
            metavar="FILE",
            help="Calibrated parameters (TOML from `mmkit calibrate`), layered over the config.",
        ),
        venue: str | None = typer.Option(
            None,
            "--venue",
            help="sim (paper, default), hyperliquid (live) or any installed venue plugin.",
        ),
        go_live: bool = typer.Option(
            False, "--live", help="Use the venue's live side even if it also has a simulated one."
        ),
        network: str | None = typer.Option(None, "--network", help="testnet (default) or mainnet."),
        mainnet: bool = typer.Option(
            False, "--mainnet", help="Explicit opt-in to real money (also needs network=mainnet)."
        ),
        coin: str | None = typer.Option(None, "--coin", help="Instrument, e.g. BTC."),
        url: str | None = typer.Option(
            None, "--url", help="REST base URL (e.g. the loopback emulator)."
        ),
        data: Path | None = typer.Option(
            None,
            "--data",
            help="Paper-trade a recorded or converted capture (its price tick and size "
            "decimals become the instrument's unless instrument.tick is set, as in backtest).",
        ),
        speed: float | None = typer.Option(
            None,
            "--speed",
            help="Paper clock speed-up over real time, >= 0 (0 = as fast as possible).",
        ),
        duration: float | None = typer.Option(
            None,
            "--duration",
            help="Seconds to run: simulated in paper mode (default trade.duration_s), "
            "wall-clock in a live run (default: until stopped).",
        ),
        journal_dir: Path | None = typer.Option(
            None, "--journal-dir", help="Where run journals go."
        ),
        no_journal: bool = typer.Option(False, "--no-journal", help="Do not write a journal."),
        metrics_port: int | None = typer.Option(
            None, "--metrics-port", help="Serve Prometheus metrics on 127.0.0.1:PORT."
        ),
        log_json: bool = typer.Option(False, "--log-json", help="JSON log lines."),
        dashboard: bool | None = typer.Option(
            None, "--dashboard/--no-dashboard", help="Live terminal dashboard (default: on a TTY)."
        ),
    ) -> None:
        """Trade: paper on the built-in synthetic market by default (no config, no network).

        The summary's first lines say whether the kill switch tripped (when and why) and how
        long the run was halted. Exit status: 0 the run ended normally; 3 the kill switch
        tripped; 5 components faulted (a COMPONENT FAULTS line says so; the first line says
        FAULTED unless a worse verdict comes first); 2 bad configuration or input; 130
        interrupted twice; 70 internal error.
        """
        from mmkit.runtime.logs import setup_logging

        check_speed(speed)
        flags: dict[str, Any] = {
            "components.venue": venue,
            "venue.network": network,
            "instrument.coin": coin,
            "venue.url": url,
            "trade.speed": speed if speed else None,
            "trade.duration_s": duration,
            "trade.journal_dir": str(journal_dir) if journal_dir else None,
            "trade.metrics_port": metrics_port,
            "trade.log_json": log_json or None,
        }
        if data is not None:
            flags["components.feed"] = "replay"
            flags["feeds.replay.path"] = [str(data)]
        host = get_host()
        settings = settings_from_cli(config, sets, flags=flags, host=host, overlays=params)
        tick_note = ""
        if data is not None:
            data_inst = instrument_of_data(data)
            data_tick = data_inst.get("instrument.tick")
            if "instrument.tick" not in settings.sources:
                # nobody set the instrument: take the tick (and lot) the capture itself uses,
                # as `mmkit backtest` does
                flags.update(data_inst)
                settings = settings_from_cli(config, sets, flags=flags, host=host, overlays=params)
                tick_note = tick_message(data, data_inst)
            elif data_tick is not None and abs(settings.instrument.tick - data_tick) > 1e-12:
                tick_note = (
                    f"note: instrument.tick {settings.instrument.tick:g} (set in "
                    f"{settings.sources['instrument.tick']}) differs from the tick {data_tick:g} "
                    f"of {data.name}; the configured tick is used"
                )
            if tick_note:
                typer.echo(tick_note)
        from mmkit.registry import VenueSide

        # paper or live: by the venue's capabilities (a config error before anything starts)
        chosen, side = host.registry.trading_venue(
            settings.components.venue,
            live_asked=go_live or bool(settings.venue.url),
            # `--url` alone (even over a config naming a simulated venue) keeps meaning "the
            # installed live venue"; `--venue X` or `--live` insist on the configured venue
            chosen=venue is not None or go_live,
        )
        t = settings.trade
        show = sys.stderr.isatty() if dashboard is None else dashboard
        jdir = None if no_journal else Path(t.journal_dir)
        if jdir is not None:
            from mmkit.output_paths import check_output_dir, writing

            check_output_dir(jdir, "--journal-dir")  # trade.journal_dir: said before it starts
            with writing(jdir, "--journal-dir"):
                jdir.mkdir(parents=True, exist_ok=True)
        # every run appends its log (INFO and up, redacted) beside the journals; the console
        # gets warnings unless the dashboard owns the terminal
        setup_logging(
            json_lines=t.log_json,
            log_file=None if jdir is None else jdir / "mmkit.log",
            console_level=None if show else 30,
        )
        from mmkit.reports.summary import try_session_report
        from mmkit.runtime.status import session_status

        if side is VenueSide.LIVE:
            from mmkit.config.schema import TradeSection
            from mmkit.runtime.live_run import run_live_from_cli

            where = settings.sources.get("trade.duration_s")
            if (
                duration is None
                and where is not None
                and settings.trade.duration_s != TradeSection().duration_s
            ):
                # the key is the paper clock's: a live run stops on --duration or a signal
                # (its default, as `mmkit config init` writes it, is no sign of intent)
                typer.echo(
                    f"note: trade.duration_s (set in {where}) is the paper run's simulated "
                    "time; this live run goes on until stopped (Ctrl-C), or give --duration "
                    "SECONDS of wall time",
                    err=True,
                )

            live = run_live_from_cli(
                settings,
                host,
                mainnet_flag=mainnet,
                journal_dir=jdir,
                duration_s=duration,
                dashboard=show,
                metrics_port=t.metrics_port,
                venue_name=chosen.name,
            )
            live_rep = try_session_report(live.session)
            rows = summary_rows(
                session_status(live.session),
                {
                    "mode": f"live ({settings.venue.network}"
                    f"{', ' + settings.venue.url if settings.venue.url else ''})",
                    "instrument": settings.instrument.coin,
                    "wall time": f"{live.wall_s:,.1f} s",
                    "stopped by": live.stopped_by,
                    "components": what_ran(live.session),
                    **live.extras,
                },
                live_rep,
            )
            live_report = live.session.halt_report()
            eng = live.session.engine
            for line in headline_lines(
                live_report, live_rep, eng.fault_log, bool(eng.kill_switch_gates)
            ):
                typer.echo(line)
            print_table(["", ""], rows, title="mmkit trade: summary")
            if live.journal_path is not None:
                typer.echo(f"journal: {live.journal_path}")
            raise typer.Exit(exit_status(live_report, live.session.engine.fault_log))
        from mmkit.runtime.paper_run import run_paper

        eff_speed = 0.0 if speed == 0 else t.speed
        out = run_paper(
            settings,
            host,
            journal_dir=jdir,
            speed=eff_speed or None,
            duration_s=t.duration_s,
            dashboard=show,
            metrics_port=t.metrics_port,
        )
        status = session_status(out.session)
        paper_rep = try_session_report(out.session)
        sim_s = (out.result.end_ns - out.result.start_ns) / 1e9
        rows = summary_rows(
            status,
            {
                "mode": f"paper ({settings.components.venue} venue, "
                f"{settings.components.feed} feed)",
                "instrument": f"{settings.instrument.coin}, tick {settings.instrument.tick:g}"
                + (" (from the data)" if tick_note.startswith("instrument tick") else ""),
                "simulated time": f"{sim_s:,.1f} s",
                "wall time": f"{out.wall_s:,.1f} s",
                "stopped by": out.result.stopped_by,
                "components": what_ran(out.session),
                "market events": f"{out.session.stats.market_events:,}",
            },
            paper_rep,
        )
        report = out.session.halt_report()
        eng = out.session.engine
        for line in headline_lines(report, paper_rep, eng.fault_log, bool(eng.kill_switch_gates)):
            typer.echo(line)
        for p in out.input_problems:  # the run used what could be read of its data
            typer.echo(f"input data problems: {p}")
        if out.off_grid_rows:
            from mmkit.venues.sim.venue import OFF_GRID_SAID, OFF_GRID_WHY

            typer.echo(f"{out.off_grid_rows:,} {OFF_GRID_SAID} ({OFF_GRID_WHY})")
        print_table(["", ""], rows, title="mmkit trade: summary")
        if out.journal_path is not None:
            typer.echo(f"journal: {out.journal_path}")
            typer.echo(f"  (summarise it with: mmkit journal show {out.journal_path})")
        raise typer.Exit(exit_status(report, out.session.engine.fault_log))
