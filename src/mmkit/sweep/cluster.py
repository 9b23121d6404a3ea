"""The Dask client of a sweep: an embedded local cluster, or an existing scheduler."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

from mmkit.errors import ConfigError
from mmkit.extras import require

#: the schemes of a Dask scheduler's address that are a HOST:PORT (no scheme: tcp)
SCHEDULER_SCHEMES = ("tcp", "tls", "ws", "wss")

#: how long a sweep waits for an existing scheduler to answer
CONNECT_TIMEOUT_S = 30.0


def scheduler_problem(address: str) -> str | None:
    """Why ``address`` (``--scheduler``) is not a Dask scheduler's ``tcp://HOST:PORT``, or
    None. Only the form is checked here; whether a scheduler answers there, when connecting."""
    why = _address_problem(address)
    if why is None:
        return None
    return f"--scheduler {address!r}: {why}; expected tcp://HOST:PORT, e.g. tcp://10.0.0.5:8786"


def _address_problem(address: str) -> str | None:
    if not address.isprintable() or any(c.isspace() for c in address):
        return "spaces or control characters"
    try:
        parts = urlsplit(address if "://" in address else f"tcp://{address}")
        port = parts.port
    except ValueError:  # a port not in 0..65535 or not a number, a broken [IPv6] host
        return "not HOST:PORT with a port from 1 to 65535"
    scheme = address.split("://", 1)[0] if "://" in address else "tcp"  # as written: Tcp is not
    if scheme not in SCHEDULER_SCHEMES:
        return f"unknown scheme {scheme!r} (known: {', '.join(SCHEDULER_SCHEMES)})"
    if not parts.hostname or "@" in parts.netloc:
        return "no host"
    if not port:
        return "no port (a number from 1 to 65535)"
    if parts.path or parts.query or parts.fragment:
        return "unexpected text after the port"
    return None


def cluster_problems(scheduler: str | None, workers: int | None) -> list[str]:
    """What is wrong with ``--scheduler`` and ``--workers`` (nothing: an empty list)."""
    problems = []
    if scheduler is not None:
        why = scheduler_problem(scheduler)
        if why is not None:
            problems.append(why)
        if workers is not None:
            problems.append(
                f"--workers {workers}: sizes the local cluster; an existing --scheduler keeps "
                "its own workers (give one or the other)"
            )
    elif workers is not None and workers < 1:
        problems.append(f"--workers {workers}: must be an integer >= 1 (default: one per core)")
    return problems


@contextmanager
def dask_client(
    scheduler: str | None, workers: int | None = None, *, timeout_s: float = CONNECT_TIMEOUT_S
) -> Iterator[Any]:
    """``scheduler`` None: a LocalCluster on 127.0.0.1 (one single-threaded worker process
    per core, or ``workers``); else connect to ``tcp://HOST:PORT`` and use it unchanged
    (a scheduler that does not answer within ``timeout_s`` is a :class:`ConfigError`)."""
    problems = cluster_problems(scheduler, workers)
    if problems:
        raise ConfigError(problems)
    distributed = require("dask.distributed", "sweep", "mmkit sweep")
    if scheduler:
        try:
            client = distributed.Client(scheduler, timeout=f"{timeout_s}s")
        except OSError as exc:  # refused, unreachable, timed out (TimeoutError), no such host
            why = (str(exc).splitlines() or [type(exc).__name__])[0]
            raise ConfigError(
                [
                    f"--scheduler {scheduler}: cannot connect to a Dask scheduler ({why}); is "
                    "it running, and is the address right?"
                ]
            ) from None
        try:
            yield client
        finally:
            client.close()
        return
    n = max(1, os.cpu_count() or 1) if workers is None else workers
    cluster = distributed.LocalCluster(
        n_workers=n,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        silence_logs=40,
    )
    client = distributed.Client(cluster)
    try:
        yield client
    finally:
        import logging

        # workers' heartbeats racing the shutdown log harmless "stream closed" errors
        quiet = logging.getLogger("distributed")
        level = quiet.level
        quiet.setLevel(logging.CRITICAL)
        try:
            client.close()
            cluster.close()
        finally:
            quiet.setLevel(level)
