"""The rating engine: pure functions and frozen models that price a call at every level.

No Kafka, Faust or ClickHouse here, and nothing of the packages above: the reference data arrives
as a book (`chain_plan.RatingBook`, implemented by pipeline.reference.book.ReferenceBook) and the
record models come from pipeline.schemas.reference. rate_call (chain.py) prices a CDR at every
level; see docs/domain.md "The billing chain" and "Pricing one call at one level".
"""
