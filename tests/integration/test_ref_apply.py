"""`ref apply` on the real broker: all of a run or nothing, errors that name file, record and
field (or rule, or CSV line and column), references to earlier records of the same run, and each
record on its topic keyed by its id."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from devkit.worker_process import settings_env
from pipeline.kafka.admin import ensure_topics
from pipeline.kafka.topic_io import read_all
from pipeline.kafka.topics import REFERENCE_TOPICS
from pipeline.reference.csv_rates import resolve_rates_csv
from pipeline.reference.publish import ApplyError, apply_files
from pipeline.reference.records import parse_reference_record
from pipeline.settings import REPO_ROOT
from tests.integration.kit import SAMPLES

ADMIN = {"kind": "account", "id": "admin", "type": "admin"}
BUY = {"kind": "tariff", "id": "t-buy", "owner": "admin", "rates": [{"prefix": "370", "rate": "1.2"}]}


def run_ref_apply(settings, *paths: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pipeline", "ref", "apply", *map(str, paths)],
        env=settings_env(settings), cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
    )


def write_json(path: Path, records) -> Path:
    path.write_bytes(orjson.dumps(records))
    return path


async def reference_topics(settings) -> dict[str, list[tuple[str, dict]]]:
    """(key, value) of every committed message of every ref.* topic."""
    found = {}
    for topic in REFERENCE_TOPICS.values():
        found[topic] = [(m.key.decode(), orjson.loads(m.value)) for m in await read_all(settings, topic)]
    return found


async def test_one_invalid_record_publishes_nothing_of_any_file_and_names_file_record_and_field(settings_factory, tmp_path):
    settings = settings_factory()
    await ensure_topics(settings)  # the topics exist, so "empty" below is a read, not a missing topic
    good = write_json(tmp_path / "good.json", [
        ADMIN, BUY, {"kind": "account", "id": "ra", "type": "reseller", "tariff": "t-buy"},
    ])
    mixed_records = [
        {"kind": "tariff", "id": "t-ra", "owner": "ra", "rates": [{"prefix": "370", "rate": "2"}]},
        {"kind": "account", "id": "ub", "type": "user", "parent": "ra", "tariff": "t-ra",
         "billing": "postpaid", "credit_limit": "fifty"},
        {"kind": "account", "id": "uc", "type": "user", "parent": "ra", "tariff": "t-ra"},
    ]
    mixed = write_json(tmp_path / "mixed.json", mixed_records)

    result = run_ref_apply(settings, good, mixed)

    assert result.returncode == 1, result.stdout + result.stderr
    assert "nothing published: 1 error(s)" in result.stderr
    error_lines = [line.strip() for line in result.stderr.splitlines()[1:] if line.strip()]
    assert len(error_lines) == 1, result.stderr
    assert error_lines[0].startswith(f"{mixed} record 2 (account 'ub'): "), result.stderr
    assert "credit_limit" in error_lines[0] and "fifty" in error_lines[0]
    assert "published" not in result.stdout
    assert await reference_topics(settings) == {topic: [] for topic in REFERENCE_TOPICS.values()}

    # the same run with the record fixed publishes both files: the reads above were not blind
    mixed_records[1]["credit_limit"] = "50"
    write_json(mixed, mixed_records)
    fixed = run_ref_apply(settings, good, mixed)
    assert fixed.returncode == 0, fixed.stderr
    published = await reference_topics(settings)
    assert [key for key, _ in published["ref.accounts"]] == ["admin", "ra", "ub", "uc"]
    assert [key for key, _ in published["ref.tariffs"]] == ["t-buy", "t-ra"]


async def test_a_user_given_another_resellers_tariff_is_refused_with_the_rule(settings_factory, tmp_path):
    settings = settings_factory()
    resellers = write_json(tmp_path / "resellers.json", [
        ADMIN, BUY,
        {"kind": "account", "id": "r1", "type": "reseller", "tariff": "t-buy"},
        {"kind": "account", "id": "r2", "type": "reseller", "tariff": "t-buy"},
        {"kind": "tariff", "id": "t-r1", "owner": "r1", "rates": [{"prefix": "370", "rate": "2"}]},
        {"kind": "tariff", "id": "t-r2", "owner": "r2", "rates": [{"prefix": "370", "rate": "3"}]},
    ])
    assert run_ref_apply(settings, resellers).returncode == 0
    before = await reference_topics(settings)

    users = write_json(tmp_path / "users.json", [
        {"kind": "account", "id": "u1", "type": "user", "parent": "r1", "tariff": "t-r1"},
        {"kind": "account", "id": "u2", "type": "user", "parent": "r1", "tariff": "t-r2"},
    ])
    result = run_ref_apply(settings, users)

    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{users} record 2 (account 'u2')" in result.stderr
    assert 'user "u2" may only get a tariff of its parent "r1"; tariff "t-r2" belongs to "r2"' in result.stderr
    assert "record 1" not in result.stderr  # u1 is fine, and still not published with u2
    assert await reference_topics(settings) == before


async def test_a_record_may_refer_to_an_earlier_record_of_the_run_but_not_to_a_later_one(settings_factory, tmp_path):
    settings = settings_factory()
    in_order = [
        ADMIN, BUY,
        {"kind": "account", "id": "r5", "type": "reseller", "tariff": "t-buy"},
        {"kind": "tariff", "id": "t-r5", "owner": "r5", "rates": [{"prefix": "44", "rate": "0.7"}]},
        {"kind": "account", "id": "u5", "type": "user", "parent": "r5", "tariff": "t-r5"},
        {"kind": "did", "number": "37052000005", "reseller": "r5", "user": "u5"},
    ]
    path = write_json(tmp_path / "reseller-and-user.json", in_order)
    result = run_ref_apply(settings, path)
    assert result.returncode == 0, result.stderr
    published = await reference_topics(settings)
    assert [key for key, _ in published["ref.accounts"]] == ["admin", "r5", "u5"]
    ((number, did),) = published["ref.dids"]
    assert (number, did["number"], did["reseller"], did["user"]) == ("37052000005", "37052000005", "r5", "u5")

    # the user before his reseller: "earlier" is what counts, not "somewhere in the run"
    other = settings_factory()
    reversed_path = write_json(tmp_path / "user-first.json", [
        ADMIN, BUY,
        {"kind": "account", "id": "u6", "type": "user", "parent": "r6", "tariff": "t-buy"},
        {"kind": "account", "id": "r6", "type": "reseller", "tariff": "t-buy"},
    ])
    with pytest.raises(ApplyError) as refused:
        await apply_files(other, [str(reversed_path)])
    assert refused.value.errors == [
        f"{reversed_path} record 3 (account 'u6'): parent \"r6\" of user \"u6\" does not exist"
    ]
    assert await reference_topics(other) == {topic: [] for topic in REFERENCE_TOPICS.values()}


async def test_a_bad_line_of_a_csv_tariff_is_named_by_line_and_column(settings_factory, tmp_path):
    settings = settings_factory()
    await ensure_topics(settings)
    (tmp_path / "t-csv.csv").write_text(
        "prefix,rate,increment\n"
        "370,1.5,60\n"
        "371,1.5,60\n"
        "372,1.5,0\n"  # line 4: increment must be at least 1
        "373,1.5,60\n"
    )
    path = write_json(tmp_path / "csv-tariff.json", [
        ADMIN, {"kind": "tariff", "id": "t-csv", "owner": "admin", "rates_csv": "t-csv.csv"},
    ])

    result = run_ref_apply(settings, path)

    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{path} record 2 (tariff 't-csv'): t-csv.csv line 4, column \"increment\":" in result.stderr
    assert await reference_topics(settings) == {topic: [] for topic in REFERENCE_TOPICS.values()}


async def test_a_valid_run_publishes_every_record_on_its_topic_keyed_by_id(settings_factory):
    settings = settings_factory()
    files = [SAMPLES / "operator.json", SAMPLES / "resellers.json"]

    result = run_ref_apply(settings, *files)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "published 7 account(s), 5 tariff(s), 1 provider(s), 1 did(s)"
    expected: dict[str, list] = {topic: [] for topic in REFERENCE_TOPICS.values()}
    for path in files:
        for obj in orjson.loads(path.read_bytes()):
            record = parse_reference_record(obj)
            if record.kind == "tariff":
                record = resolve_rates_csv(record, path.parent)
            expected[REFERENCE_TOPICS[record.kind]].append((record.id, record))
    published = await reference_topics(settings)
    for topic, records in expected.items():
        got = [(key, parse_reference_record(value)) for key, value in published[topic]]
        assert got == records, topic
    assert [key for key, _ in published["ref.dids"]] == ["37052000001"]  # a DID is keyed by its number
    direct = dict(published["ref.tariffs"])["t-direct"]
    assert direct["rates_csv"] is None and len(direct["rates"]) == 5  # the CSV travels inline
    assert {rate["prefix"] for rate in direct["rates"]} == {"370", "3706", "44", "1"}


async def test_a_file_that_names_the_admin_without_creating_it_is_published_and_etc_passwd_is_never_read(
        settings_factory, tmp_path):
    settings = settings_factory()
    await ensure_topics(settings)
    escaping = write_json(tmp_path / "escaping.json", [
        {"kind": "tariff", "id": "t-evil", "owner": "admin", "rates_csv": "/etc/passwd"},
    ])
    refused = run_ref_apply(settings, escaping)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert f"{escaping} record 1 (tariff 't-evil'): rates_csv \"/etc/passwd\"" in refused.stderr
    assert "root:" not in refused.stderr + refused.stdout

    no_admin = write_json(tmp_path / "no-admin.json", [
        BUY, {"kind": "account", "id": "r7", "type": "reseller", "parent": "admin", "tariff": "t-buy"},
    ])
    result = run_ref_apply(settings, no_admin)
    assert result.returncode == 0, result.stderr
    published = await reference_topics(settings)
    assert [key for key, _ in published["ref.accounts"]] == ["r7"]  # the admin is built in, not published
