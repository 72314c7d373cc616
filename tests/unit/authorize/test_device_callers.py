"""Authorization by device (docs/devices.md): a request without an account names its caller by a
device's id or by the SIP user, IP address or accountcode the switch saw, resolved as a CDR's is;
the device's call_limit counts the calls made through it; a call in several records releases its
hold at its first segment."""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest
from pydantic import ValidationError

from pipeline.authorize.decide import Live, decide
from pipeline.authorize.holds import LIVE, CallHold, HoldBook
from pipeline.authorize.request import AuthorizeRequest
from pipeline.reference.book import ReferenceBook
from pipeline.reference.records import parse_reference_record

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
RICH = {"u1": Decimal("1000000"), "r1": Decimal("1000000")}


@pytest.fixture()
def book() -> ReferenceBook:
    made = ReferenceBook()
    for record in (
        {"kind": "tariff", "id": "t-r1", "owner": "admin", "rates": [{"prefix": "370", "rate": "1.2"},
                                                                      {"prefix": "*72*", "rate": "0"}]},
        {"kind": "tariff", "id": "t-u1", "owner": "r1", "rates": [{"prefix": "370", "rate": "2"},
                                                                   {"prefix": "*72*", "rate": "0"}]},
        {"kind": "account", "id": "r1", "type": "reseller", "tariff": "t-r1"},
        {"kind": "account", "id": "u1", "type": "user", "parent": "r1", "tariff": "t-u1"},
        {"kind": "device", "id": "desk", "account": "u1", "server": "s1", "sip_user": "1001", "call_limit": 2},
        {"kind": "device", "id": "pbx", "account": "u1", "ip": "10.0.0.5", "accountcode": "acme"},
    ):
        made.apply(parse_reference_record(record))
    return made


def ask(book, holds: HoldBook | None = None, call_id: str = "c", dst: str = "37060000000", **caller):
    holds = holds or HoldBook()
    request = AuthorizeRequest(server_id="s1", call_id=call_id, dst=dst, **caller)
    live = Live(RICH, holds.held, holds.running, holds.reseller_running, holds.device_running)
    answer = decide(request, book, live, NOW, 7200)
    if answer.allowed:
        holds.add(CallHold(request.call_key, answer.account, "r1", answer.to_json(), dict(answer.holds), 0, 10**12,
                           LIVE, device=answer.device))
    return answer


@pytest.mark.parametrize("caller, device", [({"sip_user": "1001"}, "desk"), ({"device": "desk"}, "desk"),
                                            ({"ip": "10.0.0.5"}, "pbx"), ({"accountcode": "acme", "sip_user": "1001"},
                                                                          "pbx")])
def test_a_device_names_the_caller(book, caller, device):
    answer = ask(book, **caller)
    assert (answer.allowed, answer.account, answer.device) == (True, "u1", device)
    assert set(answer.holds) == {"u1", "r1"}


def test_an_unknown_device_is_refused_naming_what_was_tried(book):
    answer = ask(book, sip_user="1002", ip="10.9.9.9")
    assert (answer.allowed, answer.reason, answer.sip_code) == (False, "unknown_account", 403)
    assert "sip_user '1002'" in answer.detail and 'no device for sip_user "1002", ip "10.9.9.9" on server "s1"' \
        in answer.detail


def test_the_devices_call_limit_counts_its_own_calls_only(book):
    holds = HoldBook()
    assert ask(book, holds, "c1", sip_user="1001").allowed and ask(book, holds, "c2", sip_user="1001").allowed
    third = ask(book, holds, "c3", sip_user="1001")
    assert (third.allowed, third.reason, third.sip_code, third.mor_code) == (False, "call_limit", 486, 220)
    assert "device 'desk'" in third.detail
    assert ask(book, holds, "c4", ip="10.0.0.5").allowed  # the same account through another device
    assert ask(book, holds, "c5", account="u1").allowed  # or by its account
    holds.settle("s1/c1", 0, 5, ["u1", "r1"])  # one of the desk's calls ended
    assert holds.device_running == {"desk": 1, "pbx": 1}
    assert ask(book, holds, "c6", sip_user="1001").allowed


def test_a_call_record_survives_the_store_with_its_device():
    record = CallHold("s1/c", "u1", "r1", {"allowed": True}, {"u1": Decimal("1")}, 0, 9, LIVE, device="desk")
    assert CallHold.from_json(record.to_json()) == record
    old = record.to_json().replace(b',"device":"desk"', b"")  # written before devices
    assert CallHold.from_json(old).device == ""


def test_a_feature_code_is_no_number_at_authorization_either(book):
    assert ask(book, account="u1", dst="*72*37060000000").allowed  # its explicit code rate
    refused = ask(book, account="u1", dst="*73*37060000000")
    assert (refused.allowed, refused.reason) == (False, "no_rate") and "not a number" in refused.detail


def test_a_bad_ip_is_a_malformed_request():
    with pytest.raises(ValidationError, match="ip"):
        AuthorizeRequest(server_id="s1", call_id="c", dst="370", ip="10.0.0")


def test_the_first_segment_settles_the_calls_hold_and_the_next_ones_settle_nothing(book):
    holds = HoldBook()
    ask(book, holds, "multi", account="u1")
    assert holds.held["u1"] > 0
    first = holds.settle("s1/multi", 0, 10, ["u1", "r1"])  # segment 1's record (pipeline/stages/charge_calls.py)
    assert first is not None and first.state == "settled"
    assert holds.settle("s1/multi", 0, 11, ["u1", "r1"]) is None  # segment 2: charged, nothing to settle
    holds.ledger_applied("u1", {0: 11})
    holds.ledger_applied("r1", {0: 11})
    assert holds.held == {} and holds.calls == {}
