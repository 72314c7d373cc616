"""Destination names for invoice lines from the raw ref.tariffs values."""
from __future__ import annotations

import orjson
from hypothesis import given
from hypothesis import strategies as st

from pipeline.invoices.destinations import destination_names, names_of_tariff
from pipeline.schemas.reference import RateIn, TariffIn


def value(rates: list[dict]) -> bytes:
    tariff = TariffIn(id="t1", rates=[RateIn.model_validate(rate) for rate in rates])
    return orjson.dumps(tariff.model_dump(mode="json"))  # as `ref apply` and the API publish it


def test_the_newest_version_that_names_a_prefix_wins_and_unnamed_prefixes_are_absent():
    names = names_of_tariff(value([
        {"prefix": "39", "rate": "0.1", "destination": "Italy"},
        {"prefix": "39", "rate": "0.2", "destination": "Italy fixed", "effective_from": "2026-06-01T00:00:00Z"},
        {"prefix": "393", "rate": "0.3", "destination": "  Italy mobile  "},
        {"prefix": "44", "rate": "0.1"},
    ]))
    assert names == {"39": "Italy fixed", "393": "Italy mobile"}


def test_tombstones_and_values_that_are_not_tariffs_forget_names():
    named = value([{"prefix": "1", "rate": "0.01", "destination": "NANP"}])
    messages = [(b"t1", named), (b"t2", named), (b"t1", None), (b"t3", b"not json"), (b"t4", b"[1, 2]")]
    assert destination_names(messages) == {"t2": {"1": "NANP"}}


@given(st.binary(max_size=300))
def test_any_bytes_on_the_topic_give_names_or_nothing_never_an_exception(data):
    names = names_of_tariff(data)
    assert isinstance(names, dict) and all(isinstance(k, str) and isinstance(v, str) and v for k, v in names.items())


json_values = st.recursive(st.none() | st.booleans() | st.integers(-2**63, 2**63 - 1) | st.text(max_size=8),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                           max_leaves=20)


@given(st.lists(st.dictionaries(st.sampled_from(["prefix", "destination", "effective_from", "rate"]), json_values,
                                max_size=4), max_size=5))
def test_rates_of_any_shape_are_read_without_an_exception(rates):
    names = names_of_tariff(orjson.dumps({"kind": "tariff", "id": "t", "rates": rates}))
    assert set(names) <= {r.get("prefix") for r in rates if isinstance(r.get("prefix"), str)}
