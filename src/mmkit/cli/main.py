"""Entry point of the ``mmkit`` command.

The root app is built at start-up: global options (``--plugin``, ``--no-entrypoints``) are
pre-parsed from ``argv`` so that plugins named on the command line can add commands, then
every plugin's ``register_commands`` hook (the built-in commands included) adds its commands.

Errors: an :class:`~mmkit.errors.MmkitError` is printed as its message and exits 2; any other
exception prints one line naming it and exits 70, with the traceback only when
``MMKIT_DEBUG=1``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import typer

from mmkit import __version__
from mmkit.errors import MmkitError
from mmkit.plugin_manager import argv_plugin_options, get_host
from mmkit.runtime.heap import fast_exit, pause_startup, resume_startup

EXIT_INTERNAL = 70


def _version(value: bool) -> None:
    if value:
        typer.echo(f"mmkit {__version__}")
        raise typer.Exit()


def build_app(argv: Sequence[str] | None = None) -> typer.Typer:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra, load = argv_plugin_options(argv)
    host = get_host(extra_modules=extra, load_entrypoints=load)
    app = typer.Typer(
        name="mmkit",
        help="Run, backtest, calibrate and audit a market maker on Hyperliquid perpetuals.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
    )

    @app.callback()
    def root(
        plugin: list[str] = typer.Option(
            [],
            "--plugin",
            metavar="MODULE",
            help="Also load this module as a plugin (repeatable; or MMKIT_PLUGINS=a,b).",
        ),
        no_entrypoints: bool = typer.Option(
            False,
            "--no-entrypoints",
            help="Do not load plugins from installed packages (MMKIT_LOAD_ENTRYPOINTS=0).",
        ),
        version: bool = typer.Option(
            False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ) -> None:
        """Options here apply to every command."""
        resume_startup()  # the command runs with the collector (see main)

    host.register_commands(app)
    return app


def _interrupted(exc: BaseException) -> bool:
    """Whether ``exc`` was raised while handling a KeyboardInterrupt (its chain holds one)."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        if isinstance(cur, KeyboardInterrupt):
            return True
        seen.add(id(cur))
        cur = cur.__cause__ or cur.__context__
    return False


def main(argv: Sequence[str] | None = None) -> None:
    debug = os.environ.get("MMKIT_DEBUG", "") not in ("", "0")
    fast_exit()
    # building the app imports the plugins and commands: long-lived objects only, so the
    # collector waits until the command starts (the root callback), or until main ends
    # when no command runs (--help, --version, a usage error)
    pause_startup()
    try:
        app = build_app(argv)
        app(
            args=list(sys.argv[1:] if argv is None else argv),
            prog_name="mmkit",
            standalone_mode=True,
        )
    except MmkitError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise SystemExit(exc.exit_code) from None
    except KeyboardInterrupt:  # before a runner installed its own handler (e.g. start-up)
        typer.echo("\ninterrupted", err=True)
        raise SystemExit(130) from None
    except SystemExit as exc:
        # typer turns a Ctrl-C inside a command into a silent exit 130: say why it ended
        if exc.code == 130 and _interrupted(exc):
            typer.echo("\ninterrupted", err=True)
        raise
    except Exception as exc:  # CLI top level: an unexpected error becomes one line (--debug: trace)
        if debug:
            raise
        typer.echo(
            f"internal error: {type(exc).__name__}: {exc}\n"
            "(set MMKIT_DEBUG=1 to see the traceback, and please report it)",
            err=True,
        )
        raise SystemExit(EXIT_INTERNAL) from None
    finally:
        resume_startup()


if __name__ == "__main__":  # pragma: no cover
    main()
