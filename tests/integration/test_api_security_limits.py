"""Days at the API's door on the real ClickHouse (the in-memory fakes answer any day): a far day
was a 500 from the calls, stats, profit and re-rate queries; now it is a 422 before any query, and
the first and last days the API takes are answered by ClickHouse itself."""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from pipeline.api.app import production_app
from pipeline.api.config import ApiConfig
from tests.integration.api_kit import seed


@pytest.fixture
def running(settings_factory):
    settings = settings_factory()
    tokens = seed(settings)
    with TestClient(production_app(settings, ApiConfig(secret="limits-secret"))) as client:
        yield client, {"Authorization": f"Bearer {tokens['admin']}"}


@pytest.mark.parametrize("route", ["/v1/calls", "/v1/stats", "/v1/profit"])
def test_far_days_are_422_and_the_edge_days_are_answered_by_clickhouse(running, route):
    client, admin = running
    for first, last in (("9999-12-01", "9999-12-31"), ("1970-01-01", "1970-01-02")):
        answer = client.get(f"{route}?from={first}&to={last}", headers=admin)
        assert answer.status_code == 422, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
    for first, last in (("2100-12-01", "2100-12-31"), ("2000-01-01", "2000-01-31")):
        answer = client.get(f"{route}?from={first}&to={last}", headers=admin)
        assert answer.status_code == 200, answer.text


def test_a_rerate_of_far_days_is_422_and_of_the_last_days_runs(running):
    client, admin = running
    far = client.post("/v1/rerates", headers=admin, json={"from": "9999-12-01", "to": "9999-12-31", "dry_run": True})
    assert far.status_code == 422, far.text
    edge = client.post("/v1/rerates", headers=admin, json={"from": "2100-12-01", "to": "2100-12-31", "dry_run": True})
    assert edge.status_code == 200, edge.text
    assert edge.json()["calls"] == 0
