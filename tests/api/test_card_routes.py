"""Calling cards in the API and the portal on the in-memory world: groups, batches as CSV, card
states, who sees what, the card holder's page; and a schemathesis run of the card endpoints."""
from __future__ import annotations

import csv
import io
import re
from decimal import Decimal

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from pipeline.schemas.cards import pin_matches
from tests.api.api_world import World, portal_client

GROUP = {"tariff": "t-r1-retail", "face_value": "5", "number_length": 8, "pin_length": 4}


def world_with_group() -> World:
    world = World()
    assert world.put("r1", "/v1/card-groups/g-r1", json=GROUP).status_code == 200
    return world


def batch(world: World, account="r1", count=3, sold=True) -> list[list[str]]:
    answer = world.post(account, "/v1/card-groups/g-r1/cards", json={"count": count, "sold": sold})
    assert answer.status_code == 201, answer.text
    assert answer.headers["content-type"].startswith("text/csv") and answer.headers["cache-control"] == "no-store"
    rows = list(csv.reader(io.StringIO(answer.text)))
    assert rows[0] == ["number", "pin", "balance"]
    return rows[1:]


def test_a_reseller_writes_his_group_and_nobody_else_sees_it():
    world = world_with_group()
    group = world.get("r1", "/v1/card-groups/g-r1").json()
    assert (group["owner"], group["tariff"], group["face_value"], group["cards"], group["most_cards"]) == (
        "r1", "t-r1-retail", "5", 0, 2000)
    assert [g["id"] for g in world.get("admin", "/v1/card-groups").json()] == ["g-r1", "g-r2"]
    assert [g["id"] for g in world.get("r1", "/v1/card-groups").json()] == ["g-r1"]
    for account in ("r2", "u1", "d1"):
        assert world.get(account, "/v1/card-groups/g-r1").status_code == 404
        assert world.put(account, "/v1/card-groups/g-r1", json={"tariff": "t-r2-retail"}).status_code == 404
    assert world.get("u1", "/v1/card-groups").json() == []
    # the rules of ref apply: a reseller's group uses his own tariff
    refused = world.put("r1", "/v1/card-groups/g-r1b", json={"tariff": "t-r-buy"})
    assert refused.status_code == 422 and "needs a tariff of that owner" in refused.json()["detail"]
    assert world.put("r1", "/v1/card-groups/g-r1c", json={"tariff": "t-r1-retail", "pin_length": 3}).status_code == 422


def test_a_batch_is_csv_once_the_cards_are_accounts_and_face_values_are_payments():
    world = world_with_group()
    rows = batch(world, count=3)
    numbers = [r[0] for r in rows]
    assert len(set(numbers)) == 3 and all(len(n) == 8 for n in numbers) and {r[2] for r in rows} == {"5"}
    book = world.live.book
    for number, pin, _ in rows:
        card = book.card(number)
        assert card.state == "sold" and pin_matches(pin, card.pin_hash)
        assert (book.account(number).parent, book.account(number).tariff) == ("r1", "t-r1-retail")
    assert world.writer.payments[-3:] == [{"id": f"card-face:{n}", "account": n, "amount": "5"} for n in numbers]
    world.live.balances[numbers[0]] = (1, Decimal(5))
    shown = world.get("r1", f"/v1/cards/{numbers[0]}").json()
    assert shown == {"number": numbers[0], "group": "g-r1", "state": "sold", "balance": "5", "currency": "EUR",
                     "first_use": None, "last_use": None, "calls": 0}
    assert world.get("r1", f"/v1/balances/{numbers[0]}").json()["balance"] == "5"
    listed = world.get("r1", "/v1/card-groups/g-r1/cards").text
    assert "pbkdf2" not in listed and all(f'"{pin}"' not in listed for _, pin, _ in rows)
    assert not any(pin in str(entry) for entry in world.writer.audits for _, pin, _ in rows if len(pin) == 4
                   and pin not in str(numbers))
    # a second batch never reuses a number; the group counts them
    again = [r[0] for r in batch(world, count=5, sold=False)]
    assert not set(again) & set(numbers) and world.get("r1", "/v1/card-groups/g-r1").json()["cards"] == 8
    assert world.get("r1", f"/v1/cards/{again[0]}").json()["state"] == "new"


def test_states_and_the_pin_space_limit():
    world = world_with_group()
    number = batch(world, count=1, sold=False)[0][0]
    assert world.post("r1", f"/v1/cards/{number}/unblock").status_code == 422
    assert world.post("r1", f"/v1/cards/{number}/sell").json()["state"] == "sold"
    assert world.post("r1", f"/v1/cards/{number}/block").json()["state"] == "blocked"
    assert world.live.book.account(number).blocked is True
    assert world.get("r1", f"/v1/balances/{number}").json()["state"] == "blocked"
    assert world.post("r1", f"/v1/cards/{number}/sell").status_code == 422
    assert world.post("r1", f"/v1/cards/{number}/unblock").json()["state"] == "sold"
    assert world.live.book.account(number).blocked is False
    for account in ("r2", "u1", "d1"):
        assert world.post(account, f"/v1/cards/{number}/block").status_code == 404
        assert world.get(account, f"/v1/cards/{number}").status_code == 404
    too_many = world.post("r1", "/v1/card-groups/g-r1/cards", json={"count": 2000})
    assert too_many.status_code == 422 and "at most 2000 cards" in too_many.json()["detail"]


def test_a_cards_calls_come_from_its_account():
    from tests.api.api_world import call

    world = world_with_group()
    number = batch(world, count=1)[0][0]
    world.calls.rows.append(call(number, "r1", "c-card-1", days_ago=2))
    world.calls.rows.append(call(number, "r1", "c-card-2"))
    shown = world.get("r1", f"/v1/cards/{number}").json()
    assert shown["calls"] == 2 and shown["first_use"] < shown["last_use"]


def test_portal_pages_generate_and_block():
    world = world_with_group()
    number = batch(world, count=1, sold=False)[0][0]
    client, csrf = portal_client(world, "r1")
    page = client.get("/card-groups/g-r1")
    assert page.status_code == 200 and number in page.text and "pbkdf2" not in page.text
    assert "g-r2" not in client.get("/card-groups").text
    assert client.get("/card-groups/g-r2").status_code == 404
    download = client.post("/card-groups/g-r1/generate", data={"count": "2", "csrf": csrf})
    assert download.headers["content-type"].startswith("text/csv") and len(download.text.splitlines()) == 3
    assert client.post("/card-groups/g-r1/generate", data={"count": "2", "csrf": "stale"}).status_code == 422
    done = client.post("/card-groups/g-r1/state", data={"number": number, "action": "block", "csrf": csrf},
                       follow_redirects=False)
    assert done.status_code == 303 and world.live.book.card(number).state == "blocked"


def test_the_card_holder_sees_his_balance_with_number_and_pin_and_guessing_is_throttled():
    world = world_with_group()
    number, pin, _ = batch(world, count=1)[0]
    world.live.balances[number] = (1, Decimal("4.25"))
    client = world.client

    def sign_in(given_pin: str):
        form = client.get("/card")
        token = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
        return client.post("/card", data={"number": number, "pin": given_pin, "csrf": token})

    shown = sign_in(pin)
    assert shown.status_code == 200 and "4.25" in shown.text and number in shown.text
    assert shown.headers["cache-control"] == "no-store"
    wrong = "0000" if pin != "0000" else "1111"
    answers = [sign_in(wrong).status_code for _ in range(world.backend.config.login_attempts + 1)]
    assert answers[0] == 401 and answers[-1] == 429 and "4.25" not in sign_in(wrong).text
    no_token = client.post("/card", data={"number": number, "pin": pin, "csrf": "x"})
    assert no_token.status_code == 400 and "4.25" not in no_token.text


schema = schemathesis.openapi.from_asgi("/openapi.json", world_with_group().app)
schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
cards_schema = schema.include(path_regex="^/v1/card")
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@cards_schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_card_endpoints_answer_as_documented(case):
    app_world = case.operation.schema.app.state.backend
    for account in ("admin", "r1", "u1", None):
        headers = _headers(app_world, account)
        case.call_and_validate(headers=headers, checks=CHECKS)


_TOKENS: dict = {}


def _headers(backend, account):
    if account is None:
        return {}
    if account not in _TOKENS:
        from pipeline.api.credentials import new_token

        token = new_token(account)
        backend.live.credentials.apply(token.key, token.value)
        _TOKENS[account] = token.token
    return {"Authorization": f"Bearer {_TOKENS[account]}"}
