"""Every refusal reason of the rules, each with its SIP code and MOR cause, and what is allowed."""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from pipeline.authorize.decide import Live, decide
from pipeline.authorize.request import AuthorizeRequest
from pipeline.reference.book import ReferenceBook
from pipeline.reference.records import parse_reference_record

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
RICH = {"u1": Decimal("100"), "r1": Decimal("100"), "d1": Decimal("100")}


def book(u1=None, r1=None, user_rate="2", reseller_rate="1.2"):
    made = ReferenceBook()
    for record in (
        {"kind": "tariff", "id": "t-r1", "owner": "admin", "rates": [{"prefix": "370", "rate": reseller_rate}]},
        {"kind": "tariff", "id": "t-u1", "owner": "r1", "rates": [{"prefix": "370", "rate": user_rate}]},
        {"kind": "account", "id": "r1", "type": "reseller", "tariff": "t-r1", **(r1 or {})},
        {"kind": "account", "id": "u1", "type": "user", "parent": "r1", "tariff": "t-u1", **(u1 or {})},
        {"kind": "account", "id": "d1", "type": "user", "tariff": "t-r1", "billing": "postpaid", "credit_limit": "5"},
    ):
        made.apply(parse_reference_record(record))
    return made


def ask(reference, balances=RICH, account="u1", dst="37060000000", calls=None, reseller_calls=None, held=None):
    live = Live(balances, held or {}, calls or {}, reseller_calls or {})
    return decide(AuthorizeRequest(server_id="s", call_id="c", account=account, dst=dst), reference, live, NOW, 7200)


@pytest.mark.parametrize("case, kwargs, expected", [
    ("unknown account", dict(reference=book(), account="nobody"), ("unknown_account", 403, 200)),
    ("the admin is not a caller", dict(reference=book(), account="admin"), ("unknown_account", 403, 200)),
    ("blocked by hand", dict(reference=book(u1={"blocked": True})), ("blocked", 403, 201)),
    ("reseller blocked by hand", dict(reference=book(r1={"blocked": True})), ("reseller_blocked", 403, 202)),
    ("no rate", dict(reference=book(), dst="4420000"), ("no_rate", 404, 203)),
    ("empty balance", dict(reference=book(), balances={"u1": Decimal(0), "r1": Decimal(100)}),
     ("low_balance", 402, 210)),
    ("held money", dict(reference=book(), held={"u1": Decimal(100)}), ("no_free_balance", 402, 212)),
    ("reseller empty", dict(reference=book(), balances={"u1": Decimal(100), "r1": Decimal(0)}),
     ("low_balance_reseller", 402, 215)),
    ("loss call", dict(reference=book(user_rate="1", reseller_rate="1.2")), ("loss_call", 403, 218)),
    ("max rate", dict(reference=book(u1={"max_rate": "1.5"})), ("max_rate", 403, None)),
    ("call limit", dict(reference=book(u1={"call_limit": 2}), calls={"u1": 2}), ("call_limit", 486, 220)),
    ("reseller call limit", dict(reference=book(r1={"call_limit": 3}), reseller_calls={"r1": 3}),
     ("reseller_call_limit", 486, 222)),
    ("postpaid over its limit", dict(reference=book(), account="d1", balances={"d1": Decimal("-5")}),
     ("low_balance", 402, 210)),
])
def test_refusal(case, kwargs, expected):
    answer = ask(**kwargs)
    assert (answer.reason, answer.sip_code, answer.mor_code) == expected, case
    assert not answer.allowed and answer.max_seconds == 0 and answer.holds == {}
    assert answer.detail


def test_allowed_answers_and_their_holds():
    allowed = ask(book(u1={"call_limit": 2}), calls={"u1": 1})
    assert (allowed.allowed, allowed.reason, allowed.sip_code, allowed.max_seconds) == (True, "ok", None, 3000)
    assert allowed.holds == {"u1": Decimal("100.000000"), "r1": Decimal("60.000000")}
    assert ask(book(user_rate="1", reseller_rate="1.2", u1={"allow_loss_calls": True})).allowed
    postpaid = ask(book(), account="d1", balances={"d1": Decimal("-4")})  # 1 of 5 credit left, 1.2/min
    assert (postpaid.max_seconds, postpaid.holds) == (50, {"d1": Decimal("1.000000")})


def test_postpaid_without_a_limit_is_neither_held_nor_capped_by_money():
    reference = book(u1={"billing": "postpaid"}, r1={"billing": "postpaid"})
    answer = ask(reference, balances={"u1": Decimal("-1000"), "r1": Decimal("-1000")})
    assert (answer.allowed, answer.max_seconds, answer.holds, answer.balance) == (True, 7200, {}, None)


def test_hold_cap_per_account_overrides_the_installation_default():
    assert ask(book(u1={"hold_cap_seconds": 120})).max_seconds == 120


def test_a_call_to_a_did_holds_its_owner_and_his_reseller():
    from tests.unit.rating.did_book import did_book

    reference = did_book()  # DID 37052000001: r1 gave it to u1; u1 pays r1 0.8/min, r1 pays the admin 0.5/min
    live = Live({"u1": Decimal("0.40"), "r1": Decimal("100")}, {}, {}, {})
    outside = decide(AuthorizeRequest(server_id="s", call_id="c", account="", did="37052000001", dst="37052000001"),
                     reference, live, NOW, 7200)
    assert (outside.allowed, outside.max_seconds) == (True, 30)
    assert outside.holds == {"u1": Decimal("0.400000"), "r1": Decimal("0.250000")}
    broke = Live({"u1": Decimal("0"), "r1": Decimal("100"), "u2": Decimal("100")}, {}, {}, {})
    local = decide(AuthorizeRequest(server_id="s", call_id="c", account="u2", did="37052000001", dst="37052000001"),
                   reference, broke, NOW, 7200)
    assert (local.allowed, local.reason, local.sip_code, local.mor_code) == (False, "low_balance_owner", 402, 211)
