"""On current ClickHouse (chdb): the API's pages count the money of calls to DIDs as the balances
charged it (pipeline/balances/charges.py `owed_by`, the oracle), with each party's view.

Before, nothing in pipeline/api read `did_owner` or the DID prices: in the reseller walkthrough
(tests/integration/test_reseller_walkthrough.py) a 60 s outside call to u1's DID charged u1 0.80
and r1 0.50, yet u1's calls page did not list it ("Spent 3.00" for 3.80 charged), r1's totals and
Profit page said revenue 3.00 and cost 0.90 (truth 3.80 and 1.70), and r1's usage per user put the
call on a row of no account with cost -0.30. The first tests are that walkthrough's two calls; the
others a world of every kind of DID call (docs/dids.md's table), and the settled daily totals
(pipeline/api/daily_totals.py) against the calls they settle.
"""
from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import pytest

from pipeline.api import daily_totals, queries
from pipeline.api.queries import Period
from pipeline.api.visibility import Scope
from pipeline.balances.charges import owed_by
from pipeline.reports.run import Table
from pipeline.sinks.migrate import schema_statements
from pipeline.sinks.rows import row_from_record
from tests.unit.chdb_kit import migrated_session, run
from tests.unit.sinks.rated_example import example_record, literal_insert

OCTOBER = Period(date(2026, 10, 1), date(2026, 10, 31))
DID = "37052000001"
ZERO = Decimal(0)
# the reference mirror a reseller's view reads (which callers are his): id, type, reseller
ACCOUNTS = [("r1", "reseller", "r1"), ("u1", "user", "r1"), ("u2", "user", "r1"), ("r2", "reseller", "r2"),
            ("u9", "user", "r2"), ("d1", "user", "")]


def _millis(day: int, hour: int = 12) -> int:
    return int(datetime(2026, 10, day, hour, tzinfo=timezone.utc).timestamp() * 1000)


def plain(call_id, account, reseller, user_price, reseller_price, provider_price, reseller_profit, admin_profit,
          own_provider=False, day=4) -> dict:
    return example_record(call_id=call_id, account=account, reseller=reseller, start_time=_millis(day),
                          user_price=user_price, reseller_price=reseller_price, provider_price=provider_price,
                          reseller_profit=reseller_profit, admin_profit=admin_profit, own_provider=own_provider)


def to_did(call_id, caller, owner, reseller, incoming, owner_price, reseller_owner, provider, reseller_profit,
           admin_profit, billsec=60, day=4, did=DID) -> dict:
    """A call to a DID as pipeline/cdr/rated_record.py writes it: no user tariff, prices 0."""
    return example_record(call_id=call_id, account=caller, reseller=reseller, did=did, dst=did,
                          start_time=_millis(day, 13), billsec=billsec, user_tariff="", user_prefix="",
                          user_billed_seconds=0, user_rate="0", user_price="0", reseller_tariff="",
                          reseller_prefix="", reseller_billed_seconds=0, reseller_rate="0", reseller_price="0",
                          provider_tariff="", provider_prefix="", provider_billed_seconds=0, provider_rate="0",
                          provider_price="0", reseller_profit=reseller_profit, admin_profit=admin_profit,
                          did_owner=owner, did_incoming_price=incoming, did_owner_price=owner_price,
                          did_reseller_owner_price=reseller_owner, did_provider_price=provider)


# the walkthrough: u1 dials 3706 at r1's 3/min (r1 pays the admin 1.2), and someone outside calls
# u1's DID (u1 pays r1 0.8, r1 pays the admin 0.5, the carrier pays the admin 0.02)
WALK = [plain("walk-out", "u1", "r1", "3.000000", "1.200000", "0.300000", "1.800000", "0.900000"),
        to_did("walk-did", "", "u1", "r1", "0", "0.800000", "0.500000", "0.020000", "0.300000", "0.520000")]
# every kind of call to a DID (docs/dids.md), beside ordinary calls
WORLD = WALK + [
    to_did("from-u9", "u9", "u1", "r1", "0.050000", "0.400000", "0.250000", "0.010000", "0.150000", "0.310000",
           billsec=30),  # a user of another reseller rings u1's DID
    to_did("own-did", "u1", "u1", "r1", "0.100000", "0", "0", "0.020000", "0", "0.120000"),  # u1 dials it
    to_did("r1-rings-u1", "r1", "u1", "r1", "0.050000", "0.400000", "0.250000", "0.010000", "0.150000",
           "0.310000", billsec=30),  # the reseller rings his user's DID
    to_did("r1-holds", "", "r1", "r1", "0", "0.500000", "0", "0.020000", "-0.500000", "0.520000",
           did="37052000009"),  # a DID r1 holds himself
    to_did("u1-rings-d1", "u1", "d1", "", "0.100000", "0.750000", "0", "0.030000", "0", "0.880000",
           did="37052000005"),  # u1 rings a direct user's DID
    to_did("credit", "u9", "d1", "", "-0.255000", "-1.016667", "0", "-0.010167", "0", "-1.281834",
           did="37052000005", billsec=61),  # negative rates: the admin pays
    to_did("unassigned", "d1", "", "", "0.100000", "0", "0", "0.020000", "0", "0.120000", did="37052000007"),
    plain("u9-out", "u9", "r2", "3.333333", "1.111111", "0.300000", "2.222222", "0.811111"),
    plain("direct", "d1", "", "1.500000", "0", "0.300000", "0", "1.200000"),
    plain("own-carrier", "u2", "r1", "0.500000", "0", "0.200000", "0.300000", "0", own_provider=True),
    plain("r1-out", "r1", "", "1.200000", "0", "0.300000", "0", "0.900000"),  # the reseller calls himself
    plain("november", "u1", "r1", "9.000000", "5.000000", "0.300000", "4.000000", "4.700000", day=1)
    | {"start_time": datetime(2026, 11, 1, 0, 0, 1, tzinfo=timezone.utc)},
]


def _seed(session, database: str, calls: list[dict]) -> None:
    for statement in schema_statements(database):
        session.query(statement)
    rows = [row_from_record(record) for record in calls]
    session.query(literal_insert(database, rows))
    session.query(literal_insert(database, rows[:4]))  # redelivered: FINAL counts them once
    session.query(f"INSERT INTO {database}.accounts (id, type, reseller, version) VALUES "
                  + ", ".join(f"('{a}', '{t}', '{r}', 1)" for a, t, r in ACCOUNTS))


@pytest.fixture(scope="module")
def chdb(tmp_path_factory):
    """One chdb per process: a database for the walkthrough's calls, one for the world's."""
    session = migrated_session(tmp_path_factory.mktemp("didmoney"), "walk", only="0001_rated_calls")
    _seed(session, "walk", WALK)
    _seed(session, "didworld", WORLD)
    yield session
    session.close()


@pytest.fixture
def walk(chdb):
    return chdb


@pytest.fixture
def world(chdb):
    return chdb


def dicts(session, query, columns: tuple[str, ...]) -> list[dict]:
    return [dict(zip(columns, row)) for row in run(session, query)]


def charged(account: str, calls: list[dict] = WORLD) -> Decimal:
    """What the balance stage debited this account for October's calls."""
    return sum((amount for record in calls if record["start_time"].month == 10
                for payer, amount in owed_by(record) if payer == account), ZERO)


# the walkthrough's three symptoms ---------------------------------------------------------------

def test_the_user_sees_the_call_to_his_did_at_his_own_price_and_spent_what_he_was_charged(walk):
    u1 = Scope("user", "u1")
    calls = dicts(walk, queries.calls("walk", u1, OCTOBER, 50, 0), queries.CALL_COLUMNS["user"])
    assert [(c["call_id"], c["did"], Decimal(c["user_price"])) for c in calls] == [
        ("walk-did", DID, Decimal("0.8")), ("walk-out", "", Decimal("3"))]
    (totals,) = dicts(walk, queries.call_totals("walk", u1, OCTOBER), ("currency", "calls", "answered", "billsec",
                                                                        "user_price"))
    assert totals["calls"] == "2" and Decimal(totals["user_price"]) == Decimal("3.8") == charged("u1", WALK)
    assert queries.latest_call("walk", u1, OCTOBER).params["tenant"] == "u1"


def test_the_resellers_totals_and_profit_count_what_his_user_paid_him_and_what_he_paid(walk):
    r1 = Scope("reseller", "r1")
    (totals,) = dicts(walk, queries.call_totals("walk", r1, OCTOBER),
                      ("currency", "calls", "answered", "billsec", "user_price", "reseller_price", "profit"))
    assert [Decimal(totals[k]) for k in ("user_price", "reseller_price", "profit")] == [
        Decimal("3.8"), Decimal("1.7"), Decimal("2.1")]
    assert Decimal(totals["reseller_price"]) == charged("r1", WALK)  # his balance went down 1.70
    (profit,) = dicts(walk, queries.profit("walk", r1, OCTOBER), ("currency", "calls", "revenue", "cost", "profit"))
    assert [Decimal(profit[k]) for k in ("revenue", "cost", "profit")] == [Decimal("3.8"), Decimal("1.7"),
                                                                            Decimal("2.1")]
    stats = dicts(walk, queries.stats("walk", r1, OCTOBER, True),
                  ("day", "destination", "currency", "calls", "answered", "billsec", "revenue", "profit"))
    assert {(s["destination"], Decimal(s["revenue"]), Decimal(s["profit"])) for s in stats} == {
        ("370", Decimal("3"), Decimal("1.8")), (f"did:{DID}", Decimal("0.8"), Decimal("0.3"))}


def test_the_resellers_usage_puts_the_call_to_his_users_did_on_that_user(walk):
    rows = dicts(walk, queries.user_stats("walk", Scope("reseller", "r1"), OCTOBER),
                 ("account", "currency", "calls", "answered", "billsec", "revenue", "cost", "profit"))
    assert [(r["account"], r["calls"], Decimal(r["revenue"]), Decimal(r["cost"]), Decimal(r["profit"]))
            for r in rows] == [("u1", "2", Decimal("3.8"), Decimal("1.7"), Decimal("2.1"))]


# every kind of call to a DID --------------------------------------------------------------------

@pytest.mark.parametrize("user", ["u1", "u2", "u9", "d1"])
def test_a_users_calls_and_spent_are_exactly_what_his_balance_was_charged(world, user):
    scope = Scope("user", user)
    calls = dicts(world, queries.calls("didworld", scope, OCTOBER, 100, 0), queries.CALL_COLUMNS["user"])
    assert sum((Decimal(c["user_price"]) for c in calls), ZERO) == charged(user)
    totals = dicts(world, queries.call_totals("didworld", scope, OCTOBER), ("currency", "calls", "a", "b", "price"))
    assert sum((Decimal(t["price"]) for t in totals), ZERO) == charged(user)
    # a call he had no part in is not his (u9 rang d1's DID, d1 rang an unassigned one)
    mine = {r["call_id"] for r in WORLD if r["start_time"].month == 10
            and any(payer == user for payer, _ in owed_by(r))}
    assert {c["call_id"] for c in calls} == mine


def test_u1_sees_every_call_of_his_own_and_to_his_did_and_nothing_of_the_others_prices(world):
    calls = dicts(world, queries.calls("didworld", Scope("user", "u1"), OCTOBER, 100, 0),
                  queries.CALL_COLUMNS["user"])
    price = {c["call_id"]: Decimal(c["user_price"]) for c in calls}
    assert price == {"walk-out": Decimal("3"), "walk-did": Decimal("0.8"), "from-u9": Decimal("0.4"),
                     "own-did": Decimal("0.1"), "r1-rings-u1": Decimal("0.4"), "u1-rings-d1": Decimal("0.1")}


def test_a_reseller_is_charged_what_his_own_price_says_and_earns_what_his_users_paid_him(world):
    r1 = Scope("reseller", "r1")
    (totals,) = dicts(world, queries.call_totals("didworld", r1, OCTOBER),
                      ("currency", "calls", "a", "b", "user_price", "reseller_price", "profit"))
    assert Decimal(totals["reseller_price"]) == charged("r1")  # 1.2 + 0.5 + 0.25 + 0.3 + 0.5 + 1.2
    (profit,) = dicts(world, queries.profit("didworld", r1, OCTOBER), ("currency", "calls", "revenue", "cost", "profit"))
    revenue, cost, earned = (Decimal(profit[k]) for k in ("revenue", "cost", "profit"))
    assert earned == sum((Decimal(r["reseller_profit"]) for r in WORLD
                          if r["reseller"] == "r1" and r["start_time"].month == 10), ZERO)
    assert revenue - cost == earned == Decimal(totals["profit"])
    # what his users paid him: 3 + 0.8 (outside) + 0.4 (u9) + 0.4 (himself) + 0.5 (u2); and, as
    # ever, his own calls at what he paid: 0.05 to ring u1's DID, 1.2 out
    assert revenue == Decimal("6.35")
    # his own carrier's 0.2 is his cost, not a charge of the admin's
    assert cost == charged("r1") + Decimal("0.2")
    calls = dicts(world, queries.calls("didworld", r1, OCTOBER, 100, 0), queries.CALL_COLUMNS["reseller"])
    assert sum((Decimal(c["reseller_price"]) for c in calls), ZERO) == charged("r1")
    assert all(Decimal(c["user_price"]) - Decimal(c["reseller_price"]) == Decimal(c["reseller_profit"])
               for c in calls if c["did"] and c["call_id"] != "r1-rings-u1")


def test_a_reseller_never_sees_who_of_another_reseller_rang_his_users_did(world):
    for scope in (Scope("reseller", "r1"), Scope("reseller", "r1", "u1")):
        calls = {c["call_id"]: c for c in dicts(world, queries.calls("didworld", scope, OCTOBER, 100, 0),
                                                queries.CALL_COLUMNS["reseller"])}
        assert calls["from-u9"]["account"] == "" and "u9" not in {c["account"] for c in calls.values()}
        assert calls["r1-rings-u1"]["account"] == "r1" and calls["own-did"]["account"] == "u1"
        # u9's own calls, and the DIDs of others, are not his
        assert not {"u9-out", "credit", "u1-rings-d1", "unassigned"} & set(calls)
    sql = queries.calls("didworld", Scope("reseller", "r1"), OCTOBER, 100, 0).sql
    assert "provider_price" not in sql.replace("did_provider_price", "") and "admin_profit" not in sql


def test_usage_per_user_gives_each_account_its_own_legs(world):
    rows = dicts(world, queries.user_stats("didworld", Scope("reseller", "r1"), OCTOBER),
                 ("account", "currency", "calls", "answered", "billsec", "revenue", "cost", "profit"))
    by = {r["account"]: tuple(Decimal(r[k]) for k in ("revenue", "cost", "profit")) for r in rows}
    assert "" not in by and "u9" not in by
    # u1: 3 out; his DID rang from outside, by u9, by himself (no owner leg) and by r1
    assert by["u1"] == (Decimal("4.6"), Decimal("2.2"), Decimal("2.4"))
    # r1: his own call out and to u1's DID (what he paid, as revenue and cost), and his own DID
    assert by["r1"] == (Decimal("1.25"), Decimal("1.75"), Decimal("-0.5"))
    assert by["u2"] == (Decimal("0.5"), Decimal("0.2"), Decimal("0.3"))
    (profit,) = dicts(world, queries.profit("didworld", Scope("reseller", "r1"), OCTOBER), ("c", "n", "r", "k", "p"))
    assert [sum(v[n] for v in by.values()) for n in range(3)] == [Decimal(profit[k]) for k in ("r", "k", "p")]


def test_the_admins_figures_add_up_to_his_profit_on_every_kind_of_call(world):
    admin = Scope("admin", "admin")
    rows = dicts(world, queries.profit("didworld", admin, OCTOBER), ("reseller", "currency", "calls", "revenue",
                                                                       "cost", "profit"))
    october = [r for r in WORLD if r["start_time"].month == 10]
    for row in rows:
        revenue, cost, profit = (Decimal(row[k]) for k in ("revenue", "cost", "profit"))
        assert revenue - cost == profit == sum((Decimal(r["admin_profit"]) for r in october
                                                if r["reseller"] == row["reseller"]), ZERO), row
    # what reached him of r1's calls: what r1 paid on them (not on his own call out, a call of no
    # reseller) and what their callers paid to ring u1's DID (u9 0.05, u1 0.1)
    (r1,) = [row for row in rows if row["reseller"] == "r1"]
    assert Decimal(r1["revenue"]) == charged("r1") - Decimal("1.2") + Decimal("0.05") + Decimal("0.1")
    usage = dicts(world, queries.user_stats("didworld", admin, OCTOBER),
                  ("reseller", "account", "currency", "calls", "answered", "billsec", "revenue", "cost", "profit"))
    assert sum((Decimal(u["profit"]) for u in usage), ZERO) == sum((Decimal(r["admin_profit"]) for r in october), ZERO)
    assert sum((Decimal(u["revenue"]) - Decimal(u["cost"]) for u in usage), ZERO) == \
        sum((Decimal(r["profit"]) for r in rows), ZERO)
    (totals,) = dicts(world, queries.call_totals("didworld", admin, OCTOBER),
                      ("currency", "calls", "a", "b", "user_price", "reseller_price", "provider_price", "profit"))
    users = [a for a, t, _ in ACCOUNTS if t == "user"]
    # what users paid: every user's charge (the resellers' own calls are at their user price too)
    assert Decimal(totals["user_price"]) == sum((charged(u) for u in users), ZERO) + Decimal("1.25")


def test_the_admins_one_account_view_includes_the_calls_to_its_dids(world):
    calls = dicts(world, queries.calls("didworld", Scope("admin", "admin", "d1"), OCTOBER, 100, 0),
                  queries.CALL_COLUMNS["admin"])
    assert {c["call_id"] for c in calls} == {"u1-rings-d1", "credit", "unassigned", "direct"}


# the settled daily totals ----------------------------------------------------------------------

SCOPES = (Scope("reseller", "r1"), Scope("reseller", "r2"), Scope("admin", "admin"),
          Scope("admin", "admin", None, "r1"), Scope("reseller", "r1", "u1"), Scope("admin", "admin", "d1"))


def test_settled_days_give_the_stats_the_calls_give_with_their_did_legs(world):
    def read(query):
        return Table((), run(world, query))

    (counted,) = run(world, queries.day_counts("didworld", [date(2026, 10, 4)]))
    daily_totals.settle(read, "didworld", date(2026, 10, 4), int(counted[1]))
    for scope in SCOPES:
        for by_destination in (True, False):
            settled, unsettled = daily_totals.stats(read, "didworld", scope, OCTOBER, by_destination,
                                                    date(2026, 12, 1))
            assert date(2026, 10, 4) not in unsettled
            live = run(world, queries.stats("didworld", scope, OCTOBER, by_destination))
            assert [list(row) for row in settled.rows] == live, (scope, by_destination)
