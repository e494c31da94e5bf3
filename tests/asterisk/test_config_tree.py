"""The harness's rewrite of the shipped configs (no Asterisk needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.settings import load_settings
from tests.asterisk.config_tree import Ports, TreeSpec, assert_loopback_only, render


def _spec(tmp_path: Path) -> TreeSpec:
    trunks = load_settings().trunks
    return TreeSpec(
        ports=Ports(sip=25060, ami=25038, rtp_start=26000, rtp_end=26199, audiosocket=29092),
        trunk_addresses={name: f"127.0.0.1:{30000 + i}" for i, name in enumerate(trunks)},
        carrier_address="127.0.0.1:25070",
        ami_secret="not-a-real-secret",
        build=tmp_path / "build",
    )


def test_the_rendered_tree_holds_only_loopback_addresses(tmp_path: Path) -> None:
    conf = render(_spec(tmp_path), tmp_path / "run")
    lines = [
        line.split(";", 1)[0]
        for p in conf.parent.glob("*.conf")
        for line in p.read_text().split("\n")
    ]
    text = "\n".join(lines)  # comments left out: they may name the placeholders
    assert "192.0.2." not in text and "198.51.100." not in text
    assert "GW_AUDIOSOCKET = 127.0.0.1:29092" in text
    assert "bind = 127.0.0.1:25060" in text
    assert "Set(GW_110_DIAL=PJSIP/nanchang-110/sip:110@127.0.0.1:" in text


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("contact = sip:10.20.1.10:5060", "non-loopback address 10.20.1.10"),
        ("match = 192.0.2.7", "non-loopback address 192.0.2.7"),
        ("contact = sip:trunk.example.net", "host name 'trunk.example.net'"),
        ("bind = 0.0.0.0:5060", "non-loopback address 0.0.0.0"),
    ],
)
def test_a_tree_with_an_outside_address_or_a_host_name_is_refused(
    tmp_path: Path, line: str, problem: str
) -> None:
    (tmp_path / "pjsip.conf").write_text(f"[x]\ntype = aor\n{line}\n")
    with pytest.raises(AssertionError, match="refusing to start Asterisk") as raised:
        assert_loopback_only(tmp_path)
    assert problem in str(raised.value)


def test_acl_masks_are_not_addresses(tmp_path: Path) -> None:
    (tmp_path / "manager.conf").write_text(
        "[gateway]\ndeny = 0.0.0.0/0.0.0.0\npermit = 127.0.0.1/255.255.255.255\n"
    )
    assert_loopback_only(tmp_path)
