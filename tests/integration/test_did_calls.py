"""Calls to a DID on the real pipeline: priced for every party, charged to the accounts
that pay (exactly), stored in rated_calls with the DID columns, and the DID blocked with its owner.

r1 gave DID 37052000001 to u1 at 0.8/min (his owner_rate); the admin's rates: incoming 0.1,
owner 0.5, provider 0.02 per minute. Two 60 s calls, one from outside via p1 and one from u2.
"""
from __future__ import annotations

import asyncio
from decimal import Decimal

import orjson

from pipeline.control_topic import account_states, current_balances
from pipeline.invoices.issuer import publish_issuer
from pipeline.invoices.period import Period
from pipeline.invoices.service import issue_invoice
from pipeline.kafka.topic_io import produce_all
from pipeline.reference.publish import current_book, publish, read_files, refuse_broken
from pipeline.sinks.clickhouse import connect
from tests.fixtures.invoices.seed import ADMIN, RESELLER
from tests.integration.kit import seed_reference, start_worker, wait_for

DID = "37052000001"
RATES = {"incoming": {"rate": "0.1"}, "owner": {"rate": "0.5"}, "provider": {"rate": "0.02"}}


async def publish_as(settings, writer: str, path) -> None:
    """What the API does for a reseller: his ownership rules, then publish."""
    located = read_files([str(path)])
    refuse_broken(await current_book(settings), located, writer)
    await publish(settings, located)


def did_rows(settings) -> list[tuple]:
    client = connect(settings)
    try:
        return client.execute(
            f"SELECT call_id, account, did_owner, reseller, toString(did_incoming_price), toString(did_owner_price), "
            f"toString(did_reseller_owner_price), toString(did_provider_price), toString(reseller_profit), "
            f"toString(admin_profit), rating_version FROM {settings.clickhouse_database}.rated_calls FINAL "
            "WHERE did != '' ORDER BY call_id")
    finally:
        client.disconnect()


async def test_calls_to_a_did_are_priced_charged_and_stored_for_every_party(settings_factory, tmp_path):
    settings = settings_factory()
    await seed_reference(settings)
    admin_file, reseller_file = tmp_path / "did-admin.json", tmp_path / "did-r1.json"
    admin_file.write_bytes(orjson.dumps({"kind": "did", "number": DID, "reseller": "r1", "user": "u1", "rates": RATES}))
    reseller_file.write_bytes(orjson.dumps({"kind": "did", "number": DID, "reseller": "r1", "user": "u1",
                                            "rates": RATES, "owner_rate": {"rate": "0.8"}}))
    await seed_reference(settings, admin_file)
    await publish_as(settings, "r1", reseller_file)
    worker = start_worker(settings)
    try:
        base = {"server_id": "ast1", "dst": DID, "did": DID, "start_time": "2026-11-25T10:00:00Z", "billsec": 60}
        await produce_all(settings, "cdr.raw", [
            (b"a", orjson.dumps({**base, "call_id": "outside", "account": "", "provider": "p1"})),
            (b"b", orjson.dumps({**base, "call_id": "local", "account": "u2"})),
        ])
        rows = await wait_for(lambda: len(did_rows(settings)) == 2 and did_rows(settings), 90, "two DID calls", worker)
        exact = [(call, caller, owner, reseller, *map(Decimal, prices), version)
                 for call, caller, owner, reseller, *prices, version in rows]
        assert exact == [  # incoming, owner, reseller -> admin, provider, reseller profit, admin profit
            ("local", "u2", "u1", "r1", *map(Decimal, ("0.1", "0.8", "0.5", "0", "0.3", "0.6")), 1),
            ("outside", "", "u1", "r1", *map(Decimal, ("0", "0.8", "0.5", "0.02", "0.3", "0.52")), 1),
        ]
        await asyncio.sleep(2)
        balances = await current_balances(settings)
        assert (balances["u1"], balances["r1"], balances["u2"]) == (Decimal("-1.6"), Decimal("-1.0"), Decimal("-0.1"))

        # each one's invoice (ClickHouse 18.16 here) is what his balance was charged: u1 his DID,
        # u2 his call to it, r1 what he pays the admin for his user's DID
        await publish_issuer(settings, ADMIN)
        await publish_issuer(settings, RESELLER)
        for account, line in (("u1", f"DID {DID}: calls received"), ("u2", f"Calls to DID {DID}"),
                              ("r1", f"DID {DID}: calls received")):
            invoice = await issue_invoice(settings, account, Period(2026, 11), draft=True)
            assert invoice.subtotal == -balances[account], (account, invoice.lines)
            assert [(l.description, l.calls) for l in invoice.lines] == [(line, 2 if account != "u2" else 1)]

        # u1 is prepaid and now below 0: blocked; his DID costs him 0.8/min, so it is blocked too
        states = await wait_for(lambda: _state_of(settings, "u1"), 30, "u1 blocked", worker)
        assert states["u1"]["state"] == "blocked"
        states = await wait_for(lambda: _state_of(settings, f"did:{DID}"), 30, "the DID blocked", worker)
        assert states[f"did:{DID}"]["state"] == "blocked"
    finally:
        worker.stop()


async def _state_of(settings, key: str):
    states = await account_states(settings)
    return states if states.get(key, {}).get("state") == "blocked" else None

