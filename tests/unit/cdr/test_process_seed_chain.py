"""process_cdr on the seed example: one rated record, keyed by the call, with every leg priced."""
from datetime import datetime, timezone

import orjson
from fastavro.validation import validate

from pipeline.cdr.process import process_cdr
from pipeline.schemas import avro, wire
from tests.unit.cdr.sample_book import RATED_AT, SOURCE, seed_cdr


def rate(book, fmt="json", **changes):
    out = process_cdr(b"any-key", orjson.dumps(seed_cdr(**changes)), SOURCE, book, RATED_AT, fmt)
    assert out.rated, out.value
    return out, wire.decode("rated_call.v1", out.value)


def test_seed_call_prices_every_level_and_both_profits(book):
    out, record = rate(book)
    assert out.key == b"ast1/1732528800.42" and out.reason == ""
    assert (record["user_price"], record["reseller_price"], record["provider_price"]) == \
        ("2.000000", "1.200000", "0.300000")
    assert (record["admin_profit"], record["reseller_profit"]) == ("0.900000", "0.800000")
    assert (record["user_tariff"], record["reseller_tariff"], record["provider_tariff"]) == \
        ("t-r1-retail", "t-r-buy", "t-p1")
    assert (record["user_prefix"], record["reseller_prefix"], record["provider_prefix"]) == ("370", "370", "370")
    assert record["user_billed_seconds"] == record["reseller_billed_seconds"] == 60
    assert (record["account"], record["reseller"], record["provider"], record["currency"], record["loss"]) == \
        ("u1", "r1", "p1", "EUR", False)


def test_rated_record_carries_the_call_as_received(book):
    _, record = rate(book, dst="+370 5212-3456", start_time="2026-11-25T12:00:00+02:00", billsec=61)
    assert record["dst"] == "37052123456"
    assert record["start_time"] == datetime(2026, 11, 25, 10, 0, tzinfo=timezone.utc)
    assert record["rated_at"] == RATED_AT  # 10:00:01.500, whole milliseconds survive the wire
    assert (record["billsec"], record["disposition"], record["src"]) == (61, "ANSWERED", "37052000001")
    assert record["user_price"] == "2.033333"  # increment 1: 61 s at 2/min, half-up to 6 places


def test_unknown_cdr_fields_travel_as_extra_json(book):
    _, record = rate(book, userfield="vip", linkedid=7)
    assert orjson.loads(record["extra"]) == {"userfield": "vip", "linkedid": 7}


def test_unanswered_call_is_rated_at_zero_and_debits_nothing(book):
    _, record = rate(book, billsec=0)
    assert record["disposition"] == "NO ANSWER"
    assert record["user_price"] == record["reseller_price"] == record["provider_price"] == "0.000000"
    assert record["admin_profit"] == record["reseller_profit"] == "0.000000"


def test_call_without_provider_has_an_empty_provider_leg(book):
    cdr = seed_cdr()
    del cdr["provider"]
    out = process_cdr(None, orjson.dumps(cdr), SOURCE, book, RATED_AT)
    record = wire.decode("rated_call.v1", out.value)
    assert (record["provider"], record["provider_tariff"], record["provider_price"]) == ("", "", "0")
    assert record["admin_profit"] == "1.200000"  # the admin's cost is unknown, so the whole reseller price


def test_avro_output_decodes_to_the_same_record_as_json_output(book):
    _, from_json = rate(book, "json")
    out, from_avro = rate(book, "avro")
    assert out.value[:1] != b"{"
    assert from_avro == from_json


def test_rated_record_validates_against_rated_call_schema(book):
    _, record = rate(book, userfield="vip")
    assert validate(record, avro.schema("rated_call.v1"), raise_errors=True)
