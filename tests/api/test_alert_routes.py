"""Alerts in the API and the portal (pipeline/api/routes_alerts.py), on the in-memory backend:
who sees and sets which alert, whose events and blocks a caller sees, lifting a block."""
from __future__ import annotations

import pytest

from tests.api.api_world import World, portal_client

FLOOD = {"scope": {"type": "account", "id": "u1"}, "metric": "calls", "window_seconds": 60, "op": ">",
         "threshold": 10, "action": "block"}


class FakeAlerts:
    def __init__(self) -> None:
        self.rows = [
            {"alert": "fraud-r1", "target": "u1", "state": "fired", "owner": "r1", "value": "9", "threshold": "5",
             "metric": "price_sum", "window_start": "2026-01-01T00:00:00Z", "window_end": "2026-01-01T01:00:00Z",
             "at": "2026-01-01T00:30:00Z", "action": "block"},
            {"alert": "dead-p1", "target": "p1", "state": "fired", "owner": "admin", "value": "0", "threshold": "20",
             "metric": "asr", "window_start": "2026-01-01T00:00:00Z", "window_end": "2026-01-01T00:15:00Z",
             "at": "2026-01-01T00:10:00Z", "action": "notify"},
        ]
        self.blocked = [{"alert": "fraud-r1", "account": "u1", "state": "blocked", "by": "alert", "at": "x"},
                        {"alert": "admin-flood", "account": "u2", "state": "blocked", "by": "alert", "at": "y"}]
        self.lifted: list[tuple] = []

    def events(self, limit, owners, targets):
        if owners is None:
            return self.rows[:limit]
        return [r for r in self.rows if r["owner"] in owners or r["target"] in targets][:limit]

    async def blocks(self):
        return list(self.blocked)

    async def lift(self, alert_id, account, by):
        self.lifted.append((alert_id, account, by))


@pytest.fixture
def world():
    world = World()
    world.backend.alerts = FakeAlerts()
    return world


def test_a_reseller_sets_an_alert_on_his_user_and_it_defaults_to_his_ownership(world):
    answer = world.put("r1", "/v1/alerts/fraud-r1", json=FLOOD)
    assert answer.status_code == 200, answer.text
    assert answer.json()["owner"] == "r1"
    assert [a["id"] for a in world.get("r1", "/v1/alerts").json()] == ["fraud-r1"]
    assert [a["id"] for a in world.get("r2", "/v1/alerts").json()] == ["r2-watch"]  # his own, not r1's
    assert world.get("r2", "/v1/alerts/fraud-r1").status_code == 404
    assert world.get("admin", "/v1/alerts/fraud-r1").json()["threshold"] == "10"


def test_a_reseller_may_not_watch_another_resellers_user_nor_take_over_an_alert(world):
    answer = world.put("r2", "/v1/alerts/x", json=FLOOD)  # u1 is r1's
    assert answer.status_code == 422 and "only watch his own users" in answer.json()["detail"]
    assert world.put("admin", "/v1/alerts/adm", json=FLOOD).status_code == 200
    assert world.put("r1", "/v1/alerts/adm", json=FLOOD).status_code == 404  # the admin's: not in his view
    assert world.put("u1", "/v1/alerts/mine", json=FLOOD).status_code == 404


def test_an_invalid_alert_is_refused_naming_the_field(world):
    answer = world.put("admin", "/v1/alerts/bad", json={**FLOOD, "window_seconds": 61})
    assert answer.status_code == 422 and "window_seconds" in answer.json()["detail"]


def test_events_are_scoped_by_role(world):
    assert len(world.get("admin", "/v1/alert-events").json()) == 2
    assert [e["alert"] for e in world.get("r1", "/v1/alert-events").json()] == ["fraud-r1"]
    assert world.get("r2", "/v1/alert-events").json() == []
    assert [e["target"] for e in world.get("u1", "/v1/alert-events").json()] == ["u1"]


def test_blocks_are_scoped_and_lifted_by_whom_they_belong_to(world):
    world.put("r1", "/v1/alerts/fraud-r1", json=FLOOD)
    assert [b["account"] for b in world.get("r1", "/v1/alert-blocks").json()] == ["u1"]
    assert world.client.delete("/v1/alerts/fraud-r1/blocks/u1", headers=world.headers("r2")).status_code == 404
    assert world.client.delete("/v1/alerts/fraud-r1/blocks/u1", headers=world.headers("r1")).status_code == 204
    assert world.backend.alerts.lifted == [("fraud-r1", "u1", "r1")]


def test_the_portal_page_lists_alerts_events_and_blocks(world):
    world.put("r1", "/v1/alerts/fraud-r1", json=FLOOD)
    client, csrf = portal_client(world, "r1")
    page = client.get("/alerts")
    assert page.status_code == 200
    assert "fraud-r1" in page.text and "dead-p1" not in page.text and "u2" not in page.text
    answer = client.post("/alerts/lift", data={"csrf": csrf, "alert": "fraud-r1", "account": "u1"},
                         follow_redirects=False)
    assert answer.status_code == 303
    assert world.backend.alerts.lifted == [("fraud-r1", "u1", "r1")]


def test_the_dashboard_has_an_alerts_card_with_who_an_alert_blocks():
    from tests.api.api_world import World, portal_client

    world = World()
    world.live.states["u1"] = {"account": "u1", "state": "blocked", "reason": "alert"}
    client, _ = portal_client(world, "r1")
    page = client.get("/").text
    assert "Alerts" in page and "blocked by an alert" in page and "Alice Uno" in page
    world.live.states["u1"] = {"account": "u1", "state": "active", "reason": "ok"}
    assert "Nobody is blocked by an alert." in client.get("/").text
