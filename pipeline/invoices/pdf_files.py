"""Where issued PDFs live on disk, and reading one back only when it is the one its record names.

A PDF is `$RATING_LOCAL_DIR/invoices/{issuer}/{number}.pdf`: numbers are unique per issuer, so a
file of one issuer can never take the name of another's. Invoices issued before that lived at
`invoices/{number}.pdf` (their record says so) and are still read there. A file is never replaced:
it is linked into place only where nothing is, and what is served must hash to the record's sha256.
"""
from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

from pipeline.invoices.record import Invoice
from pipeline.settings import Settings

log = logging.getLogger(__name__)
_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


class PdfMismatch(Exception):
    """No file (nor a new rendering) matches the invoice's recorded sha256: nothing may be served."""


def path_segment(name: str) -> str:
    """An account id as one file name: `%XX` for every byte outside A-Z a-z 0-9 _ - (so '.', '/'
    and '%' too: no traversal, and two ids never share a folder)."""
    encoded = "".join(c if c in _PLAIN else "".join(f"%{b:02X}" for b in c.encode()) for c in name)
    # a file name holds 255 bytes: a longer id (rare, ids are free text) goes by its hash
    return encoded if len(encoded) <= 200 else "sha256-" + hashlib.sha256(name.encode()).hexdigest()


def issuer_dir(settings: Settings, issuer: str) -> Path:
    return settings.local_dir / "invoices" / path_segment(issuer)


def pdf_path(settings: Settings, issuer: str, number: str) -> Path:
    return issuer_dir(settings, issuer) / f"{path_segment(number)}.pdf"


def draft_path(settings: Settings, issuer: str, account: str, period: str) -> Path:
    return issuer_dir(settings, issuer) / "drafts" / f"{path_segment(account)}-{period}.pdf"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def place(staged: Path, final: Path) -> None:
    """Give the staged file its final name unless that name exists already (link: atomic, no clobber)."""
    try:
        os.link(staged, final)
    except FileExistsError:
        if sha256(final.read_bytes()) != sha256(staged.read_bytes()):
            # a file left by an earlier installation on the same RATING_LOCAL_DIR: it stays, and the
            # new invoice's PDF is rendered again from its record (and checked) when asked for
            log.error("PDF %s exists with other content: not replaced", final)
    except OSError:  # a file system without hard links
        write_new(final, staged.read_bytes())


def write_new(path: Path, data: bytes) -> None:
    """Write a file that must not exist yet (a PDF rendered again from its record)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with open(path, "xb") as out:
            out.write(data)
    except FileExistsError:
        pass  # written meanwhile by another request; read back through read_verified


def read_verified(settings: Settings, invoice: Invoice) -> bytes | None:
    """The invoice's PDF from disk if a file of it matches its record's sha256, else None.
    A file that exists and does not match is logged: somebody's invoice file is not what was issued."""
    candidates = dict.fromkeys([pdf_path(settings, invoice.issuer, invoice.number), Path(invoice.pdf)])
    for path in candidates:
        if not path.is_file():
            continue
        data = path.read_bytes()
        if sha256(data) == invoice.pdf_sha256:
            return data
        log.error("PDF file %s does not match the record of invoice %s of issuer %s (sha256 %s, recorded %s): "
                  "not served", path, invoice.number, invoice.issuer, sha256(data), invoice.pdf_sha256)
    return None
