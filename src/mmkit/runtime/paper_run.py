"""Assembling and running a paper session from settings (``mmkit trade`` without a live venue)."""

from __future__ import annotations

import contextlib
import json
import logging
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from mmkit import __version__
from mmkit.assembly import build_component, build_engine
from mmkit.components import Venue
from mmkit.config.loader import Settings
from mmkit.core.types import NS_PER_MS, NS_PER_S, Instrument
from mmkit.deferred_kernels import compile_deferred
from mmkit.errors import MmkitError
from mmkit.plugin_manager import PluginHost
from mmkit.registry import BuildContext, VenueSide
from mmkit.runtime.heap import frozen_heap
from mmkit.runtime.journal import Journal, discarded_on_failure, new_run_path
from mmkit.runtime.observer import RunObserver
from mmkit.runtime.paper import PaperResult, PaperRunner, StopFlag
from mmkit.runtime.session import Session

log = logging.getLogger("mmkit.run")


@dataclass
class RunOutcome:
    session: Session
    result: PaperResult
    journal_path: Path | None
    wall_s: float
    #: market rows the simulated exchange ignored: off its price grid (see
    #: :data:`mmkit.venues.sim.venue.OFF_GRID_WHY`)
    off_grid_rows: int = 0
    #: what was wrong in a replayed input itself (a feed with ``problems()``: the replay
    #: of a capture or store), one line per input
    input_problems: list[str] = field(default_factory=list)


class SignalGuard:
    """First SIGINT/SIGTERM: stop gracefully (kill switch, final sync, flush). Second: exit now."""

    def __init__(self, stop: StopFlag) -> None:
        self.stop = stop
        self._old: dict[int, Any] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.stop.requested:
            sys.stderr.write("\nsecond signal: exiting immediately\n")
            raise SystemExit(130)
        self.stop.request(f"signal {signal.Signals(signum).name}")

    def __enter__(self) -> SignalGuard:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(ValueError):  # not the main thread (tests)
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


class _Progress:
    """Called after each market event: refreshes the dashboard and, about once a second of
    wall time, the metrics' gauges (estimates, PnL, executor figures)."""

    def __init__(self, session: Session, metrics: Any | None) -> None:
        self.session = session
        self.metrics = metrics
        self.dashboard: Any = None
        self._next = 0.0

    def publish(self) -> None:
        if self.metrics is not None:
            from mmkit.runtime.status import numeric_values, session_status

            self.metrics.set_values(numeric_values(session_status(self.session)))

    def __call__(self, now_ns: int) -> None:
        if self.dashboard is not None:
            self.dashboard.on_progress(now_ns)
        if self.metrics is not None:
            import time

            wall = time.monotonic()
            if wall >= self._next:
                self._next = wall + 1.0
                self.publish()


def config_dump(settings: Settings) -> str:
    import tomli_w

    return tomli_w.dumps(settings.to_toml_dict(redact=True))


def build_simulated_venue(
    settings: Settings,
    host: PluginHost,
    *,
    purpose: str,
    instrument: Instrument | None = None,
) -> Venue:
    """The configured venue's simulated side (``components.venue``, parameters from its
    ``[venues.<name>]`` table), checked against :class:`~mmkit.components.Venue`.

    ``purpose`` names the run in the error a live-only venue gets (``"backtests"``: "venue
    'hyperliquid' ... is live-only; backtests need a simulated venue"). ``instrument`` is
    the market being simulated when it differs from the configured one (a backtest passes
    the recorded data's tick)."""
    name = settings.components.venue
    spec = host.registry.venue(name, VenueSide.SIMULATED, purpose=purpose)
    ctx = BuildContext(
        kind="venue",
        name=name,
        params=settings.component_params("venue", name),
        instrument=instrument or settings.instrument,
        risk=settings.risk,
        seed=settings.engine.seed,
        config=settings.merged,
    )
    venue: Venue = spec.build(ctx)
    return venue


def run_paper(
    settings: Settings,
    host: PluginHost,
    *,
    journal_dir: Path | None,
    speed: float | None,
    duration_s: float,
    dashboard: bool,
    metrics_port: int = 0,
    stop: StopFlag | None = None,
    label: str = "paper",
) -> RunOutcome:
    import time

    # the port first: one that cannot be bound leaves no journal of a run that never ran
    metrics = None
    if metrics_port:
        from mmkit.runtime.metrics import Metrics

        metrics = Metrics()
        metrics.serve(metrics_port)
    journal = None
    if journal_dir is not None:
        journal = Journal(new_run_path(journal_dir, label))
        journal.set_meta("mmkit_version", __version__)
        journal.set_meta("mode", label)
        journal.set_meta("coin", settings.instrument.coin)
        journal.set_meta("seed", str(settings.engine.seed))
        journal.set_meta("config", config_dump(settings))
    from mmkit.runtime.precompile import warm_up_for_command

    # a set-up that fails from here (a configuration the engine refuses, a feed that cannot
    # be built) leaves no journal of a run that never ran
    with discarded_on_failure(journal):
        # a cold cache compiles for seconds (the simulated exchange's kernels only when it
        # is the venue, the twins unless they are off): said on stderr (JSON logs stay pure)
        warm_up_for_command("trade", settings, host, show=not settings.trade.log_json)
        observer = RunObserver(journal, host.observer_hooks(), metrics)
        engine = build_engine(settings, host, observer=observer)
        compile_deferred()  # now, not at the first quote (mmkit.deferred_kernels)
        venue = build_simulated_venue(settings, host, purpose="paper trading")
        feed = build_component(host.registry, settings, "feed", settings.components.feed)
        session = Session(engine, observer, journal)
        observer.run = session
        for name in settings.components.signal_feeds:
            sig = build_component(host.registry, settings, "feed", name)
            fill = getattr(sig, "fill_channel", None)
            if callable(fill):  # a replayed signal source: its whole history, by event time
                log.info("signal feed %s: %s events", name, fill())
    runner = PaperRunner(session, venue, timer_ns=settings.engine.timer_ms * NS_PER_MS, speed=speed)
    stop = stop or StopFlag()
    wall0 = time.monotonic()
    result: PaperResult | None = None
    progress = _Progress(session, metrics)
    try:
        with SignalGuard(stop), frozen_heap():  # start-up objects: out of the GC's passes
            if dashboard:
                from mmkit.runtime.dashboard import Dashboard

                title = f"mmkit paper · {settings.instrument.coin} · x{speed or 'max'}"
                with Dashboard(session, title) as dash:
                    progress.dashboard = dash
                    result = runner.run(
                        feed.events(),
                        duration_ns=int(duration_s * NS_PER_S),
                        stop=stop,
                        on_progress=progress,
                    )
            else:
                result = runner.run(
                    feed.events(),
                    duration_ns=int(duration_s * NS_PER_S),
                    stop=stop,
                    on_progress=progress if metrics is not None else None,
                )
        progress.publish()
    finally:
        session.close()
        problems = _input_problems(feed)  # read once: the summary's and the journal's
        if journal is not None:
            journal.set_meta("stopped_by", result.stopped_by if result else "error")
            if problems:  # for `journal show`, as the summary says it
                journal.set_meta("input_problems", json.dumps(problems))
            journal.close()
        if metrics is not None:
            metrics.close()
    assert result is not None
    return RunOutcome(
        session,
        result,
        journal.path if journal else None,
        time.monotonic() - wall0,
        int(getattr(venue, "off_grid_rows", 0)),
        problems,
    )


def _input_problems(feed: Any) -> list[str]:
    """The feed's ``problems()`` (a replay's), or none for a feed without that method. It
    runs while the run ends (the journal still open): a failure to read them is said as a
    line, never raised over the run's own outcome."""
    said = getattr(feed, "problems", None)
    if not callable(said):
        return []
    try:
        got = said()
    except (OSError, MmkitError) as exc:
        return [f"(the replayed data's problems could not be read: {exc})"]
    return [str(x) for x in got] if isinstance(got, list) else []
