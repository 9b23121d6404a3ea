"""The note a live run gives when the paper clock's ``trade.duration_s`` is set (a live run
stops on ``--duration`` or a signal, never on that key): said for a value someone chose,
not for the default (which ``mmkit config init`` writes into every file), and not when
``--duration`` is given. The live run itself is stubbed out: the note comes before it
starts (tests/runtime/test_live_cli_e2e.py runs the real one against the emulator)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.cli.helpers import run_cli

import mmkit.runtime.live_run as live_run
from mmkit.errors import MmkitError

NOTE = "note: trade.duration_s"


def _live(
    extra: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> str:
    def started(*a: object, **k: object) -> None:
        raise MmkitError("stub: the live run would start here")

    monkeypatch.setattr(live_run, "run_live_from_cli", started)
    args = ["trade", "--venue", "hyperliquid", "--url", "http://127.0.0.1:9", "--no-journal"]
    code, _out, err = run_cli([*args, "--no-dashboard", *extra], capsys)
    assert code == 2 and "stub: the live run would start here" in err, err
    return err


@pytest.mark.parametrize(
    ("extra", "said"),
    [
        (["--set", "trade.duration_s=45"], True),
        (["--set", "trade.duration_s=600"], False),  # the default
        (["--set", "trade.duration_s=45", "--duration", "30"], False),  # --duration bounds it
        ([], False),
    ],
)
def test_the_note_is_for_a_chosen_value(
    extra: list[str],
    said: bool,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    err = _live(extra, capsys, monkeypatch)
    assert (NOTE in err) is said, err
    if said:
        assert "(set in command line --set trade.duration_s)" in err
        assert err.index(NOTE) < err.index("stub:")  # before the run starts


def test_a_config_from_config_init_gives_no_note(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / "mmkit.toml"
    code, _out, err = run_cli(["config", "init", str(cfg)], capsys)
    assert code == 0, err
    assert NOTE not in _live(["--config", str(cfg)], capsys, monkeypatch)
    text = cfg.read_text().replace("duration_s = 600.0", "duration_s = 45.0", 1)
    cfg.write_text(text)
    err = _live(["--config", str(cfg)], capsys, monkeypatch)
    assert NOTE in err and str(cfg) in err
