"""`rates import` on the real broker: a CGRateS plan and an ASTPP deck replace a tariff's rates, tiers
included, read back by the reference feed and priced; a bad deck or an unknown tariff publishes
nothing and names the file, line and column (or the tariff)."""
from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import orjson

from devkit.worker_process import settings_env
from pipeline.kafka.admin import ensure_topics
from pipeline.kafka.topic_io import read_all
from pipeline.kafka.topics import REFERENCE_TOPICS
from pipeline.rating.chain import CallToRate, rate_call
from pipeline.reference.publish import current_book
from pipeline.settings import REPO_ROOT

REAL = Path(__file__).parents[1] / "fixtures" / "tariffs" / "real"
NOON = datetime(2026, 11, 25, 10, 0, tzinfo=timezone.utc)


def pipeline_command(settings, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipeline", *args], env=settings_env(settings), cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=180)


def setup_files(tmp_path: Path) -> Path:
    path = tmp_path / "setup.json"
    path.write_bytes(orjson.dumps([
        {"kind": "tariff", "id": "t-decks", "owner": "admin", "rates": [{"prefix": "1", "rate": "9"}]},
        {"kind": "account", "id": "u-decks", "type": "user", "tariff": "t-decks", "billing": "postpaid"},
    ]))
    return path


async def test_a_cgrates_plan_is_published_with_its_tiers_and_priced_through_them(settings_factory, tmp_path):
    settings = settings_factory()
    assert pipeline_command(settings, "ref", "apply", str(setup_files(tmp_path))).returncode == 0
    plan = sorted((REAL / "cgrates" / "tutorial").glob("*.csv"))
    done = pipeline_command(settings, "rates", "import", *map(str, plan), "--layout", "cgrates",
                            "--rating-plan", "RP_1001", "--tariff", "t-decks")
    assert done.returncode == 0, done.stderr
    assert "2 rates published into tariff t-decks; 1 with tiers" in done.stdout
    assert "MaxCost 0.12 *disconnect" in done.stderr  # the note
    book = await current_book(settings)
    rated = rate_call(CallToRate("s", "c1", "u-decks", "10025551234", NOON, 90, True, None), book)
    assert (rated.user.billed_seconds, rated.user.price) == (90, Decimal("0.650000"))  # 0.4 + 0.2 + 0.1 * 30/60
    old = rate_call(CallToRate("s", "c2", "u-decks", "15551234", NOON, 60, True, None), book)
    assert old.__class__.__name__ == "NotRated"  # the deck replaced the tariff's rates whole


async def test_a_bad_deck_or_an_unknown_tariff_publishes_nothing(settings_factory, tmp_path):
    settings = settings_factory()
    await ensure_topics(settings)
    assert pipeline_command(settings, "ref", "apply", str(setup_files(tmp_path))).returncode == 0
    before = await read_all(settings, settings.topic(REFERENCE_TOPICS["tariff"]))
    deck = tmp_path / "deck.csv"
    deck.write_text("Code,Destination,Connection Cost (USD),Grace Time,Cost / Min (USD),Initial Increment,Increment\n"
                    "1,USA,0,0,0.01,30,60\n\n44,UK,0,0,O.05,30,30\n")
    refused = pipeline_command(settings, "rates", "import", str(deck), "--layout", "astpp", "--tariff", "t-decks")
    assert refused.returncode == 1
    assert 'nothing published: deck.csv line 4, column "Cost / Min (USD)": must be a decimal number' in refused.stderr
    unknown = pipeline_command(settings, "rates", "import", str(REAL / "astpp" / "originationrates_sample.csv"),
                               "--layout", "astpp", "--tariff", "t-nobody")
    assert unknown.returncode == 1 and 'tariff "t-nobody" does not exist' in unknown.stderr
    after = await read_all(settings, settings.topic(REFERENCE_TOPICS["tariff"]))
    assert len(after) == len(before)
