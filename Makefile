# upgrader — the two commands the README promises:
#   make demo   local Temporal dev server + Web UI, the worker, a demo upgrade
#   make test   every check and every test (what .ci/run runs)

SHELL := /bin/bash
export UPGRADER_CACHE ?= $(HOME)/.cache/upgrader
TOOLS := scripts/build-tools.sh
GO_TEST_FLAGS ?= -count=1 -timeout 45m
# make test's short fuzz run, by executions (a time bound stalls the fuzz workers on a busy 2-core machine)
FUZZ_EXECS ?= 3000x

.PHONY: all build demo demo-choerodon test lint unit integration bench fuzz tools clean chaos

all: build

build:
	go build -o bin/worker ./worker
	go build -o bin/starter ./starter

tools:
	$(TOOLS) temporal staticcheck workflowcheck

## demo: run the demo upgrade locally; the Web UI is at http://127.0.0.1:8233
demo: build
	$(TOOLS) temporal >/dev/null
	@if [[ "$(DEMO_FLAGS)" == *choerodon* || "$(DEMO_FLAGS)" == *skoala* ]]; then scripts/install-test-deps.sh && $(TOOLS) kube-apiserver kube-controller-manager >/dev/null; fi
	@if [[ "$(DEMO_FLAGS)" == *blueking* ]]; then scripts/install-test-deps.sh && $(TOOLS) ferretdb yq >/dev/null; fi
	@if [[ "$(DEMO_FLAGS)" == *wecube* ]]; then scripts/install-test-deps.sh; fi
	bin/starter demo $(DEMO_FLAGS)

## demo-choerodon: the real Choerodon 0.21 → 0.22 guide against the Kubernetes lab
## (etcd, kube-apiserver, kube-controller-manager, simulated pods, MariaDB); installs and builds what it needs once
demo-choerodon:
	$(MAKE) demo DEMO_FLAGS="--guide choerodon-0.21-0.22 $(DEMO_FLAGS)"

## lint: go vet, staticcheck, and Temporal's determinism checker
lint:
	go vet ./...
	$$($(TOOLS) staticcheck) ./...
	$$($(TOOLS) workflowcheck) ./...
	@test -z "$$(gofmt -l . | grep -v '^tools/')" || { echo "gofmt needed:"; gofmt -l .; exit 1; }

## test: lint, then every test (unit, workflow, integration against real servers)
test: lint
	$(TOOLS) temporal ferretdb kube-apiserver kube-controller-manager >/dev/null
	go test $(GO_TEST_FLAGS) ./...
	go test -run '^$$' -fuzz FuzzUpgradeConfig -fuzztime $(FUZZ_EXECS) ./workflows
	go test -run '^$$' -fuzz FuzzSplitSQL -fuzztime $(FUZZ_EXECS) ./activities
	go test -run '^$$' -fuzz FuzzTemplateValuesAreData -fuzztime $(FUZZ_EXECS) ./activities
	go test -run '^$$' -fuzz FuzzScrub -fuzztime $(FUZZ_EXECS) ./config
	go test -run '^$$' -fuzz FuzzWorkerConfig -fuzztime $(FUZZ_EXECS) ./config

## chaos: the full kill sweep — every guide with the worker SIGKILLed at each step (during and right
## after it) and the dev server SIGKILLed mid-run — then Choerodon 0.8 → 0.9 on a production-shaped
## Temporal (server v1.29.1 on PostgreSQL, 4 shards, one process per service) through a rolling restart.
## make test runs a seeded sample of the sweep on every guide: 3 worker kills and the server kill each
## (UPGRADER_CHAOS_SEED picks another; UPGRADER_CHAOS_GUIDES=a,b only those guides).
chaos:
	scripts/install-test-deps.sh
	$(TOOLS) temporal temporal-server kube-apiserver kube-controller-manager >/dev/null
	set -o pipefail; UPGRADER_CHAOS=full go test -count=1 -timeout 120m -v -run 'TestChaos' ./tests/integration | grep -v '^=== \(RUN\|PAUSE\|CONT\)'

## fuzz: the upgrade-config fuzzer, longer than make test's short run
fuzz:
	go test -run '^$$' -fuzz FuzzUpgradeConfig -fuzztime $(or $(FUZZTIME),200000x) ./workflows

## bench: speed and memory of the engine on a real dev server and the lab; ends with one table
bench:
	$(TOOLS) temporal kube-apiserver kube-controller-manager >/dev/null
	set -o pipefail; go test -run '^$$' -bench . -benchmem -timeout 60m ./... | scripts/bench-table.sh

clean:
	rm -rf bin
