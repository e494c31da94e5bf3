import json
import re

import pytest
import structlog

from gateway.logs import configure_logging, get_logger, mask_number, mask_numbers_in_text


@pytest.mark.parametrize(
    ("raw", "masked"),
    [("13812345678", "138****5678"), ("079112345678", "079*****5678"), ("110", "***"), ("", "")],
)
def test_caller_numbers_are_masked(raw: str, masked: str) -> None:
    assert mask_number(raw) == masked


def test_numbers_inside_text_are_masked() -> None:
    assert mask_numbers_in_text("打 13812345678 找我") == "打 138****5678 找我"


def test_json_log_line_carries_call_id_and_masks_caller(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging(json=True)
    get_logger("t", call_id="c-1").info(
        "call answered", caller="13812345678", transcript="我电话13900001111"
    )
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["call_id"] == "c-1"
    assert line["caller"] == "138****5678"
    assert "13900001111" not in line["transcript"]
    structlog.reset_defaults()


def test_an_ami_secret_in_a_logged_action_is_redacted() -> None:
    text = "Fail to send 'Action: Login\\r\\nUsername: gateway\\r\\nSecret: s3cr3t-value\\r\\n'"
    masked = mask_numbers_in_text(text)
    assert "s3cr3t-value" not in masked and "Secret: ***" in masked


@pytest.mark.parametrize(
    "text",
    [
        "打 138 1234 5678 找我",
        "电话138-1234-5678",
        "座机0791-88881234",
        "号码88881234",
        "我的电话是幺三八一二三四五六七八",
    ],
)
def test_numbers_written_any_way_are_masked(text: str) -> None:
    masked = mask_numbers_in_text(text)
    assert "1234 5678" not in masked and "88881234" not in masked
    assert "1234-5678" not in masked and "三四五六七八" not in masked


def test_dict_repr_secrets_are_redacted() -> None:
    assert "s3cr3t" not in mask_numbers_in_text("{'Secret': 's3cr3t', 'Username': 'gw'}")


def test_logs_keep_no_caller_words_and_look_inside_nested_data(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging(json=True)
    get_logger("t").info(
        "dialog", reply="是这样的我家门口", data={"CallerIDNum": "88881234", "text": "救命"}
    )
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["reply"] == "<8 chars>"
    assert line["data"]["CallerIDNum"] != "88881234" and line["data"]["text"] == "<2 chars>"
    structlog.reset_defaults()


def test_ticket_ids_stay_readable_in_logs(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(json=True)
    get_logger("t").info("call handed off", ticket="1129-0000001")
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["ticket"] == "1129-0000001"
    structlog.reset_defaults()


def test_log_timestamps_and_dates_in_messages_are_not_taken_for_numbers(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A real Asterisk run showed "timestamp": "202*1203T20:01:08" and masked ticket ids
    inside error strings: the masker ran after the timestamp was added."""
    configure_logging(json=True)
    get_logger("t").warning(
        "fallback not recorded",
        error="ticket 1203-0000001 (offline 1203-90000002) not found at 2026-12-03 20:01:08",
    )
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d+Z", line["timestamp"])
    assert "1203-0000001" in line["error"] and "1203-90000002" in line["error"]
    assert "2026-12-03 20:01:08" in line["error"]
    structlog.reset_defaults()


def test_a_phone_number_next_to_a_date_is_still_masked() -> None:
    masked = mask_numbers_in_text("2026-12-03 来电 13812345678，座机 0791-88881234")
    assert masked.startswith("2026-12-03 来电 138****5678")
    assert "88881234" not in masked
