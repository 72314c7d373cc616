"""A production Asterisk's Master.csv (tests/fixtures/switch_cdrs/real/asterisk/stadion-Master.csv:
no accountcode, calls written in several records) through `adapter asterisk_csv` onto the real
broker: every record of a call carries its own segment, the caller his device, and the same file
sent twice gives the same keys and the same CDRs (the pipeline charges each segment once)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import orjson

from pipeline.kafka.topic_io import read_all
from pipeline.kafka.topics import CDR_RAW, CDR_REJECTED
from pipeline.schemas.cdr import CdrIn
from pipeline.settings import REPO_ROOT, Settings

STADION = REPO_ROOT / "tests" / "fixtures" / "switch_cdrs" / "real" / "asterisk" / "stadion-Master.csv"


def _send(settings: Settings, master: Path, state: Path) -> str:
    env = {**os.environ, "RATING_TOPIC_PREFIX": settings.topic_prefix, "RATING_LOCAL_DIR": str(settings.local_dir),
           "RATING_KAFKA_BOOTSTRAP": settings.kafka_bootstrap}
    done = subprocess.run([sys.executable, "-m", "pipeline.adapters", "adapter", "asterisk_csv", "--from-file",
                           str(master), "--server", "stadion", "--state", str(state), "--once"],
                          env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


async def test_a_call_in_several_records_is_sent_as_segments_with_stable_keys(settings_factory, tmp_path):
    settings = settings_factory()
    master = tmp_path / "Master.csv"
    shutil.copyfile(STADION, master)
    assert "asterisk_csv: 15 CDR(s) to cdr.raw, 8 rejected" in _send(settings, master, tmp_path / "first.json")
    # the same file again from scratch (a new position file: as after losing it)
    assert "asterisk_csv: 15 CDR(s) to cdr.raw, 8 rejected" in _send(settings, master, tmp_path / "second.json")

    sent: dict[str, list[bytes]] = defaultdict(list)
    for message in await read_all(settings, CDR_RAW):
        sent[message.key.decode()].append(message.value)
    assert len(sent) == 15 and all(len(values) == 2 and values[0] == values[1] for values in sent.values())
    cdrs = {key: orjson.loads(values[0]) for key, values in sent.items()}
    assert all(key == CdrIn.model_validate(cdr).call_key for key, cdr in cdrs.items())

    segments: dict[str, set[str]] = defaultdict(set)
    for cdr in cdrs.values():
        assert cdr["segment"] and cdr["account"] == "" and cdr["device"]["sip_user"] in ("211474", "211553")
        segments[cdr["call_id"]].add(cdr["segment"])
    # one Dial to two peers and a Hangup; a Local channel fan-out (its ;2 halves are rejected)
    assert segments["1706369600.6"] == {"3", "6", "7"}
    assert segments["1706372196.12"] == {"8", "15", "16"}
    assert segments["1706415046.98"] == {"79", "82"}

    rejected = [orjson.loads(message.value) for message in await read_all(settings, CDR_REJECTED)]
    assert len(rejected) == 16 and {body["reason"] for body in rejected} == {"adapter"}
    assert all("names no SIP, PJSIP or IAX2 peer" in body["detail"] and "Local/" in body["detail"] for body in rejected)
