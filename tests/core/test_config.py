from pathlib import Path

import pytest

from gateway.cli import main
from gateway.configfile import ConfigError
from gateway.settings import DEFAULT_CONFIG, load_settings


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gw.yaml"
    path.write_text(text, encoding="utf-8")
    return path


BASE = """\
trunks:
  nc-110: {dial: PJSIP/110@nc-110}
  nc-12345: {dial: PJSIP/12345@nc-12345, max_calls: 3}
cities:
  nanchang:
    name: 南昌
    dids: ["0791110"]
    destinations: {"110": nc-110, "12345": nc-12345}
"""


def test_shipped_config_is_valid() -> None:
    settings = load_settings(DEFAULT_CONFIG)
    assert len(settings.cities) == 11
    assert settings.city_for_did("0797110") == "ganzhou"
    assert settings.cities["ganzhou"].consent == "opt_in"


def test_error_names_file_line_field_and_reason(tmp_path: Path) -> None:
    path = write(tmp_path, BASE.replace("max_calls: 3", "max_calls: -3"))
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    (problem,) = info.value.problems
    assert problem.file == str(path)
    assert problem.line == 3
    assert problem.field == "trunks.nc-12345.max_calls"
    assert "greater than or equal to 0" in problem.reason


def test_missing_110_destination_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, BASE.replace('"110": nc-110, ', ""))
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert any("'110' destination" in p.reason for p in info.value.problems)
    assert info.value.problems[0].line == 8


def test_unknown_trunk_reference_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, BASE.replace('"12345": nc-12345', '"12345": nowhere'))
    with pytest.raises(ConfigError, match="unknown trunk 'nowhere'"):
        load_settings(path)


def test_unknown_key_is_refused_with_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, "amy:\n  host: x\n" + BASE)
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert info.value.problems[0].field == "amy"
    assert info.value.problems[0].line == 1


def test_yaml_syntax_error_names_line(tmp_path: Path) -> None:
    path = write(tmp_path, BASE + "  bad: [unclosed\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert info.value.problems[0].line is not None
    assert "YAML syntax" in info.value.problems[0].reason


def test_check_config_exits_1_and_prints_each_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, BASE.replace('["0791110"]', "[]"))
    assert main(["check-config", str(path)]) == 1
    err = capsys.readouterr().err
    assert f"{path}:7: cities.nanchang.dids" in err


def test_check_config_accepts_shipped_config(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config"]) == 0
    assert "11 cities" in capsys.readouterr().out


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_settings(tmp_path / "nope.yaml")


def test_check_config_reports_a_broken_triage_rules_file_by_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from gateway.settings import PROJECT_ROOT

    rules = tmp_path / "rules.yaml"
    shipped = (PROJECT_ROOT / "configs/triage/zh-CN.yaml").read_text(encoding="utf-8")
    rules.write_text("not_a_rules_key: 1\n" + shipped, encoding="utf-8")
    config = tmp_path / "gw.yaml"
    main_config = (PROJECT_ROOT / "configs/gateway.yaml").read_text(encoding="utf-8")
    config.write_text(
        main_config.replace(
            "rules: {zh-CN: configs/triage/zh-CN.yaml}", f"rules: {{zh-CN: {rules}}}"
        ),
        encoding="utf-8",
    )
    assert main(["check-config", str(config)]) == 1
    assert f"{rules}:1: not_a_rules_key" in capsys.readouterr().err
