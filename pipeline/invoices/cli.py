"""Invoice commands: `invoice issue`, `invoice list`, `invoice issuer set|logo`.

(`bench-invoices` is devkit/bench_invoices.py's: the benchmark does not ship with the package.)

Clients only: Settings from the environment, no Faust app. Bad input ends with a one-line error
and exit code 1, never a traceback.
"""
from __future__ import annotations

import asyncio
import json
import mimetypes
from pathlib import Path

import click
from pydantic import ValidationError

from pipeline.invoices.deliveries import Delivery, read_deliveries
from pipeline.invoices.directory import InvoiceError
from pipeline.invoices.issuer import IssuerDetails, publish_issuer, publish_logo
from pipeline.invoices.ledger import read_invoices
from pipeline.invoices.period import Period, PeriodNotClosed
from pipeline.invoices.prefixes import PrefixTaken
from pipeline.invoices.send import BulkMail, MailNotConfigured, email_invoice, email_new_invoices
from pipeline.invoices.service import issue_all, issue_invoice
from pipeline.settings import Settings


def register(group: click.Group) -> None:
    group.add_command(invoice)


def _fail(message: str) -> None:
    raise click.ClickException(message)


def _period(text: str):
    try:
        return Period.parse(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--period") from None


def _echo_json(data) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


@click.group(help="Invoices: issue, list, and the issuers' details and logos.")
def invoice() -> None:
    pass


@invoice.command("issue", help="Issue ACCOUNT's invoice of --period (or every account's with --all); "
                               "prints it as JSON. Issuing again returns the same invoice.")
@click.argument("account", required=False)
@click.option("--period", required=True, help="YYYY-MM, a month in the issuer's time zone")
@click.option("--all", "every", is_flag=True, help="every user and reseller (with a progress bar)")
@click.option("--draft", is_flag=True, help="an unnumbered preview; allowed for a month not over yet")
@click.option("--skip-empty", is_flag=True, help="no invoice for an account with nothing to invoice")
@click.option("--issuer", default=None, help="with --all: only the invoices this issuer issues (a reseller's users)")
@click.option("--email", "send", is_flag=True,
              help="also e-mail each invoice not sent before to its account's address (RATING_SMTP_*)")
def issue(account: str | None, period: str, every: bool, draft: bool, skip_empty: bool, issuer: str | None,
          send: bool) -> None:

    month = _period(period)
    if every == (account is not None):
        _fail("give either ACCOUNT or --all")
    if every and draft:
        _fail("--draft is for one account")
    if issuer is not None and not every:
        _fail("--issuer goes with --all")
    if send and draft:
        _fail("--email sends issued invoices, not drafts")
    settings = Settings()
    if send and not settings.smtp_host:
        _fail("--email: this installation sends no e-mail: set RATING_SMTP_HOST (and _PORT, _USER, _PASSWORD, "
              "_FROM, _STARTTLS)")
    try:
        if every:
            with click.progressbar(length=1, label=f"issuing {month}", file=click.get_text_stream("stderr")) as bar:
                # the bar learns its length once the accounts are known
                issued = asyncio.run(issue_all(settings, month, skip_empty=skip_empty, progress=bar.update,
                                               on_total=lambda total: setattr(bar, "length", max(total, 1)),
                                               issuer=issuer))
            _echo_json([i.printable() for i in issued])
            if send:
                _report_bulk_mail(asyncio.run(email_new_invoices(settings, issued, by="cli")))
            return
        result = asyncio.run(issue_invoice(settings, account, month, draft=draft, skip_empty=skip_empty))
    except (InvoiceError, PeriodNotClosed, PrefixTaken, MailNotConfigured) as exc:
        _fail(str(exc))
    if result is None:
        click.echo(f"account {account} has nothing to invoice for {month}: no invoice (--skip-empty)", err=True)
        return
    _echo_json(result.printable())
    if send:
        _report_bulk_mail(asyncio.run(email_new_invoices(settings, [result], by="cli")))


def _delivery_line(delivery: Delivery) -> str:
    outcome = delivery.result if delivery.result == "sent" else f"FAILED: {delivery.detail}"
    return f"{delivery.at:%Y-%m-%dT%H:%M:%S}Z\t{delivery.number}\t{delivery.account}\t{delivery.to}\t{outcome}"


def _report_bulk_mail(outcome: BulkMail) -> None:
    """On standard error: standard output stays the invoices' JSON."""
    for delivery in outcome.deliveries:
        click.echo(f"e-mail {_delivery_line(delivery)}", err=True)
    for number, reason in outcome.skipped:
        click.echo(f"e-mail {number}: not sent: {reason}", err=True)
    failed = [d for d in outcome.deliveries if d.result != "sent"]
    if failed:
        raise click.ClickException(f"{len(failed)} of {len(outcome.deliveries)} e-mails failed (see above)")


@invoice.command("email", help="E-mail the issued invoice NUMBER (its PDF attached) to its account's e-mail "
                               "address, or to --to; the attempt is recorded (`invoice deliveries`).")
@click.argument("number")
@click.option("--to", default=None, help="send to this address instead of the account's")
def email(number: str, to: str | None) -> None:
    settings = Settings()
    found = asyncio.run(read_invoices(settings, number=number))
    if not found:
        _fail(f"no issued invoice numbered {number!r} (`invoice list` shows them)")
    try:
        delivery = asyncio.run(email_invoice(settings, found[0], to=to, by="cli"))
    except (InvoiceError, MailNotConfigured) as exc:
        _fail(str(exc))
    click.echo(_delivery_line(delivery))
    if delivery.result != "sent":
        raise SystemExit(1)


@invoice.command("deliveries", help="Every recorded e-mail of invoices (of NUMBER, or of --account's): "
                                    "when (UTC), number, account, to whom, result.")
@click.argument("number", required=False)
@click.option("--account", default=None, help="only this account's invoices")
def deliveries(number: str | None, account: str | None) -> None:
    settings = Settings()
    numbers = None
    if number is not None or account is not None:
        numbers = {i.number for i in asyncio.run(read_invoices(settings, account=account, number=number))}
    for delivery in asyncio.run(read_deliveries(settings, numbers)):
        click.echo(_delivery_line(delivery))


@invoice.command("list", help="Issued invoices (number, issuer, account, period, total), oldest first.")
@click.option("--account", default=None, help="only this account's")
@click.option("--issuer", default=None, help="only this issuer's")
def list_invoices(account: str | None, issuer: str | None) -> None:
    for item in asyncio.run(read_invoices(Settings(), account=account, issuer=issuer)):
        click.echo(f"{item.number}\t{item.issuer}\t{item.account}\t{item.period}\t{item.total} {item.currency}"
                   f"\t{item.pdf}")


@invoice.group("issuer", help="An issuer's invoice details and logo (the admin's own: account id `admin`).")
def issuer_group() -> None:
    pass


@issuer_group.command("set", help="Publish the invoice details in FILE (JSON: account, company, address, "
                                  "vat_id, bank, email, taxes, number_prefix, timezone).")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def issuer_set(file: Path) -> None:
    try:
        details = IssuerDetails.model_validate_json(file.read_bytes())
    except ValidationError as exc:
        errors = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        _fail(f"{file}: {errors}")
    try:
        asyncio.run(publish_issuer(Settings(), details))
    except PrefixTaken as exc:
        _fail(f"{file}: {exc}")
    click.echo(f"published invoice details of {details.account}")


@issuer_group.command("logo", help="Publish IMAGE (PNG or SVG, at most 256 KiB) as ACCOUNT's logo.")
@click.argument("account")
@click.argument("image", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def issuer_logo(account: str, image: Path) -> None:
    content_type = mimetypes.guess_type(image.name)[0] or "application/octet-stream"
    try:
        stored = asyncio.run(publish_logo(Settings(), account, image.read_bytes(), content_type))
    except ValueError as exc:
        _fail(f"{image}: {exc}")
    click.echo(f"published {stored} logo of {account}")
