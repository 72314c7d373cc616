"""An issuer's details are validated with errors that name the field and the rule."""
from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from pipeline.invoices.issuer import IssuerDetails

VALID = {"account": "r1", "company": "Reseller One Ltd", "number_prefix": "R1-A"}


def test_defaults_and_a_json_round_trip_keep_decimal_percents_exact():
    details = IssuerDetails(**VALID, taxes=[{"name": "VAT", "percent": "21.5"}], address="Line 1\nLine 2")
    assert details.timezone == "UTC" and details.address == "Line 1\nLine 2"
    again = IssuerDetails.model_validate_json(details.model_dump_json())
    assert again == details and again.taxes[0].percent == Decimal("21.5")


def test_details_are_frozen():
    with pytest.raises(ValidationError):
        IssuerDetails(**VALID).company = "Other"


@pytest.mark.parametrize("change, field, words", [
    ({"number_prefix": "r1"}, "number_prefix", "A-Z"),
    ({"number_prefix": "ABCDEFGHIJKLM"}, "number_prefix", "1 to 12"),
    ({"number_prefix": ""}, "number_prefix", "1 to 12"),
    ({"timezone": "Europe/Atlantis"}, "timezone", "IANA"),
    ({"email": "billing.example.com"}, "email", "e-mail"),
    ({"taxes": [{"name": "VAT", "percent": "22.12345"}]}, "taxes.0.percent", "4 decimal"),
    ({"taxes": [{"name": "VAT", "percent": "100.5"}]}, "taxes.0.percent", "less than or equal to 100"),
    ({"taxes": [{"name": "VAT", "percent": "-1"}]}, "taxes.0.percent", "greater than or equal to 0"),
    ({"taxes": [{"name": "VAT", "percent": "1"}, {"name": "VAT", "percent": "2"}]}, "taxes", "distinct"),
    ({"company": ""}, "company", "at least 1"),
    ({"colour": "red"}, "colour", "Extra inputs"),
])
def test_bad_details_are_refused_naming_the_field_and_rule(change, field, words):
    with pytest.raises(ValidationError) as caught:
        IssuerDetails(**{**VALID, **change})
    [error] = caught.value.errors()
    assert ".".join(map(str, error["loc"])) == field
    assert words in error["msg"]
