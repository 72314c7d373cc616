"""The rating engine: pure functions and frozen models that price a call at every level.

No Kafka, Faust or ClickHouse here; the streaming agents feed a ReferenceBook from the ref topics
and call rate_call per CDR. See DOMAIN.md "The billing chain" and "Pricing one call at one level".
"""
from pipeline.rating.book import ReferenceBook
from pipeline.rating.chain import CallToRate, Leg, NotRated, RatedCall, rate_call
from pipeline.rating.csv_rates import RateFileError, load_rates_csv, resolve_rates_csv
from pipeline.rating.pricing import LegPrice, billed_seconds, price_leg
from pipeline.rating.reference import (AccountIn, DidIn, HolidaysIn, ProviderIn, RateIn, ReferenceRecord,
                                       TariffIn, parse_reference_record)
from pipeline.rating.tariff_index import RateMatch, TariffIndex

__all__ = [
    "AccountIn", "CallToRate", "DidIn", "HolidaysIn", "Leg", "LegPrice", "NotRated", "ProviderIn", "RateFileError",
    "RateIn", "RateMatch", "RatedCall", "ReferenceBook", "ReferenceRecord", "TariffIn", "TariffIndex",
    "billed_seconds", "load_rates_csv", "parse_reference_record", "price_leg", "rate_call", "resolve_rates_csv",
]
