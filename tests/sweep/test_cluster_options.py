"""``mmkit sweep``'s cluster options are checked before anything runs: a ``--scheduler``
that is not ``tcp://HOST:PORT`` or where no scheduler answers, ``--workers`` below 1 (or with
``--scheduler``, which it does not size) and ``--top`` below 1. Before: an internal error
(``ValueError: missing port number``, ``OSError: Timed out trying to connect``, exit 70), a
hang with no output (``--workers -1``) and a table one row short (``--top -1``)."""

from __future__ import annotations

import socket
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from tests.cli.helpers import run_cli

from mmkit.errors import ConfigError
from mmkit.sweep.cluster import SCHEDULER_SCHEMES, cluster_problems, dask_client, scheduler_problem

_hosts = st.one_of(
    st.sampled_from(["127.0.0.1", "localhost", "[::1]", "10.0.0.5", "sched-1.example", ""]),
    st.from_regex(r"[a-z0-9.-]{1,12}", fullmatch=True),
)
_ports = st.one_of(
    st.integers(min_value=-5, max_value=70_000).map(str),
    st.sampled_from(["", "abc", "+1", "08786", " 1", "1e3"]),
)
_schemes = st.one_of(st.sampled_from([*SCHEDULER_SCHEMES, "TCP", "foo", "inproc", ""]))
_addresses = st.one_of(
    st.builds(lambda s, h, p: f"{s}://{h}:{p}", _schemes, _hosts, _ports),
    st.builds(lambda h, p: f"{h}:{p}", _hosts, _ports),
    st.builds(lambda a, tail: a + tail, st.just("tcp://h:1"), st.sampled_from(["/", "/x", "?a"])),
    st.text(max_size=30),
)


@settings(max_examples=400, deadline=None)
@given(_addresses)
@example("notanaddr")
@example("tcp://127.0.0.1:99999")
@example("TCP://h:1")
def test_an_accepted_address_is_one_dask_connects_to_as_given(address: str) -> None:
    """Whatever the check lets through, Dask's own parser reads as the same host and port
    (so no malformed address reaches Dask); whatever it refuses is said with the option."""
    addressing = pytest.importorskip("distributed.comm.addressing")
    why = scheduler_problem(address)
    if why is not None:
        assert why.startswith(f"--scheduler {address!r}: ") and "tcp://HOST:PORT" in why
        return
    host, port = addressing.get_address_host_port(address)
    ours = urlsplit(address if "://" in address else f"tcp://{address}")
    assert (host.lower(), port) == (ours.hostname, ours.port) and 1 <= port <= 65535


@given(st.integers(max_value=0), st.none() | st.just("tcp://127.0.0.1:8786"))
def test_workers_below_one_or_beside_a_scheduler_are_refused(
    workers: int, scheduler: str | None
) -> None:
    (problem,) = cluster_problems(scheduler, workers)
    assert problem.startswith(f"--workers {workers}: ")
    assert cluster_problems(scheduler, None) == []
    assert cluster_problems(None, 1) == []


def test_a_scheduler_that_does_not_answer_is_a_clear_error() -> None:
    pytest.importorskip("dask.distributed")
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    with pytest.raises(ConfigError) as exc, dask_client(address, timeout_s=1.0):
        pass
    (problem,) = exc.value.problems
    assert problem.startswith(f"--scheduler {address}: cannot connect to a Dask scheduler")


@pytest.mark.parametrize(
    ("flags", "needle"),
    [
        (["--scheduler", "notanaddr"], "--scheduler 'notanaddr': no port"),
        (["--scheduler", "foo://h:1"], "unknown scheme 'foo'"),
        (["--workers", "-1"], "--workers -1: must be an integer >= 1"),
        (["--workers", "0"], "--workers 0: must be an integer >= 1"),
        (["--workers", "2", "--scheduler", "tcp://127.0.0.1:9"], "--workers 2: sizes the local"),
        (["--top", "-1"], "--top -1: must be an integer >= 1"),
        (["--top", "0"], "--top 0: must be an integer >= 1"),
    ],
)
def test_the_command_refuses_them_at_once(
    flags: list[str],
    needle: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    cold: list[list[str]],
) -> None:
    grid = tmp_path / "sweep.toml"
    grid.write_text('[grid]\n"quoters.glft.gamma" = [10.0, 50.0]\n')
    data = tmp_path / "never-read.parquet"  # refused before the data is looked at
    code, out, err = run_cli(["sweep", str(data), "--grid", str(grid), *flags], capsys)
    assert code == 2, (code, out, err)
    assert err.startswith("error: ") and needle in err and "Traceback" not in err, err
    assert cold == []  # no warm-up, no cluster
