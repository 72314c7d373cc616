"""Every bad input ends as exactly one rejection with a machine-readable reason and the original bytes."""
import base64

import orjson
import pytest

from devkit.sample_cdrs import bad_messages
from pipeline.cdr.process import REJECT_REASONS, process_cdr
from tests.unit.cdr.sample_book import RATED_AT, SOURCE, seed_cdr

BAD = bad_messages("t")


@pytest.mark.parametrize("reason, payload", BAD, ids=[f"{r}-{i}" for i, (r, _) in enumerate(BAD)])
def test_each_bad_message_kind_gets_its_reason(book, reason, payload):
    out = process_cdr(b"k", payload, SOURCE, book, RATED_AT)
    body = orjson.loads(out.value)
    assert (out.rated, out.reason, body["reason"]) == (False, reason, reason)
    assert body["payload"] == payload.decode() and body["payload_encoding"] == "utf-8"
    assert body["detail"]


def test_rejection_keeps_the_key_and_the_source_position(book):
    out = process_cdr(b"the-key", b"[1]", SOURCE, book, RATED_AT)
    body = orjson.loads(out.value)
    assert out.key == b"the-key"
    assert (body["topic"], body["partition"], body["offset"]) == ("cdr.raw", 3, 1207)


def test_non_utf8_garbage_is_bad_avro_with_base64_payload(book):
    garbage = b"\xff\xfe\x80garbage\x00\x01"
    body = orjson.loads(process_cdr(None, garbage, SOURCE, book, RATED_AT).value)
    assert body["reason"] == "bad_avro" and body["payload_encoding"] == "base64"
    assert base64.b64decode(body["payload"]) == garbage


@pytest.mark.parametrize("payload", [None, b""])
def test_missing_value_is_empty(book, payload):
    out = process_cdr(None, payload, SOURCE, book, RATED_AT)
    assert (out.rated, out.reason) == (False, "empty")


@pytest.mark.parametrize("changes, reason, field", [
    ({"billsec": -1}, "schema", "billsec"),
    ({"dst": " () "}, "schema", "dst"),
    ({"dst": "no digits"}, "not_a_number", "no digits"),  # a name: only a code rate prices it
    ({"account": "  "}, "schema", "account"),
    ({"start_time": None}, "schema", "start_time"),
    ({"account": "r1-nobody"}, "unknown_account", "r1-nobody"),
])
def test_detail_names_the_offending_field(book, changes, reason, field):
    body = orjson.loads(process_cdr(None, orjson.dumps(seed_cdr(**changes)), SOURCE, book, RATED_AT).value)
    assert body["reason"] == reason and field in body["detail"]


def test_missing_required_field_is_schema(book):
    cdr = seed_cdr()
    del cdr["server_id"]
    body = orjson.loads(process_cdr(None, orjson.dumps(cdr), SOURCE, book, RATED_AT).value)
    assert body["reason"] == "schema" and "server_id" in body["detail"]


def test_every_reason_used_is_a_declared_one():
    assert {reason for reason, _ in BAD} <= set(REJECT_REASONS)


def test_json_array_with_nan_is_not_an_object(book):
    out = process_cdr(None, b"[NaN]", SOURCE, book, RATED_AT)
    assert out.reason == "not_an_object"
