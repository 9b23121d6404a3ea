"""Run reports shared by ``backtest``, ``trade`` and ``journal``: standard statistics
(:mod:`mmkit.reports.stats`) and the run's time accounting (:mod:`mmkit.reports.timeline`)."""
