"""Loading plugins and collecting what they register.

Sources of plugins, in order:

1. the built-in default plugins (:data:`DEFAULT_PLUGINS`), registered through the same hooks
   as everybody else's;
2. the ``mmkit`` entry-point group of installed distributions (switch off with
   ``MMKIT_LOAD_ENTRYPOINTS=0`` or ``mmkit --no-entrypoints``);
3. extra modules named in ``MMKIT_PLUGINS`` (comma separated) or by ``mmkit --plugin MOD``.

A plugin that fails to import, raises in a hook, registers a duplicate name or an invalid
component is recorded as a :class:`~mmkit.errors.PluginError` naming the plugin and its
distribution; ``mmkit plugins`` lists them, and commands that build an engine refuse to
start while any exist (``--allow-broken-plugins`` to proceed).
"""

from __future__ import annotations

import contextlib
import importlib
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from types import ModuleType
from typing import Any

import pluggy

from mmkit import PROJECT, hookspecs
from mmkit.errors import ConfigError, PluginError
from mmkit.registry import KINDS, ComponentRegistry

DEFAULT_PLUGINS: tuple[str, ...] = (
    "mmkit.default_plugins.estimators",
    "mmkit.default_plugins.gates",
    "mmkit.default_plugins.quoters",
    "mmkit.default_plugins.executors",
    "mmkit.default_plugins.venues",
    "mmkit.default_plugins.emulator",
    "mmkit.default_plugins.feeds",
    "mmkit.default_plugins.signals",
    "mmkit.default_plugins.research",
    "mmkit.default_plugins.invariants",
    "mmkit.default_plugins.commands",
)

ENV_LOAD_ENTRYPOINTS = "MMKIT_LOAD_ENTRYPOINTS"
ENV_PLUGINS = "MMKIT_PLUGINS"

_COMPONENT_HOOKS = {kind: f"register_{kind}s" for kind in KINDS}


@dataclass
class PluginInfo:
    name: str
    module: str
    distribution: str | None
    version: str | None
    source: str  # "builtin" | "entrypoint" | "extra"
    hooks: list[str] = field(default_factory=list)
    components: list[tuple[str, str]] = field(default_factory=list)
    invariants: list[str] = field(default_factory=list)


#: the words an on/off environment variable takes (any case; unset or empty: its default)
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")


def env_flag(name: str, default: bool, environ: Mapping[str, str] | None = None) -> bool:
    """The on/off environment variable ``name``; any other word than those above is a
    :class:`ConfigError` naming the variable (it used to mean "on")."""
    val = (os.environ if environ is None else environ).get(name, "").strip()
    if not val:
        return default
    if val.lower() in TRUE_WORDS:
        return True
    if val.lower() in FALSE_WORDS:
        return False
    raise ConfigError(
        [
            f"{name}={val[:40]!r}: expected on ({', '.join(TRUE_WORDS)}) or off "
            f"({', '.join(FALSE_WORDS)})"
        ]
    )


class PluginHost:
    """A pluggy manager plus the registries built from it (computed once, on first use)."""

    def __init__(
        self,
        *,
        load_entrypoints: bool | None = None,
        extra_modules: Sequence[str] = (),
        include_defaults: bool = True,
    ) -> None:
        self.pm = pluggy.PluginManager(PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.errors: list[PluginError] = []
        self.info: dict[str, PluginInfo] = {}
        if include_defaults:
            for mod in DEFAULT_PLUGINS:
                self._register_module(
                    mod,
                    source="builtin",
                    name=mod.rsplit(".", 1)[-1],
                    dist=PROJECT,
                    version=_dist_version(PROJECT),
                )
        if load_entrypoints is None:
            load_entrypoints = env_flag(ENV_LOAD_ENTRYPOINTS, True)
        if load_entrypoints:
            self._load_entrypoints()
        env_extra = [m.strip() for m in os.environ.get(ENV_PLUGINS, "").split(",") if m.strip()]
        for mod in [*env_extra, *extra_modules]:
            self._register_module(mod, source="extra", name=mod, dist=None, version=None)
        self._registry: ComponentRegistry | None = None
        self._invariants: list[Any] | None = None

    # -- loading --------------------------------------------------------------------------
    def _register_module(
        self, mod_name: str, *, source: str, name: str, dist: str | None, version: str | None
    ) -> None:
        if name in self.info:
            return
        try:
            module = importlib.import_module(mod_name)
        except Exception as exc:  # plugin boundary: any import error is reported with its source
            self.errors.append(
                PluginError(
                    name, dist, f"failed to import {mod_name!r}: {type(exc).__name__}: {exc}"
                )
            )
            return
        self._register_object(module, source=source, name=name, dist=dist, version=version)

    def _register_object(
        self,
        obj: ModuleType | object,
        *,
        source: str,
        name: str,
        dist: str | None,
        version: str | None,
    ) -> None:
        try:
            self.pm.register(obj, name=name)
        except Exception as exc:  # pluggy validation: bad signature
            self.errors.append(PluginError(name, dist, f"invalid hook implementation: {exc}"))
            return
        try:
            self.pm.check_pending()  # a @hookimpl whose name matches no hook (a typo)
        except pluggy.PluginValidationError as exc:
            self.pm.unregister(obj, name=name)
            self.errors.append(PluginError(name, dist, f"invalid hook implementation: {exc}"))
            return
        hooks = sorted(
            impl_name
            for impl_name in dir(obj)
            if self.pm.parse_hookimpl_opts(obj, impl_name) is not None
        )
        self.info[name] = PluginInfo(
            name, getattr(obj, "__name__", type(obj).__name__), dist, version, source, hooks
        )

    def _load_entrypoints(self) -> None:
        for ep in metadata.entry_points(group=PROJECT):
            dist = ep.dist.name if ep.dist is not None else None
            version = ep.dist.version if ep.dist is not None else None
            if ep.name in self.info or self.pm.is_blocked(ep.name):
                continue
            try:
                obj = ep.load()
            except Exception as exc:  # plugin boundary: a broken entry point is reported, not fatal
                self.errors.append(
                    PluginError(
                        ep.name, dist, f"failed to import {ep.value!r}: {type(exc).__name__}: {exc}"
                    )
                )
                continue
            self._register_object(
                obj, source="entrypoint", name=ep.name, dist=dist, version=version
            )

    def register_plugin(self, obj: object, name: str) -> None:
        """Register an in-process plugin object (tests, notebooks)."""
        self._register_object(obj, source="extra", name=name, dist=None, version=None)
        self._registry = None
        self._invariants = None

    # -- registries -----------------------------------------------------------------------
    def _call_each(
        self, hook_name: str, make_arg: Callable[[PluginInfo], Any], arg_name: str
    ) -> None:
        hook = getattr(self.pm.hook, hook_name)
        for impl in hook.get_hookimpls():  # registration order (pluggy calls LIFO)
            info = self.info.get(impl.plugin_name)
            if info is None:
                continue
            try:
                impl.function(**{arg_name: make_arg(info)})
            except PluginError as exc:
                self.errors.append(exc)
            except Exception as exc:  # plugin boundary: a raising register_* hook names its plugin
                self.errors.append(
                    PluginError(
                        info.name,
                        info.distribution,
                        f"hook {hook_name} raised {type(exc).__name__}: {exc}",
                    )
                )

    @property
    def registry(self) -> ComponentRegistry:
        if self._registry is None:
            reg = ComponentRegistry()
            for kind, hook_name in _COMPONENT_HOOKS.items():

                def make(info: PluginInfo, kind: str = kind) -> Callable[..., None]:
                    before = set(reg.names(kind))
                    base = reg.make_register(
                        kind, info.name, info.distribution, info.version, self.errors
                    )

                    def register(*args: Any, **kwargs: Any) -> None:
                        base(*args, **kwargs)
                        for n in set(reg.names(kind)) - before:
                            if (kind, n) not in info.components:
                                info.components.append((kind, n))

                    return register

                self._call_each(hook_name, make, "register")
            self._registry = reg
        return self._registry

    @property
    def invariants(self) -> list[Any]:
        if self._invariants is None:
            found: list[Any] = []

            def make(info: PluginInfo) -> Callable[[Any], None]:
                def register(inv: Any) -> None:
                    inv_id = getattr(inv, "id", None)
                    if not isinstance(inv_id, str) or not callable(getattr(inv, "check", None)):
                        raise PluginError(
                            info.name,
                            info.distribution,
                            f"register_invariants: {inv!r} is not an invariant "
                            "(needs an 'id' string and a 'check' method)",
                        )
                    if any(getattr(o, "id", None) == inv_id for o in found):
                        raise PluginError(
                            info.name, info.distribution, f"duplicate invariant id {inv_id!r}"
                        )
                    with contextlib.suppress(AttributeError, TypeError):
                        object.__setattr__(inv, "plugin", info.name)
                    found.append(inv)
                    info.invariants.append(inv_id)

                return register

            self._call_each("register_invariants", make, "register")
            self._invariants = found
        return self._invariants

    def register_commands(self, cli: Any) -> None:
        self._call_each("register_commands", lambda _info: cli, "cli")

    def observer_hooks(self) -> dict[str, Any]:
        """Observer hooks that at least one plugin implements (the rest are skipped)."""
        out = {}
        for name in hookspecs.OBSERVER_HOOKS:  # every mmkit_on_* spec
            hook = getattr(self.pm.hook, name)
            if hook.get_hookimpls():
                out[name] = hook
        return out

    def check(self, *, invariants: bool = False) -> None:
        """Raise the first plugin error, after building the component registry (and the
        invariant list with ``invariants=True``: the audit's concern, and an import of
        hypothesis that running commands need not pay)."""
        _ = self.registry
        if invariants:
            _ = self.invariants
        if self.errors:
            raise self.errors[0]


def _dist_version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


_HOST: PluginHost | None = None


def get_host(**kwargs: Any) -> PluginHost:
    """The process-wide plugin host (created on first call; kwargs apply then only)."""
    global _HOST
    if _HOST is None:
        _HOST = PluginHost(**kwargs)
    return _HOST


def reset_host(host: PluginHost | None = None) -> None:
    """Replace the process-wide host (tests)."""
    global _HOST
    _HOST = host


def argv_plugin_options(argv: Sequence[str]) -> tuple[list[str], bool | None]:
    """Pre-parse ``--plugin MOD`` and ``--no-entrypoints`` (needed before the CLI is built)."""
    mods: list[str] = []
    load: bool | None = None
    it = iter(range(len(argv)))
    for i in it:
        a = argv[i]
        if a == "--plugin" and i + 1 < len(argv):
            mods.append(argv[i + 1])
            next(it, None)
        elif a.startswith("--plugin="):
            mods.append(a.split("=", 1)[1])
        elif a == "--no-entrypoints":
            load = False
    return mods, load
