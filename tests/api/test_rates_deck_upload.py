"""PUT /v1/tariffs/{id}/rates?layout=...: decks as carriers send them, a CGRateS plan as a ZIP,
`map=COLUMN=FIELD` repeated, and the deck's first error in the 422 detail."""
from __future__ import annotations

import io
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest

from tests.api.api_world import World

REAL = Path(__file__).parents[1] / "fixtures" / "tariffs" / "real"
URL = "/v1/tariffs/t-r1-retail/rates"


@pytest.fixture
def world() -> World:
    return World()


def published_rates(world: World) -> dict:
    return {rate.prefix: rate for rate in world.writer.published[-1][0].rates}


def test_a_carrier_csv_with_its_own_column_names(world):
    body = "Destination,Dial Code,Per Minute Cost,Connect Fee,Billing Increment\nLithuania,+370,0.05,0.01,30/6\n"
    answer = world.put("r1", f"{URL}?layout=generic", content=body, headers={"Content-Type": "text/csv"})
    assert answer.status_code == 200, answer.text
    rate = published_rates(world)["370"]
    assert (rate.rate, rate.connection_fee, rate.min_time, rate.increment) == (Decimal("0.05"), Decimal("0.01"), 30, 6)


def test_map_is_a_repeated_query_parameter(world):
    body = "Zone,Dial,Cost,Price\nLT,370,0.1,0.2\n"
    answer = world.put("r1", f"{URL}?layout=generic&map=Dial=prefix&map=Price=rate", content=body,
                       headers={"Content-Type": "text/csv"})
    assert answer.status_code == 200, answer.text
    assert published_rates(world)["370"].rate == Decimal("0.2")


def test_a_cgrates_plan_as_a_zip(world):
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        for path in sorted((REAL / "cgrates" / "tutorial").glob("*.csv")):
            zipped.write(path, f"tutorial/{path.name}")
    answer = world.put("r1", f"{URL}?layout=cgrates&rating_plan=RP_1001", content=archive.getvalue(),
                       headers={"Content-Type": "application/zip"})
    assert answer.status_code == 200, answer.text
    assert [(t.from_seconds, t.rate) for t in published_rates(world)["1002"].tiers] == [(60, Decimal("0.1"))]


def test_a_bad_deck_is_422_naming_file_line_and_column_and_nothing_is_published(world):
    body = "Code,Rate\n370,0.1\n371,abc\n"
    answer = world.put("r1", f"{URL}?layout=astpp", content=body, headers={"Content-Type": "text/csv"})
    assert answer.status_code == 422
    assert answer.json()["detail"] == 'upload.csv line 3, column "Rate": must be a decimal number >= 0 (got "abc")'
    one_file = world.put("r1", f"{URL}?layout=cgrates", content=body, headers={"Content-Type": "text/csv"})
    assert one_file.status_code == 422 and "send a ZIP of the plan's files" in one_file.json()["detail"]
    bad_map = world.put("r1", f"{URL}?layout=generic&map=Code", content=body, headers={"Content-Type": "text/csv"})
    assert bad_map.status_code == 422 and "must be COLUMN=FIELD" in bad_map.json()["detail"]
    assert world.writer.published == []


def test_a_broken_zip_is_422(world):
    answer = world.put("r1", f"{URL}?layout=cgrates", content=b"PK\x03\x04broken",
                       headers={"Content-Type": "application/zip"})
    assert answer.status_code == 422 and "not a ZIP that can be read" in answer.json()["detail"]


def test_without_a_layout_the_contract_csv_still_takes_tiers(world):
    body = "prefix,rate,increment,tiers\n370,0.2,60,60:0.1:1\n"
    answer = world.put("r1", URL, content=body, headers={"Content-Type": "text/csv"})
    assert answer.status_code == 200, answer.text
    assert published_rates(world)["370"].tiers[0].from_seconds == 60


def test_a_tariff_body_with_tiers_and_a_bad_layout_of_them(world):
    good = {"rates": [{"prefix": "370", "rate": "0.2", "increment": 60,
                       "tiers": [{"from_seconds": 60, "rate": "0.1", "increment": 1}]}]}
    answer = world.put("r1", "/v1/tariffs/t-r1-retail", json=good)
    assert answer.status_code == 200, answer.text
    bad = {"rates": [{"prefix": "370", "rate": "0.2", "increment": 60, "tiers": [{"from_seconds": 30, "rate": "0.1"}]}]}
    refused = world.put("r1", "/v1/tariffs/t-r1-retail", json=bad)
    assert refused.status_code == 422 and "tiers[0].from_seconds 30" in refused.json()["detail"]
