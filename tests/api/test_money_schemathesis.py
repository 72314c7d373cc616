"""Schemathesis on the routes the reseller needs without the operator's shell (payments with their
kinds, DIDs with their rates, portal domains, calls with filters and totals, usage per user), with
more examples each than the whole-document run gives them: no 5xx, every answer as documented."""
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
schema = schemathesis.openapi.from_asgi("/openapi.json", world.app).include(
    path_regex=r"^/v1/(payments|dids|portal-domains|calls|stats/users)")
schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@schema.parametrize()
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_money_routes_answer_as_documented_for_every_role(case):
    for account in ("admin", "r1", "u1", None):
        headers = world.headers(account) if account else {}
        case.call_and_validate(headers=headers, checks=CHECKS)
