"""nox sessions: tests, explore, types, lint, audit, bench (``nox -l`` lists them)."""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "types", "lint", "audit"]
nox.options.reuse_existing_virtualenvs = True

PYTHON = ["3.11", "3.12"]
#: the plugins in plugins/ whose tests are in pytest's testpaths and mypy's files
BUNDLED_PLUGINS = (
    "mmkit-avellaneda-stoikov",
    "mmkit-broken-fixtures",
    "mmkit-toy-venue",
    "mmkit-audit-gauntlet",
)


def install_with_plugins(session: nox.Session) -> None:
    """mmkit[dev] and the bundled plugins, as the README's test command installs them."""
    session.install("-e", ".[dev]")
    for plugin in BUNDLED_PLUGINS:
        session.install("-e", f"plugins/{plugin}")


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The whole test suite (slow tests included), in parallel."""
    install_with_plugins(session)
    session.run("pytest", "-n", "2", *session.posargs)


@nox.session(python="3.11")
def explore(session: nox.Session) -> None:
    """The whole test suite with fresh random property-test examples (the ``tests``
    session's are derandomised, the same every run): for finding what those miss."""
    install_with_plugins(session)
    session.run("pytest", "-n", "2", *session.posargs, env={"MMKIT_HYPOTHESIS": "explore"})


@nox.session(python="3.11")
def types(session: nox.Session) -> None:
    """mypy --strict on the files of pyproject's [tool.mypy]: src/mmkit, the tests and the
    plugins' tests (what CI runs). The bundled plugins are installed: the tests import them."""
    install_with_plugins(session)
    session.run("mypy", "--strict")


@nox.session(python="3.11")
def lint(session: nox.Session) -> None:
    """ruff."""
    session.install("ruff>=0.5")
    session.run(
        "ruff", "check", "src", "tests", "benchmarks", "plugins", "noxfile.py", "conftest.py"
    )


@nox.session(python="3.11")
def audit(session: nox.Session) -> None:
    """mmkit audit --strict on the default plugin set (what CI gates on)."""
    session.install("-e", ".[dev]")
    session.run("mmkit", "--no-entrypoints", "audit", "--strict", *session.posargs)


@nox.session(python="3.11")
def bench(session: nox.Session) -> None:
    """Every benchmark script; each prints its figures (no assertions)."""
    session.install("-e", ".[dev]")
    import pathlib

    for script in sorted(pathlib.Path("benchmarks").glob("*.py")):
        if script.name.startswith("_"):
            continue
        session.run("python", str(script), *session.posargs)
