"""``mmkit data convert|info|synth`` and ``mmkit record`` (heavy imports inside bodies)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import typer


def _fmt_ns(ns: int) -> str:
    import datetime as dt

    if ns < 0:
        return "-"
    return dt.datetime.fromtimestamp(ns / 1e9, tz=dt.UTC).isoformat(timespec="milliseconds")


def info_report(path: Path) -> dict[str, Any]:
    """What ``mmkit data info`` prints, as a dict (stores and raw inputs alike).

    Event counts, span, gaps, crossed books and time regressions are computed from the
    records (the book is rebuilt by a numba kernel); ``stats`` are the producer's counters.
    """
    from mmkit.data.adapter import count_kinds
    from mmkit.data.replay import is_store
    from mmkit.data.scan import scan

    if is_store(path):
        from mmkit.data.store import iter_chunks, read_meta

        meta = read_meta(path)
        counts = count_kinds(iter_chunks(path))
        facts = scan(iter_chunks(path))
        kind = "event store"
    else:
        from mmkit.data.loaders import make_loader

        loader = make_loader("auto", [path])
        chunks = list(loader.chunks())
        counts = count_kinds(chunks)
        facts = scan(chunks)
        meta = loader.meta()
        kind = f"raw input ({loader.format}), not converted"
    first, last = counts["first_local_ts"], counts["last_local_ts"]
    events = counts["events"]
    return {
        "file": str(path),
        "kind": kind,
        "source": meta.source,
        "coin": meta.coin,
        "tick": meta.tick,
        "lot": meta.lot,
        "rows": counts["rows"],
        "first": _fmt_ns(first),
        "last": _fmt_ns(last),
        "span_s": (last - first) / 1e9 if first >= 0 else 0.0,
        "events": events,
        "gaps": facts.gaps,
        "crossed": facts.crossed,
        "ts_regressions": facts.ts_regressions,
        "stats": dict(meta.stats),
        "issues": meta.issues[:20],
    }


def _print_info(rep: dict[str, Any]) -> None:
    typer.echo(f"{rep['file']}  ({rep['kind']})")
    typer.echo(f"  source   {rep['source']}")
    typer.echo(f"  coin     {rep['coin'] or '-'}   tick {rep['tick']:g}   lot {rep['lot']:g}")
    typer.echo(f"  span     {rep['first']} .. {rep['last']}  ({rep['span_s']:.3f} s)")
    typer.echo(f"  rows     {rep['rows']}")
    ev = ", ".join(f"{k} {v}" for k, v in rep["events"].items()) or "none"
    typer.echo(f"  events   {ev}")
    typer.echo(
        f"  gaps     {rep['gaps']}   crossed books {rep['crossed']}   "
        f"local-time regressions {rep['ts_regressions']}"
    )
    problems = {k: v for k, v in rep["stats"].items() if v and k != "input_records"}
    if problems:
        typer.echo("  counters " + ", ".join(f"{k} {v}" for k, v in sorted(problems.items())))
    for line in rep["issues"]:
        typer.echo(f"  ! {line}")


def check_output(out: Path, inputs: list[Path] | None = None) -> None:
    """Refuse an output path ``data convert`` / ``data synth`` should not write to.

    A missing parent directory is an error, not created silently: a typo in the path would
    otherwise leave a stray directory tree and the store where nobody looks. Also refused:
    an existing directory as the output (the store is one file) and an output that is one
    of the inputs (the input would be replaced by the store it is being read into).
    """
    from mmkit.output_paths import check_not_an_input, check_output_file

    check_output_file(out, "output")
    check_not_an_input(out, inputs or [], "output")


def register(cli: typer.Typer) -> None:
    from mmkit.data.params import SyntheticParams  # standard library only: cheap at start

    synth = SyntheticParams()
    synth_defaults = {"k": synth.k, "A": synth.A}
    data = typer.Typer(
        name="data", help="Convert, inspect and generate market data.", no_args_is_help=True
    )
    cli.add_typer(data, name="data")

    @data.command("convert")
    def convert_cmd(
        inputs: list[Path] = typer.Argument(
            ...,
            metavar="IN... OUT",
            help="input file(s) then the output store (its directory must exist)",
        ),
        fmt: str = typer.Option(
            "auto", "--format", "-f", help="binance, hyperliquid, hyperliquid_archive, lobster"
        ),
        strict: bool = typer.Option(False, "--strict", help="any data problem is fatal"),
        coin: str | None = typer.Option(None, help="instrument name (default: inferred)"),
        tick: float | None = typer.Option(None, help="price tick (default: inferred)"),
        lot: float | None = typer.Option(None, help="size lot (default: inferred)"),
        compression: str = typer.Option(
            "none", help="Parquet compression: none (fastest reads), lz4, zstd (smallest)"
        ),
        include_replay: bool = typer.Option(
            False,
            "--include-replay",
            help="Hyperliquid: keep the trades a subscription replays from before it started "
            "(flagged; dropped and counted by default, as they are not live trades)",
        ),
    ) -> None:
        """Convert raw captures / archives / LOBSTER files into an event store (Parquet)."""
        from mmkit.data.loaders import convert
        from mmkit.errors import ConfigError, DataError
        from mmkit.params import option_problems

        if len(inputs) < 2:
            raise DataError("data convert: give at least one input and the output path")
        bad = option_problems({"--tick": tick, "--lot": lot}, gt=0)
        if bad:
            raise ConfigError(bad)
        *ins, out = inputs
        check_output(out, ins)
        meta = convert(
            ins,
            out,
            fmt=fmt,
            strict=strict,
            compression=compression,
            coin=coin,
            tick=tick,
            lot=lot,
            include_replay=include_replay,
        )
        _print_info(info_report(out))
        from mmkit.data.diagnostics import ISSUE_NAMES

        problems = sum(meta.stats.get(k, 0) for k in ISSUE_NAMES)
        if problems:
            typer.echo(f"converted with {problems} data problem(s), counted above")

    @data.command("info")
    def info_cmd(
        file: Path = typer.Argument(..., help="an event store or a raw input file"),
        as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
    ) -> None:
        """Span, event counts by type, gaps, crossed books, tick/lot and problems."""
        rep = info_report(file)
        if as_json:
            typer.echo(json.dumps(rep, indent=2, default=str))
        else:
            _print_info(rep)

    @data.command("cache")
    def cache_cmd(
        clear: bool = typer.Option(False, "--clear", help="remove every entry"),
        as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
    ) -> None:
        """The converted-market cache that `mmkit backtest` reads (where, what, how big)."""
        from mmkit.data import market_cache as mc

        root = mc.markets_dir()
        if clear:
            n, size = mc.clear(root)
            typer.echo(
                f"market cache {root}: removed {n} entr{'y' if n == 1 else 'ies'}, "
                f"{size / 2**20:.1f} MB"
            )
            return
        found = mc.entries(root)
        limit, complaint = mc.limit_bytes()
        total = sum(e.bytes for e in found)
        if as_json:
            rows = [
                {
                    "path": str(e.path),
                    "sources": list(e.sources),
                    "rows": e.rows,
                    "bytes": e.bytes,
                    "created": e.created,
                    "used": e.used,
                    "stale": e.stale,
                }
                for e in found
            ]
            payload = {"dir": str(root), "limit_bytes": limit, "bytes": total, "entries": rows}
            typer.echo(json.dumps(payload, indent=2))
            return
        typer.echo(
            f"market cache {root}: {len(found)} entr{'y' if len(found) == 1 else 'ies'}, "
            f"{total / 2**20:.1f} of {limit / 2**20:.0f} MB (MMKIT_MARKET_CACHE_MB)"
        )
        for problem in (complaint, mc.root_problem(root)):
            if problem:
                typer.echo(f"note: {problem}")
        for e in reversed(found):  # most recently used first
            used = time.strftime("%Y-%m-%d %H:%M", time.localtime(e.used))
            stale = "  (stale: a source changed or is gone)" if e.stale else ""
            typer.echo(
                f"  {e.path.name}  {e.rows:>12,} rows  {e.bytes / 2**20:8.1f} MB  used {used}  "
                + ", ".join(e.sources)
                + stale
            )

    @data.command("synth")
    def synth_cmd(
        out: Path = typer.Argument(..., help="output event store (its directory must exist)"),
        duration_s: float = typer.Option(3600.0, help="simulated seconds"),
        seed: int = typer.Option(0, help="random seed"),
        k: float | None = typer.Option(
            None,
            help="trade depth decay (kappa); default: the synthetic market's "
            f"({synth_defaults['k']:g})",
        ),
        A: float | None = typer.Option(
            None,
            "--A",
            help="market orders per second per side; default: the synthetic market's "
            f"({synth_defaults['A']:g})",
        ),
        tick: float = typer.Option(1.0, help="price tick"),
        lot: float = typer.Option(1e-5, help="size lot"),
        mid0: float = typer.Option(100_000.0, help="initial mid"),
        coin: str = typer.Option("SYN", help="instrument name written to the store"),
        informed_frac: float | None = typer.Option(
            None,
            help="fraction of market orders that are informed, 0..1 (0: no adverse "
            "selection; default: the synthetic market's default)",
        ),
    ) -> None:
        """Write the synthetic market to an event store."""
        check_output(out)
        from mmkit.data.params import SyntheticParams
        from mmkit.data.store import write_store
        from mmkit.data.synthetic import generate_chunks, resolve, store_meta
        from mmkit.errors import ConfigError
        from mmkit.params import build_params

        given: dict[str, object] = {
            "duration_s": duration_s,
            "seed": seed,
            "tick": tick,
            "lot": lot,
            "mid0": mid0,
        }
        # unset: the synthetic market's defaults, which its informed flow is calibrated
        # with (docs/data.md); the options once fixed k = 3000 and A = 1, the earlier
        # market's, under the new informed flow: a market ten times as volatile
        for key, value in (("k", k), ("A", A), ("informed_frac", informed_frac)):
            if value is not None:
                given[key] = value
        # the options meet the bounds [feeds.synthetic] has in a config file
        built, problems = build_params(
            SyntheticParams, given, "", lambda key: f"--{key.replace('_', '-')}"
        )
        if built is None:
            raise ConfigError(problems)
        p = resolve(built)
        write_store(out, generate_chunks(p), store_meta(p, coin))
        _print_info(info_report(out))

    @cli.command("record")
    def record_cmd(
        url: str = typer.Option(
            "wss://api.hyperliquid.xyz/ws",
            "--url",
            help="websocket URL (Hyperliquid or the emulator)",
        ),
        coin: str = typer.Option("BTC", "--coin", help="coin to record"),
        out: Path = typer.Option(Path("data"), "--out", help="output directory"),
        rotate_s: float = typer.Option(3600.0, "--rotate-s", help="start a new file every"),
        duration_s: float | None = typer.Option(None, "--duration-s", help="stop after"),
        quiet: bool = typer.Option(False, "--quiet", help="no progress display"),
    ) -> None:
        """Record l2Book and trades into rotating event-store files.

        Exit status: 0 it connected (even if it then lost the connection and recorded
        nothing); 2 bad configuration or input, or it never connected to --url (as
        `mmkit trade` when the venue never starts); 130 interrupted; 70 internal error.
        """
        import asyncio
        import math

        from mmkit.data.recorder import Recorder, RecorderStats
        from mmkit.errors import ConfigError
        from mmkit.output_paths import check_output_dir

        bad = []
        if not (math.isfinite(rotate_s) and rotate_s > 0):
            bad.append(f"--rotate-s {rotate_s}: a number of seconds > 0")
        if duration_s is not None and not duration_s > 0:
            bad.append(f"--duration-s {duration_s}: a number of seconds > 0 (omit it: no end)")
        if bad:
            raise ConfigError(bad)
        check_output_dir(out, "--out")  # before connecting, not at the first file

        if quiet:
            rec = Recorder(url, coin, out, rotate_s=rotate_s, duration_s=duration_s)
            stats = asyncio.run(rec.run())
        else:
            from rich.live import Live
            from rich.table import Table

            def table(s: RecorderStats) -> Table:
                t = Table(title=f"recording {coin} from {url}", show_header=False)
                for k, v in (
                    ("messages", s.messages),
                    ("books", s.books),
                    ("trades", s.trades),
                    ("reconnects", s.reconnects),
                    ("gaps marked", s.gaps),
                    ("files done", len(s.files)),
                    ("writing", s.current or "-"),
                    ("last error", s.last_error or "-"),
                ):
                    t.add_row(k, str(v))
                return t

            with Live(table(RecorderStats()), refresh_per_second=4) as live:
                rec = Recorder(
                    url,
                    coin,
                    out,
                    rotate_s=rotate_s,
                    duration_s=duration_s,
                    on_progress=lambda s: live.update(table(s)),
                )
                try:
                    stats = asyncio.run(rec.run())
                except KeyboardInterrupt:
                    stats = rec.stats
            if not live.console.is_terminal:  # rich ends the box's line only on a terminal
                typer.echo()
        if stats.connections == 0:
            from mmkit.errors import VenueError

            within = f" within --duration-s {duration_s:g}" if duration_s is not None else ""
            raise VenueError(
                f"--url {url}: never connected{within} ({stats.reconnects} attempt(s); "
                f"last error: {stats.last_error or 'none'}); nothing was recorded"
            )
        typer.echo(
            f"recorded {stats.messages} messages into {len(stats.files)} file(s) "
            f"in {out}; {stats.reconnects} reconnect(s), {stats.gaps} gap(s) marked"
        )
