#!/usr/bin/env bash
# Build Asterisk 22.10.1 (bundled pjproject) for the test suite, once per machine.
#
# The real-Asterisk tests (tests/asterisk/) run this build with the shipped configs.
# It installs into a cache directory outside the work tree and is reused while the
# version and module list below are unchanged:
#
#   ${GATEWAY_CACHE:-${XDG_CACHE_HOME:-~/.cache}/hotline-gateway}/asterisk-22.10.1/
#
# Source, in this order:
#   1. $ASTERISK_TARBALL (and $PJPROJECT_TARBALL, else beside it), when set;
#   2. ../shared/asterisk/src/ beside the checkout, when present (machines without
#      network keep the two tarballs there);
#   3. the official download sites, each file checked against its published checksum.
# Build dependencies are Debian packages, installed when missing (root + apt-get).
# Prints the install prefix as its last line. About 3 minutes on 2 cores.
set -euo pipefail

VERSION=22.10.1
PJ_VERSION=2.17
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CACHE=${GATEWAY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hotline-gateway}
PREFIX=$CACHE/asterisk-$VERSION

# What modules.conf requires, what the dialplan runs, and what the tests' SIP peers need.
MODULES=(
  chan_pjsip
  res_pjsip res_pjsip_session res_pjsip_sdp_rtp res_pjsip_endpoint_identifier_ip
  res_pjsip_endpoint_identifier_user res_pjsip_header_funcs res_pjsip_caller_id
  res_pjsip_dtmf_info res_pjsip_nat res_pjsip_rfc3326 res_pjsip_authenticator_digest
  res_pjsip_outbound_authenticator_digest res_pjsip_logger res_pjsip_pubsub
  res_pjsip_outbound_registration res_pjsip_diversion res_pjsip_acl res_pjsip_path
  res_pjproject res_sorcery_config res_sorcery_memory res_sorcery_astdb
  res_rtp_asterisk res_audiosocket res_timing_timerfd res_http_websocket
  res_geolocation res_statsd res_agi res_speech
  app_audiosocket app_dial app_exec app_stack app_userevent app_playtones app_playback
  app_read app_verbose app_echo app_senddtmf app_originate app_waituntil
  func_strings func_channel func_sha1 func_rand func_timeout func_callerid func_logic
  func_global func_math func_pjsip_endpoint func_pjsip_contact func_pjsip_aor func_devstate
  func_uri func_cut
  pbx_config
  codec_ulaw codec_alaw
  format_wav format_pcm format_sln format_gsm
  bridge_simple bridge_native_rtp bridge_holding
)
STAMP_TEXT="asterisk $VERSION pjproject $PJ_VERSION modules ${MODULES[*]}"

if [ -x "$PREFIX/sbin/asterisk" ] && [ "$(cat "$PREFIX/.built" 2>/dev/null)" = "$STAMP_TEXT" ]; then
  echo "$PREFIX"
  exit 0
fi

say() { printf 'build-local: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

install_deps() {
  local pkgs=(build-essential libjansson-dev libxml2-dev libsqlite3-dev libedit-dev uuid-dev
              libssl-dev libxslt1-dev pkg-config bzip2 patch)
  local missing=()
  for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing build dependencies: ${missing[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    die "missing Debian packages (install them as root): ${missing[*]}"
  fi
}

# Puts the two tarballs into $1 (the externals cache pjproject's bundled build reads).
find_sources() {
  local dest=$1 ast pj shared=$ROOT/../shared/asterisk/src
  if [ -n "${ASTERISK_TARBALL:-}" ]; then
    ast=$ASTERISK_TARBALL
    pj=${PJPROJECT_TARBALL:-$(dirname "$ast")/pjproject-$PJ_VERSION.tar.bz2}
  elif [ -f "$shared/asterisk-$VERSION.tar.gz" ]; then
    ast=$shared/asterisk-$VERSION.tar.gz
    pj=$shared/pjproject-$PJ_VERSION.tar.bz2
    (cd "$shared" && sha256sum --quiet -c SHA256SUMS) || die "checksums in $shared do not match"
  else
    say "downloading Asterisk $VERSION and pjproject $PJ_VERSION"
    local base=https://downloads.asterisk.org/pub/telephony/asterisk/releases
    curl -fsSL -o "$dest/asterisk-$VERSION.tar.gz" "$base/asterisk-$VERSION.tar.gz" \
      || die "no ASTERISK_TARBALL, no ../shared/asterisk/src and the download failed"
    curl -fsSL -o "$dest/asterisk.sha256" "$base/asterisk-$VERSION.sha256"
    (cd "$dest" && sha256sum --quiet -c asterisk.sha256) || die "Asterisk checksum mismatch"
    ast=$dest/asterisk-$VERSION.tar.gz
    pj=""  # configure fetches it and checks the md5 shipped in the Asterisk tree
  fi
  [ -f "$ast" ] || die "Asterisk tarball not found: $ast"
  [ "$ast" -ef "$dest/asterisk-$VERSION.tar.gz" ] || cp "$ast" "$dest/asterisk-$VERSION.tar.gz"
  if [ -n "$pj" ]; then
    [ -f "$pj" ] || die "pjproject tarball not found: $pj"
    cp "$pj" "$dest/pjproject-$PJ_VERSION.tar.bz2"
  fi
}

install_deps
mkdir -p "$CACHE"
WORK=$(mktemp -d "$CACHE/build.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
find_sources "$WORK"
say "building Asterisk $VERSION into $PREFIX (log: $CACHE/build.log)"
{
  tar -xzf "$WORK/asterisk-$VERSION.tar.gz" -C "$WORK"
  cd "$WORK/asterisk-$VERSION"
  ./configure --prefix="$PREFIX" --with-pjproject-bundled --with-externals-cache="$WORK" \
    --without-dahdi --without-pri --without-ss7 --without-openr2 --without-gtk2 \
    --without-jack --without-postgres --without-unixodbc --without-radius --without-speex \
    --without-srtp --without-ogg --without-vorbis --without-iksemel --without-neon \
    --without-lua --without-x11 --without-sdl --without-spandsp
  make menuselect.makeopts
  menuselect/menuselect --disable-all --disable BUILD_NATIVE \
    $(printf -- '--enable %s ' "${MODULES[@]}") menuselect.makeopts
  make -j"$(nproc)"
  rm -rf "$PREFIX"
  make install
} >"$CACHE/build.log" 2>&1 || { tail -n 40 "$CACHE/build.log" >&2; die "build failed (full log: $CACHE/build.log)"; }

for m in "${MODULES[@]}"; do
  [ -f "$PREFIX/lib/asterisk/modules/$m.so" ] || die "module $m was not built (see $CACHE/build.log)"
done
echo "$STAMP_TEXT" >"$PREFIX/.built"
say "done"
echo "$PREFIX"
