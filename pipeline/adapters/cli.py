"""`adapter NAME` (switch CDRs -> cdr.raw) and `switch-control` (switch.control -> Kamailio's htable).

Two commands, two processes: blocking must go on while CDR reading stalls (and the other way
round), and each has its own position (the adapter a state file or a consumer group; the
controller none: it rebuilds its table from the compacted topic on every start).
"""
from __future__ import annotations

import asyncio
import hashlib
import signal
import sys
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click

from pipeline.adapters import ADAPTERS, SwitchContext
from pipeline.adapters.controller import run_controller
from pipeline.adapters.kamailio_authorize import main as switch_authorize
from pipeline.adapters.kamailio_rpc import KamailioRpc
from pipeline.adapters.runner import run_spool, run_topic
from pipeline.adapters.spool import Spool
from pipeline.logging_setup import setup_logging
from pipeline.settings import Settings


def register(group: click.Group) -> None:
    group.add_command(adapter)
    group.add_command(switch_control)
    group.add_command(switch_authorize, "switch-authorize")  # also `python -m pipeline.adapters.kamailio_authorize`



def default_rpc_socket(settings: Settings) -> Path:
    """Where deploy/local/up --switch makes Kamailio listen for JSON-RPC."""
    return settings.local_dir / "run" / "kamailio_rpc.sock"


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    return stop


@click.command(help="Turn a switch's CDRs into contract CDRs on cdr.raw (bad ones on cdr.rejected, reason "
                    "`adapter`). NAME: " + ", ".join(sorted(ADAPTERS)) + ". Resumes where it stopped.")
@click.argument("name", type=click.Choice(sorted(ADAPTERS)))
@click.option("--from-file", "from_file", type=click.Path(dir_okay=False, path_type=Path),
              help="a file the switch appends to (followed; it may not exist yet)")
@click.option("--from-dir", "from_dir", type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="a directory of CDR files (FreeSWITCH log-dir, rotated Master.csv files), in name order")
@click.option("--from-topic", "from_topic", help="a Kafka topic (full name) with one switch record per message")
@click.option("--server", default=None, help="server_id of these CDRs (default: RATING_SWITCH_SERVER)")
@click.option("--timezone", "zone", default="UTC", show_default=True,
              help="the switch's local time zone, for times it writes without an offset")
@click.option("--state", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="position file (default: under RATING_LOCAL_DIR/adapters)")
@click.option("--once", is_flag=True, help="stop when everything there now was sent, instead of following")
@click.option("--columns", default="", metavar="A,B,C",
              help="the columns of each row, in order: an Asterisk cdr_custom / cdr_adaptive_odbc mapping "
                   "(clid,src,dst,...,uniqueid,sequence), or Kamailio flatstore acc / missed_calls rows "
                   "(method,from_tag,to_tag,callid,sip_code,sip_reason,time,<db_extra names>)")
@click.option("--cdr-columns", "cdr_columns", default="", metavar="A,B,C",
              help="Kamailio flatstore acc_cdrs rows: start_time,end_time,duration,<cdr_extra names>")
@click.option("--max-call-seconds", type=click.IntRange(min=60), default=43200, show_default=True,
              help="Kamailio transactions: an answered INVITE whose BYE has not come this long after it "
                   "(in the log's time) is rejected")
def adapter(name: str, from_file: Path | None, from_dir: Path | None, from_topic: str | None, server: str | None,
            zone: str, state: Path | None, once: bool, columns: str, cdr_columns: str, max_call_seconds: int) -> None:
    sources = [source for source in (from_file, from_dir, from_topic) if source]
    if len(sources) != 1:
        raise click.UsageError("give exactly one of --from-file, --from-dir, --from-topic")
    try:
        local_tz = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise click.BadParameter(f"{zone!r} is not an IANA time zone (e.g. Europe/Vilnius)", param_hint="--timezone") from None
    settings = Settings()
    setup_logging(settings.log_level)
    context = SwitchContext(server or settings.switch_server, local_tz, _names(columns, "--columns"),
                            _names(cdr_columns, "--cdr-columns"), max_call_seconds)
    chosen = ADAPTERS[name]
    counts = asyncio.run(_run_adapter(settings, chosen, context, from_file or from_dir, from_topic, state, once))
    click.echo(f"{name}: {counts.summary()}")


def _names(listed: str, option: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in listed.split(",")) if listed.strip() else ()
    if any(not name for name in names):
        raise click.BadParameter(f"{listed!r} has an empty column name", param_hint=option)
    if len(set(names)) != len(names):
        raise click.BadParameter(f"{listed!r} names a column twice", param_hint=option)
    return names


async def _run_adapter(settings, chosen, context, path: Path | None, topic: str | None, state: Path | None, once: bool):
    stop = _stop_on_signals()
    if topic:
        if state is None:
            digest = hashlib.sha1(topic.encode()).hexdigest()[:10]
            state = settings.local_dir / "adapters" / f"{settings.topic_prefix}{chosen.name}-topic-{digest}.json"
        return await run_topic(settings, chosen, context, topic, stop, follow=not once, state_path=state)
    path = path.resolve()
    if state is None:
        digest = hashlib.sha1(str(path).encode()).hexdigest()[:10]
        state = settings.local_dir / "adapters" / f"{settings.topic_prefix}{chosen.name}-{digest}.json"
    framing = chosen.dir_framing if path.is_dir() else "line"
    try:
        spool = Spool(path, state, framing)
        return await run_spool(settings, chosen, context, spool, stop, follow=not once)
    except (OSError, ValueError) as exc:
        click.echo(f"adapter {chosen.name}: {exc}", err=True)
        sys.exit(1)


@click.command("switch-control", help="Keep Kamailio's htable `blocked` equal to the accounts blocked on "
                                      "switch.control for this server, and end a blocked account's calls.")
@click.option("--server", default=None, help="the switch's server id (default: RATING_SWITCH_SERVER)")
@click.option("--rpc-socket", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Kamailio's jsonrpcs datagram socket (default: RATING_LOCAL_DIR/run/kamailio_rpc.sock)")
def switch_control(server: str | None, rpc_socket: Path | None) -> None:
    settings = Settings()
    setup_logging(settings.log_level)
    server = server or settings.switch_server
    rpc = KamailioRpc(rpc_socket or default_rpc_socket(settings))

    async def main() -> None:
        await run_controller(settings, server, rpc, _stop_on_signals())

    asyncio.run(main())
