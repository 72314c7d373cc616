"""A tariff's rates as people read them: searched, paged, and as the CSV the rate loader reads back.

The book keeps a tariff compiled (pipeline/rating/tariff_index.py: prefix -> versions, equal rates
shared between prefixes), not the records it was written as; every field of a rate survives the
compiling, so each version is turned back into the RateIn it came from (`rate_record`) — a test
round-trips random rates through the index to prove nothing is lost.

A version's `status` says what the lookup does with it now (docs/domain.md "Pricing one call at one level"):
- "scheduled": its effective_from is still to come;
- "superseded": a newer version in effect covers its whole window (day type and hours), so no call
  takes it any more;
- "current": in effect and taken at least on some days or hours.
There is no end date on a rate: a version is in effect until a newer one of the same prefix starts,
so "ending" a price means scheduling its successor (effective_from in the future).
"""
from __future__ import annotations

import bisect
import csv
import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from decimal import Decimal, Inexact, localcontext
from typing import Any
from weakref import WeakKeyDictionary

from pipeline.api.csv_export import neutralise
from pipeline.rating.compiled_rate import CompiledRate
from pipeline.rating.tariff_index import TariffIndex
from pipeline.reference.csv_rates import CELL_RULES, _construct_rate
from pipeline.schemas import field_rules
from pipeline.schemas.reference import RateIn, RateTier

STATUSES = ("current", "scheduled", "superseded")
# the CSV download's columns: exactly the loader's (PUT /v1/tariffs/{id}/rates reads it back)
CSV_COLUMNS = tuple(CELL_RULES)
_sorted_prefixes: WeakKeyDictionary[TariffIndex, list[str]] = WeakKeyDictionary()
Names = Mapping[tuple, str]  # (prefix, *CompiledRate.version_key()) -> destination name (destination_book.py)
NO_NAMES: Names = {}


@dataclass(frozen=True)
class RateRow:
    prefix: str
    rate: CompiledRate
    status: str
    destination: str = ""


@dataclass(frozen=True)
class RateSearch:
    """What GET /v1/tariffs/{id}/rates and the tariff page filter on; empty fields filter nothing."""
    prefix: str = ""  # prefixes starting with these digits
    number: str = ""  # the prefixes a call to this number could take (each a start of it)
    destination: str = ""  # destination names containing this text (case-insensitive)
    status: str = ""  # one of STATUSES

    @property
    def empty(self) -> bool:
        return not (self.prefix or self.number or self.destination or self.status)


def prefixes_of(index: TariffIndex) -> list[str]:
    """The index's prefixes in order, made once per index (an index never changes once made)."""
    found = _sorted_prefixes.get(index)
    if found is None:
        found = _sorted_prefixes[index] = sorted(index.lookup_tables()[0])
    return found


def _candidates(index: TariffIndex, search: RateSearch) -> Iterator[str]:
    prefixes = prefixes_of(index)
    if search.number:
        entries = index.lookup_tables()[0]
        starts = (search.number[:length] for length in range(len(search.number) + 1))
        yield from (p for p in starts if p in entries and p.startswith(search.prefix))
        return
    first = bisect.bisect_left(prefixes, search.prefix)
    for prefix in prefixes[first:]:
        if not prefix.startswith(search.prefix):
            return
        yield prefix


def rows(index: TariffIndex, search: RateSearch, now: datetime, names: Names = NO_NAMES) -> Iterator[RateRow]:
    """Every version matching the search: by prefix, then in the lookup's order within a prefix."""
    wanted = search.destination.casefold()
    epoch = field_rules.epoch_seconds(now)
    # a name search looks at the names first: most prefixes of a big tariff never get as far
    named = {key[0] for key, name in names.items() if wanted in name.casefold()} if wanted else None
    for prefix in _candidates(index, search):
        if named is not None and prefix not in named:
            continue
        for row in versions(prefix, index.versions(prefix), epoch, names):
            if (not search.status or row.status == search.status) and \
                    (not wanted or wanted in row.destination.casefold()):
                yield row


def versions(prefix: str, found: tuple[CompiledRate, ...], epoch: int, names: Names = NO_NAMES) -> list[RateRow]:
    """One prefix's versions with their status (`found` is in the lookup's order: newest first)."""
    if len(found) == 1:  # most prefixes: one version, no other to be covered by
        rate = found[0]
        return [RateRow(prefix, rate, "scheduled" if rate.effective_epoch > epoch else "current",
                        names.get((prefix, *rate.version_key()), "") if names else "")]
    shown: list[RateRow] = []
    in_effect: list[CompiledRate] = []
    for rate in found:
        if rate.effective_epoch > epoch:
            status = "scheduled"
        else:
            status = "superseded" if any(_covers(newer, rate) for newer in in_effect) else "current"
            in_effect.append(rate)
        shown.append(RateRow(prefix, rate, status, names.get((prefix, *rate.version_key()), "")))
    return shown


def _covers(newer: CompiledRate, older: CompiledRate) -> bool:
    """Whether `newer` (ahead in the lookup's order) applies whenever `older` would."""
    same_days = newer.day_type == "all" or newer.day_type == older.day_type
    return same_days and newer.start_second <= older.start_second and newer.end_second >= older.end_second


def page(index: TariffIndex | None, search: RateSearch, now: datetime, limit: int, offset: int,
         names: Names = NO_NAMES) -> tuple[list[RateRow], int]:
    """(the rows of one page, how many rows match in all)."""
    if index is None:
        return [], 0
    if search.empty:  # the common case, on a 100,000-prefix tariff: no walk over what is skipped
        return _plain_page(index, now, limit, offset, names)
    matching = list(rows(index, search, now, names))
    return matching[offset:offset + limit], len(matching)


def _plain_page(index: TariffIndex, now: datetime, limit: int, offset: int,
                names: Names) -> tuple[list[RateRow], int]:
    entries = index.lookup_tables()[0]
    prefixes = prefixes_of(index)
    epoch = field_rules.epoch_seconds(now)
    total = sum(map(len, entries.values()))
    shown: list[RateRow] = []
    position = 0
    for prefix in prefixes:
        count = len(entries[prefix])
        if position + count <= offset:
            position += count
            continue
        for row in versions(prefix, entries[prefix], epoch, names):
            if position >= offset:
                shown.append(row)
            position += 1
            if len(shown) == limit:
                return shown, total
    return shown, total


# as records and as text -------------------------------------------------------------------------

def _time_of(second: int) -> time:
    return time(second // 3600, second // 60 % 60, second % 60)


def _moment_of(epoch: int) -> datetime:
    return field_rules.EPOCH + timedelta(seconds=epoch)


def rate_fields(prefix: str, rate: CompiledRate, destination: str = "") -> dict[str, Any]:
    """The fields of the RateIn the compiled rate was made from, in RateIn's order."""
    return {"prefix": prefix, "rate": rate.rate, "connection_fee": rate.connection_fee,
            "increment": rate.increment, "min_time": rate.min_time, "grace_time": rate.grace_time,
            "effective_from": _moment_of(rate.effective_epoch), "day_type": rate.day_type,
            "start": _time_of(rate.start_second), "end": _time_of(rate.end_second), "destination": destination,
            "tiers": tiers_of(rate)}


def tiers_of(rate: CompiledRate) -> tuple[RateTier, ...]:
    """The tiers after the first, back from the compiled steps (rating/tiers.py): a step's rate is
    its units over the rate's common denominator (per second), times 60 (per minute), exact."""
    steps = getattr(rate, "tiers", None)
    if not steps:
        return ()
    tiers = []
    for start, increment, units, _ in reversed(steps):
        if start:  # the first step (second 0) is the rate itself
            tiers.append(RateTier(from_seconds=start, rate=_exact(units * 60, rate.denominator), increment=increment))
    return tuple(tiers)


def _exact(numerator: int, denominator: int) -> Decimal:
    """numerator / denominator as a Decimal; the denominators of decimal money divide a power of 10,
    so the quotient ends, and a quotient that would not is an error, never a rounding."""
    with localcontext() as context:
        context.prec = 60
        context.traps[Inexact] = True
        return Decimal(numerator) / Decimal(denominator)


def rate_record(prefix: str, rate: CompiledRate, destination: str = "") -> RateIn:
    """The RateIn again, validated (the fields came from one, so this cannot fail on good data)."""
    return RateIn.model_validate(rate_fields(prefix, rate, destination))


def all_records(index: TariffIndex | None, names: Names = NO_NAMES) -> list[RateIn]:
    """Every version of the tariff as records: what a single-rate write republishes with its change.

    Built without validating again, as the CSV reader builds its rates (csv_rates._construct_rate):
    every value came out of a validated RateIn, and validating 100,000 of them took seconds. Equal
    rates share one compiled object, so its fields are worked out once (the round-trip test
    compares these records with the ones written)."""
    if index is None:
        return []
    shared: dict[int, dict[str, Any]] = {}
    found = []
    every_field = set(RateIn.model_fields)
    for prefix in prefixes_of(index):
        for rate in index.versions(prefix):
            fields = shared.get(id(rate))
            if fields is None:
                fields = shared[id(rate)] = rate_fields("", rate)
            name = names.get((prefix, *rate.version_key()), "") if names else ""
            found.append(_construct_rate({**fields, "prefix": prefix, "destination": name}, every_field))
    return found


def _text(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")  # never "1E-7", which the loader refuses
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    if isinstance(value, time):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [_text(item) for item in value]
    if hasattr(value, "model_dump"):
        return {key: _text(item) for key, item in value.model_dump().items()}
    return value


def row_json(row: RateRow) -> dict[str, Any]:
    """One version as the API shows it: the rate's fields as text (money exact), and its status."""
    fields = {name: _text(value) for name, value in rate_fields(row.prefix, row.rate, row.destination).items()}
    return {**fields, "status": row.status}


def csv_cell(name: str, value: Any) -> str:
    """A cell as the loader reads it (CELL_RULES): tiers as FROM:RATE:INCREMENT joined by "|"."""
    if name == "tiers":
        return "|".join(f"{tier.from_seconds}:{format(tier.rate, 'f')}:{tier.increment}" for tier in value)
    text = _text(value)
    return "" if text is None else str(text)


def rates_csv(index: TariffIndex | None, search: RateSearch, now: datetime, names: Names = NO_NAMES) -> str:
    """The matching versions in the loader's columns; uploading it again gives the same rates."""
    found = rows(index, search, now, names) if index is not None else iter(())
    shared: dict[int, list[str]] = {}  # equal rates share a compiled object: its cells are made once
    prefix_at, name_at = CSV_COLUMNS.index("prefix"), CSV_COLUMNS.index("destination")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in found:
        cells = shared.get(id(row.rate))
        if cells is None:
            fields = rate_fields("", row.rate)
            # numbers, instants, day types, times and tiers: nothing a spreadsheet reads as a formula
            cells = shared[id(row.rate)] = [csv_cell(name, fields.get(name, "")) for name in CSV_COLUMNS]
        line = list(cells)
        line[prefix_at], line[name_at] = neutralise(row.prefix), neutralise(row.destination)
        writer.writerow(line)
    return out.getvalue()


def cost_of(index: TariffIndex | None, prefix: str, epoch: int, holiday_days: frozenset[int]) -> CompiledRate | None:
    """What a call to a number starting with `prefix` would cost now on `index` (the reseller's buy
    tariff): its longest prefix that starts `prefix`, the version in effect now."""
    if index is None:
        return None
    found = index.lookup_at(prefix, epoch, holiday_days)
    return None if found is None else found[1]
