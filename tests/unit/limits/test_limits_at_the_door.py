"""Every limit of the ClickHouse storage is enforced where data enters, with a reason naming it
at the door: CDR decode, reference records (JSON and CSV alike)."""
from decimal import Decimal

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from pipeline.cdr.decode import CdrError, decode_cdr
from pipeline.rating import tariff_index
from pipeline.reference.csv_rates import RateFileError, load_rates_csv
from pipeline.schemas import field_rules, limits
from pipeline.schemas.reference import AccountIn, RateIn
from pipeline.sinks.rows import MONEY_PLACES, RATE_PLACES, RowError, _decimal, _time, _uint32

CDR = {"call_id": "c1", "server_id": "ast1", "account": "u1", "dst": "37052123456",
       "start_time": "2026-11-25T10:00:00Z", "billsec": 60}


def schema_error(**changes) -> str:
    with pytest.raises(CdrError) as caught:
        decode_cdr(orjson.dumps({**CDR, **changes}))
    assert caught.value.reason == "schema"
    return caught.value.detail


@pytest.mark.parametrize("field", ["billsec", "duration"])
def test_seconds_past_uint32_are_refused_naming_field_and_rule(field):
    assert decode_cdr(orjson.dumps({**CDR, field: 2**32 - 1})).model_dump()[field] == 2**32 - 1
    detail = schema_error(**{field: 2**32})
    assert detail.startswith(f"{field}: must be < 2^32")
    assert "UInt32" in schema_error(**{field: 10**19})


@pytest.mark.parametrize("field", ["start_time", "answer_time", "end_time"])
@pytest.mark.parametrize("moment", [
    "1969-12-31T23:59:59Z", "2106-01-01T00:00:00Z", -1, "9999-12-31T23:00:00-05:00", "0001-01-01T00:00:00+05:00",
])
def test_times_outside_the_datetime_range_are_refused_naming_field_and_rule(field, moment):
    detail = schema_error(**{field: moment})
    assert detail.startswith(f"{field}: must be from 1970-01-01 to the end of 2105 UTC")


def test_times_at_the_edges_of_the_range_are_taken_and_stored():
    for moment in ("1970-01-01T00:00:00Z", "2105-12-31T23:59:59Z", "2105-12-31T23:59:59.999999Z"):
        cdr = decode_cdr(orjson.dumps({**CDR, "start_time": moment}))
        assert _time("start_time", cdr.start_time) >= 0  # the row mapper takes it


def test_the_prefix_limit_is_the_index_limit():
    assert limits.MAX_PREFIX_LENGTH == tariff_index.MAX_NUMBER_LENGTH


@pytest.mark.parametrize("fields, rule", [
    ({"rate": "0.0000000001"}, "a rate has more than 9 decimal places"),
    ({"rate": "1000000000"}, "a rate must be below 1,000,000,000"),
    ({"connection_fee": "1000000000"}, "a rate must be below 1,000,000,000"),
    ({"connection_fee": "0.1234567891"}, "a rate has more than 9 decimal places"),
    ({"rate": "1E+3"}, "written in the digits 0-9 with no exponent"),
    ({"rate": "1E+1000000"}, "written in the digits 0-9 with no exponent"),
    ({"rate": "１２"}, "written in the digits 0-9 with no exponent"),
    ({"rate": "1_000"}, "written in the digits 0-9 with no exponent"),
    ({"rate": "NaN"}, "must be a decimal number >= 0"),
    ({"rate": "1.0000000000000000000000000000"}, "more than 28 significant digits"),
    ({"prefix": "1" * 41}, "a prefix has at most 40 digits"),
    ({"effective_from": "2026-01-01T00:00:00.5Z"}, "must be a whole second"),
    ({"effective_from": "0001-01-01T00:00:00+01:00"}, "in the years 1-9999 in UTC"),
    ({"increment": 2**32}, "must be a whole number <= 4294967295"),
    ({"min_time": "99999999999999999999999"}, "must be a whole number <= 4294967295"),
])
def test_rates_past_the_storage_are_refused_from_json_and_csv_alike(tmp_path, fields, rule):
    rate = {"prefix": "370", "rate": "1", **fields}
    with pytest.raises(ValidationError, match=rule):
        RateIn(**rate)
    path = tmp_path / "rates.csv"
    path.write_text(",".join(rate) + "\n" + ",".join(str(v) for v in rate.values()) + "\n", encoding="utf-8")
    with pytest.raises(RateFileError, match=rule):
        load_rates_csv(path)


def test_the_largest_rates_the_storage_holds_are_taken():
    rate = RateIn(prefix="1" * 40, rate="999999999.999999999", connection_fee="999999999.999999999",
                  increment=2**32 - 1, min_time=2**32 - 1, effective_from="2026-01-01T00:00:00Z")
    assert _decimal("user_rate", str(rate.rate), RATE_PLACES) == rate.rate


@pytest.mark.parametrize("credit_limit, rule", [
    ("0.0000001", "money has more than 6 decimal places"),
    ("1000000000000", "money must be below 1,000,000,000,000"),
])
def test_credit_limit_fits_its_decimal_18_6_mirror(credit_limit, rule):
    with pytest.raises(ValidationError, match=rule):
        AccountIn(id="u1", type="user", credit_limit=credit_limit)
    assert AccountIn(id="u1", type="user", credit_limit="999999999999.999999").credit_limit < limits.MONEY_BELOW


@pytest.mark.parametrize("rule, places", [(field_rules.rate_money, RATE_PLACES), (field_rules.money, MONEY_PLACES)])
@given(value=st.decimals(allow_nan=True, allow_infinity=True) | st.text(max_size=40) | st.integers())
def test_any_amount_the_door_takes_the_row_mapper_takes(rule, places, value):
    try:
        amount = rule(value if not isinstance(value, Decimal) else str(value))
    except ValueError:
        return
    assert _decimal("column", str(amount), places) == amount


@given(st.integers(min_value=-(2**70), max_value=2**70))
def test_any_billsec_the_door_takes_the_row_mapper_takes(billsec):
    try:
        cdr = decode_cdr(orjson.dumps({**CDR, "billsec": billsec}) if abs(billsec) < 2**63
                         else orjson.dumps(CDR).replace(b'"billsec":60', f'"billsec":{billsec}'.encode()))
    except CdrError as error:
        assert error.reason == "schema" and "billsec" in error.detail
        with pytest.raises(RowError):
            _uint32("billsec", billsec)
        return
    assert _uint32("billsec", cdr.billsec) == billsec
