-- Mirrors of the reference topics (ref.accounts, ref.tariffs, ref.providers), for reports that
-- need names and ownership. Read them with FINAL and `deleted = 0`.
--
-- version is the Kafka offset of the ref.* message: those topics have one partition, so the
-- offset orders every change of a key exactly, where updated_at (seconds) could tie.
-- A deleted key keeps a row with deleted = 1 (a tombstone) so that FINAL hides the older ones.
CREATE TABLE IF NOT EXISTS {database}.accounts
(
    id String,
    name String,
    type String,
    parent String,
    -- the reseller the account belongs to: its parent for a reseller's user, its own id for a
    -- reseller, empty for the admin and its direct users; `WHERE reseller = 'r1'` lists r1's world
    reseller String,
    tariff String,
    billing String,
    credit_limit Nullable(Decimal(18, 6)),
    server String,
    pro UInt8,
    allow_loss_calls UInt8,
    blocked UInt8,
    deleted UInt8,
    updated_at DateTime('UTC'),
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY id;

-- the tariff header only: 100,000-prefix rate tables belong to the rating engine, not to reports
CREATE TABLE IF NOT EXISTS {database}.tariffs
(
    id String,
    owner String,
    currency String,
    timezone String,
    decimals UInt8,
    rounding String,
    rates UInt32,
    rates_csv String,
    deleted UInt8,
    updated_at DateTime('UTC'),
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY id;

CREATE TABLE IF NOT EXISTS {database}.providers
(
    id String,
    name String,
    owner String,
    tariff String,
    deleted UInt8,
    updated_at DateTime('UTC'),
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY id
