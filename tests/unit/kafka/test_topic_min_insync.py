"""min.insync.replicas of the topics the pipeline creates: 2 once there are 3 replicas (one broker
may be down, a write still sits on two), never more than rf - 1, the broker's default with 1."""
from __future__ import annotations

import pytest

from pipeline.kafka.admin import ensure_topics, min_insync_replicas, topic_configs
from pipeline.kafka.topics import TOPICS, TopicSpec
from pipeline.settings import Settings


@pytest.mark.parametrize("rf,expected", [(1, 1), (2, 1), (3, 2), (4, 2), (5, 2)])
def test_min_insync_replicas_by_replication_factor(rf, expected):
    assert min_insync_replicas(rf) == expected
    assert expected <= max(1, rf - 1)


def test_single_replica_topics_keep_their_own_config_only():
    settings = Settings(replication_factor=1)
    for topic in TOPICS:
        assert topic_configs(topic, settings) == topic.config, topic.name


@pytest.mark.parametrize("rf,expected", [(2, "1"), (3, "2"), (5, "2")])
def test_replicated_topics_get_min_insync_replicas(rf, expected):
    settings = Settings(replication_factor=rf)
    for topic in TOPICS:
        configs = topic_configs(topic, settings)
        assert configs["min.insync.replicas"] == expected, topic.name
        # everything the topic itself says is kept (compaction, max.message.bytes)
        assert {k: v for k, v in configs.items() if k != "min.insync.replicas"} == topic.config


def test_a_topics_own_min_insync_replicas_wins_and_specs_stay_untouched():
    own = TopicSpec("x", 1, {"min.insync.replicas": "3", "cleanup.policy": "compact"})
    assert topic_configs(own, Settings(replication_factor=3)) == own.config
    plain = TopicSpec("y", 1, {"cleanup.policy": "compact"})
    topic_configs(plain, Settings(replication_factor=3))
    assert plain.config == {"cleanup.policy": "compact"}


class _RecordingAdmin:
    def __init__(self) -> None:
        self.created = []

    async def start(self) -> None: ...
    async def close(self) -> None: ...

    async def list_topics(self) -> list[str]:
        return ["cdr.raw"]  # exists already: left as it is

    async def create_topics(self, new_topics) -> None:
        self.created.extend(new_topics)

    async def describe_topics(self, names) -> list[dict]:
        return [{"topic": n, "partitions": [{"partition": 0, "leader": 1}]} for n in names]


class _Clients:
    def __init__(self, admin) -> None:
        self._admin = admin

    def admin(self):
        return self._admin


async def test_ensure_topics_creates_replicated_topics_with_min_insync_2():
    admin = _RecordingAdmin()
    await ensure_topics(Settings(replication_factor=3), _Clients(admin))
    created = {t.name: t for t in admin.created}
    assert set(created) == {t.name for t in TOPICS} - {"cdr.raw"}
    for topic in TOPICS[1:]:
        new = created[topic.name]
        assert new.replication_factor == 3
        assert dict(new.topic_configs) == {**topic.config, "min.insync.replicas": "2"}
