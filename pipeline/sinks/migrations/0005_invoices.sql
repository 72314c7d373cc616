-- Issued invoices, mirrored from the `invoices` topic (the record of truth, where the numbers are
-- given out under a Kafka transaction per issuer): pipeline/invoices/mirror.py writes them.
--
-- One row per invoice, its lines as parallel arrays (line_* have one element per line, in order):
-- `ARRAY JOIN line_kind, line_description, ...` gives one row per line on 18.16 and current ClickHouse.
-- An issued invoice never changes, so writing one again (a retried mirror) inserts the same values
-- under the same key; ReplacingMergeTree folds them: read with FINAL.
-- The PDF is a file (settings.local_dir/invoices/NUMBER.pdf); pdf_sha256 proves which bytes were issued.
-- Money in cents, Decimal(18, 2); taxes as JSON [{"name","percent","amount"}] (an issuer has a few).
CREATE TABLE IF NOT EXISTS {database}.invoices
(
    issuer String,
    account String,
    period String,
    number String,
    year UInt16,
    sequence UInt32,
    customer_name String,
    currency String,
    period_start DateTime('UTC'),
    period_end DateTime('UTC'),
    issued_at DateTime('UTC'),
    subtotal Decimal(18, 2),
    tax_total Decimal(18, 2),
    total Decimal(18, 2),
    taxes String,
    line_kind Array(String),
    line_description Array(String),
    line_prefix Array(String),
    line_calls Array(UInt64),
    line_billed_minutes Array(Decimal(18, 2)),
    line_amount Array(Decimal(18, 2)),
    pdf_sha256 String,
    issuer_details String
)
ENGINE = ReplacingMergeTree()
ORDER BY (issuer, account, period)
