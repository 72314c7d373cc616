"""Security audit of invoices: invoice numbers and PDFs are never shared across issuers (no broker).

A reseller could set his number prefix to another issuer's; his first invoice then took that
issuer's number and, through os.replace, its PDF file, which was served without a look at the
record's sha256. Each step is checked here on the code the commands and the API run."""
from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace

import pytest

from pipeline.invoices import issuer as issuer_module
from pipeline.invoices import ledger as ledger_module
from pipeline.invoices.assemble import Customer, assemble_invoice
from pipeline.invoices.issuer import publish_issuer
from pipeline.invoices.ledger import InvoiceLedger, Pending
from pipeline.invoices.pdf import render_pdf
from pipeline.invoices.period import Period
from pipeline.invoices.service import invoice_pdf
from pipeline.settings import Settings
from tests.unit.invoices.examples import ISSUED_AT, ISSUER
from tests.unit.invoices.test_invoice_numbering import FakeProducer

R2_AS_R1 = ISSUER.model_copy(update={"account": "r2", "company": "Second Reseller", "number_prefix": "R1"})


def pending(issuer=ISSUER, account: str = "u1") -> Pending:
    return Pending(assemble_invoice(Customer(account, "user", issuer.account), issuer, Period(2026, 10), [], ISSUED_AT))


def issued_by_r1(ledger: InvoiceLedger) -> object:
    invoice = pending().invoice.model_copy(update={"number": "R1-2026-000001", "sequence": 1})
    ledger._remember(invoice)
    return invoice


async def test_a_number_another_issuer_holds_is_refused_and_nothing_is_sent(tmp_path):
    ledger = InvoiceLedger(Settings(local_dir=tmp_path, topic_prefix="t-"))
    issued_by_r1(ledger)
    producer, staged = FakeProducer(), []
    with pytest.raises(ValueError, match="number_prefix: invoice number R1-2026-000001 is already another"):
        await ledger._write(producer, [pending(R2_AS_R1, "u9")], lambda invoice: b"r2's PDF", staged)
    assert producer.sent == []


async def test_each_issuers_pdfs_have_a_folder_of_their_own(tmp_path):
    ledger = InvoiceLedger(Settings(local_dir=tmp_path, topic_prefix="t-"))
    odd = ISSUER.model_copy(update={"account": "../r/2", "number_prefix": "R2"})  # ids are free text
    staged = []
    issued = await ledger._write(FakeProducer(), [pending(), pending(odd, "u9")], lambda i: i.number.encode(), staged)
    finals = [final for _, final in staged]
    assert finals == [tmp_path / "invoices" / "r1" / "R1-2026-000001.pdf",
                      tmp_path / "invoices" / "%2E%2E%2Fr%2F2" / "R2-2026-000001.pdf"]
    assert [i.pdf for i in issued] == [str(final) for final in finals]


class CommittingProducer(FakeProducer):
    """A transactional producer whose transactions always commit (no broker)."""

    async def start(self):
        pass

    async def stop(self):
        pass

    def transaction(self):
        from contextlib import asynccontextmanager

        return asynccontextmanager(self._transaction)()

    async def _transaction(self):
        yield


async def test_issuing_never_replaces_an_existing_file_of_another_document(tmp_path, monkeypatch):
    settings = Settings(local_dir=tmp_path, topic_prefix="t-")
    monkeypatch.setattr(ledger_module, "KafkaClients",
                        lambda settings: SimpleNamespace(producer=lambda **kwargs: CommittingProducer()))
    ledger = InvoiceLedger(settings)

    async def caught_up():
        return None

    ledger.catch_up = caught_up
    for folder in (tmp_path / "invoices", tmp_path / "invoices" / "r1"):  # where either layout would write
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "R1-2026-000001.pdf").write_bytes(b"an issued PDF of somebody else")
    [issued] = await ledger.issue("r1", [pending()], render_pdf)  # the number is committed...
    for folder in (tmp_path / "invoices", tmp_path / "invoices" / "r1"):  # ...the file in the way stays
        assert (folder / "R1-2026-000001.pdf").read_bytes() == b"an issued PDF of somebody else"
    assert not list(tmp_path.rglob("*.tmp"))
    # and the new invoice's own PDF is what is served: rendered again from its record, and checked
    served = await invoice_pdf(settings, issued, SimpleNamespace(render=render_pdf))
    assert served.startswith(b"%PDF") and served != b"an issued PDF of somebody else"


def test_a_file_put_in_place_after_the_commit_never_replaces_one_that_is_there(tmp_path):
    from pipeline.invoices.pdf_files import place

    staged, final = tmp_path / ".new.tmp", tmp_path / "R1-2026-000001.pdf"
    staged.write_bytes(b"new")
    final.write_bytes(b"old")
    place(staged, final)
    assert final.read_bytes() == b"old"
    final.unlink()
    place(staged, final)
    assert final.read_bytes() == b"new"


def issued_invoice(settings: Settings, path: Path):
    """r1's invoice as the ledger records it: its PDF at `path`, the PDF's sha256 in the record."""
    import hashlib

    invoice = pending().invoice.model_copy(update={"number": "R1-2026-000001", "sequence": 1, "pdf": str(path)})
    data = render_pdf(invoice)
    return invoice.model_copy(update={"pdf_sha256": hashlib.sha256(data).hexdigest()}), data


async def test_a_file_that_does_not_match_the_record_is_never_served(tmp_path):
    settings = Settings(local_dir=tmp_path, topic_prefix="t-")
    legacy = tmp_path / "invoices" / "R1-2026-000001.pdf"  # the old layout, shared by every issuer
    invoice, data = issued_invoice(settings, legacy)
    legacy.parent.mkdir(parents=True)
    legacy.write_bytes(b"%PDF another tenant's invoice")
    logo_changed = SimpleNamespace(render=lambda invoice: b"%PDF rendered again, with today's logo")
    with pytest.raises(Exception, match="does not match its record"):
        await invoice_pdf(settings, invoice, logo_changed)
    # rendered again to the very bytes issued: served, and kept in the issuer's folder, the other file untouched
    assert await invoice_pdf(settings, invoice, SimpleNamespace(render=render_pdf)) == data
    assert legacy.read_bytes() == b"%PDF another tenant's invoice"
    assert (tmp_path / "invoices" / "r1" / "R1-2026-000001.pdf").read_bytes() == data


async def test_an_invoice_issued_before_keeps_being_served_from_its_old_path(tmp_path):
    settings = Settings(local_dir=tmp_path, topic_prefix="t-")
    legacy = tmp_path / "invoices" / "R1-2026-000001.pdf"
    invoice, data = issued_invoice(settings, legacy)
    legacy.parent.mkdir(parents=True)
    legacy.write_bytes(data)
    never = SimpleNamespace(render=lambda invoice: pytest.fail("a matching file is served as it is"))
    assert await invoice_pdf(settings, invoice, never) == data


@pytest.fixture
def topics(monkeypatch):
    """ref.issuers and the invoices topic as lists; what publish_issuer produces is recorded."""
    state = SimpleNamespace(issuers={}, invoices=[], produced=[])

    async def read_issuers(settings):
        return dict(state.issuers)

    async def read_invoices(settings, **kwargs):
        return list(state.invoices)

    async def produce_all(settings, topic, messages):
        state.produced += [(topic, key) for key, _ in messages]

    async def nothing(settings):
        return None

    monkeypatch.setattr(issuer_module, "read_issuers", read_issuers)
    monkeypatch.setattr(ledger_module, "read_invoices", read_invoices)
    monkeypatch.setattr(issuer_module, "produce_all", produce_all)
    monkeypatch.setattr(issuer_module, "ensure_invoice_topics", nothing)
    return state


def set_details(account: str, prefix: str) -> None:
    details = ISSUER.model_copy(update={"account": account, "number_prefix": prefix})
    asyncio.run(publish_issuer(Settings(topic_prefix="t-"), details))


def test_a_prefix_another_issuer_holds_is_refused_at_write_time(topics):
    topics.issuers = {"r2": ISSUER.model_copy(update={"account": "r2", "number_prefix": "R2"}),
                      "admin": ISSUER.model_copy(update={"account": "admin", "number_prefix": "OP"})}
    for taken in ("R2", "OP"):
        with pytest.raises(ValueError, match=f"number_prefix: '{taken}' is already used by another issuer"):
            set_details("r1", taken)
    assert topics.produced == []
    set_details("r2", "R2")  # his own, again
    set_details("r1", "R1")
    assert topics.produced == [("ref.issuers", b"r2"), ("ref.issuers", b"r1")]


def test_the_admins_default_prefix_is_reserved_even_before_he_sets_his_details(topics):
    with pytest.raises(ValueError, match="number_prefix: 'ADM' is reserved for the operator"):
        set_details("r1", "ADM")
    set_details("admin", "ADM")
    assert topics.produced == [("ref.issuers", b"admin")]


def test_a_prefix_on_issued_invoices_stays_taken_after_its_issuer_changed_his(topics):
    old = pending(ISSUER.model_copy(update={"account": "r3", "number_prefix": "OLD"}), "u3").invoice
    topics.invoices = [old.model_copy(update={"number": "OLD-2026-000001", "sequence": 1})]
    topics.issuers = {"r3": ISSUER.model_copy(update={"account": "r3", "number_prefix": "NEW"})}
    with pytest.raises(ValueError, match="number_prefix: 'OLD' is already used"):
        set_details("r1", "OLD")
    set_details("r3", "OLD")  # his numbers: he may go back to them
    assert topics.produced == [("ref.issuers", b"r3")]


def test_prefixes_are_compared_ignoring_case_and_never_name_the_other_issuer():
    from pipeline.invoices.prefixes import PrefixTaken, check_prefix, prefix_holders

    holders = prefix_holders({"secret-reseller": {"number_prefix": "AbC"}})
    with pytest.raises(PrefixTaken) as refused:
        check_prefix("r1", "abc", holders)
    assert "secret-reseller" not in str(refused.value)
    check_prefix("secret-reseller", "ABC", holders)


def test_a_path_segment_is_one_safe_file_name_for_any_id():
    from pipeline.invoices.pdf_files import path_segment

    for name in ("..", ".", "a/b", "a\\b", "%2F", "ü", "x" * 300, ""):
        segment = path_segment(name)
        assert segment not in (".", "..") and "/" not in segment and "\\" not in segment and len(segment) <= 200
    assert len({path_segment(n) for n in ("a/b", "a%2Fb", "a_b", "a-b")}) == 4  # never two ids in one folder
