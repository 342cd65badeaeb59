# o2cb-ra: OCF agents and disk heartbeat for OCFS2's o2cb cluster.
# `make help` lists the targets.

SHELL       := /bin/bash
GO_SDK      := $(HOME)/sdk/go1.26.8/bin
export PATH := $(GO_SDK):/usr/local/go/bin:$(HOME)/go/bin:$(PATH)

PREFIX      ?= /usr
DESTDIR     ?=
BIN         := bin
FUZZTIME    ?= 10s
VERSION     ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS     := -s -w -X github.com/o2cb-ra/o2cb-ra/internal/version.Version=$(VERSION)
GOFLAGS_B   := -trimpath -ldflags '$(LDFLAGS)'

.PHONY: help deps build demo test check lint fuzz bench install clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 12

deps: ## install what building and testing need (Debian 12; apt as root)
	@bash scripts/deps.sh

build: ## build bin/o2cb-ra and bin/ocfs2_hb_ctl
	@mkdir -p $(BIN)
	go build $(GOFLAGS_B) -o $(BIN)/ ./cmd/...

demo: deps build ## the main job: three nodes heartbeating on file-backed volumes
	@bash scripts/demo.sh

test: ## run every test once (root tiers need root; CI=true makes skips fail)
	go test -count=1 -timeout 20m ./...

lint: ## gofmt, go vet and staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	go vet ./...
	staticcheck ./...

fuzz: ## run each fuzz target for FUZZTIME (default 10s)
	@bash scripts/fuzz.sh $(FUZZTIME)

check: deps lint build test fuzz ## the whole suite: the README's test command and CI's

bench: deps ## Go benchmarks of the engine
	go test -run '^$$' -bench . -benchmem ./internal/...

install: build ## install into DESTDIR/PREFIX
	install -d $(DESTDIR)$(PREFIX)/sbin
	install -m 0755 $(BIN)/o2cb-ra $(BIN)/ocfs2_hb_ctl $(DESTDIR)$(PREFIX)/sbin/

clean: ## remove build output
	rm -rf $(BIN)
