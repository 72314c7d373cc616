"""`adapter kamailio --from-topic`: transaction records read from a topic are paired like a log's,
and an INVITE read by one run waits in the adapter's state file for the BYE a later run reads."""
from __future__ import annotations

import os
import subprocess
import sys

import orjson

from pipeline.kafka.topic_io import produce_all, read_all
from pipeline.kafka.topics import CDR_RAW
from pipeline.settings import REPO_ROOT, Settings

EXTRA = "src_user=1001;src_domain=example.org;src_ip=192.0.2.10;dst_ouser=370600;dst_user=37060000001;dst_domain=x"


def _line(method: str, ts: int, call_id: str) -> bytes:
    return (f"ACC: transaction answered: timestamp={ts};method={method};from_tag=f-{call_id};to_tag=t-{call_id};"
            f"call_id={call_id};code=200;reason=OK;{EXTRA}").encode()


def _run(settings: Settings, topic: str, state) -> str:
    env = {**os.environ, "RATING_TOPIC_PREFIX": settings.topic_prefix, "RATING_LOCAL_DIR": str(settings.local_dir),
           "RATING_KAFKA_BOOTSTRAP": settings.kafka_bootstrap}
    done = subprocess.run([sys.executable, "-m", "pipeline.adapters", "adapter", "kamailio", "--from-topic", topic,
                           "--server", "kam-topic", "--state", str(state), "--once"],
                          env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


async def test_an_invite_read_in_one_run_pairs_with_a_bye_read_in_the_next(settings_factory, tmp_path):
    settings = settings_factory()
    topic = settings.topic("kamailio.acc")
    await produce_all(settings, "kamailio.acc", [(None, _line("INVITE", 1795777200, "a")),
                                                 (None, _line("BYE", 1795777230, "a")),
                                                 (None, _line("INVITE", 1795777240, "b"))])
    first = _run(settings, topic, tmp_path / "state.json")
    assert "kamailio: 1 CDR(s) to cdr.raw, 0 rejected, 1 record(s) held" in first, first
    assert "invites" in orjson.loads((tmp_path / "state.json").read_bytes())["adapter"]["pairing"]
    await produce_all(settings, "kamailio.acc", [(None, _line("BYE", 1795777300, "b"))])
    second = _run(settings, topic, tmp_path / "state.json")
    assert "kamailio: 1 CDR(s) to cdr.raw, 0 rejected" in second and "held" not in second, second
    cdrs = {m.key.decode(): orjson.loads(m.value) for m in await read_all(settings, CDR_RAW)}
    assert {key: cdr["billsec"] for key, cdr in cdrs.items()} == {"kam-topic/a": 30, "kam-topic/b": 60}
