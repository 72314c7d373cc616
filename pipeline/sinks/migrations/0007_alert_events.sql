-- Alert events (CONTRACT v3 "Alerts"): every fired and cleared event of the `alerts` topic, written
-- by the alert agents (pipeline/agents/sink_alert_events.py). Edge-triggered, so few rows; a
-- replay after a crash writes an event again, which the ReplacingMergeTree's key keeps once.
-- `value` and `threshold` as the metric has them (ASR and short-call ratio in %, ACD and billsec in
-- seconds, price in money); `owner` and `action` let the API filter by tenant without a lookup.
CREATE TABLE IF NOT EXISTS {database}.alert_events
(
    alert String,
    target String,
    state Enum8('fired' = 1, 'cleared' = 2),
    metric String,
    value Decimal(18, 6),
    threshold Decimal(18, 6),
    window_start DateTime('UTC'),
    window_end DateTime('UTC'),
    at DateTime('UTC'),
    owner String DEFAULT '',
    action String DEFAULT ''
)
ENGINE = ReplacingMergeTree()
ORDER BY (alert, target, at, state);
