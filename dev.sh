#!/usr/bin/env bash
# Set-up and entry points. Each command creates .venv on first use (needs only python3).
#   ./dev.sh demo    the gateway against the embedded PBX double, scripted calls
#   ./dev.sh test    lint, type check and the whole test suite (what CI runs)
#   ./dev.sh bench   every benchmark, printed as tables
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

cmd=${1:-help}
shift || true
case "$cmd" in
  demo)
    bootstrap
    exec "$VENV/bin/gateway" demo "$@"
    ;;
  test)
    bootstrap
    "$VENV/bin/ruff" check gateway ivr tests bench
    "$VENV/bin/ruff" format --check gateway ivr tests bench
    "$VENV/bin/mypy"
    exec "$VENV/bin/pytest" -q "$@"
    ;;
  bench)
    bootstrap
    exec "$VENV/bin/python" -m bench "$@"
    ;;
  *)
    echo "usage: ./dev.sh demo|test|bench" >&2
    exit 2
    ;;
esac
