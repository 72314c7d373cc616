"""`rates import` without a broker: --dry-run reads and checks a deck alone, and a deck too big for
one tariff record is refused before anything is sent."""
from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.reference import rates_import
from pipeline.reference.publish import ApplyError
from pipeline.reference.rates_cli import rates
from pipeline.schemas.reference import RateIn, TariffIn

REAL = Path(__file__).parents[2] / "fixtures" / "tariffs" / "real"


def test_dry_run_reads_a_deck_and_prints_what_it_holds():
    result = CliRunner().invoke(rates, ["import", str(REAL / "astpp" / "originationrates_sample.csv"),
                                        "--layout", "astpp", "--tariff", "t1", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "2 rates read (--dry-run: nothing published); 1 with tiers" in result.output


def test_a_bad_deck_exits_1_naming_the_place(tmp_path):
    deck = tmp_path / "deck.csv"
    deck.write_text("Code,Rate\n370,x\n")
    result = CliRunner().invoke(rates, ["import", str(deck), "--tariff", "t1", "--dry-run"])
    assert result.exit_code == 1
    assert 'nothing published: deck.csv line 2, column "Rate": must be a decimal number' in result.output
    bad_map = CliRunner().invoke(rates, ["import", str(deck), "--tariff", "t1", "--dry-run", "--map", "Code"])
    assert bad_map.exit_code == 2 and "must be COLUMN=FIELD" in bad_map.output


def test_a_tariff_too_big_for_one_record_is_refused_with_its_size(monkeypatch):
    tariff = TariffIn(id="t-big", rates=tuple(RateIn(prefix=str(370000 + n), rate="0.1") for n in range(3000)))
    rates_import.check_record_size(tariff)  # ~0.5 MB: fits the real limit
    monkeypatch.setattr(rates_import, "LARGE_MESSAGE_BYTES", 100_000)
    with pytest.raises(ApplyError) as caught:
        rates_import.check_record_size(tariff)
    assert 'tariff "t-big": 3,000 rates make a record of about' in caught.value.errors[0]
    assert "split the deck over several tariffs" in caught.value.errors[0]
