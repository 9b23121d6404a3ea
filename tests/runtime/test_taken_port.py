"""``mmkit trade --metrics-port`` on a port something else already listens on: was an
internal error (``OSError: [Errno 98]``, exit 70); now one line naming the option, the port
and the address, exit 2, before the run's journal is created."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.cli.helpers import run_cli

from mmkit.errors import PortError
from mmkit.runtime.metrics import Metrics

pytestmark = pytest.mark.network


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port of 127.0.0.1 held by a listening socket for the test's duration."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield int(s.getsockname()[1])


def test_trade_names_the_taken_metrics_port(
    taken_port: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["trade", "--metrics-port", str(taken_port), "--duration", "5", "--no-dashboard"]
    code, out, err = run_cli([*args, "--journal-dir", str(tmp_path)], capsys)
    assert code == 2, (code, out, err)
    assert err == f"error: --metrics-port {taken_port}: address already in use on 127.0.0.1\n"
    assert not list(tmp_path.glob("*.sqlite"))  # no journal of a run that never started


def test_metrics_serve_raises_a_port_error(taken_port: int) -> None:
    m = Metrics()
    with pytest.raises(PortError) as info:
        m.serve(taken_port, option="trade.metrics_port")
    assert (
        str(info.value) == f"trade.metrics_port {taken_port}: address already in use on 127.0.0.1"
    )
    assert info.value.port == taken_port and info.value.exit_code == 2
    m.close()
