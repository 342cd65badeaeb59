#!/usr/bin/env bash
# Builds the Debian package o2cb-ra_<version>_<arch>.deb into OUTDIR (default
# the current directory) with dpkg-deb, reproducibly: the same commit gives
# the same bytes. The binaries are static (CGO_ENABLED=0); every date in the
# package is the commit's (SOURCE_DATE_EPOCH); the man pages come from the
# programs' declarations (internal/manpage/mangen).
#
# The package never ships a file ocfs2-tools owns: /sbin/ocfs2_hb_ctl and
# /usr/sbin/ocfs2_hb_ctl stay theirs. The kernel's umount call reaches our
# ocfs2_hb_ctl through /proc/sys/fs/ocfs2/nm/hb_ctl_path, which the o2cb
# agent's kernel backend sets.
#
#   scripts/deb.sh [OUTDIR]      prints the package's path
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/toolchain.sh

out=$(realpath -m "${1:-.}")
mkdir -p "$out"

# The version: the tag vX.Y.Z a commit has, else 0~git<commit time>.<hash>,
# which sorts before any release; +dirty for uncommitted changes.
base=$(git describe --tags --exact-match --match 'v[0-9]*' 2> /dev/null | sed 's/^v//' || true)
epoch=$(git log -1 --format=%ct)
if [ -z "$base" ]; then
	base="0~git$(date -u -d "@$epoch" +%Y%m%d%H%M%S).$(git rev-parse --short=7 HEAD)"
fi
if [ -n "$(git status --porcelain --untracked-files=no)" ]; then
	base="$base+dirty"
fi
version=$base
arch=$(go env GOARCH)
export SOURCE_DATE_EPOCH=$epoch

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
root=$stage/root
lib=$root/usr/lib/o2cb-ra
install -d "$lib" "$root/usr/sbin" "$root/usr/lib/ocf/resource.d/ocfs2" "$root/usr/share/o2cb-ra" \
	"$root/usr/share/man/man7" "$root/usr/share/man/man8" "$root/usr/lib/tmpfiles.d" \
	"$root/usr/share/doc/o2cb-ra" "$root/usr/share/lintian/overrides" "$root/DEBIAN"

CGO_ENABLED=0 go build -trimpath -tags urfave_cli_no_docs \
	-ldflags "-s -w -buildid= -X github.com/o2cb-ra/o2cb-ra/internal/version.Version=$version" \
	-o "$stage/bin/" ./cmd/...
install -m 0755 "$stage/bin/o2cb-ra" "$stage/bin/ocfs2_hb_ctl" "$lib/"
ln -s ../lib/o2cb-ra/o2cb-ra "$root/usr/sbin/o2cb-ra"
for a in o2cb hbregion; do
	ln -s ../../../o2cb-ra/o2cb-ra "$root/usr/lib/ocf/resource.d/ocfs2/$a"
	"$stage/bin/o2cb-ra" agent "$a" meta-data > "$root/usr/share/o2cb-ra/$a.xml"
done
go run ./internal/manpage/mangen -out "$stage/man" -version "$version" > /dev/null
for p in "$stage"/man/*; do
	s=${p##*.}
	gzip -9nc "$p" > "$root/usr/share/man/man$s/$(basename "$p").gz"
done
# The heartbeat daemon's run directory, as the agents make it.
printf 'd /run/o2cb 0700 root root -\n' > "$root/usr/lib/tmpfiles.d/o2cb-ra.conf"

doc=$root/usr/share/doc/o2cb-ra
gzip -9nc README.md > "$doc/README.md.gz"
{
	echo "o2cb-ra ($version) unstable; urgency=medium"
	echo
	echo "  * Built from commit $(git rev-parse HEAD)."
	echo
	echo " -- o2cb-ra developers <o2cb-ra@users.noreply.github.com>  $(date -u -R -d "@$epoch")"
} | gzip -9n > "$doc/changelog.gz"
scripts/deb-copyright.sh "$stage/bin/o2cb-ra" "$stage/bin/ocfs2_hb_ctl" > "$doc/copyright"

# Go programs are static by design: lintian exempts them when a source
# package build-depends on Debian's Go, which this build from the module
# proxy has not.
for b in o2cb-ra ocfs2_hb_ctl; do
	echo "o2cb-ra: statically-linked-binary [usr/lib/o2cb-ra/$b]"
done > "$root/usr/share/lintian/overrides/o2cb-ra"

for s in postinst prerm postrm; do
	install -m 0755 "scripts/deb/$s" "$root/DEBIAN/$s"
done
size=$(du -sk --apparent-size --exclude=DEBIAN "$root" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" scripts/deb/control > "$root/DEBIAN/control"
(cd "$root" && find usr -type f -print0 | LC_ALL=C sort -z | xargs -0 md5sum > DEBIAN/md5sums)
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/md5sums"

# Every file as root's, dated at the commit, in the same order.
find "$root" -exec touch -h -d "@$epoch" {} +
deb=$out/o2cb-ra_${version}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" > /dev/null
echo "$deb"
