"""A tariff's rates from an uploaded CSV (`PUT /v1/tariffs/{id}/rates`, the portal's upload).

The fast reader (rating/csv_rates.py) stops at the first bad cell, which suits `ref apply`; a
person fixing an upload wants every error at once, so when the fast reader fails the file is read
again line by line with the same cell rules, listing every bad line (up to MAX_ERRORS).
"""
from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

from pipeline.rating.csv_rates import CELL_RULES, RateFileError, load_rates_csv
from pipeline.rating.reference import RateIn, rate_version_key

MAX_ERRORS = 1000
MAX_UPLOAD_BYTES = 64 * 1024 * 1024


class RatesRefused(ValueError):
    def __init__(self, errors: list[str], more: int = 0) -> None:
        self.errors, self.more = errors, more
        tail = f"; and {more} more" if more else ""
        super().__init__("; ".join(errors) + tail)


def rates_from_csv(data: bytes) -> tuple[RateIn, ...]:
    if len(data) > MAX_UPLOAD_BYTES:
        raise RatesRefused([f"the file is {len(data)} bytes; at most {MAX_UPLOAD_BYTES} are accepted"])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RatesRefused([f"the file is not UTF-8 text (byte {exc.start})"]) from None
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "rates.csv"
        path.write_text(text, encoding="utf-8")
        try:
            rates = load_rates_csv(path)
        except (RateFileError, csv.Error):
            rates = None
    if rates is None:
        every_error(text)  # raises, naming every bad line
    if not rates:
        raise RatesRefused(["line 2: the file has a header but no rates"])
    return rates


def every_error(text: str) -> None:
    reader = csv.reader(io.StringIO(text))
    errors: list[str] = []
    try:
        header = [name.strip() for name in next(reader, [])]
        errors += _header_errors(header)
        if errors:
            raise RatesRefused(errors)
        seen: dict[tuple, int] = {}
        for row in reader:
            if row:
                errors += _row_errors(header, row, reader.line_num, seen)
    except csv.Error as exc:
        errors.append(f"line {reader.line_num}: not CSV: {exc}")
    shown = errors[:MAX_ERRORS]
    raise RatesRefused(shown or ["the file cannot be read"], len(errors) - len(shown))


def _header_errors(header: list[str]) -> list[str]:
    errors = [f'line 1, column "{name}": unknown column; known: {", ".join(CELL_RULES)}'
              for name in header if name not in CELL_RULES]
    if len(set(header)) != len(header):
        errors.append("line 1: a column name appears twice")
    errors += [f'line 1, column "{name}": required column is missing' for name in ("prefix", "rate") if name not in header]
    return errors


def _row_errors(header: list[str], row: list[str], line: int, seen: dict[tuple, int]) -> list[str]:
    if len(row) != len(header):
        return [f"line {line}: has {len(row)} cells, the header has {len(header)}"]
    errors, fields = [], {}
    for name, text in zip(header, row):
        try:
            fields[name] = CELL_RULES[name](text)
        except ValueError as exc:
            errors.append(f'line {line}, column "{name}": {exc}')
    if errors:
        return errors
    try:
        rate = RateIn(**fields)
    except ValueError as exc:
        return [f"line {line}: {exc}"]
    key = rate_version_key(rate)
    if key in seen:
        return [f'line {line}, column "prefix": repeats line {seen[key]} (same prefix, effective_from, day_type and window)']
    seen[key] = line
    return []
