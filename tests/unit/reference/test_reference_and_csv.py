"""Reference records (docs/contract.md "Reference data") and rates from CSV: the same rules, the same words."""
from datetime import datetime, time, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

from pipeline.reference.csv_rates import RateFileError, load_rates_csv, resolve_rates_csv
from pipeline.reference.records import parse_reference_record
from pipeline.schemas.reference import AccountIn, DidIn, HolidaysIn, RateIn, TariffIn

FIXTURES = Path(__file__).parents[2] / "fixtures" / "tariffs"


def test_contract_examples_parse_with_their_defaults():
    rate = parse_reference_record({"kind": "tariff", "id": "t", "rates": [{"prefix": "370", "rate": "2"}]}).rates[0]
    assert (rate.connection_fee, rate.increment, rate.min_time, rate.grace_time, rate.day_type) == (0, 1, 0, 0, "all")
    assert (rate.start, rate.end, rate.effective_from) == (time(0), time(23, 59, 59), datetime(1970, 1, 1, tzinfo=timezone.utc))
    user = parse_reference_record({"kind": "account", "id": "u1", "type": "user", "credit_limit": "50"})
    assert (user.parent, user.credit_limit, user.billing) == ("admin", Decimal("50"), "prepaid")
    assert parse_reference_record({"kind": "account", "id": "admin", "type": "admin"}).parent is None
    assert isinstance(parse_reference_record({"kind": "did", "number": "37052000001"}), DidIn)
    assert parse_reference_record({"kind": "holidays", "dates": ["2026-12-24"]}) == HolidaysIn(dates=("2026-12-24",))


@pytest.mark.parametrize(
    "rate_fields, message",
    [
        ({"prefix": "370", "rate": 0.1}, "money must be a decimal string"),
        ({"prefix": "370", "rate": "-1"}, "must be a decimal number >= 0"),
        ({"prefix": "370", "rate": "NaN"}, "must be a decimal number >= 0"),
        ({"prefix": "+370", "rate": "1"}, "must be a string of digits"),
        ({"prefix": "370", "rate": "1", "increment": 0}, "must be a whole number >= 1"),
        ({"prefix": "370", "rate": "1", "day_type": "weekend"}, 'must be one of "WD", "FD", "all"'),
        ({"prefix": "370", "rate": "1", "start": "22:00:00", "end": "06:00:00"}, "split a window"),
        ({"prefix": "370", "rate": "1", "colour": "red"}, "Extra inputs are not permitted"),
    ],
)
def test_bad_rates_are_refused_with_the_rule(rate_fields, message):
    with pytest.raises(ValidationError, match=message):
        RateIn(**rate_fields)


def test_integer_money_is_exact_and_naive_times_are_utc():
    rate = RateIn(prefix="370", rate=2, effective_from="2026-01-01T00:00:00")
    assert rate.rate == Decimal(2) and rate.effective_from.tzinfo is not None
    assert RateIn(prefix="1", rate="1", effective_from="2026-01-01T02:00:00+02:00").effective_from == \
        datetime(2026, 1, 1, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"id": "t", "timezone": "Mars/Olympus"}, "IANA time zone"),
        ({"id": "t", "decimals": 7}, "less than or equal to 6"),
        ({"id": "t", "rates_csv": "a.csv", "rates": [{"prefix": "1", "rate": "1"}]}, "not both"),
        ({"id": "t", "rates": [{"prefix": "1", "rate": "1"}, {"prefix": "1", "rate": "2"}]}, "repeats prefix"),
    ],
)
def test_bad_tariffs_are_refused(fields, message):
    with pytest.raises(ValidationError, match=message):
        TariffIn(**fields)


def test_admin_with_a_parent_is_refused():
    with pytest.raises(ValidationError, match="admin account has no parent"):
        AccountIn(id="admin", type="admin", parent="r1")
    with pytest.raises(ValidationError, match="kind"):
        parse_reference_record({"kind": "planet", "id": "x"})


def test_csv_rows_equal_validated_rates():
    loaded = load_rates_csv(FIXTURES / "peak_offpeak" / "rates.csv")
    validated = [RateIn(**rate.model_dump()) for rate in loaded]
    assert list(loaded) == validated
    assert [list(rate.__dict__) for rate in loaded] == [list(rate.__dict__) for rate in validated]
    assert loaded[0].model_dump_json() == validated[0].model_dump_json()
    with pytest.raises(ValidationError):  # frozen like every model
        loaded[0].rate = Decimal(1)  # type: ignore[misc]


@pytest.mark.parametrize("bad_file", sorted((FIXTURES / "bad_files").glob("*.csv")), ids=lambda path: path.stem)
def test_csv_errors_name_line_and_column(bad_file):
    expected = bad_file.with_suffix(".expected.txt").read_text().strip()
    with pytest.raises(RateFileError) as caught:
        load_rates_csv(bad_file)
    assert str(caught.value) == expected


def test_resolve_rates_csv_reads_relative_to_the_reference_file():
    tariff = TariffIn(id="t-p1", rates_csv="provider.csv")
    resolved = resolve_rates_csv(tariff, FIXTURES / "seed_chain")
    assert resolved.rates_csv is None and resolved.rates == (RateIn(prefix="370", rate="0.3"),)


def test_csv_with_only_a_header_has_no_rates(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("prefix,rate\n")
    assert load_rates_csv(path) == ()
