"""User-facing errors. The CLI prints their message (never a traceback) and exits non-zero."""

from __future__ import annotations

from collections.abc import Sequence


class MmkitError(Exception):
    """Base class: ``str(err)`` is a complete message for the user.

    Every string argument is passed through :func:`mmkit.redact.redact`, so no
    user-facing error can carry a registered secret or anything shaped like a private key.
    """

    exit_code = 2

    def __init__(self, *args: object) -> None:
        from mmkit.redact import redact

        super().__init__(*(redact(a) if isinstance(a, str) else a for a in args))


class ConfigError(MmkitError):
    """One or more configuration problems, each naming its source and key path."""

    def __init__(self, problems: Sequence[str]) -> None:
        from mmkit.redact import redact

        self.problems = [redact(p) for p in problems]
        super().__init__("invalid configuration:" + "".join(f"\n  - {p}" for p in self.problems))


class PluginError(MmkitError):
    """A plugin failed to load, registered a duplicate, or produced an invalid component."""

    def __init__(self, plugin: str, distribution: str | None, fault: str) -> None:
        self.plugin = plugin
        self.distribution = distribution
        self.fault = fault
        dist = f" (distribution {distribution})" if distribution else ""
        super().__init__(f"plugin {plugin!r}{dist}: {fault}")


class ComponentNotFound(MmkitError):
    def __init__(self, kind: str, name: str, available: Sequence[str], where: str = "") -> None:
        self.kind = kind
        self.name = name
        self.available = sorted(available)
        avail = ", ".join(self.available) if self.available else "(none registered)"
        loc = f"{where}: " if where else ""
        super().__init__(f"{loc}unknown {kind} {name!r}; available: {avail}")


class DataError(MmkitError):
    """Malformed market data: names the file and line."""


class VenueError(MmkitError):
    """A venue reply that cannot be understood, or a refused secret/network setting."""


class OutputError(MmkitError):
    """A place a command cannot write its output to: names the option and the path."""


class PortError(MmkitError):
    """A port a command was asked to listen on cannot be bound (in use, or not allowed):
    names the option, the port and the address, e.g. ``--metrics-port 9478: address
    already in use on 127.0.0.1``."""

    def __init__(self, option: str, port: int, host: str, exc: OSError) -> None:
        import os

        self.option = option
        self.port = port
        self.host = host
        # asyncio's bind error spells the address into strerror: the errno says it plainly
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        super().__init__(f"{option} {port}: {reason[:1].lower()}{reason[1:]} on {host}")
