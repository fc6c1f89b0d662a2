#!/usr/bin/env bash
# Stop the cluster up.sh started, by the PIDs it saved in $STATE_DIR/pids (reverse start order;
# a PID is signalled only while it still runs that component's binary). Keeps STATE_DIR (certs,
# etcd data, logs), so the next up.sh finds the objects again, unless --purge is given.
#
# usage: down.sh [--purge]
# env:   STATE_DIR (default $HOME/.cache/tern/cluster)
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PURGE=0
case "${1:-}" in
  "") ;;
  --purge) PURGE=1 ;;
  *) echo "usage: down.sh [--purge]" >&2; exit 2 ;;
esac
# shellcheck source=lib.sh
. "$HERE/lib.sh"
if [ -d "$STATE_DIR/pids" ]; then
  # the API server's clients together, then the API server, then etcd; with --purge the data goes
  # anyway, so there is nothing to shut down gracefully
  SIG=TERM; [ "$PURGE" = 0 ] || SIG=KILL
  stop "$SIG" kwok kube-scheduler kube-controller-manager
  stop "$SIG" kube-apiserver
  stop "$SIG" etcd
fi
if [ "$PURGE" = 1 ] && [ -e "$STATE_DIR" ]; then
  # rm -rf only a directory that holds nothing but what up.sh puts there
  for f in "$STATE_DIR"/* "$STATE_DIR"/.[!.]*; do
    [ -e "$f" ] || continue
    case $(basename -- "$f") in
      pki|logs|pids|etcd|kubeconfig|kwok.yaml|cluster.env) ;;
      *) die "not purging $STATE_DIR: it holds $(basename -- "$f"), which up.sh did not create" ;;
    esac
  done
  rm -rf -- "$STATE_DIR"
  ts "removed $STATE_DIR"
fi
