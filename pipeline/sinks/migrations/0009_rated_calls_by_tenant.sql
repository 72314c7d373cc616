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
-- Daily totals, exact: a materialized view summing rated calls would see every INSERT and no
-- merge, so a redelivered or re-rated call would count twice (0004 removed such a table for that).
-- Instead `rated_calls_days` counts, per UTC day, every row rated_calls received (so the copy
-- too; the view is on rated_calls because 18.16 does not pass a view's rows on to the views of
-- its target), and `rated_calls_daily` holds settlements: a day's totals per reseller, account,
-- provider, prefix and currency computed from the copy with FINAL, under the day's count, read
-- before them and steady for a while. A settlement holds
-- while the day's count is unchanged; a new row for the day (a copy, a re-rating, a late call)
-- ends it, and the day is read from the copy again until settled anew (pipeline/api/daily_totals.py).
-- Settlements are written by the API after a page read an unsettled past day; older ones of the
-- same day stay as rows that no query selects (`argMax(settle_id, settled)` per day).
--
-- Applied again after an interruption, it drops what it made and builds it again from rated_calls.
-- DROP TABLE (not DROP VIEW, which 18.16 lacks) removes the views. The views come before the
-- backfill: a call inserted in between is copied twice, which FINAL folds (and counted twice,
-- which only keeps its day unsettled a little longer).
DROP TABLE IF EXISTS {database}.rated_calls_by_tenant_mv;

DROP TABLE IF EXISTS {database}.rated_calls_tenants_mv;

DROP TABLE IF EXISTS {database}.rated_calls_days_mv;

DROP TABLE IF EXISTS {database}.rated_calls_by_tenant;

DROP TABLE IF EXISTS {database}.rated_calls_tenants;

DROP TABLE IF EXISTS {database}.rated_calls_days;

DROP TABLE IF EXISTS {database}.rated_calls_daily;

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
ORDER BY (account, start_time, server_id, call_id, segment)
-- pages read a day or a few of a few accounts: 1,024-row granules read (and FINAL folds) an eighth
-- of the default's rows around them (a day's stats of a reseller: 65 ms -> 12 ms on 18.16)
SETTINGS index_granularity = 1024;

CREATE TABLE IF NOT EXISTS {database}.rated_calls_tenants
(
    reseller String,
    account String
)
ENGINE = ReplacingMergeTree()
ORDER BY (reseller, account);

CREATE TABLE IF NOT EXISTS {database}.rated_calls_days
(
    day Date,
    inserted UInt64
)
ENGINE = SummingMergeTree((inserted))
PARTITION BY toYYYYMM(day)
ORDER BY day;

-- the sums carry a suffix: an aggregate may not take the name of the column it sums on 18.16
CREATE TABLE IF NOT EXISTS {database}.rated_calls_daily
(
    day Date,
    settled UInt64,
    settle_id String,
    inserted UInt64,
    reseller String,
    account String,
    provider String,
    user_prefix String,
    currency String,
    -- a call to a DID (docs/dids.md): its DID, owner and legs, which the pages count as the calls'
    did_call UInt8,
    did String,
    did_owner String,
    calls_count UInt64,
    answered_count UInt64,
    billsec_sum UInt64,
    user_billed_seconds_sum UInt64,
    user_price_sum Decimal(38, 6),
    reseller_price_sum Decimal(38, 6),
    provider_price_sum Decimal(38, 6),
    reseller_profit_sum Decimal(38, 6),
    admin_profit_sum Decimal(38, 6),
    did_incoming_price_sum Decimal(38, 6),
    did_owner_price_sum Decimal(38, 6),
    did_reseller_owner_price_sum Decimal(38, 6),
    did_provider_price_sum Decimal(38, 6)
)
ENGINE = MergeTree()
PARTITION BY toYYYYMM(day)
ORDER BY (day, settle_id, reseller, account, user_prefix, provider, currency);

-- counts the rows the copy receives; one INSERT writes both, in no order a reader can rely on,
-- so a day is settled only once its count has stayed the same for a while: no INSERT of it
-- under way (pipeline/api/daily_totals.py). Counted twice (a row inserted while this migration
-- runs) only means a day settles later.
CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.rated_calls_days_mv TO {database}.rated_calls_days
AS SELECT toDate(start_time) AS day, count() AS inserted
FROM {database}.rated_calls
GROUP BY day;

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
GROUP BY reseller, account;

INSERT INTO {database}.rated_calls_days
SELECT toDate(start_time) AS day, count() AS inserted
FROM {database}.rated_calls
GROUP BY day
