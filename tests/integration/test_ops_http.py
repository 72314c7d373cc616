"""The operations server on a real socket (an ephemeral port on 127.0.0.1; no Kafka needed)."""
from __future__ import annotations

import logging

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from pipeline.observability.metrics import Metrics
from pipeline.observability.server import OpsServerError, bound_address, start_ops_server, stop_ops_server


@pytest.fixture
async def ops():
    """(base url, metrics, the readiness list the server reports) of a running server."""
    metrics, waiting_for = Metrics(), ["reference data", "guard"]
    runner = await start_ops_server("127.0.0.1", 0, metrics, lambda: list(waiting_for))
    host, port = bound_address(runner)
    yield f"http://{host}:{port}", metrics, waiting_for, runner
    await stop_ops_server(runner)


async def get(url: str) -> tuple[int, str, str]:
    async with aiohttp.ClientSession() as session:
        async with session.get(url, timeout=aiohttp.ClientTimeout(total=5)) as response:
            return response.status, response.headers["Content-Type"], await response.text()


async def test_metrics_serve_the_live_registry_in_prometheus_text_format(ops):
    url, metrics, _, _ = ops
    metrics.batch("rate", 42, 0.003)
    metrics.rejected("rate", "no_rate", 2)
    status, content_type, body = await get(f"{url}/metrics")
    assert status == 200 and content_type.startswith("text/plain") and "version=0.0.4" in content_type
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(body) for s in family.samples}
    assert samples[("rating_stage_messages_in_total", (("stage", "rate"),))] == 42
    assert samples[("rating_rejections_total", (("reason", "no_rate"), ("stage", "rate")))] == 2
    assert "# HELP rating_block_signal_seconds " in body
    metrics.batch("rate", 8, 0.003)  # read again: the numbers are now, not from the start
    assert "rating_stage_messages_in_total{stage=\"rate\"} 50.0" in (await get(f"{url}/metrics"))[2]


async def test_health_answers_while_not_ready(ops):
    url, _, _, _ = ops
    status, content_type, body = await get(f"{url}/health")
    assert status == 200 and content_type.startswith("application/json") and '"alive": true' in body


async def test_ready_names_what_it_waits_for_until_nothing_is_left(ops):
    url, _, waiting_for, _ = ops
    status, _, body = await get(f"{url}/ready")
    assert status == 503
    assert body == '{"ready": false, "waiting_for": ["reference data", "guard"]}'
    waiting_for.remove("reference data")
    assert (await get(f"{url}/ready"))[:3:2] == (503, '{"ready": false, "waiting_for": ["guard"]}')
    waiting_for.clear()
    assert (await get(f"{url}/ready"))[:3:2] == (200, '{"ready": true}')


async def test_a_failing_readiness_check_is_not_ready_and_the_server_keeps_serving(caplog):
    def broken() -> list[str]:
        raise KeyError("guard")

    runner = await start_ops_server("127.0.0.1", 0, Metrics(), broken)
    try:
        url = "http://%s:%d" % bound_address(runner)
        status, _, body = await get(f"{url}/ready")
        assert status == 503 and "readiness check failed: KeyError" in body
        assert (await get(f"{url}/health"))[0] == 200
        assert "Traceback" not in caplog.text
    finally:
        await stop_ops_server(runner)


async def test_a_taken_port_is_a_clear_error_naming_the_setting(ops):
    url, _, _, runner = ops
    host, port = bound_address(runner)
    with pytest.raises(OpsServerError, match=f"cannot serve /metrics on 127.0.0.1:{port}: .*RATING_METRICS_PORT"):
        await start_ops_server(host, port, Metrics(), lambda: [])


async def test_scrapes_are_not_logged_and_stop_closes_the_port(caplog):
    runner = await start_ops_server("127.0.0.1", 0, Metrics(), lambda: [])
    url = "http://%s:%d" % bound_address(runner)
    with caplog.at_level(logging.DEBUG, logger="aiohttp.access"):
        for _ in range(3):
            assert (await get(f"{url}/metrics"))[0] == 200
    assert not [r for r in caplog.records if r.name == "aiohttp.access"]
    await stop_ops_server(runner)
    with pytest.raises(aiohttp.ClientConnectionError):
        await get(f"{url}/health")
