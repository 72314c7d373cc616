"""DaySettler (pipeline/api/daily_totals.py): a past day is settled only once its count of rows
has stayed the same for `steady` seconds, under that count; a day without calls is dropped."""
from __future__ import annotations

from datetime import date

from pipeline.api.daily_totals import DaySettler
from pipeline.reports.run import Table

MARCH_3, MARCH_4, MARCH_5 = date(2026, 3, 3), date(2026, 3, 4), date(2026, 3, 5)


class FakeClickHouse:
    """Answers queries.day_counts from `counts` and records queries.settle_day's parameters."""

    def __init__(self):
        self.counts: dict[date, int] = {}
        self.settled: list[tuple[str, int]] = []

    def read(self, query) -> Table:
        if query.sql.startswith("INSERT INTO"):
            self.settled.append((query.params["day"], query.params["inserted"]))
            return Table((), [])
        asked = {date.fromisoformat(day) for day in query.params["days"]}
        return Table(("day", "counted"), [(day, n) for day, n in sorted(self.counts.items()) if day in asked and n])


def test_a_day_is_settled_under_its_count_once_it_stayed_the_same_long_enough():
    clickhouse, now = FakeClickHouse(), [0.0]
    settler = DaySettler(clickhouse.read, "rating", steady=60.0, clock=lambda: now[0])
    clickhouse.counts = {MARCH_3: 100, MARCH_4: 7}
    settler._pending = {MARCH_3: None, MARCH_4: None, MARCH_5: None}  # offered, thread aside
    assert settler.step() == []  # counts seen for the first time; March 5 has no calls: dropped
    assert MARCH_5 not in settler._pending
    now[0] = 30.0
    clickhouse.counts[MARCH_4] = 9  # a late call or a re-rating: its wait starts again
    assert settler.step() == []
    now[0] = 61.0
    assert settler.step() == [MARCH_3]
    assert clickhouse.settled == [("2026-03-03", 100)]
    now[0] = 89.0
    assert settler.step() == []  # March 4 steady for 59 s only
    now[0] = 91.0
    assert settler.step() == [MARCH_4] and clickhouse.settled[-1] == ("2026-03-04", 9)
    assert settler._pending == {}
