-- The API's pages read rated calls by tenant and time: `rated_calls_by_tenant`, a copy of every
-- rated_calls row (all columns but `extra`) kept by a materialized view, ordered by account and
-- start time, so a user's or reseller's period is a few ranges of the index (docs/analytics.md
-- "The tenant-ordered copy"). rated_calls stays the record the pipeline writes and the reports read.
--
-- Same dedupe as rated_calls: ReplacingMergeTree(version) read with FINAL, one row per
-- (server_id, call_id, segment), the newest rating winning. That holds because a sorting key may
-- only hold what every copy of a call shares: a redelivery, a replay and a re-rating keep the
-- call's account and start time (pipeline/rerate/reprice.py prices the stored CDR again), so the
-- account and start_time in front add nothing to the identity. The reseller may change on a
-- re-rating (an account moved to another reseller): it is NOT in the key, or the older rating
-- would survive FINAL as a second row.
--
-- A reseller's rows are `reseller = 'r1' OR account = 'r1'`, not a range of an account-first key:
-- `rated_calls_tenants` holds every (reseller, account) pair a rated row ever carried (a superset
-- of today's ownership), and the API adds `account IN (that reseller's accounts)` beside its
-- unchanged tenant condition, for the index only (pipeline/api/queries.py).
--
-- Why not a daily pre-aggregate: a materialized view sees every INSERT and no merge, so a
-- redelivered or re-rated call would be summed twice (0004 removed such a table for that).
--
-- Applied again after an interruption, it drops what it made and builds it again from rated_calls.
-- DROP TABLE (not DROP VIEW, which 18.16 lacks) removes the views. The views come before the
-- backfill: a call inserted in between is copied twice, which FINAL folds.
DROP TABLE IF EXISTS {database}.rated_calls_by_tenant_mv;

DROP TABLE IF EXISTS {database}.rated_calls_tenants_mv;

DROP TABLE IF EXISTS {database}.rated_calls_by_tenant;

DROP TABLE IF EXISTS {database}.rated_calls_tenants;

CREATE TABLE IF NOT EXISTS {database}.rated_calls_by_tenant
(
    server_id String,
    call_id String,
    segment String,
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
    version UInt64,
    did_owner String,
    did_incoming_price Decimal(18, 6),
    did_owner_price Decimal(18, 6),
    did_reseller_owner_price Decimal(18, 6),
    did_provider_price Decimal(18, 6),
    rating_version UInt32,
    rerate_id String
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(start_time)
ORDER BY (account, start_time, server_id, call_id, segment);

CREATE TABLE IF NOT EXISTS {database}.rated_calls_tenants
(
    reseller String,
    account String
)
ENGINE = ReplacingMergeTree()
ORDER BY (reseller, account);

CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.rated_calls_by_tenant_mv TO {database}.rated_calls_by_tenant
AS SELECT
    server_id, call_id, segment, account, reseller, provider, src, dst, did, start_time, billsec, disposition,
    user_tariff, user_prefix, user_billed_seconds, user_rate, user_price,
    reseller_tariff, reseller_prefix, reseller_billed_seconds, reseller_rate, reseller_price,
    provider_tariff, provider_prefix, provider_billed_seconds, provider_rate, provider_price,
    reseller_profit, admin_profit, own_provider, currency, loss, rated_at, version,
    did_owner, did_incoming_price, did_owner_price, did_reseller_owner_price, did_provider_price,
    rating_version, rerate_id
FROM {database}.rated_calls;

CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.rated_calls_tenants_mv TO {database}.rated_calls_tenants
AS SELECT reseller, account
FROM {database}.rated_calls
GROUP BY reseller, account;

-- the history: every row rated_calls holds now (its copies too; FINAL folds them)
INSERT INTO {database}.rated_calls_by_tenant
SELECT
    server_id, call_id, segment, account, reseller, provider, src, dst, did, start_time, billsec, disposition,
    user_tariff, user_prefix, user_billed_seconds, user_rate, user_price,
    reseller_tariff, reseller_prefix, reseller_billed_seconds, reseller_rate, reseller_price,
    provider_tariff, provider_prefix, provider_billed_seconds, provider_rate, provider_price,
    reseller_profit, admin_profit, own_provider, currency, loss, rated_at, version,
    did_owner, did_incoming_price, did_owner_price, did_reseller_owner_price, did_provider_price,
    rating_version, rerate_id
FROM {database}.rated_calls;

INSERT INTO {database}.rated_calls_tenants
SELECT reseller, account
FROM {database}.rated_calls
GROUP BY reseller, account
