"""Calling cards (README "Calling cards"): groups, batches, cards as prepaid accounts."""
