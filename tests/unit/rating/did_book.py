"""The sample operator plus DIDs with rates, for the DID pricing tests (docs/domain.md "DIDs").

D1 37052000001: r1 gave it to u1. Admin: incoming 0.1, owner 0.5, provider 0.02 /min; r1 charges
               u1 0.8/min (owner_rate).
D2 37052000002: admin gave it to d1 (direct user) directly: owner 0.5.
D3 37052000003: unassigned: provider 0.02 only has a payer.
D4 37052000004: r1 holds it himself: owner 0.5.
D5 37052000005: r1 gave it to u2 without an owner_rate: u2 pays the admin's 0.5, as does r1.
D6 37052000006: negative rates: incoming -0.3 + 0.05 fee, owner -1 (the admin pays the owner),
               provider -0.01 (the admin pays the carrier), all per second.
D7 37052000007: d1's, owner 1/min in 60 s steps with 5 s grace.
"""
from __future__ import annotations

from pipeline.schemas.reference import DidIn
from tests.unit.cdr.sample_book import sample_book

ADMIN_RATES = {"incoming": {"rate": "0.1"}, "owner": {"rate": "0.5"}, "provider": {"rate": "0.02"}}
DIDS = (
    dict(number="37052000001", reseller="r1", user="u1", rates=ADMIN_RATES, owner_rate={"rate": "0.8"}),
    dict(number="37052000002", user="d1", rates=ADMIN_RATES),
    dict(number="37052000003", rates=ADMIN_RATES),
    dict(number="37052000004", reseller="r1", rates=ADMIN_RATES),
    dict(number="37052000005", reseller="r1", user="u2", rates=ADMIN_RATES),
    dict(number="37052000006", user="d1", rates={"incoming": {"rate": "-0.3", "connection_fee": "0.05"},
                                               "owner": {"rate": "-1"}, "provider": {"rate": "-0.01"}}),
    dict(number="37052000007", user="d1", rates={"owner": {"rate": "1", "increment": 60, "grace_time": 5}}),
)


def did_book():
    book = sample_book()
    for fields in DIDS:
        book.apply(DidIn(**fields))
    return book
