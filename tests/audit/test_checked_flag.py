"""A quoter whose ladders say ``checked`` (``Ladder._checked``: the engine then skips its own
ladder check) and are crossed. The audit reads every ladder with its own code, so the flag
hides nothing from it: ``mmkit audit --component`` FAILs the quoter on the crossing, through
the real command line."""

from __future__ import annotations

from typer.testing import CliRunner

from mmkit.cli.main import build_app
from mmkit.plugin_manager import reset_host

PLUGIN = "tests.audit.lying_quoter_plugin"


def test_a_quoter_that_says_checked_and_crosses_fails_the_audit() -> None:
    reset_host(None)
    argv = ["--no-entrypoints", "--plugin", PLUGIN, "audit", "--examples", "5"]
    argv += ["--component", "quoter:lying_checked"]
    res = CliRunner().invoke(build_app(argv), argv)
    assert res.exit_code == 1, res.output
    assert "FAIL" in res.output and "lying_checked" in res.output
    assert "quoting.no_self_cross" in res.output  # the crossing, read from the ladder itself
