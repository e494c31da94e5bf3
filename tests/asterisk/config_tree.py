"""The shipped docker/asterisk configs, made runnable on loopback for one test Asterisk.

Only three kinds of thing change, each by a named rewrite that must match exactly once
(a shipped file that changes shape breaks the harness loudly, never silently):

- addresses: every bind, contact, match and the gateway's AudioSocket address become
  127.0.0.1 with a port of this test run; trunks are generated with an addresses map
  (``gen_trunks.py --addresses``), as an engineer deploys them;
- directories: asterisk.conf gains a [directories] section inside a temp directory;
- secrets: the AMI user's secret file that the container entrypoint would write.

Before Asterisk starts, :func:`assert_loopback_only` refuses a tree that still holds a
non-loopback address or a host name where an address belongs (nothing may leave the host).
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from gateway.asterisk_trunks import render_extensions, render_pjsip
from gateway.settings import DEFAULT_CONFIG, PROJECT_ROOT, load_settings

SHIPPED = PROJECT_ROOT / "docker" / "asterisk"
SHIPPED_FILES = sorted(p.name for p in SHIPPED.glob("*.conf"))


@dataclass(frozen=True)
class Ports:
    sip: int
    ami: int
    rtp_start: int
    rtp_end: int
    audiosocket: int  # where the gateway listens (dialplan GW_AUDIOSOCKET)


@dataclass
class TreeSpec:
    """What a test run changes; everything else is the shipped file."""

    ports: Ports
    trunk_addresses: dict[str, str]  # trunk name -> "127.0.0.1:<port>"
    carrier_address: str  # where callers come from and survey calls go
    ami_secret: str
    build: Path  # the install prefix of docker/asterisk/build-local.sh
    globals_: dict[str, str] = field(default_factory=dict)  # extra [globals] overrides


def _replace_once(text: str, pattern: str, replacement: str, where: str) -> str:
    new, count = re.subn(pattern, replacement, text, count=0, flags=re.MULTILINE)
    if count != 1:
        raise AssertionError(f"{where}: expected one match of {pattern!r}, found {count}")
    return new


def render(spec: TreeSpec, dest: Path) -> Path:
    """Write the config tree into ``dest/etc`` (with run dirs beside it); returns the
    path of asterisk.conf to pass to ``asterisk -C``."""
    etc = dest / "etc"
    etc.mkdir(parents=True)
    for name in SHIPPED_FILES:
        shutil.copy(SHIPPED / name, etc / name)
    settings = load_settings(DEFAULT_CONFIG)
    trunks = render_pjsip(settings, spec.trunk_addresses)
    (etc / "pjsip_trunks.conf").write_text(_match_ports(trunks, spec.trunk_addresses))
    (etc / "extensions_cities.conf").write_text(render_extensions(settings, spec.trunk_addresses))
    _rewrite(etc / "pjsip.conf", _pjsip(spec))
    _rewrite(etc / "manager.conf", _manager(spec))
    _rewrite(etc / "rtp.conf", _rtp(spec))
    _rewrite(etc / "extensions.conf", _extensions(spec))
    (etc / "manager_gateway_secret.conf").write_text(f"secret = {spec.ami_secret}\n")
    with (etc / "asterisk.conf").open("a") as conf:
        conf.write(_directories(dest, spec.build))
    assert_loopback_only(etc)
    return etc / "asterisk.conf"


Rewrite = list[tuple[str, str]]


def _match_ports(text: str, addresses: dict[str, str]) -> str:
    """Every peer is on 127.0.0.1 here, so an identify must match the port too (a real
    deployment tells trunks apart by address alone)."""
    for trunk, address in addresses.items():
        text = _replace_once(
            text,
            rf"^(endpoint = {re.escape(trunk)}\nmatch = )127\.0\.0\.1$",
            rf"\g<1>{address}",
            f"pjsip_trunks.conf [{trunk}]",
        )
    return text


def _rewrite(path: Path, rewrites: Rewrite) -> None:
    text = path.read_text()
    for pattern, replacement in rewrites:
        text = _replace_once(text, pattern, replacement, path.name)
    path.write_text(text)


def _pjsip(spec: TreeSpec) -> Rewrite:
    sip = f"127.0.0.1:{spec.ports.sip}"
    carrier = spec.carrier_address
    return [
        (r"^(protocol = udp\nbind = )0\.0\.0\.0:5060$", rf"\g<1>{sip}"),
        (r"^(protocol = tcp\nbind = )0\.0\.0\.0:5060$", rf"\g<1>{sip}"),
        (r"^contact = sip:198\.51\.100\.10\b", f"contact = sip:{carrier}"),
        # callers come from many SIPp processes (many ports): the carrier is matched by
        # address alone; the trunks' identify sections match their port as well
        (r"^match = 198\.51\.100\.10\b", "match = 127.0.0.1"),
    ]


def _manager(spec: TreeSpec) -> Rewrite:
    return [
        (r"^port = 5038\b", f"port = {spec.ports.ami}"),
        (r"^bindaddr = 0\.0\.0\.0\b", "bindaddr = 127.0.0.1"),
    ]


def _rtp(spec: TreeSpec) -> Rewrite:
    return [
        (r"^rtpstart = \d+", f"rtpstart = {spec.ports.rtp_start}"),
        (r"^rtpend = \d+", f"rtpend = {spec.ports.rtp_end}"),
    ]


def _extensions(spec: TreeSpec) -> Rewrite:
    rewrites = [
        (
            r"^GW_AUDIOSOCKET = 127\.0\.0\.1:9092$",
            f"GW_AUDIOSOCKET = 127.0.0.1:{spec.ports.audiosocket}",
        )
    ]
    for name, value in spec.globals_.items():
        rewrites.append((rf"^{re.escape(name)} = .*$", f"{name} = {value}"))
    return rewrites


def _directories(dest: Path, build: Path) -> str:
    shared = {"astmoddir", "astdatadir"}  # the build's modules, XML docs and sounds
    dirs = {
        "astetcdir": dest / "etc",
        "astmoddir": build / "lib" / "asterisk" / "modules",
        "astvarlibdir": dest / "lib",
        "astdbdir": dest / "lib",
        "astkeydir": dest / "lib",
        "astdatadir": build / "var" / "lib" / "asterisk",
        "astagidir": dest / "lib" / "agi-bin",
        "astspooldir": dest / "spool",
        "astrundir": dest / "run",
        "astlogdir": dest / "log",
    }
    for key, path in dirs.items():
        if key not in shared:
            path.mkdir(parents=True, exist_ok=True)
    lines = "\n".join(f"{key} => {path}" for key, path in dirs.items())
    note = "; written by the test harness: everything of this run lives in one temp dir"
    return f"\n{note}\n[directories]\n{lines}\n"


_IPV4 = re.compile(r"(?<![\d.])(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?![\d.])")
_ADDRESS_KEYS = re.compile(
    r"^\s*(bind|contact|match|bindaddr|external_\w+|outbound_proxy|server_uri|client_uri"
    r"|GW_AUDIOSOCKET)\s*=>?\s*(.+)$",
    re.IGNORECASE,
)
_NETMASKS = {"255.255.255.255", "0.0.0.0"}


def _strip_comment(line: str) -> str:
    return line.split(";", 1)[0]


def assert_loopback_only(etc: Path) -> None:
    """Refuse a tree with any address off 127.0.0.0/8, or a host name where an address is
    configured (a name would need DNS). ACL lines (deny/permit) may name 0.0.0.0/masks."""
    problems: list[str] = []
    for path in sorted(etc.glob("*.conf")):
        for number, raw in enumerate(path.read_text().splitlines(), 1):
            line = _strip_comment(raw)
            is_acl = re.match(r"^\s*(deny|permit)\s*=", line)
            for match in _IPV4.finditer(line):
                address = match.group(0)
                if address.startswith("127."):
                    continue
                if is_acl and address in _NETMASKS:
                    continue
                problems.append(f"{path.name}:{number}: non-loopback address {address}")
            keyed = _ADDRESS_KEYS.match(line)
            if keyed:
                value = keyed.group(2).strip()
                host = re.sub(r"^sips?:([^@]*@)?", "", value).split(";")[0]
                host = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
                if host and not _IPV4.fullmatch(host) and not host.startswith("["):
                    problems.append(f"{path.name}:{number}: host name {host!r} needs DNS")
    if problems:
        raise AssertionError("refusing to start Asterisk:\n" + "\n".join(problems))
