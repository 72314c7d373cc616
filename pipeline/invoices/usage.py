"""An account's usage of a period from ClickHouse (rated_calls FINAL), and tariff currencies."""
from __future__ import annotations

import asyncio
from datetime import datetime
from zoneinfo import ZoneInfo

from pipeline.invoices import queries
from pipeline.invoices.assemble import Customer, UsageRow
from pipeline.invoices.directory import Directory
from pipeline.invoices.period import Period
from pipeline.settings import Settings
from pipeline.sinks.clickhouse import connect


def _usage_rows(rows) -> list[UsageRow]:
    return [UsageRow(prefix, currency, calls, seconds, amount) for prefix, currency, calls, seconds, amount in rows]


def run_query(settings: Settings, query: queries.Query) -> list[tuple]:
    client = connect(settings)
    try:
        return client.execute(query.sql, query.params)
    finally:
        client.disconnect()


async def account_usage(settings: Settings, customer: Customer, start: datetime, end: datetime) -> list[UsageRow]:
    query = queries.account_usage(settings.clickhouse_database, customer.type, customer.account, start, end)
    return _usage_rows(row[1:] for row in await asyncio.to_thread(run_query, settings, query))


async def tariff_currencies(settings: Settings) -> dict[str, str]:
    """Tariff id -> currency from ClickHouse's mirror of ref.tariffs (empty before the sink fills it)."""
    rows = await asyncio.to_thread(run_query, settings, queries.tariff_currencies(settings.clickhouse_database))
    return dict(rows)


async def usage_by_account(settings: Settings, directory: Directory, by_issuer: dict[str, list[Customer]],
                           period: Period) -> dict[tuple[str, str], list[UsageRow]]:
    """One ClickHouse query per account type and issuer time zone, not one per account."""
    wanted = {(c.type, directory.issuers[c.issuer].timezone) for cs in by_issuer.values() for c in cs}
    # the rows cover every account with calls: only these are invoiced now (one issuer's, for a
    # reseller invoicing his users), and another issuer may have no details at all
    invoiced_now = {c.account for cs in by_issuer.values() for c in cs}
    usage: dict[tuple[str, str], list[UsageRow]] = {}
    for account_type, zone_name in sorted(wanted):
        start, end = period.bounds(ZoneInfo(zone_name))
        query = queries.all_usage(settings.clickhouse_database, account_type, start, end)
        for invoiced, *row in await asyncio.to_thread(run_query, settings, query):
            customer = directory.customers.get(invoiced)
            # rows of another zone's query are for accounts whose issuer is in that other zone
            if (invoiced in invoiced_now and customer.type == account_type
                    and directory.issuers[customer.issuer].timezone == zone_name):
                usage.setdefault((account_type, invoiced), []).extend(_usage_rows([row]))
    return usage
