# Sourced by the suites that boot Debian's kernel under qemu.
# guest_tools_needed prints the packages missing for building and booting
# the guests (qemu, a static busybox, cpio, xz). kernel_deb
# points O2CB_TEST_KERNEL_DEB at the linux-image package to boot, unless
# it is set, downloading it once into /var/cache/o2cb-ra-tests (never into
# the repository). $1 names the suite in messages.
KERNEL_CACHE=/var/cache/o2cb-ra-tests

guest_tools_needed() {
	need=
	command -v qemu-system-x86_64 > /dev/null || need="$need qemu-system-x86"
	[ -x /bin/busybox ] && /bin/busybox --list 2> /dev/null | grep -qx insmod || need="$need busybox-static"
	command -v cpio > /dev/null || need="$need cpio"
	command -v xz > /dev/null || need="$need xz-utils"
	echo "$need"
}

kernel_deb() {
	if [ -z "${O2CB_TEST_KERNEL_DEB:-}" ]; then
		# The kernel the archive's linux-image-amd64 metapackage points at,
		# else the newest linux-image-6.1.0-N-amd64 it offers.
		pkg=$(apt-cache depends linux-image-amd64 2> /dev/null |
			sed -n 's/^ *Depends: \(linux-image-6\.1\.0-[0-9]*-amd64\)$/\1/p' | head -n 1)
		if [ -z "$pkg" ]; then
			pkg=$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64$' |
				awk '{print $1}' | sort -t- -k4,4n | tail -n 1)
		fi
		if [ -n "$pkg" ]; then
			mkdir -p "$KERNEL_CACHE"
			deb=$(ls "$KERNEL_CACHE/${pkg}_"*.deb 2> /dev/null | tail -n 1 || true)
			if [ -z "$deb" ]; then
				echo "$1: downloading $pkg into $KERNEL_CACHE"
				log=$(mktemp)
				(cd "$KERNEL_CACHE" && apt-get download "$pkg" > "$log" 2>&1) || {
					cat "$log" >&2
					echo "$1: apt-get download $pkg failed" >&2
				}
				rm -f "$log"
				deb=$(ls "$KERNEL_CACHE/${pkg}_"*.deb 2> /dev/null | tail -n 1 || true)
			fi
			[ -n "$deb" ] && export O2CB_TEST_KERNEL_DEB="$deb"
		else
			echo "$1: the archive offers no linux-image-6.1.0-*-amd64 (apt-get update?)" >&2
		fi
	fi
	echo "$1: kernel package ${O2CB_TEST_KERNEL_DEB:-(none)}"
}
