"""read_files: every record validated on its own; every error names file, record, kind+id and field."""
import json

import pytest

from pipeline.reference.publish import ApplyError, read_files
from pipeline.schemas.reference import AccountIn, TariffIn


def write(path, records) -> str:
    path.write_text(json.dumps(records))
    return str(path)


def errors_of(paths) -> list[str]:
    with pytest.raises(ApplyError) as caught:
        read_files(paths)
    return caught.value.errors


def test_good_files_give_every_record_in_order_with_its_place(tmp_path):
    (tmp_path / "rates.csv").write_text("prefix,rate,increment\n370,1.5,60\n44,0.6,1\n")
    first = write(tmp_path / "a.json", [{"kind": "account", "id": "admin", "type": "admin"},
                                        {"kind": "tariff", "id": "t1", "rates_csv": "rates.csv"}])
    second = write(tmp_path / "b.json", {"kind": "account", "id": "r1", "type": "reseller", "tariff": "t1"})
    located = read_files([first, second])
    assert [(item.file, item.number, item.record.id) for item in located] == \
        [(first, 1, "admin"), (first, 2, "t1"), (second, 1, "r1")]
    tariff = located[1].record
    assert isinstance(tariff, TariffIn) and tariff.rates_csv is None
    assert [(r.prefix, str(r.rate), r.increment) for r in tariff.rates] == [("370", "1.5", 60), ("44", "0.6", 1)]
    assert isinstance(located[2].record, AccountIn) and located[2].record.parent == "admin"


def test_field_error_names_file_record_kind_id_and_field(tmp_path):
    path = write(tmp_path / "acc.json", [{"kind": "account", "id": "admin", "type": "admin"},
                                         {"kind": "account", "id": "r9", "type": "reseller", "billing": "sometimes"}])
    [error] = errors_of([path])
    assert error.startswith(f"{path} record 2 (account 'r9'): ")
    assert "billing" in error and "sometimes" in error


def test_rate_field_error_names_the_rate(tmp_path):
    path = write(tmp_path / "t.json", {"kind": "tariff", "id": "t-x", "rates": [{"prefix": "370", "rate": "1"},
                                                                               {"prefix": "37a", "rate": "1"}]})
    [error] = errors_of([path])
    assert error.startswith(f"{path} record 1 (tariff 't-x'): ") and "rates.1.prefix" in error


def test_bad_csv_names_the_file_line_and_column(tmp_path):
    (tmp_path / "bad.csv").write_text("prefix,rate\n370,1\n371,abc\n")
    path = write(tmp_path / "t.json", {"kind": "tariff", "id": "t-csv", "rates_csv": "bad.csv"})
    [error] = errors_of([path])
    assert error.startswith(f"{path} record 1 (tariff 't-csv'): ")
    assert 'bad.csv line 3, column "rate"' in error


def test_all_errors_of_all_files_at_once(tmp_path):
    one = write(tmp_path / "one.json", [{"kind": "account", "id": "u", "type": "user", "billing": "x"},
                                        {"kind": "gizmo", "id": "g"}, 7,
                                        {"kind": "did", "number": "12x"}])
    broken = tmp_path / "broken.json"
    broken.write_text('{"kind": ')
    missing = str(tmp_path / "missing.json")
    errors = errors_of([one, str(broken), missing])
    assert [e.split(":")[0] for e in errors] == [
        f"{one} record 1 (account 'u')", f"{one} record 2 (gizmo 'g')", f"{one} record 3",
        f"{one} record 4 (did '12x')", str(broken), missing,
    ]
    assert "cannot read JSON" in errors[4] and "cannot read JSON" in errors[5]


def test_one_bad_record_means_no_records(tmp_path):
    path = write(tmp_path / "a.json", [{"kind": "account", "id": "admin", "type": "admin"},
                                       {"kind": "provider", "id": "p1"}])
    [error] = errors_of([path])
    assert "record 2 (provider 'p1')" in error and "tariff" in error


def test_missing_rates_csv_is_an_error_naming_the_record(tmp_path):
    path = write(tmp_path / "t.json", {"kind": "tariff", "id": "t-gone", "rates_csv": "nope.csv"})
    [error] = errors_of([path])
    assert error.startswith(f"{path} record 1 (tariff 't-gone'): ") and "nope.csv" in error
