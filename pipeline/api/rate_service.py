"""One rate at a time, and archiving: what the rates routes and pages do (service.py does the rest).

Visibility first (404 outside the caller's view), then the same write rules as every other write
(service.write: ownership, consistency, archive rules), then the publish and the audit record.

A tariff is one reference record with all its rates, so adding, changing or removing one rate
republishes the tariff with that one change (the other versions as they are in the book).
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from pydantic import ValidationError

from pipeline.api import service
from pipeline.api.auth import revoke_all_sessions
from pipeline.api.credentials import TOKEN_KEY
from pipeline.api.destination_book import destination_names
from pipeline.api.errors import NotFound, Refused
from pipeline.api.rate_listing import RateSearch, all_records, page, row_json
from pipeline.api.stores import Backend
from pipeline.api.visibility import Caller
from pipeline.schemas.reference import AccountIn, RateIn, TariffIn, rate_version_key
from pipeline.schemas.validation_errors import describe_validation_error


def now() -> datetime:
    return datetime.now(timezone.utc)


def rates_page(backend: Backend, caller: Caller, tariff_id: str, search: RateSearch, limit: int,
               offset: int) -> dict[str, Any]:
    tariff = service.tariff(backend, caller, tariff_id)
    book = backend.live.book
    found, total = page(book.tariff_index(tariff.id), search, now(), limit, offset,
                        destination_names(book, tariff.id))
    more = offset + len(found) < total
    return {"tariff": tariff.id, "currency": tariff.currency, "total": total,
            "rates": [row_json(row) for row in found], "next_offset": offset + len(found) if more else None}


def parse_rate(fields: dict[str, Any]) -> RateIn:
    try:
        return RateIn.model_validate({k: v for k, v in fields.items() if v is not None})
    except ValidationError as exc:
        raise Refused(describe_validation_error(exc)) from None


async def put_rate(backend: Backend, caller: Caller, tariff_id: str, fields: dict[str, Any]) -> RateIn:
    """Adds the version, or replaces the one with the same prefix, effective_from, day type and
    window (a later effective_from adds a version: the current one stays until then)."""
    header = service.tariff(backend, caller, tariff_id)
    rate = parse_rate(fields)
    key = rate_version_key(rate)
    kept = [r for r in records_of(backend, header.id) if rate_version_key(r) != key]
    record = header.model_copy(update={"rates": (*kept, rate)})
    await service.write(backend, caller, [record], f"put rate {rate.prefix or '(all)'} from {_day(rate)}")
    return rate


async def remove_rate(backend: Backend, caller: Caller, tariff_id: str, fields: dict[str, Any],
                      every_version: bool) -> TariffIn:
    """Removes one version (its prefix, effective_from, day type and window), or with
    `every_version` every version of the prefix (calls to it then take a shorter prefix)."""
    header = service.tariff(backend, caller, tariff_id)
    target = parse_rate({"rate": "0", **fields})  # the key fields, checked as a rate's are
    records = records_of(backend, header.id)
    if every_version:
        kept = [r for r in records if r.prefix != target.prefix]
    else:
        kept = [r for r in records if rate_version_key(r) != rate_version_key(target)]
    if len(kept) == len(records):
        what = "" if every_version else f" from {_day(target)} ({target.day_type} {target.start}-{target.end})"
        raise NotFound(f'tariff "{header.id}" has no rate for prefix "{target.prefix}"{what}')
    record = header.model_copy(update={"rates": tuple(kept)})
    removed = len(records) - len(kept)
    await service.write(backend, caller, [record], f"remove {removed} rate(s) of prefix {target.prefix or '(all)'}")
    return record


def records_of(backend: Backend, tariff_id: str) -> list[RateIn]:
    """The tariff's rates as records, with their destination names."""
    book = backend.live.book
    return all_records(book.tariff_index(tariff_id), destination_names(book, tariff_id))


def _day(rate: RateIn) -> str:
    return rate.effective_from.isoformat().replace("+00:00", "Z")


# archiving --------------------------------------------------------------------------------------

async def archive_tariff(backend: Backend, caller: Caller, tariff_id: str, archived: bool) -> TariffIn:
    """The archive rules (pipeline/reference/archive_rules.py) decide: a tariff still assigned to
    something that is not archived stays as it is (422 naming it)."""
    header = service.tariff(backend, caller, tariff_id)
    if header.archived == archived:
        return header
    record = header.model_copy(update={"archived": archived,
                                       "rates": tuple(records_of(backend, header.id))})
    await service.write(backend, caller, [record], "archive tariff" if archived else "unarchive tariff")
    return record.header()


async def archive_account(backend: Backend, caller: Caller, account_id: str, archived: bool) -> AccountIn:
    """Archiving ends the account's portal sessions and revokes its API tokens: unarchiving brings
    neither back (a new password or token is set for whoever uses it then)."""
    found = service.account(backend, caller, account_id)
    if found.id == caller.account:
        raise NotFound()  # one archives his users, never himself (as on the user pages)
    if found.archived == archived:
        return found
    record = found.model_copy(update={"archived": archived})
    await service.write(backend, caller, [record], "archive account" if archived else "unarchive account")
    if archived:
        await revoke_all_sessions(backend, found.id)
        for token_id in backend.live.credentials.tokens_of(found.id):
            await backend.writer.publish_credential(TOKEN_KEY + token_id, None)
    return record


def unless_archived(records: list, include_archived: bool) -> list:
    """Lists hide archived records unless asked for them."""
    return records if include_archived else [r for r in records if not getattr(r, "archived", False)]
