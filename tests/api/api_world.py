"""An in-memory backend for the API's unit tests: fakes of the API's own Writer and CallStore
(pipeline/api/stores.py) and a small world of two resellers, their users and a direct user.

The fake CallStore applies a Scope the way queries.where does, and counts each call's money as
queries._figures does (checked against ClickHouse by tests/integration/test_api_reads.py and, for
calls to DIDs, by tests/api/test_did_money_queries.py on chdb), so routes and visibility are
tested without a broker.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from functools import cache

from fastapi.testclient import TestClient

from pipeline.api.app import create_app
from pipeline.api.config import ApiConfig
from pipeline.api.credentials import new_token, password_record
from pipeline.api.live import LiveData
from pipeline.api.queries import CALL_COLUMNS, PROFIT_SQL, TOTAL_SQL, Period
from pipeline.api.stores import Backend
from pipeline.api.visibility import Scope
from pipeline.reference.records import parse_reference_record
from pipeline.reports.run import Table
from tests.api.local_authorizer import LocalAuthorizer

PASSWORD = "correct horse battery"
LOGO_R2 = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><title>Second Reseller Ltd</title></svg>'
TODAY = datetime.now(timezone.utc).replace(hour=10, minute=0, second=0, microsecond=0)

RECORDS = [
    {"kind": "account", "id": "admin", "type": "admin", "name": "The Operator"},
    {"kind": "tariff", "id": "t-p1", "owner": "admin", "rates": [{"prefix": "370", "rate": "0.3"}]},
    {"kind": "tariff", "id": "t-r-buy", "owner": "admin", "rates": [{"prefix": "370", "rate": "1.2"}]},
    {"kind": "tariff", "id": "t-direct", "owner": "admin", "rates": [{"prefix": "370", "rate": "1.5"}]},
    {"kind": "provider", "id": "p1", "owner": "admin", "tariff": "t-p1"},
    {"kind": "account", "id": "r1", "type": "reseller", "tariff": "t-r-buy", "name": "Reseller One Telecom"},
    {"kind": "account", "id": "r2", "type": "reseller", "tariff": "t-r-buy", "pro": True, "name": "Second Reseller Ltd"},
    {"kind": "tariff", "id": "t-r1-retail", "owner": "r1", "rates": [{"prefix": "370", "rate": "2"}]},
    {"kind": "tariff", "id": "t-r2-retail", "owner": "r2", "rates": [{"prefix": "370", "rate": "1.9"}]},
    {"kind": "tariff", "id": "t-r2-own", "owner": "r2", "rates": [{"prefix": "370", "rate": "0.2"}]},
    {"kind": "provider", "id": "p-r2", "owner": "r2", "tariff": "t-r2-own"},
    {"kind": "account", "id": "u1", "type": "user", "parent": "r1", "tariff": "t-r1-retail", "name": "Alice Uno"},
    {"kind": "account", "id": "u2", "type": "user", "parent": "r2", "tariff": "t-r2-retail", "name": "Bob Dos"},
    {"kind": "account", "id": "d1", "type": "user", "parent": "admin", "tariff": "t-direct", "name": "Direct Dora"},
    {"kind": "did", "number": "37052000001", "reseller": "r1", "user": "u1"},
    {"kind": "did", "number": "37052000002", "reseller": "r2", "user": "u2"},
    {"kind": "did", "number": "37052000009", "reseller": "r1"},
    {"kind": "alert", "id": "r2-watch", "owner": "r2", "scope": {"type": "account", "id": "u2"}, "metric": "price_sum",
     "window_seconds": 3600, "op": ">", "threshold": "50", "action": "block"},
    # calling cards: r2's group and one card of it (no account: the card's own rules only)
    {"kind": "card_group", "id": "g-r2", "owner": "r2", "tariff": "t-r2-retail", "face_value": "5"},
    {"kind": "card", "number": "5550000002", "group": "g-r2", "pin_hash": "pbkdf2_sha256$1$00$00",
     "created": "2026-10-01T00:00:00Z"},
    # devices: u1's phone, and r2's tenant's (his user's phone, his own trunk)
    {"kind": "device", "id": "dev-u1", "account": "u1", "server": "ast1", "sip_user": "1001"},
    {"kind": "device", "id": "dev-u2", "account": "u2", "server": "ast1", "sip_user": "2002", "call_limit": 1},
    {"kind": "device", "id": "dev-r2", "account": "r2", "ip": "10.2.2.2"},
]


def call(account: str, reseller: str, call_id: str, days_ago: int = 0, billsec: int = 60, dst: str = "37060000001",
         user_price="2", reseller_price="1.2", provider_price="0.3", src: str = "") -> dict:
    user, res, prov = Decimal(user_price), Decimal(reseller_price), Decimal(provider_price)
    return {"start_time": TODAY - timedelta(days=days_ago), "server_id": "ast1", "call_id": call_id,
            "account": account, "reseller": reseller, "provider": "p1", "src": src, "dst": dst, "did": "",
            "billsec": billsec, "disposition": "ANSWERED" if billsec else "NO ANSWER", "user_prefix": dst[:3],
            "user_price": user, "reseller_price": res if reseller else Decimal(0), "provider_price": prov,
            "reseller_profit": user - res if reseller else Decimal(0),
            "admin_profit": res - prov if reseller else user - prov, "currency": "EUR", "loss": 0}


CALLS = [
    call("u1", "r1", "c-u1-a"), call("u1", "r1", "c-u1-b", days_ago=1, billsec=0),
    call("u1", "r1", "c-u1-evil", src="=HYPERLINK(\"http://x\")"),
    call("u2", "r2", "c-u2-a", user_price="1.9"), call("u2", "r2", "c-u2-b", days_ago=2),
    call("d1", "", "c-d1-a", user_price="1.5"),
]


@cache
def _password(account: str) -> tuple[str, bytes]:
    return password_record(account, PASSWORD)  # argon2 is slow on purpose: once per test run


class FakeWriter:
    def __init__(self, live: LiveData) -> None:
        self.live = live
        self.published: list[list] = []
        self.payments: list[dict] = []
        self.audits: list[dict] = []

    async def publish_reference(self, records) -> None:
        self.published.append(list(records))
        for record in records:
            self.live.book.apply(record)

    async def publish_payment(self, payment) -> None:
        self.payments.append(payment)

    async def publish_credential(self, key, value) -> None:
        self.live.credentials.apply(key, value)

    async def publish_issuer(self, details) -> None:
        self.live.issuers[details.account] = details.model_dump(mode="json")

    async def publish_logo(self, account, data, content_type) -> None:
        self.live.logos[account] = (content_type, data)

    async def audit(self, entry) -> None:
        self.audits.append(entry)


# which reseller each account belongs to, as the reference mirror in ClickHouse says (accounts.reseller)
RESELLER_OF = {r["id"]: r["id"] if r["type"] == "reseller" else r.get("parent", "") if r.get("parent") != "admin"
               else "" for r in RECORDS if r["kind"] == "account"}
ZERO = Decimal(0)


def did_call(row: dict) -> bool:
    """queries.DID_CALL: priced by a DID's rates, it has no user tariff (rows of call() have one)."""
    return bool(row["did"]) and row.get("user_tariff", "t") == ""


def _did(row: dict, name: str) -> Decimal:
    return row.get(name, ZERO)


def _concerns(row: dict, account: str) -> bool:
    """His call, or a call to his DID (queries.where)."""
    return row["account"] == account or did_call(row) and row.get("did_owner") == account


def _in_scope(row: dict, scope: Scope, period: Period) -> bool:
    day = row["start_time"].date()
    if not period.first <= day <= period.last:
        return False
    if scope.role == "reseller" and scope.tenant not in (row["reseller"], row["account"]):
        return False
    if scope.role == "user" and not _concerns(row, scope.tenant):
        return False
    if scope.reseller is not None and row["reseller"] != scope.reseller:
        return False
    return scope.account is None or _concerns(row, scope.account)


def figures(row: dict, scope: Scope) -> dict:
    """queries._figures in Python: one call's figures as the caller sees them, and its legs."""
    me, owner, caller = scope.tenant, row.get("did_owner", ""), row["account"]
    incoming, owner_price = _did(row, "did_incoming_price"), _did(row, "did_owner_price")
    to_reseller, carrier = _did(row, "did_reseller_owner_price"), _did(row, "did_provider_price")
    if scope.role == "user":
        if did_call(row):
            return {"user_price": (incoming if caller == me else ZERO) + (owner_price if owner == me else ZERO)}
        return {"user_price": row["user_price"]}
    if scope.role == "reseller":
        profit = row["reseller_profit"] if row["reseller"] == me else ZERO
        if not did_call(row):
            cost = row["user_price"] - row["reseller_profit"]
            return {"revenue": row["user_price"], "cost": cost, "profit": profit, "user_price": row["user_price"],
                    "reseller_price": row["user_price"] if caller == me else row["reseller_price"],
                    "reseller_profit": profit, "account": caller,
                    "legs": [(True, caller, row["user_price"], cost, profit)]}
        own_call = incoming if caller == me else ZERO
        mine = row["reseller"] == me
        revenue = (owner_price if mine and owner != me else ZERO) + own_call
        own_price = ((owner_price if owner == me else to_reseller) if mine else ZERO) + own_call
        seen = caller if caller in ("", me) or RESELLER_OF.get(caller) == me else ""
        legs = [(mine, owner, owner_price if owner != me else ZERO, owner_price if owner == me else to_reseller,
                 row["reseller_profit"]), (caller == me, caller, incoming, incoming, ZERO)]
        return {"revenue": revenue, "cost": own_price, "profit": profit, "user_price": revenue,
                "reseller_price": own_price, "reseller_profit": profit, "account": seen, "legs": legs}
    if not did_call(row):
        revenue = row["user_price"] if not row["reseller"] else row["reseller_price"]
        cost = ZERO if row.get("own_provider") else row["provider_price"]
        return {"revenue": revenue, "cost": cost, "profit": row["admin_profit"], "user_price": row["user_price"],
                "reseller_price": row["reseller_price"], "provider_price": row["provider_price"],
                "legs": [(True, row["reseller"], caller, revenue, cost, row["admin_profit"])]}
    to_admin = to_reseller if row["reseller"] and owner != row["reseller"] else owner_price
    legs = [(caller != "", row["reseller"], caller, incoming, ZERO, incoming),
            (True, row["reseller"], owner, to_admin, -carrier, row["admin_profit"] - incoming)]
    return {"revenue": incoming + to_admin, "cost": -carrier, "profit": row["admin_profit"],
            "user_price": incoming + (owner_price if owner != row["reseller"] else ZERO),
            "reseller_price": ZERO if not row["reseller"] else owner_price if owner == row["reseller"] else to_reseller,
            "provider_price": -carrier, "legs": legs}


class FakeCalls:
    def __init__(self, rows: list[dict]) -> None:
        self.rows = rows
        self.scopes: list[Scope] = []

    def _matching(self, scope: Scope, period: Period) -> list[dict]:
        self.scopes.append(scope)
        return [r for r in self.rows if _in_scope(r, scope, period)]

    def _filtered(self, scope, period, dst_prefix, filters) -> list[dict]:
        rows = [r for r in self._matching(scope, period) if not dst_prefix or r["dst"].startswith(dst_prefix)]
        if filters is not None:  # as queries.CallFilter.conditions says
            rows = [r for r in rows if (not filters.disposition or r["disposition"] == filters.disposition)
                    and (not filters.src_prefix or r["src"].encode().startswith(filters.src_prefix.encode()))
                    and (not filters.min_billsec or r["billsec"] >= filters.min_billsec)]
        return rows

    def calls(self, scope, period, limit, offset, dst_prefix, filters=None) -> Table:
        rows = self._filtered(scope, period, dst_prefix, filters)
        rows.sort(key=lambda r: (-r["start_time"].timestamp(), r["server_id"], r["call_id"]))
        columns = CALL_COLUMNS[scope.role]
        return Table(columns, [tuple({**r, **figures(r, scope)}[c] for c in columns)
                               for r in rows[offset:offset + limit + 1]])

    def totals(self, scope, period, dst_prefix, filters=None) -> Table:
        sums = TOTAL_SQL[scope.role]
        groups: dict[str, list] = {}
        for r in self._filtered(scope, period, dst_prefix, filters):
            g = groups.setdefault(r["currency"], [0, 0, 0] + [Decimal(0)] * len(sums))
            g[0] += 1; g[1] += r["billsec"] > 0; g[2] += r["billsec"]
            seen = figures(r, scope)
            for n, (name, _) in enumerate(sums):
                g[3 + n] += seen[name]
        columns = ("currency", "calls", "answered", "billsec_total") + tuple(name for name, _ in sums)
        return Table(columns, [(currency, *g) for currency, g in sorted(groups.items())])

    def latest(self, scope, within):
        times = [r["start_time"] for r in self._matching(scope, within)]
        return max(times) if times else None

    def user_stats(self, scope, period) -> Table:
        admin = scope.role == "admin"
        groups: dict[tuple, list] = defaultdict(lambda: [0, 0, 0, Decimal(0), Decimal(0), Decimal(0)])
        for r in self._matching(scope, period):
            for counted, *keys, revenue, cost, profit in figures(r, scope)["legs"]:
                if not counted:
                    continue
                g = groups[tuple(keys) + (r["currency"],)]
                g[0] += 1; g[1] += r["billsec"] > 0; g[2] += r["billsec"]
                g[3] += revenue; g[4] += cost; g[5] += profit
        columns = (("reseller",) if admin else ()) + ("account", "currency", "calls", "answered", "billsec_total",
                                                       "revenue", "cost", "profit")
        return Table(columns, [k + tuple(v) for k, v in sorted(groups.items())])

    def stats(self, scope, period, by_destination) -> Table:
        if scope.role not in PROFIT_SQL:
            raise ValueError("stats are for the admin and resellers")
        groups: dict[tuple, list] = defaultdict(lambda: [0, 0, 0, Decimal(0), Decimal(0)])
        for r in self._matching(scope, period):
            destination = "did:" + r["did"] if did_call(r) else r["user_prefix"]
            key = (r["start_time"].date(),) + ((destination,) if by_destination else ()) + (r["currency"],)
            g, seen = groups[key], figures(r, scope)
            g[0] += 1; g[1] += r["billsec"] > 0; g[2] += r["billsec"]; g[3] += seen["revenue"]; g[4] += seen["profit"]
        columns = ("day",) + (("destination",) if by_destination else ()) + (
            "currency", "calls", "answered", "billsec_total", "revenue", "profit")
        return Table(columns, [k + tuple(v) for k, v in sorted(groups.items())])

    def profit(self, scope, period) -> Table:
        groups: dict[tuple, list] = defaultdict(lambda: [0, Decimal(0), Decimal(0), Decimal(0)])
        for r in self._matching(scope, period):
            admin = scope.role == "admin"
            seen = figures(r, scope)
            g = groups[(r["reseller"], r["currency"]) if admin else (r["currency"],)]
            g[0] += 1; g[1] += seen["revenue"]; g[2] += seen["cost"]; g[3] += seen["profit"]
        columns = (("reseller",) if scope.role == "admin" else ()) + ("currency", "calls", "revenue", "cost", "profit")
        return Table(columns, [k + tuple(v) for k, v in sorted(groups.items())])

    def usage(self, accounts) -> dict:
        found = {}
        for account in accounts:
            times = sorted(r["start_time"] for r in self.rows if r["account"] == account)
            if times:
                found[account] = {"first_use": times[0], "last_use": times[-1], "calls": len(times)}
        return found


@dataclass(frozen=True)
class FakeInvoice:
    number: str
    issuer: str
    account: str
    period: str
    total: Decimal
    issued_at: datetime = TODAY
    currency: str = "EUR"
    customer_name: str = ""

    @property
    def subtotal(self) -> Decimal:
        return self.total

    def printable(self) -> dict:
        return {"number": self.number, "issuer": self.issuer, "account": self.account, "period": self.period,
                "currency": self.currency, "subtotal": str(self.total), "taxes": [], "total": str(self.total),
                "lines": [], "pdf": f"/var/invoices/{self.number}.pdf"}


class FakeInvoices:
    """Issued invoices by number; issuing the same account and period again returns the same one."""

    def __init__(self, issued: list[FakeInvoice]) -> None:
        self.issued = {i.number: i for i in issued}

    async def invoices(self, account=None, number=None) -> list[FakeInvoice]:
        return [i for i in self.issued.values() if account in (None, i.account) and number in (None, i.number)]

    async def issue(self, account: str, period: str) -> FakeInvoice:
        if period > TODAY.strftime("%Y-%m"):
            raise ValueError(f"period {period} has not ended yet")
        for found in self.issued.values():
            if (found.account, found.period) == (account, period):
                return found
        made = FakeInvoice(f"INV-{len(self.issued) + 1:06d}", "x", account, period, Decimal("1.00"))
        self.issued[made.number] = made
        return made

    async def pdf(self, invoice) -> bytes:
        return b"%PDF-1.4 " + invoice.number.encode()


INVOICES = [FakeInvoice("R1-2026-000001", "r1", "u1", "2026-10", Decimal("12.34")),
            FakeInvoice("R2-2026-000001", "r2", "u2", "2026-10", Decimal("56.78")),
            FakeInvoice("ADM-2026-000001", "admin", "r2", "2026-10", Decimal("99.00"))]


class World:
    """The backend, a TestClient and one bearer token per account."""

    def __init__(self, records=RECORDS, calls=CALLS) -> None:
        self.live = LiveData()
        for obj in records:
            self.live.book.apply(parse_reference_record(obj))
        self.tokens: dict[str, str] = {}
        for account in ("admin", "r1", "r2", "u1", "u2", "d1"):
            token = new_token(account)
            self.live.credentials.apply(token.key, token.value)
            self.tokens[account] = token.token
            self.live.credentials.apply(*_password(account))
        self.live.credentials.apply("domain:portal.reseller-one.example", b'{"account": "r1"}')
        self.live.credentials.apply("domain:portal.second-reseller.example", b'{"account": "r2"}')
        self.live.balances.update({"u1": (3, Decimal("12.500000")), "r1": (5, Decimal("-0.35"))})
        self.live.states["u2"] = {"account": "u2", "state": "blocked", "reason": "balance"}
        self.live.issuers["r2"] = {"account": "r2", "company": "Second Reseller Ltd", "number_prefix": "R2"}
        self.live.logos["r2"] = ("image/svg+xml", LOGO_R2)
        self.writer = FakeWriter(self.live)
        self.calls = FakeCalls(list(calls))
        self.invoices = FakeInvoices(INVOICES)
        self.rerater = FakeRerater()
        self.backend = Backend(ApiConfig(secret="unit-test-secret"), self.live, self.writer, self.calls, self.invoices,
                               self.rerater, LocalAuthorizer(self.live))
        self.app = create_app(self.backend)
        self.client = TestClient(self.app)

    def headers(self, account: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[account]}"}

    def get(self, account: str | None, url: str, **kwargs):
        headers = {**(self.headers(account) if account else {}), **kwargs.pop("headers", {})}
        return self.client.get(url, headers=headers, **kwargs)

    def put(self, account: str | None, url: str, **kwargs):
        headers = {**(self.headers(account) if account else {}), **kwargs.pop("headers", {})}
        return self.client.put(url, headers=headers, **kwargs)

    def post(self, account: str | None, url: str, **kwargs):
        headers = {**(self.headers(account) if account else {}), **kwargs.pop("headers", {})}
        return self.client.post(url, headers=headers, **kwargs)


def portal_client(world: World, account: str) -> tuple[TestClient, str]:
    """A TestClient signed in to the portal as `account`, and its session's CSRF token."""
    import re

    client = TestClient(world.app)
    page = client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    answer = client.post("/login", data={"account": account, "password": PASSWORD, "csrf": token, "next": "/"},
                         follow_redirects=False)
    assert answer.status_code == 303, answer.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/").text).group(1)
    return client, csrf


class FakeRerater:
    """Records the runs asked for; answers like pipeline.rerate.service.run_rerate."""

    def __init__(self) -> None:
        self.runs: list[tuple] = []

    async def rerate(self, first, last, account, reseller, dry_run, run_id) -> dict:
        from pipeline.rerate.scope import Scope

        Scope.of_days(first, last, account, reseller)  # the real scope rules (ScopeError)
        self.runs.append((first, last, account, reseller, dry_run, run_id))
        return {"id": run_id or "run-1", "dry_run": dry_run, "calls": 2, "changed": 1, "not_repriced": {},
                "accounts": [{"account": "u1", "calls": 2, "old": "4.000000", "new": "3.000000",
                              "difference": "-1.000000"}]}
