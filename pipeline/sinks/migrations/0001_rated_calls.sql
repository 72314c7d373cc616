-- Every priced call (docs/contract.md "A priced call"): one row per call when read with FINAL.
--
-- ReplacingMergeTree deduplicates rows with the same sorting key, so the sorting key is the call's
-- identity and nothing else: (server_id, call_id). Putting reseller or account in front would speed
-- up reseller-scoped reports, but a replayed call rated after its account moved to another reseller
-- would then be a second row, counted twice by every sum. Reports prune by month instead.
-- Dedup happens within a partition only; a call's start_time is fixed by its CDR, so every
-- delivery of a call lands in the same month.
-- version: rated_at in milliseconds, so a call rated again (a replay after a tariff fix) replaces
-- the older price; a redelivery carries the same version and the same values.
-- Prices and profits are rounded to the tariff's decimals (at most 6): Decimal(18,6) holds them
-- exactly. Rates are not rounded by the engine, so they get 9 places; the row mapper refuses a
-- value with more places rather than let the driver truncate it.
CREATE TABLE IF NOT EXISTS {database}.rated_calls
(
    server_id String,
    call_id String,
    account String,
    reseller String,
    provider String,
    src String,
    dst String,
    did String,
    start_time DateTime('UTC'),
    billsec UInt32,
    disposition String,
    user_tariff String,
    user_prefix String,
    user_billed_seconds UInt32,
    user_rate Decimal(18, 9),
    user_price Decimal(18, 6),
    reseller_tariff String,
    reseller_prefix String,
    reseller_billed_seconds UInt32,
    reseller_rate Decimal(18, 9),
    reseller_price Decimal(18, 6),
    provider_tariff String,
    provider_prefix String,
    provider_billed_seconds UInt32,
    provider_rate Decimal(18, 9),
    provider_price Decimal(18, 6),
    reseller_profit Decimal(18, 6),
    admin_profit Decimal(18, 6),
    own_provider UInt8,
    currency String,
    loss UInt8,
    rated_at DateTime('UTC'),
    extra String,
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(start_time)
ORDER BY (server_id, call_id)
