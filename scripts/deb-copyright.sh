#!/usr/bin/env bash
# Writes the Debian package's copyright file (DEP-5) for the Go binaries
# given: o2cb-ra's own stanza, then one for the Go standard library and one
# for each module linked into them, with the license text from the
# module's LICENSE file (go mod download fetches it when missing).
set -euo pipefail

license_name() { # $1: a license file
	if grep -q 'Permission is hereby granted, free of charge' "$1"; then
		echo Expat
	elif grep -q 'Apache License' "$1" && grep -q 'Version 2.0' "$1"; then
		echo Apache-2.0
	elif grep -q 'Redistribution and use in source and binary forms' "$1"; then
		if grep -qi 'neither the name' "$1"; then echo BSD-3-clause; else echo BSD-2-clause; fi
	else
		echo "deb-copyright: cannot tell the license of $1" >&2
		exit 1
	fi
}

# stanza FILES COPYRIGHT-FILE: a Files paragraph with the license text.
stanza() {
	local lic
	lic=$(license_name "$2")
	echo
	echo "Files: $1"
	printf 'Copyright: %s\n' "$(grep -m1 -i 'copyright' "$2" | sed 's/^[[:space:]]*//')"
	echo "License: $lic"
	sed -e 's/^[[:space:]]*$/./' -e 's/^/ /' "$2"
}

cat << 'HEAD'
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: o2cb-ra
Source: https://github.com/o2cb-ra/o2cb-ra
Comment: The programs in /usr/lib/o2cb-ra are statically linked Go
 binaries. The Go standard library and the Go modules they contain are
 listed after o2cb-ra's own stanza, each with its license.

Files: *
Copyright: the o2cb-ra developers
License: not-yet-licensed
 o2cb-ra has not been released under a license yet. Until its authors
 choose one, they reserve all rights.
HEAD

stanza "Go standard library (golang.org)" "$(go env GOROOT)/LICENSE"
go version -m "$@" | awk '$1 == "dep" { print $2 "@" $3 }' | sort -u | while read -r m; do
	dir=$(go mod download -json "$m" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
	lic=
	for f in LICENSE LICENSE.md LICENSE.txt COPYING; do
		[ -f "$dir/$f" ] && { lic=$dir/$f; break; }
	done
	[ -n "$lic" ] || { echo "deb-copyright: no license file in $m" >&2; exit 1; }
	stanza "${m%@*} (${m#*@})" "$lic"
done
