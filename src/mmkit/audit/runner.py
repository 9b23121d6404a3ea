"""Running invariants against components and classifying what happened.

For every selected invariant and every audited component of a kind it applies to, the runner
calls ``invariant.check(target, ctx)`` and records:

* **PASS** when the check returns;
* **CONCERN** when it raises :class:`~mmkit.audit.invariant.Concern`, or hypothesis reports a
  flaky test, a failed health check or an unsatisfiable search (a problem of the check, not
  a proven violation);
* **FAIL** on an assertion or any other exception, with hypothesis's shrunk falsifying example
  and the check's notes (its readable event sequence) as the counterexample;
* **SKIP** when the check raises :class:`~mmkit.audit.invariant.Skip`, or no audited
  component has a kind the invariant applies to.

Runs are deterministic: hypothesis is derandomised (``--seed 0``, the default) or forced to
the given seed, with no example database, so CI results are reproducible.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import time
import traceback
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from mmkit.audit.invariant import AuditContext, AuditTarget, Concern, Invariant, Skip
from mmkit.audit.results import (
    AuditReport,
    ComponentInfo,
    InvariantInfo,
    PluginInfoLite,
    Result,
    Status,
)
from mmkit.errors import ConfigError, PluginError

AUDITED_KINDS: tuple[str, ...] = ("estimator", "gate", "quoter", "executor")
#: also audited when some selected invariant applies to them (building a live venue may need
#: credentials, so they are not built otherwise)
ON_DEMAND_KINDS: tuple[str, ...] = ("venue", "feed")
DEFAULT_EXAMPLES = 100


@dataclass
class AuditOptions:
    examples: int = DEFAULT_EXAMPLES
    seed: int = 0
    strict: bool = False
    only: Sequence[str] = ()
    all_components: bool = False
    date: str = ""
    config: str = ""
    timings: bool = False
    #: audit what loaded even though some plugin failed; each failure becomes a CONCERN
    allow_broken_plugins: bool = False


class RunContext(AuditContext):
    """The context handed to checks: ``seed`` 0 derandomises, any other seed forces it.

    The explain phase is left out: it adds source paths to failure notes, which would make
    reports differ from machine to machine.
    """

    def settings(self, **overrides: Any) -> Any:
        from hypothesis import Phase

        kw: dict[str, Any] = {
            "phases": [Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink]
        }
        if self.seed:
            kw["derandomize"] = False
        kw.update(overrides)
        return super().settings(**kw)


class _Reproducible:
    """Make a check's hypothesis run depend on nothing but the check and the seed.

    * a non-zero seed is forced (what pytest's ``--hypothesis-seed`` does);
    * hypothesis mixes constants mined from every *loaded* local module into what it draws,
      so the same derandomised test finds different examples depending on which modules
      happen to be imported (a CLI run, a test session, a notebook). The audit switches that
      pool off while a check runs, so ``mmkit audit`` gives the same result everywhere.

    Both use hypothesis internals; if they move, the audit still runs, just without them.
    """

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.saved: Any = None
        self.saved_constants: Any = None

    def __enter__(self) -> None:
        import hypothesis.core as hc

        self.saved = hc.global_force_seed
        if self.seed:
            hc.global_force_seed = self.seed  # type: ignore[assignment]
        try:
            from hypothesis.internal.conjecture import providers as pv

            self.saved_constants = pv._get_local_constants
            pv._get_local_constants = getattr(pv, "Constants")  # noqa: B009 - an empty pool
            pv.CONSTANTS_CACHE.cache.clear()
        except (ImportError, AttributeError):  # pragma: no cover - other hypothesis versions
            self.saved_constants = None

    def __exit__(self, *exc: object) -> None:
        import hypothesis.core as hc

        hc.global_force_seed = self.saved
        if self.saved_constants is not None:
            from hypothesis.internal.conjecture import providers as pv

            pv._get_local_constants = self.saved_constants
            pv.CONSTANTS_CACHE.cache.clear()


@contextmanager
def _quiet() -> Iterator[None]:
    """Components' log lines and warnings are noise while thousands of examples run (and
    must not turn into errors under a test runner's warning filters)."""
    previous = logging.root.manager.disable
    logging.disable(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.disable(previous)


# -- planning -----------------------------------------------------------------------------


def component_info(spec: Any) -> ComponentInfo:
    return ComponentInfo(
        spec.kind, spec.name, spec.plugin, spec.distribution, spec.version, spec.description
    )


def audit_targets(
    host: Any, settings: Any, all_components: bool = False, kinds: Sequence[str] = AUDITED_KINDS
) -> list[AuditTarget]:
    """One target per configured component of ``kinds`` (per registered one with
    ``all_components``)."""
    reg = host.registry
    if all_components:
        names = [(k, n) for k in kinds for n in reg.names(k)]
    else:
        c = settings.components
        selected = [*settings.selected(), ("venue", c.venue), ("feed", c.feed)]
        names = [(k, n) for k, n in selected if k in kinds]
    out = []
    for kind, name in names:
        spec = reg.get(kind, name, where=f"components ({kind})")
        out.append(
            AuditTarget(
                spec=spec,
                params=settings.component_params(kind, name),
                instrument=settings.instrument,
                risk=settings.risk,
                seed=settings.engine.seed,
            )
        )
    return out


def select_invariants(invariants: Sequence[Any], only: Sequence[str]) -> list[Any]:
    """Invariants whose id matches one of ``only`` (exact, glob or dotted prefix)."""
    if not only:
        return list(invariants)
    patterns = [p.strip() for item in only for p in item.split(",") if p.strip()]
    chosen = [
        inv
        for inv in invariants
        if any(fnmatch.fnmatchcase(inv.id, p) or inv.id.startswith(p + ".") for p in patterns)
    ]
    unknown = [
        p
        for p in patterns
        if not any(
            fnmatch.fnmatchcase(inv.id, p) or inv.id.startswith(p + ".") for inv in invariants
        )
    ]
    if unknown:
        ids = ", ".join(sorted(inv.id for inv in invariants)) or "(none registered)"
        raise ConfigError([f"--only {p!r}: no such invariant; registered: {ids}" for p in unknown])
    return chosen


def verify_targets(targets: Sequence[AuditTarget]) -> None:
    """Build each target once: a component that cannot be built is a plugin error (exit 2)."""
    for t in targets:
        t.build()


# -- running ------------------------------------------------------------------------------


def _where(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return ""
    f = frames[-1]
    return f"{os.path.basename(f.filename)}:{f.lineno} in {f.name}"


def _message(exc: BaseException) -> str:
    text = str(exc).strip()
    if isinstance(exc, AssertionError):
        return text or f"assertion failed ({_where(exc)})"
    first = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    where = _where(exc)
    return f"{first} (at {where})" if where else first


def _notes(exc: BaseException) -> str:
    return "\n".join(str(n) for n in getattr(exc, "__notes__", ()) or ()).strip()


def explain(exc: BaseException) -> tuple[str, str]:
    """(one-line message, counterexample text) of a failure, group or not."""
    if isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        parts = [explain(e) for e in exc.exceptions]
        msg = parts[0][0]
        if len(parts) > 1:
            msg += f" (and {len(parts) - 1} other distinct failure(s))"
        ce = "\n\n".join(f"[failure {i}] {m}\n{c}".rstrip() for i, (m, c) in enumerate(parts, 1))
        return msg, ce
    first, _, rest = _message(exc).partition("\n")
    return first, "\n".join(x for x in (rest.strip(), _notes(exc)) if x)


def run_check(inv: Any, target: AuditTarget | None, ctx: RunContext) -> Result:
    """Run one invariant against one target and classify the outcome."""
    from hypothesis.errors import FailedHealthCheck, Flaky, Unsatisfiable

    info = InvariantInfo.of(inv)
    comp = component_info(target.spec) if target is not None else None
    if target is None:
        return Result(
            info, None, Status.SKIP, "no audited component of kind " + " or ".join(info.kinds)
        )
    weight = getattr(inv, "weight", 1.0) or 1.0
    sub = RunContext(
        examples=max(1, round(ctx.examples * weight)), seed=ctx.seed, deadline_ms=ctx.deadline_ms
    )
    start = time.perf_counter()
    status, message, ce = Status.PASS, "", ""
    try:
        with _Reproducible(ctx.seed), _quiet():
            inv.check(target, sub)
    except Skip as exc:
        status, message = Status.SKIP, str(exc) or "not applicable"
    except Concern as exc:
        status, message, ce = Status.CONCERN, str(exc), _notes(exc)
    except (Flaky, FailedHealthCheck, Unsatisfiable) as exc:
        msg, ce = explain(exc)
        status, message = Status.CONCERN, f"hypothesis could not settle the check: {msg}"
    except PluginError as exc:
        status, message = Status.FAIL, f"component failed to build: {exc}"
    except Exception as exc:  # the audit's boundary: anything a checked component raises
        status = Status.FAIL
        message, ce = explain(exc)
    return Result(info, comp, status, message, ce, sub.examples, time.perf_counter() - start)


PLUGIN_LOAD = InvariantInfo(
    id="mmkit.plugins_load",
    title="Every installed plugin loads and registers cleanly",
    section="Plugins",
    severity="high",
    kinds=(),
    description="Reported only with --allow-broken-plugins (otherwise a plugin error exits 2).",
    plugin="mmkit",
)


def _plugin_error_result(err: PluginError) -> Result:
    comp = ComponentInfo("plugin", err.plugin, err.plugin, err.distribution)
    return Result(PLUGIN_LOAD, comp, Status.CONCERN, err.fault)


def plan(
    invariants: Sequence[Any], targets: Sequence[AuditTarget]
) -> list[tuple[Any, AuditTarget | None]]:
    """Every (invariant, target) pair to run, in invariant order; None where none applies."""
    pairs: list[tuple[Any, AuditTarget | None]] = []
    for inv in invariants:
        kinds = tuple(getattr(inv, "kinds", ()))
        matching = [t for t in targets if t.kind in kinds]
        if matching:
            pairs.extend((inv, t) for t in matching)
        else:
            pairs.append((inv, None))
    return pairs


def run_audit(
    host: Any,
    settings: Any,
    options: AuditOptions,
    *,
    on_start: Callable[[int], None] | None = None,
    on_result: Callable[[Result], None] | None = None,
    before: Callable[[Invariant, AuditTarget | None], None] | None = None,
) -> AuditReport:
    """Audit the configured (or all) components with every registered invariant."""
    from mmkit import __version__

    if options.allow_broken_plugins:
        _ = host.registry, host.invariants
    else:
        host.check(invariants=True)  # plugin errors: refuse to audit a broken plugin set (exit 2)
    invariants = select_invariants(host.invariants, options.only)
    wanted = {k for inv in invariants for k in getattr(inv, "kinds", ())}
    kinds = [*AUDITED_KINDS, *(k for k in ON_DEMAND_KINDS if k in wanted)]
    targets = audit_targets(host, settings, options.all_components, kinds)
    verify_targets(targets)
    pairs = plan(invariants, targets)
    ctx = RunContext(examples=options.examples, seed=options.seed)
    if on_start is not None:
        on_start(len(pairs))
    results: list[Result] = [_plugin_error_result(e) for e in host.errors]
    for inv, target in pairs:
        if before is not None:
            before(inv, target)
        res = run_check(inv, target, ctx)
        results.append(res)
        if on_result is not None:
            on_result(res)
    used_plugins = {t.spec.plugin for t in targets} | {getattr(i, "plugin", "") for i in invariants}
    plugins = [
        PluginInfoLite(p.name, p.distribution, p.version, p.source)
        for p in host.info.values()
        if p.name in used_plugins
    ]
    return AuditReport(
        results=results,
        components=[component_info(t.spec) for t in targets],
        plugins=sorted(plugins, key=lambda p: p.name),
        examples=options.examples,
        seed=options.seed,
        strict=options.strict,
        date=options.date,
        config=options.config,
        version=__version__,
        all_components=options.all_components,
        timings=options.timings,
    )


def audit_component(
    host: Any,
    kind: str,
    name: str,
    *,
    params: dict[str, Any] | None = None,
    examples: int = 50,
    seed: int = 0,
    only: Sequence[str] = (),
    instrument: Any = None,
    risk: Any = None,
) -> list[Result]:
    """Audit one registered component outside any config file (the pytest fixture uses it).

    ``params`` is the component's parameter table (validated like ``[<kind>s.<name>]``);
    instrument and risk limits default to the config defaults.
    """
    from dataclasses import asdict

    from mmkit.config.schema import InstrumentSection, RiskSection
    from mmkit.core.types import Instrument
    from mmkit.params import build_params
    from mmkit.registry import SECTION_OF_KIND, RiskLimits

    host.check()
    spec = host.registry.get(kind, name)
    p, problems = build_params(spec.params, params or {}, f"{SECTION_OF_KIND[kind]}.{name}")
    if problems:
        raise ConfigError(problems)
    target = AuditTarget(
        spec=spec,
        params=p,
        instrument=instrument or Instrument(**asdict(InstrumentSection())),
        risk=risk or RiskLimits(**asdict(RiskSection())),
    )
    verify_targets([target])
    ctx = RunContext(examples=examples, seed=seed)
    invariants = [
        i
        for i in select_invariants(host.invariants, only)
        if kind in tuple(getattr(i, "kinds", ()))
    ]
    return [run_check(inv, target, ctx) for inv in invariants]
