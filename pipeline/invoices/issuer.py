"""Who issues invoices: an account's invoice details and logo, and where they are kept.

Both live on compacted topics keyed by account id: `ref.issuers` (the details as JSON) and
`ref.logos` (the image bytes, its content type in the `content-type` header). The installation's
own details (the admin invoicing resellers and direct users) are the issuer with id `admin`.
"""
from __future__ import annotations

from pipeline.invoices import ledger  # ledger.read_invoices at call time: tests replace it

# IssuerDetails and check_logo are part of this module's interface (the API imports them from here)
from pipeline.invoices.details import ADMIN_ISSUER, IssuerDetails, Tax  # noqa: F401
from pipeline.invoices.logo import check_logo, clean_logo, stored_logo
from pipeline.invoices.prefixes import PrefixTaken, check_prefix, prefix_holders
from pipeline.invoices.topics import ensure_invoice_topics
from pipeline.kafka.clients import KafkaClients
from pipeline.kafka.topic_io import produce_all, read_all
from pipeline.kafka.topics import REF_ISSUERS, REF_LOGOS
from pipeline.settings import Settings

__all__ = ["ADMIN_ISSUER", "IssuerDetails", "PrefixTaken", "Tax", "check_logo", "publish_issuer", "read_issuers",
           "publish_logo", "read_logo", "read_logos", "prefix_holders_now"]
CONTENT_TYPE_HEADER = "content-type"


async def publish_issuer(settings: Settings, details: IssuerDetails) -> None:
    """Set (or replace) an account's invoice details; PrefixTaken if his number_prefix is another issuer's."""
    await ensure_invoice_topics(settings)
    check_prefix(details.account, details.number_prefix, await prefix_holders_now(settings))
    value = details.model_dump_json().encode()
    await produce_all(settings, REF_ISSUERS, [(details.account.encode(), value)])


async def prefix_holders_now(settings: Settings) -> dict[str, set[str]]:
    """Every number prefix in use, by current details and by issued invoices (pipeline/invoices/prefixes.py)."""

    issued = {(i.issuer, i.issuer_details.number_prefix) for i in await ledger.read_invoices(settings)}
    return prefix_holders(await read_issuers(settings), issued)


async def read_issuers(settings: Settings) -> dict[str, IssuerDetails]:
    """Every account's current invoice details, by account id."""
    await ensure_invoice_topics(settings)
    issuers: dict[str, IssuerDetails] = {}
    for message in await read_all(settings, REF_ISSUERS):
        account = message.key.decode()
        if message.value is None:  # a tombstone: the details were removed
            issuers.pop(account, None)
        else:
            issuers[account] = IssuerDetails.model_validate_json(message.value)
    return issuers


async def publish_logo(settings: Settings, account: str, data: bytes, content_type: str) -> str:
    """Check and store an account's logo (an SVG as sanitised, not as uploaded); returns its normalised
    content type."""
    data, normalised = clean_logo(data, content_type)
    await ensure_invoice_topics(settings)
    # produce_all has no headers; the content type travels as one so the value stays the image itself
    producer = KafkaClients(settings).producer()
    await producer.start()
    try:
        await producer.send_and_wait(
            settings.topic(REF_LOGOS),
            data,
            key=account.encode(),
            headers=[(CONTENT_TYPE_HEADER, normalised.encode())],
        )
    finally:
        await producer.stop()
    return normalised


async def read_logo(settings: Settings, account: str) -> tuple[bytes, str] | None:
    """An account's logo as (bytes, content type), or None when it has none."""
    return (await read_logos(settings)).get(account)


async def read_logos(settings: Settings) -> dict[str, tuple[bytes, str]]:
    """Every account's logo as (bytes, content type), by account id."""
    await ensure_invoice_topics(settings)
    logos: dict[str, tuple[bytes, str]] = {}
    for message in await read_all(settings, REF_LOGOS):
        account = message.key.decode()
        if message.value is None:
            logos.pop(account, None)
            continue
        headers = {name: value for name, value in (message.headers or ())}
        content_type = headers.get(CONTENT_TYPE_HEADER, b"image/png").decode()
        # logos stored before SVGs were sanitised are sanitised here: one that cannot be is left out
        # rather than break every PDF of its issuer
        data = stored_logo(message.value, content_type)
        if data is None:
            logos.pop(account, None)
        else:
            logos[account] = (data, content_type)
    return logos
