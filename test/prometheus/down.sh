#!/usr/bin/env bash
# Stops the Prometheus server up.sh started, by its saved PID (and only if that PID is still
# that server). --purge also removes its state directory.
#
# Environment: PROMETHEUS_PORT, PROMETHEUS_DIR as for up.sh.
set -euo pipefail
PORT=${PROMETHEUS_PORT:-19090}
DIR=${PROMETHEUS_DIR:-${TMPDIR:-/tmp}/tern-prometheus-$PORT}
pidfile="$DIR/prometheus.pid"
if pid=$(cat "$pidfile" 2>/dev/null) && [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null &&
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "--storage.tsdb.path=$DIR/data"; then
  kill "$pid"
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
  echo ">> prometheus (pid $pid) stopped" >&2
else
  echo ">> no prometheus running from $DIR" >&2
fi
rm -f "$pidfile"
if [ "${1:-}" = "--purge" ]; then rm -rf "$DIR"; fi
