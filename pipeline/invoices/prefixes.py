"""Each issuer's invoice number prefix is his alone (pure: no I/O).

A number is PREFIX-YYYY-NNNNNN and each issuer counts his own sequence, so two issuers sharing a
prefix would hand out the same numbers: the same PDF file name, the same `GET /v1/invoices/{number}`.
A prefix is therefore refused when another issuer holds it now (ref.issuers) or has numbered
invoices with it (the `invoices` topic: a prefix given up stays taken, its numbers exist), compared
ignoring case. The admin's default prefix is his even before he sets his details.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping

from pipeline.invoices.details import ADMIN_ISSUER

ADMIN_DEFAULT_PREFIX = "ADM"


class PrefixTaken(ValueError):
    """The message names the field and the rule, never the other issuer."""


def prefix_holders(current: Mapping[str, object], issued: Iterable[tuple[str, str]] = ()) -> dict[str, set[str]]:
    """Upper-cased prefix -> issuers holding it. `current`: issuer -> his details (an IssuerDetails or
    its JSON dict); `issued`: (issuer, prefix) of every numbered invoice."""
    holders: dict[str, set[str]] = {ADMIN_DEFAULT_PREFIX: {ADMIN_ISSUER}}
    for issuer, details in current.items():
        prefix = details.get("number_prefix") if isinstance(details, Mapping) else details.number_prefix
        if prefix:
            holders.setdefault(str(prefix).upper(), set()).add(issuer)
    for issuer, prefix in issued:
        holders.setdefault(prefix.upper(), set()).add(issuer)
    return holders


def check_prefix(issuer: str, prefix: str, holders: Mapping[str, set[str]]) -> None:
    """PrefixTaken when `prefix` belongs to an issuer other than `issuer`."""
    others = holders.get(prefix.upper(), set()) - {issuer}
    if not others:
        return
    if ADMIN_ISSUER in others and prefix.upper() == ADMIN_DEFAULT_PREFIX:
        raise PrefixTaken(f"number_prefix: {prefix!r} is reserved for the operator's own invoices; "
                          "choose a prefix of your own")
    raise PrefixTaken(f"number_prefix: {prefix!r} is already used by another issuer (prefixes are compared "
                      "ignoring case, and one used on issued invoices stays taken); choose a prefix of your own")
