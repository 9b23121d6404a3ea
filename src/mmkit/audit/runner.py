"""Running invariants against components and classifying what happened.

For every selected invariant and every audited component of a kind it applies to, the runner
calls ``invariant.check(target, ctx)`` and records:

* **PASS** when the check returns;
* **CONCERN** when it raises :class:`~mmkit.audit.invariant.Concern`, or hypothesis reports a
  flaky test, a failed health check or an unsatisfiable search (a problem of the check, not
  a proven violation);
* **FAIL** on an assertion, with hypothesis's shrunk falsifying example and the check's notes
  (its readable event sequence) as the counterexample, and on any other exception, whose
  message names the component and the innermost frame of the component's own code;
* **UNAUDITED** when the check raises :class:`~mmkit.audit.invariant.Unaudited` (or its old
  name ``Skip``): the invariant applies but the component lacks a capability it needs;
  ``[audit.waivers]`` turns it into **WAIVED** with a reason, and a waiver matching no
  UNAUDITED result is itself a CONCERN;
* **NOT_APPLICABLE** when the check raises :class:`~mmkit.audit.invariant.NotApplicable`
  (out of scope by what the component was observed to do), or nothing of the invariant's
  kind is configured.

The examples column is what ran: hypothesis's own count of the valid examples it executed
(every ``@given`` run and state machine in the check) plus ``ctx.count_example()`` calls.

Runs are deterministic: hypothesis is derandomised (``--seed 0``, the default) or forced to
the given seed, with no example database, so CI results are reproducible, and the same
whether the checks run in this process or in forked workers (``jobs``; see
:mod:`mmkit.audit.parallel`).
"""

from __future__ import annotations

import fnmatch
import logging
import os
import sys
import time
import traceback
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from types import TracebackType
from typing import Any

from mmkit.audit.invariant import (
    AuditContext,
    AuditTarget,
    Concern,
    Invariant,
    NotApplicable,
    Unaudited,
)
from mmkit.audit.parallel import resolve_jobs, run_plan
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
    #: ``"KIND:NAME"`` items (comma lists allowed): audit only these components, with the
    #: configuration's instrument, risk limits, seed and their own parameter tables
    components: Sequence[str] = ()
    #: worker processes running the checks (:mod:`mmkit.audit.parallel`): 1 = this process
    #: (the library's default), 0 = one per usable core (the CLI's default)
    jobs: int = 1


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


def component_targets(host: Any, settings: Any, items: Sequence[str]) -> list[AuditTarget]:
    """One target per ``KIND:NAME`` of ``items`` (``mmkit audit --component``), configured
    or not: its parameters are its ``[<kind>s.<name>]`` table, instrument, risk limits and
    seed those of ``settings``. A malformed item or an unknown kind or name is a
    :class:`ConfigError` naming the item (exit 2)."""
    from mmkit.registry import KINDS

    reg = host.registry
    out: list[AuditTarget] = []
    seen: set[tuple[str, str]] = set()
    problems: list[str] = []
    for item in (p.strip() for raw in items for p in raw.split(",")):
        if not item:
            continue
        kind, sep, name = item.partition(":")
        kind, name = kind.strip(), name.strip()
        if not sep or not name or kind not in KINDS:
            problems.append(
                f"--component {item!r}: expected KIND:NAME, KIND one of {', '.join(KINDS)} "
                "(e.g. quoter:avellaneda_stoikov)"
            )
            continue
        if (kind, name) in seen:
            continue
        seen.add((kind, name))
        spec = reg.get(kind, name, where=f"--component {item!r}")
        out.append(
            AuditTarget(
                spec=spec,
                params=settings.component_params(kind, name),
                instrument=settings.instrument,
                risk=settings.risk,
                seed=settings.engine.seed,
            )
        )
    if problems:
        raise ConfigError(problems)
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
    """Build each target once: a component that cannot be built is a plugin error (exit 2).

    A venue is built on its simulated side only: a live-only venue (nothing to build offline,
    perhaps credentials needed) is left to its invariants, which report it NOT_APPLICABLE."""
    from mmkit.registry import VenueSide

    for t in targets:
        if t.kind == "venue" and not t.spec.has_side(VenueSide.SIMULATED):
            continue
        t.build()


def system_targets(host: Any, settings: Any, invariants: Sequence[Any]) -> list[AuditTarget]:
    """The whole configured set as one target of kind ``"system"``, when some selected
    invariant is of that kind: each such invariant runs once, on the set as assembled."""
    if not any("system" in tuple(getattr(i, "kinds", ())) for i in invariants):
        return []
    from mmkit.audit.invariants.system import SystemTarget

    return [SystemTarget.of(host, settings)]


# -- running ------------------------------------------------------------------------------


def _where(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return ""
    f = frames[-1]
    return f"{os.path.basename(f.filename)}:{f.lineno} in {f.name}"


#: modules whose classes are protocols or plumbing, not a component's own code
_NOT_COMPONENT_MODULES = ("builtins", "abc", "typing", "typing_extensions", "mmkit.components")


def component_code(target: AuditTarget) -> tuple[frozenset[str], tuple[str, ...]]:
    """The component's own code: (source files, directory prefixes).

    The files of its factory's module and of every class in its built instance's MRO (a
    built-in's factory lives in ``mmkit.default_plugins`` while its class lives elsewhere);
    for a third-party plugin, its whole top-level package directory too."""
    objs: list[Any] = []
    # a venue without a simulated side or a factory that fails to import has no factory to
    # look at; one that cannot be built leaves only its factory's module
    with suppress(Exception):
        objs.append(target.spec.resolve_factory())
    with suppress(Exception):
        objs.append(type(target.build()))
    files: set[str] = set()
    prefixes: set[str] = set()
    for obj in objs:
        classes = obj.__mro__ if isinstance(obj, type) else (obj,)
        for c in classes:
            mod = sys.modules.get(getattr(c, "__module__", "") or "")
            if mod is None or mod.__name__ in _NOT_COMPONENT_MODULES:
                continue
            f = getattr(mod, "__file__", None)
            if f:
                files.add(os.path.abspath(f))
            top = sys.modules.get(mod.__name__.split(".")[0])
            if top is not None and top.__name__ not in ("mmkit", "tests"):
                for d in getattr(top, "__path__", ()) or ():
                    prefixes.add(os.path.abspath(d) + os.sep)
    return frozenset(files), tuple(sorted(prefixes))


@dataclass(frozen=True)
class _Component:
    """What an exception's frames are matched against to find the component's own code."""

    label: str
    files: frozenset[str]
    prefixes: tuple[str, ...]

    def owns(self, filename: str) -> bool:
        path = os.path.abspath(filename)
        return path in self.files or path.startswith(self.prefixes)


def _frame_text(tb: TracebackType | None, comp: _Component | None) -> tuple[str, bool]:
    """(where, in component) of the innermost frame inside the component's code, or of the
    innermost frame at all when none is: ``file.py:line in Class.method [module]``, no
    absolute paths, so reports stay the same from machine to machine."""
    best: tuple[Any, int] | None = None
    last: tuple[Any, int] | None = None
    for frame, lineno in traceback.walk_tb(tb):
        last = (frame, lineno)
        if comp is not None and comp.owns(frame.f_code.co_filename):
            best = (frame, lineno)
    chosen = best or last
    if chosen is None:
        return "", False
    frame, lineno = chosen
    code = frame.f_code
    name = str(getattr(code, "co_qualname", code.co_name)).rpartition("<locals>.")[2]
    module = str(frame.f_globals.get("__name__", "?"))
    where = f"{os.path.basename(code.co_filename)}:{lineno} in {name} [{module}]"
    return where, best is not None


def _message(exc: BaseException, comp: _Component | None = None) -> str:
    text = str(exc).strip()
    if isinstance(exc, AssertionError):
        return text or f"assertion failed ({_where(exc)})"
    first = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    if comp is None:
        where = _where(exc)
        return f"{first} (at {where})" if where else first
    where, inside = _frame_text(exc.__traceback__, comp)
    if inside:
        return f"{comp.label} raised {first} (at {where})"
    head, _, rest = first.partition("\n")
    if where:
        head += f" (at {where}; not inside the code of {comp.label})"
    return "\n".join(x for x in (head, rest) if x)


def _notes(exc: BaseException) -> str:
    return "\n".join(str(n) for n in getattr(exc, "__notes__", ()) or ()).strip()


def explain(exc: BaseException, comp: _Component | None = None) -> tuple[str, str]:
    """(one-line message, counterexample text) of a failure, group or not; with ``comp``, an
    exception that is not an assertion names the component and its innermost own frame."""
    if isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        parts = [explain(e, comp) for e in exc.exceptions]
        msg = parts[0][0]
        if len(parts) > 1:
            msg += f" (and {len(parts) - 1} other distinct failure(s))"
        ce = "\n\n".join(f"[failure {i}] {m}\n{c}".rstrip() for i, (m, c) in enumerate(parts, 1))
        return msg, ce
    first, _, rest = _message(exc, comp).partition("\n")
    return first, "\n".join(x for x in (rest.strip(), _notes(exc)) if x)


_COUNTED_PHASES = ("reuse-phase", "generate-phase")
_COUNTED_STATUSES = ("valid", "interesting")


@contextmanager
def _count_examples(into: list[int]) -> Iterator[None]:
    """Add up the examples hypothesis really executed (valid or failing test cases of its
    reuse and generate phases; shrinking replays are not examples) in every ``@given`` run
    and state machine inside the block, into ``into[0]``.

    Uses hypothesis's statistics hook (what its pytest plugin's statistics use); if that
    moves, nothing is counted and the report shows the ``ctx.count_example()`` total."""
    try:
        from hypothesis.statistics import collector
    except ImportError:  # pragma: no cover - other hypothesis versions
        yield
        return

    def note(stats: Mapping[str, Any]) -> None:
        for phase in _COUNTED_PHASES:
            cases = (stats.get(phase) or {}).get("test-cases", ())
            into[0] += sum(1 for c in cases if c.get("status") in _COUNTED_STATUSES)

    with collector.with_value(note):  # type: ignore[arg-type]  # typed as holding None
        yield


def run_check(inv: Any, target: AuditTarget | None, ctx: RunContext) -> Result:
    """Run one invariant against one target and classify the outcome."""
    from hypothesis.errors import FailedHealthCheck, Flaky, Unsatisfiable

    info = InvariantInfo.of(inv)
    comp = component_info(target.spec) if target is not None else None
    if target is None:
        kinds = " or ".join(info.kinds) or "(none)"
        return Result(info, None, Status.NOT_APPLICABLE, f"nothing of kind {kinds} is configured")
    weight = getattr(inv, "weight", 1.0) or 1.0
    sub = RunContext(
        examples=max(1, round(ctx.examples * weight)), seed=ctx.seed, deadline_ms=ctx.deadline_ms
    )
    start = time.perf_counter()
    status, message, ce = Status.PASS, "", ""
    missing: tuple[str, ...] = ()
    ran = [0]
    try:
        with _Reproducible(ctx.seed), _quiet(), _count_examples(ran):
            inv.check(target, sub)
    except NotApplicable as exc:
        status, message = Status.NOT_APPLICABLE, str(exc) or "out of scope"
    except Unaudited as exc:  # also the old Skip: never a silent skip
        status, message = Status.UNAUDITED, str(exc)
        missing = tuple(str(m) for m in getattr(exc, "missing", ()) or ())
    except Concern as exc:
        status, message, ce = Status.CONCERN, str(exc), _notes(exc)
    except (Flaky, FailedHealthCheck, Unsatisfiable) as exc:
        msg, ce = explain(exc)
        status, message = Status.CONCERN, f"hypothesis could not settle the check: {msg}"
    except PluginError as exc:
        status, message = Status.FAIL, f"component failed to build: {exc}"
    except Exception as exc:  # the audit's boundary: anything a checked component raises
        status = Status.FAIL
        files, prefixes = component_code(target)
        who = _Component(f"{target.kind} {target.name!r}", files, prefixes)
        message, ce = explain(exc, who)
    examples = ran[0] + sub.counted
    return Result(
        info,
        comp,
        status,
        message,
        ce,
        examples,
        time.perf_counter() - start,
        missing=missing,
    )


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


WAIVERS_USED = InvariantInfo(
    id="mmkit.waivers_used",
    title="Every waiver in [audit.waivers] waives an UNAUDITED check",
    section="Audit configuration",
    severity="medium",
    kinds=(),
    description="A waiver that matches no UNAUDITED result (the invariant or component is gone, "
    "or the check now runs) is reported so that stale waivers do not linger.",
    plugin="mmkit",
)


class Waivers:
    """``[audit.waivers]`` applied to results as they come: an UNAUDITED result whose
    ``"<invariant id>@<kind>.<name>"`` is waived becomes WAIVED with the reason."""

    def __init__(self, waivers: Mapping[Any, str]) -> None:
        self.reasons: dict[str, str] = {str(k): v for k, v in waivers.items()}
        self.used: set[str] = set()
        self.seen: dict[str, Status] = {}

    def apply(self, res: Result) -> Result:
        key = res.waiver_key
        if key not in self.reasons:
            return res
        self.seen[key] = res.status
        if res.status is not Status.UNAUDITED:
            return res
        self.used.add(key)
        return replace(res, status=Status.WAIVED, waiver=self.reasons[key])

    def unused(
        self,
        selected: set[str],
        registered: set[str],
        components: Sequence[ComponentInfo],
        *,
        audited_only: bool = False,
    ) -> list[Result]:
        """A CONCERN per waiver that waived nothing, unless its invariant was registered but
        not selected (``--only``), or (``audited_only``: components audited alone) its
        component was not audited: that run could not have used it."""
        from mmkit.config.waivers import parse_waiver_key

        by_label = {(c.kind, c.name): c for c in components}
        out = []
        for key, reason in sorted(self.reasons.items()):
            if key in self.used:
                continue
            k = parse_waiver_key(key)
            if k.invariant in registered and k.invariant not in selected:
                continue
            if audited_only and (k.kind, k.name) not in by_label:
                continue
            if k.invariant not in registered:
                why = f"no invariant {k.invariant!r} is registered"
            elif key in self.seen:
                why = (
                    f"the check ran and is {self.seen[key].value}, not UNAUDITED: remove the waiver"
                )
            elif (k.kind, k.name) not in by_label:
                why = f"{k.kind} {k.name!r} is not audited in this configuration"
            else:
                why = f"{k.invariant!r} does not apply to {k.kind} {k.name!r}"
            comp = by_label.get((k.kind, k.name)) or ComponentInfo(k.kind, k.name, "")
            out.append(
                Result(
                    WAIVERS_USED,
                    comp,
                    Status.CONCERN,
                    f"unused waiver {key!r} ({reason!r}): {why}",
                )
            )
        return out


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
    if options.components:  # mmkit audit --component KIND:NAME: these components alone
        if options.all_components:
            raise ConfigError(["--component and --all exclude each other"])
        targets = component_targets(host, settings, options.components)
        # the invariants of the named components' kinds (whole-system ones audit the
        # configured set, not a component alone); a component none applies to is an error,
        # not a silent GO
        chosen = {t.kind for t in targets}
        invariants = [i for i in invariants if chosen & set(getattr(i, "kinds", ()))]
        covered = {k for i in invariants for k in getattr(i, "kinds", ())}
        idle = [f"{t.kind}:{t.name}" for t in targets if t.kind not in covered]
        if idle:
            raise ConfigError(
                [f"--component {c}: no selected invariant applies to it" for c in idle]
            )
    else:
        wanted = {k for inv in invariants for k in getattr(inv, "kinds", ())}
        kinds = [*AUDITED_KINDS, *(k for k in ON_DEMAND_KINDS if k in wanted)]
        targets = audit_targets(host, settings, options.all_components, kinds)
    broken: list[Result] = []
    if options.allow_broken_plugins:
        # a configured component that cannot be built is a FAIL of its own (the config could
        # not run); it stays in the plan, where checks that build it FAIL too
        for t in targets:
            try:
                verify_targets([t])
            except PluginError as exc:
                broken.append(Result(PLUGIN_LOAD, component_info(t.spec), Status.FAIL, exc.fault))
    else:
        verify_targets(targets)
    pairs = plan(invariants, [*targets, *system_targets(host, settings, invariants)])
    ctx = RunContext(examples=options.examples, seed=options.seed)
    if on_start is not None:
        on_start(len(pairs))
    results: list[Result] = [_plugin_error_result(e) for e in host.errors] + broken
    waivers = Waivers(getattr(settings, "waivers", None) or {})
    results += run_plan(
        pairs,
        lambda inv, target: run_check(inv, target, ctx),
        jobs=resolve_jobs(options.jobs, len(pairs)),
        before=before,
        on_result=on_result,
        post=waivers.apply,
    )
    results += waivers.unused(
        {i.id for i in invariants},
        {i.id for i in host.invariants},
        [component_info(t.spec) for t in targets],
        audited_only=bool(getattr(options, "components", ())),
    )
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
