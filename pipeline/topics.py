"""Every topic of the product in one place: the contract's names, their partitions and configs."""
from __future__ import annotations

from dataclasses import dataclass, field

from pipeline.settings import Settings

# a 100,000-prefix tariff is one ref.tariffs message of a few MB (compressed far less)
LARGE_MESSAGE_BYTES = 64 * 1024 * 1024
# every other topic takes Kafka's own default of ~1 MB, set explicitly so that a broker with
# another default cannot accept what our outputs' size check refuses, or the other way round
MESSAGE_BYTES = 1024 * 1024
# what a single record of ours may be (key + value): the batch framing must still fit
RECORD_BYTES_LIMIT = MESSAGE_BYTES - 16 * 1024
COMPACTED = {"cleanup.policy": "compact"}


@dataclass(frozen=True)
class TopicSpec:
    name: str  # contract name, without the prefix
    partitions: int | None  # None: the partitions setting
    config: dict[str, str] = field(default_factory=dict)
    internal: bool = False  # not part of CONTRACT.md; may change between versions
    # whether the pipeline relies on its partition count (co-partitioned state): checked at start
    strict_partitions: bool = True

    @property
    def max_message_bytes(self) -> int:
        return int(self.config.get("max.message.bytes", MESSAGE_BYTES))


def _config(*extra: dict, max_bytes: int = MESSAGE_BYTES) -> dict[str, str]:
    merged = {"max.message.bytes": str(max_bytes)}
    for part in extra:
        merged.update(part)
    return merged


# Reference data and the guard's input live on one partition each: they are small, must be read
# in order as a whole, and the guard's cascade needs every account in one place.
# Outside writers' topics (cdr.raw, balance.payments) may have any number of partitions: the
# pipeline re-keys what it reads from them itself.
TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec("cdr.raw", None, _config(), strict_partitions=False),
    TopicSpec("ref.accounts", 1, _config(COMPACTED)),
    TopicSpec("ref.tariffs", 1, _config(COMPACTED, max_bytes=LARGE_MESSAGE_BYTES)),
    TopicSpec("ref.providers", 1, _config(COMPACTED)),
    TopicSpec("ref.dids", 1, _config(COMPACTED)),
    TopicSpec("ref.holidays", 1, _config(COMPACTED)),
    TopicSpec("balance.payments", None, _config(), strict_partitions=False),
    TopicSpec("cdr.rated", None, _config()),
    TopicSpec("cdr.rejected", None, _config(), strict_partitions=False),
    TopicSpec("switch.control", None, _config(COMPACTED), strict_partitions=False),
    # payments that passed the checks, keyed by account by our own partitioner: a payment written
    # by a librdkafka client (CRC32 partitioning) lands beside the account's charges all the same
    TopicSpec("balance.payments.accepted", None, _config(), internal=True),
    TopicSpec("balance.charges", None, _config(), internal=True),
    TopicSpec("balance.updates", 1, _config(COMPACTED), internal=True),  # the guard rebuilds from it
    # the state of the stages (pipeline/runtime/state.py), partitioned like their sources
    TopicSpec("state.charged_calls", None, _config(COMPACTED), internal=True),
    TopicSpec("state.ledgers", None, _config(COMPACTED), internal=True),
    TopicSpec("state.payment_ids", None, _config(COMPACTED), internal=True),
    # re-rating differences (pipeline/rerate), keyed by account beside the charges; applied once per id
    TopicSpec("balance.adjustments", None, _config(), internal=True),
    # invoices (pipeline/invoices): issuer details and logos per account ("admin" = the
    # installation's), and the issued invoices, keyed issuer/account/period, on one partition so
    # that numbers are taken in order
    TopicSpec("ref.issuers", 1, _config(COMPACTED)),
    TopicSpec("ref.logos", 1, _config(COMPACTED)),
    TopicSpec("invoices", 1, _config(COMPACTED)),
    # the API (pipeline/api): credentials as hashes only, every instance reads them whole; and who
    # changed what, when
    TopicSpec("ref.credentials", 1, _config(COMPACTED)),
    TopicSpec("audit", 1, _config(), strict_partitions=False),
    # authorization before the call (pipeline/authorize): the API's questions, the rated calls that
    # settle their holds (from the charge stage), on one partition each beside balance.updates, so
    # that one authorizer sees every hold and every balance; its state's changelog is the durable
    # answer the API waits for. auth.holds tells operators which holds were settled or expired.
    # a card's PIN travels in its question: kept an hour, no more (the answer is in the state)
    TopicSpec("auth.requests", 1, _config({"retention.ms": str(3_600_000)}), internal=True),
    TopicSpec("auth.settlements", 1, _config(), internal=True),
    TopicSpec("state.auth_calls", 1, _config(COMPACTED), internal=True),
    TopicSpec("auth.holds", None, _config(), strict_partitions=False),
    # alerts (pipeline/alerts, pipeline/agents): the definitions; the fired/cleared events; the
    # blocks an alert asked for, which the balance guard folds into its rules (it stays the only
    # writer of switch.control), keyed ALERT/ACCOUNT, compacted, one partition (the guard reads it
    # whole). alerts.observations is the alert agents' own repartition: keyed ALERT/TARGET, so each
    # alert's windows live on one partition of their windowed tables.
    TopicSpec("ref.alerts", 1, _config(COMPACTED)),
    TopicSpec("alerts", None, _config(), strict_partitions=False),
    TopicSpec("alert_blocks", 1, _config(COMPACTED)),
    TopicSpec("alerts.observations", None, _config(), internal=True),
    # calling cards (pipeline/cards): the groups and the cards (PIN hashes: internal readers only),
    # read whole by every worker and API instance like the other ref topics
    TopicSpec("ref.card_groups", 1, _config(COMPACTED)),
    TopicSpec("ref.cards", 1, _config(COMPACTED)),
)
REFERENCE_TOPICS = {
    "account": "ref.accounts",
    "tariff": "ref.tariffs",
    "provider": "ref.providers",
    "did": "ref.dids",
    "holidays": "ref.holidays",
    "alert": "ref.alerts",
    "card_group": "ref.card_groups",
    "card": "ref.cards",
}


def spec(name: str) -> TopicSpec:
    for topic in TOPICS:
        if topic.name == name:
            return topic
    raise KeyError(name)


def partitions_of(topic: TopicSpec, settings: Settings) -> int:
    return topic.partitions or settings.partitions


def record_limits(settings: Settings) -> dict[str, int]:
    """Full topic name -> the largest record (key + value) the pipeline may write to it."""
    return {settings.topic(t.name): t.max_message_bytes - 16 * 1024 for t in TOPICS}
