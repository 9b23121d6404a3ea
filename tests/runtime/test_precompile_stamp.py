"""mmkit's own compile stamps: a group is warm only after its worker succeeded under the
current key, and any change to the kernel sources, versions or group makes it cold again."""

from __future__ import annotations

import ast
import keyword
import os
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mmkit.runtime import precompile


@pytest.fixture
def stamps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Stamps in a private directory (as with ``NUMBA_CACHE_DIR``)."""
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    return tmp_path


def test_stamps_live_in_numba_cache_dir(stamps: Path) -> None:
    assert precompile.stamp_dir() == stamps


def test_a_group_is_cold_until_stamped(stamps: Path) -> None:
    assert precompile.cold_groups() == ["venue", "market", "twins", "quoter"]
    assert precompile.write_stamp("venue")
    assert (stamps / "precompile-venue.stamp").is_file()
    assert precompile.cold_groups() == ["market", "twins", "quoter"]
    assert precompile.write_stamp("market")
    assert precompile.cold_groups() == ["twins", "quoter"]
    assert precompile.write_stamp("twins")
    assert precompile.cold_groups() == ["quoter"]
    assert precompile.write_stamp("quoter")
    assert precompile.cold_groups() == []


def test_unknown_group_is_named() -> None:
    with pytest.raises(ValueError, match="nope"):
        precompile.cold_groups(["venue", "nope"])


def test_a_stamp_under_another_key_is_cold(stamps: Path) -> None:
    key = precompile.stamp_key("venue")
    for line in key.splitlines()[1:]:  # every part of the key matters
        stale = key.replace(line, line + "x")
        assert precompile.write_stamp("venue", stale)
        assert precompile.cold_groups(["venue"]) == ["venue"], line
    assert precompile.write_stamp("venue", key)
    assert precompile.cold_groups(["venue"]) == []


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A stand-in package tree whose sources the stamps cover, and a private stamp dir."""
    root = tmp_path / "pkg"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "_kernels_x.py").write_text("from numba import njit\nX = 1\n")
    (root / "plain.py").write_text("Y = 1\n")
    monkeypatch.setattr(precompile, "_source_root", lambda: root)
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "cache"))
    return root


def _bump_mtime(path: Path) -> None:
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


def test_a_source_edit_changes_the_key(package: Path) -> None:
    kernel = package / "sub" / "_kernels_x.py"
    before = precompile.stamp_key("venue")
    assert precompile.stamp_key("venue") == before  # deterministic
    kernel.write_text("from numba import njit\nX = 2\n")  # same size: the mtime tells
    _bump_mtime(kernel)
    after = precompile.stamp_key("venue")
    assert after != before
    kernel.write_text("from numba import njit\nX = 1\n")
    _bump_mtime(kernel)
    assert precompile.stamp_key("venue") == before  # the key is the content's, not the time


def test_the_digest_is_reused_while_no_source_changes(
    package: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The content digest is computed once per state of the tree; a memo that does not
    match (another tree, a touched file, a new file, garbage) is recomputed."""
    first = precompile.sources_digest()
    real = precompile.kernel_sources
    calls: list[int] = []

    def counted() -> list[Path]:
        calls.append(1)
        return real()

    monkeypatch.setattr(precompile, "kernel_sources", counted)
    assert precompile.sources_digest() == first
    assert calls == []  # from the memo
    _bump_mtime(package / "plain.py")  # any file of the package: the memo no longer holds
    assert precompile.sources_digest() == first  # same contents, same digest
    assert len(calls) == 1
    (package / "sub" / "new.py").write_text("import numba\n")
    assert precompile.sources_digest() != first  # a new kernel module is hashed
    assert len(calls) == 2
    memo = Path(os.environ["NUMBA_CACHE_DIR"]) / "precompile-sources.memo"
    fp = memo.read_text().partition("\n")[0]
    for garbage in (b"", b"\xff\xfe", f"{fp}\nnot-a-digest".encode(), f"{fp}\n".encode()):
        memo.write_bytes(garbage)
        assert precompile.sources_digest() != first
    assert len(calls) == 6
    (package / "sub" / "new.py").unlink()
    assert precompile.sources_digest() == first


def test_an_unwritable_memo_costs_only_time(
    tmp_path: Path, package: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory", encoding="utf-8")
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(blocker / "sub"))
    assert precompile.sources_digest() == precompile.sources_digest()


def test_every_kernel_module_is_hashed() -> None:
    """The probes' modules, their layouts and every other module that defines kernels."""
    root = Path(precompile.__file__).resolve().parent.parent
    hashed = {p.relative_to(root).as_posix() for p in precompile.kernel_sources()}
    for probes in precompile.GROUPS.values():
        for probe in probes:
            mod = probe.partition(":")[0]
            assert "/".join(mod.split(".")[1:]) + ".py" in hashed, probe
    assert "venues/sim/state.py" in hashed  # imported by the kernels: its layout matters
    for path in root.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        if "from numba import njit" in text and path.name != "precompile.py":
            assert path.relative_to(root).as_posix() in hashed, path


def test_an_unwritable_stamp_is_reported_not_raised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory", encoding="utf-8")
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(blocker / "sub"))
    with caplog.at_level("INFO", logger="mmkit.run"):
        assert not precompile.write_stamp("venue")
    assert "precompile-venue.stamp" in caplog.text
    assert precompile.cold_groups(["venue"]) == ["venue"]


class _FakeWorker:
    """Stands in for a worker process: ``market`` fails, ``venue`` succeeds."""

    def __init__(self, argv: Sequence[str], **_: Any) -> None:
        self.group = argv[3]
        self.returncode = 1 if self.group == "market" else 0

    def poll(self) -> int:  # ends at once
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        return self.returncode

    def kill(self) -> None:  # pragma: no cover - never times out
        pass


def test_warm_up_stamps_only_the_groups_whose_worker_succeeded(
    stamps: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(subprocess, "Popen", _FakeWorker)
    spent = precompile.warm_up({})
    assert spent is not None
    assert precompile.cold_groups() == ["market"]
    monkeypatch.setattr(precompile, "cold_groups", lambda groups, variants=None: [])
    assert precompile.warm_up({}) is None


_name = st.from_regex(r"[a-z_][a-z0-9_]{0,6}", fullmatch=True).filter(
    lambda s: not keyword.iskeyword(s)
)
_dotted = st.lists(_name, min_size=1, max_size=3).map(".".join)


@st.composite
def _import_stmt(draw: st.DrawFn) -> str:
    indent = draw(st.sampled_from(["", "    ", "\t"]))
    if draw(st.booleans()):
        names = draw(st.lists(_name, min_size=1, max_size=3))
        return f"{indent}from {draw(_dotted)} import {', '.join(names)}"
    parts = [
        m + (f" as {draw(_name)}" if draw(st.booleans()) else "")
        for m in draw(st.lists(_dotted, min_size=1, max_size=3))
    ]
    return f"{indent}import {', '.join(parts)}"


@given(st.lists(_import_stmt(), max_size=6))
def test_the_import_scan_finds_what_python_parses(stmts: list[str]) -> None:
    """The text scan behind :func:`kernel_sources` against Python's own parser: every module
    an (absolute) import statement names, at any indentation."""
    body = "".join(f"if x:\n{s}\n" if s[:1] in " \t" else f"{s}\n" for s in stmts)
    expected: set[str] = set()
    for node in ast.walk(ast.parse(body)):
        if isinstance(node, ast.ImportFrom) and node.module:
            expected.add(node.module)
        elif isinstance(node, ast.Import):
            expected.update(a.name for a in node.names)
    assert precompile._imported_modules(body) == expected


DEFAULT: dict[str, dict[str, Any]] = {
    "components": {
        "estimators": ["kappa", "sigma", "warmup"],
        "gates": ["data_quality", "warmup", "kill_switch"],
        "quoter": "glft",
        "executor": "smart",
        "venue": "sim",
        "feed": "synthetic",
    },
    "engine": {"twins": "auto"},
}


def _with(**changes: Any) -> dict[str, Any]:
    cfg: dict[str, dict[str, Any]] = {
        "components": dict(DEFAULT["components"]),
        "engine": dict(DEFAULT["engine"]),
    }
    for k, v in changes.items():
        (cfg["engine"] if k == "twins" else cfg["components"])[k] = v
    return cfg


def test_a_twins_stamp_is_per_component_set(stamps: Path) -> None:
    """A run of the default set stamps the twins for that set only: a run naming the
    signal estimators finds them cold (before, it found the default set's stamp and its
    twins' kernels compiled inside its session); each set keeps its own stamp, so runs
    alternating between two sets do not re-warm; the venue and market groups have no
    variant."""
    signals = _with(estimators=["kappa", "sigma", "warmup", "lead_lag", "rl_skew"])
    v_def = precompile.group_variant("twins", DEFAULT)
    v_sig = precompile.group_variant("twins", signals)
    assert v_def == "" and v_sig != ""  # the default set keeps the plain stamp
    assert precompile.group_variant("venue", signals) == ""
    assert precompile.group_variant("market", signals) == ""
    assert precompile.write_stamp("twins", variant=v_def)
    assert precompile.cold_groups(["twins"], {"twins": v_def}) == []
    assert precompile.cold_groups(["twins"], {"twins": v_sig}) == ["twins"]
    assert precompile.write_stamp("twins", variant=v_sig)
    assert precompile.cold_groups(["twins"], {"twins": v_def}) == []  # both stay warm
    assert precompile.cold_groups(["twins"], {"twins": v_sig}) == []
    assert (stamps / "precompile-twins.stamp").is_file()
    assert (stamps / f"precompile-twins-{v_sig}.stamp").is_file()
    # a stamp copied under another set's name is not that set's: the key holds the variant
    (stamps / f"precompile-twins-{v_sig}.stamp").write_text(
        precompile.stamp_key("twins", variant=v_def)
    )
    assert precompile.cold_groups(["twins"], {"twins": v_sig}) == ["twins"]


def test_warm_up_stamps_the_twins_of_the_configured_set(
    stamps: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """warm_up runs the twins' worker for a set it has not stamped, and not again for it."""
    ran: list[list[str]] = []

    class Done:
        returncode = 0

        def __init__(self, argv: list[str], **_: Any) -> None:
            ran.append(argv)

        def poll(self) -> int:
            return 0

    monkeypatch.setattr(subprocess, "Popen", Done)
    signals = _with(estimators=["kappa", "sigma", "warmup", "lead_lag"])
    for cfg in (DEFAULT, signals, DEFAULT, signals):
        precompile.warm_up(cfg, groups=("twins",))
    assert [a[3] for a in ran] == ["twins", "twins"]  # once per set


NAMES = ["kappa", "sigma", "warmup", "lead_lag", "rl_skew", "adverse_selection", "x"]


@given(
    st.lists(st.sampled_from(NAMES), min_size=1, max_size=6, unique=True),
    st.randoms(use_true_random=False),
    st.sampled_from(NAMES),
    st.lists(st.sampled_from(["plug_a", "plug_b"]), unique=True),
)
def test_the_twins_variant_names_the_set_not_its_order(
    est: list[str], rnd: Any, other: str, plugins: list[str]
) -> None:
    """The variant depends on which components and plugins: not on the order they are
    listed in, nor on the feed, the venue or the twins mode (``auto`` and ``require`` run
    the same kernels; ``off`` warms no twins at all). The default set without plugins has
    the plain stamp of the twins group, as before variants."""
    shuffled = list(est)
    rnd.shuffle(shuffled)
    a = precompile.group_variant("twins", _with(estimators=est), plugins)
    assert a == precompile.group_variant("twins", _with(estimators=shuffled), plugins[::-1])
    assert a == precompile.group_variant("twins", _with(estimators=est, feed="replay"), plugins)
    assert a != precompile.group_variant("twins", _with(estimators=est), [*plugins, "plug_c"])
    if other not in est:
        assert a != precompile.group_variant("twins", _with(estimators=[*est, other]), plugins)
    for k in ("quoter", "executor"):
        assert a != precompile.group_variant("twins", _with(estimators=est, **{k: "y"}), plugins)
    assert a == precompile.group_variant("twins", _with(estimators=est, twins="require"), plugins)
    default = sorted(DEFAULT["components"]["estimators"]) == sorted(est) and not plugins
    assert (a == "") == default
    if not default:
        assert len(a) == 16 and all(c in "0123456789abcdef" for c in a)
    assert precompile.group_variant("twins", {}) == ""
    assert precompile.group_variant("twins", DEFAULT) == ""
