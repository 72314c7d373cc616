"""The operations endpoints of a worker: /metrics, /health and /ready on one small aiohttp server.

- /metrics: the Prometheus text format of the worker's own registry (metrics.py).
- /health: 200 whenever it answers. The handler runs on the worker's event loop, so an answer
  proves the loop turns; a loop blocked by a runaway step times the probe out.
- /ready: 200 when `readiness()` returns nothing to wait for, else 503 with what is missing,
  e.g. {"ready": false, "waiting_for": ["reference data", "guard"]}.

Bound to 127.0.0.1 unless told otherwise (RATING_METRICS_HOST): the numbers name accounts' stages
and topics, not something to publish beyond the host. No access log: a scrape every 15 s would
bury the worker's own lines.
"""
from __future__ import annotations

import logging
from collections.abc import Callable

from aiohttp import web
from prometheus_client import generate_latest

from pipeline.observability.metrics import Metrics

log = logging.getLogger(__name__)

# the classic text format, which every Prometheus (2.x and 3.x) reads; our names need nothing newer
# (prometheus_client's CONTENT_TYPE_LATEST moved to 1.0.0, which only Prometheus 3 knows)
METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
Readiness = Callable[[], list[str]]  # what the worker still waits for; empty when ready


class OpsServerError(RuntimeError):
    """The operations server could not start (the port is taken, the host is not ours)."""


def ops_app(metrics: Metrics, readiness: Readiness) -> web.Application:
    async def serve_metrics(request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(metrics.registry), headers={"Content-Type": METRICS_CONTENT_TYPE})

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"alive": True})

    async def ready(request: web.Request) -> web.Response:
        try:
            waiting_for = [str(item) for item in readiness()]
        except Exception as exc:  # noqa: BLE001 - a probe answers "not ready", it does not crash
            log.warning("readiness check failed: %s: %s", type(exc).__name__, exc)
            waiting_for = [f"readiness check failed: {type(exc).__name__}"]
        if waiting_for:
            return web.json_response({"ready": False, "waiting_for": waiting_for}, status=503)
        return web.json_response({"ready": True})

    app = web.Application()
    app.router.add_get("/metrics", serve_metrics)
    app.router.add_get("/health", health)
    app.router.add_get("/ready", ready)
    return app


async def start_ops_server(host: str, port: int, metrics: Metrics, readiness: Readiness) -> web.AppRunner:
    """Serve until `stop_ops_server(runner)`; port 0 picks a free one (see `bound_address`)."""
    runner = web.AppRunner(ops_app(metrics, readiness), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as exc:
        await runner.cleanup()
        raise OpsServerError(
            f"cannot serve /metrics on {host}:{port}: {exc.strerror or exc}; "
            "set RATING_METRICS_PORT (or RATING_METRICS_HOST) to a free address"
        ) from None
    log.info("metrics, health and readiness on http://%s:%d/", *bound_address(runner))
    return runner


async def stop_ops_server(runner: web.AppRunner) -> None:
    await runner.cleanup()


def bound_address(runner: web.AppRunner) -> tuple[str, int]:
    """The (host, port) the server listens on: the real port when it was started with port 0."""
    host, port = runner.addresses[0][:2]
    return host, port
