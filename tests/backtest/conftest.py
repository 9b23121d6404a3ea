"""The backtest tests' fixtures live in ``tests/conftest.py`` (``synthetic_store`` is shared
with the twins' tests)."""
