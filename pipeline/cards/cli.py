"""`cards generate GROUP --count N [--sold]`, `cards sell|block|unblock NUMBER...`, `cards list GROUP`
(CONTRACT v3 "Calling cards"). Card groups themselves are written with `ref apply` or the API."""
from __future__ import annotations

import asyncio
import sys
from decimal import Decimal

import click

from pipeline.cards.batch import CardRefused, card_row, change_state
from pipeline.cards.batch import generate as make_batch
from pipeline.cards.publish import current_book, publish_payments, publish_records
from pipeline.control_topic import current_balances
from pipeline.logging_setup import setup_logging
from pipeline.reference.publish import ApplyError
from pipeline.settings import Settings


def register(group: click.Group) -> None:
    group.add_command(cards)


@click.group(help="Calling cards: generate batches (the only time PINs are shown), sell, block, unblock, list.")
def cards() -> None:
    pass


@cards.command(help="Make COUNT new cards in GROUP, publish them (PINs as hashes only) with their face "
                    "values, and print the CSV number,pin,balance for the printer.")
@click.argument("group")
@click.option("--count", required=True, type=click.IntRange(min=1), help="how many cards")
@click.option("--sold", is_flag=True, help="the cards are sold at once (default: new, not usable until sold)")
def generate(group: str, count: int, sold: bool) -> None:
    settings = Settings()
    setup_logging("WARNING")

    async def run():
        book = await current_book(settings)
        made = make_batch(book, group, count, sold)
        await publish_records(settings, book, made.records())
        await publish_payments(settings, made.payments)
        return made

    try:
        made = asyncio.run(run())
    except (CardRefused, ApplyError) as exc:
        _refused(exc)
    out = sys.stdout
    for line in made.csv_lines():
        out.write(line)
    out.flush()


def _state_command(action: str, help_text: str):
    @click.argument("numbers", nargs=-1, required=True)
    def command(numbers: tuple[str, ...]) -> None:
        settings = Settings()
        setup_logging("WARNING")

        async def run() -> None:
            book = await current_book(settings)
            records = [record for number in dict.fromkeys(numbers) for record in change_state(book, number, action)]
            await publish_records(settings, book, records)

        try:
            asyncio.run(run())
        except (CardRefused, ApplyError) as exc:
            _refused(exc)
        click.echo(f"{action}: {len(set(numbers))} card(s)")

    return cards.command(action, help=help_text)(command)


_state_command("sell", "Mark NUMBERs sold: they may call from now on.")
_state_command("block", "Block NUMBERs: refused from now on, running calls ended (their accounts are blocked).")
_state_command("unblock", "Unblock NUMBERs: they are sold (usable) again.")


@cards.command("list", help="The cards of GROUP: number, state, balance (never a PIN).")
@click.argument("group")
def list_cards(group: str) -> None:
    settings = Settings()
    book = asyncio.run(current_book(settings))
    if book.card_group(group) is None:
        click.echo(f'card group "{group}" does not exist', err=True)
        sys.exit(1)
    balances = asyncio.run(current_balances(settings))
    click.echo(f"{'number':<22} {'state':<8} {'balance':>16}")
    found = book.cards_of_group(group)
    for card in found:
        row = card_row(book, card, balances.get(card.number, Decimal(0)))
        click.echo(f"{row['number']:<22} {row['state']:<8} {row['balance']:>16}")
    click.echo(f"{len(found)} card(s)")


def _refused(exc: Exception) -> None:
    errors = getattr(exc, "errors", None) or [str(exc)]
    click.echo(f"nothing published: {len(errors)} error(s)", err=True)
    for line in errors[:50]:
        click.echo(f"  {line}", err=True)
    sys.exit(1)
