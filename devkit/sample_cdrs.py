"""Sample CDRs for the demo and the benchmarks: realistic calls of the sample accounts, plus
the bad input a real switch fleet produces now and then."""
from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import orjson

CALLERS = ("u1", "u2", "u3", "d1")
DESTINATIONS = ("37061234567", "37052123456", "447700900123", "12125550123", "37069876543")


def _last_monday_morning() -> datetime:
    """07:00 UTC on the Monday of last week: five working days of calls, all in the past and well
    inside the dedup window (RATING_DEDUP_DAYS), whenever the demo runs."""
    today = datetime.now(timezone.utc).replace(hour=7, minute=0, second=0, microsecond=0)
    return today - timedelta(days=today.weekday() + 7)


START = _last_monday_morning()


def good_cdr(run: str, n: int, rng: random.Random) -> dict:
    answered = rng.random() < 0.8
    start = START + timedelta(seconds=rng.randrange(0, 5 * 86400))
    return {
        "call_id": f"{run}-{n}",
        "server_id": rng.choice(("ast1", "ast2")),
        "account": rng.choice(CALLERS),
        "src": "37052000001",
        "dst": rng.choice(DESTINATIONS),
        "start_time": start.isoformat(),
        "billsec": rng.randrange(1, 600) if answered else 0,
        "disposition": "ANSWERED" if answered else rng.choice(("NO ANSWER", "BUSY", "FAILED")),
        "provider": "p1",
    }


def bad_messages(run: str) -> list[tuple[str, bytes]]:
    """(expected reason, bytes) for each kind of input the pipeline must reject, not die on."""
    base = good_cdr(run, 10**9, random.Random(1))
    def with_(**changes) -> bytes:
        return orjson.dumps({**base, **changes, "call_id": f"{run}-bad-{len(changes)}-{next(iter(changes))}"})
    return [
        ("bad_json", b'{"call_id": "x", "billsec": '),
        ("not_an_object", b"[1, 2, 3]"),
        ("schema", with_(billsec=-5)),
        ("schema", with_(start_time="yesterday")),
        ("unknown_account", with_(account="nobody")),
        ("no_rate", with_(dst="999123")),
        ("unknown_provider", with_(provider="p-unknown")),
    ]


def sample_stream(run: str, calls: int, seed: int = 7) -> tuple[list[tuple[bytes, bytes]], dict[str, int]]:
    """`calls` good CDRs with the bad ones mixed in, and how many of each reason to expect."""
    rng = random.Random(seed)
    messages = [(f"{run}-{n}".encode(), orjson.dumps(good_cdr(run, n, rng))) for n in range(calls)]
    expected = {"rated": calls}
    for reason, payload in bad_messages(run):
        messages.insert(rng.randrange(len(messages) + 1), (b"bad", payload))
        expected[reason] = expected.get(reason, 0) + 1
    return messages, expected
