# dockprobe — `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := build

GO        ?= go
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X github.com/dockprobe/dockprobe/internal/version.Version=$(VERSION)
# grpcnotrace: grpc's documented tag that leaves out golang.org/x/net/trace
# (and with it html/template): 3.2 MB of the probe's 12.3, never used by us.
GOTAGS    := grpcnotrace
BIN       := bin
BINS_DIR  := agent/internal/probeimage/bins
TOOLS     := $(CURDIR)/bin/tools
PROTOC_GEN_GO_VERSION      := v1.36.12
PROTOC_GEN_GO_GRPC_VERSION := v1.6.2
PROBE_ARCHES := amd64 arm64
CROSS     := windows/amd64 windows/arm64 darwin/amd64 darwin/arm64 linux/amd64 linux/arm64
GOFILES   := $(shell find . -name '*.go' -not -path './bin/*' 2>/dev/null)

.PHONY: help build probe agent cross image proto proto-check check vet deploy fmt-check test unit e2e e2e-k8s fuzz bench clean

help: ## list the targets
	@awk 'BEGIN{FS=":.*## "} /^[a-zA-Z0-9_-]+:.*## /{printf "  %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: agent ## build the probe (linux/amd64, linux/arm64) and the agent into bin/

probe: $(foreach a,$(PROBE_ARCHES),$(BIN)/probe-linux-$(a)) ## build the static probe binaries

$(BIN)/probe-linux-%: $(GOFILES) go.mod go.sum
	@mkdir -p $(BIN) $(BINS_DIR)
	CGO_ENABLED=0 GOOS=linux GOARCH=$* $(GO) build -trimpath -tags '$(GOTAGS)' -ldflags '$(LDFLAGS)' -o $@ ./probe/cmd/probe
	@# The digest is computed here so the agent never hashes 12 MB at run time
	@# (probeimage.Lookup). Both files are written to temporary names first and
	@# renamed, the digest last, so a concurrent build never sees a partial file.
	sha256sum $@ | cut -d' ' -f1 > $(BINS_DIR)/.probe-linux-$*.sha256.tmp
	cp $@ $(BINS_DIR)/.probe-linux-$*.tmp && mv -f $(BINS_DIR)/.probe-linux-$*.tmp $(BINS_DIR)/probe-linux-$*
	mv -f $(BINS_DIR)/.probe-linux-$*.sha256.tmp $(BINS_DIR)/probe-linux-$*.sha256

agent: probe ## build the agent for this machine (embeds the probes)
	CGO_ENABLED=0 $(GO) build -trimpath -tags '$(GOTAGS)' -ldflags '$(LDFLAGS)' -o $(BIN)/agent ./agent/cmd/agent

cross: probe ## build the agent for windows, darwin and linux (amd64, arm64) into bin/cross/
	@set -e; for p in $(CROSS); do os=$${p%/*}; arch=$${p#*/}; ext=; [ $$os = windows ] && ext=.exe; \
	  echo "  agent $$os/$$arch"; \
	  CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -tags '$(GOTAGS)' -ldflags '$(LDFLAGS)' -o $(BIN)/cross/agent-$$os-$$arch$$ext ./agent/cmd/agent; \
	done

image: probe ## build the publishable probe image with docker build (Dockerfile.probe)
	docker build -f Dockerfile.probe --build-arg VERSION=$(VERSION) \
	  --build-arg PROBE_SHA256=$$(sha256sum $(BIN)/probe-linux-amd64 | cut -d' ' -f1) -t dockprobe/probe:$(VERSION) .

$(TOOLS)/protoc-gen-go:
	GOBIN=$(TOOLS) $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)

$(TOOLS)/protoc-gen-go-grpc:
	GOBIN=$(TOOLS) $(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)

PROTOC_GEN = PATH=$(TOOLS):$$PATH protoc -I proto \
	  --go_out=paths=source_relative:$(1) --go-grpc_out=paths=source_relative:$(1) \
	  proto/probe/v1/probe.proto proto/probe/v1/watch.proto proto/probe/v1/cluster.proto

proto: $(TOOLS)/protoc-gen-go $(TOOLS)/protoc-gen-go-grpc ## regenerate the gRPC code from proto/ (needs protoc)
	$(call PROTOC_GEN,proto)

proto-check: $(TOOLS)/protoc-gen-go $(TOOLS)/protoc-gen-go-grpc ## fail when the committed generated code differs from proto/
	@tmp=$$(mktemp -d); trap 'rm -rf $$tmp' EXIT; \
	$(call PROTOC_GEN,$$tmp) && \
	for f in $$(cd $$tmp && find . -name '*.pb.go'); do \
	  diff -u proto/$$f $$tmp/$$f || { echo "generated code is stale: run 'make proto' and commit"; exit 1; }; \
	done; echo "generated code is up to date"

vet: probe ## go vet for linux, windows and darwin
	$(GO) vet ./...
	GOOS=windows $(GO) vet ./agent/... ./proto/... ./internal/...
	GOOS=darwin $(GO) vet ./agent/... ./proto/... ./internal/...

deploy: ## regenerate deploy/kubernetes from the code that builds the pod and the roles (agent/internal/kube)
	$(GO) test -count=1 -run '^TestDeployManifests$$' ./agent/internal/kube -update

fmt-check: ## fail on unformatted Go files
	@out=$$(gofmt -l $$(git ls-files '*.go')); [ -z "$$out" ] || { echo "gofmt needed:"; echo "$$out"; exit 1; }

unit: probe ## unit tests (root-only ones run when root)
	$(GO) test -race -count=1 $$($(GO) list ./... | grep -v /e2e)

# Two engines (Debian's Docker 20.10 and today's, DOCKPROBE_ENGINE_BIN or
# e2e/tools/install-engine.sh): every Docker test runs once on each.
e2e: agent ## end-to-end tests on two real LinuxKit-shaped engines (needs root, docker.io, containerd)
	DOCKPROBE_E2E=1 $(GO) test -count=1 -v -timeout 50m $$($(GO) list ./e2e/... | grep -v /e2e/k8s)

# --- Kubernetes e2e (e2e/k8s): a real two-node cluster, one at a time with
# the engine e2e on 2 cores. Binaries: e2e/k8s/install-k8s.sh and
# e2e/tools/install-engine.sh (cached; .ci/run installs them). -p 1: every
# package under e2e/k8s/ shares the one cluster, and each takes it down at its end.
e2e-k8s: agent ## end-to-end tests against a real two-node Kubernetes cluster (needs root; e2e/k8s/)
	DOCKPROBE_E2E=1 $(GO) test -p 1 -count=1 -v -timeout 20m ./e2e/k8s/...
# --- end Kubernetes e2e

test: unit e2e e2e-k8s ## unit and end-to-end tests

# A finding (a failing input, written under testdata/fuzz) fails at once
# with the fuzzer's output. A failure of the fuzzing engine itself (a
# worker that died, with no failing input) is shown and retried once.
# FUZZTIME is a duration (10s) or a count of executions (20000x). CI uses a
# count: with a duration, Go 1.26's fuzz coordinator can report its own
# deadline as a failure ("context deadline exceeded", no input written;
# golang/go#75804, fixed in Go 1.27), and on a loaded machine that hit 3 of
# 22 targets in one run.
fuzz: probe ## run every fuzz target for a short budget (FUZZTIME: a duration or Nx, default 10s)
	@set -e; log=$$(mktemp); trap 'rm -f $$log' EXIT; \
	for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list 'Fuzz.*' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "  $$pkg $$f"; \
	    run() { $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $${FUZZTIME:-10s} $$pkg >$$log 2>&1; }; \
	    if ! run; then \
	      if grep -q 'Failing input written' $$log; then grep -v '^fuzz: elapsed' $$log | tail -40; exit 1; fi; \
	      echo "    the fuzzing engine failed without a finding; retrying once:"; grep -v '^fuzz: elapsed' $$log | tail -8 | sed 's/^/    /'; \
	      run || { grep -v '^fuzz: elapsed' $$log | tail -40; exit 1; }; \
	    fi; \
	  done; done

bench: agent ## benchmark on Docker 20.10, today's engine and a two-node Kubernetes cluster, write docs/benchmarks.md (root; slow; BENCHFLAGS='-only kubernetes' for (k) alone)
	@# dpbare (the bare-client bound) must carry the agent's version: the probe image tag is derived from it.
	CGO_ENABLED=0 $(GO) build -trimpath -tags '$(GOTAGS)' -ldflags '$(LDFLAGS)' -o $(BIN)/dpbare ./agent/cmd/dpbare
	@# Today's engine comes from its installer (cached after the first build, ~12 minutes on 2 cores); the
	@# cluster's nodes run its containerd, and e2e/k8s/cluster.sh builds Kubernetes the same way when not cached.
	@# BENCHFLAGS='-only kubernetes -k8s-rounds 8' measures (k) alone and merges its section into the file.
	ENGINE_BIN=$$(e2e/tools/install-engine.sh) && export ENGINE_BIN && \
	$(GO) run ./bench/cmd/dpbench -agent $(BIN)/agent -bare $(BIN)/dpbare -current-bin "$$ENGINE_BIN" -out docs/benchmarks.md $(BENCHFLAGS)

check: fmt-check vet proto-check test cross ## everything CI runs: format, vet, proto drift, tests, cross build

clean: ## remove build outputs
	rm -rf $(BIN) $(BINS_DIR)/probe-linux-*

# ---- Windows, executed under Wine (issue 14; e2e/windows/) ----------------
# The Windows agent runs for real under Debian's Wine against the suite's own
# LinuxKit-shaped engine; windows/arm64 is only compiled (make cross) and vetted.
.PHONY: e2e-windows vet-windows
WIN_AGENT := $(BIN)/cross/agent-windows-amd64.exe

e2e-windows: agent ## run the Windows agent under Wine: pipe, contexts, TLS, JSON, settings, kills, Ctrl-C, colour (root, wine)
	CGO_ENABLED=0 GOOS=windows GOARCH=amd64 $(GO) build -trimpath -tags '$(GOTAGS)' -ldflags '$(LDFLAGS)' -o $(WIN_AGENT) ./agent/cmd/agent
	DOCKPROBE_E2E_WINDOWS=1 DOCKPROBE_AGENT_WINDOWS=$(CURDIR)/$(WIN_AGENT) $(GO) test -count=1 -v -timeout 20m ./e2e/windows/

vet-windows: probe ## go vet for windows/arm64 and the Wine helpers
	GOOS=windows GOARCH=arm64 $(GO) vet ./agent/... ./proto/... ./internal/...
	GOOS=windows $(GO) vet ./e2e/windows/...

test: e2e-windows
vet: vet-windows
# ---- end of the Windows block ----------------------------------------------
