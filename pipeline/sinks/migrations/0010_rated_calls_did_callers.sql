-- The calls to a user's DIDs are his calls too (docs/dids.md "On the pages"): a user's pages read
-- `account = 'u1' OR did_owner = 'u1'` of rated_calls_by_tenant (0009), whose key starts with the
-- caller's account. `rated_calls_did_callers` keeps every pair of DID owner and caller a rated
-- row ever carried (outside callers: account ''), and the API adds
-- `(account = 'u1' OR account IN (SELECT account FROM rated_calls_did_callers WHERE did_owner = 'u1'))`
-- beside the condition, for the index only: a superset (older owners' pairs stay), so it narrows
-- what is read, never what is shown (pipeline/api/queries.py `_accounts_hint`).
--
-- Applied again after an interruption, it drops what it made and builds it again from rated_calls.
-- The view comes before the backfill: a pair inserted in between is written twice, which the
-- ReplacingMergeTree folds.
DROP TABLE IF EXISTS {database}.rated_calls_did_callers_mv;

DROP TABLE IF EXISTS {database}.rated_calls_did_callers;

CREATE TABLE IF NOT EXISTS {database}.rated_calls_did_callers
(
    did_owner String,
    account String
)
ENGINE = ReplacingMergeTree()
ORDER BY (did_owner, account);

CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.rated_calls_did_callers_mv TO {database}.rated_calls_did_callers
AS SELECT did_owner, account
FROM {database}.rated_calls
WHERE did_owner != ''
GROUP BY did_owner, account;

INSERT INTO {database}.rated_calls_did_callers
SELECT did_owner, account
FROM {database}.rated_calls
WHERE did_owner != ''
GROUP BY did_owner, account
