-- Calls in several records (docs/devices.md "A call in several records"): a CDR may carry `segment`, and each
-- segment of a call is priced and charged on its own key, server_id/call_id/segment.
--
-- rated_calls must then keep the segments of one call as separate rows under FINAL, so the
-- ReplacingMergeTree's sorting key becomes (server_id, call_id, segment). ClickHouse changes a
-- sorting key in place only by appending a column added in the same ALTER, and only one with no
-- default expression (both 18.16 and current ClickHouse refuse `DEFAULT ''` there): a String column
-- without one reads '' for every row written before, which is exactly "a call in one record". The
-- primary key (the index) stays (server_id, call_id); no row is rewritten, nothing is copied.
-- The daily_stats view reads rated_calls FINAL and needs no change.
--
-- One ALTER (one metadata change, all or nothing); 18.16 has no ADD COLUMN IF NOT EXISTS, so a
-- second run of this file after it succeeded fails on the column instead of doing anything twice.
ALTER TABLE {database}.rated_calls
    ADD COLUMN segment String,
    MODIFY ORDER BY (server_id, call_id, segment)
