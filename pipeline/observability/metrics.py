"""The worker's Prometheus metrics: one `Metrics` object holding every collector in its own registry.

Nothing registers in prometheus_client's global REGISTRY: a test, a benchmark or a second worker
in the same process builds its own `Metrics()` and sees only its own numbers. The stream runtime
calls the small methods below (one line each at the call site); `server.py` serves `registry`.
deploy/grafana/rating-pipeline.json charts these names, and a unit test keeps the two in step.
"""
from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# the kinds of step failure: retried in place, or one message's own (dead-lettered)
STEP_FAILURE_KINDS = frozenset({"transient", "message", "producer_replaced"})

# a batch is handled in ms; a ClickHouse insert or a rebalance can take seconds
BATCH_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# the block-signal target is p99 < 250 ms: fine buckets around it, coarse ones for outages
BLOCK_SIGNAL_BUCKETS = (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1.0,
                        2.5, 5.0, 10.0, 30.0, 60.0)


@dataclass(frozen=True)
class Spec:
    """One collector: the Metrics attribute that holds it, its Prometheus name, help and labels."""

    attribute: str
    kind: type  # Counter, Gauge or Histogram
    name: str  # a counter's ends in _total, as it is exposed
    help: str
    labels: tuple[str, ...] = ()
    buckets: tuple[float, ...] | None = None

    def build(self, registry: CollectorRegistry):
        extra = {} if self.buckets is None else {"buckets": self.buckets}
        return self.kind(self.name, self.help, self.labels, registry=registry, **extra)

    def series(self) -> dict[str, frozenset[str]]:
        """The series names this collector exposes -> their labels (a histogram's _bucket adds le)."""
        labels = frozenset(self.labels)
        if self.kind is Histogram:
            return {f"{self.name}_bucket": labels | {"le"}, f"{self.name}_sum": labels,
                    f"{self.name}_count": labels}
        return {self.name: labels}


SPECS: tuple[Spec, ...] = (
    Spec("messages_in", Counter, "rating_stage_messages_in_total",
         "Messages a stage read and handled.", ("stage",)),
    Spec("messages_out", Counter, "rating_stage_messages_out_total",
         "Messages a stage produced, by output topic.", ("stage", "topic")),
    Spec("rejections", Counter, "rating_rejections_total",
         "Input refused with a reason (cdr.rejected, bad_payment, ...).", ("stage", "reason")),
    Spec("dead_letters", Counter, "rating_dead_letters_total",
         "Messages a stage could not handle and set aside as dead letters so that it could move on.",
         ("stage", "reason")),
    Spec("consumer_lag", Gauge, "rating_consumer_lag",
         "Messages between a stage's position and the end of the partition.", ("stage", "topic", "partition")),
    Spec("batch_seconds", Histogram, "rating_batch_seconds",
         "Time to handle one batch, from read to outputs acknowledged.", ("stage",), BATCH_BUCKETS),
    Spec("block_signal_seconds", Histogram, "rating_block_signal_seconds",
         "From the cdr.rated timestamp of the newest charge to its switch.control signal.",
         (), BLOCK_SIGNAL_BUCKETS),
    Spec("clickhouse_insert_failures", Counter, "rating_clickhouse_insert_failures_total",
         "ClickHouse inserts that failed (each one is retried).", ("table",)),
    Spec("step_failures", Counter, "rating_step_failures_total",
         "Exceptions in a stage's step: transient (retried with backoff), message (dead-lettered) or producer_replaced (a fatal producer error).",
         ("stage", "kind")),
    Spec("state_keys", Gauge, "rating_state_keys",
         "Keys in a stage's state store.", ("stage", "store")),
)



class Metrics:
    """Every collector of the worker, registered in `registry` (a fresh one unless given)."""

    messages_in: Counter
    messages_out: Counter
    rejections: Counter
    dead_letters: Counter
    consumer_lag: Gauge
    batch_seconds: Histogram
    block_signal_seconds: Histogram
    clickhouse_insert_failures: Counter
    step_failures: Counter
    state_keys: Gauge

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        for spec in SPECS:
            setattr(self, spec.attribute, spec.build(self.registry))

    # --- what the runtime calls --------------------------------------------------------------------
    def batch(self, stage: str, n_in: int, seconds: float) -> None:
        """A batch of `n_in` messages handled in `seconds`."""
        self.messages_in.labels(stage).inc(n_in)
        self.batch_seconds.labels(stage).observe(seconds)

    def produced(self, stage: str, topic: str, n: int = 1) -> None:
        self.messages_out.labels(stage, topic).inc(n)

    def rejected(self, stage: str, reason: str, n: int = 1) -> None:
        self.rejections.labels(stage, reason).inc(n)

    def dead_lettered(self, stage: str, reason: str, n: int = 1) -> None:
        self.dead_letters.labels(stage, reason).inc(n)

    def lag(self, stage: str, topic: str, partition: int, behind: int) -> None:
        """`behind` = the partition's end offset minus the stage's position."""
        self.consumer_lag.labels(stage, topic, str(partition)).set(max(0, behind))

    def partition_revoked(self, stage: str, topic: str, partition: int) -> None:
        """Drop the lag of a partition this worker no longer reads: another worker reports it now,
        and a frozen value here would be summed with the live one on the dashboard."""
        try:
            self.consumer_lag.remove(stage, topic, str(partition))
        except KeyError:  # never reported: nothing to drop
            pass

    def block_signal(self, seconds: float) -> None:
        # the rated timestamp comes from another process, maybe another host: a clock ahead of
        # ours gives a negative delay, which would pull the histogram's sum below the truth
        self.block_signal_seconds.observe(max(0.0, seconds))

    def insert_failed(self, table: str) -> None:
        self.clickhouse_insert_failures.labels(table).inc()

    def step_failed(self, stage: str, kind: str) -> None:
        if kind not in STEP_FAILURE_KINDS:
            raise ValueError(f"step failure kind {kind!r} is not one of {sorted(STEP_FAILURE_KINDS)}")
        self.step_failures.labels(stage, kind).inc()

    def state_size(self, stage: str, store: str, keys: int) -> None:
        self.state_keys.labels(stage, store).set(keys)

