"""The converted-market cache (mmkit.data.market_cache): a hit is the market the conversion
gives, for any store; an entry is never read for other data, another tick or format, or
other code; a damaged entry is dropped and the data converted again; a cache that cannot
be written costs only the conversion; its size stays bounded. The oracle throughout is the
conversion itself, with the cache off."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.data.helpers import market_records

from mmkit.data import market_cache as mc
from mmkit.data.market_stream import MarketLoad, load_market
from mmkit.data.schema import RecordBuilder
from mmkit.data.store import StoreMeta, write_store
from mmkit.venues.sim.arrays import MarketArrays

COLS = ("ts", "kind", "side", "px", "sz", "ref")


def _same(a: MarketArrays, b: MarketArrays) -> bool:
    return all(
        getattr(a, c).dtype == getattr(b, c).dtype and np.array_equal(getattr(a, c), getattr(b, c))
        for c in COLS
    )


def _store(path: Path, rec: RecordBuilder, tick: float = 0.1) -> Path:
    write_store(path, [rec.take()], StoreMeta(coin="X", tick=tick))
    return path


def _load(paths: list[Path], **kw: Any) -> tuple[MarketArrays, float, MarketLoad]:
    info = MarketLoad()
    m, tick = load_market(paths, cache=True, info=info, **kw)
    return m, tick, info


@pytest.fixture(autouse=True)
def _own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv("MMKIT_CACHE_DIR", str(root))
    monkeypatch.delenv("MMKIT_MARKET_CACHE_MB", raising=False)
    return root / "markets"


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rec=market_records())
def test_a_hit_is_the_converted_market(
    tmp_path_factory: pytest.TempPathFactory, rec: RecordBuilder
) -> None:
    store = _store(tmp_path_factory.mktemp("s") / "m.parquet", rec)
    want, want_tick = load_market([store])  # the oracle: no cache
    first, tick1, info1 = _load([store])
    second, tick2, info2 = _load([store])
    assert _same(first, want) and _same(second, want)
    assert tick1 == tick2 == want_tick
    assert (info1.from_cache, info2.from_cache) == (False, True)
    assert info1.notes == info2.notes == []  # an ordinary miss and hit are no news


def test_several_inputs_are_one_entry_in_their_order(tmp_path: Path) -> None:
    """The book carries over from one input to the next, so the entry is the whole list."""
    a = _store(tmp_path / "a.parquet", _records_of([100.0, 100.5]))
    b = _store(tmp_path / "b.parquet", _records_of([100.2], bid=100.1, ask=100.9))
    for paths in ([a, b], [b, a]):
        want, _ = load_market(paths)
        _load(paths)
        got, _, info = _load(paths)
        assert info.from_cache
        assert _same(got, want)


def test_other_data_at_the_same_path_is_a_miss(tmp_path: Path) -> None:
    store = _store(tmp_path / "m.parquet", _records_of([100.0, 100.5]))
    old, _, _ = _load([store])
    st0 = os.stat(store)
    _store(store, _records_of([101.0, 101.2, 101.9]))  # rewritten ...
    os.utime(store, ns=(st0.st_atime_ns, st0.st_mtime_ns))  # ... and its time set back
    want, _ = load_market([store])
    got, _, info = _load([store])
    assert not _same(want, old)
    assert _same(got, want)
    assert not info.from_cache


def test_rewritten_in_place_with_the_same_size_and_times_is_a_miss(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another store of the same size written over the first, its times set back, and the
    stat identity made to look unchanged (a filesystem with coarse timestamps reusing the
    inode): the content at the file's ends still tells them apart."""
    store = _store(tmp_path / "m.parquet", _records_of([100.0, 100.5]))
    _load([store])
    other = _store(tmp_path / "o.parquet", _records_of([100.5, 100.0]))
    assert other.stat().st_size == store.stat().st_size  # same shape, other prices
    ident = mc.file_identity(store)
    store.write_bytes(other.read_bytes())
    monkeypatch.setattr(mc, "file_identity", lambda p: ident)
    want, _ = load_market([store])
    got, _, info = _load([store])
    assert not info.from_cache
    assert _same(got, want)


def _records_of(trade_px: list[float], bid: float = 99.9, ask: float = 102.1) -> RecordBuilder:
    from mmkit.data.schema import RecordKind

    b = RecordBuilder()
    t = 1_000
    b.add_book(RecordKind.BOOK_SNAPSHOT, t, t + 1, [(bid, 1.0)], [(ask, 1.0)], seq=1)
    for k, px in enumerate(trade_px):
        t += 1_000_000
        b.add(RecordKind.TRADE, t, t + 7, 1, px, 0.5, seq=k + 2, aux=k)
    return b


def test_tick_format_and_code_are_part_of_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _store(tmp_path / "m.parquet", _records_of([100.0, 100.5]))
    keys = {
        mc.market_key([store], "auto", None),
        mc.market_key([store], "store", None),
        mc.market_key([store], "auto", 0.1),
        mc.market_key([store], "auto", 0.5),
    }
    assert len(keys) == 4
    for tick in (None, 0.5):
        want, want_tick = load_market([store], tick=tick)
        _load([store], tick=tick)
        got, got_tick, info = _load([store], tick=tick)
        assert info.from_cache
        assert _same(got, want) and got_tick == want_tick
    import mmkit.source_tree

    before = mc.market_key([store], "auto", None)
    monkeypatch.setattr(mmkit.source_tree, "tree_fingerprint", lambda root: "other code")
    assert mc.market_key([store], "auto", None) != before
    _, _, info = _load([store])
    assert not info.from_cache  # converted again under the new code


_DAMAGE = st.sampled_from(
    [
        "truncate column",
        "empty column",
        "float32 column",
        "short column",
        "garbage meta",
        "meta of another format",
        "meta rows wrong",
        "meta tick NaN",
        "no meta sources",
        "unknown kind",
        "time backwards",
        "pickled column",
        "missing column",
        "meta problems not a list",
        "meta problems not lines",
    ]
)


def _damage(entry: Path, how: str) -> None:
    meta = json.loads((entry / "meta.json").read_text())
    if how == "truncate column":
        raw = (entry / "px.npy").read_bytes()
        (entry / "px.npy").write_bytes(raw[: len(raw) // 2])
    elif how == "empty column":
        (entry / "sz.npy").write_bytes(b"")
    elif how == "float32 column":
        np.save(entry / "px.npy", np.load(entry / "px.npy").astype(np.float32))
    elif how == "short column":
        np.save(entry / "ts.npy", np.load(entry / "ts.npy")[:-1])
    elif how == "garbage meta":
        (entry / "meta.json").write_bytes(b"\x00\xff{not json")
    elif how == "meta of another format":
        (entry / "meta.json").write_text(json.dumps({**meta, "format": "x/0"}))
    elif how == "meta rows wrong":
        (entry / "meta.json").write_text(json.dumps({**meta, "rows": meta["rows"] + 1}))
    elif how == "meta tick NaN":
        (entry / "meta.json").write_text(json.dumps({**meta, "tick": float("nan")}))
    elif how == "no meta sources":
        (entry / "meta.json").write_text(
            json.dumps({k: v for k, v in meta.items() if k != "sources"})
        )
    elif how == "unknown kind":
        k = np.load(entry / "kind.npy")
        k[0] = 9
        np.save(entry / "kind.npy", k)
    elif how == "time backwards":
        t = np.load(entry / "ts.npy")
        if len(t) < 2:
            t[0] = -1
        else:
            t[-1] = t[0] - 1
        np.save(entry / "ts.npy", t)
    elif how == "pickled column":
        np.save(entry / "sz.npy", np.array([object()] * meta["rows"], dtype=object))
    elif how == "missing column":
        (entry / "side.npy").unlink()
    elif how == "meta problems not a list":
        (entry / "meta.json").write_text(json.dumps({**meta, "problems": "truncated"}))
    elif how == "meta problems not lines":
        (entry / "meta.json").write_text(json.dumps({**meta, "problems": [1, None]}))


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(how=_DAMAGE)
def test_a_damaged_entry_is_dropped_and_the_data_converted(
    tmp_path_factory: pytest.TempPathFactory, how: str
) -> None:
    store = _store(tmp_path_factory.mktemp("s") / "m.parquet", _records_of([100.0, 100.5, 101.0]))
    want, want_tick = load_market([store])
    _load([store])
    key = mc.market_key([store], "auto", None)
    entry = mc.markets_dir() / key[:32]
    _damage(entry, how)
    got, tick, info = _load([store])
    assert _same(got, want) and tick == want_tick and not info.from_cache
    if how != "meta of another format":  # that one is simply not an entry of this cache
        assert len(info.notes) == 1, info.notes
        assert "unusable" in info.notes[0] and "removed" in info.notes[0]
    again, _, info = _load([store])  # and the rewritten entry is good
    assert _same(again, want) and info.from_cache


def test_a_cache_that_cannot_be_written_costs_only_the_conversion(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("MMKIT_CACHE_DIR", str(blocker / "cache"))
    store = _store(tmp_path / "m.parquet", _records_of([100.0, 100.5]))
    want, _ = load_market([store])
    for _ in range(2):
        got, _, info = _load([store])
        assert _same(got, want)
        assert info.notes[-1].startswith("market data: not kept in the market cache")


def test_the_size_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stores = [_store(tmp_path / f"m{i}.parquet", _records_of([100.0 + i, 100.5])) for i in range(4)]
    one = sum(getattr(load_market([stores[0]])[0], c).nbytes for c in mc.COLUMNS)
    monkeypatch.setenv("MMKIT_MARKET_CACHE_MB", "0")
    _, _, info = _load([stores[0]])
    assert "not kept in the market cache" in info.notes[-1] and "limit 0 MB" in info.notes[-1]
    assert mc.entries() == []
    # room for two entries (the limit is in MB: scale the check instead of the markets)
    monkeypatch.setattr(mc, "limit_bytes", lambda: (int(2.5 * (one + 1024)), None))
    for s in stores:
        _load([s])
    kept = mc.entries()
    assert len(kept) == 2
    assert {e.sources[0] for e in kept} == {str(stores[2].resolve()), str(stores[3].resolve())}
    # the least recently *used* goes first: reading m2 makes m3 the one to go
    _load([stores[2]])
    _load([stores[0]])
    assert {e.sources[0] for e in mc.entries()} == {
        str(stores[2].resolve()),
        str(stores[0].resolve()),
    }


@pytest.mark.parametrize("raw", ["-1", "x", "1.5", "9" * 30])
def test_a_bad_limit_is_said_and_the_default_used(
    raw: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MMKIT_MARKET_CACHE_MB", raw)
    limit, complaint = mc.limit_bytes()
    assert limit == mc.DEFAULT_LIMIT_MB << 20
    assert complaint is not None and "MMKIT_MARKET_CACHE_MB" in complaint


def test_entries_of_changed_or_removed_sources_go_first(tmp_path: Path) -> None:
    a = _store(tmp_path / "a.parquet", _records_of([100.0]))
    b = _store(tmp_path / "b.parquet", _records_of([100.5]))
    _load([a])
    _load([b])
    assert [e.stale for e in mc.entries()] == [False, False]
    a.unlink()
    assert sorted(e.stale for e in mc.entries()) == [False, True]
    old_layout = mc.markets_dir() / ("0" * 32)
    old_layout.mkdir()
    (old_layout / "meta.json").write_text('{"format": "mmkit-market-cache/0"}')
    leftover = mc.markets_dir() / ".tmp-crashed"
    leftover.mkdir()
    os.utime(leftover, (0, 0))  # a write interrupted long ago
    fresh = mc.markets_dir() / ".tmp-writing"
    fresh.mkdir()  # another process writing now
    c = _store(tmp_path / "c.parquet", _records_of([101.0]))
    _load([c])  # storing clears what can never be read again
    assert {Path(e.sources[0]).name for e in mc.entries()} == {"b.parquet", "c.parquet"}
    assert not old_layout.exists() and not leftover.exists() and fresh.exists()


def test_a_good_entry_is_never_replaced(tmp_path: Path) -> None:
    """A second writer of the same data (a sweep's runs start together) leaves the entry
    other runs may be reading as it is."""
    store = _store(tmp_path / "m.parquet", _records_of([100.0, 100.5]))
    m, tick, _ = _load([store])
    key = mc.market_key([store], "auto", None)
    entry = mc.markets_dir() / key[:32]
    before = {f.name: f.stat().st_ino for f in entry.iterdir()}
    assert mc.store(key, m, tick, [store]) is None
    assert {f.name: f.stat().st_ino for f in entry.iterdir()} == before


def test_eviction_keeps_an_entry_that_lands_while_it_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An entry a concurrent run renamed in after the eviction listed the cache is not taken
    for an unreadable one."""
    a = _store(tmp_path / "a.parquet", _records_of([100.0]))
    b = _store(tmp_path / "b.parquet", _records_of([100.5]))
    _load([a])
    _load([b])
    listed = [e for e in mc.entries() if Path(e.sources[0]).name == "a.parquet"]
    with monkeypatch.context() as mp:
        mp.setattr(mc, "entries", lambda root=None: listed)  # b "not there yet"
        mc._evict(mc.markets_dir(), 1 << 40, keep=listed[0].path)
    assert {Path(e.sources[0]).name for e in mc.entries()} == {"a.parquet", "b.parquet"}


def _store_in_child(args: tuple[str, str, str]) -> str | None:
    root, store, key = args
    os.environ["MMKIT_CACHE_DIR"] = root
    m, tick = load_market([Path(store)])
    return mc.store(key, m, tick, [Path(store)])


@pytest.mark.slow
def test_concurrent_writers_leave_one_good_entry(tmp_path: Path) -> None:
    store = _store(tmp_path / "m.parquet", _records_of([100.0, 100.5, 101.0]))
    key = mc.market_key([store], "auto", None)
    root = str(tmp_path / "cache")
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        pool.map(_store_in_child, [(root, str(store), key)] * 8)
    want, _ = load_market([store])
    got, _, info = _load([store])
    assert info.from_cache
    assert _same(got, want)
    assert not [p for p in (tmp_path / "cache" / "markets").iterdir() if p.name.startswith(".")]


@pytest.mark.slow
def test_a_backtest_from_the_cache_needs_no_parquet_reader(
    synthetic_store: Path, tmp_path: Path
) -> None:
    """The cache's point: a second backtest of a file reads plain columns, without
    importing pyarrow at all, and reports the same figures; --no-market-cache leaves the
    cache alone; `mmkit data cache` lists the entry and --clear removes it."""
    env = {**os.environ, "MMKIT_CACHE_DIR": str(tmp_path / "c")}
    code = (
        "import sys, json; import mmkit.cli.main as m\n"
        "try: m.main(sys.argv[1:])\n"
        "except SystemExit: pass\n"
        "sys.stderr.write('PYARROW=%s\\n' % ('pyarrow' in sys.modules))\n"
    )
    argv = [
        "--no-entrypoints",
        "backtest",
        str(synthetic_store),
        "--cadence",
        "timer",
        "--duration",
        "60",
        "--json",
    ]

    def run(*extra: str) -> tuple[dict[str, Any], bool]:
        p = subprocess.run(
            [sys.executable, "-c", code, *argv, *extra],
            capture_output=True,
            text=True,
            env=env,
            timeout=900,
        )
        assert p.returncode == 0, p.stderr[-2000:]
        rep = json.loads(p.stdout[p.stdout.find("{") :])
        return rep, "PYARROW=True" in p.stderr

    def figures(rep: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in rep.items() if k != "timing"}

    off, off_pa = run("--no-market-cache")
    assert off_pa and not (tmp_path / "c" / "markets").exists()
    first, _ = run()
    second, second_pa = run()
    assert not second_pa
    assert [r["timing"]["market_from_cache"] for r in (off, first, second)] == [0.0, 0.0, 1.0]
    assert figures(off) == figures(first) == figures(second)  # notes and all

    def data_cache(*args: str) -> str:
        return subprocess.run(
            [sys.executable, "-m", "mmkit", "data", "cache", *args],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        ).stdout

    got = json.loads(data_cache("--json"))
    assert len(got["entries"]) == 1 and got["entries"][0]["sources"] == [
        str(synthetic_store.resolve())
    ]
    cleared = data_cache("--clear")
    assert "removed 1 entry" in cleared
    assert mc.entries(tmp_path / "c" / "markets") == []


def test_data_cache_with_a_cache_dir_that_is_a_file(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    env = {**os.environ, "MMKIT_CACHE_DIR": str(blocker), "MMKIT_MARKET_CACHE_MB": "many"}
    for args in ([], ["--clear"], ["--json"]):
        p = subprocess.run(
            [sys.executable, "-m", "mmkit", "data", "cache", *args],
            capture_output=True,
            text=True,
            env=env,
        )
        assert p.returncode == 0, p.stderr
        assert "Traceback" not in p.stderr
        if not args:
            assert f"{blocker} is not a directory" in p.stdout
            assert "MMKIT_MARKET_CACHE_MB='many'" in p.stdout
