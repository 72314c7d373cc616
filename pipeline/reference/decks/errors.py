"""A deck refused: the file, the line and the column, and the rule broken."""
from __future__ import annotations


class DeckError(ValueError):
    """`FILE line N, column "C": rule`, as the rates CSV reader words its errors (csv_rates.RateFileError)."""

    def __init__(self, file: str, line: int | None, column: str | None, rule: str) -> None:
        self.file, self.line, self.column, self.rule = file, line, column, rule
        place = ", ".join(part for part in (f"line {line}" if line else "", f'column "{column}"' if column else "")
                          if part)
        if place:
            super().__init__(f"{file} {place}: {rule}")
        else:
            super().__init__(rule if file in rule else f"{file}: {rule}")
