"""Compiling the numba kernels of a run in parallel when the cache is cold.

numba compiles a kernel on its first call and caches the machine code (``cache=True``).
On a fresh clone that first compilation of the simulated exchange, the synthetic market and
the estimators costs ~30 s of single-threaded CPU. Before a paper run, :func:`warm_up`
looks for mmkit's own stamp of each group; if one is missing it compiles the cold groups in
separate processes at once (one per core), each driving the very components the run will
use, built from the run's own merged configuration so that the compiled signatures match,
and stamps each group whose worker succeeded. Later runs find the stamps and skip all this.

The stamp (``precompile-GROUP.stamp``; for the twins, ``precompile-twins-VARIANT.stamp``,
one per set of configured components: :func:`group_variant`) is a small text file kept
beside numba's cache: in ``NUMBA_CACHE_DIR`` when that is set, else in the package's
``__pycache__`` (removing the ``__pycache__`` directories removes both). It holds a key
made of the mmkit, numba and Python versions, the platform and a SHA-256 of the source of
every mmkit module that defines numba kernels (and of the mmkit modules those import): a
change to any of them, an upgrade or another interpreter makes the group cold again.
numba has no public way to ask whether a kernel's machine code is cached, so mmkit records
what it compiled itself rather than reading numba's private index. A stale or missing
stamp only costs a warm-up (the workers then load numba's cache quickly); a stamp that
cannot be written is logged and the group simply looks cold next time.

The groups are cut by measured compile times (CPU seconds of each worker, ``python
benchmarks/first_run.py --kernels``; :data:`MEASURED_CPU_S`) so that the cores share the
work and no kernel is compiled twice: each worker compiles the matching helpers its kernels
share (a process cannot use another's half-finished compile). The venue group is the
simulated exchange whole (the replay kernel with the order processing it calls, and the
snapshot kernel, which calls the same matching helpers); the market group the synthetic
market and the feed's depth grid (and the estimators' reference kernels when the run uses
no twins); the twins group the estimators', gates' and executor's twins, driven through an
engine; the quoter group the quoter's twin alone (the GLFT twin's kernels were a third of
the twins' compile, which alone set a cold first run's time).

    python -m mmkit.runtime.precompile GROUP CONFIG.toml [PLUGIN ...]   # one group (a worker)
"""

from __future__ import annotations

import contextlib
import hashlib
import heapq
import json
import logging
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from mmkit.cores import usable_cores
from mmkit.source_tree import source_root, tree_fingerprint

log = logging.getLogger("mmkit.run")

#: group -> the "module:kernel" numba kernels its worker compiles (the ones the measured
#: compile times above are about); a group is warm when its stamp matches the current key
GROUPS: dict[str, tuple[str, ...]] = {
    # the simulated exchange: the replay kernel with the order processing it calls, and the
    # snapshot kernel, which shares their matching helpers (compiled once, here)
    "venue": (
        "mmkit.venues.sim._kernels_replay:advance",
        "mmkit.venues.sim._kernels_orders:process_pending",
        "mmkit.venues.sim._kernels_snapshot:apply_snapshot_side",
    ),
    # the synthetic market and the feed's depth grid; the estimators' own kernels too when
    # the run uses no twins (with twins, the twins' worker drives the estimators)
    "market": ("mmkit.data._synthetic_kernels:generate_chunk",),
    # the compiled twins of the configured estimators, gates and executor (mmkit.twins),
    # driven through an engine against a venue in plain Python (:class:`EchoVenue`: no
    # simulated-exchange kernel, which the venue group compiles), the quoter's reference
    # in the quoter's place
    "twins": (
        "mmkit.estimators._kernels_sigma_estimator_twin:sigma_event",
        "mmkit.estimators._kernels_kappa_orchestrator_twin:estimate",
        "mmkit.estimators._kernels_warmup_twin:estimate",
        "mmkit.estimators._kernels_pf:pf_step",
        "mmkit.gates._kernels_data_quality_twin:check",
        "mmkit.gates._kernels_kill_switch_twin:ks_check",
        "mmkit.execution._kernels_reconciler_twin:tape_marks_kernel",
        "mmkit.execution._kernels_permit:permit",
    ),
    # the configured quoter's twin, driven alone (the GLFT twin's kernels are a third of
    # all the twins' compile: in their own process they compile beside the others)
    "quoter": ("mmkit.quoting._kernels_glft_quoter_twin:glft_quote",),
}

#: group -> CPU seconds its worker spends compiling on a cold cache (numba's import
#: included), measured with ``python benchmarks/first_run.py --kernels`` (each group's
#: worker alone on an empty cache); the progress display's expected time comes from these,
#: so re-measure them when the kernels change much. Measured on 2026-12-07 in a phase of
#: the machine ~1.6x slower than the one of the earlier figures (venue 15.4 s, market 4.0,
#: twins 16.4, quoter 6.2 then), and scaled to that one so that the expectations stay
#: comparable: before the quoter's twin had its own group and the snapshot kernel moved to
#: the venue's, the groups were venue 8.5, market 6.9 and twins 14.0 (23.0 s that day).
#: Later that day the twins' worker drove the executor twin both ways (its order table and
#: its orders as objects): its CPU time on a cold cache rose by ~22 % (the table's
#: kernels, which the default set now runs), 17.0 -> 20.7 s against the commit before, in
#: two alternating pairs: 10.3 -> 12.6 on this scale
MEASURED_CPU_S: dict[str, float] = {"venue": 9.6, "market": 2.5, "twins": 12.6, "quoter": 3.9}
#: seconds a worker process needs before it compiles anything (interpreter, numpy)
WORKER_START_S = 0.5
_MEASURED_ON = "measured on a 2-core machine"
#: seconds between two looks at the workers while they compile
_POLL_S = 0.1

_STAMP_FORMAT = "mmkit-precompile-stamp/1"


def stamp_dir() -> Path:
    """Where the stamps live: ``NUMBA_CACHE_DIR`` if set (numba caches there too), else the
    mmkit package's ``__pycache__`` (where numba puts the caches of an in-place package)."""
    env = os.environ.get("NUMBA_CACHE_DIR", "")
    if env:
        return Path(env)
    return Path(__file__).resolve().parent.parent / "__pycache__"


#: ``import a.b, c`` and ``from a.b import c`` statements, at any indentation (a module's
#: source is scanned as text: parsing every file with ``ast`` cost ~0.14 s per process)
_IMPORT = re.compile(
    r"^[ \t]*import[ \t]+([\w.]+(?:[ \t]*(?:as[ \t]+\w+)?[ \t]*,[ \t]*[\w.]+)*)", re.M
)
_FROM = re.compile(r"^[ \t]*from[ \t]+([\w.]+)[ \t]+import\b", re.M)


def _imported_modules(text: str) -> set[str]:
    """The modules a source imports by absolute name (``import`` and ``from ... import``
    statements; a statement inside a string counts too, which only widens the digest)."""
    out = {m.group(1) for m in _FROM.finditer(text)}
    for m in _IMPORT.finditer(text):
        for part in m.group(1).split(","):
            out.add(part.split()[0])
    return out


def _source_root() -> Path:
    """The mmkit package directory whose sources the stamps cover."""
    return source_root()


def kernel_sources() -> list[Path]:
    """The source files whose change makes compiled kernels stale: every mmkit module that
    imports numba (but this one) and the mmkit modules those import (layouts, constants)."""
    root = _source_root()
    found: set[Path] = set()
    for path in sorted(root.rglob("*.py")):
        if path.name == "precompile.py" and path.parent.name == "runtime":
            continue
        text = path.read_text(encoding="utf-8")
        if "numba" not in text:
            continue
        mods = _imported_modules(text)
        if not any(m.split(".")[0] == "numba" for m in mods):
            continue
        found.add(path)
        for mod in mods:
            if mod.split(".")[0] != "mmkit":
                continue
            rel = Path(*mod.split(".")[1:])
            for cand in (root / rel.with_suffix(".py"), root / rel / "__init__.py"):
                if cand.is_file():
                    found.add(cand)
    return sorted(found)


_DIGEST_MEMO = "precompile-sources.memo"


def sources_digest() -> str:
    """SHA-256 over the paths and contents of :func:`kernel_sources`.

    Reading and scanning every source of the package costs ~20 ms, paid by every command
    that checks its stamps. The digest is therefore kept in the stamp directory next to
    the :func:`tree_fingerprint` of the sources it was computed from, and reused while that
    fingerprint holds: any file of the package added, removed, resized or touched makes it
    compute again. An unreadable or malformed memo only costs the full computation."""
    root = _source_root()
    fp = tree_fingerprint(root)
    memo = stamp_dir() / _DIGEST_MEMO
    try:
        got_fp, _, got = memo.read_text(encoding="utf-8").partition("\n")
    except (OSError, UnicodeDecodeError):
        got_fp = got = ""
    if got_fp == fp and re.fullmatch(r"[0-9a-f]{64}", got):
        return got
    digest = content_digest(kernel_sources(), root)
    with contextlib.suppress(OSError):
        memo.parent.mkdir(parents=True, exist_ok=True)
        tmp = memo.with_name(f"{memo.name}.{os.getpid()}.tmp")
        tmp.write_text(f"{fp}\n{digest}", encoding="utf-8")
        os.replace(tmp, memo)
    return digest


def content_digest(paths: Sequence[Path], root: Path) -> str:
    """SHA-256 over the paths (relative to ``root`` where they are under it) and contents
    of ``paths``."""
    digest = hashlib.sha256()
    for path in paths:
        name = path.relative_to(root) if path.is_relative_to(root) else path
        digest.update(name.as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def group_variant(group: str, merged_config: Mapping[str, Any], plugins: Sequence[str] = ()) -> str:
    """What, beyond the sources, decides which of a group's kernels a run calls, as a short
    digest (``""`` for the default configuration without plugins):

    * ``twins``: the configured components (estimators, gates, quoter, executor; a
      component missing from ``merged_config`` is the default one) and the run's plugin
      modules;
    * ``quoter``: the configured quoter and the plugin modules;
    * ``market``: whether the run uses twins (without them, the market's worker drives
      the estimators' reference code, whose kernels a twins run never calls);
    * ``venue``: nothing (its worker drives the same kernels whatever the configuration).

    Without it a stamp written by a run of the default set made the twins look warm to a
    run naming the signal estimators, whose twins' kernels then compiled inside that run's
    session (2.3 s for lead_lag, adverse_selection and rl_skew, 2026-12-07)."""
    what: Mapping[str, Any]
    if group == "twins":
        what = _twin_set(merged_config, plugins)
        if what == _twin_set({}, ()):
            return ""
    elif group == "quoter":
        full = _twin_set(merged_config, plugins)
        what = {"quoter": full["quoter"], "plugins": full["plugins"]}
        if not full["plugins"] and full["quoter"] == _twin_set({}, ())["quoter"]:
            return ""
    elif group == "market":
        if _twins_mode(merged_config) != "off":
            return ""
        what = {"twins": "off"}
    else:
        return ""
    text = json.dumps(what, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _twins_mode(merged_config: Mapping[str, Any]) -> str:
    """``[engine] twins`` of ``merged_config`` (the default when it is not there)."""
    from mmkit.config.schema import EngineSection

    engine = merged_config.get("engine", {})
    engine = engine if isinstance(engine, Mapping) else {}
    return str(engine.get("twins", EngineSection().twins))


def _twin_set(merged_config: Mapping[str, Any], plugins: Sequence[str]) -> dict[str, Any]:
    """The components whose twins a run builds, in a canonical form (lists sorted)."""
    from mmkit.config.schema import ComponentsSection

    default = ComponentsSection()
    comp = merged_config.get("components", {})
    comp = comp if isinstance(comp, Mapping) else {}

    def names(key: str) -> list[str]:
        return sorted(map(str, comp.get(key, getattr(default, key)) or []))

    return {
        "estimators": names("estimators"),
        "gates": names("gates"),
        "quoter": str(comp.get("quoter", default.quoter)),
        "executor": str(comp.get("executor", default.executor)),
        "plugins": sorted(map(str, plugins)),
    }


def stamp_key(group: str, digest: str | None = None, variant: str = "") -> str:
    """The key a group's stamp must hold for the group to count as compiled (``digest``:
    a :func:`sources_digest` already computed, to hash the sources once for many groups;
    ``variant``: :func:`group_variant`)."""
    import platform

    import numba

    import mmkit

    if digest is None:
        digest = sources_digest()
    return "\n".join(
        (
            _STAMP_FORMAT,
            f"group={group}",
            f"kernels={','.join(GROUPS[group])}",
            f"mmkit={mmkit.__version__}",
            f"numba={numba.__version__}",
            f"python={sys.implementation.name}-{platform.python_version()}",
            f"platform={sys.platform}-{platform.machine()}",
            f"sources={digest}",
            *([f"variant={variant}"] if variant else []),
        )
    )


def _stamp_path(group: str, variant: str = "") -> Path:
    """A group's stamp; one per variant (:func:`group_variant`), so that runs alternating
    between two component sets do not make each other's stamps stale."""
    name = f"{group}-{variant}" if variant else group
    return stamp_dir() / f"precompile-{name}.stamp"


def is_stamped(group: str, key: str | None = None, variant: str = "") -> bool:
    """Whether ``group`` (for ``variant``) was compiled by a warm-up under the current key."""
    try:
        text = _stamp_path(group, variant).read_text(encoding="utf-8")
    except OSError:  # no stamp (or unreadable): cold
        return False
    return text == (stamp_key(group, variant=variant) if key is None else key)


def write_stamp(group: str, key: str | None = None, variant: str = "") -> bool:
    """Record that ``group`` (for ``variant``) compiled under ``key`` (the current key by
    default); False (and a log line naming the path) when the stamp cannot be written."""
    path = _stamp_path(group, variant)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        key = stamp_key(group, variant=variant) if key is None else key
        tmp.write_text(key, encoding="utf-8")
        os.replace(tmp, path)  # atomic: a concurrent reader sees the old stamp or the new
    except OSError as exc:
        log.info("kernel warm-up: cannot write the stamp %s (%s); it will run again", path, exc)
        return False
    return True


def cold_groups(
    groups: Sequence[str] = tuple(GROUPS), variants: Mapping[str, str] | None = None
) -> list[str]:
    """The groups among ``groups`` without a current stamp (``variants``: group ->
    :func:`group_variant`, ``""`` where not given)."""
    unknown = [g for g in groups if g not in GROUPS]
    if unknown:
        raise ValueError(f"unknown precompile group(s) {unknown}; known: {sorted(GROUPS)}")
    digest = sources_digest()
    var = {g: (variants or {}).get(g, "") for g in groups}
    return [g for g in groups if not is_stamped(g, stamp_key(g, digest, var[g]), var[g])]


def expected_wall_s(groups: Sequence[str], cores: int | None = None) -> float:
    """Honest expected wall time (s) of compiling ``groups`` on ``cores`` cores (default:
    the cores this process may use), from :data:`MEASURED_CPU_S`: the groups are spread
    over the cores longest first, plus :data:`WORKER_START_S` of start-up per worker."""
    if cores is None:
        cores = usable_cores()
    lanes = [0.0] * max(1, min(cores, len(groups)))
    for g in sorted(groups, key=lambda g: -MEASURED_CPU_S[g]):
        i = lanes.index(min(lanes))
        lanes[i] += MEASURED_CPU_S[g] + WORKER_START_S
    return max(lanes)


def _tail(path: Path) -> str:
    """The last non-empty line of a worker's stderr file ("?" when there is none)."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        return "?"
    return lines[-1] if lines else "?"


def warm_up(
    merged_config: dict[str, Any],
    *,
    groups: Sequence[str] = tuple(GROUPS),
    timeout_s: float = 600.0,
    stream: TextIO | None = None,
    clock: Callable[[], float] = time.monotonic,
    plugins: Sequence[str] = (),
) -> float | None:
    """Compile the cold groups in parallel worker processes; returns seconds spent (None if
    the cache was warm). A worker failure is logged, never fatal: the run compiles lazily.

    ``stream`` (normally ``sys.stderr``) gets a :class:`~mmkit.runtime.progress.
    CompileProgress` report while the workers run: a live line on a terminal, a line at
    the start and one at the end otherwise; None keeps it quiet (a warm cache is always
    quiet). ``clock`` (monotonic seconds) times the workers and the timeout. ``plugins``: the
    modules of the plugins the run loaded (beyond the built-in ones), which the workers load
    too, since ``merged_config`` holds their tables."""
    variants = {g: group_variant(g, merged_config, plugins) for g in groups}
    todo = cold_groups(groups, variants)
    if not todo:
        return None
    import tomli_w

    from mmkit.runtime.progress import CompileProgress

    # the keys as the workers start: a source edited while they compile leaves the group cold
    digest = sources_digest()
    keys = {g: stamp_key(g, digest, variants[g]) for g in todo}
    cores = usable_cores()
    progress = None
    if stream is not None:
        progress = CompileProgress(
            stream,
            todo,
            expected_s=expected_wall_s(todo, cores),
            basis=f"{cores} core{'s' if cores > 1 else ''}; {_MEASURED_ON}",
            clock=clock,
        )
    t0 = clock()
    with tempfile.TemporaryDirectory(prefix="mmkit-warm-") as d:
        cfg = Path(d) / "config.toml"
        cfg.write_text(tomli_w.dumps(merged_config), encoding="utf-8")
        if progress is not None:
            progress.start()
        running: dict[str, tuple[subprocess.Popen[bytes], Path]] = {}
        for g in todo:
            err = Path(d) / f"{g}.stderr"  # a file, not a pipe: a chatty worker cannot block
            with err.open("wb") as fh:
                running[g] = (
                    subprocess.Popen(
                        [sys.executable, "-m", "mmkit.runtime.precompile", g, str(cfg), *plugins],
                        stdin=subprocess.DEVNULL,
                        stdout=subprocess.DEVNULL,
                        stderr=fh,
                    ),
                    err,
                )
        while running:
            for g, (p, err) in list(running.items()):
                if p.poll() is None:
                    continue
                del running[g]
                ok = p.returncode == 0
                if ok:
                    detail = ""
                    write_stamp(g, keys[g], variants[g])
                elif p.returncode == EXIT_CONFIG_ERROR:
                    detail = "the configuration does not build (the command says why)"
                else:
                    detail = _tail(err)
                    log.warning("kernel warm-up of %s failed: %s", g, detail)
                if progress is not None:
                    progress.group_done(g, ok, detail)
            if not running:
                break
            if clock() - t0 > timeout_s:
                for g, (p, _) in running.items():
                    p.kill()
                    p.wait()
                    log.warning("kernel warm-up of %s timed out after %.0f s", g, timeout_s)
                    if progress is not None:
                        progress.group_done(g, False, f"timed out after {timeout_s:.0f} s")
                break
            if progress is not None:
                progress.update()
            first = next(iter(running.values()))[0]
            with contextlib.suppress(subprocess.TimeoutExpired):
                first.wait(timeout=_POLL_S)
    if progress is not None:
        progress.finish()
    return clock() - t0


#: a worker's exit status when the run's configuration does not build (an
#: :class:`~mmkit.errors.MmkitError`: a plugin's factory that raises, a bad value): the
#: warm-up does not report the error, which the command reports when it builds the engine
EXIT_CONFIG_ERROR = 2

#: what each command runs, hence the groups it warms: trading (paper on the simulated
#: exchange, or live), a backtest and every run of a sweep drive the engine (and the
#: simulated exchange when it is the venue), calibrate only the estimators (its own scan
#: kernel is in no group and still compiles lazily, ~1 s), so no quoter
COMMAND_GROUPS: dict[str, tuple[str, ...]] = {
    # paper and live trading: the twins too, or they compile inside the first quoting cycles
    # (seconds during which a live session's feed queues up)
    "trade": ("venue", "market", "twins", "quoter"),
    "backtest": ("venue", "market", "twins", "quoter"),
    "sweep": ("venue", "market", "twins", "quoter"),
    "calibrate": ("market", "twins"),
}
#: the groups of compiled twins: a run with ``[engine] twins = "off"`` warms none of them
TWIN_GROUPS = ("twins", "quoter")


def warm_up_for_command(
    command: str,
    settings: Any,
    host: Any,
    *,
    show: bool = True,
    stream: TextIO | None = None,
    warm: Callable[..., float | None] | None = None,
    venue: str | None = None,
) -> float | None:
    """Before a command (``trade``, ``backtest``, ``calibrate``, ``sweep``) runs: compile the
    cold kernel groups it uses (:data:`COMMAND_GROUPS`) in parallel with the progress
    display, so a first run tells what it waits for instead of a blank screen; nothing at
    all when the cache is warm. Returns the seconds spent (None when warm).

    ``venue``: the venue the command trades on when it is not ``components.venue`` (live
    trading with ``--url`` over a config that names ``sim``): the simulated exchange's
    group is compiled only when that venue is ``sim``.

    ``settings``: the run's settings (its merged configuration is what the workers build
    their components from, so the compiled signatures match); ``host``: the plugin host the
    run loaded, whose non-built-in plugins the workers load too. The display goes to
    ``stream`` (default ``sys.stderr``, never stdout: ``--json`` output and piped tables stay
    clean); ``show=False`` compiles quietly. ``warm``: :func:`warm_up` (a test's fake)."""
    if command not in COMMAND_GROUPS:
        raise ValueError(f"unknown command {command!r} for the warm-up; known: {COMMAND_GROUPS}")
    groups = COMMAND_GROUPS[command]
    if venue is None:
        venue = getattr(settings.components, "venue", "sim")
    if "venue" in groups and venue != "sim":
        groups = tuple(g for g in groups if g != "venue")  # only the sim venue is mmkit's
    engine = getattr(settings, "engine", None)
    if getattr(engine, "twins", "auto") == "off":
        groups = tuple(g for g in groups if g not in TWIN_GROUPS)  # the run uses no twin
    plugins = [i.module for i in host.info.values() if i.source != "builtin"]
    spent = (warm or warm_up)(
        settings.merged_full(),
        groups=groups,
        stream=(stream if stream is not None else sys.stderr) if show else None,
        plugins=plugins,
    )
    if spent is not None:
        log.info("%s: compiled numba kernels in parallel (first run): %.1f s", command, spent)
    return spent


# -- the workers -------------------------------------------------------------------------


def _settings(config: Path, plugins: Sequence[str] = (), sets: Sequence[str] = ()) -> Any:
    """The run's settings, read with the run's plugins (modules ``plugins``): the merged
    configuration holds the tables of every plugin the run loaded, and a table of a plugin
    the worker did not load would be an error."""
    from mmkit.config.loader import load_settings
    from mmkit.plugin_manager import PluginHost

    host = PluginHost(load_entrypoints=False, extra_modules=plugins)
    return host, load_settings(config, host.registry, env={}, sets=list(sets))


def _toy_market(inst: Any, n: int = 300, deltas: bool = False) -> list[Any]:
    """Books and trades around 100,000 on the instrument's tick, 0.1 s apart. The books are
    snapshots, or with ``deltas`` book deltas (each removes the levels the book left): the
    venue worker uses deltas so that the snapshot kernel compiles in the other worker."""
    import numpy as np

    from mmkit.core.events import BookDelta, BookSnapshot, Trade
    from mmkit.core.types import Side

    out: list[Any] = []
    tick = inst.tick
    mid = 100_000.0
    t = 1_700_000_000_000_000_000
    prev_bid: Any = np.empty(0)
    prev_ask: Any = np.empty(0)
    for i in range(n):
        t += 100_000_000
        mid += tick * ((i * 7919) % 5 - 2)
        bid = np.array([mid - tick * (k + 1) for k in range(20)])
        ask = np.array([mid + tick * (k + 1) for k in range(20)])
        sz = np.full(20, 0.5)
        if deltas:
            gone_b = np.setdiff1d(prev_bid, bid)
            gone_a = np.setdiff1d(prev_ask, ask)
            out.append(
                BookDelta(
                    t,
                    np.concatenate((bid, gone_b)),
                    np.concatenate((sz, np.zeros(gone_b.size))),
                    np.concatenate((ask, gone_a)),
                    np.concatenate((sz, np.zeros(gone_a.size))),
                    local_ts=t,
                )
            )
            prev_bid, prev_ask = bid, ask
        else:
            out.append(BookSnapshot(t, bid, sz, ask, sz.copy(), local_ts=t))
        if i % 3 == 0:
            side = Side.BUY if i % 2 else Side.SELL
            px = ask[1] if side is Side.BUY else bid[1]
            out.append(Trade(t + 1, float(px), 0.05, side, local_ts=t + 1))
    return out


def exercise_venue(venue: Any, instrument: Any, deltas: bool = False) -> None:
    """Drive a synchronous venue through every action type on a toy market (compiles its
    kernels; the venue is thrown away afterwards). Books are snapshots, or deltas with
    ``deltas`` (which leaves the snapshot kernel alone)."""
    from mmkit.core.actions import (
        Cancel,
        CancelAll,
        Modify,
        Place,
        QueryOrder,
        SyncState,
        make_cloid,
    )
    from mmkit.core.types import Side

    market = _toy_market(instrument, deltas=deltas)
    tick = instrument.tick
    rid = 0
    for i, ev in enumerate(market):
        now = ev.local_ts
        venue.on_market(ev, now)
        if i % 10 == 0 and hasattr(ev, "bid_px"):
            rid += 4
            b, a = float(ev.bid_px[0]), float(ev.ask_px[0])
            venue.submit(
                [
                    Place(rid, make_cloid(rid), Side.BUY, b, 0.01),
                    Place(rid + 1, make_cloid(rid + 1), Side.SELL, a, 0.01),
                    Place(rid + 2, make_cloid(rid + 2), Side.BUY, a + tick, 0.01),
                    Modify(rid + 3, make_cloid(rid), None, Side.BUY, b - tick, 0.01),
                ],
                now,
            )
            venue.submit([Cancel(rid + 4, make_cloid(rid + 1), None)], now + 1)
        venue.drain(now + 10**9)
    end = market[-1].local_ts + 10**9
    venue.submit(
        [
            QueryOrder(rid + 10, make_cloid(rid), None),
            CancelAll(rid + 11, "warm-up"),
            SyncState(rid + 12, "warm-up"),
        ],
        end,
    )
    venue.drain(end + 10**10)


def _warm_venue(config: Path, plugins: Sequence[str] = ()) -> None:
    from mmkit.assembly import build_component

    host, s = _settings(config, plugins)
    venue = build_component(host.registry, s, "venue", "sim")  # the group's kernels are sim's
    exercise_venue(venue, s.instrument, deltas=True)
    # book snapshots: the snapshot kernel, which calls the matching helpers compiled above
    for ev in _toy_market(s.instrument, n=5):
        if ev.kind.name == "BOOK_SNAPSHOT":
            venue.on_market(ev, ev.local_ts)
            venue.drain(ev.local_ts)


def _warm_market(config: Path, plugins: Sequence[str] = ()) -> None:
    from mmkit.assembly import build_component

    host, s = _settings(config, plugins)
    feed = build_component(host.registry, s, "feed", s.components.feed)
    # the estimators' reference code, when the run uses it (with twins, the twins' worker
    # drives the estimators as the run has them: their twins, or the Python of those
    # without one)
    estimators = []
    if s.engine.twins == "off":
        estimators = [
            build_component(host.registry, s, "estimator", n) for n in s.components.estimators
        ]
    from mmkit.components import Estimates
    from mmkit.core.market import MarketState

    est = Estimates()
    # the engine's market state: a feed of depth deltas (a Binance capture) compiles the
    # depth grid's kernels here rather than stalling the first delta of the session
    market = MarketState()
    stream = feed.events()
    first_ts = None
    for ev in stream:
        now = ev.local_ts if ev.local_ts >= 0 else ev.ts
        first_ts = now if first_ts is None else first_ts
        market.apply(ev, now)
        for e in estimators:
            e.on_event(ev, now)
            e.estimate(est, now)
        if now - first_ts > 120 * 10**9:
            break
    if market._grid is not None:
        market.bid_px  # noqa: B018 -- builds the sorted arrays: compiles that kernel too


class EchoVenue:
    """A venue in plain Python for the twins' worker: it compiles no simulated-exchange
    kernel. Those are the ``venue`` group's; the audit's fake venue runs them, so driving
    the engine against it compiled them again (13 s of CPU) whenever the ``venue`` group
    had not cached them yet, and always for ``calibrate``, which has no ``venue`` group.

    Orders rest at their price until a market trade reaches them, which fills them whole;
    a modify moves an order to a new oid, a cancel removes it, a sync answers with the
    position and the resting orders, a query with the order's state. Answers come 1 ms
    after the action, fills at the trade's time. Enough for the executor to place,
    modify, cancel, track fills and sync."""

    LATENCY_NS = 1_000_000

    def __init__(self) -> None:
        self._q: list[tuple[int, int, Any]] = []  # (time, sequence, event), a heap
        self._seq = 0
        self._oid = 1000
        self._tid = 0
        #: oid -> (cloid, side, px, sz) of each resting order
        self._open: dict[int, tuple[str | None, Any, float, float]] = {}
        self.position = 0.0

    @property
    def pending(self) -> int:
        return len(self._q)

    def _emit(self, t: int, ev: Any) -> None:
        self._seq += 1
        heapq.heappush(self._q, (t, self._seq, ev))

    def drain(self, now_ns: int) -> list[Any]:
        out = []
        while self._q and self._q[0][0] <= now_ns:
            out.append(heapq.heappop(self._q)[2])
        return out

    def _find(self, oid: int | None, cloid: str | None) -> int | None:
        if oid is not None and oid in self._open:
            return oid
        return next((o for o, r in self._open.items() if cloid is not None and r[0] == cloid), None)

    def on_market(self, ev: Any, now_ns: int) -> None:
        from mmkit.core.events import OwnFill, Trade
        from mmkit.core.types import Side

        if not isinstance(ev, Trade):
            return
        for oid, (cloid, side, px, sz) in list(self._open.items()):
            if side is Side.BUY and ev.side is Side.SELL and ev.px <= px:
                self.position += sz
            elif side is Side.SELL and ev.side is Side.BUY and ev.px >= px:
                self.position -= sz
            else:
                continue
            del self._open[oid]
            self._tid += 1
            fee = px * sz * 0.00015
            fill = OwnFill(now_ns, oid, cloid, side, px, sz, fee, tid=self._tid, local_ts=now_ns)
            self._emit(now_ns, fill)

    def submit(self, actions: Sequence[Any], now_ns: int) -> None:
        from mmkit.core.actions import Cancel, CancelAll, Modify, Place, QueryOrder, SyncState
        from mmkit.core.events import (
            ActionResult,
            OpenOrder,
            OrderStatus,
            OrderUpdate,
            PositionSnapshot,
        )
        from mmkit.core.outcomes import Outcome, RejectReason

        t = now_ns + self.LATENCY_NS
        for a in actions:
            rid = a.request_id
            if isinstance(a, Place | Modify):
                old = self._find(a.oid, a.cloid) if isinstance(a, Modify) else None
                if isinstance(a, Modify) and old is None:
                    gone = RejectReason.MODIFY_TARGET_CANCELED
                    self._emit(t, ActionResult(t, rid, a.cloid, None, Outcome.REJECTED, gone))
                    continue
                if old is not None:
                    del self._open[old]
                self._oid += 1
                self._open[self._oid] = (a.cloid, a.side, a.px, a.sz)
                res = ActionResult(t, rid, a.cloid, self._oid, Outcome.RESTING, local_ts=t)
                self._emit(t, res)
            elif isinstance(a, Cancel):
                oid = self._find(a.oid, a.cloid)
                if oid is None:
                    gone = RejectReason.ORDER_GONE
                    self._emit(t, ActionResult(t, rid, a.cloid, a.oid, Outcome.REJECTED, gone))
                    continue
                del self._open[oid]
                self._emit(t, ActionResult(t, rid, a.cloid, oid, Outcome.CANCELED, local_ts=t))
            elif isinstance(a, CancelAll):
                for oid, (cloid, side, px, sz) in list(self._open.items()):
                    del self._open[oid]
                    up = OrderUpdate(t, oid, cloid, OrderStatus.CANCELED, side, px, sz, sz, t)
                    self._emit(t, up)
            elif isinstance(a, SyncState):
                opens = tuple(
                    OpenOrder(oid, c, side, px, sz, sz, t)
                    for oid, (c, side, px, sz) in self._open.items()
                )
                snap = PositionSnapshot(
                    t,
                    self.position,
                    open_orders=opens if a.orders else None,
                    local_ts=t,
                    startup=a.reason == "startup",
                )
                self._emit(t, snap)
            elif isinstance(a, QueryOrder):
                oid = self._find(a.oid, a.cloid)
                if oid is not None:
                    c, side, px, sz = self._open[oid]
                    self._emit(t, OrderUpdate(t, oid, c, OrderStatus.OPEN, side, px, sz, sz, t))


def _warm_twins(config: Path, plugins: Sequence[str] = ()) -> None:
    """The run's engine, built as the run builds it (twins by ``[engine] twins``) but for
    its quoter, whose reference quotes here (its twin is the ``quoter`` group's), driven
    on the toy market against :class:`EchoVenue` with timers: every twin kernel of the
    estimators, gates and executor that the run will call compiles here, with the run's
    signatures, and no simulated-exchange kernel (the ``venue`` group's). Warmup is cut to
    one second so that the executor's twin runs too. The drive runs twice, the smart
    executor's twin keeping its orders in its order table, then as objects: a run picks
    one of the two by its ladders' size (``SmartExecutorTwin.order_table``), so both
    compile whatever this configuration's ladders are. Nothing compiles when twins are
    off."""
    from mmkit.execution.smart_executor_twin import SmartExecutorTwin

    host, s = _settings(config, plugins, sets=["estimators.warmup.max_warmup_secs=1.0"])
    if s.engine.twins == "off":
        return
    default = SmartExecutorTwin.order_table, SmartExecutorTwin.table_marks_min_orders
    try:
        # over the table, the tape-marks kernels from the first order (a run reaches them
        # from a few orders, which its ladders may exceed for a moment)
        SmartExecutorTwin.table_marks_min_orders = 0
        for table in ("on", "off"):
            SmartExecutorTwin.order_table = table
            _drive_twins(host, s)
    finally:
        SmartExecutorTwin.order_table, SmartExecutorTwin.table_marks_min_orders = default


def _drive_twins(host: Any, s: Any) -> None:
    """:func:`_warm_twins`'s drive of one engine built from ``s``."""
    from mmkit.assembly import build_parts, engine_of
    from mmkit.audit.harness import VenueLoop
    from mmkit.core.events import Timer

    engine = engine_of(build_parts(host.registry, s, python_kinds=("quoter",)), s)
    venue = EchoVenue()
    market = _toy_market(s.instrument, n=200)
    loop = VenueLoop(engine, venue, now_ns=market[0].local_ts - 1, step_ns=50_000_000)  # type: ignore[arg-type]
    loop.market(Timer(loop.now, "startup", local_ts=loop.now))
    for ev in market:
        if ev.local_ts > loop.now:
            loop.step(ev.local_ts - loop.now)
        loop.market(ev)
    # trade batches as a backtest delivers them, big enough (rows x our live orders) for
    # the executor twin's tape-marks kernel
    book = next(ev for ev in reversed(market) if ev.kind.name == "BOOK_SNAPSHOT")
    mid = 0.5 * (float(book.bid_px[0]) + float(book.ask_px[0]))
    for _ in range(3):
        loop.step()
        loop.market(_toy_batch(loop.now, mid, s.instrument.tick, rows=32))
    loop.settle(max_steps=40, min_steps=10)


def _warm_quoter(config: Path, plugins: Sequence[str] = ()) -> None:
    """The configured quoter's twin alone (nothing when twins are off or it has none),
    quoting the toy market's books with the position swept across its limits and hostile
    estimates among plausible ones: the kernels its quotes call compile here, beside the
    other groups (the GLFT twin's are a third of all the twins' compile); those with
    explicit signatures that no quote reached compile at the end, as in every worker."""
    from mmkit.assembly import build_twinned
    from mmkit.components import Estimates, View
    from mmkit.core.market import MarketState
    from mmkit.core.portfolio import Portfolio

    host, s = _settings(config, plugins)
    if s.engine.twins == "off":
        return
    choices: list[Any] = []
    quoter = build_twinned(host.registry, s, "quoter", s.components.quoter, choices)
    if not choices[0].compiled:  # a quoter without a twin: its Python runs, nothing compiles
        return
    market = MarketState()
    portfolio = Portfolio(position=0.0, position_known=True)
    view = View(s.instrument, market, portfolio, s.risk.max_position)
    lim = s.risk.max_position
    books = [ev for ev in _toy_market(s.instrument, n=40) if ev.kind.name == "BOOK_SNAPSHOT"]
    for k, ev in enumerate(books):
        market.apply(ev, ev.local_ts)
        est = Estimates()
        est.warmed_up = True
        est.kappa, est.sigma = (50.0, 5e-4) if k % 4 else (1e6, 1e-9)
        est.spread_scale = 1.0 + (k % 3)
        est.skew_shift = 1e-4 * ((k % 5) - 2)
        portfolio.position = lim * ((k % 9) - 4) / 4.0  # short at the limit .. long at it
        quoter.quote(view, est, ev.local_ts)


def _toy_batch(now: int, mid: float, tick: float, rows: int) -> Any:
    """``rows`` trades received up to ``now``, alternately bought and sold, walking away
    from ``mid`` (the k-th pair 2^k ticks out, up to a third of ``mid``): prints through any
    quote near the book, so that the executor's tape marks have orders to mark (a batch
    that touches no order skips them, and their kernel would then compile in the run)."""
    import numpy as np

    from mmkit.core.events import TradeBatch

    k = np.arange(rows)
    t = now - rows + 1 + k
    side = np.where(k % 2 == 0, 1, -1).astype(np.int8)
    out = np.minimum(tick * 2.0 ** (k // 2), mid / 3.0)
    px = np.round((mid + side * out) / tick) * tick
    return TradeBatch(t, px.astype(np.float64), np.full(rows, 0.01), side, t)


def main(argv: Sequence[str]) -> int:
    """``GROUP CONFIG.toml [PLUGIN_MODULE ...]``: compile one group's kernels."""
    from mmkit.runtime.lazy_blas import defer_blas_probe

    defer_blas_probe()  # as the mmkit command does (numba is not imported yet)
    group, config, plugins = argv[0], Path(argv[1]), argv[2:]
    workers = {
        "venue": _warm_venue,
        "market": _warm_market,
        "twins": _warm_twins,
        "quoter": _warm_quoter,
    }
    from mmkit.errors import MmkitError

    try:
        workers[group](config, plugins)
    except MmkitError:
        # the configuration (a plugin's factory, a bad value) does not build: the command
        # builds the same engine next and says why, once; the warm-up only steps aside
        return EXIT_CONFIG_ERROR
    # kernels whose explicit signatures wait for their first use (mmkit.deferred_kernels)
    # and that the drive above did not reach: compiled now, as an eager kernel of the same
    # modules would have been, so that no path of a run compiles one mid-session
    from mmkit.deferred_kernels import compile_deferred

    compile_deferred()
    return 0


def warm_in_process(groups: Sequence[str], workdir: Path, *, stamp: bool = False) -> None:
    """Run ``groups``' warm-ups one after the other in this process, on the default
    settings (written to ``workdir/config.toml``), and stamp each when ``stamp``: for tests
    and tools that read what a cold compile makes (compile events, the kernels' IR) in a
    process of their own, where the warm-up's workers would hide it in theirs."""
    import tomli_w

    from mmkit.config.loader import load_settings
    from mmkit.plugin_manager import PluginHost

    host = PluginHost(load_entrypoints=False)
    cfg = workdir / "config.toml"
    cfg.write_text(tomli_w.dumps(load_settings(None, host.registry, env={}).merged_full()))
    for group in groups:
        main([group, str(cfg)])
        if stamp and not write_stamp(group):
            raise RuntimeError(f"the stamp of group {group!r} could not be written")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
