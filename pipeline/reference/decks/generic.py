"""The generic layout: one CSV file with a header, the columns named as carriers name them.

Besides the contract's own column names, a column is recognised by the names carriers' A-Z decks
use (`Code`, `Dial Code`, `Destination`, `Rate`, `Per Minute Cost`, `Connect Fee`, `Connection
Cost`, `Initial Increment`, `Increment`, `Billing Block`, `Billing Increment` "30/6" ...). Billing:
an increment cell "N/M" (or an initial increment N and an increment M) is a first block of N s
then blocks of M s counted after it; included (free) seconds come first; a `tiers` cell, or lines
with a `from_seconds` column, give later prices (docs/rate-decks.md).
"""
from __future__ import annotations

from typing import Any

from pipeline.reference.csv_rates import tiers_cell
from pipeline.reference.decks import cells
from pipeline.reference.decks.assemble import build_rates, concat
from pipeline.reference.decks.columns import ColumnNames
from pipeline.reference.decks.one_table import PricingRefused, common_parsers, read_rows
from pipeline.reference.decks.pricing import ZERO, Pricing, carrier_blocks
from pipeline.reference.decks.table import Table
from pipeline.schemas import tier_rules
from pipeline.schemas.reference import RateIn

NAMES = ColumnNames("generic", {
    "prefix": ("prefix", "code", "dialcode", "dialcodes", "dialprefix", "dialingcode", "dialingcodes", "codes",
               "destinationcode", "destcode", "prefixes", "pattern", "numberprefix"),
    "destination": ("destination", "destinationname", "description", "name", "dest", "zone", "area", "country",
                    "comment", "location"),
    "rate": ("rate", "rateperminute", "ratemin", "ratepermin", "perminutecost", "perminute", "permin", "costmin",
             "costperminute", "cost", "price", "priceperminute", "pricemin", "pricepermin", "minuterate", "sellrate",
             "rateinitial", "value", "perminutecharge", "chargeperminute"),
    "connection_fee": ("connectionfee", "connectfee", "connectioncost", "connectcost", "connectioncharge",
                       "connectcharge", "setupfee", "setupcharge", "setupcost", "connection"),
    "increment": ("increment", "billingincrement", "billingblock", "subsequentincrement", "nextincrement", "inc",
                  "increments", "billingincrements", "interval", "billinginterval", "nextinterval", "chargeperiod"),
    "initial_increment": ("initialincrement", "initincrement", "firstincrement", "initialblock", "initblock",
                          "firstinterval", "initialinterval", "initialperiod"),
    "billing": ("billing", "billingrule", "billingcycle", "billingunit", "billingterms"),
    "min_time": ("mintime", "minimumtime", "minduration", "minimumduration", "minimum", "minimumseconds",
                 "minseconds"),
    "grace_time": ("gracetime", "grace", "graceperiod", "graceseconds"),
    "included_seconds": ("includedseconds", "freeseconds", "included", "freetime"),
    "tiers": ("tiers",),
    "from_seconds": ("fromseconds", "fromsecond", "groupintervalstart", "intervalstart", "tierstart", "startsecond"),
    "effective_from": ("effectivefrom", "effectivedate", "effective", "validfrom", "startdate", "activationdate",
                       "datefrom", "effectivetime"),
    "day_type": ("daytype", "days"),
    "start": ("start", "starttime", "timefrom"),
    "end": ("end", "endtime", "timeto"),
}, required=("prefix", "rate"), ranked=("destination",))

BILLING_FIELDS = ("rate", "connection_fee", "increment", "initial_increment", "billing", "min_time", "grace_time",
                  "included_seconds", "tiers")
REPEAT_HINT = ('; a price from a later second of the call goes on a line of its own with a "from_seconds" column, '
               'or in the first line\'s "tiers" cell')


def blocks(text: str) -> tuple[int | None, int] | None:
    """An increment cell: "6" (blocks of 6 s), or "30/6" (a first block of 30 s, then 6 s)."""
    if not text:
        return None
    first, slash, then = text.partition("/")
    if not slash:
        return None, cells.seconds(text)
    return cells.seconds(first.strip()) or 0, cells.seconds(then.strip()) or 0


def parsers(table: Table) -> dict[str, Any]:
    common = common_parsers(table)
    money, seconds = common["money"], common["seconds"]
    return {**common, "rate": money, "connection_fee": money, "increment": blocks, "billing": blocks,
            "initial_increment": seconds, "min_time": seconds, "grace_time": seconds, "included_seconds": seconds,
            "from_seconds": seconds, "tiers": tiers_cell}


def price(values: dict[str, Any], zero_increment_is_one: bool = False) -> Pricing:
    """A row's billing fields as a rate's pricing (carrier blocks, docs/rate-decks.md)."""
    rate, fee = values["rate"], values.get("connection_fee") or ZERO
    pair = values.get("increment") or values.get("billing") or (None, 1)
    first = values.get("initial_increment") or pair[0] or 0
    then = pair[1]
    if then == 0:
        if not zero_increment_is_one:
            raise PricingRefused("increment", 'must be a whole number >= 1 (got "0")')
        then = 1
    free, min_time, grace = (values.get(name) or 0 for name in ("included_seconds", "min_time", "grace_time"))
    tiers = values.get("tiers") or ()
    if not tiers:
        return carrier_blocks(rate, fee, first, then, free, min_time, grace)
    if free or first % then:
        raise PricingRefused("tiers", "a tiers cell cannot be combined with included seconds or a first block "
                             "that is not a whole number of increments (they would need tiers of their own)")
    try:
        tier_rules.tier_layout(then, [(tier.from_seconds, tier.increment) for tier in tiers])
    except ValueError as error:
        raise PricingRefused("tiers", str(error)) from None
    return Pricing(rate, fee, then, max(first, min_time), grace, tiers)


def read(tables: list[Table], mapping: dict[str, str], notes: list[str]) -> tuple[RateIn, ...]:
    """The rates of the files, one deck (a carrier's deck split in parts)."""
    return build_rates(concat([read_rows(table, NAMES, mapping, parsers(table), BILLING_FIELDS, price, notes,
                                         repeat_hint=REPEAT_HINT) for table in tables]))
