"""The API's reference book: the rating book plus the destination names of tariffs' rates.

Rating never reads a rate's `destination` ("Italy mobile"), so the book every worker keeps compiles
it away (pipeline/rating/tariff_index.py). The API shows and searches rates by name, and writes a
tariff back whole when one rate changes (rate_service.py): it must know every version's name, or
that write would drop them. So the API's book keeps them beside the index, per version (prefix,
effective_from, day type, window), only for tariffs whose rates name any.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping

from pipeline.reference.book import ReferenceBook
from pipeline.schemas import field_rules
from pipeline.schemas.reference import RateIn, TariffIn

NameKey = tuple[str, int, str, int, int]  # prefix, then CompiledRate.version_key()
_NONE: Mapping[NameKey, str] = {}


def _seconds(moment) -> int:
    return moment.hour * 3600 + moment.minute * 60 + moment.second


def name_key(rate: RateIn) -> NameKey:
    """The key a rate's compiled version is found by: (prefix, *CompiledRate.version_key())."""
    return (rate.prefix, field_rules.epoch_seconds(rate.effective_from), rate.day_type, _seconds(rate.start),
            _seconds(rate.end))


def _names(rates: Iterable[RateIn]) -> dict[NameKey, str]:
    return {name_key(rate): rate.destination for rate in rates if rate.destination}


class DestinationBook(ReferenceBook):
    def __init__(self) -> None:
        self._destinations: dict[str, dict[NameKey, str]] = {}  # set before the base applies the admin
        super().__init__()

    def apply(self, record) -> None:
        super().apply(record)
        if isinstance(record, TariffIn):
            self._put(record.id, _names(record.rates))

    def update_rates(self, tariff_id: str, rates) -> None:
        super().update_rates(tariff_id, rates)
        names = dict(self._destinations.get(tariff_id, {}))
        for rate in rates:
            names.pop(name_key(rate), None)
        self._put(tariff_id, {**names, **_names(rates)})

    def delete(self, kind: str, record_id: str) -> None:
        super().delete(kind, record_id)
        if kind == "tariff":
            self._destinations.pop(record_id, None)

    def _put(self, tariff_id: str, names: dict[NameKey, str]) -> None:
        if names:
            self._destinations[tariff_id] = names
        else:
            self._destinations.pop(tariff_id, None)

    def destination_names(self, tariff_id: str) -> Mapping[NameKey, str]:
        """(prefix, *version key) -> the version's destination name; versions without one are absent."""
        return self._destinations.get(tariff_id, _NONE)


def destination_names(book, tariff_id: str) -> Mapping[NameKey, str]:
    """The names a book knows (none for a plain rating book)."""
    names = getattr(book, "destination_names", None)
    return names(tariff_id) if callable(names) else _NONE
