"""After the demo, the commands find its run through RATING_LOCAL_DIR/run/demo.env, unless told otherwise."""
from __future__ import annotations

import logging

from aiokafka.errors import KafkaConnectionError, NotLeaderForPartitionError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.demo_env import adopt_demo_env, read_demo_env, write_demo_env
from pipeline.logging_setup import TransientKafkaNoise
from pipeline.settings import Settings


def _written(tmp_path) -> Settings:
    settings = Settings(local_dir=tmp_path, topic_prefix="demo-1-", clickhouse_url="clickhouse://h:9000/rating_demo")
    write_demo_env(settings)
    return settings


def test_a_command_without_a_prefix_takes_the_demo_runs_settings(tmp_path):
    _written(tmp_path)
    environ = {"RATING_LOCAL_DIR": str(tmp_path), "RATING_CLICKHOUSE_URL": "clickhouse://mine:9000/x"}
    path, values = adopt_demo_env(environ, ["balances"])
    assert path == tmp_path / "run" / "demo.env" and values["RATING_TOPIC_PREFIX"] == "demo-1-"
    assert environ["RATING_TOPIC_PREFIX"] == "demo-1-"
    assert environ["RATING_CLICKHOUSE_URL"] == "clickhouse://mine:9000/x"  # what was set stays


def test_a_set_prefix_even_empty_the_demo_itself_and_benchmarks_are_left_alone(tmp_path):
    _written(tmp_path)
    for environ, argv in (({"RATING_TOPIC_PREFIX": ""}, ["balances"]), ({}, ["demo", "--calls", "5"]),
                          ({}, ["bench-invoices"])):
        environ = {"RATING_LOCAL_DIR": str(tmp_path), **environ}
        before = dict(environ)
        assert adopt_demo_env(environ, argv) is None and environ == before
    assert adopt_demo_env({"RATING_LOCAL_DIR": str(tmp_path / "none")}, ["balances"]) is None  # no demo ran


def test_only_the_known_settings_are_read_from_the_file(tmp_path):
    path = tmp_path / "run" / "demo.env"
    path.parent.mkdir()
    path.write_text("# note\nRATING_TOPIC_PREFIX=demo-2-\nRATING_API_SECRET=stolen\nPATH=/evil\n")
    assert read_demo_env(path) == {"RATING_TOPIC_PREFIX": "demo-2-"}


def _record(level: int, name: str, *args) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, "Failed fetch offsets from %s: %s", args, None)


def test_no_leader_yet_retries_are_debug_other_kafka_errors_stay():
    noise = TransientKafkaNoise()
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    retry = _record(logging.ERROR, "aiokafka.consumer.fetcher", 1, NotLeaderForPartitionError("tp"))
    assert noise.filter(retry) is False and retry.levelname == "DEBUG"
    real = _record(logging.ERROR, "aiokafka.consumer.fetcher", 1, KafkaConnectionError("refused"))
    assert noise.filter(real) is True and real.levelname == "ERROR"
    ours = _record(logging.ERROR, "pipeline.worker", 1, NotLeaderForPartitionError("tp"))
    assert noise.filter(ours) is True  # our own records are never touched


@settings(max_examples=50, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=400))
def test_any_file_text_gives_only_known_settings(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("env") / "demo.env"
    path.write_text(text, encoding="utf-8", errors="surrogateescape")
    values = read_demo_env(path)
    assert set(values) <= {"RATING_TOPIC_PREFIX", "RATING_CLICKHOUSE_URL"}
    assert all("\n" not in v for v in values.values())
