"""Validate reference records against each other and what exists, then publish all of them or
nothing: the one path of every reference write (`ref apply FILE...`, the API's writes, the cards).

Records are taken in order, files in the order given, and each valid record is applied to a
scratch copy of the current reference data, so a record may refer to one earlier in the run.
The write rules are ownership.check_records; the writer is the admin for `ref apply` and the
cards, the caller for the API.
"""
from __future__ import annotations

import csv
import uuid
from dataclasses import dataclass
from pathlib import Path

import orjson
from pydantic import ValidationError

from pipeline.kafka.admin import ensure_topics
from pipeline.kafka.clients import KafkaClients
from pipeline.kafka.topics import REFERENCE_TOPICS
from pipeline.reference.book import ReferenceBook
from pipeline.reference.csv_rates import RateFileError, RatesPathError, resolve_rates_csv
from pipeline.reference.feed import read_book
from pipeline.reference.ownership import check_records
from pipeline.reference.records import Record, parse_reference_record
from pipeline.schemas.reference import ADMIN_ID
from pipeline.schemas.validation_errors import describe_validation_error
from pipeline.settings import Settings


@dataclass(frozen=True)
class Located:
    file: str
    number: int  # 1-based position of the record in its file
    record: Record

    def where(self) -> str:
        ident = getattr(self.record, "id", None)
        kind = getattr(self.record, "kind", "record")
        return f"{self.file} record {self.number}" + (f" ({kind} {ident!r})" if ident else "")


class ApplyError(Exception):
    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


class WriteRefused(Exception):
    """The rules an API write breaks, as sentences naming the records and the rules."""


def read_files(paths: list[str]) -> list[Located]:
    """Every record of every file, validated on its own; all errors at once."""
    located, errors = [], []
    for path in paths:
        try:
            data = orjson.loads(Path(path).read_bytes())
        except (OSError, orjson.JSONDecodeError) as exc:
            errors.append(f"{path}: cannot read JSON: {exc}")
            continue
        for number, obj in enumerate(data if isinstance(data, list) else [data], start=1):
            try:
                record = parse_reference_record(obj)
                if record.kind == "tariff":
                    record = resolve_rates_csv(record, Path(path).parent)
                located.append(Located(path, number, record))
            except ValidationError as exc:
                errors.append(f"{path} record {number}{_ident(obj)}: {describe_validation_error(exc)}")
            except (RateFileError, RatesPathError) as exc:
                errors.append(f"{path} record {number}{_ident(obj)}: {exc}")
            except (OSError, UnicodeDecodeError, csv.Error) as exc:  # the rates_csv file itself
                errors.append(f"{path} record {number}{_ident(obj)}: rates_csv cannot be read: {exc}")
    if errors:
        raise ApplyError(errors)
    return located


def check_write(book: ReferenceBook, records: list[Record], writer: str) -> None:
    """An API write: raises WriteRefused with every broken rule; the book is left as it was."""
    problems = check_records(records, book, writer)
    if problems:
        raise WriteRefused("; ".join(problem.rule for problem in problems))


def refuse_broken(book: ReferenceBook, located: list[Located], writer: str = ADMIN_ID) -> None:
    """Ownership and reference rules, record by record, against what exists plus earlier records
    (pipeline.reference.ownership.check_records, as `writer`: ref apply writes as the admin). Raises
    ApplyError naming every refused record; `book` is left as it was."""
    problems = check_records([item.record for item in located], book, writer)
    if problems:
        raise ApplyError([f"{located[problem.position].where()}: {problem.rule}" for problem in problems])


async def current_book(settings: Settings) -> ReferenceBook:
    """The reference data as published now (the topics are created first if missing)."""
    await ensure_topics(settings)
    return await read_book(settings)


async def apply_files(settings: Settings, paths: list[str]) -> list[Located]:
    located = read_files(paths)
    book = await current_book(settings)
    refuse_broken(book, located)
    await publish(settings, located)
    return located


async def publish(settings: Settings, located: list[Located]) -> None:
    """One Kafka transaction: readers (read_committed) see the whole run or none of it."""
    producer = KafkaClients(settings).producer(transactional_id=f"ref-apply-{uuid.uuid4().hex}", large_messages=True)
    await producer.start()
    try:
        async with producer.transaction():
            for item in located:
                record = item.record
                topic = settings.topic(REFERENCE_TOPICS[record.kind])
                value = orjson.dumps(record.model_dump(mode="json"))
                await producer.send(topic, value, key=record.id.encode())
    finally:
        await producer.stop()


def _ident(obj) -> str:
    if isinstance(obj, dict) and isinstance(obj.get("id") or obj.get("number"), str):
        return f" ({obj.get('kind', 'record')} {obj.get('id') or obj.get('number')!r})"
    return ""
