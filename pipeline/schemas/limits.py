"""The limits of what the pipeline stores, in one place (pipeline/sinks/migrations/*.sql).

Every limit here is enforced where data enters (CDR decode, `ref apply`, payments, rating), with a
reason that names it, so that nothing charged is later refused by the ClickHouse sink and the
balances and the reports never drift apart. The sink's row mapper checks the same numbers again.
"""
from __future__ import annotations

from datetime import date, datetime, timezone
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

# Ids and texts (OWASP API4: a 50 MB account name was once accepted and published). A new record's
# id is 1-64 ASCII letters, digits, ".", "_" or "-", starting with a letter or digit: no look-alike
# letters of other scripts ("аdmin" with a Cyrillic a), no fullwidth forms, no invisible or control
# characters, nothing a shell, a URL or a Kafka key would need to escape. Records made before the
# rule keep their ids; a field naming one (parent, tariff, owner...) may be up to 200 characters.
MAX_ID_LENGTH = 64
NEW_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
MAX_REFERENCE_LENGTH = 200
MAX_NAME_LENGTH = 200  # names, and any other free text of a record
MAX_URL_LENGTH = 2048  # a webhook: the longest URL proxies and HTTP libraries commonly take
MAX_ADDRESS_LENGTH = 1000  # an account's postal address, several lines (as an issuer's)
MAX_DESTINATION_LENGTH = 100  # a rate's destination name ("Italy mobile")
# E.164 numbers have at most 15 digits; 32 leaves room for national and internal numbering
MAX_DID_DIGITS = 32
MAX_DECIMAL_TEXT = 64  # money as text: 28 significant digits, sign and point fit many times
MAX_ZONE_LENGTH = 64  # IANA names are at most ~30; a longer one is refused before the zone lookup

# The API and the portal answer dates in these years only, at the door: ClickHouse's DateTime ends
# in 2106 (above), and a query or a re-rate far outside the data serves nobody.
EARLIEST_DAY = date(2000, 1, 1)
LATEST_DAY = date(2100, 12, 31)
