"""deploy/grafana/rating-pipeline.json charts only what metrics.py defines, and charts all of it:
the two cannot drift apart (a renamed metric or label fails here, not on an operator's screen)."""
from __future__ import annotations

import json
import re

import pytest

from pipeline.observability.metrics import SPECS
from pipeline.settings import REPO_ROOT
from tests.unit.observability.series import exposed_series

DASHBOARD = REPO_ROOT / "deploy" / "grafana" / "rating-pipeline.json"
METRIC = re.compile(r"\b(rating_[a-z0-9_]+)\b")
MATCHER = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)\s*\"")
GROUPING = re.compile(r"\b(?:by|without)\s*\(([^)]*)\)")


def load() -> dict:
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))


def graph_panels(dashboard: dict) -> list[dict]:
    return [p for p in dashboard["panels"] if p["type"] != "row"]


def expressions(dashboard: dict) -> list[str]:
    exprs = [t["expr"] for p in graph_panels(dashboard) for t in p["targets"]]
    exprs += [v["query"]["query"] for v in dashboard["templating"]["list"] if v["type"] == "query"]
    return exprs


def problems(expr: str, known: dict[str, frozenset[str]]) -> list[str]:
    """Unknown metric names, labels no metric of the expression carries, unbalanced brackets."""
    found = []
    names = METRIC.findall(expr)
    if not names:
        found.append(f"{expr}: charts no rating_ metric")
    found += [f"{expr}: {name} is not defined in metrics.py" for name in names if name not in known]
    labels = set().union(*(known.get(name, frozenset()) for name in names))
    used = set(MATCHER.findall(expr)) | {label.strip() for group in GROUPING.findall(expr)
                                          for label in group.split(",") if label.strip()}
    found += [f"{expr}: label {label!r} is on none of {names}" for label in sorted(used - labels)]
    for opening, closing in ("()", "[]", "{}"):
        if expr.count(opening) != expr.count(closing):
            found.append(f"{expr}: unbalanced {opening}{closing}")
    return found


def test_every_expression_uses_defined_metrics_and_labels():
    known = exposed_series()
    assert [p for expr in expressions(load()) for p in problems(expr, known)] == []


@pytest.mark.parametrize("broken", [
    'sum by (stage) (rate(rating_stage_messages_total{stage=~"$stage"}[5m]))',  # renamed metric
    'sum by (stage, topic) (rate(rating_rejections_total[5m]))',  # label of another metric
    'rating_state_keys{store="x", shard="1"}',  # unknown label in a matcher
    'histogram_quantile(0.99, sum by (le) (rate(rating_block_signal_seconds_bucket[5m]))',  # a ")" short
    'sum(rate(up[5m]))',  # not ours
])
def test_the_check_reports_a_drifted_expression(broken):
    assert problems(broken, exposed_series())


def test_every_metric_is_charted():
    charted = {name for expr in expressions(load()) for name in METRIC.findall(expr)}
    for spec in SPECS:
        assert any(name in charted for name in spec.series()), f"{spec.name} has no panel"


def test_both_latencies_show_p50_and_p99():
    exprs = expressions(load())
    for bucket in ("rating_batch_seconds_bucket", "rating_block_signal_seconds_bucket"):
        quantiles = {re.match(r"histogram_quantile\(([\d.]+),", e).group(1) for e in exprs if bucket in e}
        assert quantiles == {"0.5", "0.99"}, bucket


def test_grafana_10_schema_with_a_prometheus_datasource_variable():
    dashboard = load()
    assert dashboard["schemaVersion"] >= 38 and dashboard["uid"] == "rating-pipeline"
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    for panel in graph_panels(dashboard):
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert panel["targets"] and all(t["datasource"]["uid"] == "${datasource}" for t in panel["targets"])
        refs = [t["refId"] for t in panel["targets"]]
        assert len(refs) == len(set(refs)), panel["title"]


def test_panels_have_unique_ids_and_do_not_overlap():
    panels = load()["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    cells = set()
    for panel in panels:
        g = panel["gridPos"]
        assert 0 <= g["x"] and g["x"] + g["w"] <= 24, panel["title"]
        mine = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
        assert not cells & mine, f"{panel['title']} overlaps another panel"
        cells |= mine
