"""Security audit of invoices at the API and portal: number prefixes are each issuer's own, a PDF is
served only when it is the issued one, and a logo is served sanitised under a policy of its own."""
from __future__ import annotations

import hashlib
from types import SimpleNamespace

import pytest

from pipeline.api.invoice_store import LedgerInvoices
from pipeline.invoices import ledger as ledger_module
from pipeline.invoices import service as invoices_service
from pipeline.invoices.assemble import Customer, assemble_invoice
from pipeline.invoices.pdf import render_pdf
from pipeline.invoices.period import Period
from pipeline.settings import Settings
from tests.api.api_world import World, portal_client
from tests.unit.invoices.examples import ISSUED_AT, ISSUER

SVG = "image/svg+xml"


@pytest.fixture
def world() -> World:
    return World()


@pytest.mark.parametrize("prefix, words", [("R2", "already used by another issuer"),
                                           ("ADM", "reserved for the operator")])
def test_a_reseller_cannot_take_another_issuers_number_prefix(world, prefix, words):
    client, csrf = portal_client(world, "r1")
    answer = client.post("/branding", data={"company": "Uno", "number_prefix": prefix, "csrf": csrf},
                         follow_redirects=False)
    assert answer.status_code == 422
    assert "number_prefix" in answer.text and words in answer.text
    assert "r1" not in world.live.issuers
    assert world.live.issuers["r2"]["number_prefix"] == "R2"


def test_his_own_prefix_is_his_to_keep(world):
    client, csrf = portal_client(world, "r2")
    answer = client.post("/branding", data={"company": "Second", "number_prefix": "R2", "csrf": csrf},
                         follow_redirects=False)
    assert answer.status_code == 303 and world.live.issuers["r2"]["company"] == "Second"


def test_the_logo_is_served_under_a_policy_of_its_own_not_a_weaker_one(world):
    client, _ = portal_client(world, "u2")  # r2's user: r2's SVG logo heads his pages
    answer = client.get("/brand/logo")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith(SVG)
    policy = answer.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "sandbox" in policy and "frame-ancestors 'none'" in policy
    assert "script-src" not in policy  # default-src 'none' covers scripts; nothing widens it
    assert answer.headers["x-content-type-options"] == "nosniff"


def test_a_logo_stored_before_the_sanitiser_is_served_sanitised_or_not_at_all(world):
    client, _ = portal_client(world, "u2")
    world.live.logos["r2"] = (SVG, b"<?xml-stylesheet href='https://evil.example/x.css'?><!-- r2 internal -->"
                                   b"<svg xmlns='http://www.w3.org/2000/svg' width='10' height='10'>"
                                   b"<metadata>internal</metadata><rect width='10' height='10' fill='red'/></svg>")
    served = client.get("/brand/logo").content
    assert served == b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">' \
                     b'<rect width="10" height="10" fill="red"/></svg>'
    world.live.logos["r2"] = (SVG, b"<svg xmlns='http://www.w3.org/2000/svg'><a href='#x'>"
                                   b"<set attributeName='href' to='javascript:alert(1)'/></a></svg>")
    assert client.get("/brand/logo").status_code == 404


def test_an_uploaded_svg_that_the_sanitiser_refuses_is_422_and_nothing_is_stored(world):
    bomb = b"<svg xmlns='http://www.w3.org/2000/svg'>" + b"<g>" * 40 + b"</g>" * 40 + b"</svg>"
    answer = world.put("r1", "/v1/accounts/r1/logo", content=bomb, headers={"Content-Type": SVG})
    assert answer.status_code == 422 and "logo" in answer.json()["detail"] and "deep" in answer.json()["detail"]
    assert "r1" not in world.live.logos


def invoice_of(account: str, issuer_details, number: str, pdf: str):
    draft = assemble_invoice(Customer(account, "user", issuer_details.account), issuer_details, Period(2026, 10), [],
                             ISSUED_AT)
    invoice = draft.model_copy(update={"number": number, "sequence": int(number[-6:]), "pdf": pdf})
    return invoice.model_copy(update={"pdf_sha256": hashlib.sha256(render_pdf(invoice)).hexdigest()})


@pytest.fixture
def ledger_world(world, tmp_path, monkeypatch):
    """The world on the real invoice store, over a ledger of two invoices that share a number (as an
    installation before this fix could have them) and the old shared PDF path."""
    shared = tmp_path / "invoices" / "R1-2026-000001.pdf"
    mine = invoice_of("u1", ISSUER, "R1-2026-000001", str(shared))
    theirs = invoice_of("u2", ISSUER.model_copy(update={"account": "r2", "company": "Second Reseller Ltd"}),
                        "R1-2026-000001", str(shared))
    shared.parent.mkdir(parents=True)
    shared.write_bytes(render_pdf(theirs))  # r2 issued last: his PDF replaced r1's

    async def read_invoices(settings, account=None, issuer=None, number=None):
        return [i for i in (mine, theirs) if number in (None, i.number) and account in (None, i.account)]

    async def load_directory(settings):
        return SimpleNamespace(render=lambda invoice: b"%PDF rendered again with a logo changed since")

    monkeypatch.setattr(ledger_module, "read_invoices", read_invoices)
    monkeypatch.setattr(invoices_service, "load_directory", load_directory)
    world.backend.invoices = LedgerInvoices(Settings(local_dir=tmp_path, topic_prefix="t-"))
    return SimpleNamespace(world=world, mine=mine, theirs=theirs, shared=shared)


def test_a_number_resolves_within_the_callers_view_only(ledger_world):
    world = ledger_world.world
    assert world.get("r1", "/v1/invoices/R1-2026-000001").json()["account"] == "u1"
    assert world.get("r2", "/v1/invoices/R1-2026-000001").json()["account"] == "u2"
    assert world.get("u1", "/v1/invoices/R1-2026-000001").json()["issuer"] == "r1"
    assert world.get("d1", "/v1/invoices/R1-2026-000001").status_code == 404


def test_another_tenants_pdf_under_the_same_number_is_never_served(ledger_world, caplog):
    world = ledger_world.world
    answer = world.get("r1", "/v1/invoices/R1-2026-000001/pdf")
    assert answer.status_code == 503
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["detail"].startswith("invoice file does not match its record")
    assert str(ledger_world.shared) not in answer.text and "Second Reseller" not in answer.text
    assert "does not match the record of invoice R1-2026-000001 of issuer r1" in caplog.text  # the operator's
    page, _ = portal_client(world, "u1")
    refused = page.get("/invoices/R1-2026-000001.pdf")
    assert refused.status_code == 503 and b"Second Reseller" not in refused.content
    # r2 still gets his user's invoice: that file is his
    assert world.get("r2", "/v1/invoices/R1-2026-000001/pdf").content == ledger_world.shared.read_bytes()
