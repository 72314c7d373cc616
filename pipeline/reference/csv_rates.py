"""Rates from a CSV file, for tariffs of 100,000 prefixes and more.

Validating each row through pydantic costs ~15 us a row; this reader applies the same `rules`
functions cell by cell (memoised per column, since tariffs repeat the same rates, dates and windows
thousands of times) and builds each RateIn with `model_construct`, which trusts what it is given.
"""
from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

from pipeline.rating.gc_pause import gc_paused
from pipeline.schemas import field_rules, tier_rules
from pipeline.schemas.reference import VERSION_KEY_FIELDS, RateIn, RateTier, TariffIn


def tiers_cell(value: object) -> tuple[RateTier, ...]:
    """A `tiers` cell ("60:0.01:1|300:0.005:1", docs/tiers.md) as the RateIn field holds it."""
    return tuple(RateTier(from_seconds=start, rate=rate, increment=increment)
                 for start, rate, increment in tier_rules.tiers_cell(value))


CELL_RULES: dict[str, Callable[[object], object]] = {
    "prefix": field_rules.prefix,
    "rate": field_rules.rate_money,
    "connection_fee": field_rules.rate_money,
    "increment": field_rules.at_least_one,
    "min_time": field_rules.at_least_zero,
    "grace_time": field_rules.at_least_zero,
    "effective_from": field_rules.whole_second_instant,
    "day_type": field_rules.day_type,
    "start": field_rules.time_of_day,
    "end": field_rules.time_of_day,
    "destination": field_rules.destination_name,
    "tiers": tiers_cell,
}
REQUIRED_COLUMNS = ("prefix", "rate")
# a deck that gives a prefix's later price on a line of its own (CGRateS' GroupIntervalStart rows)
REPEAT_HINT = '; a price from a later second of the call on goes in the first line\'s "tiers" cell'
# In field order, so a constructed RateIn prints and compares like a validated one.
DEFAULTS = {name: field.default for name, field in RateIn.model_fields.items()}


class RateFileError(ValueError):
    def __init__(self, path: Path | str, line: int, column: str | None, rule: str) -> None:
        self.path, self.line, self.column, self.rule = Path(path), line, column, rule
        place = f'line {line}, column "{column}"' if column else f"line {line}"
        super().__init__(f"{self.path.name} {place}: {rule}")


def load_rates_csv(path: Path | str) -> tuple[RateIn, ...]:
    """Every row as a RateIn; the first bad cell raises RateFileError naming line and column."""
    with open(path, newline="", encoding="utf-8-sig") as handle, gc_paused():
        reader = csv.reader(handle)
        header = [name.strip() for name in next(reader, [])]
        _check_header(path, header)
        return _read_rows(path, header, reader)


def _check_header(path: Path | str, header: list[str]) -> None:
    for name in header:
        if name not in CELL_RULES:
            raise RateFileError(path, 1, name, f"unknown column; known: {', '.join(CELL_RULES)}")
    if len(set(header)) != len(header):
        raise RateFileError(path, 1, None, "a column name appears twice")
    for name in REQUIRED_COLUMNS:
        if name not in header:
            raise RateFileError(path, 1, name, "required column is missing")


def _read_rows(path: Path | str, header: list[str], reader) -> tuple[RateIn, ...]:
    """Column by column: each distinct cell text is checked once, then mapped at C speed."""
    rows, lines = [], []
    for row in reader:
        if not row:
            continue
        if len(row) != len(header):
            raise RateFileError(path, reader.line_num, None, f"has {len(row)} cells, the header has {len(header)}")
        rows.append(row)
        lines.append(reader.line_num)
    if not rows:
        return ()
    given = {name: _parse_column(path, name, texts, lines) for name, texts in zip(header, zip(*rows))}
    columns = {name: given[name] if name in given else [default] * len(rows)
               for name, default in DEFAULTS.items()}  # field order, as a validated RateIn has
    if "start" in given or "end" in given:
        _check_windows(path, columns["start"], columns["end"], lines)
    if "tiers" in given:
        _check_tiers(path, columns["increment"], columns["tiers"], lines)
    _check_no_repeats(path, list(zip(*(columns[name] for name in VERSION_KEY_FIELDS))), lines)
    names = tuple(columns)
    fields_set = set(header)  # shared: pydantic only reads it, and the model is frozen
    return tuple(_construct_rate(dict(zip(names, values)), fields_set) for values in zip(*columns.values()))


def _parse_column(path: Path | str, name: str, texts: tuple[str, ...], lines: list[int]) -> list:
    rule = CELL_RULES[name]
    parsed: dict[str, object] = {}
    for text in set(texts):
        try:
            parsed[text] = rule(text)
        except ValueError as error:
            raise RateFileError(path, lines[texts.index(text)], name, str(error)) from None
    return list(map(parsed.__getitem__, texts))


def _check_windows(path: Path | str, starts: list, ends: list, lines: list[int]) -> None:
    for row_index, (start, end) in enumerate(zip(starts, ends)):
        if start > end:
            try:
                field_rules.time_window(start, end)
            except ValueError as error:
                raise RateFileError(path, lines[row_index], "end", str(error)) from None


def _check_tiers(path: Path | str, increments: list, tiers: list, lines: list[int]) -> None:
    """RateIn's tier layout rule, which a constructed RateIn skips (only rows with tiers)."""
    for row_index, row_tiers in enumerate(tiers):
        if row_tiers:
            try:
                tier_rules.tier_layout(increments[row_index], [(t.from_seconds, t.increment) for t in row_tiers])
            except ValueError as error:
                raise RateFileError(path, lines[row_index], "tiers", str(error)) from None


def _check_no_repeats(path: Path | str, keys: list[tuple], lines: list[int]) -> None:
    if len(set(keys)) == len(keys):
        return
    first_row_of: dict[tuple, int] = {}
    for row_index, key in enumerate(keys):
        if key in first_row_of:
            raise RateFileError(path, lines[row_index], "prefix", f"repeats line {lines[first_row_of[key]]} "
                                f"(same prefix, effective_from, day_type and window){REPEAT_HINT}")
        first_row_of[key] = row_index


def _construct_rate(fields: dict[str, object], fields_set: set[str]) -> RateIn:
    """RateIn from cells the rules already checked. `model_construct` takes ~8 us a row (it
    re-walks the fields); setting pydantic's four instance slots directly takes ~2 us. A test
    proves the result equals a validated RateIn, so a pydantic change cannot slip past silently."""
    rate = _new_rate(RateIn)
    _set(rate, "__dict__", fields)
    _set(rate, "__pydantic_fields_set__", fields_set)
    _set(rate, "__pydantic_extra__", None)
    _set(rate, "__pydantic_private__", None)
    return rate


_new_rate = object.__new__
_set = object.__setattr__
construct_rate = _construct_rate  # the deck readers (pipeline/reference/decks) build rates the same way


class RatesPathError(ValueError):
    """A rates_csv path that leaves the reference file's folder: refused before anything is read."""


def rates_csv_path(rates_csv: str, base_dir: Path | str) -> Path:
    """The CSV file a tariff names, which must lie inside the folder of the file naming it (or a
    folder under it): an absolute path, "..", or a link out of the folder would let a reference
    file (or an API caller) read any file the process can, and echo its first line in an error."""
    base = Path(base_dir).resolve()
    if Path(rates_csv).is_absolute():
        raise RatesPathError(f'rates_csv "{rates_csv}" must be a path relative to the folder of the reference file')
    path = (base / rates_csv).resolve()  # follows links: a link out of the folder is refused too
    if not path.is_relative_to(base):
        raise RatesPathError(f'rates_csv "{rates_csv}" leads out of the folder of the reference file ({base})')
    return path


def resolve_rates_csv(tariff: TariffIn, base_dir: Path | str) -> TariffIn:
    """The tariff with its `rates_csv` read (relative to the reference file's folder, and inside
    it) into `rates`."""
    if tariff.rates_csv is None:
        return tariff
    rates = load_rates_csv(rates_csv_path(tariff.rates_csv, base_dir))
    return tariff.model_copy(update={"rates": rates, "rates_csv": None})
