"""A deck file as a table: header and rows with their line numbers, read the way carriers write them.

Tolerated, since decks come out of spreadsheets and billing systems: a byte-order mark, Windows-1252
text (reported), ";" or tab instead of "," (sniffed from the header line), an Excel "sep=;" first
line, blank lines, lines of empty cells, trailing separators, cells padded with spaces, and "#"
comment lines (a CGRateS header starts with "#": the first line's "#" is dropped). A row with more
non-empty cells than the header, or a quote left open, is an error naming file and line.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from pipeline.reference.decks.errors import DeckError

DELIMITERS = (",", ";", "\t")


@dataclass
class Table:
    name: str  # the file's name, as errors give it
    header: list[str]
    rows: list[list[str]]  # cells stripped, padded or cut to the header's width
    lines: list[int]  # the line of each row
    notes: list[str] = field(default_factory=list)
    decimal_comma: bool = False  # ";"-separated: a money cell may write 0,0123


def decode(name: str, data: bytes, notes: list[str]) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError:
            raise DeckError(name, None, None, f"is neither UTF-8 nor Windows-1252 text (byte {exc.start})") from None
        notes.append(f"{name}: read as Windows-1252 (it is not UTF-8)")
        return text


def read_table(name: str, data: bytes, *, has_header: bool = True) -> Table:
    """The file's table. Without a header (A2Billing's positional files) `header` is empty and
    every line is a row, as wide as its widest line."""
    notes: list[str] = []
    text = decode(name, data, notes)
    if not text.strip():
        raise DeckError(name, None, None, "is empty")
    lines = text.splitlines()
    first = 0
    while first < len(lines) and not lines[first].strip():
        first += 1
    delimiter = None
    if lines[first].strip().lower().startswith("sep=") and len(lines[first].strip()) == 5:  # Excel's hint line
        delimiter = lines[first].strip()[4]
        first += 1
    body = "\n".join(lines[first:])
    if delimiter is None:
        delimiter = sniff(lines[first] if first < len(lines) else "")
    reader = csv.reader(io.StringIO(body), delimiter=delimiter, skipinitialspace=True, strict=True)
    header: list[str] = []
    rows, row_lines = [], []
    try:
        strip = str.strip
        for row in reader:
            cells = list(map(strip, row))
            while cells and not cells[-1]:  # trailing separators, blank lines
                cells.pop()
            if not cells:
                continue
            if cells[0][:1] == "#":
                if has_header and not header and not rows:
                    cells[0] = cells[0].lstrip("#").strip()
                    header = cells
                continue  # a comment line
            if has_header and not header:
                header = cells
                continue
            rows.append(cells)
            row_lines.append(first + reader.line_num)
    except csv.Error as exc:
        raise DeckError(name, first + reader.line_num, None, f"is not CSV: {exc}") from None
    width = len(header) if has_header else max(map(len, rows), default=0)
    for index, cells in enumerate(rows):
        if len(cells) > width:
            raise DeckError(name, row_lines[index], None,
                            f"has {len(cells)} cells, the header has {width} ({', '.join(header)})")
        if len(cells) < width:
            cells.extend([""] * (width - len(cells)))
    return Table(name, header, rows, row_lines, notes, decimal_comma=delimiter == ";")


def sniff(line: str) -> str:
    """The separator the header line uses most; "," when it has none of them."""
    counts = {delimiter: line.count(delimiter) for delimiter in DELIMITERS}
    best = max(DELIMITERS, key=lambda delimiter: counts[delimiter])
    return best if counts[best] else ","
