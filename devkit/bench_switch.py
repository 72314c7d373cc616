"""`bench-switch`: from a block signal on switch.control to the switch refusing the account's next
call with 402, on a real Kamailio, beside the guard's own figure (CDR -> block signal, bench-guard)
measured in the same run.

For each sample a `blocked` signal is produced for a fresh account served by this Kamailio; the
time until Kamailio's `blocked` htable holds the account (polled over JSON-RPC every 2 ms) is what
an INVITE sent then would meet; every 10th sample is also checked with a real SIPp INVITE that
must get 402. The sum of the two medians (and p99s) is the whole path from a CDR crossing the
threshold to the refused call.
"""
from __future__ import annotations

import asyncio
import shutil
import time
import uuid

import click
import orjson

from devkit.bench_guard import run as run_guard
from devkit.bench_guard import stats
from devkit.local_switch import Switch
from pipeline.kafka.admin import ensure_topics
from pipeline.kafka.clients import KafkaClients
from pipeline.settings import Settings

SERVER = "bench-switch"


async def _measure(switch: Switch, settings: Settings, samples: int) -> tuple[list[float], int]:
    producer = KafkaClients(settings).producer(linger_ms=0)
    await producer.start()
    latencies, refused = [], 0
    try:
        for n in range(samples):
            account = f"bench-{n}"
            signal = {"account": account, "state": "blocked", "reason": "balance", "server": SERVER,
                      "reseller": "", "balance": "-0.01", "version": 1, "at": ""}
            started = time.perf_counter()
            await producer.send_and_wait(settings.topic("switch.control"), orjson.dumps(signal),
                                         key=account.encode(), headers=[("server", SERVER.encode())])
            while not _blocked(switch, account):
                if time.perf_counter() - started > 10:
                    raise RuntimeError(f"{account}: not in Kamailio's table 10 s after its signal\n{switch.logs()}")
                await asyncio.sleep(0.002)
            latencies.append((time.perf_counter() - started) * 1000)
            if n % 10 == 0:  # the table is what an INVITE meets: check it with a real one
                refused += switch.call("uac_refused.xml", account, timeout=5).returncode == 0
            if n % 20 == 0:
                click.echo(f"  {n}/{samples}")
    finally:
        await producer.stop()
    return latencies, refused


def _blocked(switch: Switch, account: str) -> bool:
    try:
        return bool(switch.rpc.call("htable.get", "blocked", account))
    except Exception:  # noqa: BLE001 - "not found" is an RPC error
        return False


def run(settings: Settings, samples: int, guard_samples: int) -> dict[str, float]:
    missing = [name for name in ("kamailio", "sipp") if shutil.which(name) is None
               and not shutil.which(f"/usr/sbin/{name}")]
    if missing:
        raise click.ClickException(f"{', '.join(missing)} not installed: apt-get install kamailio sip-tester")
    click.echo(f"[bench-switch] guard: CDR crossing a threshold -> block signal ({guard_samples} samples) ...")
    guard = run_guard(settings, guard_samples, 1000)
    settings = settings.model_copy(update={"topic_prefix": f"bench-switch-{uuid.uuid4().hex[:6]}-"})
    asyncio.run(ensure_topics(settings))
    switch = Switch(settings, SERVER)
    try:
        click.echo(f"[bench-switch] switch: block signal -> Kamailio refuses with 402 ({samples} samples) ...")
        switch.start()
        latencies, refused = asyncio.run(_measure(switch, settings, samples))
    finally:
        switch.stop()
    switch_stats = stats(latencies)
    rows = [
        ("CDR -> block signal (guard, bench-guard)", guard["CDR -> block signal, p50"], guard["CDR -> block signal, p99"]),
        ("block signal -> 402 at Kamailio", switch_stats["p50"], switch_stats["p99"]),
        ("CDR -> refused call (sum)", guard["CDR -> block signal, p50"] + switch_stats["p50"],
         guard["CDR -> block signal, p99"] + switch_stats["p99"]),
        ("baseline: broker produce -> consume", guard["broker produce -> consume, p50"],
         guard["broker produce -> consume, p99"]),
    ]
    click.echo(f"\n{'path':<44} {'p50 ms':>9} {'p99 ms':>9}")
    click.echo("-" * 64)
    for name, p50, p99 in rows:
        click.echo(f"{name:<44} {p50:>9.1f} {p99:>9.1f}")
    checked = (samples + 9) // 10
    click.echo(f"\n{refused}/{checked} sampled INVITEs got 402 once the table held the account")
    return {"signal -> 402, p50": switch_stats["p50"], "signal -> 402, p99": switch_stats["p99"],
            "invites refused": refused, "invites checked": checked}
