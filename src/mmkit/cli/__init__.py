"""The ``mmkit`` command line (typer). Commands arrive through the ``register_commands`` hook."""
