"""A rich progress bar on stderr while the audit runs (only on a terminal)."""

from __future__ import annotations

from types import TracebackType
from typing import Any

from mmkit.audit.results import Result, Status


class ProgressDisplay:
    """Context manager; its methods are the runner's ``on_start``/``before``/``on_result``."""

    def __init__(self, force: bool | None = None) -> None:
        from rich.console import Console

        self.console = Console(stderr=True)
        self.enabled = self.console.is_terminal if force is None else force
        self._progress: Any = None
        self._task: Any = None
        self._failed = 0

    def __enter__(self) -> ProgressDisplay:
        if self.enabled:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self._progress = Progress(
                TextColumn("[bold]audit"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("{task.description}"),
                console=self.console,
                transient=True,
            )
            self._progress.__enter__()
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._progress is not None:
            self._progress.__exit__(et, ev, tb)

    def start(self, total: int) -> None:
        if self._progress is not None:
            self._task = self._progress.add_task("", total=total)

    def before(self, inv: Any, target: Any) -> None:
        if self._progress is not None and self._task is not None:
            what = f"{inv.id} on {target.kind}:{target.name}" if target is not None else inv.id
            self._progress.update(self._task, description=what)

    def done(self, res: Result) -> None:
        if res.status is Status.FAIL:
            self._failed += 1
        if self._progress is not None and self._task is not None:
            if res.status in (Status.FAIL, Status.CONCERN, Status.UNAUDITED):
                self._progress.console.print(
                    f"{res.status.value} {res.invariant.id} on {res.target_label}: "
                    f"{res.explanation}",
                    markup=False,
                    highlight=False,
                )
            self._progress.advance(self._task)
