"""An Avro CDR (cdr.v1.avsc), plain or Confluent-framed, is rated exactly like its JSON twin."""
import struct

import orjson
import pytest

from pipeline.cdr.process import process_cdr
from pipeline.schemas import avro, wire
from tests.unit.cdr.sample_book import RATED_AT, SOURCE, seed_cdr

CONFLUENT_ID = 42


def avro_twin(cdr: dict) -> dict:
    """The Avro form: start_time is a string there, absent optionals are null."""
    fields = [f["name"] for f in avro.schema("cdr.v1")["fields"]]
    return {name: (str(cdr[name]) if name == "start_time" else cdr.get(name)) for name in fields}


def framed(body: bytes) -> bytes:
    return bytes([avro.CONFLUENT_MAGIC]) + struct.pack(">I", CONFLUENT_ID) + body


@pytest.mark.parametrize("frame", [lambda body: body, framed], ids=["plain", "confluent"])
@pytest.mark.parametrize("changes", [{}, {"start_time": 1795600800, "billsec": 95}, {"billsec": 0}],
                         ids=["seed", "epoch-start", "unanswered"])
def test_avro_cdr_is_rated_like_its_json_twin(book, frame, changes):
    cdr = seed_cdr(**changes)
    from_json = process_cdr(b"k", orjson.dumps(cdr), SOURCE, book, RATED_AT)
    from_avro = process_cdr(b"k", frame(avro.encode("cdr.v1", avro_twin(cdr))), SOURCE, book, RATED_AT)
    assert from_json.rated and from_avro.rated
    assert (from_avro.key, from_avro.value) == (from_json.key, from_json.value)


def test_avro_cdr_with_unknown_account_is_rejected_not_bad_avro(book):
    payload = avro.encode("cdr.v1", avro_twin(seed_cdr(account="nobody")))
    assert process_cdr(None, payload, SOURCE, book, RATED_AT).reason == "unknown_account"


def test_truncated_avro_cdr_is_bad_avro(book):
    payload = avro.encode("cdr.v1", avro_twin(seed_cdr()))
    assert process_cdr(None, payload[:20], SOURCE, book, RATED_AT).reason == "bad_avro"


@pytest.mark.parametrize("call_id", ["1732528800.123456", "a" * 24, "12345"],
                         ids=["len17-quote", "len24-digit", "len5-newline"])
def test_avro_cdr_is_read_whatever_the_length_of_its_call_id(book, call_id):
    payload = avro.encode("cdr.v1", avro_twin(seed_cdr(call_id=call_id)))
    out = process_cdr(None, payload, SOURCE, book, RATED_AT)
    assert out.rated, out.value
    assert wire.decode("rated_call.v1", out.value)["call_id"] == call_id
