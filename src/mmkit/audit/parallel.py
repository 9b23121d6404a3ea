"""Running the audit's checks on several cores: one forked worker process per core.

The runner plans its (invariant, component) checks in the parent and hands them, one at a
time, to workers forked from it after every component was built and verified. A worker
runs :func:`~mmkit.audit.runner.run_check` exactly as the one-process audit does and sends
back the :class:`~mmkit.audit.results.Result`; the parent gives it the next check. So:

* **the same results, in the same order.** Each check is derandomised on its own (or
  forced to the run's seed) and uses no example database, so where it runs does not change
  what hypothesis draws; the report lists the results in the plan's order, not in the
  order they finished. ``tests/audit/test_parallel.py`` holds a two-worker audit to the
  one-process audit's report, field by field, and so does CI's own audit run by run.
* **the longest checks first.** Checks are handed out by their expected cost (the
  invariant's ``cost`` hint), longest first, so that no long check starts last while the
  other cores idle.
* **a crash is a finding, not the end of the audit.** A check that kills its worker (a
  segfault in a plugin's compiled code, ``os._exit``, the out-of-memory killer) is a FAIL
  of that check naming how the process ended; the parent forks a fresh worker for the
  checks left. In one process the same crash ends the whole audit with no report.

Workers are forked (their memory is the parent's, nothing is pickled on the way in), so
this runs where ``fork`` is safe: Linux. Elsewhere, and with ``--jobs 1``, the checks run
in the audit's own process, one after the other, as before.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import signal
import sys
from collections import deque
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection, wait
from typing import Any

from mmkit.audit.results import ComponentInfo, InvariantInfo, Result, Status
from mmkit.cores import usable_cores

#: what runs one check (the runner's ``run_check`` with its context bound)
RunOne = Callable[[Any, Any], Result]
Hook = Callable[[Any, Any], None]
Done = Callable[[Result], None]


def can_fork() -> bool:
    """Whether workers can be forked safely here (Linux; macOS's system libraries are not
    fork-safe, Windows has no fork)."""
    return sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()


def resolve_jobs(jobs: int, checks: int) -> int:
    """The worker count: ``jobs`` (0 = one per usable core), no more than the checks (but
    two for a single check, so that it still runs in a worker: a crash stays a finding),
    and 1 (the audit's own process) where workers cannot be forked or 1 was asked for."""
    if jobs < 0:
        raise ValueError(f"jobs must be >= 0, got {jobs}")
    n = usable_cores() if jobs == 0 else jobs
    if n <= 1 or not can_fork():
        return 1
    return min(n, max(2, checks))


def expected_cost(inv: Any) -> float:
    """How long a check of ``inv`` is expected to run, relative to a typical check: its
    ``cost`` hint (:class:`~mmkit.audit.invariant.Invariant`), 1.0 without a usable one."""
    value = getattr(inv, "cost", None)
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < 1e9:
        return float(value)
    return 1.0


def dispatch_order(plan: Sequence[tuple[Any, Any]]) -> list[int]:
    """The plan's indices, longest expected check first; ties keep the plan's order."""
    return sorted(range(len(plan)), key=lambda i: -expected_cost(plan[i][0]))


def describe_exit(code: int | None) -> str:
    """How a worker process ended, in words (``code`` as ``Process.exitcode`` gives it)."""
    if code is None:
        return "it stopped answering"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"it was killed by {name}"
    return f"it exited with status {code}"


def crash_result(inv: Any, target: Any, how: str, *, crashed: bool = True) -> Result:
    """The FAIL of a check whose worker process died while running it (``crashed``), or
    that ended otherwise than by returning or raising an ``Exception`` (``how`` says what
    happened)."""
    from mmkit.audit.runner import component_info

    info = InvariantInfo.of(inv)
    comp: ComponentInfo | None = component_info(target.spec) if target is not None else None
    label = f"{target.kind}:{target.name}" if target is not None else "the configured set"
    if crashed:
        message = (
            f"the check ended its audit worker process ({how}) while auditing {label}: a "
            "crash in compiled code or in the interpreter, not a failed assertion; "
            f"`python -X faulthandler -m mmkit audit --jobs 1 --only {info.id}` shows where "
            "(in one process, which the crash then ends)"
        )
    else:
        message = f"{how} while auditing {label}; the audit went on with the other checks"
    return Result(info, comp, Status.FAIL, message)


def _worker(conn: Connection, plan: Sequence[tuple[Any, Any]], run_one: RunOne) -> None:
    """A worker's loop: receive a plan index, say it started, run that check and send back
    its result; ``None`` ends it. Ctrl-C is the parent's to handle (it stops the workers)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        try:
            index = conn.recv()
        except EOFError:
            return
        if index is None:
            return
        conn.send(("start", index))
        inv, target = plan[index]
        try:
            result = run_one(inv, target)
        except BaseException as exc:  # SystemExit & co from a check
            why = f"the check raised {type(exc).__name__}: {exc}, which ends a process"
            result = crash_result(inv, target, why, crashed=False)
        try:
            conn.send(("done", result))
        except Exception as exc:  # a result that does not pickle
            why = f"the check's result could not be sent back from its worker: {exc}"
            conn.send(("done", crash_result(inv, target, why, crashed=False)))


class _Slot:
    """One worker process, its end of the pipe, and the plan index it was given (and
    whether it said it started it)."""

    def __init__(self, ctx: Any, plan: Sequence[tuple[Any, Any]], run_one: RunOne) -> None:
        parent_end, child_end = ctx.Pipe(duplex=True)
        self.conn: Connection = parent_end
        self.proc = ctx.Process(
            target=_worker, args=(child_end, plan, run_one), name="mmkit-audit", daemon=True
        )
        self.proc.start()
        child_end.close()
        self.given: int | None = None
        self.started = False

    def give(self, index: int | None) -> None:
        """Hand ``index`` (None: stop) to the worker."""
        self.given, self.started = index, False
        with contextlib.suppress(OSError):  # BrokenPipeError: the worker is gone
            self.conn.send(index)

    def stop(self) -> None:
        if self.proc.is_alive():
            self.proc.terminate()
        self.proc.join(timeout=5)
        self.conn.close()


def _next_message(slot: _Slot) -> tuple[Any, ...] | None:
    """The worker's next message, None if it has none yet; EOFError once it has ended and
    nothing is left in the pipe (what it sent before dying is read first)."""
    if slot.conn.poll():
        return tuple(slot.conn.recv())
    if slot.proc.is_alive():
        return None
    if slot.conn.poll():  # it sent something and ended between the two looks
        return tuple(slot.conn.recv())
    raise EOFError


#: fresh workers that may die before starting their first check before the rest of the
#: plan runs in the audit's own process instead
MAX_LOST_WORKERS = 3


def run_plan(
    plan: Sequence[tuple[Any, Any]],
    run_one: RunOne,
    *,
    jobs: int,
    before: Hook | None = None,
    on_result: Done | None = None,
    post: Callable[[Result], Result] | None = None,
) -> list[Result]:
    """Run every check of ``plan`` with ``jobs`` worker processes (1: in this process) and
    return the results in the plan's order. ``before`` is called as a check is handed out;
    ``post`` (in this process: the waivers) maps each result as it arrives, and
    ``on_result`` is then called with it."""
    results: list[Result | None] = [None] * len(plan)

    def finish(index: int, result: Result) -> None:
        if post is not None:
            result = post(result)
        results[index] = result
        if on_result is not None:
            on_result(result)

    def run_here(indices: Sequence[int]) -> None:
        for index in indices:
            inv, target = plan[index]
            if before is not None:
                before(inv, target)
            finish(index, run_one(inv, target))

    if jobs <= 1 or not plan:
        run_here(range(len(plan)))
        return [r for r in results if r is not None]

    ctx = multiprocessing.get_context("fork")
    queue = deque(dispatch_order(plan))
    slots: list[_Slot] = []
    lost = 0

    def hand_out(slot: _Slot) -> None:
        index = queue.popleft() if queue else None
        if index is not None and before is not None:
            before(*plan[index])
        slot.give(index)  # a worker gone before it got it gives it back when retired

    def retire(slot: _Slot) -> None:
        """A worker that ended with a check in hand: FAIL it if it had started it, hand it
        out again if not; fork a fresh worker while checks are left."""
        nonlocal lost
        slot.proc.join(timeout=10)
        index = slot.given
        if index is not None and slot.started:
            finish(index, crash_result(*plan[index], describe_exit(slot.proc.exitcode)))
        elif index is not None:
            queue.appendleft(index)
            lost += 1
        slot.stop()
        slots.remove(slot)
        if queue and lost < MAX_LOST_WORKERS:
            fresh = _Slot(ctx, plan, run_one)
            slots.append(fresh)
            hand_out(fresh)

    try:
        for _ in range(min(jobs, len(plan))):
            slot = _Slot(ctx, plan, run_one)
            slots.append(slot)
            hand_out(slot)
        while any(s.given is not None for s in slots):
            busy = [s for s in slots if s.given is not None]
            wait([s.conn for s in busy] + [s.proc.sentinel for s in busy])
            for slot in busy:
                while slot.given is not None:
                    try:
                        message = _next_message(slot)
                    except (EOFError, OSError):
                        retire(slot)
                        break
                    if message is None:
                        break
                    if message[0] == "start":
                        slot.started = True
                    else:
                        finish(slot.given, message[1])
                        hand_out(slot)
        if queue:  # workers kept dying before their first check: the rest runs here
            run_here(list(queue))
            queue.clear()
    finally:
        for slot in slots:
            slot.stop()
    return [r for r in results if r is not None]
