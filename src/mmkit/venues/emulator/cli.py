"""``mmkit venue emulate``: the command line of the loopback emulator (light at import)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer


def _run(
    host: str,
    port: int,
    coin: str,
    data: Path | None,
    scenario: str | None,
    seed: int,
    speed: float,
    funding: str,
    accounts: list[str],
    ip_weight: int,
    schedule_cancel_min_volume: float = 1_000_000.0,
) -> None:
    import asyncio
    import contextlib
    import signal

    from mmkit.venues.emulator.config import EmulatorConfig
    from mmkit.venues.emulator.server import Emulator

    cfg = EmulatorConfig(
        host=host,
        port=port,
        coin=coin,
        data=str(data) if data else "",
        scenario=scenario or "",
        seed=seed,
        speed=speed,
        funding=funding,  # type: ignore[arg-type]  # checked by EmulatorConfig
        accounts=tuple(accounts),
        ip_weight_per_min=ip_weight,
        schedule_cancel_min_volume=schedule_cancel_min_volume,
    )

    async def main() -> None:
        emu = Emulator(cfg)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)

        def said(lines: list[str]) -> None:
            for line in lines:
                typer.echo(line, err=True)

        # the end of replayed data, and what was wrong in it, said when it happens
        emu.market.on_finished = said
        await emu.start()
        source = cfg.data or "synthetic market"
        typer.echo(
            f"mmkit Hyperliquid emulator on {emu.url} (ws: {emu.url.replace('http', 'ws', 1)}/ws)"
            f" · {cfg.coin} · {source} · speed {cfg.speed:g} · funding {cfg.funding}"
            + (f" · scenario {cfg.scenario}" if cfg.scenario else "")
        )
        typer.echo(f"control: curl -s -XPOST {emu.url}/_control -d '{{\"state\": true}}'")
        try:
            await stop.wait()
        finally:
            await emu.stop()
            typer.echo("emulator stopped")

    asyncio.run(main())


def register(cli: Any) -> None:
    venue = typer.Typer(help="Venues: the loopback Hyperliquid emulator.", no_args_is_help=True)

    @venue.command("emulate")
    def emulate(
        host: str = typer.Option("127.0.0.1", "--host", help="Loopback address to bind."),
        port: int = typer.Option(3001, "--port", help="TCP port (0: any free port)."),
        coin: str = typer.Option("BTC", "--coin", help="The one perp the emulator lists."),
        data: Path | None = typer.Option(
            None, "--data", help="Capture or event store to replay (default: synthetic market)."
        ),
        scenario: str | None = typer.Option(
            None,
            "--scenario",
            help="TOML file of timed fault steps, or fault names with start seconds "
            "(e.g. 'ws_drop@5,restart@10'; an existing file by that name is read as a "
            "file); see docs/emulator.md.",
        ),
        seed: int = typer.Option(0, "--seed", help="Seed of the synthetic market."),
        speed: float = typer.Option(1.0, "--speed", help="Market seconds per wall second."),
        funding: str = typer.Option(
            "seen",
            "--funding",
            help="Who may trade: any signer, addresses 'seen' in a query/subscription, or "
            "only 'listed' ones (--account).",
        ),
        account: list[str] = typer.Option(
            [], "--account", help="Address (0x + 40 hex digits) funded from the start (repeatable)."
        ),
        ip_weight: int = typer.Option(
            1200, "--ip-weight", help="REST weight per minute per client IP (HTTP 429 above)."
        ),
        schedule_cancel_min_volume: float = typer.Option(
            1_000_000.0,
            "--schedule-cancel-min-volume",
            metavar="USD",
            help="Traded volume an account needs before scheduleCancel (the dead-man's "
            "switch) is accepted; the venue asks $1,000,000. 0: always accepted.",
        ),
    ) -> None:
        """Run a Hyperliquid-compatible venue on 127.0.0.1 (/info, /exchange, /ws, /_control)."""
        _run(
            host,
            port,
            coin,
            data,
            scenario,
            seed,
            speed,
            funding,
            account,
            ip_weight,
            schedule_cancel_min_volume,
        )

    cli.add_typer(venue, name="venue")


__all__ = ["register"]
