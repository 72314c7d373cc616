"""A rejection (and a dead letter) is well under the 1 MB a topic takes, whatever it copies:
the payload is cut to MAX_COPIED_PAYLOAD with a marker and the sha256 of the whole."""
import base64
import hashlib

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.cdr.process import MAX_COPIED_PAYLOAD, MAX_REJECTION_BYTES, Source, dead_letter, process_cdr, rejection
from tests.unit.cdr.sample_book import RATED_AT, SOURCE, seed_cdr

ONE_MB = 1024 * 1024


def size(out) -> int:
    return len(out.value) + len(out.key or b"")


@pytest.mark.parametrize("payload, reason, encoding", [
    (b"\x00" * ONE_MB, "bad_avro", "utf-8"),  # NUL is text: 6 bytes each as JSON ("\u0000")
    (b"\xff" * 800_000, "bad_avro", "base64"),
    (b'{"call_id": "' + b"\x01" * ONE_MB + b'"}', "bad_json", "utf-8"),
])
def test_a_huge_payload_is_cut_with_a_marker_and_the_hash_of_the_whole(book, payload, reason, encoding):
    out = process_cdr(b"k", payload, SOURCE, book, RATED_AT)
    body = orjson.loads(out.value)
    assert (out.rated, body["reason"], body["payload_encoding"]) == (False, reason, encoding)
    assert size(out) < MAX_REJECTION_BYTES < ONE_MB // 2 + 1
    assert body["payload_truncated"] is True and body["payload_size"] == len(payload)
    assert body["payload_sha256"] == hashlib.sha256(payload).hexdigest()
    copied = base64.b64decode(body["payload"]) if encoding == "base64" else body["payload"].encode()
    assert copied == payload[:MAX_COPIED_PAYLOAD]
    assert len(body["detail"]) <= 4000


def test_a_schema_error_on_a_huge_field_does_not_echo_it(book):
    payload = orjson.dumps(seed_cdr(dst="x" * 900_000, account="y" * 50_000))
    out = process_cdr(b"k", payload, SOURCE, book, RATED_AT)
    body = orjson.loads(out.value)
    assert body["reason"] == "schema" and "dst" in body["detail"] and len(body["detail"]) < 1000
    assert size(out) < MAX_REJECTION_BYTES


def test_a_small_payload_is_copied_whole_without_a_marker(book):
    out = process_cdr(b"k", b"[1]", SOURCE, book, RATED_AT)
    body = orjson.loads(out.value)
    assert body["payload"] == "[1]" and "payload_truncated" not in body and "payload_sha256" not in body


def test_a_cut_inside_a_character_keeps_the_copy_text():
    payload = b"a" * (MAX_COPIED_PAYLOAD - 1) + "é".encode() * 10  # the cut splits the first é
    body = orjson.loads(rejection(None, payload, SOURCE, "bad_json", "x").value)
    assert body["payload_encoding"] == "utf-8" and body["payload"] == "a" * (MAX_COPIED_PAYLOAD - 1)


def test_a_dead_letter_is_a_rejection_with_its_stage():
    payload = b'{"id": "x", "account": "u1", "amount": "1E+1000000"}'
    source = Source("balance.payments", 5, 42)
    letter = orjson.loads(dead_letter(b"u1", payload, source, "bad_payment", "too big", stage="balance").value)
    plain = orjson.loads(rejection(b"u1", payload, source, "bad_payment", "too big").value)
    assert letter == {**plain, "stage": "balance"}
    assert (letter["topic"], letter["partition"], letter["offset"]) == ("balance.payments", 5, 42)


# a payload of up to ~1.5 MB built from a short pattern, so hypothesis need not draw megabytes
big_bytes = st.tuples(st.binary(min_size=1, max_size=8), st.integers(0, 200_000)).map(lambda pair: pair[0] * pair[1])
big_text = st.tuples(st.text(min_size=1, max_size=4), st.integers(0, 300_000)).map(lambda pair: pair[0] * pair[1])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(key=st.none() | big_bytes, payload=st.none() | big_bytes, detail=big_text, reason=big_text,
       stage=st.none() | big_text)
def test_any_rejection_or_dead_letter_is_well_under_a_megabyte(key, payload, detail, reason, stage):
    if stage is None:
        out = rejection(key, payload, SOURCE, reason, detail)
    else:
        out = dead_letter(key, payload, SOURCE, reason, detail, stage)
    assert size(out) < MAX_REJECTION_BYTES
    body = orjson.loads(out.value)
    assert body["payload_encoding"] in ("utf-8", "base64")
    assert ("payload_truncated" in body) == (payload is not None and len(payload) > MAX_COPIED_PAYLOAD)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payload=big_bytes)
def test_any_payload_through_process_cdr_gives_a_small_rejection(book, payload):
    out = process_cdr(b"k", payload, SOURCE, book, RATED_AT)
    assert out.rated or size(out) < MAX_REJECTION_BYTES
