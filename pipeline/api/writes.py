"""The one place an API write is validated: the same ownership and reference rules as `ref apply`
(pipeline.rating.ownership.check_records), with the caller as the writer, against what exists plus
the records before it in the same write."""
from __future__ import annotations

from pipeline.rating.book import Record, ReferenceBook
from pipeline.rating.ownership import check_records


class WriteRefused(Exception):
    """The rules the write breaks, as sentences naming the records and the rules."""


def check_write(book: ReferenceBook, records: list[Record], actor: str) -> None:
    """Raises WriteRefused with every broken rule; the book is left as it was."""
    problems = check_records(records, book, actor)
    if problems:
        raise WriteRefused("; ".join(problem.rule for problem in problems))
