"""Execution safety: order tracking, smart reconciliation, rate limits, budget, sync.

The ``smart`` executor (:mod:`mmkit.execution.smart_executor`) composes small parts, each in
its own module: the order tracker (:mod:`.orders`), the ladder diff (:mod:`.reconciler`),
the proactive IP/address rate tracker (:mod:`.rate_limit`), rejection and 429 backoff
(:mod:`.backoff`), the execution budget (:mod:`.budget`), position reconciliation
(:mod:`.position_sync`), startup sync (:mod:`.startup`) and the orphan tracker
(:mod:`.orphans`). See ``docs/execution.md``.
"""
