"""Reading, layering and validating ``mmkit.toml``."""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mmkit.config.schema import (
    CORE_SECTIONS,
    ComponentsSection,
    EngineSection,
    InstrumentSection,
    RiskSection,
    TradeSection,
    VenueSection,
)
from mmkit.config.waivers import WaiverKey, parse_audit_section
from mmkit.core.types import Instrument
from mmkit.errors import ConfigError
from mmkit.params import build_params, defaults_of, secret_keys
from mmkit.redact import looks_like_key, register_key_like, register_secret
from mmkit.registry import KINDS, SECTION_OF_KIND, ComponentRegistry, RiskLimits
from mmkit.safejson import JsonRefused, check_depth, in_i64
from mmkit.venues.hyperliquid.settings import check_address

ENV_PREFIX = "MMKIT__"
REDACTED = "***redacted***"
#: keys refused anywhere in a config: keys come only from env vars or 0600 key files
FORBIDDEN_KEYS = ("private_key", "secret_key", "privkey", "mnemonic")

KIND_OF_SECTION = {v: k for k, v in SECTION_OF_KIND.items()}
SINGLE_KINDS = {"quoter", "executor", "venue", "feed"}


@dataclass
class Settings:
    """The merged, validated configuration."""

    components: ComponentsSection
    instrument: Instrument
    risk: RiskLimits
    engine: EngineSection
    venue: VenueSection
    trade: TradeSection
    #: (kind, name) -> validated params dataclass instance, for every registered component
    params: dict[tuple[str, str], Any]
    merged: dict[str, Any]
    sources: dict[str, str] = field(default_factory=dict)
    path: Path | None = None
    #: ``[audit.waivers]``: UNAUDITED checks accepted with a reason (see mmkit.config.waivers)
    waivers: dict[WaiverKey, str] = field(default_factory=dict)

    def component_params(self, kind: str, name: str) -> Any:
        return self.params[(kind, name)]

    def selected(self) -> list[tuple[str, str]]:
        c = self.components
        return (
            [("estimator", n) for n in c.estimators]
            + [("gate", n) for n in c.gates]
            + [("quoter", c.quoter), ("executor", c.executor)]
        )

    def merged_full(self) -> dict[str, Any]:
        """The complete effective configuration (defaults included), unredacted, as TOML data
        (no secrets exist in config: keys come only from the environment or a key file)."""
        return self.to_toml_dict(redact=False)

    def to_toml_dict(
        self, *, redact: bool = True, registry: ComponentRegistry | None = None
    ) -> dict[str, Any]:
        """The full merged config (defaults included), with secret fields redacted."""
        out: dict[str, Any] = {}
        for sec, cls in CORE_SECTIONS.items():
            obj = getattr(self, sec)
            if sec == "instrument":
                data = {k: getattr(obj, k) for k in defaults_of(InstrumentSection)}
            elif sec == "risk":
                data = asdict(obj)
            else:
                data = {k: v for k, v in asdict(obj).items() if v is not None}
            if redact:
                for k in secret_keys(cls):
                    if data.get(k):
                        data[k] = REDACTED
            out[sec] = data
        for (kind, name), p in sorted(self.params.items()):
            table = {k: v for k, v in asdict(p).items() if v is not None}
            if redact:
                for k in secret_keys(type(p)):
                    if table.get(k):
                        table[k] = REDACTED
            if table:
                out.setdefault(SECTION_OF_KIND[kind], {})[name] = table
        if self.waivers:
            out["audit"] = {"waivers": {str(k): v for k, v in sorted(self.waivers.items())}}
        return out


# -- layering ------------------------------------------------------------------------------


def _parse_scalar(text: str) -> Any:
    """A TOML literal (number, bool, string, array) or, failing that, the plain string.

    Text holding a private key's shape is kept as the plain string (and registered as a
    secret): TOML would read ``0x<key>`` as an integer, and a type error would print it.
    """
    if looks_like_key(text):
        register_key_like(text)
        return text
    try:
        value = tomllib.loads(f"v = {text}")["v"]
        check_depth(value)
    except (tomllib.TOMLDecodeError, RecursionError, JsonRefused):  # absurdly deep arrays
        return text
    return value


def _set_path(d: dict[str, Any], path: Sequence[str], value: Any) -> None:
    cur = d
    for p in path[:-1]:
        nxt = cur.get(p)
        if not isinstance(nxt, dict):
            nxt = {}
            cur[p] = nxt
        cur = nxt
    cur[path[-1]] = value


def _merge(
    base: dict[str, Any],
    top: Mapping[str, Any],
    sources: dict[str, str],
    label: str,
    prefix: str = "",
) -> None:
    for k, v in top.items():
        path = f"{prefix}.{k}" if prefix else k
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            _merge(base[k], v, sources, label, path)
        else:
            base[k] = v
            _mark(v, path, sources, label)


def _mark(v: Any, path: str, sources: dict[str, str], label: str) -> None:
    """Record the source of every leaf under ``path`` (tables themselves are not marked)."""
    if isinstance(v, dict):
        for k2, v2 in v.items():
            _mark(v2, f"{path}.{k2}", sources, label)
    else:
        sources[path] = label


def read_toml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{path}: file not found"]) from None
    except IsADirectoryError:
        raise ConfigError([f"{path}: is a directory, not a config file (mmkit.toml)"]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            [
                f"{path}: not a TOML config file (not UTF-8 text: byte {exc.start} is "
                "not valid); give an mmkit.toml (`mmkit config init` writes one)"
            ]
        ) from None
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror or exc}"]) from None
    try:
        data = tomllib.loads(text)
        check_depth(data)  # later steps walk the tables recursively
        return data
    except JsonRefused as exc:
        raise ConfigError([f"{path}: {exc}"]) from None
    except tomllib.TOMLDecodeError as exc:
        # the message ends with "(at line L, column C)"
        raise ConfigError([f"{path}: TOML syntax error: {exc}"]) from None
    except RecursionError:
        raise ConfigError([f"{path}: TOML nested too deeply to read"]) from None


def env_overrides(env: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    out: dict[str, Any] = {}
    labels: dict[str, str] = {}
    for name, raw in sorted(env.items()):
        if not name.startswith(ENV_PREFIX):
            continue
        parts = [p.lower() for p in name[len(ENV_PREFIX) :].split("__") if p]
        if not parts:
            continue
        _set_path(out, parts, _parse_scalar(raw))
        labels[".".join(parts)] = f"environment variable {name}"
    return out, labels


def cli_overrides(sets: Sequence[str]) -> tuple[dict[str, Any], dict[str, str], list[str]]:
    out: dict[str, Any] = {}
    labels: dict[str, str] = {}
    problems: list[str] = []
    for item in sets:
        key, eq, raw = item.partition("=")
        key = key.strip()
        if not eq or not key or any(not p for p in key.split(".")):
            problems.append(f"command line --set {item!r}: expected SECTION.KEY=VALUE")
            continue
        parts = key.split(".")
        _set_path(out, parts, _parse_scalar(raw.strip()))
        labels[key] = f"command line --set {key}"
    return out, labels, problems


# -- validation ----------------------------------------------------------------------------


KEY_REFUSED = (
    "value looks like a private key; refused (a key is read only from the environment variable "
    "named by venue.key_env or from venue.key_file)"
)


def _leaf_problem(value: Any) -> str | None:
    """Why a leaf value is refused outright, or None. The value itself is never echoed."""
    if isinstance(value, str):
        if looks_like_key(value):
            register_key_like(value)
            return KEY_REFUSED
        return None
    if isinstance(value, int) and not isinstance(value, bool) and not in_i64(value):
        if 0 < value < 2**256:  # e.g. TOML's 0x<key>: a key written as a hex integer
            register_secret(f"{value:064x}")
        return "integer outside the signed 64-bit range; refused"
    if isinstance(value, list):
        for item in value:
            why = _leaf_problem(item)
            if why is not None:
                return why
    return None


def _refuse_unsafe(d: dict[str, Any], source: Any, problems: list[str], prefix: str = "") -> None:
    """Drop (and report, by key path and source only) every value shaped like a private
    key and every integer beyond 64 bits, in any setting, before validation can echo it."""
    for k in list(d):
        v = d[k]
        if looks_like_key(k):
            register_key_like(k)
            problems.append(
                f"{source(prefix) if prefix else 'configuration'}: a key name {KEY_REFUSED}"
            )
            del d[k]
            continue
        path = f"{prefix}.{k}" if prefix else k
        if isinstance(v, dict):
            _refuse_unsafe(v, source, problems, path)
            continue
        why = _leaf_problem(v)
        if why is not None:
            problems.append(f"{source(path)}: {path}: {why}")
            del d[k]


def _find_forbidden(d: Mapping[str, Any], prefix: str = "") -> list[str]:
    found = []
    for k, v in d.items():
        path = f"{prefix}.{k}" if prefix else k
        if k.lower() in FORBIDDEN_KEYS:
            found.append(path)
        elif isinstance(v, dict):
            found.extend(_find_forbidden(v, path))
    return found


def load_settings(
    path: str | Path | None,
    registry: ComponentRegistry,
    *,
    env: Mapping[str, str] | None = None,
    sets: Sequence[str] = (),
    flags: Mapping[str, Any] | None = None,
    overlays: Sequence[str | Path] = (),
    flags_source: str = "command line option",
) -> Settings:
    """Merge defaults < file < overlays < env < ``--set`` < flags and validate everything.

    ``overlays`` are further TOML files layered over the config file, in order (e.g. the
    calibrated ``params.toml`` that ``mmkit calibrate`` writes).

    ``flags`` maps dotted key paths to values from dedicated command-line options
    (``{"instrument.coin": "ETH"}``; a problem with one is said to come from
    ``flags_source`` for its key, e.g. "command line option for instrument.coin", or
    the sweep grid's value); ``None`` values are ignored. Raises
    :class:`ConfigError` listing every problem.
    """
    env = os.environ if env is None else env
    merged: dict[str, Any] = {}
    sources: dict[str, str] = {}
    problems: list[str] = []
    file_path = Path(path) if path is not None else None
    if file_path is not None:
        data = read_toml(file_path)
        _merge(merged, data, sources, str(file_path))
    for extra in overlays:
        _merge(merged, read_toml(Path(extra)), sources, str(extra))
    env_data, env_labels = env_overrides(env)
    _merge(merged, env_data, sources, "env")
    sources.update(env_labels)
    set_data, set_labels, set_problems = cli_overrides(sets)
    problems.extend(set_problems)
    _merge(merged, set_data, sources, "--set")
    sources.update(set_labels)
    for key, value in (flags or {}).items():
        if value is None:
            continue
        _set_path(merged, key.split("."), value)
        sources[key] = f"{flags_source} for {key}"

    def source(key: str) -> str:
        # the recorded source of the key, of a parent, or (for a table) of a key inside it
        parts = key.split(".")
        for i in range(len(parts), 0, -1):
            found = sources.get(".".join(parts[:i]))
            if found is not None:
                return found
        inner = sorted(v for k, v in sources.items() if k.startswith(key + "."))
        if inner:
            return inner[0]
        return "defaults"

    for bad in _find_forbidden(merged):
        problems.append(
            f"{source(bad)}: {bad}: private keys are never read from config; "
            "set the variable named by venue.key_env or use venue.key_file (mode 0600)"
        )
    _refuse_unsafe(merged, source, problems)

    known_sections = [*CORE_SECTIONS, *KIND_OF_SECTION, "audit"]
    core: dict[str, Any] = {}
    for sec in merged:
        if sec in CORE_SECTIONS:
            continue
        if sec in KIND_OF_SECTION or sec == "audit":
            continue
        close = difflib.get_close_matches(sec, known_sections, n=1, cutoff=0.6)
        hint = (
            f"; did you mean [{close[0]}]?" if close else f" (known: {', '.join(known_sections)})"
        )
        problems.append(f"{source(sec)}: unknown section [{sec}]{hint}")
    for sec, cls in CORE_SECTIONS.items():
        table = merged.get(sec, {})
        if not isinstance(table, dict):
            problems.append(f"{source(sec)}: {sec}: expected a table, got {table!r}")
            continue
        obj, errs = build_params(cls, table, sec, lambda k: source(k))
        problems.extend(errs)
        core[sec] = obj

    params: dict[tuple[str, str], Any] = {}
    for kind in KINDS:
        section = SECTION_OF_KIND[kind]
        tables = merged.get(section, {})
        if not isinstance(tables, dict):
            problems.append(f"{source(section)}: [{section}] must be a table of component tables")
            tables = {}
        for name, table in tables.items():
            if name not in registry.names(kind):
                avail = ", ".join(registry.names(kind)) or "(none registered)"
                close = difflib.get_close_matches(name, registry.names(kind), n=1, cutoff=0.6)
                hint = f"did you mean {close[0]!r}? " if close else ""
                problems.append(
                    f"{source(f'{section}.{name}')}: [{section}.{name}] unknown {kind} "
                    f"{name!r}; {hint}available: {avail}"
                )
            elif not isinstance(table, dict):
                problems.append(
                    f"{source(f'{section}.{name}')}: [{section}.{name}] must be a table"
                )
        for spec in registry.of_kind(kind):
            table = tables.get(spec.name, {}) if isinstance(tables.get(spec.name, {}), dict) else {}
            obj, errs = build_params(
                spec.params, table, f"{section}.{spec.name}", lambda k: source(k)
            )
            problems.extend(errs)
            if obj is not None:
                params[(kind, spec.name)] = obj

    comps = core.get("components")
    if isinstance(comps, ComponentsSection):
        for kind, names in (
            ("estimator", comps.estimators),
            ("gate", comps.gates),
            ("quoter", [comps.quoter]),
            ("executor", [comps.executor]),
            ("venue", [comps.venue]),
            ("feed", [comps.feed]),
            ("feed", comps.signal_feeds),
        ):
            key = "components." + (SECTION_OF_KIND[kind] if kind not in SINGLE_KINDS else kind)
            if names is comps.signal_feeds:
                key = "components.signal_feeds"
            seen: set[str] = set()
            for n in names:
                if n in seen:
                    problems.append(f"{source(key)}: {key}: {n!r} listed twice")
                seen.add(n)
                if n not in registry.names(kind):
                    avail = ", ".join(registry.names(kind)) or "(none registered)"
                    close = difflib.get_close_matches(n, registry.names(kind), n=1, cutoff=0.6)
                    hint = f"did you mean {close[0]!r}? " if close else ""
                    problems.append(
                        f"{source(key)}: {key}: unknown {kind} {n!r}; {hint}available: {avail}"
                    )

    waivers: dict[WaiverKey, str] = {}
    if "audit" in merged:
        waivers, errs = parse_audit_section(merged["audit"], source)
        problems.extend(errs)

    venue = core.get("venue")
    if isinstance(venue, VenueSection):  # as the live client checks them, but before a run
        for key in ("account", "vault"):
            if getattr(venue, key):
                try:
                    check_address(getattr(venue, key), f"venue.{key}")
                except ConfigError as exc:
                    problems.extend(f"{source(f'venue.{key}')}: {p}" for p in exc.problems)

    instrument = None
    inst = core.get("instrument")
    if isinstance(inst, InstrumentSection):
        try:
            instrument = Instrument(**asdict(inst))
        except ValueError as exc:
            problems.append(f"{source('instrument')}: [instrument] {exc}")
    if problems:
        raise ConfigError(problems)
    risk = core["risk"]
    assert isinstance(risk, RiskSection) and instrument is not None
    return Settings(
        components=core["components"],
        instrument=instrument,
        risk=RiskLimits(**asdict(risk)),
        engine=core["engine"],
        venue=core["venue"],
        trade=core["trade"],
        params=params,
        merged=merged,
        sources=dict(sources),
        path=file_path,
        waivers=waivers,
    )


def default_toml(registry: ComponentRegistry) -> dict[str, Any]:
    """Every section and every registered component's parameters at their defaults."""
    out: dict[str, Any] = {sec: defaults_of(cls) for sec, cls in CORE_SECTIONS.items()}
    for kind in KINDS:
        tables = {spec.name: defaults_of(spec.params) for spec in registry.of_kind(kind)}
        tables = {k: v for k, v in tables.items() if v}
        if tables:
            out[SECTION_OF_KIND[kind]] = tables
    return out
