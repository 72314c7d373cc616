"""Agent `notify_webhooks`: POSTs every event on `alerts` to its alert's webhook.

Never blocks the windows: it reads the `alerts` topic on its own, and each POST is a task of its
own, tried `RATING_ALERTS_WEBHOOK_TRIES` times with a backoff doubling from 1 s (a receiver that is
down for a minute still gets it). At most MAX_IN_FLIGHT posts run at once; past MAX_QUEUED waiting,
new ones are dropped and logged (a receiver down for hours must not grow the worker without end).
A worker killed mid-retry loses that notification: the event itself stays on `alerts` and in
ClickHouse.
"""
from __future__ import annotations

import asyncio
import logging

import aiohttp
import orjson

from pipeline.kafka.topics import ALERTS

log = logging.getLogger(__name__)
MAX_IN_FLIGHT = 32
MAX_QUEUED = 10_000


async def post_with_retries(session, url: str, body: bytes, tries: int, timeout: float,
                            first_delay: float = 1.0, sleep=asyncio.sleep) -> bool:
    """True once a 2xx answered; False after `tries` failures (each logged)."""

    delay = first_delay
    for attempt in range(1, tries + 1):
        try:
            async with session.post(url, data=body, headers={"Content-Type": "application/json"},
                                    timeout=aiohttp.ClientTimeout(total=timeout)) as response:
                if 200 <= response.status < 300:
                    return True
                problem = f"HTTP {response.status}"
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            problem = f"{type(exc).__name__}: {exc}"
        if attempt < tries:
            log.warning("webhook %s: %s (try %d of %d; again in %.0f s)", url, problem, attempt, tries, delay)
            await sleep(delay)
            delay = min(delay * 2, 60.0)
        else:
            log.error("webhook %s: %s; gave up after %d tries", url, problem, tries)
    return False


def define_notify(agents) -> None:
    app, settings = agents.app, agents.settings
    state = {"session": None, "queued": 0}
    limit = asyncio.Semaphore(MAX_IN_FLIGHT)

    async def deliver(url: str, body: bytes) -> None:
        try:
            async with limit:
                if state["session"] is None:
                    state["session"] = aiohttp.ClientSession()
                await post_with_retries(state["session"], url, body, settings.alerts_webhook_tries,
                                        settings.alerts_webhook_timeout_seconds)
        finally:
            state["queued"] -= 1

    @app.agent(agents.topics[settings.topic(ALERTS)], name="notify_webhooks")
    async def notify_webhooks(stream):
        await agents.wait_ready()
        async for value in stream:
            try:
                event = orjson.loads(value)
                alert = agents.book.alert(event["alert"])
            except (orjson.JSONDecodeError, KeyError, TypeError):
                continue
            if alert is None or alert.webhook is None:
                continue
            if state["queued"] >= MAX_QUEUED:
                log.error("webhook %s: %d notifications waiting; dropping %s/%s %s", alert.webhook,
                          state["queued"], event["alert"], event.get("target"), event.get("state"))
                continue
            state["queued"] += 1
            asyncio.ensure_future(deliver(alert.webhook, value))

    agents.agents["notify_webhooks"] = notify_webhooks
