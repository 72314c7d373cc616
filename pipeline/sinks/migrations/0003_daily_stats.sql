-- Daily stats per reseller, user, provider and destination prefix, kept by a materialized view.
--
-- FAST, NOT EXACT UNDER REDELIVERY: the view sums every block inserted into rated_calls, and a
-- redelivered call is inserted again (rated_calls drops the copy only when it merges, or under
-- FINAL). After a worker crash or rebalance some calls are counted twice here. Exact money comes
-- from rated_calls FINAL; docs/analytics.md shows how to rebuild a month of this table from it.
-- answered = billsec > 0 (only those are priced); ASR = answered / calls, ACD = billsec_sum / answered.
-- The sums carry a _sum suffix: an alias equal to the column it sums is an error on 18.16.
CREATE TABLE IF NOT EXISTS {database}.daily_stats
(
    day Date,
    reseller String,
    account String,
    provider String,
    user_prefix String,
    currency String,
    calls UInt64,
    answered UInt64,
    billsec_sum UInt64,
    user_billed_seconds_sum UInt64,
    user_price_sum Decimal(38, 6),
    reseller_price_sum Decimal(38, 6),
    provider_price_sum Decimal(38, 6),
    reseller_profit_sum Decimal(38, 6),
    admin_profit_sum Decimal(38, 6)
)
ENGINE = SummingMergeTree((calls, answered, billsec_sum, user_billed_seconds_sum, user_price_sum, reseller_price_sum,
                   provider_price_sum, reseller_profit_sum, admin_profit_sum))
PARTITION BY toYYYYMM(day)
ORDER BY (day, reseller, account, provider, user_prefix, currency);

CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.daily_stats_mv TO {database}.daily_stats
AS SELECT
    toDate(start_time) AS day,
    reseller,
    account,
    provider,
    user_prefix,
    currency,
    count() AS calls,
    countIf(billsec > 0) AS answered,
    sum(toUInt64(billsec)) AS billsec_sum,
    sum(toUInt64(user_billed_seconds)) AS user_billed_seconds_sum,
    sum(user_price) AS user_price_sum,
    sum(reseller_price) AS reseller_price_sum,
    sum(provider_price) AS provider_price_sum,
    sum(reseller_profit) AS reseller_profit_sum,
    sum(admin_profit) AS admin_profit_sum
FROM {database}.rated_calls
GROUP BY day, reseller, account, provider, user_prefix, currency
