"""Optional dependencies of the research commands, imported lazily with a clear message."""

from __future__ import annotations

from types import ModuleType

from mmkit.errors import MmkitError


def require(module: str, extra: str, what: str) -> ModuleType:
    """Import ``module`` or raise naming the extra that installs it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise MmkitError(
            f"{what} needs {module.split('.')[0]}, which is not installed: "
            f"pip install 'mmkit[{extra}]'"
        ) from None


def pyplot() -> ModuleType:
    """matplotlib.pyplot on the non-interactive Agg backend."""
    mpl = require("matplotlib", "plots", "--plots")
    mpl.use("Agg")
    return require("matplotlib.pyplot", "plots", "--plots")
