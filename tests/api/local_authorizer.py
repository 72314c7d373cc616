"""An authorizer for the in-memory API tests: the same pure decision and holds as the stage, on
the test world's LiveData, answered at once (the Kafka round trip is the integration tests')."""
from __future__ import annotations

import time
from datetime import datetime, timezone

from pipeline.authorize.decide import Live, decide
from pipeline.authorize.holds import LIVE, CallHold, HoldBook


class LocalAuthorizer:
    def __init__(self, live, cap: int = 7200) -> None:
        self.live, self.cap = live, cap
        self.holds = HoldBook()
        self.answers: dict[str, dict] = {}

    async def authorize(self, request) -> dict:
        key = request.call_key
        if key in self.answers:
            return self.answers[key]
        balances = {account: balance for account, (_, balance) in self.live.balances.items()}
        answer = decide(request, self.live.book, Live(balances, self.holds.held, self.holds.running,
                                                      self.holds.reseller_running, self.holds.device_running),
                        datetime.now(timezone.utc), self.cap)
        if answer.allowed:
            now_ms = int(time.time() * 1000)
            self.holds.add(CallHold(key, answer.account, "", answer.to_json(), dict(answer.holds), now_ms,
                                    now_ms + answer.max_seconds * 1000, LIVE, device=answer.device))
        self.answers[key] = answer.to_json()
        return self.answers[key]
