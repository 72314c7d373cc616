"""Authorizing a call before it starts (docs: docs/authorization.md): the pure rules
(`decide`, `max_seconds`), the holds they place (`holds`), and the request and answer shapes
(`request`). The stage that runs them is pipeline/stages/authorize_calls.py."""
