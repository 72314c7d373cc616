"""`rates import FILE... --layout L --tariff ID`: a deck read (pipeline/reference/decks) into an
existing tariff's rates, checked by the write rules and published the way `ref apply` publishes
(publish.refuse_broken, publish.publish): the tariff's rates are replaced whole, or nothing is.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import orjson

from pipeline.kafka.topics import LARGE_MESSAGE_BYTES
from pipeline.reference.decks import Deck, DeckError, read_deck
from pipeline.reference.publish import ApplyError, Located, current_book, publish, refuse_broken
from pipeline.schemas.reference import TariffIn
from pipeline.settings import Settings

SIZE_SAMPLE = 1000  # rates serialized to estimate a tariff record's size before it is sent


@dataclass(frozen=True)
class Imported:
    tariff: TariffIn
    deck: Deck
    published: bool


def read_files(paths: list[str], layout: str, mapping: dict[str, str], rating_plan: str | None = None) -> Deck:
    files = []
    for path in paths:
        try:
            files.append((Path(path).name, Path(path).read_bytes()))
        except OSError as exc:
            raise DeckError(path, None, None, f"cannot be read: {exc.strerror or exc}") from None
    return read_deck(files, layout, mapping, rating_plan)


def check_record_size(tariff: TariffIn) -> None:
    """A tariff is one Kafka record of at most LARGE_MESSAGE_BYTES: a deck too big for it is
    refused here, by an estimate from a sample of its rates, rather than by the broker."""
    rates = tariff.rates
    if not rates:
        return
    sample = rates[:SIZE_SAMPLE]
    estimate = len(orjson.dumps([rate.model_dump(mode="json") for rate in sample])) * len(rates) // len(sample)
    if estimate > LARGE_MESSAGE_BYTES * 0.95:
        fits = int(len(rates) * LARGE_MESSAGE_BYTES * 0.95 / estimate)
        raise ApplyError([f'tariff "{tariff.id}": {len(rates):,} rates make a record of about {estimate / 1e6:.0f} MB; '
                          f"a tariff is published as one record of at most {LARGE_MESSAGE_BYTES / 1e6:.0f} MB "
                          f"(about {fits:,} such rates): split the deck over several tariffs"])


async def import_rates(settings: Settings, paths: list[str], layout: str, mapping: dict[str, str], tariff_id: str,
                       rating_plan: str | None = None, dry_run: bool = False) -> Imported:
    """Raises DeckError for the deck, ApplyError for the tariff or the write rules. With
    `dry_run` the deck is read and checked on its own: nothing is read from Kafka or written."""
    deck = read_files(paths, layout, mapping, rating_plan)
    if dry_run:
        return Imported(TariffIn(id=tariff_id, rates=()), deck, False)
    book = await current_book(settings)
    header = book.tariff(tariff_id)
    if header is None:
        raise ApplyError([f'tariff "{tariff_id}" does not exist: create it first (ref apply, or PUT /v1/tariffs/'
                          f"{tariff_id}), then import its rates"])
    record = header.model_copy(update={"rates": deck.rates})
    check_record_size(record)
    located = [Located(", ".join(paths), 1, record)]
    refuse_broken(book, located)
    await publish(settings, located)
    return Imported(record, deck, True)
