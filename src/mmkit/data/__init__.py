"""Market data: the canonical event store, loaders, the synthetic market and the recorder.

This package's ``__init__`` stays light (no numpy/pyarrow at import): the CLI imports
:mod:`mmkit.data.params` at start-up. Import the submodules you need:

* :mod:`mmkit.data.schema` — the record layout shared by every producer and consumer;
* :mod:`mmkit.data.store` — Parquet writer (atomic) and streaming reader;
* :mod:`mmkit.data.adapter` — store records to :mod:`mmkit.core.events` events;
* :mod:`mmkit.data.loaders` — Binance, Hyperliquid, Hyperliquid archive and LOBSTER loaders;
* :mod:`mmkit.data.synthetic` — the seeded synthetic market;
* :mod:`mmkit.data.recorder` — ``mmkit record``.
"""
