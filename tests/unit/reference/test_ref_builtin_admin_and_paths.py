"""`ref apply` validation (no broker): files that name the admin without creating it pass, and a
rates_csv path never leaves the reference file's folder."""
import json
import os
from pathlib import Path

import pytest

from pipeline.reference.book import ReferenceBook
from pipeline.reference.publish import ApplyError, read_files, refuse_broken

SAMPLES = Path(__file__).resolve().parents[3] / "samples"

# docs/contract.md "Reference data", record for record and in its order
CONTRACT_EXAMPLE = [
    {"kind": "account", "id": "r1", "type": "reseller", "parent": "admin", "tariff": "t-r1-buy",
     "billing": "prepaid", "credit_limit": None, "server": "ast1", "pro": False,
     "allow_loss_calls": False, "blocked": False, "name": "Reseller One"},
    {"kind": "account", "id": "u1", "type": "user", "parent": "r1", "tariff": "t-r1-retail",
     "billing": "postpaid", "credit_limit": "50"},
    {"kind": "tariff", "id": "t-r1-retail", "owner": "r1", "currency": "EUR", "timezone": "UTC",
     "decimals": 6, "rounding": "half_up",
     "rates": [{"prefix": "370", "rate": "2", "connection_fee": "0", "increment": 1, "min_time": 0,
                "grace_time": 0, "effective_from": "2026-01-01T00:00:00Z", "day_type": "all",
                "start": "00:00:00", "end": "23:59:59"}]},
    {"kind": "provider", "id": "p1", "owner": "admin", "tariff": "t-p1"},
    {"kind": "did", "number": "37052000001", "reseller": "r1", "user": "u1"},
]
# What the example names but does not define: the admin's two tariffs
ADMIN_TARIFFS = [
    {"kind": "tariff", "id": "t-r1-buy", "owner": "admin", "rates": [{"prefix": "370", "rate": "1.2"}]},
    {"kind": "tariff", "id": "t-p1", "owner": "admin", "rates": [{"prefix": "370", "rate": "0.3"}]},
]


def write(path: Path, records) -> str:
    path.write_text(json.dumps(records))
    return str(path)


def test_the_contract_example_names_admin_without_creating_it_and_passes(tmp_path):
    # Records are taken in order (docs/contract.md), and the example gives u1 its tariff one record
    # before that tariff: the only change made here is that record's place. No admin record.
    example = [CONTRACT_EXAMPLE[0], CONTRACT_EXAMPLE[2], CONTRACT_EXAMPLE[1], *CONTRACT_EXAMPLE[3:]]
    tariffs = write(tmp_path / "admin-tariffs.json", ADMIN_TARIFFS)
    contract = write(tmp_path / "contract.json", example)
    located = read_files([tariffs, contract])
    book = ReferenceBook()
    refuse_broken(book, located)  # nothing refused
    for item in located:  # what a worker's reference feed then does with them
        book.apply(item.record)
    assert book.account("u1").parent == "r1" and book.provider("p1").owner == "admin"
    assert book.account("admin").type == "admin"
    assert book.chain_plan("u1").reseller.id == "r1"  # the chain reaches the built-in admin


def test_the_contract_example_in_its_own_order_fails_only_on_the_forward_reference(tmp_path):
    tariffs = write(tmp_path / "admin-tariffs.json", ADMIN_TARIFFS)
    contract = write(tmp_path / "contract.json", CONTRACT_EXAMPLE)
    with pytest.raises(ApplyError) as caught:
        refuse_broken(ReferenceBook(), read_files([tariffs, contract]))
    assert [error.split(": ", 1)[0] for error in caught.value.errors] == [
        f"{contract} record 2 (account 'u1')", f"{contract} record 5 (did '37052000001')"]
    assert 'tariff "t-r1-retail" of user "u1" does not exist' in caught.value.errors[0]
    assert not any("admin" in error for error in caught.value.errors)


def test_the_samples_pass_without_their_admin_record(tmp_path):
    paths = []
    for name in ("operator.json", "resellers.json"):
        records = [r for r in json.loads((SAMPLES / name).read_text()) if r.get("id") != "admin"]
        paths.append(write(tmp_path / name, records))
    (tmp_path / "t-direct.csv").write_bytes((SAMPLES / "t-direct.csv").read_bytes())
    located = read_files(paths)
    assert len(located) >= 13
    refuse_broken(ReferenceBook(), located)


def test_blocking_the_admin_in_a_file_is_refused_with_the_rule(tmp_path):
    path = write(tmp_path / "admin.json", {"kind": "account", "id": "admin", "type": "admin", "blocked": True})
    with pytest.raises(ApplyError) as caught:
        refuse_broken(ReferenceBook(), read_files([path]))
    [error] = caught.value.errors
    assert error.startswith(f"{path} record 1 (account 'admin'): the admin cannot be blocked")


@pytest.mark.parametrize("rates_csv", ["/etc/passwd", "../outside.csv", "sub/../../outside.csv", "link.csv"])
def test_rates_csv_outside_the_files_folder_is_refused_and_never_read(tmp_path, rates_csv):
    folder = tmp_path / "ref"
    folder.mkdir()
    (tmp_path / "outside.csv").write_text("SECRET-FIRST-LINE\n370,1\n")
    os.symlink(tmp_path / "outside.csv", folder / "link.csv")
    path = write(folder / "t.json", {"kind": "tariff", "id": "t-x", "rates_csv": rates_csv})
    with pytest.raises(ApplyError) as caught:
        read_files([path])
    [error] = caught.value.errors
    assert error.startswith(f"{path} record 1 (tariff 't-x'): rates_csv \"{rates_csv}\"")
    assert "folder of the reference file" in error
    assert "SECRET" not in error and "root:" not in error


def test_rates_csv_in_a_subfolder_is_read(tmp_path):
    (tmp_path / "rates").mkdir()
    (tmp_path / "rates" / "t.csv").write_text("prefix,rate\n370,1\n")
    path = write(tmp_path / "t.json", {"kind": "tariff", "id": "t-x", "rates_csv": "rates/t.csv"})
    [item] = read_files([path])
    assert [rate.prefix for rate in item.record.rates] == ["370"]
