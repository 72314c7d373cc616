"""Faust agents: thin plumbing around the pure code (decode, call, send). One file per agent."""
