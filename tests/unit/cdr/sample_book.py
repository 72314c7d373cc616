"""The sample operator (samples/operator.json + samples/resellers.json) as a real ReferenceBook."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from pipeline.cdr.process import Source
from pipeline.reference.book import ReferenceBook
from pipeline.reference.csv_rates import resolve_rates_csv
from pipeline.reference.records import parse_reference_record
from pipeline.schemas.reference import TariffIn

SAMPLES = Path(__file__).resolve().parents[3] / "samples"
RATED_AT = datetime(2026, 11, 25, 10, 0, 1, 500000, tzinfo=timezone.utc)
SOURCE = Source("cdr.raw", 3, 1207)


def sample_book() -> ReferenceBook:
    book = ReferenceBook()
    for name in ("operator.json", "resellers.json"):
        for obj in json.loads((SAMPLES / name).read_text()):
            record = parse_reference_record(obj)
            if isinstance(record, TariffIn):
                record = resolve_rates_csv(record, SAMPLES)
            book.apply(record)
    return book


def seed_cdr(**changes) -> dict:
    """u1 calls a 370 (not 3706) number through p1 for 60 s: the seed example."""
    return {
        "call_id": "1732528800.42", "server_id": "ast1", "account": "u1", "src": "37052000001",
        "dst": "37052123456", "start_time": "2026-11-25T10:00:00Z", "billsec": 60, "provider": "p1",
        **changes,
    }
