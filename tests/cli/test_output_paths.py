"""Where commands write is checked before they run (:mod:`mmkit.output_paths`): an
output that cannot be written is said at once with the option's name (exit 2), not after
the work as an internal error (exit 70), as it was for ``backtest --out``, ``calibrate
--out``, ``sweep --out``, ``data convert`` and ``trade --journal-dir``."""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mmkit.errors import OutputError
from mmkit.output_paths import check_not_an_input, check_output_dir, check_output_file, writing

#: a directory nothing can create a file in, even root (Linux)
UNWRITABLE = Path("/proc")
needs_proc = pytest.mark.skipif(not UNWRITABLE.is_dir(), reason="needs Linux /proc")


def _listing(d: Path) -> list[str]:
    return sorted(os.listdir(d))


def test_a_writable_file_and_directory_pass_and_leave_nothing(tmp_path: Path) -> None:
    check_output_file(tmp_path / "o.toml", "--out")
    check_output_dir(tmp_path / "new" / "deeper", "--out")  # created later by the command
    check_output_file(tmp_path / "a" / "b" / "o.toml", "--out", make_parents=True)
    assert _listing(tmp_path) == []  # no probe file left, nothing created


@pytest.mark.parametrize("make_parents", [False, True])
def test_a_file_path_that_is_a_directory_is_refused(tmp_path: Path, make_parents: bool) -> None:
    with pytest.raises(OutputError, match=r"--out .*: is a directory; give a file name"):
        check_output_file(tmp_path, "--out", make_parents=make_parents)


def test_a_missing_directory_of_a_file_is_refused_not_created(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match=r"output directory .* does not exist.*mkdir -p"):
        check_output_file(tmp_path / "no" / "o.toml", "--out")
    assert _listing(tmp_path) == []


def test_a_file_where_a_directory_is_needed_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.write_text("x")
    with pytest.raises(OutputError, match="is a file, not a directory"):
        check_output_file(f / "o.toml", "--out")
    with pytest.raises(OutputError, match="exists and is not a directory"):
        check_output_dir(f, "--out")
    with pytest.raises(OutputError, match="is not a directory"):
        check_output_dir(f / "sub" / "dir", "--out")
    with pytest.raises(OutputError, match="is not a directory"):
        check_output_file(f / "sub" / "o.toml", "--out", make_parents=True)


@needs_proc
def test_a_directory_that_takes_no_file_is_refused() -> None:
    with pytest.raises(OutputError, match=r"--out /proc/x\.toml: cannot write in /proc"):
        check_output_file(UNWRITABLE / "x.toml", "--out")
    with pytest.raises(OutputError, match="cannot write in /proc"):
        check_output_dir(UNWRITABLE / "x" / "y", "--journal-dir")


def test_an_oserror_while_writing_is_said_with_the_option(tmp_path: Path) -> None:
    with (
        pytest.raises(OutputError, match=r"--out .*: cannot write .*\(No such file"),
        writing(tmp_path / "o", "--out"),
    ):
        (tmp_path / "missing" / "o").write_text("x")


# -- the commands -----------------------------------------------------------------------------


def _run(args: list[str]) -> tuple[object, str]:
    from mmkit.cli.main import main

    err = io.StringIO()
    code: object = 0
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            main(["--no-entrypoints", *args])
        except SystemExit as exc:
            code = exc.code
    return code, err.getvalue()


@needs_proc
@pytest.mark.parametrize(
    ("command", "option"),
    [
        ("backtest", "--out"),
        ("calibrate", "--out"),
        ("sweep", "--out"),
        ("convert", "output"),
        ("trade", "--journal-dir"),
        ("record", "--out"),
    ],
)
def test_each_command_says_it_before_it_works(
    command: str, option: str, synthetic_store: Path, tmp_path: Path, cold: list[list[str]]
) -> None:
    target = str(UNWRITABLE / "mmkit-out")
    store = str(synthetic_store)
    grid = tmp_path / "sweep.toml"
    grid.write_text('[grid]\n"quoters.glft.gamma" = [10.0, 50.0]\n')
    args = {
        "backtest": ["backtest", store, "--out", target],
        "calibrate": ["calibrate", store, "--out", target + ".toml"],
        "sweep": ["sweep", store, "--grid", str(grid), "--out", target + ".toml"],
        "convert": ["data", "convert", store, target + ".parquet"],
        "trade": ["trade", "--duration", "5", "--speed", "0", "--journal-dir", target],
        # nothing listens on the discard port: the check must come before any connection
        "record": ["record", "--out", target, "--quiet", "--url", "ws://127.0.0.1:9/ws"],
    }[command]
    code, err = _run(args)
    assert code == 2, err
    assert err.startswith("error: ") and option in err and "cannot write in /proc" in err, err
    assert cold == [] and "compil" not in err  # said at once: no warm-up worker started


@pytest.mark.parametrize(
    "args",
    [["--rotate-s", "0"], ["--rotate-s", "nan"], ["--duration-s", "-1"], ["--duration-s", "nan"]],
)
def test_record_refuses_lengths_that_are_not_seconds(args: list[str], tmp_path: Path) -> None:
    code, err = _run(
        ["record", "--out", str(tmp_path), "--quiet", "--url", "ws://127.0.0.1:9/ws", *args]
    )
    assert code == 2 and args[0] in err, err
    assert _listing(tmp_path) == []


def test_config_init_says_where_it_cannot_write(tmp_path: Path) -> None:
    """A directory as the file (with or without --force) and a missing directory were an
    internal error (IsADirectoryError) or a raw OSError."""
    for args in ([str(tmp_path)], [str(tmp_path), "--force"], [str(tmp_path / "no" / "m.toml")]):
        code, err = _run(["config", "init", *args])
        assert code == 2 and err.startswith("error: config init "), err
    code, err = _run(["config", "init", str(tmp_path / "m.toml")])
    assert code in (0, None) and (tmp_path / "m.toml").read_text().startswith("# mmkit")


# -- an output that is also an input ------------------------------------------------------------

#: how a path to an existing file can be spelled: as made, absolute, relative to the working
#: directory, through ``sub/..``, through a symlink, through a hard link
_SPELLINGS = ("as-is", "absolute", "relative", "dotdot", "symlink", "hardlink")


def _spell(f: Path, how: str, tmp: Path) -> Path:
    if how == "absolute":
        return f.resolve()
    if how == "relative":
        return Path(os.path.relpath(f, Path.cwd()))
    if how == "dotdot":
        (tmp / "sub").mkdir(exist_ok=True)
        return tmp / "sub" / ".." / f.name
    alias = tmp / f"{how}-{f.name}"
    if not alias.exists():
        (alias.symlink_to if how == "symlink" else alias.hardlink_to)(f)
    return alias


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    out_how=st.sampled_from(_SPELLINGS),
    in_how=st.sampled_from(_SPELLINGS),
    others=st.integers(min_value=0, max_value=3),
    at=st.integers(min_value=0, max_value=3),
    beside=st.booleans(),
)
def test_the_same_file_by_any_path_is_refused_and_only_it(
    tmp_path_factory: pytest.TempPathFactory,
    out_how: str,
    in_how: str,
    others: int,
    at: int,
    beside: bool,
) -> None:
    tmp = tmp_path_factory.mktemp("same")
    data = tmp / "data.parquet"
    data.write_bytes(b"PAR1 the input")
    other = [tmp / f"other{i}.parquet" for i in range(others)]
    for o in other:
        o.write_bytes(b"other")
    inputs: list[Path | None] = [*other, None]
    inputs.insert(min(at, len(inputs)), _spell(data, in_how, tmp))
    target = _spell(data, out_how, tmp)
    # the file itself, or a report the command writes beside its output
    out, also = (tmp / "best.toml", [target]) if beside else (target, [])
    with pytest.raises(OutputError, match="also an input; choose another path") as exc:
        check_not_an_input(out, inputs, "--out", also_written=also)
    assert str(exc.value).startswith(f"--out {out}: ")
    # distinct files, and outputs that do not exist yet, pass
    check_not_an_input(tmp / "new.toml", inputs, "--out", also_written=[tmp / "new.json"])
    check_not_an_input(target, other, "--out")
    assert data.read_bytes() == b"PAR1 the input"


def test_calibrate_and_sweep_refuse_to_write_over_an_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], cold: list[list[str]]
) -> None:
    """Before: both exited 0 and replaced the store (or the sweep file) with TOML."""
    from tests.cli.helpers import run_cli

    store = tmp_path / "syn.parquet"
    code, _, err = run_cli(["data", "synth", str(store), "--duration-s", "5"], capsys)
    assert code == 0, err
    link = tmp_path / "link.parquet"
    link.symlink_to(store)
    grid = tmp_path / "sweep.toml"
    grid.write_text('[grid]\n"quoters.glft.gamma" = [10.0, 50.0]\n')
    kept = {p: p.read_bytes() for p in (store, grid)}
    calibrate = ["calibrate", str(store), "--no-progress", "--out"]
    sweep = ["sweep", str(store), "--grid", str(grid), "--out"]
    cases = [
        ([*calibrate, str(store)], "is also an input"),
        ([*calibrate, str(link)], "is also an input"),
        ([*calibrate, os.path.relpath(store)], "is also an input"),
        # calibrate writes its report beside the overlay: syn.calibration.json
        (
            ["calibrate", str(tmp_path / "syn.calibration.json"), "-o", str(tmp_path / "syn.toml")],
            "would also write",
        ),
        ([*sweep, str(store)], "is also an input"),
        ([*sweep, str(link)], "is also an input"),
        ([*sweep, str(grid)], "is also an input"),
    ]
    (tmp_path / "syn.calibration.json").write_bytes(store.read_bytes())
    for args, needle in cases:
        code, out, err = run_cli(args, capsys)
        assert code == 2, (args, code, out, err)
        assert err.startswith("error: --out ") and needle in err and err.count("\n") == 1, err
        assert "Traceback" not in err
    assert {p: p.read_bytes() for p in kept} == kept
    assert cold == []  # refused before any work
