"""Schemathesis against /openapi.json, once per role: generated requests (valid and not) never get
a 5xx, and every answer matches the status codes, content types and schemas the document gives."""
from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.api_world import World

world = World()
schema = schemathesis.openapi.from_asgi("/openapi.json", world.app)
# valid requests and invalid ones (wrong types, missing fields, bad enums): both must be answered
schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_role_gets_answers_that_match_the_document(case):
    for account in ("admin", "r1", "u1", None):
        headers = world.headers(account) if account else {}
        case.call_and_validate(headers=headers, checks=CHECKS)
