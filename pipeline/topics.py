"""Every topic of the product in one place: the contract's names, their partitions and configs."""
from __future__ import annotations

from dataclasses import dataclass, field

from pipeline.settings import Settings

# a 100,000-prefix tariff is one ref.tariffs message of a few MB (compressed far less)
LARGE_MESSAGE_BYTES = 64 * 1024 * 1024
COMPACTED = {"cleanup.policy": "compact"}


@dataclass(frozen=True)
class TopicSpec:
    name: str  # contract name, without the prefix
    partitions: int | None  # None: the partitions setting
    config: dict[str, str] = field(default_factory=dict)
    internal: bool = False  # not part of CONTRACT.md; may change between versions


# Reference data and the guard's input live on one partition each: they are small, must be read
# in order as a whole, and the guard's cascade needs every account in one place.
TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec("cdr.raw", None),
    TopicSpec("ref.accounts", 1, COMPACTED),
    TopicSpec("ref.tariffs", 1, {**COMPACTED, "max.message.bytes": str(LARGE_MESSAGE_BYTES)}),
    TopicSpec("ref.providers", 1, COMPACTED),
    TopicSpec("ref.dids", 1, COMPACTED),
    TopicSpec("ref.holidays", 1, COMPACTED),
    TopicSpec("balance.payments", None),
    TopicSpec("cdr.rated", None),
    TopicSpec("cdr.rejected", None),
    TopicSpec("switch.control", None, COMPACTED),
    TopicSpec("balance.charges", None, internal=True),
    TopicSpec("balance.updates", 1, COMPACTED, internal=True),  # the guard rebuilds from it
    # the state of the stages (pipeline/state_store.py), partitioned like their sources
    TopicSpec("state.charged_calls", None, COMPACTED, internal=True),
    TopicSpec("state.ledgers", None, COMPACTED, internal=True),
)
REFERENCE_TOPICS = {
    "account": "ref.accounts",
    "tariff": "ref.tariffs",
    "provider": "ref.providers",
    "did": "ref.dids",
    "holidays": "ref.holidays",
}


def spec(name: str) -> TopicSpec:
    for topic in TOPICS:
        if topic.name == name:
            return topic
    raise KeyError(name)


def partitions_of(topic: TopicSpec, settings: Settings) -> int:
    return topic.partitions or settings.partitions
