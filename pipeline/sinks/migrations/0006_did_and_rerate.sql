-- Calls to DIDs and re-rating (CONTRACT v2 "DIDs and incoming calls", "Invoices and re-rating").
--
-- rated_calls gains the DID columns (prices may be negative: Decimal(18, 6) is signed) and the
-- re-rating's columns. CONTRACT v2 asks for a `version` that is 1 for the first rating; the table
-- already has a column named `version`: the ReplacingMergeTree version, rated_at in milliseconds,
-- which must keep rising for FINAL to keep the newest row. Making it the rating number would break
-- FINAL for every row written before (their ~1.7e12 would beat a re-rating's 2), and ClickHouse
-- cannot change an engine's version column in place. So the rating number is `rating_version`
-- (cdr.rated's `version`): 1 for the first rating, +1 for each re-rating that changed the call;
-- and `version` stays the engine's: a re-rating's row is written later, so its rated_at (its
-- `version`) is higher and FINAL shows it. `rerate_id` is the run that wrote the row ('' first).
--
-- rerate_adjustments: every balance adjustment a re-rating run sent on balance.adjustments (the
-- record of truth, applied once per id by the balance stage), mirrored by the run itself for the
-- invoices: `bill_period` is the invoice (YYYY-MM) the difference belongs on when the call's own
-- period was already invoiced, '' when it was not (that invoice reads the new prices from
-- rated_calls FINAL). One row per id; a resumed run writes the same values again.
--
-- 18.16 has no ADD COLUMN IF NOT EXISTS: the columns come in ONE ALTER (one metadata change, all or
-- nothing), the last statement, so that everything before it can simply run again.
CREATE TABLE IF NOT EXISTS {database}.rerate_adjustments
(
    id String,
    rerate_id String,
    account String,
    call String,
    amount Decimal(18, 6),
    call_start DateTime('UTC'),
    bill_period String,
    created_at DateTime('UTC')
)
ENGINE = ReplacingMergeTree()
ORDER BY id;

ALTER TABLE {database}.rated_calls
    ADD COLUMN did_owner String DEFAULT '',
    ADD COLUMN did_incoming_price Decimal(18, 6) DEFAULT 0,
    ADD COLUMN did_owner_price Decimal(18, 6) DEFAULT 0,
    ADD COLUMN did_reseller_owner_price Decimal(18, 6) DEFAULT 0,
    ADD COLUMN did_provider_price Decimal(18, 6) DEFAULT 0,
    ADD COLUMN rating_version UInt32 DEFAULT 1,
    ADD COLUMN rerate_id String DEFAULT ''
