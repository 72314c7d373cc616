"""Calling cards on the real broker through the `cards` CLI: a reseller's group, a batch generated
--sold, its face value on each card's balance, a call of the card (account = its number) charged
through the reseller's chain, a card blocked, and a second batch never reusing a number.
(Authorization by card + PIN is tests/integration/test_card_authorize.py's.)"""
from __future__ import annotations

import asyncio
import csv
import io
import json
from decimal import Decimal

import click
import orjson
from click.testing import CliRunner

from devkit.worker_process import settings_env
from pipeline.cards.cli import register
from pipeline.cards.publish import current_book
from pipeline.control_topic import current_balances
from pipeline.kafka.topic_io import produce_all, read_all
from pipeline.schemas import wire
from pipeline.settings import REPO_ROOT
from tests.integration.kit import seed_reference, start_worker, wait_for

FIXTURE = REPO_ROOT / "tests" / "fixtures" / "cards" / "reseller_cards.json"
# no setup fee: the charge of the call is the tariff's alone
PLAIN_GROUP = {"kind": "card_group", "id": "g-plain", "owner": "r1", "tariff": "t-r1-cards", "currency": "EUR",
               "face_value": "5", "number_length": 10, "pin_length": 6}


def test_cards_generated_sold_charged_through_the_reseller_and_blocked(settings_factory, tmp_path):
    settings = settings_factory()
    group_file = tmp_path / "group.json"
    group_file.write_text(json.dumps([PLAIN_GROUP]))
    asyncio.run(seed_reference(settings, FIXTURE, group_file))

    @click.group()
    def cli():
        pass

    register(cli)
    runner = CliRunner()

    def invoke(*args: str, code: int = 0):
        result = runner.invoke(cli, list(args), env=settings_env(settings))
        assert result.exit_code == code, (result.output, result.exception)
        return result

    worker = start_worker(settings)
    try:
        rows = list(csv.reader(io.StringIO(invoke("cards", "generate", "g-plain", "--count", "3", "--sold").stdout)))
        assert rows[0] == ["number", "pin", "balance"] and len(rows) == 4
        numbers = [r[0] for r in rows[1:]]
        assert all(len(n) == 10 and len(r[1]) == 6 and r[2] == "5" for n, r in zip(numbers, rows[1:]))
        card = numbers[0]

        book = asyncio.run(current_book(settings))
        assert [book.card(n).state for n in numbers] == ["sold"] * 3
        assert (book.account(card).parent, book.account(card).tariff) == ("r1", "t-r1-cards")

        async def balance_of(account: str):
            return (await current_balances(settings)).get(account)

        asyncio.run(wait_for(lambda: _is(balance_of(card), Decimal(5)), 60, "the face value", worker))

        cdr = {"call_id": "card-call-1", "server_id": "ivr1", "account": card, "dst": "37060000000",
               "start_time": "2026-12-01T10:00:00Z", "billsec": 60}
        asyncio.run(produce_all(settings, "cdr.raw", [(b"card-call-1", orjson.dumps(cdr))]))
        # the card pays its tariff (0.3/min), the reseller his (0.1/min), in the same step
        asyncio.run(wait_for(lambda: _is(balance_of(card), Decimal("4.7")), 60, "the card charged", worker))
        asyncio.run(wait_for(lambda: _is(balance_of("r1"), Decimal("-0.1")), 60, "the reseller charged", worker))
        rated = [wire.decode("rated_call.v1", m.value) for m in asyncio.run(read_all(settings, "cdr.rated"))]
        assert [(r["account"], r["reseller"], Decimal(r["user_price"]), Decimal(r["reseller_price"])) for r in rated] \
            == [(card, "r1", Decimal("0.3"), Decimal("0.1"))]

        invoke("cards", "block", card)
        book = asyncio.run(current_book(settings))
        assert book.card(card).state == "blocked" and book.account(card).blocked is True
        listed = invoke("cards", "list", "g-plain").stdout
        assert f"{card}" in listed and "blocked" in listed and "pbkdf2" not in listed
        assert not any(r[1] in listed.split() for r in rows[1:])  # no PIN in the listing
        invoke("cards", "unblock", "0000000000", code=1)  # an unknown card: nothing published

        again = list(csv.reader(io.StringIO(invoke("cards", "generate", "g-plain", "--count", "50").stdout)))[1:]
        assert len(again) == 50 and not {r[0] for r in again} & set(numbers)
        assert len(asyncio.run(current_book(settings)).cards_of_group("g-plain")) == 53
    finally:
        worker.stop()


async def _is(value, expected) -> bool:
    return (await value) == expected
