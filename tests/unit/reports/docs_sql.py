"""The SQL blocks of docs/analytics.md, statement by statement, pointed at a test database."""
from __future__ import annotations

import re

from pipeline.settings import REPO_ROOT

ANALYTICS = REPO_ROOT / "docs" / "analytics.md"


def doc_statements(database: str) -> list[str]:
    blocks = re.findall(r"```sql\n(.*?)```", ANALYTICS.read_text(encoding="utf-8"), re.S)
    statements = [s.strip() for block in blocks for s in re.split(r";\s*\n", block) if s.strip()]
    return [s.rstrip(";").replace("rating.", f"{database}.") for s in statements]
