"""Tenant isolation, generated from the app's route table: a route added later is in the matrix
(or the test fails asking for its victim request), so no endpoint or page can skip it.

The victim is reseller r2's tenant (r2, his user u2, his tariffs, his PRO provider, his DID, his
calls). Each attacker (another reseller, that reseller's user, a direct user, and r2's own user for
r2's reseller-level records) calls every route aimed at the victim's records:
- a route with a path parameter, or a body naming the victim, answers 404;
- every answer carries none of the victim's data (ids, names, call ids; matched as whole words);
- nothing of the victim's changes and nothing is published about it.
Without credentials every route answers 401 (/v1) or redirects to the login page (portal).
"""
from __future__ import annotations

import base64
import copy
import re
from datetime import timedelta

import pytest

from tests.api.api_world import TODAY, World, portal_client

PUBLIC = {("GET", "/login"), ("POST", "/login"), ("GET", "/brand/logo"), ("GET", "/openapi.json"), ("GET", "/docs"),
          ("GET", "/docs/oauth2-redirect"), ("GET", "/redoc"),
          ("GET", "/card"), ("POST", "/card"),  # the card holder's own page: his number and PIN
          ("GET", "/reset/{token}"), ("POST", "/reset/{token}")}  # a one-time password link: the link is the key
# the record an attacker aims at, by the path segment before the parameter
VICTIM_RECORDS = {"accounts": "u2", "users": "u2", "balances": "u2", "tariffs": "t-r2-retail", "providers": "p-r2",
                  "dids": "37052000002", "invoices": "R2-2026-000001", "alerts": "r2-watch", "blocks": "u2",
                  "card-groups": "g-r2", "cards": "5550000002", "portal-domains": "portal.second-reseller.example",
                  "tokens": "victim-token-id",  # the victim's own token id, filled per World (token_ids)
                  "devices": "dev-u2"}
# r2's own user u2 aims at r2's reseller-level records instead of his own
OWN_USER_RECORDS = {**VICTIM_RECORDS, "accounts": "r2", "users": "r2", "balances": "r2", "tariffs": "t-r2-own",
                    "invoices": "ADM-2026-000001", "devices": "dev-r2"}  # the invoice the admin issued to r2
VICTIM_MARKERS = ("u2", "r2", "Bob Dos", "Second Reseller Ltd", "t-r2-retail", "t-r2-own", "p-r2", "37052000002",
                  "c-u2-a", "c-u2-b", "R2-2026-000001", "ADM-2026-000001", "g-r2", "5550000002",
                  "portal.second-reseller.example", "dev-u2", "dev-r2", "10.2.2.2")
OWN_USER_MARKERS = ("t-r2-own", "p-r2", "ADM-2026-000001", "reseller_profit", "reseller_price", "admin_profit",
                    "g-r2", "5550000002", "dev-u2", "dev-r2", "10.2.2.2")
PERIOD = {"from": str((TODAY - timedelta(days=30)).date()), "to": str(TODAY.date())}
CSV = "prefix,rate\n370,9\n"
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")


def victim_request(method: str, path: str, victim_account: str) -> dict:
    """Body (and whether it names the victim) of each writing route; a new one must be added here."""
    bodies = {
        ("PUT", "/v1/accounts/{id}"): {"json": {"type": "user", "name": "hijacked"}},
        ("PUT", "/v1/tariffs/{id}"): {"json": {"rates": [{"prefix": "370", "rate": "0"}]}},
        ("PUT", "/v1/tariffs/{id}/rates"): {"content": CSV, "headers": {"Content-Type": "text/csv"}},
        ("PUT", "/v1/accounts/{id}/logo"): {"content": PNG, "headers": {"Content-Type": "image/png"}},
        ("PUT", "/v1/providers/{id}"): {"json": {"tariff": "t-r1-retail"}},
        ("PUT", "/v1/dids/{number}"): {"json": {"user": None}},
        ("POST", "/v1/payments"): {"json": {"account": victim_account, "amount": "5"}, "names_victim": True},
        ("POST", "/users"): {"data": {"id": victim_account, "name": "hijacked", "type": "user"}, "names_victim": True},
        ("POST", "/users/{account_id}"): {"data": {"name": "hijacked"}},
        ("POST", "/tariffs"): {"data": {"id": "t-r2-retail"}, "files": {"rates": ("r.csv", CSV, "text/csv")},
                               "names_victim": True},
        ("POST", "/tariffs/{tariff_id}/rates"): {"files": {"rates": ("r.csv", CSV, "text/csv")}},
        ("POST", "/dids/{number}"): {"data": {"user": ""}},
        ("POST", "/payments"): {"data": {"account": victim_account, "amount": "5"}, "names_victim": True},
        ("POST", "/logout"): {"data": {}},
        ("POST", "/account/password"): {"data": {"current": "not the password", "new": "x" * 12, "repeat": "x" * 12}},
        ("POST", "/account/sign-out-everywhere"): {"data": {}},
        ("POST", "/v1/sessions/revoke-all"): {},
        ("POST", "/branding"): {"data": {"company": "Mine", "number_prefix": "M"}},
        ("POST", "/v1/invoices"): {"json": {"account": victim_account, "period": "2026-10"}, "names_victim": True},
        ("POST", "/v1/rerates"): {"json": {"from": "2026-10-01", "to": "2026-10-31", "account": victim_account},
                                  "names_victim": True},
        ("POST", "/invoices"): {"data": {"account": victim_account, "period": "2026-10"}, "names_victim": True},
        # invoices by e-mail and issued in bulk (routes_invoice_mail.py): the caller's own invoices only
        ("POST", "/v1/invoices/{number}/email"): {"json": {"to": "attacker@example.com"}},
        ("POST", "/v1/invoices/bulk"): {"json": {"period": "2026-10", "email": True}},
        ("POST", "/invoices/{number}/email"): {"data": {"to": "attacker@example.com"}},
        ("POST", "/invoices/bulk"): {"data": {"period": "2026-10", "email": "on"}},
        ("PUT", "/v1/card-groups/{id}"): {"json": {"tariff": "t-r1-retail"}},
        ("POST", "/v1/card-groups/{id}/cards"): {"json": {"count": 1}},
        ("POST", "/v1/cards/{number}/sell"): {},
        ("POST", "/v1/cards/{number}/block"): {},
        ("POST", "/v1/cards/{number}/unblock"): {},
        ("POST", "/card-groups/{group_id}/generate"): {"data": {"count": "1"}},
        ("POST", "/card-groups/{group_id}/state"): {"data": {"number": "5550000002", "action": "block"}},
        ("PUT", "/v1/devices/{id}"): {"json": {"account": "u1", "sip_user": "hijack"}},
        ("DELETE", "/v1/devices/{id}"): {},
        ("POST", "/devices"): {"data": {"id": "dev-u2", "account": "u1", "sip_user": "hijack"}, "names_victim": True},
        ("POST", "/devices/{device_id}"): {"data": {"account": "u1", "sip_user": "hijack"}},
        ("POST", "/devices/{device_id}/archive"): {"data": {"action": "archive"}},
        ("POST", "/v1/authorize"): {"json": {"server_id": "s1", "call_id": "c1", "account": victim_account,
                                             "dst": "37060000000"}, "names_victim": True},
        ("PUT", "/v1/alerts/{id}"): {"json": {"scope": {"type": "all_users"}, "metric": "calls", "window_seconds": 60,
                                              "op": ">", "threshold": "1"}},
        ("DELETE", "/v1/alerts/{id}/blocks/{account}"): {},
        ("POST", "/alerts/lift"): {"data": {"alert": "r2-watch", "account": victim_account}, "names_victim": True},
        # rates one by one, archiving, logins (routes_rates.py, routes_logins.py, portal_rates.py, portal_account.py)
        ("POST", "/v1/tariffs/{id}/rates"): {"json": {"prefix": "370", "rate": "0"}},
        ("DELETE", "/v1/tariffs/{id}/rates"): {"params": {"prefix": "370"}},
        ("POST", "/v1/tariffs/{id}/archive"): {},
        ("POST", "/v1/tariffs/{id}/unarchive"): {},
        ("POST", "/v1/accounts/{id}/archive"): {},
        ("POST", "/v1/accounts/{id}/unarchive"): {},
        ("PUT", "/v1/accounts/{id}/password"): {"json": {"password": "hijacked password"}},
        ("POST", "/v1/accounts/{id}/password-reset"): {},
        ("PUT", "/v1/password"): {"json": {"current": "not the password", "new": "x" * 12}},
        ("POST", "/v1/tokens"): {"json": {}},
        ("DELETE", "/v1/tokens/{id}"): {},
        ("POST", "/tariffs/{tariff_id}/rate"): {"data": {"prefix": "370", "rate": "0"}},
        ("POST", "/tariffs/{tariff_id}/rate/remove"): {"data": {"prefix": "370"}},
        ("POST", "/tariffs/{tariff_id}/archive"): {"data": {"action": "archive"}},
        ("POST", "/account/tokens"): {"data": {}},
        ("POST", "/account/tokens/revoke"): {"data": {"id": "victim-token-id"}, "names_victim": True},
        ("POST", "/users/{account_id}/password"): {"data": {"password": "hijacked password",
                                                            "repeat": "hijacked password"}},
        ("POST", "/users/{account_id}/reset-link"): {"data": {}},
        ("POST", "/users/{account_id}/tokens/revoke"): {"data": {"id": "victim-token-id"}},
        ("POST", "/users/{account_id}/archive"): {"data": {"action": "archive"}},
        # DIDs, portal domains (portal_dids.py, routes_domains.py)
        ("POST", "/dids"): {"data": {"number": "37052000002", "reseller": "r2", "user": "u2"}, "names_victim": True},
        ("POST", "/dids/{number}/rates"): {"data": {"user": "", "owner_rate_rate": "9"}},
        ("PUT", "/v1/portal-domains/{host}"): {"json": {"account": victim_account}},
        ("DELETE", "/v1/portal-domains/{host}"): {},
        ("POST", "/portal-domains"): {"data": {"host": "portal.second-reseller.example", "account": victim_account},
                                      "names_victim": True},
        ("POST", "/portal-domains/remove"): {"data": {"host": "portal.second-reseller.example"}, "names_victim": True},
    }
    if method == "GET":
        return {}
    assert (method, path) in bodies, f"{method} {path} is new: add its victim request to the isolation matrix"
    return copy.deepcopy(bodies[(method, path)])


def routes(app) -> list[tuple[str, str]]:
    """(method, path) of every endpoint of app.routes, walking into included routers (FastAPI
    >= 0.16x wraps them; older versions list APIRoutes directly). Mounts (static files) have none."""
    found = []
    for route in app.routes:
        contexts = getattr(route, "effective_route_contexts", None)
        endpoints = list(contexts()) if callable(contexts) else [route]
        for endpoint in endpoints:
            methods = getattr(endpoint, "methods", None) or ()
            found += [(method, endpoint.path) for method in sorted(methods) if method != "HEAD"]
    assert any(path.startswith("/v1/") for _, path in found) and ("GET", "/calls") in found, found
    return found


def fill(path: str, records: dict[str, str]) -> str:
    def value(match: re.Match) -> str:
        segment = path[:match.start()].rstrip("/").rsplit("/", 1)[-1]
        assert segment in records, f"{path}: no victim record for a parameter after /{segment}/"
        return records[segment]

    return re.sub(r"\{[^}]+\}", value, path)


def token_ids(world: World, account: str) -> list[str]:
    return world.live.credentials.tokens_of(account)


def victim_state(world: World, victims: tuple[str, ...] = ("u2", "r2")) -> tuple:
    """The victim's records and logins (tokens, password, session epoch, reset links); `victims`:
    whose logins (r2's own user u2, attacking, changes his own)."""
    book = world.live.book
    credentials = world.live.credentials
    return (*((token_ids(world, a), credentials.passwords.get(a), credentials.sessions.epoch(a),
               credentials.resets.of_account(a)) for a in victims),book.account("u2"), book.account("r2"), book.tariff("t-r2-retail"), book.tariff_index("t-r2-retail"),
            book.provider("p-r2"), book.did("37052000002"), book.card_group("g-r2"), book.card("5550000002"), world.live.issuers.get("r2"), world.live.logos.get("r2"),
            book.device("dev-u2"), book.device("dev-r2"),
            sorted(world.invoices.issued), {h: a for h, a in credentials.domains.items() if a == "r2"})


def carries_victim_data(text: str, markers) -> list[str]:
    return [m for m in markers if re.search(rf"(?<![A-Za-z0-9_-]){re.escape(m)}(?![A-Za-z0-9_-])", text)]


ATTACKERS = ["r1", "u1", "d1", "u2"]
# these end the attacker's own session, which the rest of the walk uses: walked last
SESSION_ENDING = {("POST", "/logout"), ("POST", "/account/sign-out-everywhere"), ("POST", "/v1/sessions/revoke-all")}


@pytest.mark.parametrize("attacker", ATTACKERS)
def test_no_route_lets_another_tenant_in(attacker):
    world = World()
    records, markers = (OWN_USER_RECORDS, OWN_USER_MARKERS) if attacker == "u2" else (VICTIM_RECORDS, VICTIM_MARKERS)
    victim_account = "r2" if attacker == "u2" else "u2"
    victim_token = token_ids(world, victim_account)[0]
    records = {**records, "tokens": victim_token}
    markers = (*markers, victim_token)
    portal, csrf = portal_client(world, attacker)
    victims = ("r2",) if attacker == "u2" else ("u2", "r2")
    before = victim_state(world, victims)
    checked = 0
    for method, path in sorted(routes(world.app), key=lambda route: route in SESSION_ENDING):
        if (method, path) in PUBLIC:
            continue
        request = victim_request(method, path, victim_account)
        strict = "{" in path or request.pop("names_victim", False)
        url = fill(path, records)
        params = {**PERIOD, "account": victim_account, **request.pop("params", {})}
        if request.get("data", {}).get("id") == "victim-token-id":
            request["data"]["id"] = victim_token
        if path.startswith("/v1"):
            answer = world.client.request(method, url, params=params, headers={
                **world.headers(attacker), **request.pop("headers", {})}, **request)
        else:
            if "data" in request:
                request["data"] = {**request["data"], "csrf": csrf}
            answer = portal.request(method, url, params=params, follow_redirects=False, **request)
        where = f"{attacker}: {method} {url}"
        assert answer.status_code < 500, f"{where}: {answer.status_code} {answer.text[:300]}"
        if strict:
            assert answer.status_code == 404, f"{where}: {answer.status_code}, expected 404: {answer.text[:300]}"
        leaked = carries_victim_data(answer.text + str(answer.headers.get("location", "")), markers)
        assert not leaked, f"{where}: the answer carries {leaked}"
        assert victim_state(world, victims) == before, f"{where} changed the victim's records"
        checked += 1
    assert checked >= 25  # the route table really was walked
    assert all("u2" not in str(record) and "r2" not in str(record.id if hasattr(record, "id") else "")
               for batch in world.writer.published for record in batch)
    assert all(p["account"] not in ("u2", "r2") for p in world.writer.payments)


def test_without_credentials_every_route_answers_401_or_the_login_page():
    world = World()
    anonymous = world.client
    for method, path in routes(world.app):
        if (method, path) in PUBLIC:
            continue
        request = victim_request(method, path, "u2")
        request.pop("names_victim", None)
        url = fill(path, VICTIM_RECORDS)
        answer = anonymous.request(method, url, params={**PERIOD, **request.pop("params", {})}, follow_redirects=False,
                                   **request)
        if path.startswith("/v1"):
            assert answer.status_code == 401, f"{method} {url}: {answer.status_code}"
            assert answer.headers["content-type"] == "application/problem+json"
        else:
            assert answer.status_code == 303 and answer.headers["location"].startswith("/login"), f"{method} {url}"
        assert not carries_victim_data(answer.text, VICTIM_MARKERS[2:])


def test_the_matrix_covers_every_route():
    """A route the matrix cannot fill (a new parameter name after an unknown segment, a new writing
    route without a victim request) fails here first, with what to add."""
    world = World()
    for method, path in routes(world.app):
        if (method, path) not in PUBLIC:
            fill(path, VICTIM_RECORDS)
            victim_request(method, path, "u2")
