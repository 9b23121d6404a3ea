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


def pyplot(what: str = "--plots") -> ModuleType:
    """matplotlib.pyplot on the non-interactive Agg backend; ``what`` names the option or
    command that needs it in the error when matplotlib is missing."""
    mpl = require("matplotlib", "plots", what)
    mpl.use("Agg")
    return require("matplotlib.pyplot", "plots", what)
