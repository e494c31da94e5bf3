#!/usr/bin/env python3
"""Generate the per-city Asterisk config from configs/gateway.yaml, so they never disagree.

Writes (next to this script, both committed):

- ``pjsip_trunks.conf``       one endpoint + aor + identify per trunk in gateway.yaml
- ``extensions_cities.conf``  ``[from-110]``: one extension per city DID, plus catch-alls

Usage::

    .venv/bin/python docker/asterisk/gen_trunks.py                # rewrite both files
    .venv/bin/python docker/asterisk/gen_trunks.py --check        # exit 1 if out of date
    .venv/bin/python docker/asterisk/gen_trunks.py --addresses docker/asterisk/trunk-addresses.yaml

``--addresses`` names a YAML map ``<trunk name>: <host>[:<port>]`` with the real far ends.
Trunks not in it get a placeholder from 192.0.2.0/24 (TEST-NET-1, RFC 5737: never routed),
so an unfilled trunk fails to connect and the dialplan falls back to 110 instead of
calling a stranger.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT))

from gateway.asterisk_trunks import render_extensions, render_pjsip  # noqa: E402
from gateway.configfile import read_yaml  # noqa: E402
from gateway.settings import load_settings  # noqa: E402

PJSIP_OUT = HERE / "pjsip_trunks.conf"
EXTENSIONS_OUT = HERE / "extensions_cities.conf"


def render_all(config: Path, addresses_file: Path | None) -> dict[Path, str]:
    settings = load_settings(config)
    addresses: dict[str, str] = {}
    if addresses_file is not None:
        raw, _ = read_yaml(addresses_file)
        raw = raw or {}
        unknown = sorted(set(raw) - set(settings.trunks))
        if unknown:
            raise SystemExit(f"{addresses_file}: unknown trunks {', '.join(unknown)}")
        addresses = {str(k): str(v) for k, v in raw.items()}
    return {
        PJSIP_OUT: render_pjsip(settings, addresses),
        EXTENSIONS_OUT: render_extensions(settings, addresses),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "gateway.yaml")
    parser.add_argument("--addresses", type=Path, default=None)
    parser.add_argument("--check", action="store_true", help="exit 1 if the files are stale")
    args = parser.parse_args(argv)
    rendered = render_all(args.config, args.addresses)
    stale = [p for p, text in rendered.items() if not p.exists() or p.read_text() != text]
    if args.check:
        for path in stale:
            print(f"{path.relative_to(ROOT)} is out of date: run {Path(__file__).name}")
        return 1 if stale else 0
    for path, text in rendered.items():
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
