"""The Python examples of docs/plugins.md are valid: every ``python`` block carries a marker
in the Markdown source, compiles and is type-checked with ``mypy --strict``; blocks marked
``<!-- example: run -->`` are executed (as ``__main__``, so their demonstrations and
asserts run); a block marked ``plugin=NAME`` is loaded as a plugin module and its components
are audited with mmkit's own invariants, as the page says they are.
"""

from __future__ import annotations

import importlib.util
import re
import runpy
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "plugins.md"

_FENCE = re.compile(r"^```(\w*)\s*$")
_MARKER = re.compile(r"^<!-- example: (run|check)(?: plugin=(\w+))? -->$")


@dataclass(frozen=True)
class Block:
    """One fenced ``python`` block: where it starts (1-based line of its first code line),
    its marker (``run``, ``check`` or ``""`` when unmarked) and plugin name, and its code."""

    line: int
    mode: str
    plugin: str
    code: str

    @property
    def label(self) -> str:
        return f"{DOC.name}:{self.line}"


def python_blocks(text: str) -> list[Block]:
    """Every fenced python block of ``text`` with the marker on the line before its fence."""
    lines = text.splitlines()
    out: list[Block] = []
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if m is None:
            i += 1
            continue
        lang, start = m.group(1), i + 1
        end = start
        while end < len(lines) and lines[end].strip() != "```":
            end += 1
        if end == len(lines):
            raise AssertionError(f"{DOC.name}:{i + 1}: unterminated code fence")
        if lang == "python":
            prev = lines[i - 1].strip() if i > 0 else ""
            mk = _MARKER.match(prev)
            mode, plugin = (mk.group(1), mk.group(2) or "") if mk else ("", "")
            out.append(Block(start + 1, mode, plugin, "\n".join(lines[start:end]) + "\n"))
        i = end + 1
    return out


BLOCKS = python_blocks(DOC.read_text(encoding="utf-8"))
RUN = [b for b in BLOCKS if b.mode == "run"]


def _load(block: Block, name: str, tmp: Path) -> ModuleType:
    path = tmp / f"{name}.py"
    path.write_text(block.code, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod  # dataclasses resolve their module while the class is built
    spec.loader.exec_module(mod)
    return mod


def test_the_page_has_examples_of_every_sort() -> None:
    assert len(BLOCKS) >= 6 and len(RUN) >= 3
    assert any(b.plugin for b in BLOCKS)


@pytest.mark.parametrize("block", BLOCKS, ids=lambda b: b.label)
def test_every_python_block_is_marked_and_compiles(block: Block) -> None:
    assert block.mode in ("run", "check"), (
        f"{block.label}: put <!-- example: run --> or <!-- example: check --> on the line "
        "before the fence, so that the example is tested"
    )
    compile(block.code, block.label, "exec")


@pytest.mark.parametrize("block", RUN, ids=lambda b: b.label)
def test_runnable_blocks_run(block: Block, tmp_path: Path) -> None:
    path = tmp_path / "example.py"
    path.write_text(block.code, encoding="utf-8")
    runpy.run_path(str(path), run_name="__main__")


def test_the_marker_parser_finds_what_is_there() -> None:
    text = "\n".join(
        [
            "<!-- example: run plugin=p -->",
            "```python",
            "x = 1",
            "```",
            "```python",
            "y = 2",
            "```",
            "```bash",
            "echo no",
            "```",
            "<!-- example: check -->",
            "```python",
            "z = 3",
            "```",
        ]
    )
    got = [(b.line, b.mode, b.plugin, b.code) for b in python_blocks(text)]
    assert got == [(3, "run", "p", "x = 1\n"), (6, "", "", "y = 2\n"), (13, "check", "", "z = 3\n")]
    with pytest.raises(AssertionError, match="unterminated"):
        python_blocks("```python\nx = 1\n")


def _plugin_block() -> Block:
    (block,) = [b for b in BLOCKS if b.plugin]
    return block


def test_the_documented_plugin_passes_the_audit(tmp_path: Path) -> None:
    """The complete plugin of section 5 registers, builds and passes every invariant of
    its components' kinds (a shortened run; ``mmkit audit --component`` runs the full one)."""
    from mmkit.audit.runner import audit_component
    from mmkit.plugin_manager import PluginHost

    block = _plugin_block()
    mod = _load(block, block.plugin, tmp_path)
    try:
        host = PluginHost(load_entrypoints=False)
        host.register_plugin(mod, name=block.plugin)
        host.check(invariants=True)
        registered = {(s.kind, s.name) for s in host.registry if s.plugin == block.plugin}
        assert registered == {
            ("estimator", "range_vol"),
            ("gate", "wide_spread"),
            ("quoter", "sigma_spread"),
        }
        bad = []
        for kind, name in sorted(registered):
            results = audit_component(host, kind, name, examples=20)
            assert results, f"no invariant ran on {kind}:{name}"
            bad += [
                f"{r.status.value} {r.invariant.id} on {kind}:{name}: {r.message}\n"
                f"{r.counterexample}"
                for r in results
                if r.status.value not in ("PASS", "NOT_APPLICABLE")
            ]
        assert not bad, "\n\n".join(bad)
    finally:
        sys.modules.pop(block.plugin, None)


def _mypy(blocks: list[Block], tmp: Path) -> tuple[int, str]:
    """``mypy --strict`` (the project's configuration) on each block as its own module: the
    exit status and the report, with the page's line in place of the temporary file."""
    from mypy import api

    files = []
    for i, block in enumerate(blocks):
        path = tmp / f"plugins_md_example_{i}.py"
        path.write_text(block.code, encoding="utf-8")
        files.append((path, block))
    stdout, stderr, status = api.run(
        [
            "--strict",
            "--no-error-summary",
            "--cache-dir",
            str(REPO / ".mypy_cache"),
            "--config-file",
            str(REPO / "pyproject.toml"),
            *(str(p) for p, _ in files),
        ]
    )
    report = stdout + stderr
    for path, block in files:
        report = report.replace(str(path), block.label + "(block)")
    return status, report


@pytest.mark.slow
def test_every_block_passes_mypy_strict(tmp_path: Path) -> None:
    status, report = _mypy(BLOCKS, tmp_path)
    assert status == 0, report


@pytest.mark.slow
def test_mypy_names_what_a_broken_example_lacks(tmp_path: Path) -> None:
    """The check can fail: the audit-contract example with its ``sigma_cap`` removed is
    refused by mypy where it is assigned to the protocol."""
    (block,) = [b for b in RUN if "class CappedSigma" in b.code]
    broken = block.code.replace("def sigma_cap(self)", "def cap(self)")
    assert broken != block.code
    status, report = _mypy([Block(block.line, "run", "", broken)], tmp_path)
    assert status != 0 and "SigmaCapped" in report, report


def test_the_documented_executor_is_audited_as_the_page_says(tmp_path: Path) -> None:
    """Section 6 says what the audit makes of its skeleton executor: FAILs on the rules it
    leaves out, PASSes on the bookkeeping it shows. Both halves are held here."""
    from typing import Any

    from mmkit import hookimpl
    from mmkit.audit.runner import audit_component
    from mmkit.plugin_manager import PluginHost

    (block,) = [b for b in RUN if "class OneLevelExecutor" in b.code]
    mod = _load(block, "plugins_md_one_level", tmp_path)
    try:

        class Plugin:
            @staticmethod
            @hookimpl
            def register_executors(register: Any) -> None:
                register("one_level", lambda ctx: mod.OneLevelExecutor(ctx.seed))

        host = PluginHost(load_entrypoints=False)
        host.register_plugin(Plugin, name="plugins_md_one_level")
        status = {
            r.invariant.id: r.status.value
            for r in audit_component(host, "executor", "one_level", examples=10)
        }
    finally:
        sys.modules.pop("plugins_md_one_level", None)
    for inv in ("execution.rejection_backoff", "execution.modify_place_fallback"):
        assert status.get(inv) == "FAIL", (inv, status)
    for inv in (
        "engine.request_ids_increasing",
        "execution.halt_cancels_all",
        "execution.emergency_reserve",
    ):
        assert status.get(inv) == "PASS", (inv, status)


def _slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = heading.strip().lower().replace("`", "")
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def test_every_link_within_the_page_has_its_heading() -> None:
    text = DOC.read_text(encoding="utf-8")
    in_fence = False
    anchors = set()
    for line in text.splitlines():
        if line.startswith("```"):
            in_fence = not in_fence
        elif not in_fence and line.startswith("#"):
            anchors.add(_slug(line.lstrip("#")))
    links = set(re.findall(r"\]\(#([^)]+)\)", text))
    assert links and not links - anchors, sorted(links - anchors)
    assert _slug(" 3.5 `GateDecision` and `GateMode`") == "35-gatedecision-and-gatemode"


def test_the_reference_names_every_contract_member_field_and_outcome() -> None:
    """The page stays a complete reference as the code grows: every audit contract and its
    members, every optional contract, every Estimates and RiskLimits field, every event
    type, action, outcome and reject reason, and every gate role is named in it."""
    import dataclasses

    from mmkit.components import AUDIT_CONTRACTS, OPTIONAL_CONTRACTS, Estimates, GateRole
    from mmkit.components import _protocol_members as members
    from mmkit.core.actions import ORDER_ACTIONS, QueryOrder, SyncState
    from mmkit.core.events import ALL_EVENT_TYPES
    from mmkit.core.outcomes import Outcome, RejectReason
    from mmkit.registry import BuildContext, RiskLimits

    text = DOC.read_text(encoding="utf-8")
    wanted: set[str] = set()
    for protos in AUDIT_CONTRACTS.values():
        for proto in protos:
            wanted |= {proto.__name__, *members(proto)}
    wanted |= {proto.__name__ for _, proto, _, _ in OPTIONAL_CONTRACTS}
    wanted |= {m for m, _, _, _ in OPTIONAL_CONTRACTS}
    for dc in (Estimates, RiskLimits, BuildContext):
        wanted |= {f.name for f in dataclasses.fields(dc)}
    wanted |= {t.__name__ for t in (*ALL_EVENT_TYPES, *ORDER_ACTIONS, SyncState, QueryOrder)}
    wanted |= {o.name for o in Outcome} | {r.name for r in RejectReason}
    wanted |= {g.name for g in GateRole}
    missing = sorted(w for w in wanted if f"`{w}" not in text and f"{w}`" not in text)
    assert not missing, f"docs/plugins.md does not name: {missing}"
