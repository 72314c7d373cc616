"""The metric helpers the stream runtime calls: each moves exactly its own series, in its own registry."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from pipeline.observability.metrics import SPECS, Metrics
from tests.unit.observability.series import exposed_series


def value(metrics: Metrics, name: str, **labels) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_every_collector_has_help_and_lives_only_in_its_own_registry():
    metrics, other = Metrics(), Metrics()
    metrics.batch("rate", 5, 0.01)
    assert value(metrics, "rating_stage_messages_in_total", stage="rate") == 5
    assert value(other, "rating_stage_messages_in_total", stage="rate") is None
    assert REGISTRY.get_sample_value("rating_stage_messages_in_total", {"stage": "rate"}) is None
    families = {family.name: family for family in metrics.registry.collect()}
    for spec in SPECS:
        family = families[spec.name.removesuffix("_total")]
        assert family.documentation == spec.help and len(spec.help) > 15


def test_a_given_registry_is_used():
    registry = CollectorRegistry()
    Metrics(registry).insert_failed("rated_calls")
    assert registry.get_sample_value("rating_clickhouse_insert_failures_total", {"table": "rated_calls"}) == 1


def test_the_required_names_exist_with_their_labels():
    assert exposed_series() == {
        "rating_stage_messages_in_total": {"stage"},
        "rating_stage_messages_out_total": {"stage", "topic"},
        "rating_rejections_total": {"stage", "reason"},
        "rating_dead_letters_total": {"stage", "reason"},
        "rating_consumer_lag": {"stage", "topic", "partition"},
        "rating_batch_seconds_bucket": {"stage", "le"},
        "rating_batch_seconds_sum": {"stage"},
        "rating_batch_seconds_count": {"stage"},
        "rating_block_signal_seconds_bucket": {"le"},
        "rating_block_signal_seconds_sum": set(),
        "rating_block_signal_seconds_count": set(),
        "rating_clickhouse_insert_failures_total": {"table"},
        "rating_step_failures_total": {"stage", "kind"},
        "rating_state_keys": {"stage", "store"},
    }


def test_exposed_series_is_what_the_registry_really_exposes():
    metrics = Metrics()
    metrics.batch("rate", 1, 0.01)
    metrics.produced("rate", "cdr.rated")
    metrics.rejected("rate", "no_rate")
    metrics.dead_lettered("balance", "overflow")
    metrics.lag("rate", "cdr.raw", 3, 10)
    metrics.block_signal(0.1)
    metrics.insert_failed("rated_calls")
    metrics.step_failed("sink", "transient")
    metrics.state_size("charge", "charged_calls", 7)
    samples = {sample.name: set(sample.labels)
               for family in text_string_to_metric_families(generate_latest(metrics.registry).decode())
               for sample in family.samples if not sample.name.endswith("_created")}
    assert samples == {name: set(labels) for name, labels in exposed_series().items()}


@given(st.lists(st.tuples(st.sampled_from(["rate", "charge"]), st.integers(0, 10_000),
                          st.floats(0, 60, allow_nan=False)), max_size=30))
def test_batches_add_up_per_stage(batches):
    metrics = Metrics()
    for stage, n_in, seconds in batches:
        metrics.batch(stage, n_in, seconds)
    for stage in ("rate", "charge"):
        mine = [(n, s) for name, n, s in batches if name == stage]
        assert (value(metrics, "rating_stage_messages_in_total", stage=stage) or 0) == sum(n for n, _ in mine)
        assert (value(metrics, "rating_batch_seconds_count", stage=stage) or 0) == len(mine)
        assert (value(metrics, "rating_batch_seconds_sum", stage=stage) or 0) == pytest.approx(
            sum(s for _, s in mine))


def test_counters_by_label():
    metrics = Metrics()
    metrics.produced("rate", "cdr.rated", 3)
    metrics.produced("rate", "cdr.rejected")
    metrics.rejected("rate", "no_rate", 2)
    metrics.rejected("rate", "schema")
    metrics.dead_lettered("balance", "decimal_overflow")
    assert value(metrics, "rating_stage_messages_out_total", stage="rate", topic="cdr.rated") == 3
    assert value(metrics, "rating_stage_messages_out_total", stage="rate", topic="cdr.rejected") == 1
    assert value(metrics, "rating_rejections_total", stage="rate", reason="no_rate") == 2
    assert value(metrics, "rating_rejections_total", stage="rate", reason="schema") == 1
    assert value(metrics, "rating_dead_letters_total", stage="balance", reason="decimal_overflow") == 1


def test_lag_is_set_never_negative_and_dropped_when_the_partition_goes():
    metrics = Metrics()
    metrics.lag("rate", "cdr.raw", 2, 120)
    metrics.lag("rate", "cdr.raw", 2, 40)
    assert value(metrics, "rating_consumer_lag", stage="rate", topic="cdr.raw", partition="2") == 40
    metrics.lag("rate", "cdr.raw", 2, -3)  # a position read after a newer end offset
    assert value(metrics, "rating_consumer_lag", stage="rate", topic="cdr.raw", partition="2") == 0
    metrics.partition_revoked("rate", "cdr.raw", 2)
    assert value(metrics, "rating_consumer_lag", stage="rate", topic="cdr.raw", partition="2") is None
    metrics.partition_revoked("rate", "cdr.raw", 5)  # never reported: no error


def test_block_signal_latency_clamps_a_clock_behind_ours_to_zero():
    metrics = Metrics()
    metrics.block_signal(0.12)
    metrics.block_signal(-0.5)
    assert value(metrics, "rating_block_signal_seconds_count") == 2
    assert value(metrics, "rating_block_signal_seconds_sum") == pytest.approx(0.12)
    assert value(metrics, "rating_block_signal_seconds_bucket", le="0.15") == 2
    assert value(metrics, "rating_block_signal_seconds_bucket", le="0.1") == 1


def test_step_failures_by_kind_and_an_unknown_kind_is_refused():
    metrics = Metrics()
    metrics.step_failed("charge", "transient")
    metrics.step_failed("charge", "message")
    metrics.step_failed("charge", "message")
    assert value(metrics, "rating_step_failures_total", stage="charge", kind="transient") == 1
    assert value(metrics, "rating_step_failures_total", stage="charge", kind="message") == 2
    with pytest.raises(ValueError, match="'fatal' is not one of"):
        metrics.step_failed("charge", "fatal")


def test_state_keys_gauge_follows_the_last_count():
    metrics = Metrics()
    metrics.state_size("charge", "charged_calls", 1_000)
    metrics.state_size("charge", "charged_calls", 900)  # the dedup window expired some
    assert value(metrics, "rating_state_keys", stage="charge", store="charged_calls") == 900
