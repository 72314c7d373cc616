"""A2Billing's rate card import (admin/Public/CC_ratecard_import.php): fields separated by "," or
";", the first three always dialprefix, destination, rateinitial, then the extra fields the
operator picked, in his order. A2Billing's files have no header, so the extra columns are named
with `--map 4=initblock --map 5=billingblock ...`; a file whose first line names A2Billing's fields
is read by that header instead.

Pricing follows Class.RateEngine.php rate_engine_calculcost (docs/rate-decks.md): a flat rate
(initblock, billingblock) or a progressive one (cycles a, b, c: chargeX per minute for timechargeX
seconds in blocks of billingblockX, stepchargea added to the connection charge, nothing after the
last cycle). connectcharge and disconnectcharge are the connection fee. What A2Billing prices in
ways no rate of ours can (a minimal cost, a disconnect charge after N seconds, additional grace,
rounding thresholds, block charges, step charges b and c, a time-of-week window other than the
whole week) is refused, naming the line and the field, never dropped. buyrate* price the carrier
side: skipped, unless --map reads them (`--map buyrate=rateinitial` makes a provider tariff).
"""
from __future__ import annotations

from typing import Any

from pipeline.reference.decks import cells
from pipeline.reference.decks.assemble import Rows, build_rates, concat
from pipeline.reference.decks.columns import ColumnNames, normal
from pipeline.reference.decks.errors import DeckError
from pipeline.reference.decks.one_table import PricingRefused, common_parsers, read_rows
from pipeline.reference.decks.pricing import ZERO, Pricing, a2billing_flat, a2billing_progressive
from pipeline.reference.decks.table import Table, read_table
from pipeline.schemas.reference import RateIn

WEEK_END_MINUTE = 10079  # A2Billing's starttime/endtime are minutes of the week, Monday 00:00 = 0
POSITIONAL = ("prefix", "destination", "rate")  # dialprefix, destination, rateinitial
MONEY_FIELDS = ("connectcharge", "disconnectcharge", "minimal_cost", "stepchargea", "chargea", "stepchargeb",
                "chargeb", "stepchargec", "chargec", "additional_block_charge")
SECONDS_FIELDS = ("initblock", "billingblock", "disconnectcharge_after", "timechargea", "billingblocka",
                  "timechargeb", "billingblockb", "timechargec", "billingblockc", "additional_grace",
                  "rounding_calltime", "rounding_threshold", "additional_block_charge_time", "starttime", "endtime")
SKIPPED_FIELDS = ("buyrate", "buyrateinitblock", "buyrateincrement", "tag", "announce_time_correction", "stopdate")
ALIASES = {"dialprefix": "prefix", "rateinitial": "rate", "startdate": "effective_from"}
NAMES = ColumnNames("a2billing", {
    "prefix": ("dialprefix", "prefix"),
    "destination": ("destination",),
    "rate": ("rateinitial", "sellingrate", "sellrate"),
    "effective_from": ("startdate",),
    **{name: (normal(name),) for name in (*MONEY_FIELDS, *SECONDS_FIELDS, *SKIPPED_FIELDS)},
}, required=("prefix", "rate"), aliases=ALIASES)
BILLING_FIELDS = ("rate", *MONEY_FIELDS, *SECONDS_FIELDS)
# what A2Billing does with these has no rate of ours: refused when not 0
UNPRICEABLE = {"minimal_cost": "a minimum call cost", "disconnectcharge_after": "a disconnect charge only after "
               "N seconds", "additional_grace": "seconds added to every call", "rounding_calltime": "rounding of "
               "the call time past a threshold", "rounding_threshold": "rounding of the call time past a threshold",
               "additional_block_charge": "a charge per block of time", "additional_block_charge_time": "a charge per "
               "block of time", "stepchargeb": "a step charge on entering cycle b",
               "stepchargec": "a step charge on entering cycle c"}


def parsers(table: Table) -> dict[str, Any]:
    common = common_parsers(table)
    return {**common, "rate": common["money"], **{name: common["money"] for name in MONEY_FIELDS},
            **{name: common["seconds"] for name in SECONDS_FIELDS}, "stopdate": cells.instant,
            **{name: str for name in SKIPPED_FIELDS if name != "stopdate"}}


def price(values: dict[str, Any]) -> Pricing:
    def get(name: str):
        return values.get(name) or 0

    for name, what in UNPRICEABLE.items():
        if get(name):
            raise PricingRefused(name, f"{name} {values[name]} is {what}, which no rate here prices; set it to 0 "
                                 "or leave the field out")
    start, end = values.get("starttime") or 0, values.get("endtime")
    if start != 0 or end not in (None, 0, WEEK_END_MINUTE):
        raise PricingRefused("starttime", f"the week minutes {start}-{end} are not the whole week (0-{WEEK_END_MINUTE}); "
                             "only whole-week rates are read (day types and daily windows: the generic layout)")
    fee = (get("connectcharge") or ZERO) + (get("disconnectcharge") or ZERO)
    if not (get("chargea") and get("timechargea")):
        return a2billing_flat(values["rate"], fee, get("initblock"), get("billingblock"))
    cycles = [(values["chargea"], values["timechargea"], get("billingblocka"))]
    for cycle in "bc":
        if not (get(f"charge{cycle}") and get(f"timecharge{cycle}")):
            break
        cycles.append((values[f"charge{cycle}"], values[f"timecharge{cycle}"], get(f"billingblock{cycle}")))
    try:
        return a2billing_progressive(cycles, fee + (get("stepchargea") or ZERO), get("initblock"))
    except ValueError as error:
        blamed = next((name for name in ("timechargeb", "timechargec") if name in str(error)), "timechargea")
        raise PricingRefused(blamed, str(error)) from None


def has_header(table: Table) -> bool:
    first = table.rows[0] if table.rows else []
    known = {normal(name) for names in NAMES.names.values() for name in names} | set(ALIASES)
    return bool(first) and normal(first[0]) in known


def read(sources: list[tuple[str, bytes]], mapping: dict[str, str], notes: list[str]) -> tuple[RateIn, ...]:
    parts = []
    for name, data in sources:
        table = read_table(name, data, has_header=False)
        if has_header(table):
            table = read_table(name, data)
            positional: tuple[str, ...] = ()
        else:
            positional = POSITIONAL
        rows = read_rows(table, NAMES, mapping, parsers(table), BILLING_FIELDS, price, notes, positional=positional)
        _check_stopdates(table, rows)
        unpriced = [name for name in SKIPPED_FIELDS if name in rows.extra and name != "stopdate"]
        if unpriced:
            notes.append(f"{name}: {', '.join(unpriced)} read but not priced (--map buyrate=rateinitial reads the "
                         "buy side instead)")
        parts.append(rows)
    return build_rates(concat(parts))


def _check_stopdates(table: Table, rows: Rows) -> None:
    """A rate that stops is taken when the same prefix's next rate starts at that moment (the next
    version replaces it, as here); a stop with nothing after it would have to be dropped: refused."""
    stops = rows.extra.get("stopdate")
    if stops is None:
        return
    starts = {(code, start) for codes, start in zip(rows.codes, rows.effective_from or [None] * len(rows.codes))
              for code in codes}
    for row, stop in enumerate(stops):
        if stop is not None and any((code, stop) not in starts for code in rows.codes[row]):
            raise DeckError(table.name, table.lines[row], rows.labels.get("stopdate"), f"the rate stops at {stop:%Y-%m-%d %H:%M:%S} and "
                            "no rate of the same dial prefix starts then: a tariff here has no end date, a newer "
                            "rate replaces an older one")
