"""The worked example of the rules (MOR wiki "Prepaid Logic"), step by step, through the pure
decision and the holds: prepaid user, balance 8.00, rate 0.2/min in 1 s steps, hold cap 1,800 s."""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

from pipeline.authorize.decide import Live, decide
from pipeline.authorize.holds import LIVE, CallHold, HoldBook
from pipeline.authorize.request import AuthorizeRequest
from pipeline.reference.book import ReferenceBook
from pipeline.reference.records import parse_reference_record

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)


def book(**user) -> ReferenceBook:
    made = ReferenceBook()
    for record in (
        {"kind": "tariff", "id": "t-user", "owner": "admin", "currency": "EUR",
         "rates": [{"prefix": "370", "rate": "0.2", "increment": 1}]},
        {"kind": "account", "id": "u1", "type": "user", "parent": "admin", "tariff": "t-user",
         "billing": "prepaid", "hold_cap_seconds": 1800, **user},
    ):
        made.apply(parse_reference_record(record))
    return made


class Authorizer:
    """decide() and the HoldBook as the stage uses them, without Kafka."""

    def __init__(self, reference: ReferenceBook, balances: dict[str, Decimal]) -> None:
        self.book, self.balances, self.holds = reference, balances, HoldBook()

    def ask(self, call_id: str, dst: str = "37060000000"):
        request = AuthorizeRequest(server_id="s1", call_id=call_id, account="u1", dst=dst)
        live = Live(self.balances, self.holds.held, self.holds.running, self.holds.reseller_running)
        answer = decide(request, self.book, live, NOW, 7200)
        if answer.allowed:
            self.holds.add(CallHold(request.call_key, "u1", "", answer.to_json(), dict(answer.holds), 0,
                                    10**12, LIVE))
        return answer

    def cdr(self, call_id: str, price: Decimal, offset: int) -> None:
        """The call's CDR rated at cdr.rated 0@offset and its debit applied by the ledger."""
        self.holds.settle(f"s1/{call_id}", 0, offset, ["u1"])
        self.balances["u1"] -= price
        self.holds.ledger_applied("u1", {0: offset})


def test_the_worked_example_step_by_step():
    auth = Authorizer(book(), {"u1": Decimal("8.00")})
    first = auth.ask("c1")
    assert (first.allowed, first.max_seconds, first.holds) == (True, 1800, {"u1": Decimal("6.000000")})
    second = auth.ask("c2")
    assert (second.max_seconds, second.holds, second.balance) == (600, {"u1": Decimal("2.000000")}, Decimal("2.000000"))
    third = auth.ask("c3")
    assert (third.allowed, third.reason, third.sip_code, third.mor_code) == (False, "no_free_balance", 402, 212)
    auth.cdr("c1", Decimal("2.40"), offset=7)  # 720 s at 0.2/min
    assert auth.balances["u1"] == Decimal("5.60") and auth.holds.held == {"u1": Decimal("2.000000")}
    fourth = auth.ask("c4")
    assert (fourth.allowed, fourth.max_seconds, fourth.balance) == (True, 1080, Decimal("3.600000"))


def test_a_hold_stays_until_the_ledger_has_the_debit():
    """Settled but not yet in the balance: the money is still held, never counted free twice."""
    auth = Authorizer(book(), {"u1": Decimal("8.00")})
    auth.ask("c1")
    auth.holds.settle("s1/c1", 3, 41, ["u1"])
    assert auth.holds.held == {"u1": Decimal("6.000000")}
    assert auth.holds.running == {}  # the call has ended: it no longer counts against limits
    auth.holds.ledger_applied("u1", {3: 40})
    assert auth.holds.held == {"u1": Decimal("6.000000")}
    auth.holds.ledger_applied("u1", {3: 41})
    assert auth.holds.held == {}


def test_an_empty_balance_is_low_balance_not_no_free_balance():
    answer = Authorizer(book(), {"u1": Decimal("0")}).ask("c1")
    assert (answer.allowed, answer.reason, answer.sip_code, answer.mor_code) == (False, "low_balance", 402, 210)
