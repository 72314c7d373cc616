"""An invoice's period: a calendar month in the issuer's time zone, and its bounds in UTC (pure)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

_PERIOD = re.compile(r"^(\d{4})-(\d{2})$")


class PeriodNotClosed(ValueError):
    """The period has not ended yet in the issuer's zone: only a draft may be made of it."""


@dataclass(frozen=True, order=True)
class Period:
    year: int
    month: int

    def __post_init__(self) -> None:
        if not 1 <= self.month <= 12:
            raise ValueError(f"period {self.year:04d}-{self.month:02d}: the month must be 01..12")
        if not 2000 <= self.year <= 9999:
            raise ValueError(f"period {self.year:04d}-{self.month:02d}: the year must be 2000..9999")

    @classmethod
    def parse(cls, text: str) -> Period:
        match = _PERIOD.match(text.strip())
        if not match:
            raise ValueError(f"period {text!r} is not a month written YYYY-MM (like 2026-10)")
        return cls(int(match.group(1)), int(match.group(2)))

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def next(self) -> Period:
        return Period(self.year + self.month // 12, self.month % 12 + 1)

    def bounds(self, zone: ZoneInfo) -> tuple[datetime, datetime]:
        """[start, end) in UTC of this month as the zone's clocks show it (DST included)."""
        following = self.next()
        start = datetime(self.year, self.month, 1, tzinfo=zone)
        end = datetime(following.year, following.month, 1, tzinfo=zone)
        return start.astimezone(timezone.utc), end.astimezone(timezone.utc)

    def check_closed(self, zone: ZoneInfo, now: datetime, draft: bool) -> None:
        """Refuse a month that has not ended yet (or lies in the future) unless it is a draft."""
        _, end = self.bounds(zone)
        if now < end and not draft:
            state = "is in the future" if now < self.bounds(zone)[0] else "is not closed yet"
            raise PeriodNotClosed(
                f"period {self} {state} in {zone.key} (it ends {end.isoformat()}): "
                "issue a draft (--draft) or wait until it is over"
            )
