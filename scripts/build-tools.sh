#!/usr/bin/env bash
# Builds the pinned tool binaries once into a cache outside the repo, keyed on
# version, and prints nothing but what it does. Safe to run again: a binary
# that is already there is reused.
#
#   scripts/build-tools.sh temporal     -> $UPGRADER_CACHE/bin/temporal-<ver>
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cache=${UPGRADER_CACHE:-$HOME/.cache/upgrader}
mkdir -p "$cache/bin"

temporal_version=1.5.1

build_temporal() {
  local out="$cache/bin/temporal-$temporal_version"
  if [ -x "$out" ]; then echo "$out"; return; fi
  echo "building Temporal CLI $temporal_version (one time, ~13 min on 2 cores) -> $out" >&2
  (cd "$here/tools" && go build -trimpath -o "$out.tmp" \
      -ldflags "-s -w -X github.com/temporalio/cli/temporalcli.Version=$temporal_version" \
      github.com/temporalio/cli/cmd/temporal)
  mv "$out.tmp" "$out"
  echo "$out"
}

for t in "$@"; do
  case "$t" in
    temporal) build_temporal ;;
    *) echo "unknown tool $t (known: temporal)" >&2; exit 2 ;;
  esac
done
