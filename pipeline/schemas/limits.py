"""The limits of what the pipeline stores, in one place (pipeline/sinks/migrations/*.sql).

Every limit here is enforced where data enters (CDR decode, `ref apply`, payments, rating), with a
reason that names it, so that nothing charged is later refused by the ClickHouse sink and the
balances and the reports never drift apart. The sink's row mapper checks the same numbers again.
"""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

UINT32_MAX = 2**32 - 1  # billsec, duration, *_billed_seconds: UInt32

# DateTime('UTC') is a UInt32 of seconds: 1970-01-01 up to 2106-02-07. Calls are taken up to the
# end of 2105, a round limit that leaves the last weeks of the type unused.
DATETIME_MIN = datetime(1970, 1, 1, tzinfo=timezone.utc)
DATETIME_END = datetime(2106, 1, 1, tzinfo=timezone.utc)  # exclusive
DATETIME_TYPE_END = datetime(2106, 2, 7, tzinfo=timezone.utc)  # what the column itself holds

DECIMAL_DIGITS = 18  # Decimal(18, s) columns
MONEY_PLACES = 6  # prices, profits, credit limits: Decimal(18, 6)
RATE_PLACES = 9  # rates per minute and connection fees: Decimal(18, 9)
MONEY_BELOW = Decimal(10) ** (DECIMAL_DIGITS - MONEY_PLACES)  # 10^12
RATE_BELOW = Decimal(10) ** (DECIMAL_DIGITS - RATE_PLACES)  # 10^9

# Decimal's default context keeps 28 significant digits; arithmetic past them rounds silently.
SIGNIFICANT_DIGITS = 28

# A payment is below 10^12 like every stored amount. A balance is a sum of them and of prices (each
# below 10^12, with 6 places): a billion of them stays below 10^21, 27 digits with the 6 places,
# inside Decimal's exact 28 digits and Decimal(38, 6), the widest sum the reports keep.
PAYMENT_BELOW = MONEY_BELOW

# The tariff index probes number prefixes up to this length (tariff_index.MAX_NUMBER_LENGTH);
# a longer prefix could never match, so it is refused rather than silently dead.
MAX_PREFIX_LENGTH = 40
