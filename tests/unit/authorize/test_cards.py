"""Calling cards at authorization (pure): PINs, the lock after three wrong ones, states, expiry
modes, the setup fee once, daily charges while the balance lasts, and a card calling as its own
account through its owner's chain."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from pipeline.authorize import cards
from pipeline.authorize.decide import Live, decide
from pipeline.authorize.request import AuthorizeRequest
from pipeline.reference.book import ReferenceBook
from pipeline.reference.records import parse_reference_record
from pipeline.schemas.cards import card_account, hash_pin

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
NOW_MS = int(NOW.timestamp() * 1000)
NUMBER, PIN = "5550001234", "4321"


def book(state="sold", expiry=None, created=NOW - timedelta(days=1), setup_fee="0", daily_charge="0", caller_ids=()):
    made = ReferenceBook()
    group = {"kind": "card_group", "id": "g-r1", "owner": "r1", "tariff": "t-r1-cards", "face_value": "5",
             "setup_fee": setup_fee, "daily_charge": daily_charge, "expiry": expiry or {"mode": "none"}}
    for record in (
        {"kind": "tariff", "id": "t-r1-buy", "owner": "admin", "rates": [{"prefix": "370", "rate": "0.1"}]},
        {"kind": "account", "id": "r1", "type": "reseller", "tariff": "t-r1-buy", "billing": "prepaid"},
        {"kind": "tariff", "id": "t-r1-cards", "owner": "r1", "rates": [{"prefix": "370", "rate": "0.3"}]},
        group,
    ):
        made.apply(parse_reference_record(record))
    made.apply(parse_reference_record(card_account(made.card_group("g-r1"), NUMBER)))
    made.apply(parse_reference_record({"kind": "card", "number": NUMBER, "group": "g-r1", "pin_hash": hash_pin(PIN),
                                       "state": state, "created": created.isoformat(),
                                       "caller_ids": list(caller_ids)}))
    return made


def ask(reference, pin=PIN, use=None, now_ms=NOW_MS, **fields):
    request = AuthorizeRequest(server_id="ivr1", call_id="c1", card=fields.pop("card", NUMBER), pin=pin,
                               dst="37060000000", **fields)
    found = cards.card_of(request, reference)
    return cards.check(request, reference, found[0], found[1], use or cards.CardUse(), now_ms)


def test_a_card_with_its_pin_calls_as_its_account_through_the_owners_chain():
    reference = book()
    checked = ask(reference)
    assert checked.refused is None and checked.number == NUMBER
    request = AuthorizeRequest(server_id="ivr1", call_id="c1", account=NUMBER, dst="37060000000")
    answer = decide(request, reference, Live({NUMBER: Decimal("5"), "r1": Decimal("100")}, {}, {}, {}), NOW, 7200)
    # 5.00 at 0.3/min: 1,000 s; the reseller pays his 0.1/min for the same seconds
    assert (answer.allowed, answer.max_seconds, answer.balance) == (True, 1000, Decimal("5"))
    assert answer.holds == {NUMBER: Decimal("5.000000"), "r1": Decimal("1.666667")}


def test_no_pin_and_a_wrong_pin_are_bad_pin_and_three_wrong_lock_the_card_for_an_hour():
    reference = book()
    missing = ask(reference, pin="")
    assert (missing.refused.reason, missing.refused.sip_code, missing.refused.mor_code) == ("bad_pin", 403, 227)
    use = cards.CardUse()
    for attempt in range(3):
        checked = ask(reference, pin="0000", use=use, now_ms=NOW_MS + attempt * 1000)
        assert checked.refused.reason == "bad_pin"
        use = checked.use
    assert use.locked_until == NOW_MS + 2000 + cards.LOCK_MS
    locked = ask(reference, use=use, now_ms=NOW_MS + 60_000)  # the right PIN, within the hour
    assert locked.refused.reason == "blocked" and "locked" in locked.refused.detail
    assert ask(reference, use=use, now_ms=use.locked_until + 1).refused is None


def test_wrong_pins_further_apart_than_ten_minutes_do_not_lock():
    reference, use = book(), cards.CardUse()
    for attempt in range(3):
        use = ask(reference, pin="0000", use=use, now_ms=NOW_MS + attempt * 400_000).use
    assert use.locked_until == 0 and len(use.failures) == 2


@pytest.mark.parametrize("state, detail", [("new", "not sold"), ("blocked", "blocked")])
def test_a_card_not_sold_or_blocked_is_refused(state, detail):
    checked = ask(book(state=state))
    assert checked.refused.reason == "blocked" and detail in checked.refused.detail


@pytest.mark.parametrize("expiry, created, first_use, refused", [
    ({"mode": "date", "date": "2026-11-30"}, NOW - timedelta(days=1), None, True),
    ({"mode": "date", "date": "2026-12-01"}, NOW - timedelta(days=1), None, False),  # valid through that day
    ({"mode": "after_creation", "days": 30}, NOW - timedelta(days=31), None, True),
    ({"mode": "after_creation", "days": 30}, NOW - timedelta(days=29), None, False),
    ({"mode": "after_first_use", "days": 7}, NOW - timedelta(days=90), NOW - timedelta(days=8), True),
    ({"mode": "after_first_use", "days": 7}, NOW - timedelta(days=90), None, False),  # never used: no clock yet
])
def test_expiry_modes(expiry, created, first_use, refused):
    use = cards.CardUse(first_use=None if first_use is None else int(first_use.timestamp() * 1000))
    checked = ask(book(expiry=expiry, created=created), use=use)
    assert (checked.refused is not None and checked.refused.reason == "card_expired") == refused


def test_a_caller_id_bound_to_the_card_needs_no_pin():
    reference = book(caller_ids=("37061234567",))
    request = AuthorizeRequest(server_id="ivr1", call_id="c1", src="37061234567", dst="37060000000")
    assert cards.card_of(request, reference) == (NUMBER, False)
    assert cards.check(request, reference, NUMBER, False, cards.CardUse(), NOW_MS).number == NUMBER


def test_the_setup_fee_is_charged_once_at_the_first_answered_call():
    group = book(setup_fee="0.50").card_group("g-r1")
    use, fees = cards.used(cards.CardUse(), group, NOW_MS)
    assert fees == [("setup", Decimal("0.50"))] and use.first_use == NOW_MS and use.setup_charged
    again, fees = cards.used(use, group, NOW_MS + 5000)
    assert fees == [] and again.first_use == NOW_MS and again.last_use == NOW_MS + 5000


def test_daily_charges_from_the_first_use_while_the_balance_lasts():
    group = book(daily_charge="0.40").card_group("g-r1")
    first = cards.CardUse(first_use=NOW_MS - 2 * 86_400_000)  # used two days ago: three days begun
    use, fees = cards.daily_charges(first, group, Decimal("1.00"), NOW_MS)
    assert fees == [("daily:20261129", Decimal("0.40")), ("daily:20261130", Decimal("0.40")),
                    ("daily:20261201", Decimal("0.20"))]  # the last takes what is left, never below zero
    assert use.daily_through == "20261201"
    assert cards.daily_charges(use, group, Decimal("5"), NOW_MS)[1] == []  # each day once
    assert cards.daily_charges(first, group, Decimal("0"), NOW_MS)[1] == []
