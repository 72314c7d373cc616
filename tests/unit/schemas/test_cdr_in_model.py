"""CdrIn, the CDR JSON of docs/contract.md: what it accepts, normalises and refuses."""
from datetime import datetime, timezone

import pytest
from pydantic import ValidationError

from pipeline.schemas.cdr import CdrIn

REQUIRED = {"call_id": "c1", "server_id": "ast1", "account": "u1", "dst": "37061234567",
            "start_time": "2026-11-25T10:00:00Z", "billsec": 60}
TEN_UTC = datetime(2026, 11, 25, 10, 0, tzinfo=timezone.utc)


def cdr(**changes) -> CdrIn:
    return CdrIn.model_validate({**REQUIRED, **changes})


def test_dst_keeps_only_digits():
    assert cdr(dst="+370 (612) 345-67").dst == "37061234567"


@pytest.mark.parametrize("start", ["2026-11-25T12:00:00+02:00", "2026-11-25T10:00:00Z", "2026-11-25T10:00:00",
                                   1795600800, "1795600800"])
def test_start_time_iso_with_offset_or_epoch_seconds_is_utc(start):
    moment = cdr(start_time=start).start_time
    assert moment == TEN_UTC and moment.utcoffset().total_seconds() == 0


@pytest.mark.parametrize("field, value", [("billsec", -1), ("duration", -1), ("dst", " - "), ("dst", ""),
                                          ("call_id", " "), ("server_id", ""), ("account", "\t"),
                                          ("start_time", "yesterday"), ("billsec", 1.5)])
def test_invalid_field_is_refused_and_named(field, value):
    with pytest.raises(ValidationError) as caught:
        cdr(**{field: value})
    assert [e["loc"][0] for e in caught.value.errors()] == [field]


@pytest.mark.parametrize("missing", sorted(REQUIRED))
def test_every_required_field_is_required(missing):
    obj = dict(REQUIRED)
    del obj[missing]
    with pytest.raises(ValidationError):
        CdrIn.model_validate(obj)


@pytest.mark.parametrize("billsec, given, expected, answered", [
    (60, None, "ANSWERED", True), (0, None, "NO ANSWER", False), (60, "busy", "BUSY", False),
    (0, "ANSWERED", "ANSWERED", False), (5, "answered", "ANSWERED", True),
])
def test_disposition_defaults_from_billsec_and_is_upper_case(billsec, given, expected, answered):
    call = cdr(billsec=billsec, **({} if given is None else {"disposition": given}))
    assert (call.disposition, call.answered) == (expected, answered)


def test_unknown_fields_are_kept_as_extra_and_known_ones_are_not():
    call = cdr(userfield="x", linkedid="1.2", provider="p1")
    assert call.extra_fields() == {"userfield": "x", "linkedid": "1.2"}
    assert call.provider == "p1"


def test_call_key_is_server_slash_call_id():
    assert cdr(server_id="ast2", call_id="17.3").call_key == "ast2/17.3"


def test_optional_fields_default():
    call = cdr()
    assert (call.src, call.provider, call.did, call.answer_time, call.duration) == ("", None, None, None, None)


def test_non_ascii_digits_are_not_dialled_digits():
    # not a number: kept as a code, which only an explicit code rate prices (not_a_number otherwise)
    assert cdr(dst="٣٧٠٦١٢٣٤٥٦٧").dst == "٣٧٠٦١٢٣٤٥٦٧"


def test_boolean_billsec_is_refused():
    with pytest.raises(ValidationError):
        CdrIn.model_validate_json(b'{"call_id":"c","server_id":"s","account":"u1","dst":"370",'
                                  b'"start_time":"2026-11-25T10:00:00Z","billsec":true}')
