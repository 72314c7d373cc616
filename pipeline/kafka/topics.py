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

# Every topic's contract name (without RATING_TOPIC_PREFIX; settings.topic() adds it). Code names
# topics by these constants only.
CDR_RAW = "cdr.raw"
REF_ACCOUNTS = "ref.accounts"
REF_TARIFFS = "ref.tariffs"
REF_PROVIDERS = "ref.providers"
REF_DIDS = "ref.dids"
REF_HOLIDAYS = "ref.holidays"
BALANCE_PAYMENTS = "balance.payments"
CDR_RATED = "cdr.rated"
CDR_REJECTED = "cdr.rejected"
SWITCH_CONTROL = "switch.control"
BALANCE_PAYMENTS_ACCEPTED = "balance.payments.accepted"
BALANCE_CHARGES = "balance.charges"
BALANCE_UPDATES = "balance.updates"
STATE_CHARGED_CALLS = "state.charged_calls"
STATE_LEDGERS = "state.ledgers"
STATE_PAYMENT_IDS = "state.payment_ids"
BALANCE_ADJUSTMENTS = "balance.adjustments"
REF_ISSUERS = "ref.issuers"
REF_LOGOS = "ref.logos"
INVOICES = "invoices"
INVOICES_DELIVERIES = "invoices.deliveries"
REF_CREDENTIALS = "ref.credentials"
AUDIT = "audit"
AUTH_REQUESTS = "auth.requests"
AUTH_SETTLEMENTS = "auth.settlements"
STATE_AUTH_CALLS = "state.auth_calls"
AUTH_HOLDS = "auth.holds"
REF_ALERTS = "ref.alerts"
ALERTS = "alerts"
ALERT_BLOCKS = "alert_blocks"
ALERTS_OBSERVATIONS = "alerts.observations"
REF_CARD_GROUPS = "ref.card_groups"
REF_CARDS = "ref.cards"
REF_DEVICES = "ref.devices"


@dataclass(frozen=True)
class TopicSpec:
    name: str  # contract name, without the prefix
    partitions: int | None  # None: the partitions setting
    config: dict[str, str] = field(default_factory=dict)
    internal: bool = False  # not part of docs/contract.md; may change between versions
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
    TopicSpec(CDR_RAW, None, _config(), strict_partitions=False),
    TopicSpec(REF_ACCOUNTS, 1, _config(COMPACTED)),
    TopicSpec(REF_TARIFFS, 1, _config(COMPACTED, max_bytes=LARGE_MESSAGE_BYTES)),
    TopicSpec(REF_PROVIDERS, 1, _config(COMPACTED)),
    TopicSpec(REF_DIDS, 1, _config(COMPACTED)),
    TopicSpec(REF_HOLIDAYS, 1, _config(COMPACTED)),
    TopicSpec(BALANCE_PAYMENTS, None, _config(), strict_partitions=False),
    TopicSpec(CDR_RATED, None, _config()),
    TopicSpec(CDR_REJECTED, None, _config(), strict_partitions=False),
    TopicSpec(SWITCH_CONTROL, None, _config(COMPACTED), strict_partitions=False),
    # payments that passed the checks, keyed by account by our own partitioner: a payment written
    # by a librdkafka client (CRC32 partitioning) lands beside the account's charges all the same
    TopicSpec(BALANCE_PAYMENTS_ACCEPTED, None, _config(), internal=True),
    TopicSpec(BALANCE_CHARGES, None, _config(), internal=True),
    TopicSpec(BALANCE_UPDATES, 1, _config(COMPACTED), internal=True),  # the guard rebuilds from it
    # the state of the stages (pipeline/runtime/state.py), partitioned like their sources
    TopicSpec(STATE_CHARGED_CALLS, None, _config(COMPACTED), internal=True),
    TopicSpec(STATE_LEDGERS, None, _config(COMPACTED), internal=True),
    TopicSpec(STATE_PAYMENT_IDS, None, _config(COMPACTED), internal=True),
    # re-rating differences (pipeline/rerate), keyed by account beside the charges; applied once per id
    TopicSpec(BALANCE_ADJUSTMENTS, None, _config(), internal=True),
    # invoices (pipeline/invoices): issuer details and logos per account ("admin" = the
    # installation's), and the issued invoices, keyed issuer/account/period, on one partition so
    # that numbers are taken in order
    TopicSpec(REF_ISSUERS, 1, _config(COMPACTED)),
    TopicSpec(REF_LOGOS, 1, _config(COMPACTED)),
    TopicSpec(INVOICES, 1, _config(COMPACTED)),
    # each e-mail of an invoice (pipeline/invoices/deliveries.py): when, to whom, what came of it;
    # kept for good, as the invoices are
    TopicSpec(INVOICES_DELIVERIES, 1, _config({"retention.ms": "-1"}), strict_partitions=False),
    # the API (pipeline/api): credentials as hashes only, every instance reads them whole; and who
    # changed what, when
    TopicSpec(REF_CREDENTIALS, 1, _config(COMPACTED)),
    TopicSpec(AUDIT, 1, _config(), strict_partitions=False),
    # authorization before the call (pipeline/authorize): the API's questions, the rated calls that
    # settle their holds (from the charge stage), on one partition each beside balance.updates, so
    # that one authorizer sees every hold and every balance; its state's changelog is the durable
    # answer the API waits for. auth.holds tells operators which holds were settled or expired.
    # a card's PIN travels in its question: kept an hour, no more (the answer is in the state)
    TopicSpec(AUTH_REQUESTS, 1, _config({"retention.ms": str(3_600_000)}), internal=True),
    TopicSpec(AUTH_SETTLEMENTS, 1, _config(), internal=True),
    TopicSpec(STATE_AUTH_CALLS, 1, _config(COMPACTED), internal=True),
    TopicSpec(AUTH_HOLDS, None, _config(), strict_partitions=False),
    # alerts (pipeline/alerts, pipeline/agents): the definitions; the fired/cleared events; the
    # blocks an alert asked for, which the balance guard folds into its rules (it stays the only
    # writer of switch.control), keyed ALERT/ACCOUNT, compacted, one partition (the guard reads it
    # whole). alerts.observations is the alert agents' own repartition: keyed ALERT/TARGET, so each
    # alert's windows live on one partition of their windowed tables.
    TopicSpec(REF_ALERTS, 1, _config(COMPACTED)),
    TopicSpec(ALERTS, None, _config(), strict_partitions=False),
    TopicSpec(ALERT_BLOCKS, 1, _config(COMPACTED)),
    TopicSpec(ALERTS_OBSERVATIONS, None, _config(), internal=True),
    # calling cards (pipeline/cards): the groups and the cards (PIN hashes: internal readers only),
    # read whole by every worker and API instance like the other ref topics
    TopicSpec(REF_CARD_GROUPS, 1, _config(COMPACTED)),
    TopicSpec(REF_CARDS, 1, _config(COMPACTED)),
    # devices (pipeline/schemas/devices.py): who is calling when a CDR or a request names no account
    TopicSpec(REF_DEVICES, 1, _config(COMPACTED)),
)
REFERENCE_TOPICS = {
    "account": REF_ACCOUNTS,
    "tariff": REF_TARIFFS,
    "provider": REF_PROVIDERS,
    "did": REF_DIDS,
    "holidays": REF_HOLIDAYS,
    "alert": REF_ALERTS,
    "card_group": REF_CARD_GROUPS,
    "card": REF_CARDS,
    "device": REF_DEVICES,
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
