"""ASTPP's origination and termination rate imports (web_interface/astpp/assets/Rates_File/
*rates_sample.csv): Code, Destination, Connection Cost (USD), Grace Time, Cost / Min (USD),
Initial Increment, Increment[, Strip, Prepend].

ASTPP's "Grace Time" is its includedseconds (config.php maps one to the other): seconds taken off
every call before it is billed, not a threshold under which the call is free; the connection cost
is charged on every answered call. An increment of 0 is 1 s, as ASTPP reads it (astpp.cdr.php
calc_cost). Strip and Prepend route calls; they do not price them and are skipped.
"""
from __future__ import annotations

from functools import partial

from pipeline.reference.decks import generic
from pipeline.reference.decks.assemble import build_rates, concat
from pipeline.reference.decks.columns import ColumnNames, normal
from pipeline.reference.decks.one_table import read_rows
from pipeline.reference.decks.table import Table
from pipeline.schemas.reference import RateIn

NAMES = ColumnNames("astpp", {
    "prefix": ("code", "prefix", "pattern"),
    "destination": ("destination", "comment", "country"),
    "rate": ("costmin", "perminutecost", "costperminute", "cost", "rate"),
    "connection_fee": ("connectioncost", "connectcost", "connectcharge", "connectionfee"),
    "included_seconds": ("gracetime", "includedseconds", "includedsecond"),
    "initial_increment": ("initialincrement", "initincrement"),
    "increment": ("increment", "inc"),
    "effective_from": ("effectivefrom", "effectivedate"),
}, required=("prefix", "rate"), ranked=("destination",))
BILLING_FIELDS = ("rate", "connection_fee", "increment", "initial_increment", "included_seconds")
ROUTING_COLUMNS = ("strip", "prepend", "precedence", "trunk", "routingtype")  # route calls, price nothing


def read(tables: list[Table], mapping: dict[str, str], notes: list[str]) -> tuple[RateIn, ...]:
    parts = []
    for table in tables:
        table_mapping = {head: "-" for head in table.header if normal(head) in ROUTING_COLUMNS} | mapping
        parts.append(read_rows(table, NAMES, table_mapping, generic.parsers(table), BILLING_FIELDS,
                               partial(generic.price, zero_increment_is_one=True), notes, repeat_hint=""))
    return build_rates(concat(parts))
