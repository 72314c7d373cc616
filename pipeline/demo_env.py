"""The settings of the last demo run, for the commands typed after it.

`python -m pipeline demo` runs on topics (and a ClickHouse database) of its own, new each run, so
that a second run starts clean instead of adding to the first. It writes where they are to
`$RATING_LOCAL_DIR/run/demo.env`; `python -m pipeline ...` reads that file when RATING_TOPIC_PREFIX
is not set at all, so the README's commands find the demo's data (and say so on standard error).
Setting RATING_TOPIC_PREFIX (even to "") turns this off; `deploy/local/down --purge` deletes the file.
"""
from __future__ import annotations

import re
from collections.abc import MutableMapping, Sequence
from pathlib import Path

from pipeline.settings import REPO_ROOT, Settings

FILE_NAME = "demo.env"
KEYS = ("RATING_TOPIC_PREFIX", "RATING_CLICKHOUSE_URL")
# commands that choose their own topics: the demo starts a new run, the benchmarks use scratch ones
OWN_TOPICS = re.compile(r"^(demo|bench-[a-z-]+)$")
_LINE = re.compile(r"^(RATING_[A-Z_]+)=(.*)$")


def demo_env_path(local_dir: Path) -> Path:
    return local_dir / "run" / FILE_NAME


def write_demo_env(settings: Settings) -> Path:
    """Record the run's topic prefix and database (values without spaces or quotes: an `export`
    line of a shell takes them as they are)."""
    path = demo_env_path(settings.local_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("# written by `python -m pipeline demo`: the commands use this run while "
                    "RATING_TOPIC_PREFIX is unset\n"
                    f"RATING_TOPIC_PREFIX={settings.topic_prefix}\n"
                    f"RATING_CLICKHOUSE_URL={settings.clickhouse_url}\n")
    return path


def read_demo_env(path: Path) -> dict[str, str]:
    """The KEYS the file sets; other lines (comments, anything else) are ignored."""
    try:
        text = path.read_text()
    except OSError:
        return {}
    values = {}
    for line in text.splitlines():
        match = _LINE.match(line.strip())
        if match and match.group(1) in KEYS:
            values[match.group(1)] = match.group(2).strip()
    return values


def adopt_demo_env(environ: MutableMapping[str, str], argv: Sequence[str]) -> tuple[Path, dict[str, str]] | None:
    """Put the demo run's settings into `environ` (those not set there already) when
    RATING_TOPIC_PREFIX is unset and the command works on the product's topics; (file, values) when
    it did, else None."""
    if "RATING_TOPIC_PREFIX" in environ or (argv and OWN_TOPICS.match(argv[0])):
        return None
    local_dir = Path(environ.get("RATING_LOCAL_DIR") or REPO_ROOT / ".local")
    path = demo_env_path(local_dir)
    values = read_demo_env(path)
    if "RATING_TOPIC_PREFIX" not in values:
        return None
    for key, value in values.items():
        environ.setdefault(key, value)
    return path, values
