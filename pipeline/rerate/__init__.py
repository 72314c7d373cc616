"""Re-rating (docs/domain.md "Re-rating"): a period's calls priced again with today's reference
data; each changed call gets a new version on cdr.rated and each account's balance moves by the
exact difference, once per run id + call + account, however often the run is repeated or killed.

Pure parts: scope.py (which calls; the query), reprice.py (one stored call priced again and its
differences), summary.py (the per-account table), adjustment.py (the balance.adjustments records
and the invoice they belong on). I/O: run.py (ClickHouse in, Kafka and ClickHouse out), cli.py,
invoice_lines.py (adjustments_for, for pipeline/invoices).
"""
