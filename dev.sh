#!/usr/bin/env bash
# Set-up and entry points. Each command creates .venv on first use (needs only python3).
#   ./dev.sh demo    the gateway against the embedded PBX double, scripted calls
#   ./dev.sh test    lint, type check and the whole test suite (what CI runs)
#   ./dev.sh bench   every benchmark, printed as tables
#   ./dev.sh asterisk  build Asterisk 22 for the real-Asterisk tests (once per machine)
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
VENV=.venv

bootstrap() {
  local stamp=$VENV/.installed
  if [ ! -x "$VENV/bin/python" ]; then
    if ! "$PY" -m venv "$VENV" 2>/dev/null; then
      # Debian ships venv separately (python3-venv); install it when we may
      rm -rf "$VENV"
      if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
        "$PY" -m venv "$VENV"
      else
        echo "python3 -m venv failed: install python3-venv (Debian) and run again" >&2
        exit 1
      fi
    fi
  fi
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    "$VENV/bin/python" -m pip install -q --upgrade pip
    "$VENV/bin/python" -m pip install -q -e '.[test]'
    touch "$stamp"
  fi
}

# Asterisk 22 (built once per machine into a cache outside the tree) and SIPp, for the
# tests that run the shipped configs on a real Asterisk. CI (CI=true) must have them:
# a failure there stops the run. Elsewhere they are built when the sources are at hand
# (ASTERISK_TARBALL, or ../shared/asterisk/src), else those tests skip with a hint.
real_asterisk() {
  local required=${1:-}
  if [ -z "$required" ] && [ -z "${ASTERISK_TARBALL:-}" ] && [ ! -d ../shared/asterisk/src ] \
     && [ -z "${ASTERISK_PREFIX:-}" ]; then
    return 0
  fi
  if ! command -v sipp >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq sip-tester >/dev/null
    fi
  fi
  if [ -n "${ASTERISK_PREFIX:-}" ]; then
    return 0
  fi
  if ! docker/asterisk/build-local.sh >/dev/null; then
    [ -n "$required" ] && { echo "dev.sh: Asterisk could not be built (see above)" >&2; exit 1; }
    echo "dev.sh: Asterisk not built; the real-Asterisk tests will skip" >&2
  fi
  if [ -n "$required" ] && ! command -v sipp >/dev/null; then
    echo "dev.sh: sipp (Debian sip-tester) is missing and could not be installed" >&2
    exit 1
  fi
}

cmd=${1:-help}
shift || true
case "$cmd" in
  demo)
    bootstrap
    exec "$VENV/bin/gateway" demo "$@"
    ;;
  test)
    bootstrap
    if [ -n "${CI:-}" ]; then real_asterisk required; else real_asterisk; fi
    "$VENV/bin/ruff" check gateway ivr tests bench
    "$VENV/bin/ruff" format --check gateway ivr tests bench
    "$VENV/bin/mypy"
    exec "$VENV/bin/pytest" -q "$@"
    ;;
  bench)
    bootstrap
    exec "$VENV/bin/python" -m bench "$@"
    ;;
  asterisk)
    real_asterisk required
    ;;
  *)
    echo "usage: ./dev.sh demo|test|bench|asterisk" >&2
    exit 2
    ;;
esac
