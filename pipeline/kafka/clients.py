"""The one place Kafka clients are built, so their options cannot drift apart.

Every stage, command and service asks a `KafkaClients` for its consumer, producer or admin
client. Tests hand the same code an in-memory broker with the same methods
(tests/support/memory_broker.py), which is why nothing else imports aiokafka's constructors.
"""
from __future__ import annotations

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.coordinator.assignors.range import RangePartitionAssignor

from pipeline.kafka.rdkafka import RdConsumer, RdProducer
from pipeline.kafka.topics import LARGE_MESSAGE_BYTES, MESSAGE_BYTES
from pipeline.settings import Settings

# aiokafka's 500 ms default holds back records of partitions still being read
FETCH_MAX_WAIT_MS = 20
# the defaults (45 s session) made a killed worker's partitions wait that long for a new owner
SESSION_TIMEOUT_MS, HEARTBEAT_INTERVAL_MS = 10000, 1000


class KafkaClients:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def group_consumer(self, group: str, *, max_poll_records: int | None = None,
                       partition_assignment_strategy=None, large_messages: bool = False,
                       fetch_min_bytes: int = 1, fetch_max_wait_ms: int = FETCH_MAX_WAIT_MS) -> AIOKafkaConsumer:
        """A member of the group `<app id>-<group>` that commits only when told to.
        `fetch_min_bytes`/`fetch_max_wait_ms`: the broker holds a fetch until that much data or
        that long. Every fetch costs a request encoded and a response decoded in Python, so a
        stage takes fewer, fuller fetches where a few ms of latency cost nothing."""
        options = {"fetch_min_bytes": fetch_min_bytes}
        if partition_assignment_strategy is not None:
            options["partition_assignment_strategy"] = partition_assignment_strategy
        if max_poll_records is not None:
            options["max_poll_records"] = max_poll_records
        return AIOKafkaConsumer(
            **self._common_consumer_options(large_messages, fetch_max_wait_ms),
            group_id=f"{self.settings.app_id}-{group}",
            session_timeout_ms=SESSION_TIMEOUT_MS,
            heartbeat_interval_ms=HEARTBEAT_INTERVAL_MS,
            max_poll_interval_ms=self.settings.max_poll_interval_ms,
            **options,
        )

    def stage_consumer(self, group: str, *, max_poll_records: int, large_messages: bool,
                       fetch_min_bytes: int, fetch_max_wait_ms: int):
        """The checkpoint loop's group member (range assignment: a stage reading two topics keyed
        alike gets the same partition numbers of both), on the client RATING_KAFKA_CLIENT names."""
        if self.settings.kafka_client == "aiokafka":
            return self.group_consumer(group, max_poll_records=max_poll_records,
                                       partition_assignment_strategy=(RangePartitionAssignor,),
                                       large_messages=large_messages, fetch_min_bytes=fetch_min_bytes,
                                       fetch_max_wait_ms=fetch_max_wait_ms)
        config = {
            "bootstrap.servers": self.settings.kafka_bootstrap,
            "group.id": f"{self.settings.app_id}-{group}",
            "partition.assignment.strategy": "range",  # the same protocol as aiokafka members
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
            "fetch.wait.max.ms": fetch_max_wait_ms,
            "fetch.min.bytes": fetch_min_bytes,
            "max.poll.interval.ms": self.settings.max_poll_interval_ms,
            # librdkafka insists on a session no longer than the poll interval
            "session.timeout.ms": min(SESSION_TIMEOUT_MS, self.settings.max_poll_interval_ms),
            "heartbeat.interval.ms": HEARTBEAT_INTERVAL_MS,
            # a stage's batch is its unit; more than a few batches prefetched is memory for nothing
            "queued.max.messages.kbytes": 16384,
        }
        if large_messages:
            config.update({"max.partition.fetch.bytes": LARGE_MESSAGE_BYTES, "fetch.max.bytes": LARGE_MESSAGE_BYTES,
                           "receive.message.max.bytes": LARGE_MESSAGE_BYTES + 65536})
        return RdConsumer(config)

    def stage_producer(self, *, linger_ms: int = 2):
        """The checkpoint loop's producer: idempotent, acks=all, as `producer`."""
        if self.settings.kafka_client == "aiokafka":
            return self.producer(linger_ms=linger_ms)
        return RdProducer({
            "bootstrap.servers": self.settings.kafka_bootstrap,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": linger_ms,
            "message.max.bytes": MESSAGE_BYTES,
        })

    def reader(self, *, large_messages: bool = False, group: str | None = None,
               uncommitted: bool = False, fetch_max_wait_ms: int = FETCH_MAX_WAIT_MS) -> AIOKafkaConsumer:
        """A consumer assigned partitions by hand (no group unless one is named, for a cursor).
        `uncommitted`: reads up to the high watermark, open transactions included (only to learn
        where a topic ends: a read_committed end offset stops at the last stable offset)."""
        group_id = f"{self.settings.app_id}-{group}" if group else None
        options = self._common_consumer_options(large_messages, fetch_max_wait_ms)
        if uncommitted:
            options["isolation_level"] = "read_uncommitted"
        return AIOKafkaConsumer(**options, group_id=group_id)

    def producer(self, *, linger_ms: int = 2, transactional_id: str | None = None,
                 large_messages: bool = False) -> AIOKafkaProducer:
        """Idempotent, acks=all. `transactional_id` (made unique per topic prefix): a producer with
        the same id in another process fences this one, as Kafka's transactions do."""
        options = {}
        if transactional_id is not None:
            options["transactional_id"] = f"{self.settings.app_id}-{transactional_id}"
        if large_messages:  # a 100,000-prefix tariff compresses several-fold
            options["compression_type"] = "gzip"
        return AIOKafkaProducer(
            bootstrap_servers=self.settings.kafka_bootstrap,
            enable_idempotence=True,
            acks="all",
            linger_ms=linger_ms,
            max_request_size=LARGE_MESSAGE_BYTES if large_messages else MESSAGE_BYTES,
            **options,
        )

    def admin(self) -> AIOKafkaAdminClient:
        return AIOKafkaAdminClient(bootstrap_servers=self.settings.kafka_bootstrap, request_timeout_ms=30000)

    def _common_consumer_options(self, large_messages: bool, fetch_max_wait_ms: int) -> dict:
        options = dict(
            bootstrap_servers=self.settings.kafka_bootstrap,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            # `ref apply` and the state changelogs may be written in transactions: never read an
            # aborted one
            isolation_level="read_committed",
            fetch_max_wait_ms=fetch_max_wait_ms,
        )
        if large_messages:
            options.update(max_partition_fetch_bytes=LARGE_MESSAGE_BYTES, fetch_max_bytes=LARGE_MESSAGE_BYTES)
        return options
