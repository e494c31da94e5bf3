import json

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
