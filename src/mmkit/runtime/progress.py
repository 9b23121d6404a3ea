"""What the screen says while a cold first run compiles mmkit's numba kernels.

Compiling the kernels of a default ``mmkit trade`` takes seconds of CPU in which nothing
else happens; without a word the terminal looks hung. :class:`CompileProgress` reports it:

* on a terminal, one live line rewritten in place (``\\r`` and erase-to-end-of-line), at
  most every ``refresh_s`` seconds: each group's state, the time elapsed and the expected
  time, which comes from measured compile times (see
  :data:`mmkit.runtime.precompile.MEASURED_CPU_S`) and, once the elapsed time passes it,
  says so (beyond a margin) instead of counting past it silently; it stays on screen;
* off a terminal (a pipe, a log file, CI), exactly one line when compiling starts and one
  when it ends, so that logs stay readable;
* nothing at all when the cache is warm (the caller does not create one then).

The clock is injected (``clock``), so tests drive the display with a fake clock and a
string stream; nothing here reads the wall clock directly.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TextIO

#: the terminal control sequence that erases from the cursor to the end of the line
ERASE_EOL = "\x1b[K"


@dataclass
class _Group:
    name: str
    ended_s: float | None = None  # seconds after start() when its worker ended
    ok: bool = False
    detail: str = ""


class CompileProgress:
    """Progress of the parallel kernel compile, on ``stream`` (normally ``sys.stderr``).

    ``expected_s`` is the honest estimate of the wall time (seconds) and ``basis`` says where
    it comes from (e.g. ``"measured on an idle 2-core machine"``). ``live`` forces the live
    line on or off (default: whether ``stream`` is a terminal). ``clock`` returns seconds
    (monotonic); ``refresh_s`` is the least time between two rewrites of the live line;
    ``columns`` is the terminal width the live line is cut to (default: the terminal's), since
    a line that wraps cannot be rewritten in place.
    """

    def __init__(
        self,
        stream: TextIO,
        groups: Sequence[str],
        *,
        expected_s: float,
        basis: str,
        live: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
        refresh_s: float = 0.2,
        columns: int | None = None,
    ) -> None:
        if not groups:
            raise ValueError("CompileProgress needs at least one group to report on")
        self.stream = stream
        self.groups = {g: _Group(g) for g in groups}
        self.expected_s = float(expected_s)
        self.basis = basis
        self.live = _isatty(stream) if live is None else live
        self.clock = clock
        self.refresh_s = refresh_s
        self._t0: float | None = None
        self._last_draw: float | None = None
        self.columns = columns if columns is not None else _columns(stream)
        self.finished_line: str | None = None

    # -- what is shown ---------------------------------------------------------------------

    def elapsed_s(self) -> float:
        """Seconds since :meth:`start` (0 before it)."""
        return 0.0 if self._t0 is None else max(0.0, self.clock() - self._t0)

    def start_line(self) -> str:
        """The line that announces the compile (off a terminal: the first of two lines)."""
        names = ", ".join(self.groups)
        procs = "process" if len(self.groups) == 1 else "processes"
        return (
            f"mmkit: first run: compiling numba kernels ({names}; {len(self.groups)} {procs}), "
            f"expected ~{self.expected_s:.0f} s ({self.basis}); later runs start at once"
        )

    def live_line(self) -> str:
        """The live line's text at the current clock reading."""
        now = self.elapsed_s()
        parts = []
        for g in self.groups.values():
            if g.ended_s is None:
                parts.append(f"{g.name} compiling")
            elif g.ok:
                parts.append(f"{g.name} done {g.ended_s:.1f} s")
            else:
                parts.append(f"{g.name} FAILED")
        # the estimate is approximate: only a clear overrun is called one
        if now <= self.expected_s + max(2.0, 0.2 * self.expected_s):
            clock = f"{now:.0f} s of ~{self.expected_s:.0f} s"
        else:
            clock = f"{now:.0f} s, expected ~{self.expected_s:.0f} s (busy machine?)"
        # the times first: a narrow terminal cuts the end of the line
        return f"mmkit: compiling (first run) {clock} | {', '.join(parts)}"

    def end_line(self) -> str:
        """The closing line: the time taken per group, and what failed (the run then compiles
        the failed group's kernels itself as it reaches them)."""
        total = self.elapsed_s()
        per = ", ".join(
            f"{g.name} {g.ended_s:.1f} s" if g.ok and g.ended_s is not None else f"{g.name} failed"
            for g in self.groups.values()
        )
        line = f"mmkit: compiled numba kernels in {total:.1f} s ({per}; expected ~"
        line += f"{self.expected_s:.0f} s); later runs start at once"
        failed = [g for g in self.groups.values() if not g.ok]
        if failed:
            why = "; ".join(f"{g.name}: {g.detail or 'no reason given'}" for g in failed)
            line += f". Failed: {why} (the run compiles those kernels as it reaches them)"
        return line

    # -- driving it ------------------------------------------------------------------------

    def start(self) -> None:
        """Compiling starts now: the announcement (off a terminal) or the first live line."""
        self._t0 = self.clock()
        if self.live:
            self._draw(force=True)
        else:
            self._write(self.start_line() + "\n")

    def update(self) -> None:
        """Refresh the live line if ``refresh_s`` has passed (no-op off a terminal)."""
        if self.live:
            self._draw(force=False)

    def group_done(self, name: str, ok: bool, detail: str = "") -> None:
        """Group ``name``'s worker ended (``ok``: it succeeded; ``detail``: why not)."""
        g = self.groups.get(name)
        if g is None:
            raise ValueError(f"unknown compile group {name!r}; known: {sorted(self.groups)}")
        g.ended_s = self.elapsed_s()
        g.ok = ok
        g.detail = detail
        if self.live:
            self._draw(force=True)

    def finish(self) -> str:
        """Compiling ended: the closing line replaces the live line (on a terminal) or follows
        the announcement. Returns that line."""
        for g in self.groups.values():
            if g.ended_s is None:  # never reported: it did not finish
                g.ended_s = self.elapsed_s()
                g.detail = g.detail or "did not finish"
        line = self.end_line()
        self._write(("\r" + line + ERASE_EOL if self.live else line) + "\n")
        self.finished_line = line
        return line

    def _draw(self, *, force: bool) -> None:
        now = self.clock()
        if not force and self._last_draw is not None and now - self._last_draw < self.refresh_s:
            return
        self._last_draw = now
        text = self.live_line()
        if len(text) >= self.columns:  # one character short: no wrap, even at the margin
            text = text[: max(1, self.columns - 2)] + "~"
        self._write("\r" + text + ERASE_EOL)

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # a closed or broken stream: progress is not worth a crash
            pass


def _columns(stream: TextIO) -> int:
    """The width of the terminal behind ``stream``: ``$COLUMNS`` when set, else what the
    terminal reports; 80 when neither tells (a pseudo-terminal may report 0)."""
    import os

    env = os.environ.get("COLUMNS", "")
    if env.isdigit() and int(env) > 0:
        return max(20, int(env))
    try:
        cols = os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError):  # not a terminal, or no file descriptor
        return 80
    return max(20, cols) if cols > 0 else 80


def _isatty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False
