"""Alerts on the real broker and ClickHouse: the alert agents (`python -m pipeline alerts`) beside
a worker. Toll fraud blocked through switch.control with reason `alert` and lifted by hand; a dead
provider alerted, its webhook retried; a restart mid-window (SIGTERM, then SIGKILL) resumes the
window from the tables and never fires twice; the worker's role `alerts` runs the same agents."""
from __future__ import annotations

import asyncio
from decimal import Decimal

import orjson
import pytest
from aiohttp import web

from devkit.worker_process import WorkerProcess
from pipeline.agents.app import READY
from pipeline.alerts.store import current_blocks, lift, recent_events
from pipeline.control_topic import account_states
from pipeline.kafka.topic_io import count_messages, produce_all, read_all
from pipeline.payments import send_payment
from pipeline.sinks.clickhouse import connect
from tests.integration.kit import SAMPLES, seed_reference, start_worker, wait_for

pytestmark = pytest.mark.integration


def cdr(n: int, account: str, dst: str, billsec: int, start: str = "2026-11-24T03:10:00Z") -> tuple[bytes, bytes]:
    value = {"call_id": f"al-{n}", "server_id": "ast1", "account": account, "dst": dst, "start_time": start,
             "billsec": billsec, "provider": "p1"}
    return f"al-{n}".encode(), orjson.dumps(value)


def alerts_file(tmp_path, webhook: str):
    alerts = [
        # toll fraud: one user's calls to a premium prefix over an hour, priced at his price
        {"kind": "alert", "id": "fraud", "scope": {"type": "prefix", "prefix": "1900"}, "metric": "price_sum",
         "window_seconds": 3600, "op": ">", "threshold": "8", "action": "block"},
        # a dead provider: fewer than 20% answered, judged from 5 calls on
        {"kind": "alert", "id": "dead-p1", "scope": {"type": "provider", "id": "p1"}, "metric": "asr",
         "window_seconds": 900, "op": "<", "threshold": "20", "min_calls": 5, "webhook": webhook},
        # a flood: more than 4 calls in 5 minutes
        {"kind": "alert", "id": "flood-u3", "scope": {"type": "account", "id": "u3"}, "metric": "calls",
         "window_seconds": 300, "op": ">", "threshold": "4"},
    ]
    path = tmp_path / "alerts.json"
    path.write_bytes(orjson.dumps(alerts))
    return path


async def webhook_server():
    """Answers 500 to the first POST (the agent must retry), 200 after; keeps what it got."""
    got: list[dict] = []

    async def receive(request):
        got.append(orjson.loads(await request.read()))
        return web.Response(status=500 if len(got) == 1 else 200)

    app = web.Application()
    app.router.add_post("/hook", receive)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    return runner, f"http://127.0.0.1:{port}/hook", got


def start_alerts(settings, name: str) -> WorkerProcess:
    process = WorkerProcess(settings, settings.local_dir / "logs" / f"{name}.log", args=("alerts", "--loglevel=info"))
    process.start()
    try:
        process.wait_until_logged(READY, timeout=120)
    except BaseException:
        process.kill()
        raise
    return process


async def events_of(settings) -> list[dict]:
    return [orjson.loads(m.value) for m in await read_all(settings, "alerts")]


async def state_of(settings, account: str):
    found = (await account_states(settings)).get(account)
    return None if found is None else (found["state"], found["reason"])


async def test_fraud_blocked_dead_provider_alerted_and_a_restart_resumes_the_windows(settings_factory, tmp_path):
    settings = settings_factory(partitions=2, alerts_tick_seconds=1.0, alerts_webhook_tries=4)
    runner, url, hooks = await webhook_server()
    await seed_reference(settings, SAMPLES / "operator.json", SAMPLES / "resellers.json", alerts_file(tmp_path, url))
    worker = start_worker(settings)
    alerts = start_alerts(settings, "alerts")
    try:
        await send_payment(settings, "pay-r1", "r1", Decimal("100"))
        await wait_for(lambda: _is(settings, "u2", ("active", "ok")), 30, "u2 active once r1 paid", worker)

        # toll fraud at night: u2 calls 1900 numbers, 10 minutes each at 0.5/min; the second call passes 8
        await produce_all(settings, "cdr.raw", [cdr(1, "u2", "19005550001", 600), cdr(2, "u2", "19005550002", 600)])
        await wait_for(lambda: _is(settings, "u2", ("blocked", "alert")), 60, "u2 blocked by the fraud alert", alerts)
        fired = [e for e in await events_of(settings) if e["alert"] == "fraud"]
        assert [(e["target"], e["state"], e["value"], e["threshold"]) for e in fired] == [
            ("u2", "fired", "10.000000", "8")]
        assert [b["account"] for b in await current_blocks(settings)] == ["u2"]
        # lifted by hand: u2 calls again (his money was never the problem)
        await lift(settings, "fraud", "u2", by="admin")
        await wait_for(lambda: _is(settings, "u2", ("active", "ok")), 30, "u2 active once lifted", worker)

        # a dead provider: d1's calls through p1 go unanswered; with u2's two answered calls, the ASR
        # drops below 20% at the 11th call in its window
        await produce_all(settings, "cdr.raw", [cdr(10 + n, "d1", "37060000001", 0) for n in range(10)])
        await wait_for(lambda: _has_event(settings, "dead-p1", "fired"), 60, "the dead provider alerted", alerts)
        dead = [e for e in await events_of(settings) if e["alert"] == "dead-p1"]
        assert [(e["target"], e["value"]) for e in dead] == [("p1", "18.181818")]
        await wait_for(lambda: len(hooks) >= 2, 30, "the webhook retried after its 500")
        assert hooks[0] == hooks[1] and hooks[1]["alert"] == "dead-p1" and hooks[1]["state"] == "fired"

        # a restart mid-window: u3 calls three times (each observed by flood-u3 and dead-p1); the agents
        # stop; two more calls; the restarted agents fire at 5, which they can only count from the
        # restored window. SIGKILLed then: what they replay is counted once and nothing fires again.
        before = await count_messages(settings, "alerts.observations")
        await produce_all(settings, "cdr.raw", [cdr(20 + n, "u3", "37060000001", 30) for n in range(3)])
        await wait_for(lambda: _observed(settings, before + 6), 60, "u3's calls observed", alerts)
        await asyncio.sleep(4)  # counted and committed
        assert not await _has_event(settings, "flood-u3", "fired")
        alerts.stop()
        await produce_all(settings, "cdr.raw", [cdr(30 + n, "u3", "37060000001", 30) for n in range(2)])
        alerts = start_alerts(settings, "alerts-restarted")
        await wait_for(lambda: _has_event(settings, "flood-u3", "fired"), 60, "the flood fired after the restart",
                       alerts)
        alerts.kill()
        alerts = start_alerts(settings, "alerts-killed")
        await produce_all(settings, "cdr.raw", [cdr(40, "u3", "37060000001", 30)])
        await wait_for(lambda: _observed(settings, before + 12), 60, "the last call observed", alerts)
        await asyncio.sleep(4)
        flood = [(e["state"], e["value"]) for e in await events_of(settings) if e["alert"] == "flood-u3"]
        assert flood == [("fired", "5")], flood
        # ClickHouse has the events (fraud and dead-p1 and flood fired)
        client = connect(settings)
        await wait_for(lambda: len(recent_events(client, settings.clickhouse_database)) >= 3, 30,
                       "alert_events rows", alerts)
        rows = recent_events(client, settings.clickhouse_database)
        assert {(r["alert"], r["target"], r["state"]) for r in rows} >= {
            ("fraud", "u2", "fired"), ("dead-p1", "p1", "fired"), ("flood-u3", "u3", "fired")}
        assert len(rows) == len({(r["alert"], r["target"], r["state"], r["at"]) for r in rows})
    finally:
        alerts.stop()
        worker.stop()
        await runner.cleanup()


async def _is(settings, account, expected) -> bool:
    return await state_of(settings, account) == expected


async def _has_event(settings, alert_id, state) -> bool:
    return any(e["alert"] == alert_id and e["state"] == state for e in await events_of(settings))


async def _observed(settings, at_least: int) -> bool:
    return await count_messages(settings, "alerts.observations") >= at_least


async def test_the_worker_role_alerts_runs_the_agents_as_a_child(settings_factory):
    settings = settings_factory(partitions=1, roles=frozenset({"rate", "alerts"}))
    await seed_reference(settings)
    worker = start_worker(settings, ready=READY)
    try:
        assert worker.alive()
    finally:
        worker.stop()
