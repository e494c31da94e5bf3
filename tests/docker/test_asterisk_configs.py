"""The shipped Asterisk configs keep the dialplan contract and the safety rules.

No Asterisk runs here: the files are parsed and the dialplan is walked by a small
interpreter (tests/docker/asterisk_conf.py) for each way a call can go wrong.
"""

from __future__ import annotations

import importlib.util
import re
import uuid
from pathlib import Path
from types import ModuleType

import pytest

from gateway.asterisk_trunks import dial_110
from gateway.settings import DEFAULT_CONFIG, Settings, load_settings
from tests.docker.asterisk_conf import (
    Channel,
    ConfFile,
    DialplanWalker,
    load_dialplan,
    parse_conf,
    split_app,
)

ASTERISK = Path(__file__).resolve().parents[2] / "docker" / "asterisk"
ROUTES_WITH_TRUNKS = ("119", "120", "12345", "mediation")


@pytest.fixture(scope="module")
def settings() -> Settings:
    return load_settings(DEFAULT_CONFIG)


@pytest.fixture(scope="module")
def extensions() -> ConfFile:
    return parse_conf(ASTERISK / "extensions.conf")


@pytest.fixture(scope="module")
def dialplan(extensions: ConfFile):
    return load_dialplan(extensions)


@pytest.fixture(scope="module")
def globals_(extensions: ConfFile) -> dict[str, str]:
    [section] = extensions.named("globals")
    return dict(section.items)


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_trunks", ASTERISK / "gen_trunks.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def walker(dialplan, globals_, **kwargs) -> DialplanWalker:
    kwargs.setdefault("dial", lambda dest: "ANSWER")
    return DialplanWalker(dialplan, globals_, **kwargs)


def inbound_call(dialplan, globals_, did: str, **kwargs) -> tuple[Channel, DialplanWalker]:
    walk = walker(dialplan, globals_, **kwargs)
    channel = walk.run(Channel({}), "from-110", did, max_steps=200)
    return channel, walk


def redirected_call(
    dialplan, globals_, route: str, variables: dict[str, str], **kwargs
) -> tuple[Channel, DialplanWalker]:
    """A call in gateway-in that the gateway moved with Setvar + Redirect."""
    walk = walker(dialplan, globals_, **kwargs)
    channel = Channel({"GW_CITY": "nanchang", "GW_110_DIAL": "PJSIP/110@nanchang-110", **variables})
    return walk.run(channel, f"route-{route}", "s", max_steps=200), walk


# ------------------------------------------------------------------ generated files


def test_generated_trunk_and_city_files_match_gateway_yaml():
    rendered = generator().render_all(DEFAULT_CONFIG, None)
    for path, text in rendered.items():
        assert path.read_text(encoding="utf-8") == text, (
            f"{path.name} is stale: run .venv/bin/python docker/asterisk/gen_trunks.py"
        )


def test_every_trunk_dial_string_names_a_generated_pjsip_endpoint(settings: Settings):
    pjsip = parse_conf(ASTERISK / "pjsip.conf")
    assert "pjsip_trunks.conf" in pjsip.includes
    endpoints = {s.name for s in pjsip.sections if "gw-trunk-endpoint" in s.templates}
    aors = {s.name for s in pjsip.sections if "gw-trunk-aor" in s.templates}
    identified = {s.value("endpoint") for s in pjsip.sections if "gw-trunk-identify" in s.templates}
    for name, trunk in settings.trunks.items():
        tech, _, resource = trunk.dial.partition("/")
        assert tech == "PJSIP", name
        endpoint = resource.rsplit("@", 1)[-1]
        assert endpoint in endpoints and endpoint in aors and endpoint in identified, name
    templates = {s.name: s for s in pjsip.sections if s.is_template}
    assert templates["gw-trunk-endpoint"].value("context") == "from-110"
    assert templates["gw-trunk-aor"].value("qualify_frequency")  # ContactStatus = health


def test_address_file_fills_in_trunks_and_rejects_unknown_names(tmp_path: Path):
    module = generator()
    addresses = tmp_path / "addresses.yaml"
    addresses.write_text("nanchang-12345: 10.9.8.7:5070\n", encoding="utf-8")
    text = module.render_all(DEFAULT_CONFIG, addresses)[module.PJSIP_OUT]
    assert "contact = sip:10.9.8.7:5070\n" in text and "match = 10.9.8.7\n" in text
    addresses.write_text("nanchang-110: 10.9.8.6:5062\n", encoding="utf-8")
    dialplan = module.render_all(DEFAULT_CONFIG, addresses)[module.EXTENSIONS_OUT]
    assert "Set(GW_110_DIAL=PJSIP/nanchang-110/sip:110@10.9.8.6:5062)" in dialplan
    addresses.write_text("no-such-trunk: 10.0.0.1\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="no-such-trunk"):
        module.render_all(DEFAULT_CONFIG, addresses)


def _placeholder(settings: Settings, trunk: str) -> str:
    return f"192.0.2.{sorted(settings.trunks).index(trunk) + 1}"


# ------------------------------------------------------------------ inbound and gateway-in


def test_every_city_did_reaches_the_gateway_with_its_city_and_110(
    dialplan, globals_, settings: Settings
):
    assert "extensions_cities.conf" in parse_conf(ASTERISK / "extensions.conf").includes
    for code, city in settings.cities.items():
        trunk_110 = city.destinations["110"]
        # by explicit URI: Asterisk dials it even when qualify marks the contact Unreachable
        dial_110 = f"PJSIP/{trunk_110}/sip:110@{_placeholder(settings, trunk_110)}"
        for did in city.dids:
            assert did in dialplan["from-110"], f"no inbound extension for {code} DID {did}"
            walk = walker(dialplan, globals_, audiosocket_status="SUCCESS")
            channel = Channel({})
            walk.goto(channel, "from-110", did, 1)
            # run until the AudioSocket: the gateway then owns the call
            while not walk.audiosocket_calls:
                priority = dialplan[channel.context][channel.exten][channel.index]
                channel.index += 1
                walk.execute(channel, priority.app, priority.args)
            assert channel.context == "gateway-in"
            assert channel.variables["GW_CITY"] == code
            assert channel.variables["GW_110_DIAL"] == dial_110


def test_gateway_in_announces_a_fresh_uuid_then_connects_guarded(dialplan, globals_):
    channel, walk = inbound_call(dialplan, globals_, "0791110", audiosocket_status="FAILED")
    apps = [app for context, _, app in walk.trace if context == "gateway-in"]
    assert apps.index("Answer") < apps.index("UserEvent") < apps.index("TryExec")
    call_id = channel.variables["GW_UUID"]
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-a[0-9a-f]{3}-[0-9a-f]{12}", call_id)
    assert str(uuid.UUID(call_id)) == call_id
    name, fields = channel.user_events[0]
    assert name == "GatewayCallStart"
    assert fields == {"Uuid": call_id, "City": "nanchang"}
    [[audiosocket_uuid, service]] = walk.audiosocket_calls
    assert audiosocket_uuid == call_id and service == globals_["GW_AUDIOSOCKET"]
    assert channel.absolute_timeout == "0"  # the budget was cleared on the way to 110


def test_audiosocket_is_never_run_unguarded(dialplan):
    for context, extens in dialplan.items():
        for priorities in extens.values():
            for priority in priorities:
                assert priority.app != "AudioSocket", f"unguarded AudioSocket in {context}"
                if priority.app == "TryExec" and split_app(priority.args)[0] == "AudioSocket":
                    assert context == "gateway-in"


@pytest.mark.parametrize(
    "status", ["FAILED", "SUCCESS", "NOAPP"], ids=["refused-or-crashed", "hangup-frame", "no-app"]
)
def test_gateway_failure_sends_the_caller_to_the_citys_110(dialplan, globals_, status):
    channel, _ = inbound_call(dialplan, globals_, "0792110", audiosocket_status=status)
    shipped = dial_110(load_settings(DEFAULT_CONFIG), "jiujiang-110", {})
    assert [d.dest for d in channel.dials] == [shipped]
    assert channel.variables["GW_ROUTE_REASON"] == "gateway-failsafe"
    assert channel.variables["GW_FAILSAFE_DETAIL"] == f"audiosocket-{status}"


def test_a_lease_the_gateway_stopped_renewing_takes_the_caller_to_110(
    dialplan, globals_, settings: Settings
):
    # the dialplan's first lease and the gateway's renewals are the same length
    assert float(globals_["GW_LEASE"]) == settings.audiosocket.lease <= 5
    walk = walker(dialplan, globals_)
    channel = walk.run(
        Channel({"GW_110_DIAL": "PJSIP/110@jian-110"}), "gateway-in", "T", max_steps=50
    )
    assert channel.variables["GW_ROUTE_REASON"] == "gateway-timeout"
    assert channel.variables["GW_IVR_OVER"] == "1"
    assert [d.dest for d in channel.dials] == ["PJSIP/110@jian-110"]


@pytest.mark.parametrize("route", ROUTES_WITH_TRUNKS)
def test_a_redirect_after_the_fail_safe_is_never_a_diversion(dialplan, globals_, route):
    """A gateway that woke up after its lease ran out sends its Redirect anyway."""
    late = {**HANDOFF, "GW_DEST": f"PJSIP/x@nanchang-{route}", "GW_IVR_OVER": "1"}
    channel, _ = redirected_call(dialplan, globals_, route, late)
    assert [d.dest for d in channel.dials] == ["PJSIP/110@nanchang-110"]
    assert channel.variables["GW_ROUTE_REASON"] == "late-redirect-refused"


def test_unknown_did_still_reaches_110(dialplan, globals_, settings: Settings):
    first = next(iter(settings.cities.values()))
    channel, walk = inbound_call(dialplan, globals_, "+8679999999")
    assert not walk.audiosocket_calls
    assert channel.variables["GW_ROUTE_REASON"] == "unknown-did"
    assert [d.dest for d in channel.dials] == [dial_110(settings, first.destinations["110"], {})]


# ------------------------------------------------------------------ route contexts

HANDOFF = {
    "GW_TICKET": "JX-20261129-000042",
    "GW_CATEGORY": "move_car",
    "GW_CONFIDENCE": "0.91",
    "GW_TRANSCRIPT": "%E6%8C%A1%E8%BD%A6",
    "GW_ROUTE_REASON": "triage",
}


@pytest.mark.parametrize("route", ROUTES_WITH_TRUNKS)
def test_route_dials_the_destination_with_ticket_headers(dialplan, globals_, route):
    dest = f"PJSIP/{route}@nanchang-{route}"
    channel, _ = redirected_call(
        dialplan, globals_, route, {**HANDOFF, "GW_ROUTE": route, "GW_DEST": dest}
    )
    [attempt] = channel.dials
    assert attempt.dest == dest and attempt.timeout == globals_["GW_DEST_RING"]
    assert attempt.headers == {
        "X-GW-Route": route,
        "X-GW-Ticket": "JX-20261129-000042",
        "X-GW-Category": "move_car",
        "X-GW-Route-Reason": "triage",
    }
    assert channel.hung_up and channel.absolute_timeout == "0"


@pytest.mark.parametrize("route", ROUTES_WITH_TRUNKS)
@pytest.mark.parametrize("status", ["BUSY", "NOANSWER", "CONGESTION", "CHANUNAVAIL", ""])
def test_route_falls_back_to_110_with_the_ticket_when_not_answered(
    dialplan, globals_, route, status
):
    dest = f"PJSIP/{route}@ganzhou-{route}"
    channel, _ = redirected_call(
        dialplan,
        globals_,
        route,
        {**HANDOFF, "GW_DEST": dest, "GW_110_DIAL": "PJSIP/110@ganzhou-110"},
        dial=lambda d: status if d == dest else "ANSWER",
    )
    assert [d.dest for d in channel.dials] == [dest, "PJSIP/110@ganzhou-110"]
    assert channel.variables["GW_ROUTE_REASON"] == f"trunk-{status}"
    to_110 = channel.dials[1]
    assert to_110.headers["X-GW-Ticket"] == "JX-20261129-000042"
    assert to_110.headers["X-GW-Route"] == "110"
    assert to_110.headers["X-GW-Route-Reason"] == f"trunk-{status}"


@pytest.mark.parametrize("route", ROUTES_WITH_TRUNKS)
def test_route_without_a_destination_goes_to_110(dialplan, globals_, route):
    channel, _ = redirected_call(dialplan, globals_, route, dict(HANDOFF))
    assert [d.dest for d in channel.dials] == ["PJSIP/110@nanchang-110"]
    assert channel.variables["GW_ROUTE_REASON"] == "trunk-NODEST"


def test_every_route_context_has_a_budget_exit_to_110(dialplan):
    for route in ("110", *ROUTES_WITH_TRUNKS):
        [priority] = dialplan[f"route-{route}"]["T"]
        assert (priority.app, priority.args) == ("Goto", "route-110,s,1")


def test_110_is_never_dropped_it_retries_until_answered(dialplan, globals_):
    attempts: list[str] = []

    def nobody_answers_for_a_while(dest: str) -> str:
        attempts.append(dest)
        return "ANSWER" if len(attempts) > 12 else "NOANSWER"

    channel, _ = redirected_call(
        dialplan,
        globals_,
        "110",
        {"GW_ROUTE_REASON": "gateway-failsafe"},
        dial=nobody_answers_for_a_while,
    )
    assert len(channel.dials) == 13 and channel.dials[-1].dest == "PJSIP/110@nanchang-110"
    rounds = [f for name, f in channel.user_events if name == "Gateway110Attempt"]
    assert [r["Attempt"] for r in rounds] == [str(n) for n in range(1, 14)]
    assert "X-GW-Ticket" not in channel.dials[0].headers  # empty ticket: header left out


def test_110_loop_never_ends_on_its_own(dialplan, globals_):
    walk = walker(dialplan, globals_, dial=lambda dest: "CHANUNAVAIL")
    channel = walk.run(
        Channel({"GW_110_DIAL": "PJSIP/110@xinyu-110"}), "route-110", "s", max_steps=2000
    )
    assert not channel.hung_up and len(channel.dials) > 50


def test_110_tries_the_backup_destination_each_round(dialplan, globals_):
    with_backup = {**globals_, "GW_110_BACKUP_DIAL": "PJSIP/110@province-110"}
    channel, _ = redirected_call(
        dialplan,
        with_backup,
        "110",
        {},
        dial=lambda dest: "ANSWER" if dest.endswith("province-110") else "BUSY",
    )
    assert [d.dest for d in channel.dials] == ["PJSIP/110@nanchang-110", "PJSIP/110@province-110"]


def test_110_without_a_city_dial_string_uses_the_default(dialplan, globals_, settings):
    walk = walker(dialplan, globals_)
    channel = walk.run(Channel({}), "route-110", "s", max_steps=100)
    assert [d.dest for d in channel.dials] == [dial_110(settings, "nanchang-110", {})]


# ------------------------------------------------------------------ survey


@pytest.mark.parametrize(
    ("digits", "result"),
    [("1", "satisfied"), ("2", "unsatisfied"), ("", "no-input"), ("7", "no-input")],
)
def test_survey_reports_the_pressed_key(dialplan, globals_, digits, result):
    walk = walker(dialplan, globals_, read_digits=digits)
    channel = walk.run(Channel({"GW_TICKET": "JX-1"}), "survey", "s", max_steps=100)
    [(name, fields)] = channel.user_events
    assert name == "SurveyResult" and fields["Ticket"] == "JX-1" and fields["Result"] == result


def test_survey_dial_calls_the_citizen_through_the_outbound_trunk(dialplan, globals_):
    walk = walker(dialplan, globals_)
    channel = walk.run(Channel({}), "survey-dial", "13800138000", max_steps=20)
    endpoint = globals_["GW_OUTBOUND_ENDPOINT"]
    assert [d.dest for d in channel.dials] == [f"PJSIP/13800138000@{endpoint}"]


# ------------------------------------------------------------------ AMI, stasis, core


@pytest.fixture(scope="module")
def ami_user():
    manager = parse_conf(ASTERISK / "manager.conf")
    [user] = manager.named("gateway")
    return user


def classes(value: str | None) -> set[str]:
    return {c.strip() for c in (value or "").split(",") if c.strip()}


def test_ami_user_can_do_what_the_gateway_needs_and_nothing_more(ami_user):
    write = classes(ami_user.value("write"))
    # Redirect/Setvar/Getvar/Hangup/PlayDTMF: call; Originate: originate; UserEvent: user;
    # CoreShowChannels: system|reporting.
    assert {"call", "originate", "user"} <= write
    assert write & {"reporting", "system"}
    assert not write & {"system", "command", "config", "all", "agent", "message"}


def test_ami_user_reads_every_event_class_the_gateway_uses(ami_user, transcripts: Path):
    used = {
        "Newchannel",
        "Newstate",
        "Newexten",
        "VarSet",
        "DialBegin",
        "DialEnd",
        "BridgeEnter",
        "BridgeLeave",
        "DTMFBegin",
        "DTMFEnd",
        "Hangup",
        "UserEvent",
        "OriginateResponse",
        "FullyBooted",
    }
    seen: dict[str, str] = {}
    for path in transcripts.glob("*.ami.rx.txt"):
        event = None
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith("Event: "):
                event = line[7:].strip()
            elif line.startswith("Privilege: ") and event:
                seen[event] = line[11:].split(",")[0].strip()
    read = classes(ami_user.value("read"))
    for event in used:
        assert seen[event] in read, f"{event} needs read class {seen[event]}"
    assert "system" in read  # ContactStatus / PeerStatus: trunk health
    assert "reporting" not in read  # RTCPSent/RTCPReceived, one per packet
    assert "all" not in read


def test_ami_secret_is_not_in_the_repo_and_the_acl_is_closed(ami_user):
    assert ami_user.value("secret") is None
    manager_text = (ASTERISK / "manager.conf").read_text(encoding="utf-8")
    assert '#include "manager_gateway_secret.conf"' in manager_text
    assert ami_user.values("deny") == ["0.0.0.0/0.0.0.0"]
    assert ami_user.values("permit")


def test_chatty_events_are_kept_out_of_ami(ami_user):
    stasis = parse_conf(ASTERISK / "stasis.conf")
    [declined] = stasis.named("declined_message_types")
    assert set(declined.values("decline")) >= {
        "ast_rtp_rtcp_sent_type",
        "ast_rtp_rtcp_received_type",
    }
    excluded = {
        m.group(1)
        for key, _ in ami_user.items
        if (m := re.fullmatch(r"eventfilter\(action\(exclude\),name\((\w+)\)\)", key))
    }
    assert {"DeviceStateChange", "RTCPSent", "RTCPReceived"} <= excluded


def test_asterisk_sends_silence_and_requires_the_110_path_modules():
    [options] = parse_conf(ASTERISK / "asterisk.conf").named("options")
    assert options.value("transmit_silence") == "yes"
    [modules] = parse_conf(ASTERISK / "modules.conf").named("modules")
    assert {"res_pjsip.so", "chan_pjsip.so", "app_dial.so"} <= set(modules.values("require"))
    assert "app_audiosocket.so" not in modules.values("require")  # its absence → NOAPP → 110
