"""The converted-market cache: a backtest's market arrays kept on disk for the next run.

A backtest replays its ``DATA`` as the simulated exchange's columnar market
(:func:`mmkit.data.market_stream.load_market`): an event store is decoded from Parquet and
its book snapshots turned into level changes; a raw capture is parsed first. On the USD-M
capture's store that is ~45 ms plus ~0.1 s of importing and starting pyarrow, for a
backtest whose run takes ~0.3 s; on the raw capture itself it is ~3 s. A quant running the
same data again (a parameter change, a sweep's hundred runs) pays it every time, so the
market is kept here after its first conversion and read back as plain ``.npy`` columns
(~5 ms, no pyarrow).

An entry is found by a key over what the conversion depends on, never by name alone:

* every input's resolved path and ``stat`` identity: device, inode, size, modification and
  status-change times in ns (``st_ctime_ns`` changes on any write and cannot be set back by
  ``touch``; mmkit's own stores are written to a new file and renamed, a new inode), and
  its first and last 64 KiB (a store's footer: its row groups' statistics and metadata),
  for filesystems whose timestamps are too coarse to tell two writes apart;
* the ``--format`` and ``--tick`` given;
* mmkit's version and a fingerprint of its whole source tree
  (:func:`mmkit.source_tree.tree_fingerprint`), so a conversion fixed in a later version
  (or edited in a checkout) never reads an older entry.

Entries are written to a temporary directory and renamed into place (a concurrent backtest
of the same data keeps whichever lands first), read with ``allow_pickle=False`` and checked:
the entry's format, key, row count, each column's dtype and shape, and the market's own
validation (:meth:`~mmkit.venues.sim.arrays.MarketArrays.build`). An entry that fails any
check is removed and the data converted again; a cache that cannot be written costs only
the conversion. Either way the run says so in its notes.

Where: ``$MMKIT_CACHE_DIR/markets``, else ``$XDG_CACHE_HOME/mmkit/markets``, else
``~/.cache/mmkit/markets``. Size: at most ``$MMKIT_MARKET_CACHE_MB`` MB (default 2048;
``0`` keeps nothing), the least recently used entries removed first; a market larger than
the whole limit is not kept. ``mmkit data cache`` lists the entries and ``--clear`` removes
them; ``mmkit backtest --no-market-cache`` neither reads nor writes it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from mmkit.errors import DataError
from mmkit.venues.sim.arrays import MarketArrays

#: the entry layout; a change makes every older entry a miss
FORMAT = "mmkit-market-cache/1"
#: the columns kept (``ref`` is -1 throughout a loaded market and is rebuilt)
COLUMNS: dict[str, type[np.generic]] = {
    "ts": np.int64,
    "kind": np.int8,
    "side": np.int8,
    "px": np.float64,
    "sz": np.float64,
}
DEFAULT_LIMIT_MB = 2048
_META = "meta.json"
_DIGEST_CHARS = 64


def cache_root() -> Path:
    """mmkit's cache directory: ``$MMKIT_CACHE_DIR``, ``$XDG_CACHE_HOME/mmkit`` or
    ``~/.cache/mmkit``."""
    env = os.environ.get("MMKIT_CACHE_DIR", "")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "mmkit"


def markets_dir() -> Path:
    return cache_root() / "markets"


def root_problem(root: Path) -> str | None:
    """Why nothing can be cached under ``root`` (its nearest existing ancestor is not a
    directory), or None."""
    p = root
    while not p.exists():
        if p.parent == p:
            return None
        p = p.parent
    if not p.is_dir():
        return f"{p} is not a directory: nothing can be cached under {root}"
    return None


def limit_bytes() -> tuple[int, str | None]:
    """The cache's size limit in bytes from ``$MMKIT_MARKET_CACHE_MB``, and a complaint
    when the variable is set to something that is not a whole number >= 0 (the default
    applies then)."""
    raw = os.environ.get("MMKIT_MARKET_CACHE_MB", "").strip()
    if not raw:
        return DEFAULT_LIMIT_MB << 20, None
    try:
        mb = int(raw)
    except ValueError:
        mb = -1
    if mb < 0 or mb > 1 << 40:
        return DEFAULT_LIMIT_MB << 20, (
            f"MMKIT_MARKET_CACHE_MB={raw[:40]!r} is not a whole number of MB >= 0; "
            f"using {DEFAULT_LIMIT_MB}"
        )
    return mb << 20, None


def market_key(paths: Sequence[Path], fmt: str, tick: float | None) -> str:
    """The key of the market converted from ``paths`` with ``fmt`` and ``tick`` (module
    docstring). Raises ``OSError`` when an input cannot be ``stat``-ed."""
    import mmkit
    from mmkit.source_tree import source_root, tree_fingerprint

    h = hashlib.sha256()
    tick_text = "none" if tick is None else float(tick).hex()
    head = (FORMAT, mmkit.__version__, tree_fingerprint(source_root()), fmt, tick_text)
    h.update("\0".join(head).encode())
    for p in paths:
        ident = (os.path.realpath(p), *file_identity(p))
        h.update(b"\n")
        h.update("\0".join(str(x) for x in ident).encode("utf-8", "surrogateescape"))
        h.update(_ends(p))
    return h.hexdigest()


#: bytes read at each end of an input for the key
_END_BYTES = 64 << 10


def _ends(path: str | os.PathLike[str]) -> bytes:
    """The first and last 64 KiB of a file: where a Parquet store keeps its footer (row-group
    statistics, mmkit's metadata) and a capture its first and last lines. Guards the key on
    filesystems whose timestamps are too coarse to tell two writes apart."""
    with open(path, "rb") as f:
        head = f.read(_END_BYTES)
        f.seek(0, os.SEEK_END)
        size = f.tell()
        if size <= _END_BYTES:
            return head
        f.seek(max(_END_BYTES, size - _END_BYTES))
        return head + f.read(_END_BYTES)


def file_identity(path: str | os.PathLike[str]) -> list[int]:
    """What ``stat`` says identifies a file's content: device, inode, size, modification
    and status-change times (ns). Raises ``OSError`` when it cannot be read."""
    st = os.stat(path)
    return [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


@dataclass(frozen=True)
class Entry:
    """One cached market as ``mmkit data cache`` lists it."""

    path: Path
    sources: tuple[str, ...]
    rows: int
    bytes: int
    created: float
    used: float
    #: a source is gone or no longer the file the entry was made from: it can never be
    #: read again (removed first when room is needed)
    stale: bool


def _entry_dir(root: Path, key: str) -> Path:
    return root / key[:32]


def _read_meta(d: Path) -> dict[str, Any]:
    """An entry's metadata, checked for shape; raises ValueError / OSError otherwise."""
    raw = (d / _META).read_text(encoding="utf-8")
    meta = json.loads(raw)
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError("not an entry of this format")
    key, rows, tick = meta.get("key"), meta.get("rows"), meta.get("tick")
    if not (isinstance(key, str) and len(key) == _DIGEST_CHARS):
        raise ValueError("no key")
    if not (isinstance(rows, int) and not isinstance(rows, bool) and rows > 0):
        raise ValueError(f"row count {rows!r}")
    if not (isinstance(tick, float) and math.isfinite(tick) and tick > 0):
        raise ValueError(f"tick {tick!r}")
    sources = meta.get("sources")
    if not (isinstance(sources, list) and all(isinstance(s, str) for s in sources)):
        raise ValueError("no sources")
    idents = meta.get("identities")
    if not (
        isinstance(idents, list)
        and len(idents) == len(sources)
        and all(isinstance(i, list) and all(isinstance(x, int) for x in i) for i in idents)
    ):
        raise ValueError("no source identities")
    if not isinstance(meta.get("created"), (int, float)):
        raise ValueError("no creation time")
    return meta


def _remove(d: Path) -> None:
    """Remove an entry at once for readers: renamed away first (a reader sees the whole
    entry or none), then deleted."""
    gone = d.with_name(f".tmp-gone-{d.name}-{os.getpid()}-{time.monotonic_ns()}")
    try:
        os.rename(d, gone)
    except OSError:
        gone = d  # already gone, or not renamable: delete in place
    shutil.rmtree(gone, ignore_errors=True)


def _readable(d: Path) -> bool:
    try:
        _read_meta(d)
    except (OSError, ValueError):
        return False
    return True


def _holds(d: Path, key: str) -> bool:
    """Whether ``d`` is a readable entry of ``key`` (another writer's, say)."""
    try:
        return bool(_read_meta(d)["key"] == key)
    except (OSError, ValueError):
        return False


@dataclass
class Lookup:
    """What :func:`load` found: the market and its tick on a hit; ``problem`` says why an
    entry was found but dropped."""

    market: MarketArrays | None
    tick: float
    problem: str | None
    #: the data problems its conversion found (``store``'s ``problems``), on a hit
    problems: tuple[str, ...] = ()


def load(key: str, root: Path | None = None) -> Lookup:
    """The cached market of ``key``; a miss when there is none or it fails a check (the
    entry is then removed, and ``problem`` says why)."""
    root = markets_dir() if root is None else root
    d = _entry_dir(root, key)
    if not (d / _META).is_file():
        return Lookup(None, math.nan, None)
    try:
        meta = _read_meta(d)
        if meta["key"] != key:
            return Lookup(None, math.nan, None)  # another key's entry with the same prefix
        rows = int(meta["rows"])
        cols: list[npt.NDArray[Any]] = []
        for name, dtype in COLUMNS.items():
            col = np.load(d / f"{name}.npy", allow_pickle=False)
            if col.dtype != np.dtype(dtype) or col.shape != (rows,):
                raise ValueError(f"column {name}: {col.dtype} {col.shape}, not {rows} rows")
            cols.append(col)
        market = MarketArrays.build(*cols, source=f"market cache entry {d}")
        problems = meta.get("problems", [])
        if not (isinstance(problems, list) and all(isinstance(x, str) for x in problems)):
            raise ValueError("its data problems are not a list of lines")
    except (OSError, ValueError, DataError, EOFError) as exc:
        _remove(d)
        return Lookup(None, math.nan, f"market cache entry {d.name} unusable ({exc}): removed")
    with contextlib.suppress(OSError):
        os.utime(d / _META)  # recently used: kept longest
    return Lookup(market, float(meta["tick"]), None, tuple(problems))


def store(
    key: str,
    market: MarketArrays,
    tick: float,
    sources: Sequence[Path],
    root: Path | None = None,
    problems: Sequence[str] = (),
) -> str | None:
    """Keep ``market`` under ``key``, with the data problems its conversion found (lines
    for the report, given back by :func:`load`); None when it was kept, else why not (for
    the run's notes). Never raises for the cache's own troubles: a run must not fail for
    its cache."""
    root = markets_dir() if root is None else root
    limit, complaint = limit_bytes()
    size = sum(getattr(market, name).nbytes for name in COLUMNS)
    if len(market) == 0:
        return "an empty market is not cached"
    if size > limit:
        why = complaint or f"limit {limit >> 20} MB (MMKIT_MARKET_CACHE_MB)"
        return f"not kept in the market cache: {size >> 20} MB over its {why}"
    d = _entry_dir(root, key)
    if _holds(d, key):
        return None  # a concurrent run kept it first: the entry readers may be reading stays
    tmp: Path | None = None
    try:
        root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=root))
        for name in COLUMNS:
            np.save(tmp / f"{name}.npy", np.ascontiguousarray(getattr(market, name)))
        meta = {
            "format": FORMAT,
            "key": key,
            "rows": len(market),
            "tick": float(tick),
            "sources": [os.path.realpath(p) for p in sources],
            "identities": [file_identity(p) for p in sources],
            "created": time.time(),
            "problems": list(problems),
        }
        (tmp / _META).write_text(json.dumps(meta), encoding="utf-8")
        if _holds(d, key):
            return None  # kept by a concurrent run meanwhile
        _remove(d)  # an entry that failed its checks, or one of a colliding prefix
        try:
            os.rename(tmp, d)
        except OSError:
            if not _holds(d, key):  # not another writer's entry landing first
                raise
        else:
            tmp = None
    except OSError as exc:
        return f"not kept in the market cache ({root}): {exc.strerror or exc}"
    finally:
        if tmp is not None:
            _remove(tmp)
    _evict(root, limit, keep=d)
    return None


def entries(root: Path | None = None) -> list[Entry]:
    """Every readable entry, least recently used first."""
    root = markets_dir() if root is None else root
    out: list[Entry] = []
    try:
        dirs = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
    except OSError:
        return out
    for d in dirs:
        try:
            meta = _read_meta(d)
            used = (d / _META).stat().st_mtime
            size = sum(f.stat().st_size for f in d.iterdir())
        except (OSError, ValueError):
            continue
        stale = _stale(meta["sources"], meta["identities"])
        out.append(
            Entry(d, tuple(meta["sources"]), int(meta["rows"]), size, meta["created"], used, stale)
        )
    out.sort(key=lambda e: e.used)
    return out


def _stale(sources: list[str], identities: list[list[int]]) -> bool:
    for src, ident in zip(sources, identities, strict=True):
        try:
            if file_identity(src) != ident:
                return True
        except OSError:
            return True
    return False


#: a write interrupted this long ago (a killed process) left its temporary directory
_LEFTOVER_S = 3600.0


def _evict(root: Path, limit: int, keep: Path) -> None:
    """Remove the entries that can never be read again (a source gone or changed, an older
    layout, damage) and the leftovers of interrupted writes, then the least recently used
    entries (never ``keep``) until the cache fits."""
    found = entries(root)
    readable = {e.path for e in found}
    with contextlib.suppress(OSError):
        for p in root.iterdir():
            if p.name.startswith(".tmp-"):
                if time.time() - p.stat().st_mtime > _LEFTOVER_S:
                    _remove(p)
            elif p.is_dir() and p not in readable and p != keep and not _readable(p):
                # an entry of an older layout, or damaged: never read again (one that a
                # concurrent run renamed in since the listing above reads fine and stays)
                _remove(p)
    total = sum(e.bytes for e in found)
    for e in sorted(found, key=lambda e: not e.stale):  # stale first, then by last use
        if e.path == keep or (total <= limit and not e.stale):
            continue
        _remove(e.path)
        total -= e.bytes


def clear(root: Path | None = None) -> tuple[int, int]:
    """Remove every entry (and leftovers of interrupted writes): (entries, bytes)."""
    root = markets_dir() if root is None else root
    n = size = 0
    try:
        dirs = [p for p in root.iterdir() if p.is_dir()]
    except OSError:
        return 0, 0
    for d in dirs:
        with contextlib.suppress(OSError):
            size += sum(f.stat().st_size for f in d.iterdir())
        _remove(d)
        n += 0 if d.name.startswith(".") else 1
    return n, size
