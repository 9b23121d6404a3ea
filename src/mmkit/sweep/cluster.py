"""The Dask client of a sweep: an embedded local cluster, or an existing scheduler."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from mmkit.extras import require


@contextmanager
def dask_client(scheduler: str | None, workers: int | None = None) -> Iterator[Any]:
    """``scheduler`` None: a LocalCluster on 127.0.0.1 (one single-threaded worker process
    per core, or ``workers``); else connect to ``tcp://HOST:PORT`` and use it unchanged."""
    distributed = require("dask.distributed", "sweep", "mmkit sweep")
    if scheduler:
        client = distributed.Client(scheduler, timeout="30s")
        try:
            yield client
        finally:
            client.close()
        return
    n = workers or max(1, os.cpu_count() or 1)
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
