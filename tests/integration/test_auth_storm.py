"""The overspend storm on the real broker, worker and API process: prepaid users under prepaid
resellers open simultaneous calls through POST /v1/authorize, each CDR at most its max_seconds.
No prepaid balance may end below zero, and every balance must be what the price model says."""
from __future__ import annotations

import asyncio
import socket
from decimal import Decimal

from devkit.auth_storm import storm
from devkit.worker_process import WorkerProcess, start_api
from pipeline.api.kafka_backend import ensure_api_topics, publish_logins
from tests.integration.kit import seed_reference, start_worker


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def api_process(settings) -> tuple[WorkerProcess, str]:
    return start_api(settings, settings.local_dir / "logs" / "api.log"), f"http://{settings.api_host}:{settings.api_port}"


def test_no_prepaid_balance_goes_below_zero_in_a_storm_of_simultaneous_calls(settings_factory):
    settings = settings_factory(api_port=free_port())

    async def prepare() -> str:
        await seed_reference(settings)
        await ensure_api_topics(settings)
        return (await publish_logins(settings, ["admin"]))["admin"]

    token = asyncio.run(prepare())
    worker = start_worker(settings)
    api, base = api_process(settings)
    try:
        report = asyncio.run(storm(settings, base, token, users=12, resellers=3, calls=160, concurrency=12,
                                   say=print))
    finally:
        api.stop()
        worker.kill()
    print(f"storm: {dict(report.refused)}; false refusals {report.false_refusals}/{report.money_refusals}; "
          f"worst balance {report.worst_balance} ({report.worst_account})")
    assert report.allowed > 40 and sum(report.refused.values()) > 0  # the money ran out for some
    assert report.balances_exact, report.mismatches
    assert report.worst_balance is not None and report.worst_balance >= Decimal(0)
