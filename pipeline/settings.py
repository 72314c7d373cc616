"""One settings object, built once from RATING_* environment variables and passed down."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RATING_", frozen=True, extra="ignore")

    kafka_bootstrap: str = "127.0.0.1:9092"
    clickhouse_url: str = "clickhouse://127.0.0.1:9000/rating"
    # only the local stack (deploy/local/up) uses it; the pipeline speaks the native protocol
    clickhouse_http_port: int = 8123
    # prepended to every topic, the Faust app id and consumer groups: two prefixes share nothing
    topic_prefix: str = ""
    partitions: int = Field(8, ge=1)
    # of the topics this product creates; 1 for the local single broker, 3 in production
    replication_factor: int = Field(1, ge=1)
    # the switch that serves accounts with no server of their own nor a reseller's
    default_server: str = "default"
    local_dir: Path = REPO_ROOT / ".local"
    web_host: str = "127.0.0.1"
    web_port: int = 6066
    log_level: str = "INFO"
    # cdr.rated and the internal topics: "json" or "avro" (pipeline/schemas/wire.py says why json)
    wire_format: Literal["json", "avro"] = "json"
    # the stages' Kafka client: librdkafka (C, several times less CPU per message) or aiokafka
    # (pure Python); commands and the API use aiokafka either way. pipeline/kafka/rdkafka.py
    kafka_client: Literal["librdkafka", "aiokafka"] = "librdkafka"
    # what a worker runs; all by default. A worker of rating only scales the hot path on its own,
    # and the benchmarks measure the rating stage alone with it. `alerts` (not by default): the
    # worker also runs the alert agents, as a child process (`python -m pipeline alerts` alone is the same)
    roles: frozenset[str] = frozenset({"rate", "charge", "balance", "guard", "authorize", "clickhouse"})

    # hot path batching: Faust's per-event cost is paid once per batch where we can
    rate_batch_size: int = 5000
    rate_batch_seconds: float = 0.02
    balance_batch_size: int = 5000
    balance_batch_seconds: float = 0.02
    sink_batch_size: int = 10000
    sink_flush_seconds: float = 1.0
    # the sink's rows made and inserted by a child process on another core (sinks/rows_process.py)
    sink_rows_process: bool = True

    # calls (by start) and payment ids are remembered this long to charge each once; a CDR that
    # starts earlier is rejected `too_old` (replayable with an explicit override)
    dedup_days: int = Field(62, ge=1)
    # Prometheus metrics, /health and /ready of the worker; loopback unless said otherwise
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 9108
    # a consumer that does not poll for this long leaves its group (the sink polls on while
    # ClickHouse is down, so it never should)
    max_poll_interval_ms: int = 300_000
    # the API and portal (`python -m pipeline api`); an empty secret: the first one published on
    # ref.credentials, shared by every instance (sessions survive a restart and any instance)
    api_host: str = "127.0.0.1"
    api_port: int = 8080
    api_secret: SecretStr = SecretStr("")  # shown as ********** in a repr or a log line
    # request bodies the API reads at most (pipeline/api/body_limits.py; 413 before reading more):
    # JSON, a tariff's JSON with its rates, a rates CSV upload, a logo upload
    api_max_body_bytes: int = Field(64 * 1024, ge=1024)
    api_max_tariff_bytes: int = Field(4 * 1024 * 1024, ge=1024)
    api_max_rates_bytes: int = Field(64 * 1024 * 1024, ge=1024)
    api_max_logo_bytes: int = Field(1024 * 1024, ge=1024)
    # Swagger UI (/docs) and ReDoc (/redoc): off unless asked for; /openapi.json is always served
    api_docs: bool = False
    # the switch of `deploy/local/up --switch` (deploy/kamailio/switch.sh reads the same names)
    switch_upstream: str = "127.0.0.1:5070"
    switch_server: str = "kamailio1"
    switch_sip_port: int = 5060
    # authorization before the call (pipeline/authorize): the longest a call may be allowed and
    # held for unless its account says otherwise (MOR's frozen_time); how long after its expected
    # end a hold whose CDR never came is released; how long POST /v1/authorize waits for the
    # authorizer's durable answer before it answers 504 (the switch then applies its policy)
    hold_cap_seconds: int = Field(7200, ge=1, le=86_400)
    hold_grace_seconds: int = Field(600, ge=0)
    authorize_timeout_ms: int = Field(2000, ge=10)
    # proxies (addresses or networks, comma-separated) whose X-Forwarded-For and -Proto the API
    # believes; none by default: the peer address is the client (sign-in throttling keys on it)
    api_trusted_proxies: str = ""
    # how many days a new bearer token lives unless `token create --expires-days` says; none: forever
    api_token_days: int | None = Field(None, ge=1)

    # alerts (pipeline/agents, `python -m pipeline alerts`, or the role `alerts` of a worker, which
    # then runs them as a child process): how often fired alerts are judged again when no call
    # comes (a flood that stopped clears), and how a webhook is tried (backoff doubles from 1 s)
    alerts_tick_seconds: float = Field(5.0, gt=0)
    alerts_webhook_tries: int = Field(6, ge=1)
    alerts_webhook_timeout_seconds: float = Field(5.0, gt=0)

    # invoices by e-mail (pipeline/invoices/mail.py): the SMTP server that sends them; no host: the
    # installation sends none (the API, the portal and `invoice email` say so). STARTTLS is asked
    # for unless turned off (a local relay on 25 may not offer it); the login only if a user is set
    smtp_host: str = ""
    smtp_port: int = Field(587, ge=1, le=65535)
    smtp_user: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_from: str = ""  # the From address; empty: the issuer's own invoice e-mail
    smtp_starttls: bool = True
    smtp_timeout_seconds: float = Field(30.0, gt=0)

    def runs(self, role: str) -> bool:
        return role in self.roles

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}{name}"

    @property
    def app_id(self) -> str:
        return f"{self.topic_prefix}rating"

    @property
    def data_dir(self) -> Path:
        return self.local_dir / "worker" / self.app_id

    @property
    def clickhouse_database(self) -> str:
        return (urlparse(self.clickhouse_url).path or "/rating").lstrip("/") or "rating"

    def environment(self, base: dict[str, str]) -> dict[str, str]:
        """`base` (e.g. os.environ) with the RATING_* variables under which a child process builds
        exactly these settings: secrets as they are (a dump shows "**********"), None left to the
        default (pydantic-settings reads "null" as no integer)."""
        env = dict(base)
        for name, value in self.model_dump(mode="json").items():
            field = getattr(self, name)
            if isinstance(field, SecretStr):
                value = field.get_secret_value()
            if value is None:
                env.pop(f"RATING_{name.upper()}", None)
            else:
                env[f"RATING_{name.upper()}"] = value if isinstance(value, str) else json.dumps(value)
        return env
