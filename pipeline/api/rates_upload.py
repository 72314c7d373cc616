"""A tariff's rates from an uploaded CSV (`PUT /v1/tariffs/{id}/rates`, the portal's upload).

The fast reader (rating/csv_rates.py) stops at the first bad cell, which suits `ref apply`; a
person fixing an upload wants the errors at once, so when the fast reader fails the file is read
again line by line with the same cell rules: the first MAX_ERRORS errors are listed, the rest
counted (a file of a million bad lines must not make a reply of a million sentences).

Reading a big file is seconds of CPU (a 12 MB bad file took 15 s), so `parse_rates` reads it in a
child process: on the event loop it stalled every other tenant's requests for that long, and a
thread would still hold the GIL. The pool is small, so uploads wait for each other, not the API.

`?layout=generic|cgrates|astpp|a2billing` reads a deck as carriers send it instead
(pipeline/reference/decks, first error named): a CSV body, or a ZIP of the deck's files.
"""
from __future__ import annotations

import asyncio
import csv
import io
import logging
import multiprocessing
import os
import signal
import tempfile
import threading
import time
import zipfile
import zlib
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from functools import partial
from pathlib import Path, PurePosixPath

from pipeline.reference.csv_rates import CELL_RULES, REPEAT_HINT, RateFileError, load_rates_csv
from pipeline.reference.decks import DeckError, read_deck
from pipeline.schemas.reference import RateIn, rate_version_key

log = logging.getLogger(__name__)
MAX_ERRORS = 20
# A rate line is ~20 bytes at the least: a body of RATING_API_MAX_RATES_BYTES could hold millions,
# each a RateIn in memory. A tariff has some 100,000 prefixes; ten times that is refused unread.
MAX_LINES = 1_000_000
PARSE_WORKERS = 2  # uploads parsed at once; the rest wait their turn
# below this a file is read in place: its worst case is milliseconds, less than a trip to the child
INLINE_BYTES = 32 * 1024
ZIP_MAGIC = b"PK\x03\x04"
MAX_DECK_FILES = 20  # a CGRateS plan is five files at most
MAX_UNZIPPED_BYTES = 256 * 2**20  # a ZIP of rates compresses ~10:1; more than this is not a deck
_pool: ProcessPoolExecutor | None = None


class RatesRefused(ValueError):
    def __init__(self, errors: list[str], more: int = 0) -> None:
        self.errors, self.more = errors, more
        tail = f"; and {more} more" if more else ""
        super().__init__("; ".join(errors) + tail)

    def __reduce__(self):  # crosses back from the child process whole, not rebuilt from its message
        return type(self), (self.errors, self.more)


async def parse_rates(data: bytes, layout: str | None = None, mapping: dict[str, str] | None = None,
                      rating_plan: str | None = None) -> tuple[RateIn, ...]:
    """rates_from_csv (no layout: the contract's columns) or rates_from_deck, off the event loop
    for anything but a small file."""
    parse = rates_from_csv if layout is None else partial(rates_from_deck, layout=layout, mapping=mapping or {},
                                                          rating_plan=rating_plan)
    if len(data) <= INLINE_BYTES:
        return parse(data)
    pool = _parse_pool()
    try:
        return await asyncio.get_running_loop().run_in_executor(pool, parse, data)
    except BrokenProcessPool:  # the child died (killed, out of memory): the next upload gets a new one
        global _pool
        if _pool is pool:
            _pool = None
        log.error("the rates parser process stopped while reading a %d-byte upload", len(data))
        raise RatesRefused(["the file could not be read to the end; try again, or split it"]) from None


def _parse_pool() -> ProcessPoolExecutor:
    """Made on first use, never at import; spawned, never forked from a process with client threads."""
    global _pool
    if _pool is None:
        _pool = ProcessPoolExecutor(PARSE_WORKERS, mp_context=multiprocessing.get_context("spawn"),
                                    initializer=_child_start, initargs=(os.getpid(),))
    return _pool


def stop_parsing() -> None:
    """At the API's stop: its children leave now (a parse under way is abandoned with its request)."""
    global _pool
    pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown(wait=False, cancel_futures=True)


def _child_start(parent: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the API stops its children, not the terminal's ^C
    threading.Thread(target=_exit_with, args=(parent,), name="exit-with-api", daemon=True).start()


def _exit_with(parent: int) -> None:
    """A child holds both ends of its work queue's pipe, so it would wait for work for ever once
    the API is killed: it leaves within a second of its parent. (PR_SET_PDEATHSIG, as the sink's
    child uses, follows the parent's thread, and the loop that starts these may be a passing one.)"""
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(0)


def rates_from_csv(data: bytes) -> tuple[RateIn, ...]:
    lines = data.count(b"\n")
    if lines > MAX_LINES:
        raise RatesRefused([f"the file has {lines:,} lines; at most {MAX_LINES:,} rates are taken in one upload"])
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
        every_error(text)  # raises, naming the bad lines
    if not rates:
        raise RatesRefused(["line 2: the file has a header but no rates"])
    return rates


def rates_from_deck(data: bytes, layout: str, mapping: dict[str, str], rating_plan: str | None) -> tuple[RateIn, ...]:
    """A deck in one of pipeline/reference/decks' layouts: a CSV body, or a ZIP of the deck's files
    (a CGRateS plan's Destinations.csv, Rates.csv, DestinationRates.csv ...)."""
    files = deck_files(data)
    lines = sum(content.count(b"\n") for _, content in files)
    if lines > MAX_LINES:
        raise RatesRefused([f"the deck has {lines:,} lines; at most {MAX_LINES:,} rates are taken in one upload"])
    try:
        return read_deck(files, layout, mapping, rating_plan).rates
    except DeckError as exc:
        hint = " (send a ZIP of the plan's files)" if layout == "cgrates" and len(files) == 1 else ""
        raise RatesRefused([f"{exc}{hint}"]) from None


def deck_files(data: bytes) -> list[tuple[str, bytes]]:
    """The body's files: a ZIP's CSV members (at most MAX_DECK_FILES, MAX_UNZIPPED_BYTES in all,
    however the archive states their sizes), else the body itself as upload.csv."""
    if not data.startswith(ZIP_MAGIC):
        return [("upload.csv", data)]
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = [info for info in archive.infolist() if not info.is_dir() and not info.filename.startswith("__MACOSX")]
        if len(members) > MAX_DECK_FILES:
            raise RatesRefused([f"the ZIP holds {len(members)} files; a deck has at most {MAX_DECK_FILES}"])
        files, room = [], MAX_UNZIPPED_BYTES
        for info in sorted(members, key=lambda member: member.filename):
            with archive.open(info) as member:
                content = member.read(room + 1)
            if len(content) > room:
                raise RatesRefused([f"the ZIP's files hold more than {MAX_UNZIPPED_BYTES // 2**20} MB"])
            room -= len(content)
            files.append((PurePosixPath(info.filename).name, content))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, NotImplementedError, RuntimeError, OSError,
            EOFError) as exc:
        raise RatesRefused([f"the body is not a ZIP that can be read: {exc}"]) from None
    if not files:
        raise RatesRefused(["the ZIP holds no files"])
    return files


class _Errors:
    """The first MAX_ERRORS errors, and how many more there were."""

    def __init__(self) -> None:
        self.shown: list[str] = []
        self.more = 0

    def add(self, errors: list[str]) -> None:
        room = MAX_ERRORS - len(self.shown)
        self.shown += errors[:room]
        self.more += max(0, len(errors) - room)


def every_error(text: str) -> None:
    reader = csv.reader(io.StringIO(text))
    errors = _Errors()
    try:
        header = [name.strip() for name in next(reader, [])]
        errors.add(_header_errors(header))
        if errors.shown:
            raise RatesRefused(errors.shown, errors.more)
        seen: dict[tuple, int] = {}
        for row in reader:
            if row:
                errors.add(_row_errors(header, row, reader.line_num, seen))
    except csv.Error as exc:
        errors.add([f"line {reader.line_num}: not CSV: {exc}"])
    raise RatesRefused(errors.shown or ["the file cannot be read"], errors.more)


def _header_errors(header: list[str]) -> list[str]:
    errors = [f'line 1, column "{name[:40]}": unknown column; known: {", ".join(CELL_RULES)}'
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
        return [f'line {line}, column "prefix": repeats line {seen[key]} (same prefix, effective_from, day_type and '
                f'window){REPEAT_HINT}']
    seen[key] = line
    return []
