# o2cb-ra: OCF agents and disk heartbeat for OCFS2's o2cb cluster.
# `make help` lists the targets.

SHELL       := /bin/bash
# scripts/toolchain.sh pins the Go toolchain and PATH for the scripts; the
# targets here get the same PATH from it.
TOOLCHAIN   := $(dir $(abspath $(lastword $(MAKEFILE_LIST))))scripts/toolchain.sh
export PATH := $(shell . '$(TOOLCHAIN)' && printf %s "$$PATH")

PREFIX      ?= /usr
DESTDIR     ?=
# OCF_ROOT is /usr/lib/ocf for every Pacemaker, whatever PREFIX is.
OCF_PROVIDER_DIR := /usr/lib/ocf/resource.d/ocfs2
# The kernel runs /sbin/ocfs2_hb_ctl when a volume is unmounted.
KERNEL_HB_CTL    := /sbin/ocfs2_hb_ctl
AGENTS           := o2cb hbregion
# The binaries live together, so that the agents find our layout driver
# beside o2cb-ra whatever ocfs2-tools installs in sbin.
LIBEXEC          := $(PREFIX)/lib/o2cb-ra
# Our binaries carry the module path; another program of the same name does not.
MODULE           := github.com/o2cb-ra/o2cb-ra
BIN         := bin
FUZZSCALE   ?= 1
VERSION     ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS     := -s -w -X github.com/o2cb-ra/o2cb-ra/internal/version.Version=$(VERSION)
# urfave_cli_no_docs: leave out the CLI's man and markdown generators (and
# their init work): every agent action starts faster.
GOFLAGS_B   := -trimpath -tags urfave_cli_no_docs -ldflags '$(LDFLAGS)'

.PHONY: help deps build demo unit test ha-test fault-test check lint fuzz bench install uninstall deb clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 12

deps: ## install what building and testing need (Debian 12; apt as root)
	@bash scripts/deps.sh

# Static, as the package's and the guests' are: without the dynamic loader
# and libc every agent action starts 0.3 ms sooner (make bench).
build: ## build bin/o2cb-ra and bin/ocfs2_hb_ctl
	@mkdir -p $(BIN)
	CGO_ENABLED=0 go build $(GOFLAGS_B) -o $(BIN)/ ./cmd/...

demo: deps build ## the main job: three nodes heartbeating on file-backed volumes
	@bash scripts/demo.sh

unit: ## the quick tier: hermetic Go tests with -race -short, as any user, without ocfs2-tools
	go test -race -short -count=1 $$(go list ./... | grep -v /ha-tests/)

test: ## run every Go test once, ha-tests aside (root tiers need root; CI=true makes skips fail)
	go test -count=1 -timeout 20m $$(go list ./... | grep -v /ha-tests/)

ha-test: build ## real Pacemaker clusters, the Linux kernel as a peer and its own o2cb stack, the fault suite (root; downloads packages)
	@bash scripts/ha-test.sh

fault-test: ## the fault suite alone (root): faulty devices, corrupt slots, crashes, hostile input; writes FAULTS.md
	@bash ha-tests/faults/run.sh

lint: ## gofmt, go vet and staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	go vet ./...
	staticcheck ./...

fuzz: ## run each fuzz target for its execution budget (FUZZSCALE=N multiplies them)
	@bash scripts/fuzz.sh $(FUZZSCALE)

check: deps lint build test fuzz ha-test ## the whole suite: the README's test command and CI's

bench: deps build ## Go benchmarks of the engine, then the targets of the design measured with real daemons (root): BENCHMARKS.md
	go test -run '^$$' -bench . -benchmem ./internal/...
	go run ./bench -bin $(BIN) -out BENCHMARKS.md

install: build ## install into DESTDIR/PREFIX: PREFIX/lib/o2cb-ra, sbin links, the OCF provider ocfs2, meta-data
	install -d $(DESTDIR)$(LIBEXEC) $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(OCF_PROVIDER_DIR) $(DESTDIR)$(PREFIX)/share/o2cb-ra
	install -m 0755 $(BIN)/o2cb-ra $(BIN)/ocfs2_hb_ctl $(DESTDIR)$(LIBEXEC)/
	ln -sfr $(DESTDIR)$(LIBEXEC)/o2cb-ra $(DESTDIR)$(PREFIX)/sbin/o2cb-ra
	@set -e; dst='$(DESTDIR)$(PREFIX)/sbin/ocfs2_hb_ctl'; \
	if { [ -e "$$dst" ] || [ -L "$$dst" ]; } && ! grep -qsF '$(MODULE)' "$$dst"; then \
		echo "install: NOTE: leaving $$dst alone: it is not ours$$($(call owner,$(PREFIX)/sbin/ocfs2_hb_ctl)); the agents use $(LIBEXEC)/ocfs2_hb_ctl"; \
	else \
		echo "ln -sfr $(DESTDIR)$(LIBEXEC)/ocfs2_hb_ctl $$dst"; ln -sfr '$(DESTDIR)$(LIBEXEC)/ocfs2_hb_ctl' "$$dst"; \
	fi
	@set -e; for a in $(AGENTS); do \
		echo "ln -sfr $(DESTDIR)$(LIBEXEC)/o2cb-ra $(DESTDIR)$(OCF_PROVIDER_DIR)/$$a"; \
		ln -sfr $(DESTDIR)$(LIBEXEC)/o2cb-ra $(DESTDIR)$(OCF_PROVIDER_DIR)/$$a; \
		echo "$(BIN)/o2cb-ra agent $$a meta-data > $(DESTDIR)$(PREFIX)/share/o2cb-ra/$$a.xml"; \
		$(BIN)/o2cb-ra agent $$a meta-data > $(BIN)/$$a.xml; \
		install -m 0644 $(BIN)/$$a.xml $(DESTDIR)$(PREFIX)/share/o2cb-ra/$$a.xml; \
	done
	@set -e; ours='$(DESTDIR)$(LIBEXEC)/ocfs2_hb_ctl'; dst='$(DESTDIR)$(KERNEL_HB_CTL)'; \
	if [ "$$dst" -ef "$$ours" ]; then \
		:; \
	elif [ -e "$$dst" ] || [ -L "$$dst" ]; then \
		echo "install: NOTE: leaving $$dst alone: it is not ours$$($(call owner,$(KERNEL_HB_CTL))); the kernel runs it at umount"; \
	else \
		install -d "$$(dirname "$$dst")"; \
		echo "ln -sr $$ours $$dst"; ln -sr "$$ours" "$$dst"; \
	fi

# owner,PATH: ", owned by package P" when dpkg knows PATH, or its alias on a
# merged-/usr system (/sbin/x is /usr/sbin/x); only without DESTDIR: dpkg
# knows nothing of an image.
owner = [ -z '$(DESTDIR)' ] && command -v dpkg-query >/dev/null || exit 0; \
	for f in '$(1)' '$(1:/usr/%=/%)' '/usr$(1)'; do \
		[ "$$f" -ef '$(1)' ] && p=$$(dpkg-query -S "$$f" 2>/dev/null | cut -d: -f1) && [ -n "$$p" ] && { echo ", owned by package $$p"; break; }; \
	done; true

uninstall: ## remove what install installed (never another package's ocfs2_hb_ctl)
	@set -e; ours='$(DESTDIR)$(LIBEXEC)/ocfs2_hb_ctl'; \
	for l in '$(DESTDIR)$(KERNEL_HB_CTL)' '$(DESTDIR)$(PREFIX)/sbin/ocfs2_hb_ctl' '$(DESTDIR)$(PREFIX)/sbin/o2cb-ra' \
		$(patsubst %,'$(DESTDIR)$(OCF_PROVIDER_DIR)/%',$(AGENTS)); do \
		if [ -L "$$l" ] && case "$$(readlink -m "$$l")" in "$$(readlink -m '$(DESTDIR)$(LIBEXEC)')"/*) true;; *) false;; esac; then \
			echo "rm -f $$l"; rm -f "$$l"; \
		fi; \
	done
	rm -f $(DESTDIR)$(LIBEXEC)/o2cb-ra $(DESTDIR)$(LIBEXEC)/ocfs2_hb_ctl $(patsubst %,$(DESTDIR)$(PREFIX)/share/o2cb-ra/%.xml,$(AGENTS))
	@for d in $(DESTDIR)$(LIBEXEC) $(DESTDIR)$(OCF_PROVIDER_DIR) $(DESTDIR)$(PREFIX)/share/o2cb-ra; do \
		if [ -d "$$d" ] && rmdir "$$d" 2>/dev/null; then echo "rmdir $$d"; fi; \
	done

deb: deps ## build the Debian package bin/o2cb-ra_<version>_<arch>.deb (dpkg-deb; reproducible)
	@bash scripts/deb.sh $(BIN)

clean: ## remove build output
	rm -rf $(BIN)
