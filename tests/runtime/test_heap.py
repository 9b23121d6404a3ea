"""The collector policy of long runs: start-up objects frozen for the run, thawed after."""

from __future__ import annotations

import atexit
import gc

import pytest

from mmkit.runtime import heap


def test_frozen_heap_freezes_for_the_run_and_thaws_after() -> None:
    gc.unfreeze()
    keep = [object() for _ in range(100)]
    with heap.frozen_heap():
        assert gc.get_freeze_count() > 0
        with heap.frozen_heap():  # nested: only the outer one thaws
            pass
        assert gc.get_freeze_count() > 0
        heap.settle()  # objects allocated by set-up join the frozen ones
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0
    del keep


def test_frozen_heap_thaws_when_the_run_raises() -> None:
    with pytest.raises(RuntimeError), heap.frozen_heap():
        raise RuntimeError("run failed")
    assert gc.get_freeze_count() == 0


def test_settle_outside_a_run_freezes_nothing() -> None:
    gc.unfreeze()
    heap.settle()
    assert gc.get_freeze_count() == 0


def test_fast_exit_registers_its_hook_once(monkeypatch: pytest.MonkeyPatch) -> None:
    registered: list[object] = []
    monkeypatch.setattr(heap, "_exit_hook", False)
    monkeypatch.setattr(atexit, "register", registered.append)
    heap.fast_exit()
    heap.fast_exit()
    assert registered == [gc.freeze]


def test_a_quiet_setup_pauses_the_collector_until_settle() -> None:
    assert gc.isenabled()
    with heap.frozen_heap(collect_during_setup=False):
        assert not gc.isenabled()
        heap.settle()
        assert gc.isenabled()
    assert gc.isenabled() and gc.get_freeze_count() == 0


def test_a_quiet_setup_that_fails_resumes_collecting() -> None:
    with pytest.raises(ValueError), heap.frozen_heap(collect_during_setup=False):
        raise ValueError("bad config")
    assert gc.isenabled() and gc.get_freeze_count() == 0


def test_the_start_up_pause_resumes_once_and_leaves_a_disabled_collector_alone() -> None:
    assert gc.isenabled()
    heap.pause_startup()
    assert not gc.isenabled()
    heap.pause_startup()  # idempotent
    heap.resume_startup()
    assert gc.isenabled()
    heap.resume_startup()  # idempotent: nothing more to resume
    assert gc.isenabled()
    gc.disable()  # someone else's choice: the pause neither takes nor ends it
    try:
        heap.pause_startup()
        heap.resume_startup()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_main_leaves_the_collector_on_whether_or_not_a_command_ran() -> None:
    """The CLI pauses the collector while it builds its commands; in-process callers (the
    test suite) get it back on after a command, a usage error and --version alike."""
    from mmkit.cli.main import main

    for argv in (["--version"], ["no-such-command"], ["--no-entrypoints", "plugins", "--json"]):
        with pytest.raises(SystemExit):
            main(argv)
        assert gc.isenabled(), argv
