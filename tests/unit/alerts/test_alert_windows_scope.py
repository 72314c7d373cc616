"""Window arithmetic, the edge trigger and scope matching (pure)."""
from __future__ import annotations

from decimal import Decimal

from pipeline.alerts.scope import AlertIndex
from pipeline.alerts.windows import CLEARED, FIRED, Totals, add_call, bucket_bounds, judge, metric_value, totals
from pipeline.reference.records import parse_reference_record


def alert(**fields):
    return parse_reference_record({"kind": "alert", "id": "a", "scope": {"type": "account", "id": "u1"},
                                   "metric": "calls", "window_seconds": 60, "op": ">", "threshold": "2", **fields})


def test_a_call_is_counted_once_per_position_however_often_it_is_delivered():
    bucket = add_call({}, (0, 5), True, 30, 1_500_000, False)
    assert add_call(bucket, (0, 5), True, 30, 1_500_000, False) is None  # replayed after a crash
    assert add_call(bucket, (0, 4), True, 30, 1_500_000, False) is None
    bucket = add_call(bucket, (1, 0), False, 0, 0, False)  # another partition has its own positions
    assert (bucket["c"], bucket["a"], bucket["b"], bucket["p"]) == (2, 1, 30, 1_500_000)


def test_metrics_over_a_window():
    window = totals([{"c": 4, "a": 2, "b": 70, "p": 2_500_000, "s": 1}, {}, {"c": 1}])
    assert window == Totals(5, 2, 70, 2_500_000, 1)
    assert metric_value("failed", window) == 3
    assert metric_value("asr", window) == Decimal("40.000000")
    assert metric_value("acd", window) == Decimal("35.000000")
    assert metric_value("price_sum", window) == Decimal("2.5")
    assert metric_value("short_call_ratio", window) == 50
    assert metric_value("asr", Totals()) is None and metric_value("acd", Totals(3, 0)) is None


def test_the_trigger_fires_once_and_clears_past_the_clear_threshold():
    flood = alert(clear_threshold="1")
    assert judge(flood, Decimal(2), 2, fired=False) is None
    assert judge(flood, Decimal(3), 3, fired=False) == FIRED
    assert judge(flood, Decimal(4), 4, fired=True) is None  # still above: nothing new
    assert judge(flood, Decimal(2), 2, fired=True) is None  # below the threshold, not past the clear one
    assert judge(flood, Decimal(1), 1, fired=True) == CLEARED


def test_min_calls_keeps_an_asr_of_two_calls_from_firing():
    dead = alert(metric="asr", op="<", threshold="20", min_calls=10)
    assert judge(dead, Decimal(0), 2, fired=False) is None
    assert judge(dead, Decimal(0), 10, fired=False) == FIRED
    assert judge(dead, None, 0, fired=True) is None  # no calls: neither fires nor clears
    assert judge(dead, Decimal(25), 12, fired=True) == CLEARED


def test_the_window_ends_with_the_bucket_of_the_call():
    assert bucket_bounds(alert(), 125.0) == (70.0, 130.0)  # 10 s buckets, six of them
    assert bucket_bounds(alert(window_seconds=3600), 3601.0) == (600.0, 4200.0)


def test_each_scope_picks_its_calls_and_its_target():
    alerts = [alert(id="acct"), alert(id="res", scope={"type": "account", "id": "r1"}),
              alert(id="users", scope={"type": "reseller_users", "id": "r1"}),
              alert(id="prepaid", scope={"type": "all_users", "billing": "prepaid"}),
              alert(id="mine", owner="r2", scope={"type": "all_users"}),
              alert(id="prov", scope={"type": "provider", "id": "p1"}),
              alert(id="premium", scope={"type": "prefix", "prefix": "1900"}),
              alert(id="holds", metric="simultaneous_calls"), alert(id="off", enabled=False)]
    index = AlertIndex(alerts)
    billing = {"u1": "prepaid", "u2": "postpaid"}.get
    found = {(m.alert.id, m.target, m.level) for m in index.matches("u1", "r1", "p1", "19005551234", billing)}
    assert found == {("acct", "u1", "user"), ("res", "r1", "reseller"), ("users", "u1", "user"),
                     ("prepaid", "u1", "user"), ("prov", "p1", "provider"), ("premium", "u1", "user")}
    assert {m.alert.id for m in index.matches("u2", "r2", "", "370", billing)} == {"mine"}
    assert [m.alert.id for m in AlertIndex(alerts, holds=True).matches("u1", "r1")] == ["holds"]
