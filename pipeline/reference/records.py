"""Every kind of reference record (docs/contract.md "Reference data") and the one parser for them.

Each kind's model is in pipeline/schemas: reference.py (the kinds rating prices with), alerts.py,
cards.py, devices.py; each kind's write rules are in this package (ownership.py and its *_rules.py).
"""
from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, TypeAdapter

from pipeline.schemas.alerts import AlertIn
from pipeline.schemas.cards import CardGroupIn, CardIn
from pipeline.schemas.devices import DeviceIn
from pipeline.schemas.reference import AccountIn, DidIn, HolidaysIn, ProviderIn, TariffIn

Record = AccountIn | TariffIn | ProviderIn | DidIn | HolidaysIn | AlertIn | CardGroupIn | CardIn | DeviceIn
KINDS = ("account", "tariff", "provider", "did", "holidays", "alert", "card_group", "card", "device")

ReferenceRecord = Annotated[
    TariffIn | AccountIn | ProviderIn | DidIn | HolidaysIn | AlertIn | CardGroupIn | CardIn | DeviceIn,
    Field(discriminator="kind")
]
_record_adapter: TypeAdapter[ReferenceRecord] = TypeAdapter(ReferenceRecord)


def parse_reference_record(obj: Any) -> (TariffIn | AccountIn | ProviderIn | DidIn | HolidaysIn | AlertIn
                                         | CardGroupIn | CardIn | DeviceIn):
    """One record from a decoded JSON object; raises pydantic.ValidationError."""
    return _record_adapter.validate_python(obj)
