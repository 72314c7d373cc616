"""`deploy/local/up --brokers 3`: three KRaft nodes that lose one broker and carry on.

Runs a second cluster beside the main stack (tests/support/cluster3.py: 19092..19097, state in
.local/cluster3), through the real scripts: start, write with acks=all to a topic of 3 replicas
and min.insync.replicas 2, SIGKILL the leader's node, write again, `up` again, and the killed
node is back in every ISR; `down` leaves no JVM of it behind.
"""
from __future__ import annotations

import asyncio
import re
import subprocess
import uuid

import pytest
from aiokafka import TopicPartition
from aiokafka.admin import NewTopic

from pipeline.kafka.clients import KafkaClients
from pipeline.settings import REPO_ROOT
from tests.support.cluster3 import NODES, LocalCluster3

LOCAL = REPO_ROOT / "deploy" / "local"


def _properties(path) -> dict[str, str]:
    lines = (ln.strip() for ln in path.read_text().splitlines())
    return dict(ln.split("=", 1) for ln in lines if ln and not ln.startswith("#"))


def test_three_node_template_keeps_the_single_node_settings():
    """The 3-node template differs from the single node's only where 3 replicas need it."""
    single = _properties(LOCAL / "server.properties.template")
    three = _properties(LOCAL / "server3.properties.template")
    replicated = {
        "default.replication.factor": "3", "min.insync.replicas": "2",
        "offsets.topic.replication.factor": "3", "transaction.state.log.replication.factor": "3",
        "transaction.state.log.min.isr": "2", "unclean.leader.election.enable": "false",
    }
    per_node = {"node.id", "controller.quorum.voters", "listeners", "advertised.listeners", "log.dirs"}
    threads = {"num.network.threads", "num.io.threads", "num.replica.fetchers"}
    for key, value in replicated.items():
        assert three.get(key) == value, key
    for key, value in single.items():
        if key not in replicated and key not in per_node and key not in threads:
            assert three.get(key) == value, f"{key}: single node {value!r}, 3 nodes {three.get(key)!r}"
    assert three["node.id"] == "@NODE_ID@" and three["controller.quorum.voters"] == "@QUORUM_VOTERS@"


async def _produce(settings, topic: str, n: int, tag: str) -> None:
    producer = KafkaClients(settings).producer()  # acks=all, idempotent: what the pipeline uses
    await producer.start()
    try:
        for i in range(n):
            await producer.send_and_wait(topic, f"{tag}-{i}".encode(), key=str(i).encode())
    finally:
        await producer.stop()


async def _end_offsets(cluster: LocalCluster3, topic: str) -> int:
    """Records in the topic: the sum of its partitions' end offsets."""
    tps = [TopicPartition(topic, p["partition"]) for p in await asyncio.to_thread(cluster.describe, topic)]
    reader = KafkaClients(cluster.settings()).reader()
    await reader.start()
    try:
        return sum((await reader.end_offsets(tps)).values())
    finally:
        await reader.stop()


@pytest.mark.slow
async def test_three_brokers_survive_a_killed_node_and_it_rejoins():
    cluster = LocalCluster3()
    try:
        out = cluster.start()
        cold_start = cluster.last_up_seconds
        assert f"RATING_KAFKA_BOOTSTRAP={cluster.bootstrap}" in out
        assert "RATING_REPLICATION_FACTOR=3" in out
        assert re.search(r"Kafka cluster ready: 3 brokers", out), out
        pids = {n: cluster.pid(n) for n in NODES}
        assert all(pids.values()), pids
        for n in NODES:
            assert cluster.log_path(n).stat().st_size > 0
        # one layout per state dir, and only 1 or 3 brokers: both refused with what to do instead
        for args, says in ((["--brokers", "1", "--kafka-only"], "Run deploy/local/down first"),
                           (["--brokers", "2", "--kafka-only"], "only 1 (the default) and 3 brokers")):
            refused = subprocess.run([str(LOCAL / "up"), *args], env=cluster._env(), capture_output=True,
                                     text=True, timeout=60)
            assert refused.returncode == 1 and says in refused.stderr, refused.stderr
        assert {n: cluster.pid(n) for n in NODES} == pids, "a refused up touched the cluster"

        settings = cluster.settings()
        topic = f"c3-{uuid.uuid4().hex[:8]}"
        admin = KafkaClients(settings).admin()
        await admin.start()
        try:
            await admin.create_topics([NewTopic(topic, 3, 3, topic_configs={"min.insync.replicas": "2"})])
        finally:
            await admin.close()
        assert set(map(tuple, (await asyncio.to_thread(cluster.wait_for_isr, topic, 3)).values())) == {(1, 2, 3)}
        await _produce(settings, topic, 30, "before")

        node = await asyncio.to_thread(cluster.leader_node, topic, 0)
        killed = cluster.kill(node)
        assert cluster.pid(node) is None
        # two of three replicas are in sync: acks=all writes still succeed, on every partition
        await _produce(settings, topic, 30, "during")
        assert await _end_offsets(cluster, topic) == 60

        out = cluster.restart()
        restart = cluster.last_up_seconds
        assert f"Kafka node {node}: starting" in out, out
        for other in set(NODES) - {node}:
            assert cluster.pid(other) == pids[other], "up must leave the running nodes alone"
        assert cluster.pid(node) not in (None, killed)
        isr = await asyncio.to_thread(cluster.wait_for_isr, topic, 3)
        assert all(node in nodes for nodes in isr.values()), isr
        await _produce(settings, topic, 30, "after")
        assert await _end_offsets(cluster, topic) == 90
        print(f"3-broker cold start {cold_start:.1f}s, restart of node {node} {restart:.1f}s")
    except BaseException:
        for n in NODES:  # the logs go with `down --purge` below: show their ends first
            path = cluster.log_path(n)
            if path.exists():
                print(f"--- last lines of {path}")
                print("\n".join(path.read_text(errors="replace").splitlines()[-40:]))
        raise
    finally:
        cluster.stop()
        assert cluster.java_pids() == [], "down left a Kafka node of the cluster running"
