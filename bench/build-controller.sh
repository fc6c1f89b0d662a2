#!/usr/bin/env bash
# Builds tern-controller for the benchmark: from the working tree, or from a git revision
# exported with git archive (the working tree and its other users are left alone), so that a
# run measures a known commit and two commits can be compared A/B.
#
# usage: bench/build-controller.sh OUT [REV]   (REV empty: the working tree)
set -euo pipefail
OUT=$1 REV=${2:-}
GO=${GO:-go}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mkdir -p "$(dirname "$OUT")"
OUT=$(cd "$(dirname "$OUT")" && pwd)/$(basename "$OUT")
if [ -z "$REV" ]; then
  version=$(git -C "$ROOT" describe --tags --always --dirty 2>/dev/null || echo v99.99.99+unknown)
  (cd "$ROOT" && $GO build -trimpath -ldflags "-X main.version=$version" -o "$OUT" ./cmd/tern-controller)
else
  # -trimpath: the export lands in a new directory each time; without it the build cache
  # would not recognise the packages and rebuild them all
  src=$(mktemp -d "${TMPDIR:-/tmp}/tern-bench-src.XXXXXX")
  trap 'rm -rf "$src"' EXIT
  git -C "$ROOT" archive "$REV" | tar -x -C "$src"
  version=$(git -C "$ROOT" describe --tags --always "$REV" 2>/dev/null || echo "$REV")
  (cd "$src" && $GO build -trimpath -ldflags "-X main.version=$version" -o "$OUT" ./cmd/tern-controller)
fi
echo "$OUT: tern-controller $version" >&2
