"""The HTTP front door: a JSON API under /v1 and the server-rendered portal at /, for the admin,
resellers and users, each seeing only what docs/domain.md "What each party may see" allows."""
