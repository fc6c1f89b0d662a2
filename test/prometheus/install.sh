#!/usr/bin/env bash
# Installs the Prometheus server binary of Debian's `prometheus` package into
# ~/.cache/tern/prometheus-<version>/ WITHOUT installing the package (no service, no users,
# no JavaScript dependencies): apt-get download + dpkg-deb -x. Idempotent: once a binary is
# there, the script prints its path and exits at once.
#
# Prints the path of the prometheus binary on stdout (messages go to stderr).
#
# Environment:
#   CACHE_DIR            default $HOME/.cache/tern
#   PROMETHEUS_VERSION   a Debian version to pin (default: whatever is cached, else the candidate)
set -euo pipefail
CACHE_DIR=${CACHE_DIR:-$HOME/.cache/tern}
say() { echo ">> $*" >&2; }
die() { echo "install.sh: $*" >&2; exit 1; }

cached() {
  local pattern="$CACHE_DIR/prometheus-${PROMETHEUS_VERSION:-*}/usr/bin/prometheus" f
  for f in $pattern; do
    [ -x "$f" ] && { echo "$f"; return 0; }
  done
  return 1
}
if bin=$(cached); then echo "$bin"; exit 0; fi

command -v apt-get >/dev/null || die "apt-get not found: this script needs a Debian-like system"
candidate() { apt-cache policy prometheus 2>/dev/null | awk '/Candidate:/ {print $2}'; }
version=${PROMETHEUS_VERSION:-$(candidate)}
if [ -z "$version" ] || [ "$version" = "(none)" ]; then
  say "package prometheus unknown to apt: running apt-get update"
  apt-get update -qq >&2 || die "apt-get update failed"
  version=${PROMETHEUS_VERSION:-$(candidate)}
fi
[ -n "$version" ] && [ "$version" != "(none)" ] || die "no prometheus package available from apt"

dest="$CACHE_DIR/prometheus-$version"
work=$(mktemp -d "${TMPDIR:-/tmp}/tern-prometheus-dl.XXXXXX")
trap 'rm -rf "$work"' EXIT
say "downloading prometheus $version (apt-get download, not installed)"
# apt drops privileges to _apt for downloads; that user must be able to write the directory.
chmod 0777 "$work"
(cd "$work" && apt-get download -q "prometheus=$version" >&2) || die "apt-get download prometheus=$version failed"
deb=$(ls "$work"/prometheus_*.deb 2>/dev/null | head -1)
[ -n "$deb" ] || die "no .deb downloaded"
mkdir -p "$work/root"
dpkg-deb -x "$deb" "$work/root"
[ -x "$work/root/usr/bin/prometheus" ] || die "the package holds no usr/bin/prometheus"
mkdir -p "$CACHE_DIR"
rm -rf "$dest.tmp"
mv "$work/root" "$dest.tmp"
rm -rf "$dest"
mv "$dest.tmp" "$dest"
say "prometheus $version in $dest"
echo "$dest/usr/bin/prometheus"
