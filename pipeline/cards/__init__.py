"""Calling cards (docs/cards.md): groups, batches, cards as prepaid accounts."""
