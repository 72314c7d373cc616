from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from pipeline.adapters import SwitchContext

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "switch_cdrs"


@pytest.fixture
def vilnius() -> SwitchContext:
    """The fixtures' switches run on Vilnius local time (UTC+2 in November)."""
    return SwitchContext("sw1", ZoneInfo("Europe/Vilnius"))


@pytest.fixture
def fixture_lines():
    def read(relative: str) -> list[str]:
        return [line for line in (FIXTURES / relative).read_text().splitlines() if line.strip()]
    return read


@pytest.fixture
def fixtures_dir() -> Path:
    return FIXTURES
