"""The JSON API on in-memory fakes: reads per role, writes through the ownership rules, errors."""
from __future__ import annotations

from datetime import timedelta

import pytest

from tests.api.api_world import TODAY, World

PERIOD = f"from={(TODAY - timedelta(days=30)).date()}&to={TODAY.date()}"


@pytest.fixture
def world() -> World:
    return World()


def test_no_token_or_a_wrong_one_is_401_problem(world):
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": f"Bearer {world.tokens['r1']}x"}):
        answer = world.client.get("/v1/accounts", headers=headers)
        assert answer.status_code == 401
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.headers["www-authenticate"] == "Bearer"


def test_a_revoked_token_stops_working(world):
    assert world.get("r1", "/v1/accounts").status_code == 200
    token_id = world.tokens["r1"].split(".")[0]
    world.live.credentials.apply(f"token:{token_id}", None)
    assert world.get("r1", "/v1/accounts").status_code == 401


def test_each_role_lists_only_its_accounts(world):
    assert {a["id"] for a in world.get("admin", "/v1/accounts").json()} == {"admin", "r1", "r2", "u1", "u2", "d1"}
    assert {a["id"] for a in world.get("r1", "/v1/accounts").json()} == {"r1", "u1"}
    assert {a["id"] for a in world.get("u1", "/v1/accounts").json()} == {"u1"}


def test_a_reseller_sees_his_tariffs_and_his_buy_tariff_only(world):
    assert {t["id"] for t in world.get("r1", "/v1/tariffs").json()} == {"t-r1-retail", "t-r-buy"}
    assert world.get("r1", "/v1/tariffs/t-r1-retail").json()["rate_count"] == 1
    assert world.get("u1", "/v1/tariffs").json() == []


def test_a_reseller_creates_a_user_of_his_own_and_it_is_audited(world):
    answer = world.put("r1", "/v1/accounts/u9", json={"type": "user", "tariff": "t-r1-retail", "name": "New"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["parent"] == "r1"
    assert world.get("r1", "/v1/accounts/u9").json()["name"] == "New"
    assert [r.id for r in world.writer.published[-1]] == ["u9"]
    assert world.writer.audits[-1]["actor"] == "r1" and "account u9" in world.writer.audits[-1]["target"]


def test_writes_are_refused_with_the_rule_named(world):
    cases = [
        # a reseller may not create resellers
        ("r1", "/v1/accounts/r9", {"type": "reseller"}, "may only write users of his own"),
        # nor give his user the admin's tariff
        ("r1", "/v1/accounts/u1", {"type": "user", "tariff": "t-r-buy"}, 'tariff "t-r-buy" belongs to "admin"'),
        # nor take over his own buy tariff, which other accounts use
        ("r1", "/v1/tariffs/t-r-buy", {"owner": "r1", "rates": [{"prefix": "1", "rate": "1"}]}, "\"t-r-buy\""),
        # a user writes nothing
        ("u1", "/v1/accounts/u1", {"type": "user", "parent": "r1"}, "may not write reference data"),
        # a non-PRO reseller owns no provider
        ("r1", "/v1/providers/p-mine", {"tariff": "t-r1-retail"}, "reseller PRO"),
    ]
    for account, url, body, rule in cases:
        answer = world.put(account, url, json=body)
        assert answer.status_code == 422, (url, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
        assert rule in answer.json()["detail"], answer.json()["detail"]
    assert world.writer.published == []


def test_a_field_error_names_the_field(world):
    answer = world.put("r1", "/v1/accounts/u1", json={"type": "user", "credit_limit": "ten"})
    assert answer.status_code == 422
    assert answer.json()["detail"].startswith("credit_limit:")
    answer = world.put("r1", "/v1/accounts/u1", json={"type": "user", "colour": "red"})
    assert answer.status_code == 422 and "colour" in answer.json()["detail"]


def test_another_tenants_records_are_404_for_writes_too(world):
    assert world.put("r1", "/v1/accounts/u2", json={"type": "user", "parent": "r1"}).status_code == 404
    assert world.put("r1", "/v1/tariffs/t-r2-retail", json={"rates": []}).status_code == 404
    assert world.put("r1", "/v1/dids/37052000002", json={"user": "u1"}).status_code == 404
    assert world.put("r1", "/v1/dids/37059999999", json={}).status_code == 404  # only the admin creates DIDs
    assert world.writer.published == []


def test_a_reseller_assigns_his_did_to_his_user(world):
    answer = world.put("r1", "/v1/dids/37052000009", json={"user": "u1"})
    assert answer.status_code == 200, answer.text
    shown = answer.json()
    assert {k: shown[k] for k in ("number", "reseller", "user", "tariff")} == {
        "number": "37052000009", "reseller": "r1", "user": "u1", "tariff": None}
    assert shown["owner_rate"] is None and shown["rates"]["provider"] is None  # the admin's carriers: not his


def test_empty_account_filter_is_refused_not_read_as_direct_users(world):
    for url in (f"/v1/calls?{PERIOD}&account=", f"/v1/stats?{PERIOD}&account="):
        answer = world.get("admin", url)
        assert answer.status_code == 422 and "account" in answer.json()["detail"]


def test_calls_carry_only_the_columns_the_role_may_see(world):
    reseller = world.get("r1", f"/v1/calls?{PERIOD}").json()
    assert {r["account"] for r in reseller["rows"]} == {"u1"}
    assert "provider_price" not in reseller["columns"] and "admin_profit" not in reseller["columns"]
    assert all("provider_price" not in r and "admin_profit" not in r for r in reseller["rows"])
    user = world.get("u1", f"/v1/calls?{PERIOD}").json()
    assert "reseller_price" not in user["columns"] and "reseller_profit" not in user["columns"]
    assert world.get("admin", f"/v1/calls?{PERIOD}&reseller=r2").json()["rows"][0]["provider_price"] == "0.3"


def test_calls_are_paged(world):
    first = world.get("admin", f"/v1/calls?{PERIOD}&limit=4").json()
    second = world.get("admin", f"/v1/calls?{PERIOD}&limit=4&offset={first['next_offset']}").json()
    assert len(first["rows"]) == 4 and len(second["rows"]) == 2 and second["next_offset"] is None
    ids = [r["call_id"] for r in first["rows"] + second["rows"]]
    assert len(set(ids)) == 6


def test_csv_export_neutralises_formulas(world):
    answer = world.get("r1", f"/v1/calls?{PERIOD}&format=csv")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    assert "'=HYPERLINK" in answer.text and ",=HYPERLINK" not in answer.text and '"=HYPERLINK' not in answer.text


def test_stats_give_asr_acd_revenue_and_the_callers_profit(world):
    rows = world.get("r1", f"/v1/stats?{PERIOD}&by=day").json()
    assert sum(r["calls"] for r in rows) == 3
    today = rows[-1]
    assert today["asr_percent"] == "100.0" and today["acd_seconds"] == "60.0"
    assert today["revenue"] == "4" and today["profit"] == "1.6"  # 2 calls at 2, reseller profit 0.8
    admin = world.get("admin", f"/v1/stats?{PERIOD}&by=day&reseller=r1").json()
    assert sum(map(lambda r: float(r["profit"]), admin)) == pytest.approx(0.9 * 3)  # admin profit 1.2 - 0.3
    assert world.get("u1", f"/v1/stats?{PERIOD}").status_code == 404


def test_profit_per_role(world):
    assert world.get("r1", f"/v1/profit?{PERIOD}").json() == [
        {"reseller": None, "currency": "EUR", "calls": 3, "revenue": "6", "cost": "3.6", "profit": "2.4"}]
    assert {r["reseller"] for r in world.get("admin", f"/v1/profit?{PERIOD}").json()} == {"", "r1", "r2"}
    assert world.get("u1", f"/v1/profit?{PERIOD}").status_code == 404


def test_a_period_that_ends_before_it_starts_is_refused(world):
    answer = world.get("r1", "/v1/calls?from=2026-02-01&to=2026-01-01")
    assert answer.status_code == 422 and answer.json()["detail"].startswith("to:")


def test_payments(world):
    answer = world.post("r1", "/v1/payments", json={"id": "pay-1", "account": "u1", "amount": "10.50"})
    assert answer.status_code == 201, answer.text
    assert world.writer.payments == [{"id": "pay-1", "account": "u1", "amount": "10.50", "kind": "payment",
                                      "reason": ""}]
    assert world.post("r1", "/v1/payments", json={"account": "u2", "amount": "5"}).status_code == 404
    for account, body, field in (("r1", {"account": "u1", "amount": "1e3x"}, "amount"),
                                 ("r1", {"account": "u1", "amount": "0"}, "amount"),
                                 ("r1", {"account": "r1", "amount": "5"}, "account"),
                                 ("u1", {"account": "u1", "amount": "5"}, "account")):
        answer = world.post(account, "/v1/payments", json=body)
        assert answer.status_code == 422 and answer.json()["detail"].startswith(field), answer.text
    assert len(world.writer.payments) == 1


def test_balances_come_from_the_guards_feeds(world):
    assert world.get("r1", "/v1/balances/u1").json() == {
        "account": "u1", "balance": "12.500000", "currency": "EUR", "state": "active", "reason": "ok",
        "reason_text": "", "held": "0", "free": "12.500000"}
    # a running call's hold (the authorizer's record on state.auth_calls) is shown beside the balance
    world.live.apply("state.auth_calls", b"s1/c1", b'{"holds": {"u1": "2.5", "r1": "1.5"}}')
    assert world.get("r1", "/v1/balances/u1").json()["held"] == "2.5"
    assert world.get("r1", "/v1/balances/u1").json()["free"] == "10.000000"
    world.live.apply("state.auth_calls", b"s1/c1", b'{"holds": {}}')  # settled: released
    assert world.get("r1", "/v1/balances/u1").json()["held"] == "0"
    assert world.get("r2", "/v1/balances/u2").json()["state"] == "blocked"
    assert world.get("r1", "/v1/balances/u2").status_code == 404


def test_rates_csv_lists_every_bad_line(world):
    body = "prefix,rate,increment\n370,2,1\n37x,2,1\n371,abc,0\n370,3,1\n"
    answer = world.put("r1", "/v1/tariffs/t-r1-retail/rates", content=body, headers={"Content-Type": "text/csv"})
    assert answer.status_code == 422
    detail = answer.json()["detail"]
    for expected in ('line 3, column "prefix"', 'line 4, column "rate"', 'line 4, column "increment"',
                     'line 5, column "prefix": repeats line 2'):
        assert expected in detail, detail
    assert world.writer.published == []


def test_a_100k_prefix_csv_replaces_the_rates(world):
    body = "prefix,rate\n" + "".join(f"{370000000 + n},0.{n % 90 + 10}\n" for n in range(100_000))
    answer = world.put("r1", "/v1/tariffs/t-r1-retail/rates", content=body, headers={"Content-Type": "text/csv"})
    assert answer.status_code == 200, answer.text[:500]
    assert answer.json()["rate_count"] == 100_000
    assert world.get("r1", "/v1/tariffs/t-r1-retail").json()["rate_count"] == 100_000


def test_openapi_documents_problem_answers(world):
    document = world.client.get("/openapi.json").json()
    operation = document["paths"]["/v1/accounts/{id}"]["put"]
    assert "application/problem+json" in operation["responses"]["422"]["content"]
    assert "text/csv" in document["paths"]["/v1/tariffs/{id}/rates"]["put"]["requestBody"]["content"]


def test_the_ownership_holes_found_by_the_audit_are_closed_through_the_api(world):
    """Each known ownership hole is refused: 404 when it aims outside the caller's view, else 422
    with the rule named (the rules themselves: pipeline/reference/ownership.py)."""
    outside = [("r1", "/v1/accounts/u2", {"type": "user", "parent": "r1"}),  # another reseller's user
               ("r1", "/v1/tariffs/t-p1", {"owner": "r1"}),  # the admin's provider tariff
               ("r1", "/v1/providers/p1", {"owner": "r1", "tariff": "t-r1-retail"})]  # the admin's provider
    for account, url, body in outside:
        assert world.put(account, url, json=body).status_code == 404, url
    refused = [("r1", "/v1/dids/37052000001", {"user": "u1", "tariff": "t-r2-retail"}),  # another reseller's tariff
               ("admin", "/v1/accounts/u1", {"type": "user", "parent": "r2", "tariff": "t-r2-retail"}),  # holds a DID
               ("admin", "/v1/accounts/r2", {"type": "reseller", "tariff": "t-r-buy", "pro": False})]  # keeps p-r2
    for account, url, body in refused:
        answer = world.put(account, url, json=body)
        assert answer.status_code == 422, (url, answer.text)
        assert answer.json()["detail"], url
    assert world.writer.published == []


def test_invoices_each_party_sees_its_own(world):
    assert [i["number"] for i in world.get("u1", "/v1/invoices").json()] == ["R1-2026-000001"]
    assert {i["number"] for i in world.get("r2", "/v1/invoices").json()} == {"R2-2026-000001", "ADM-2026-000001"}
    assert len(world.get("admin", "/v1/invoices").json()) == 3
    assert world.get("u1", "/v1/invoices/R2-2026-000001").status_code == 404
    answer = world.get("u1", "/v1/invoices/R1-2026-000001/pdf")
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/pdf"
    assert answer.content.startswith(b"%PDF")
    assert world.get("u1", "/v1/invoices/R1-2026-000001").json()["pdf"] == "/v1/invoices/R1-2026-000001/pdf"


def test_invoices_are_issued_by_the_parent_once(world):
    first = world.post("r1", "/v1/invoices", json={"account": "u1", "period": "2026-09"})
    assert first.status_code == 201, first.text
    again = world.post("r1", "/v1/invoices", json={"account": "u1", "period": "2026-09"})
    assert again.json()["number"] == first.json()["number"]
    assert world.post("r1", "/v1/invoices", json={"account": "r1", "period": "2026-09"}).status_code == 422
    assert world.post("u1", "/v1/invoices", json={"account": "u1", "period": "2026-09"}).status_code == 422
    assert world.post("r1", "/v1/invoices", json={"account": "u2", "period": "2026-09"}).status_code == 404
    future = world.post("r1", "/v1/invoices", json={"account": "u1", "period": "2999-01"})
    assert future.status_code == 422 and future.json()["detail"].startswith("period:")


def test_a_reseller_puts_his_logo_and_anything_but_an_image_is_422(world):
    import base64

    png = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")
    answer = world.put("r1", "/v1/accounts/r1/logo", content=png, headers={"Content-Type": "image/png"})
    assert answer.status_code == 204, answer.text
    assert world.live.logos["r1"] == ("image/png", png)
    refused = world.put("r1", "/v1/accounts/r1/logo", content=b"<html>not an image</html>",
                        headers={"Content-Type": "image/png"})
    assert refused.status_code == 422 and "logo" in refused.json()["detail"]
    assert world.put("r1", "/v1/accounts/r2/logo", content=png, headers={"Content-Type": "image/png"}).status_code == 404
    assert world.put("u1", "/v1/accounts/u1/logo", content=png, headers={"Content-Type": "image/png"}).status_code == 404


def test_the_admin_rerates_and_for_everyone_else_it_does_not_exist(world):
    body = {"from": "2026-10-01", "to": "2026-10-31", "reseller": "r1", "dry_run": True}
    answer = world.post("admin", "/v1/rerates", json=body)
    assert answer.status_code == 200, answer.text
    assert answer.json()["accounts"][0]["difference"] == "-1.000000"
    assert world.rerater.runs[-1][2:5] == (None, "r1", True)
    assert world.post("r1", "/v1/rerates", json=body).status_code == 404
    assert world.post("u1", "/v1/rerates", json=body).status_code == 404
    both = world.post("admin", "/v1/rerates", json={**body, "account": "u1"})  # account and reseller at once
    assert both.status_code == 422, both.text
    assert len(world.rerater.runs) == 1
