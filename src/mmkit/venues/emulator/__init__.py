"""The loopback Hyperliquid emulator (``mmkit venue emulate``).

An aiohttp server on 127.0.0.1 speaking Hyperliquid's ``/info``, ``/exchange`` and ``/ws``
protocol, backed by the simulated exchange (:mod:`mmkit.venues.sim`) and fed by the synthetic
market or a replayed capture, with scriptable fault injection. See ``docs/emulator.md``.

* :mod:`~mmkit.venues.emulator.config` — :class:`EmulatorConfig` (standard library only);
* :mod:`~mmkit.venues.emulator.market` — the market clock and book the emulator publishes;
* :mod:`~mmkit.venues.emulator.accounts` — accounts, agents, order and fill records;
* :mod:`~mmkit.venues.emulator.limits` — nonces, IP weights, address budgets;
* :mod:`~mmkit.venues.emulator.exchange` — ``/exchange`` actions on the simulated exchange;
* :mod:`~mmkit.venues.emulator.info` — ``/info`` queries;
* :mod:`~mmkit.venues.emulator.hub` — WebSocket subscriptions and publishing;
* :mod:`~mmkit.venues.emulator.faults` — fault catalogue, scenario files, control commands;
* :mod:`~mmkit.venues.emulator.server` — the aiohttp application and its lifecycle;
* :mod:`~mmkit.venues.emulator.thread` — the emulator in a background thread (the SDK's tests).

Importing this package is light; the submodules import numpy, numba and aiohttp.
"""
