"""Invoices a reseller sends, on the real broker and ClickHouse and a real SMTP server (aiosmtpd,
started here): bulk issue of all his users' invoices with e-mail, the message as received (to,
subject, the attached PDF's sha256 equal to the issued one's), each send recorded, nobody mailed
twice, refusals recorded, and the rules of who may send."""
from __future__ import annotations

import asyncio
import email
import hashlib
import json
import re
import shutil
import socket
import subprocess
from datetime import timedelta
from email import policy
from pathlib import Path

import click
import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner
from fastapi.testclient import TestClient

from devkit.worker_process import settings_env
from pipeline.api.app import production_app
from pipeline.api.config import ApiConfig
from pipeline.invoices.cli import register as register_invoices
from pipeline.invoices.deliveries import read_deliveries
from pipeline.invoices.issuer import IssuerDetails, publish_issuer
from pipeline.invoices.ledger import read_invoices
from pipeline.settings import REPO_ROOT
from tests.api.api_world import TODAY, call
from tests.fixtures.invoices.seed import ACCOUNTS, CALLS
from tests.fixtures.invoices.seed import seed as seed_invoices
from tests.integration.api_kit import insert_calls, seed

pytestmark = pytest.mark.clickhouse
ARTIFACTS = REPO_ROOT / "tests" / "artifacts" / "invoices"
REFUSED = "refuse@customer.example"
LAST_MONTH = TODAY.replace(day=1) - timedelta(days=1)
PERIOD = LAST_MONTH.strftime("%Y-%m")
R1 = IssuerDetails(account="r1", company="Reseller One UAB", address="Gedimino pr. 1\n01103 Vilnius",
                   email="billing@r1.example", number_prefix="R1M", timezone="UTC", payment_terms_days=14,
                   taxes=[{"name": "VAT", "rate": "21"}, {"name": "Levy", "rate": "1.5"}], compound_taxes=True)


class Inbox:
    """aiosmtpd handler: keeps every message; refuses REFUSED at RCPT like a real server would."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], email.message.EmailMessage]] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address == REFUSED:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((list(envelope.rcpt_tos), email.message_from_bytes(envelope.content, policy=policy.default)))
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        yield controller, inbox
    finally:
        controller.stop()


@pytest.fixture
def running(settings_factory, smtp):
    controller, inbox = smtp
    settings = settings_factory(smtp_host="127.0.0.1", smtp_port=controller.port, smtp_starttls=False,
                                smtp_from="invoices@operator.example")
    tokens = seed(settings)
    asyncio.run(publish_issuer(settings, R1))
    days = (TODAY - LAST_MONTH).days
    insert_calls(settings, [call("u1", "r1", "m-u1-a", days_ago=days), call("u1", "r1", "m-u1-b", days_ago=days),
                            call("u2", "r1", "m-u2-a", days_ago=days, user_price="3.333333")])
    app = production_app(settings, ApiConfig(secret="integration-secret"))
    with TestClient(app) as client:
        yield settings, tokens, client, inbox


def auth(tokens, account):
    return {"Authorization": f"Bearer {tokens[account]}"}


def attachment_sha256(message) -> str:
    [pdf] = list(message.iter_attachments())
    assert pdf.get_content_type() == "application/pdf"
    return hashlib.sha256(pdf.get_content()).hexdigest()


def test_bulk_issue_with_email_sends_each_new_invoice_once_with_the_issued_pdf(running):
    settings, tokens, client, inbox = running
    answer = client.post("/v1/invoices/bulk", headers=auth(tokens, "r1"),
                         json={"period": PERIOD, "skip_empty": True, "email": True})
    assert answer.status_code == 201, answer.text
    body = answer.json()
    issued = {i["account"]: i for i in body["issued"]}
    assert set(issued) == {"u1", "u2"}  # his users only, not r1's own invoice (the admin issues that)
    u1 = issued["u1"]
    # what a reseller's invoice now carries: the address, the due date, names, compound taxes
    assert u1["customer_address"] == "Pilies g. 5\n01123 Vilnius\nLithuania"
    assert u1["due_date"] == (TODAY.date() + timedelta(days=14)).isoformat()
    assert [line["description"] for line in u1["lines"]] == ["Lithuania (370)"]
    assert [(t["name"], t["amount"], t["compound"]) for t in u1["taxes"]] == [("VAT", "0.84", True), ("Levy", "0.07", True)]
    assert u1["subtotal"] == "4.00" and u1["total"] == "4.91"  # 4.00 + 0.84 + 1.5% of 4.84 (0.0726)
    assert sorted((d["account"], d["to"], d["result"]) for d in body["emailed"]) == [
        ("u1", "u1@customer.example", "sent"), ("u2", "accounts@u2.example", "sent")]

    assert sorted(to for to, _ in inbox.messages) == [["accounts@u2.example"], ["u1@customer.example"]]
    stored = {i.account: i for i in asyncio.run(read_invoices(settings))}
    for recipients, message in inbox.messages:
        invoice = stored["u1" if recipients == ["u1@customer.example"] else "u2"]
        assert message["To"] == recipients[0] and message["From"] == "invoices@operator.example"
        assert message["Subject"] == f"Invoice {invoice.number} from Reseller One UAB ({PERIOD})"
        assert message["Reply-To"] == "billing@r1.example"
        on_disk = hashlib.sha256(Path(invoice.pdf).read_bytes()).hexdigest()
        assert attachment_sha256(message) == invoice.pdf_sha256 == on_disk

    again = client.post("/v1/invoices/bulk", headers=auth(tokens, "r1"), json={"period": PERIOD, "email": True,
                                                                              "skip_empty": True}).json()
    assert [i["number"] for i in again["issued"]] == [i["number"] for i in body["issued"]]  # the same invoices
    assert again["emailed"] == [] and {n["reason"] for n in again["not_emailed"]} == {"sent before"}
    assert len(inbox.messages) == 2  # nobody got it twice

    recorded = asyncio.run(read_deliveries(settings))
    assert sorted((d.number, d.to, d.result, d.by) for d in recorded) == sorted(
        (i.number, i_to, "sent", "r1") for i, i_to in ((stored["u1"], "u1@customer.example"),
                                                       (stored["u2"], "accounts@u2.example")))
    assert all(d.attachment_sha256 == stored[d.account].pdf_sha256 for d in recorded)


def test_one_invoice_by_email_on_request_refusals_are_recorded_and_only_the_issuer_sends(running):
    settings, tokens, client, inbox = running
    number = client.post("/v1/invoices", headers=auth(tokens, "r1"), json={"account": "u1", "period": PERIOD}).json()["number"]
    sent = client.post(f"/v1/invoices/{number}/email", headers=auth(tokens, "r1"), json={"to": "boss@u1.example"})
    assert sent.status_code == 201, sent.text
    assert sent.json()["to"] == "boss@u1.example" and sent.json()["result"] == "sent"
    [(recipients, message)] = inbox.messages
    assert recipients == ["boss@u1.example"]
    [invoice] = asyncio.run(read_invoices(settings, number=number))
    assert attachment_sha256(message) == invoice.pdf_sha256

    refused = client.post(f"/v1/invoices/{number}/email", headers=auth(tokens, "r1"), json={"to": REFUSED})
    assert refused.status_code == 502 and "550" in refused.json()["detail"]
    log = client.get(f"/v1/invoices/{number}/deliveries", headers=auth(tokens, "r1")).json()
    assert [(d["to"], d["result"]) for d in log] == [("boss@u1.example", "sent"), (REFUSED, "failed")]
    assert "mailbox unavailable" in log[1]["detail"]

    assert client.post(f"/v1/invoices/{number}/email", headers=auth(tokens, "u1"), json={}).status_code == 422
    assert client.post(f"/v1/invoices/{number}/email", headers=auth(tokens, "r2"), json={}).status_code == 404
    assert client.get(f"/v1/invoices/{number}/deliveries", headers=auth(tokens, "r2")).status_code == 404
    assert client.get(f"/v1/invoices/{number}/deliveries", headers=auth(tokens, "u1")).status_code == 200
    bad = client.post(f"/v1/invoices/{number}/email", headers=auth(tokens, "r1"), json={"to": "not-an-address"})
    assert bad.status_code == 422 and "to:" in bad.json()["detail"]
    assert len(inbox.messages) == 1


def test_without_an_smtp_server_nothing_is_sent_and_the_answer_says_why(settings_factory):
    settings = settings_factory()  # RATING_SMTP_HOST unset
    tokens = seed(settings)
    asyncio.run(publish_issuer(settings, R1))
    insert_calls(settings, [call("u1", "r1", "n-u1", days_ago=(TODAY - LAST_MONTH).days)])
    with TestClient(production_app(settings, ApiConfig(secret="integration-secret"))) as client:
        number = client.post("/v1/invoices", headers=auth(tokens, "r1"),
                             json={"account": "u1", "period": PERIOD}).json()["number"]
        answer = client.post(f"/v1/invoices/{number}/email", headers=auth(tokens, "r1"), json={})
        assert answer.status_code == 503 and "RATING_SMTP_HOST" in answer.json()["detail"]
        bulk = client.post("/v1/invoices/bulk", headers=auth(tokens, "r1"), json={"period": PERIOD, "email": True})
        assert bulk.status_code == 503  # refused whole: nothing issued half-sent
    assert asyncio.run(read_deliveries(settings)) == []
    assert [i.account for i in asyncio.run(read_invoices(settings))] == ["u1"]


def _csrf(page) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="needs poppler-utils (pdftotext, pdftoppm)")
def test_the_portal_flow_terms_address_bulk_issue_email_and_the_log(settings_factory, smtp):
    controller, inbox = smtp
    settings = settings_factory(smtp_host="127.0.0.1", smtp_port=controller.port, smtp_starttls=False)
    seed(settings, password="portal-password-1")
    days = (TODAY - LAST_MONTH).days
    insert_calls(settings, [call("u1", "r1", "p-u1-a", days_ago=days),
                            call("u2", "r1", "p-u2-a", days_ago=days)])
    with TestClient(production_app(settings, ApiConfig(secret="integration-secret"))) as client:
        signed = client.post("/login", data={"account": "r1", "password": "portal-password-1",
                                             "csrf": _csrf(client.get("/login"))}, follow_redirects=False)
        assert signed.status_code == 303
        # his invoice details with taxes (compound) and payment terms, from the branding form
        saved = client.post("/branding", data={
            "csrf": _csrf(client.get("/branding")), "company": "Reseller One UAB", "number_prefix": "R1P",
            "address": "Gedimino pr. 1\r\n01103 Vilnius", "email": "billing@r1.example", "tax_rows": "4",
            "tax_name_1": "VAT", "tax_percent_1": "21", "tax_name_2": "Levy", "tax_percent_2": "1.5",
            "compound_taxes": "on", "payment_terms_days": "10"}, follow_redirects=False)
        assert saved.status_code == 303, saved.text
        # his user's address and e-mail, from the user's page
        page = client.get("/users/u1")
        edited = client.post("/users/u1", data={"csrf": _csrf(page), "name": "User One", "tariff": "t-r1-retail",
                                                "billing": "prepaid", "email": "ap@one.example",
                                                "address": "Pilies g. 5\r\nVilnius"}, follow_redirects=False)
        assert edited.status_code == 303, edited.text
        page = client.get("/invoices")
        assert 'id="bulk-invoices"' in page.text and 'name="email"' in page.text
        done = client.post("/invoices/bulk", data={"csrf": _csrf(page), "period": PERIOD, "skip_empty": "on",
                                                   "email": "on"})
        assert done.status_code == 200 and "2 invoices issued" in done.text and "2 e-mailed" in done.text
        assert sorted(to for to, _ in inbox.messages) == [["accounts@u2.example"], ["ap@one.example"]]
        invoices = {i.account: i for i in asyncio.run(read_invoices(settings))}
        u1 = invoices["u1"]
        assert u1.customer_address == "Pilies g. 5\nVilnius" and [t.compound for t in u1.taxes] == [True, True]
        assert u1.due_date == u1.issue_date + timedelta(days=10)
        listing = client.get("/invoices").text
        assert f'id="sent-{u1.number}"' in listing and "ap@one.example" in listing and 'id="mail-log"' in listing
        resent = client.post(f"/invoices/{u1.number}/email", data={"csrf": _csrf(client.get("/invoices"))},
                             follow_redirects=False)
        assert resent.status_code == 303 and resent.headers["location"] == "/invoices?done=emailed"
        assert len(inbox.messages) == 3
        pdf = client.get(f"/invoices/{u1.number}.pdf").content
    assert [attachment_sha256(m) for to, m in inbox.messages if to == ["ap@one.example"]] == [u1.pdf_sha256] * 2
    text = subprocess.run(["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode()
    for expected in ("Reseller One UAB", "Pilies g. 5", f"Due date {u1.due_date.isoformat()}",
                     "Lithuania (370)", "VAT 21% (compound)", "Levy 1.5% (compound)", f"{u1.total:,.2f}"):
        assert expected in text, expected
    if shutil.which("pdftoppm"):
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        for old in ARTIFACTS.glob("portal-bulk-u1*.png"):
            old.unlink()
        subprocess.run(["pdftoppm", "-png", "-r", "60", "-", str(ARTIFACTS / "portal-bulk-u1")], input=pdf, check=True)


def test_the_commands_issue_all_of_one_issuer_email_them_and_show_the_record(settings_factory, smtp):
    controller, inbox = smtp
    settings = settings_factory(smtp_host="127.0.0.1", smtp_port=controller.port, smtp_starttls=False)
    accounts = [{**a, "email": "u1@customer.example"} if a["id"] == "u1" else a for a in ACCOUNTS]
    asyncio.run(seed_invoices(settings, CALLS, accounts=accounts))

    @click.group()
    def group():
        pass

    register_invoices(group)
    runner = CliRunner()

    def run(*args: str, code: int = 0, env: dict | None = None):
        result = runner.invoke(group, list(args), env=env or settings_env(settings))
        assert result.exit_code == code, (result.output, result.exception)
        assert result.exception is None or isinstance(result.exception, SystemExit)  # no traceback
        return result

    done = run("invoice", "issue", "--all", "--period", "2026-10", "--issuer", "r1", "--skip-empty", "--email")
    issued = {i["account"]: i for i in json.loads(done.stdout)}
    assert set(issued) == {"u1", "u2"}  # r1's users only (u3: no calls)
    number = issued["u1"]["number"]
    assert re.search(rf"^e-mail \S+Z\t{number}\tu1\tu1@customer.example\tsent$", done.stderr, re.M), done.stderr
    assert f"e-mail {issued['u2']['number']}: not sent: to: account 'u2' has no e-mail address" in done.stderr
    [(recipients, message)] = inbox.messages
    assert recipients == ["u1@customer.example"] and attachment_sha256(message) == issued["u1"]["pdf_sha256"]

    again = run("invoice", "email", number, "--to", "boss@u1.example")
    assert again.stdout.rstrip().endswith(f"{number}\tu1\tboss@u1.example\tsent")
    lines = run("invoice", "deliveries", "--account", "u1").stdout.splitlines()
    assert [line.split("\t")[3:] for line in lines] == [["u1@customer.example", "sent"], ["boss@u1.example", "sent"]]
    assert "no issued invoice numbered 'R1-1999-000001'" in run("invoice", "email", "R1-1999-000001", code=1).output
    off = settings_env(settings) | {"RATING_SMTP_HOST": ""}
    assert "this installation sends no e-mail: set RATING_SMTP_HOST" in run("invoice", "email", number, code=1,
                                                                              env=off).output
    assert len(inbox.messages) == 2
