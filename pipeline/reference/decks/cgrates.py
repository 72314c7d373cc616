"""CGRateS tariff plans (data/tariffplans/* in cgrates/cgrates): Destinations.csv, Rates.csv and
DestinationRates.csv, optionally RatingPlans.csv and Timings.csv.

- A rate group (Rates.csv rows of one Id) becomes one rate: its GroupIntervalStart 0s row is the
  rate's own price and increment, each later row a tier from that second (engine/rateinterval.go
  GetRateParameters picks the row whose GroupIntervalStart is the last one <= the second being
  priced). `Rate` is per `RateUnit`, turned into a price per minute (refused when not exact in 9
  decimal places). The connect fee is the group's first row's, as CGRateS takes it.
- Durations are Go's ("60s", "1m", "1m30s"); a bare number is nanoseconds to CGRateS, so only "0"
  is taken bare.
- DestinationRates joins destinations to rate groups; `*any` is every destination (prefix "").
  Without --rating-plan every DestinationRates row is read; with it, only the rows its rating plan
  names, at their timings: weekly timings become day types (Monday-Friday WD, Saturday-Sunday FD,
  *any all) and daily windows (a timing runs until the next timing of the same days starts).
- MaxCost with *disconnect is a note (the switch ends the call; the price is not capped); any other
  MaxCost strategy caps the price, which no rate here does: refused. CGRateS' own rounding of a
  destination rate gives way to the tariff's (a note says so).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import time
from decimal import Decimal, localcontext
from pathlib import PurePath

from pipeline.reference.decks import cells
from pipeline.reference.decks.assemble import Rows, build_rates
from pipeline.reference.decks.columns import normal
from pipeline.reference.decks.errors import DeckError
from pipeline.reference.decks.pricing import ZERO, Pricing
from pipeline.reference.decks.table import Table, read_table
from pipeline.schemas import field_rules, tier_rules
from pipeline.schemas.reference import RateIn, RateTier

NINE_PLACES = Decimal(1).scaleb(-9)
LAST_SECOND = time(23, 59, 59)
ANY = "*any"
# each file's columns, in normal form: the first name is CGRateS' current one, then older ones
COLUMNS = {
    "destinations": {"id": ("id", "tag"), "prefix": ("prefix",)},
    "rates": {"id": ("id", "tag"), "connect_fee": ("connectfee",), "rate": ("rate",), "unit": ("rateunit",),
              "increment": ("rateincrement",), "group_start": ("groupintervalstart",)},
    "destinationrates": {"id": ("id", "tag"), "destination": ("destinationid", "destinationsid", "destinationstag"),
                         "rates": ("ratesid", "ratestag", "rateid"), "rounding": ("roundingmethod",),
                         "decimals": ("roundingdecimals",), "max_cost": ("maxcost",),
                         "max_cost_strategy": ("maxcoststrategy",)},
    "ratingplans": {"id": ("id", "tag"), "destination_rates": ("destinationratesid", "destinationratestag"),
                    "timing": ("timingtag", "timingid"), "weight": ("weight",)},
    "timings": {"id": ("id", "tag"), "years": ("years",), "months": ("months",), "month_days": ("monthdays",),
                "week_days": ("weekdays",), "time": ("time",)},
}
REQUIRED_FILES = ("destinations", "rates", "destinationrates")
OPTIONAL_COLUMNS = {"rounding", "decimals", "max_cost", "max_cost_strategy", "weight"}
WORKDAYS, FREE_DAYS = frozenset("12345"), (frozenset("67"), frozenset("06"))


@dataclass
class File:
    table: Table
    columns: dict[str, int]

    def cell(self, row: int, name: str) -> str:
        index = self.columns.get(name)
        return "" if index is None else self.table.rows[row][index]

    def refuse(self, row: int | None, name: str | None, rule: str) -> DeckError:
        line = self.table.lines[row] if row is not None else None
        column = self.table.header[self.columns[name]] if name in self.columns else name
        return DeckError(self.table.name, line, column, rule)

    def rows_by_id(self) -> dict[str, list[int]]:
        grouped: dict[str, list[int]] = {}
        for row in range(len(self.table.rows)):
            grouped.setdefault(self.cell(row, "id"), []).append(row)
        return grouped


def read(sources: list[tuple[str, bytes]], mapping: dict[str, str], notes: list[str],
         rating_plan: str | None = None) -> tuple[RateIn, ...]:
    if mapping:
        raise DeckError(sources[0][0], None, None, "CGRateS files have fixed columns: --map does not apply to them")
    files = _files(sources)
    plan = _Plan(files, notes)
    selected = plan.select(rating_plan)
    return build_rates(plan.rows(selected, rating_plan))


def _files(sources: list[tuple[str, bytes]]) -> dict[str, File]:
    files: dict[str, File] = {}
    for name, data in sources:
        table = read_table(name, data)
        kind = _kind(name, table)
        if kind in files:
            raise DeckError(name, None, None, f"is a second {kind} file (the first: {files[kind].table.name})")
        files[kind] = File(table, _columns(table, kind))
    for kind in REQUIRED_FILES:
        if kind not in files:
            given = ", ".join(name for name, _ in sources)
            raise DeckError(given, None, None, f"a CGRateS tariff plan needs {_file_name(kind)} (given: {given})")
    if not files["destinationrates"].table.rows:
        raise DeckError(files["destinationrates"].table.name, None, None,
                        f"no rates in {files['destinationrates'].table.name}")
    return files


def _file_name(kind: str) -> str:
    return {"destinations": "Destinations.csv", "rates": "Rates.csv", "destinationrates": "DestinationRates.csv",
            "ratingplans": "RatingPlans.csv", "timings": "Timings.csv"}[kind]


def _kind(name: str, table: Table) -> str:
    """The file's part of the plan: by its name (Rates.csv), else by its header."""
    stem = normal(PurePath(name).stem)
    if stem in COLUMNS:
        return stem
    header = {normal(cell) for cell in table.header}
    for kind, columns in COLUMNS.items():
        needed = [names for column, names in columns.items() if column not in OPTIONAL_COLUMNS]
        if all(any(name in header for name in names) for names in needed):
            return kind
    raise DeckError(name, 1, None, "is none of a CGRateS tariff plan's files (Destinations.csv, Rates.csv, "
                    "DestinationRates.csv, RatingPlans.csv, Timings.csv), by its name or its header")


def _columns(table: Table, kind: str) -> dict[str, int]:
    header = [normal(cell) for cell in table.header]
    found = {}
    for column, names in COLUMNS[kind].items():
        index = next((header.index(name) for name in names if name in header), None)
        if index is not None:
            found[column] = index
        elif column not in OPTIONAL_COLUMNS:
            raise DeckError(table.name, 1, names[0], f"required column is missing (the header: {', '.join(table.header)})")
    return found


@dataclass(frozen=True)
class Selected:
    file: File  # where the choice is made: DestinationRates.csv, or RatingPlans.csv for a plan
    row: int
    destination_rate: int  # its row in DestinationRates.csv
    timing: str


class _Plan:
    def __init__(self, files: dict[str, File], notes: list[str]) -> None:
        self.files, self.notes = files, notes
        self.destinations = files["destinations"].rows_by_id()
        self.rate_rows = files["rates"].rows_by_id()
        self.destination_rates = files["destinationrates"].rows_by_id()
        self.pricing: dict[str, Pricing] = {}
        self.noted: set[str] = set()

    def select(self, rating_plan: str | None) -> list[Selected]:
        rates = self.files["destinationrates"]
        if rating_plan is None:
            return [Selected(rates, row, row, ANY) for row in range(len(rates.table.rows))]
        plans = self.files.get("ratingplans")
        if plans is None:
            raise DeckError(rates.table.name, None, None, "--rating-plan needs RatingPlans.csv among the files")
        rows = plans.rows_by_id()
        if rating_plan not in rows:
            raise DeckError(plans.table.name, None, None, f'has no rating plan "{rating_plan}" (plans: '
                            f"{', '.join(sorted(rows))})")
        selected = []
        for row in rows[rating_plan]:
            wanted = plans.cell(row, "destination_rates")
            if wanted not in self.destination_rates:
                raise plans.refuse(row, "destination_rates", f'names destination rate "{wanted}", which '
                                   f"{rates.table.name} does not have")
            selected += [Selected(plans, row, rate_row, plans.cell(row, "timing") or ANY)
                         for rate_row in self.destination_rates[wanted]]
        return selected

    def rows(self, selected: list[Selected], rating_plan: str | None) -> Rows:
        rates = self.files["destinationrates"]
        files, lines, codes, pricing, days, starts = [], [], [], [], [], []
        for choice in selected:
            self._check_max_cost(choice.destination_rate)
            day_type, start = self._timing(choice)
            for code in self._prefixes(choice.destination_rate):
                files.append(choice.file.table.name)
                lines.append(choice.file.table.lines[choice.row])
                codes.append((code,))
                pricing.append(self._rate_group(rates.cell(choice.destination_rate, "rates"), choice.destination_rate))
                days.append(day_type)
                starts.append(start)
        ends = _window_ends(codes, days, starts)
        plans = self.files.get("ratingplans")
        hint = "" if rating_plan or plans is None else (
            f"; read one rating plan with --rating-plan (plans: {', '.join(sorted(plans.rows_by_id()))})")
        return Rows(files, lines, codes, pricing, day_type=days, start=starts, end=ends,
                    labels={"prefix": "DestinationId"}, repeat_hint=hint)

    def _prefixes(self, row: int) -> list[str]:
        rates = self.files["destinationrates"]
        destination = rates.cell(row, "destination")
        if destination == ANY:
            return [""]
        found = self.destinations.get(destination)
        if found is None:
            raise rates.refuse(row, "destination", f'"{destination}" is not in '
                               f"{self.files['destinations'].table.name}")
        places = self.files["destinations"]
        prefixes = []
        for place in found:
            try:
                prefixes.append(cells.prefix(places.cell(place, "prefix")))
            except ValueError as error:
                raise places.refuse(place, "prefix", str(error)) from None
        return prefixes

    def _check_max_cost(self, row: int) -> None:
        rates = self.files["destinationrates"]
        max_cost, strategy = rates.cell(row, "max_cost"), rates.cell(row, "max_cost_strategy")
        rounding, decimals = rates.cell(row, "rounding"), rates.cell(row, "decimals")
        if rounding and f"{rounding}/{decimals}" not in self.noted:
            self.noted.add(f"{rounding}/{decimals}")
            self.notes.append(f"{rates.table.name}: CGRateS rounding {rounding} to {decimals or '?'} decimals gives "
                              "way to the tariff's own rounding and decimals (one rounding per price)")
        try:
            capped = max_cost not in ("", "0") and field_rules.rate_money(max_cost) > 0
        except ValueError as error:
            raise rates.refuse(row, "max_cost", str(error)) from None
        if not capped:
            return
        if strategy == "*disconnect":
            self.notes.append(f"{rates.table.name} line {rates.table.lines[row]}: MaxCost {max_cost} *disconnect is "
                              "not enforced here (the price is not capped; cap the call at the switch)")
            return
        raise rates.refuse(row, "max_cost", f"MaxCost {max_cost} with strategy {strategy or '(none)'} caps the price, "
                           "which no rate here does: set MaxCost to 0 or the strategy to *disconnect")

    def _timing(self, choice: Selected) -> tuple[str | None, time | None]:
        """(day type, first second) of the timing; None for every day from midnight."""
        if choice.timing in (ANY, ""):
            return None, None
        timings = self.files.get("timings")
        if timings is None:
            raise choice.file.refuse(choice.row, "timing", f'timing "{choice.timing}" needs Timings.csv among the files')
        rows = timings.rows_by_id().get(choice.timing)
        if not rows:
            raise choice.file.refuse(choice.row, "timing", f'timing "{choice.timing}" is not in {timings.table.name}')
        row = rows[0]
        for column in ("years", "months", "month_days"):
            if timings.cell(row, column) not in (ANY, ""):
                raise timings.refuse(row, column, f'timing "{choice.timing}" runs on chosen dates; only weekly '
                                     "timings (Years, Months, MonthDays *any) are read")
        days = frozenset(timings.cell(row, "week_days").replace(";", ""))
        if timings.cell(row, "week_days") in (ANY, ""):
            day_type = None
        elif days == WORKDAYS:
            day_type = "WD"
        elif days in FREE_DAYS:
            day_type = "FD"
        else:
            raise timings.refuse(row, "week_days", f'"{timings.cell(row, "week_days")}" is neither Monday-Friday '
                                 '("1;2;3;4;5"), Saturday-Sunday ("6;7") nor *any')
        try:
            start = field_rules.time_of_day(timings.cell(row, "time"))
        except ValueError as error:
            raise timings.refuse(row, "time", str(error)) from None
        return day_type, start

    def _rate_group(self, rate_id: str, destination_rate: int) -> Pricing:
        known = self.pricing.get(rate_id)
        if known is not None:
            return known
        rates = self.files["rates"]
        rows = self.rate_rows.get(rate_id)
        if not rows:
            raise self.files["destinationrates"].refuse(destination_rate, "rates", f'"{rate_id}" is not in '
                                                        f"{rates.table.name}")
        slots = sorted((self._slot(rates, row) for row in rows), key=lambda slot: slot[0])
        first_row = rows[0]
        if slots[0][0] != 0:
            raise rates.refuse(first_row, "group_start", f'rate "{rate_id}" has no row from GroupIntervalStart 0s')
        fee = self._fee(rates, first_row)
        for previous, (start, _, _, row) in zip(slots, slots[1:]):
            if start == previous[0]:
                raise rates.refuse(row, "group_start", f'rate "{rate_id}" has two rows from {start}s')
        for row in rows[1:]:
            if self._fee(rates, row) not in (ZERO, fee):
                raise rates.refuse(row, "connect_fee", "CGRateS charges the connect fee of a rate's first row only: "
                                   "give it there")
        tiers = tuple(RateTier(from_seconds=start, rate=rate, increment=increment)
                      for start, rate, increment, _ in slots[1:])
        try:
            tier_rules.tier_layout(slots[0][2], [(tier.from_seconds, tier.increment) for tier in tiers])
        except tier_rules.TierLayoutError as error:
            raise rates.refuse(slots[(error.position or 0) + 1][3], "group_start", str(error)) from None
        found = self.pricing[rate_id] = Pricing(slots[0][1], fee, slots[0][2], 0, 0, tiers)
        return found

    def _fee(self, rates: File, row: int) -> Decimal:
        try:
            return cells.money(rates.cell(row, "connect_fee")) or ZERO
        except ValueError as error:
            raise rates.refuse(row, "connect_fee", str(error)) from None

    def _slot(self, rates: File, row: int) -> tuple[int, Decimal, int, int]:
        """(GroupIntervalStart s, rate per minute, increment s, row)."""
        values = {}
        for column in ("unit", "increment", "group_start"):
            try:
                values[column] = cells.go_duration(rates.cell(row, column))
            except ValueError as error:
                raise rates.refuse(row, column, str(error)) from None
        try:
            per_unit = field_rules.rate_money(rates.cell(row, "rate"))
        except ValueError as error:
            raise rates.refuse(row, "rate", str(error)) from None
        unit = values["unit"] or 1  # CGRateS reads a unit or an increment of 0 as 1 s
        with localcontext() as context:
            context.prec = 60
            per_minute = per_unit * 60 / unit
            if per_minute != per_minute.quantize(NINE_PLACES):
                raise rates.refuse(row, "unit", f"{per_unit} per {unit}s is {per_minute:.12f}... per minute: not an "
                                   "exact amount in 9 decimal places")
        try:
            per_minute = field_rules.rate_money(per_minute.quantize(NINE_PLACES).normalize())
        except ValueError as error:
            raise rates.refuse(row, "rate", str(error)) from None
        return values["group_start"], per_minute, values["increment"] or 1, row


def _window_ends(codes: list[tuple[str, ...]], days: list, starts: list) -> list[time | None]:
    """A timing runs until the next timing of the same prefix and day type starts."""
    by_day: dict[tuple, list[time]] = {}
    for code, day, start in zip(codes, days, starts):
        if start is not None:
            by_day.setdefault((code, day), []).append(start)
    ends = []
    for code, day, start in zip(codes, days, starts):
        if start is None:
            ends.append(None)
            continue
        later = [other for other in by_day[(code, day)] if other > start]
        ends.append(_second_before(min(later)) if later else LAST_SECOND)
    return ends


def _second_before(moment: time) -> time:
    seconds = moment.hour * 3600 + moment.minute * 60 + moment.second - 1
    return time(seconds // 3600, seconds // 60 % 60, seconds % 60)
