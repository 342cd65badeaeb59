#!/usr/bin/env bash
# Installs what building and testing o2cb-ra needs on Debian 12, as root:
# Debian packages (ocfs2-tools and friends), a Go toolchain when the machine
# has none recent enough, and staticcheck. Safe to run again: it installs
# only what is missing.
set -euo pipefail
# GO_WANT, GO_TOOLCHAIN, GO_SDK, STATICCHECK and PATH.
. "$(dirname "$0")/toolchain.sh"

# resource-agents (ocf-tester, ra-api-1.dtd), pacemaker-cli-utils (crm_resource,
# cibadmin; it pulls in pacemaker), pcs and crmsh: the agents' tests against
# Pacemaker's tools. --no-install-recommends is enough for pcs and crm to run.
# gcc and libc6-dev: go test -race needs cgo (make unit). groff-base, man-db,
# mandoc and lintian: the manual pages and the Debian package (make deb).
# strace and linux-perf: make bench's syscall counts and CPU breakdown.
PACKAGES=(ocfs2-tools kmod util-linux libxml2-utils strace linux-perf e2fsprogs
	resource-agents pacemaker-cli-utils pcs crmsh make jq gcc libc6-dev
	groff-base man-db mandoc lintian)

need=()
for p in "${PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "deps: missing packages ${need[*]}; run as root (apt-get install ${need[*]})" >&2
		exit 1
	fi
	echo "deps: installing ${need[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# Go: the machine's own if recent enough, else Debian's go fetches a newer
# toolchain from the module proxy (the golang.org/toolchain module).
go_ok() {
	command -v go >/dev/null 2>&1 || return 1
	local v
	v=$(go env GOVERSION 2>/dev/null | sed 's/^go//') || return 1
	[ "$(printf '%s\n%s\n' "$GO_WANT" "$v" | sort -V | head -1)" = "$GO_WANT" ]
}
if ! go_ok; then
	if ! command -v go >/dev/null 2>&1; then
		echo "deps: installing Debian's golang-go to bootstrap $GO_TOOLCHAIN"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq golang-go >/dev/null
	fi
	mod="golang.org/toolchain@v0.0.1-$GO_TOOLCHAIN.linux-$(dpkg --print-architecture)"
	dir=$(cd /tmp && GOFLAGS=-mod=mod GOTOOLCHAIN=local go mod download -json "$mod" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
	mkdir -p "$HOME/sdk"
	ln -sfn "$dir" "$HOME/sdk/$GO_TOOLCHAIN"
	hash -r # GO_SDK leads PATH already: forget where go was found before
	chmod +x "$dir"/bin/* "$dir"/pkg/tool/*/* 2>/dev/null || true
	go_ok || { echo "deps: could not provide Go >= $GO_WANT" >&2; exit 1; }
	echo "deps: using $(go version) from $HOME/sdk/$GO_TOOLCHAIN"
fi

if ! command -v staticcheck >/dev/null 2>&1 && [ ! -x "$(go env GOPATH)/bin/staticcheck" ]; then
	echo "deps: installing staticcheck"
	(cd /tmp && GOTOOLCHAIN=local go install "$STATICCHECK")
fi

# promtool, to check `o2cb-ra metrics`: taken out of Debian's prometheus
# package into the tests' cache, without installing the package (which
# would start a Prometheus server on the machine).
PROMTOOL=/var/cache/o2cb-ra-tests/bin/promtool
if [ ! -x "$PROMTOOL" ] && ! command -v promtool >/dev/null 2>&1; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "deps: promtool missing; run as root to fetch it into $PROMTOOL" >&2
		exit 1
	fi
	echo "deps: fetching promtool from Debian's prometheus package into $PROMTOOL"
	tmp=$(mktemp -d)
	(cd "$tmp" && apt-get download prometheus >/dev/null 2>&1 ||
		{ apt-get update -qq && apt-get download prometheus >/dev/null; })
	mkdir -p "$(dirname "$PROMTOOL")"
	dpkg-deb --fsys-tarfile "$tmp"/prometheus_*.deb | tar -x -O ./usr/bin/promtool > "$PROMTOOL.new"
	chmod 0755 "$PROMTOOL.new"
	mv "$PROMTOOL.new" "$PROMTOOL"
	rm -rf "$tmp"
fi
