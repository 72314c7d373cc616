"""`python -m pipeline rates import FILE... --layout generic|cgrates|astpp|a2billing [--map COLUMN=FIELD ...]
--tariff ID`: a rate deck as a carrier or another billing system sends it, into a tariff's rates."""
from __future__ import annotations

import asyncio
import sys

import click

from pipeline.logging_setup import setup_logging
from pipeline.reference.decks import LAYOUTS, DeckError, parse_mapping
from pipeline.reference.publish import ApplyError
from pipeline.reference.rates_import import import_rates
from pipeline.settings import Settings


@click.group(help="A tariff's rates: import a deck in a carrier's or another billing system's layout.")
def rates() -> None:
    pass


@rates.command("import", help="Read FILEs (one deck: a CGRateS plan is several files) and replace tariff ID's rates "
                              "with them, all or nothing. Errors name the file, line and column.")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--layout", type=click.Choice(LAYOUTS), default="generic", show_default=True,
              help="generic: one CSV, columns by their usual names; cgrates: Destinations.csv, Rates.csv, "
                   "DestinationRates.csv [RatingPlans.csv Timings.csv]; astpp, a2billing: their rate imports")
@click.option("--map", "mappings", multiple=True, metavar="COLUMN=FIELD",
              help="read COLUMN (a header cell, or a column number) as FIELD; FIELD - skips it. Repeatable.")
@click.option("--tariff", "tariff_id", required=True, help="the tariff whose rates the deck replaces (it must exist)")
@click.option("--rating-plan", default=None, help="cgrates: only the destination rates of this RatingPlans.csv plan")
@click.option("--dry-run", is_flag=True, help="read and check the deck only; nothing is read from Kafka or published")
def import_deck(files: tuple[str, ...], layout: str, mappings: tuple[str, ...], tariff_id: str,
                rating_plan: str | None, dry_run: bool) -> None:
    setup_logging("WARNING")
    try:
        mapping = parse_mapping(mappings)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--map") from None
    try:
        imported = asyncio.run(import_rates(Settings(), list(files), layout, mapping, tariff_id, rating_plan, dry_run))
    except DeckError as exc:
        click.echo(f"nothing published: {exc}", err=True)
        sys.exit(1)
    except ApplyError as exc:
        click.echo(f"nothing published: {len(exc.errors)} error(s)", err=True)
        for line in exc.errors:
            click.echo(f"  {line}", err=True)
        sys.exit(1)
    for note in imported.deck.notes:
        click.echo(f"note: {note}", err=True)
    rates_read = imported.deck.rates
    tiered = sum(1 for rate in rates_read if rate.tiers)
    verb = f"published into tariff {tariff_id}" if imported.published else "read (--dry-run: nothing published)"
    click.echo(f"{len(rates_read):,} rates {verb}; {tiered:,} with tiers")
