from __future__ import annotations

from click.testing import CliRunner

from pipeline.adapters.__main__ import main


def test_exactly_one_source_is_required(tmp_path):
    result = CliRunner().invoke(main, ["adapter", "kamailio"])
    assert result.exit_code == 2 and "exactly one of --from-file, --from-dir, --from-topic" in result.output
    result = CliRunner().invoke(main, ["adapter", "kamailio", "--from-file", str(tmp_path / "x"), "--from-topic", "t"])
    assert result.exit_code == 2


def test_unknown_time_zone_and_adapter_are_usage_errors(tmp_path):
    result = CliRunner().invoke(main, ["adapter", "asterisk_csv", "--from-file", str(tmp_path / "x"),
                                       "--timezone", "Mars/Olympus"])
    assert result.exit_code == 2 and "'Mars/Olympus' is not an IANA time zone" in result.output
    result = CliRunner().invoke(main, ["adapter", "opensips", "--from-file", str(tmp_path / "x")])
    assert result.exit_code == 2 and "asterisk_csv" in result.output


def test_column_lists_must_name_each_column_once(tmp_path):
    result = CliRunner().invoke(main, ["adapter", "asterisk_csv", "--from-file", str(tmp_path / "x"),
                                       "--columns", "src,dst,,start"])
    assert result.exit_code == 2 and "has an empty column name" in result.output
    result = CliRunner().invoke(main, ["adapter", "kamailio_flatstore", "--from-file", str(tmp_path / "x"),
                                       "--cdr-columns", "start_time,end_time,start_time"])
    assert result.exit_code == 2 and "names a column twice" in result.output
