"""One tariff compiled for lookup: prefix -> versions, walked from the longest prefix of a number.

Lookup (docs/domain.md "Pricing one call at one level"): of the rates whose prefix starts the number,
that are in effect and whose day type and time window hold at the call's start in the tariff's
zone, take the longest prefix, then the newest effective_from, then a specific day type over "all".
Versions of a prefix are stored in that order, so the first one that holds is the answer and the
walk stops at the first (longest) prefix that has one.

Updates are copy-on-write: `with_rates` returns a new index that shares every
untouched entry (a shallow dict copy, ~1 ms per 100,000 prefixes) and compiles only what changed,
so a reader holding the old index is never disturbed.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import NamedTuple
from weakref import WeakKeyDictionary
from zoneinfo import ZoneInfo

from pipeline.rating.compiled_rate import ROUNDING_CODES, CompiledRate, RateCompiler
from pipeline.rating.gc_pause import gc_paused
from pipeline.schemas import field_rules
from pipeline.schemas.reference import RateIn, TariffIn

SECONDS_PER_DAY = 86400
MAX_NUMBER_LENGTH = 40  # E.164 is 15 digits; prefixes longer than this are never probed
THURSDAY = 3  # 1970-01-01, day 0, was a Thursday; Monday is 0 as in date.weekday()


class RateMatch(NamedTuple):
    prefix: str
    rate: CompiledRate


Entries = dict[str, tuple[CompiledRate, ...]]  # prefix -> its versions, in lookup order
Probes = tuple[tuple[int, ...], ...]  # number length -> the prefix lengths to probe, longest first
ProbesUpto = tuple[tuple[tuple[int, ...], ...], ...]  # number length -> longest + 1 -> the probes


class TariffIndex:
    __slots__ = ("tariff_id", "currency", "decimals", "rounding", "rounding_code", "zone", "_entries", "_lengths",
                 "_probes", "_probes_upto", "_codes", "__weakref__")

    def __init__(self, tariff: TariffIn, entries: dict[str, tuple[CompiledRate, ...]], lengths: Iterable[int]):
        self.tariff_id = tariff.id
        self.currency = tariff.currency
        self.decimals = tariff.decimals
        self.rounding = tariff.rounding
        self.rounding_code = ROUNDING_CODES[tariff.rounding]
        self.zone = None if tariff.timezone == "UTC" else ZoneInfo(tariff.timezone)
        self._set_entries(entries, lengths)

    def _set_entries(self, entries: dict[str, tuple[CompiledRate, ...]], lengths: Iterable[int]) -> None:
        self._entries = entries
        self._codes: tuple[Entries, Probes] | None = None  # code_tables(), made when a destination that is not a number first asks
        self._lengths = tuple(sorted(set(lengths), reverse=True))
        # For each number length, the prefix lengths worth probing, longest first: no per-probe test.
        self._probes = tuple(tuple(length for length in self._lengths if length <= size)
                             for size in range(MAX_NUMBER_LENGTH + 1))
        # _probes_upto[size][longest + 1]: the probes of _probes[size] no longer than `longest`
        # (-1: none at all), for a walk that already knows no longer prefix can be in the index.
        self._probes_upto = tuple(tuple(tuple(length for length in probes if length <= longest)
                                        for longest in range(-1, MAX_NUMBER_LENGTH + 1))
                                  for probes in self._probes)

    @classmethod
    def build(cls, tariff: TariffIn, rates: Iterable[RateIn] | None = None) -> TariffIndex:
        """Compile `rates` (default: the tariff's own) into a fresh index."""
        with gc_paused():
            entries = _compile_entries({}, tariff.rates if rates is None else rates)
        return cls(tariff, entries, map(len, entries))

    def with_rates(self, rates: Iterable[RateIn]) -> TariffIndex:
        """A new index with these rates added; a rate with an existing version key replaces it."""
        entries = _compile_entries(self._entries, rates)
        return self._replaced(entries, (*self._lengths, *map(len, entries.keys() - self._entries.keys())))

    def _replaced(self, entries: Entries, lengths: Iterable[int]) -> TariffIndex:
        copy = object.__new__(TariffIndex)  # a new object: the `covers` answers of this one do not apply
        for name in ("tariff_id", "currency", "decimals", "rounding", "rounding_code", "zone"):
            setattr(copy, name, getattr(self, name))
        copy._set_entries(entries, lengths)
        return copy

    def __len__(self) -> int:
        return len(self._entries)

    def versions(self, prefix: str) -> tuple[CompiledRate, ...]:
        return self._entries.get(prefix, ())

    def lookup(self, dst: str, start_utc: datetime, holidays: frozenset[date] = frozenset()) -> RateMatch | None:
        found = self.lookup_at(dst, field_rules.epoch_seconds(start_utc), frozenset(map(field_rules.day_number, holidays)))
        return None if found is None else RateMatch(*found)

    def lookup_at(self, dst: str, epoch: int, holiday_days: frozenset[int]) -> tuple[str, CompiledRate] | None:
        """The hot path: `epoch` in whole UTC seconds, holidays as days since 1970."""
        entries = self._entries
        local = None
        for length in self._probes[len(dst) if len(dst) <= MAX_NUMBER_LENGTH else MAX_NUMBER_LENGTH]:
            versions = entries.get(dst[:length])
            if versions is not None:
                for rate in versions:
                    if rate.effective_epoch <= epoch:
                        if rate.any_time:
                            return dst[:length], rate
                        if local is None:
                            local = self._local_clock(epoch, holiday_days)
                        if rate.applies_at(*local):
                            return dst[:length], rate
        return None

    def _local_clock(self, epoch: int, holiday_days: frozenset[int]) -> tuple[bool, int]:
        """(is a free day, second of day) at `epoch` in the tariff's zone, DST included."""
        return local_clock(self.zone, epoch, holiday_days)

    def lookup_tables(self) -> tuple[Entries, Probes, ProbesUpto]:
        """(prefix -> versions, number length -> prefix lengths to probe, the same cut to a longest
        length): what the chain's inlined lookup walks, exactly as lookup_at does. None of them
        changes once the index is made."""
        return self._entries, self._probes, self._probes_upto

    def code_tables(self) -> tuple[Entries, Probes]:
        """(code prefix -> versions, length of the walked string -> code prefix lengths to probe):
        what a destination that is not a number walks (pipeline/schemas/dialled.py), in the same
        way lookup_at walks numbers, but over the code rates (`*72*`, `#21#$`, `1$`) only, so that
        neither a number prefix nor the catch-all "" ever prices a code. Made on first use (one
        pass over the prefixes) and kept: the index never changes."""
        codes = self._codes
        if codes is None:
            entries = {prefix: versions for prefix, versions in self._entries.items()
                       if prefix and not (prefix.isascii() and prefix.isdigit())}
            lengths = sorted({len(prefix) for prefix in entries}, reverse=True)
            probes = tuple(tuple(length for length in lengths if length <= size) for size in range(MAX_NUMBER_LENGTH + 1))
            codes = self._codes = (entries, probes)
        return codes

    def covers(self, other: TariffIndex) -> bool:
        """Whether every prefix of `other` is a prefix here too (same destination list, the usual
        case along a billing chain). Then no prefix of a number in `other` is longer than the
        longest prefix of it here, and other's walk can start at that length. Remembered per pair
        of indexes (both never change); O(len(other)) the first time."""
        known = _covers.get(self)
        if known is None:
            known = _covers[self] = WeakKeyDictionary()
        answer = known.get(other)
        if answer is None:
            answer = known[other] = other is self or other._entries.keys() <= self._entries.keys()
        return answer


_covers: WeakKeyDictionary[TariffIndex, WeakKeyDictionary[TariffIndex, bool]] = WeakKeyDictionary()
OFFSET_BUCKET = 900  # seconds: zone offsets are cached per quarter hour of UTC time
_offsets: dict[tuple[ZoneInfo, int], int] = {}


def zone_offset(zone: ZoneInfo, epoch: int) -> int:
    """The zone's UTC offset in seconds at `epoch`, DST included. Cached per quarter hour when the
    offset is the same at both ends of it (zones change offset at most once in a quarter hour), so
    a quarter hour holding a transition is always computed exactly."""
    key = (zone, epoch // OFFSET_BUCKET)
    offset = _offsets.get(key)
    if offset is None:
        offset = _offset_now(zone, epoch)
        first = key[1] * OFFSET_BUCKET
        if _offset_now(zone, first) == _offset_now(zone, first + OFFSET_BUCKET - 1) == offset:
            if len(_offsets) >= 100_000:
                _offsets.clear()
            _offsets[key] = offset
    return offset


def _offset_now(zone: ZoneInfo, epoch: int) -> int:
    offset = datetime.fromtimestamp(epoch, zone).utcoffset()
    assert offset is not None  # an aware datetime has one
    return offset.days * SECONDS_PER_DAY + offset.seconds


def local_clock(zone: ZoneInfo | None, epoch: int, holiday_days: frozenset[int]) -> tuple[bool, int]:
    """(is a free day, second of day) at `epoch` in `zone` (None: UTC)."""
    day, second_of_day = divmod(epoch if zone is None else epoch + zone_offset(zone, epoch), SECONDS_PER_DAY)
    return (day + THURSDAY) % 7 >= 5 or day in holiday_days, second_of_day


def _compile_entries(existing: Entries, rates: Iterable[RateIn]) -> Entries:
    """`existing` plus `rates`, new versions replacing old ones with the same version key."""
    compiler = RateCompiler()
    added: dict[str, list[CompiledRate]] = {}
    for rate in rates:
        prefix = rate.__dict__["prefix"]
        compiled = compiler.compile(rate)
        versions = added.get(prefix)
        if versions is None:
            added[prefix] = [compiled]
        else:
            versions.append(compiled)
    entries = dict(existing)
    single_version: dict[int, tuple[CompiledRate]] = {}  # shares the 1-tuples of shared rates
    for prefix, versions in added.items():
        if len(versions) == 1 and prefix not in existing:
            only = versions[0]
            entries[prefix] = single_version.get(id(only)) or single_version.setdefault(id(only), (only,))
            continue
        by_key = {rate.version_key(): rate for rate in existing.get(prefix, ())}
        by_key.update((rate.version_key(), rate) for rate in versions)
        entries[prefix] = tuple(sorted(by_key.values(), key=CompiledRate.priority))
    return entries
