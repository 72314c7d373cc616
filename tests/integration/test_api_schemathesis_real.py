"""Schemathesis against the production API: production_app served by uvicorn over HTTP, on the real
broker and ClickHouse (tests/api/test_api_schemathesis.py runs the whole document on in-memory
fakes, which cannot fail the way ClickHouse does: a far date once gave 500s only here).

The reads of money and calls, payments and re-rates, as the admin, a reseller and a user, valid
requests and invalid ones: no answer is a 5xx, and every answer matches the document. A bounded
number of examples per operation keeps the run near a minute."""
from __future__ import annotations

import asyncio
import socket
import threading
import time
import uuid

import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from pipeline.api.app import production_app
from pipeline.api.config import ApiConfig
from pipeline.settings import Settings
from tests.api.api_world import call
from tests.integration.api_kit import insert_calls, seed

pytestmark = pytest.mark.integration

OPERATIONS = r"^(GET /v1/(calls|stats|profit|balances|invoices)|POST /v1/(payments|rerates))"
ROLES = ("admin", "r1", "u1")
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

# the document only: building the app opens no connection (they open in its lifespan)
schema = schemathesis.openapi.from_dict(
    production_app(Settings(), ApiConfig(secret="schemathesis")).openapi()).include(name_regex=OPERATIONS)
schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE])


@pytest.fixture(scope="module")
def served(local_stack, session_prefix, tmp_path_factory):
    """The seeded stack and the API on a free port: (base URL, a token per role). One per module,
    as settings_factory makes one per test, with its own topics and database, dropped after."""
    name = f"{session_prefix}{uuid.uuid4().hex[:6]}-"
    base = Settings()
    database = "rating_" + name.replace("-", "_").rstrip("_")
    settings = Settings(topic_prefix=name, clickhouse_url=base.clickhouse_url.rsplit("/", 1)[0] + "/" + database,
                        partitions=4, local_dir=tmp_path_factory.mktemp("local"), metrics_port=0)
    tokens = seed(settings, accounts=ROLES)
    insert_calls(settings, [call("u1", "r1", "a"), call("u1", "r1", "b", days_ago=3, billsec=0),
                            call("u3", "r2", "c", days_ago=40), call("d1", "", "d", user_price="1.5")])
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(production_app(settings, ApiConfig(secret="schemathesis")),
                                           log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the API did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}", tokens
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        listener.close()
        from devkit.scratch import delete_topics_with_prefix
        from pipeline.sinks.clickhouse import connect

        connect(settings, database="default").execute(f"DROP DATABASE IF EXISTS {settings.clickhouse_database}")
        asyncio.run(delete_topics_with_prefix(settings))


@schema.parametrize()
@hypothesis_settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_production_api_answers_every_role_without_a_5xx(case, served):
    base_url, tokens = served
    for role in ROLES:
        case.call_and_validate(base_url=base_url, headers={"Authorization": f"Bearer {tokens[role]}"},
                               checks=CHECKS, timeout=30)
