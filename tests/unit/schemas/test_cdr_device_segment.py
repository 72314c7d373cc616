"""The CDR's `device` and `segment` (docs/devices.md, "A call in several records"): what CdrIn
accepts, how a caller without an account is found by the rate stage, and the segment's call key."""
from __future__ import annotations

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from pipeline.cdr.process import process_cdr
from pipeline.reference.records import parse_reference_record
from pipeline.schemas.cdr import CdrIn, call_key
from tests.unit.cdr.sample_book import RATED_AT, SOURCE, sample_book, seed_cdr

BASE = {"call_id": "c1", "server_id": "ast1", "dst": "37061234567", "start_time": "2026-11-25T10:00:00Z",
        "billsec": 60}


@pytest.fixture(scope="module")
def book():
    made = sample_book()
    for obj in ({"kind": "device", "id": "dev-1001", "account": "u1", "server": "ast1", "sip_user": "1001"},
                {"kind": "device", "id": "dev-trunk", "account": "u2", "ip": "10.0.0.5"},
                {"kind": "device", "id": "dev-old", "account": "u2", "sip_user": "9009", "archived": True}):
        made.apply(parse_reference_record(obj))
    return made


def rejected(out) -> dict:
    assert not out.rated
    return orjson.loads(out.value)


def test_a_device_may_stand_for_the_account():
    cdr = CdrIn.model_validate({**BASE, "device": {"sip_user": 1001, "ip": "10.0.0.5:5060", "channel": "PJSIP/1001"}})
    assert (cdr.account, cdr.device.sip_user, cdr.device.ip) == ("", "1001", "10.0.0.5")
    with pytest.raises(ValidationError, match="account"):
        CdrIn.model_validate({**BASE, "device": {}})  # a device with no key names nobody
    with pytest.raises(ValidationError, match="account"):
        CdrIn.model_validate(BASE)
    with pytest.raises(ValidationError, match="device.ip"):
        CdrIn.model_validate({**BASE, "device": {"ip": "not-an-ip"}})


def test_the_rate_stage_finds_the_caller_by_device_and_keeps_the_device_on_the_record(book):
    out = process_cdr(None, orjson.dumps(seed_cdr(account="", device={"sip_user": "1001"})), SOURCE, book, RATED_AT)
    assert out.rated, out.value
    record = orjson.loads(out.value)
    assert record["account"] == "u1" and record["reseller"] == "r1" and record["user_price"] == "2.000000"
    assert orjson.loads(record["extra"]) == {"device": {"sip_user": "1001"}, "device_id": "dev-1001"}
    by_ip = orjson.loads(process_cdr(None, orjson.dumps(seed_cdr(account="", device={"sip_user": "5",
                                                                                    "ip": "10.0.0.5"})),
                                     SOURCE, book, RATED_AT).value)
    assert by_ip["account"] == "u2"
    named = orjson.loads(process_cdr(None, orjson.dumps(seed_cdr(account="u2", device={"sip_user": "1001"})),
                                     SOURCE, book, RATED_AT).value)
    assert named["account"] == "u2"  # an account on the CDR wins over its device


@pytest.mark.parametrize("device, server, detail", [
    ({"sip_user": "1001", "ip": "10.9.9.9"}, "ast2",
     'no account; no device for sip_user "1001", ip "10.9.9.9" on server "ast2"'),
    ({"sip_user": "9009"}, "ast1", 'no account; no device for sip_user "9009" on server "ast1"'),  # archived
])
def test_an_unknown_device_is_rejected_unknown_account_naming_what_was_tried(book, device, server, detail):
    body = rejected(process_cdr(None, orjson.dumps(seed_cdr(account="", server_id=server, device=device)), SOURCE,
                                book, RATED_AT))
    assert (body["reason"], body["detail"]) == ("unknown_account", detail)


def test_a_did_call_from_an_unknown_device_is_an_outside_caller(book):
    out = process_cdr(None, orjson.dumps(seed_cdr(account="", did="37052000001", device={"sip_user": "x"})), SOURCE,
                      book, RATED_AT)
    assert out.rated and orjson.loads(out.value)["account"] == ""


def test_a_segment_is_part_of_the_key_and_of_the_record(book):
    cdr = CdrIn.model_validate({**BASE, "account": "u1", "segment": 2})
    assert (cdr.segment, cdr.call_key, cdr.hold_key) == ("2", "ast1/c1/2", "ast1/c1")
    assert CdrIn.model_validate({**BASE, "account": "u1", "segment": " "}).segment is None
    with pytest.raises(ValidationError, match="segment"):
        CdrIn.model_validate({**BASE, "account": "u1", "segment": "x" * 300})
    out = process_cdr(None, orjson.dumps(seed_cdr(segment="3")), SOURCE, book, RATED_AT)
    assert out.key == b"ast1/1732528800.42/3" and orjson.loads(out.value)["segment"] == "3"
    whole = process_cdr(None, orjson.dumps(seed_cdr()), SOURCE, book, RATED_AT)
    assert whole.key == b"ast1/1732528800.42" and orjson.loads(whole.value)["segment"] == ""


ids = st.text(st.sampled_from("ab/%2F5"), max_size=5)


@given(ids, ids, ids, ids, ids, ids)
def test_two_segments_share_a_key_only_when_they_are_the_same_segment(server1, call1, seg1, server2, call2, seg2):
    if call_key(server1, call1, seg1) == call_key(server2, call2, seg2):
        assert (server1, call1, seg1) == (server2, call2, seg2)
    assert call_key(server1, call1, seg1).count("/") == 2


@given(ids, ids.filter(lambda c: "/" not in c), ids, ids, ids)
def test_a_segmented_key_never_spells_an_unsegmented_one_without_a_slash_in_its_call_id(server, call, seg,
                                                                                        server2, call2):
    assert call_key(server, call) != call_key(server2, call2, seg)
