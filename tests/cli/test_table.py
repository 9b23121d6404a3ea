"""The CLI's plain tables: columns aligned, a cell with line breaks spanning lines, and
``mmkit plugins`` readable in a terminal (its components wrapped, not one line of hundreds
of characters padding every row)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from hypothesis import given
from hypothesis import strategies as st

from mmkit.cli.common import table_lines

_text = st.text(st.characters(codec="ascii", exclude_characters="\r\t\x0b\x0c"), max_size=30)


@given(
    st.integers(1, 5).flatmap(
        lambda n: st.tuples(
            st.lists(st.text("abcdefgh", min_size=1, max_size=8), min_size=n, max_size=n),
            st.lists(st.lists(_text, min_size=n, max_size=n), max_size=6),
        )
    )
)
def test_cells_line_up_and_every_line_of_every_cell_is_kept(
    table: tuple[list[str], list[list[str]]],
) -> None:
    headers, rows = table
    lines = table_lines(headers, rows)
    assert lines[0].split() == headers
    widths = [len(d) for d in lines[1].split("  ")]
    assert len(widths) == len(headers)
    starts = [sum(widths[:i]) + 2 * i for i in range(len(widths))]
    body = lines[2:]
    k = 0
    for row in rows:
        parts = [c.split("\n") for c in row]
        height = max(len(p) for p in parts)
        for j in range(height):
            line = body[k + j]
            for col, p in enumerate(parts):
                want = p[j] if j < len(p) else ""
                got = line[starts[col] : starts[col] + widths[col]]
                assert got.rstrip() == want.rstrip(), (line, col, want)
        k += height
    assert k == len(body)


def test_mmkit_plugins_wraps_its_long_columns() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MMKIT")}
    run = subprocess.run(
        [sys.executable, "-m", "mmkit", "plugins"], capture_output=True, text=True, env=env
    )
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].split()[:3] == ["plugin", "distribution", "source"]
    assert max(len(ln) for ln in lines) <= 220, max(lines, key=len)
    # nothing lost: every component the JSON report lists is in the table
    rep = json.loads(
        subprocess.run(
            [sys.executable, "-m", "mmkit", "plugins", "--json"],
            capture_output=True,
            text=True,
            env=env,
        ).stdout
    )
    table = " ".join(lines)
    for p in rep["plugins"]:
        for c in p["components"]:
            assert f"{c['kind']}:{c['name']}" in table
