"""Pure balance logic: what a rated call debits, an idempotent ledger, and the blocking rules."""
