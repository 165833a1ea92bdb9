#!/usr/bin/env bash
# Builds the pinned tool binaries once into a cache outside the repo, keyed on
# version, and prints each binary's path. Safe to run again: a binary that is
# already there is reused, so a warm CI spends no time here.
#
#   scripts/build-tools.sh temporal staticcheck workflowcheck
#
# Cache: $UPGRADER_CACHE (default ~/.cache/upgrader)/bin/<tool>-<version>.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cache=${UPGRADER_CACHE:-$HOME/.cache/upgrader}
mkdir -p "$cache/bin"

temporal_version=1.5.1          # Server 1.29.1, UI 2.42.1; newer CLIs do not build from the module proxy
staticcheck_version=v0.8.2
workflowcheck_version=v0.6.0
kube_version=v1.34.4            # kube-apiserver for the lab (tests/kube/go.mod)
temporal_server_version=v1.29.1 # the server docker-compose.yml pins and the CLI above embeds (tools/go.mod)
ferretdb_version=v1.24.0        # a MongoDB wire-protocol server (SQLite backend) for tests: no mongod here
yq_version=v4.44.3              # mikefarah/yq, the one BlueKing's JOB 6.2 ships as bin/yq (the BlueKing lab)

# install_pkg NAME VERSION PACKAGE: go install PACKAGE@VERSION into the cache.
install_pkg() {
  local name=$1 version=$2 pkg=$3 out="$cache/bin/$1-$2"
  if [ ! -x "$out" ]; then
    echo "building $name $version (one time) -> $out" >&2
    local tmp; tmp=$(mktemp -d)
    GOFLAGS= GOBIN="$tmp" go install "$pkg@$version"
    mv "$tmp/$(basename "$pkg")" "$out"
    rm -rf "$tmp"
  fi
  echo "$out"
}

build_temporal() {
  local out="$cache/bin/temporal-$temporal_version"
  if [ ! -x "$out" ]; then
    # Its own module (tools/go.mod): the SDK's newer go.temporal.io/api in the
    # product's go.mod breaks the CLI's server build.
    echo "building Temporal CLI $temporal_version (one time, ~13 min on 2 cores) -> $out" >&2
    (cd "$here/tools" && GOFLAGS=-mod=mod go build -trimpath -o "$out.tmp" \
        -ldflags "-s -w -X github.com/temporalio/cli/temporalcli.Version=$temporal_version" \
        github.com/temporalio/cli/cmd/temporal)
    mv "$out.tmp" "$out"
  fi
  echo "$out"
}

build_temporal_server() {
  # The real server (frontend, history, matching, worker services) and its
  # SQL schema tool, from the same module as the CLI (tools/go.mod), so the
  # Go build cache the CLI left is mostly reused. Used by make chaos's
  # production-shaped cluster on PostgreSQL (internal/lab/temporal_cluster.go).
  local out="$cache/bin/temporal-server-$temporal_server_version" sqltool="$cache/bin/temporal-sql-tool-$temporal_server_version"
  if [ ! -x "$out" ] || [ ! -x "$sqltool" ]; then
    echo "building Temporal server $temporal_server_version and temporal-sql-tool (one time) -> $out" >&2
    (cd "$here/tools" && GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w" -o "$out.tmp" go.temporal.io/server/cmd/server &&
      GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w" -o "$sqltool.tmp" go.temporal.io/server/cmd/tools/sql)
    mv "$out.tmp" "$out"
    mv "$sqltool.tmp" "$sqltool"
  fi
  echo "$out"
}

build_ferretdb() {
  local out="$cache/bin/ferretdb-$ferretdb_version"
  if [ ! -x "$out" ]; then
    # From its pinned module (tools/ferretdb/go.mod), see tools/ferretdb/main.go.
    echo "building FerretDB $ferretdb_version (one time, ~2 min) -> $out" >&2
    (cd "$here/tools/ferretdb" && GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w" -o "$out.tmp" \
        .)
    mv "$out.tmp" "$out"
  fi
  echo "$out"
}

build_kube_apiserver() {
  local out="$cache/bin/kube-apiserver-$kube_version"
  if [ ! -x "$out" ]; then
    # k8s.io/kubernetes at $kube_version with every staging module replaced
    # by its published v0 twin (tests/kube/go.mod); ~10-15 min cold on 2 cores.
    echo "building kube-apiserver $kube_version (one time, ~10-15 min on 2 cores) -> $out" >&2
    (cd "$here/tests/kube" && GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w" -o "$out.tmp" ./cmd/kube-apiserver)
    mv "$out.tmp" "$out"
  fi
  echo "$out"
}

build_kube_controller_manager() {
  local out="$cache/bin/kube-controller-manager-$kube_version"
  if [ ! -x "$out" ]; then
    # Same module as kube-apiserver (tests/kube/go.mod): the lab runs its real
    # Deployment, ReplicaSet, Job and garbage-collector controllers. Measured
    # on 2 cores: 50 s after kube-apiserver (shared build cache), 211 s with
    # an empty build cache (modules already downloaded).
    echo "building kube-controller-manager $kube_version (one time) -> $out" >&2
    (cd "$here/tests/kube" && GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w" -o "$out.tmp" ./cmd/kube-controller-manager)
    mv "$out.tmp" "$out"
  fi
  echo "$out"
}

build_yq() {
  local out="$cache/bin/yq-$yq_version"
  if [ ! -x "$out" ]; then
    echo "building yq $yq_version (one time, ~1 min) -> $out" >&2
    local tmp; tmp=$(mktemp -d)
    GOFLAGS= CGO_ENABLED=0 GOBIN="$tmp" go install -trimpath -ldflags "-s -w" "github.com/mikefarah/yq/v4@$yq_version"
    mv "$tmp/yq" "$out"
    rm -rf "$tmp"
  fi
  echo "$out"
}

[ $# -gt 0 ] || set -- temporal staticcheck workflowcheck ferretdb yq kube-apiserver kube-controller-manager
for t in "$@"; do
  case "$t" in
    temporal) build_temporal ;;
    staticcheck) install_pkg staticcheck "$staticcheck_version" honnef.co/go/tools/cmd/staticcheck ;;
    workflowcheck) install_pkg workflowcheck "$workflowcheck_version" go.temporal.io/sdk/contrib/tools/workflowcheck ;;
    temporal-server) build_temporal_server ;;
    ferretdb) build_ferretdb ;;
    yq) build_yq ;;
    kube-apiserver) build_kube_apiserver ;;
    kube-controller-manager) build_kube_controller_manager ;;
    *) echo "unknown tool $t (known: temporal temporal-server staticcheck workflowcheck ferretdb yq kube-apiserver kube-controller-manager)" >&2; exit 2 ;;
  esac
done
