# The toolchain every script and the Makefile build with, in one place.
# Source it (POSIX sh, bash or dash):
#
#	. scripts/toolchain.sh
#
# It sets GO_WANT (the oldest Go that builds the module, go.mod's),
# GO_TOOLCHAIN (the toolchain scripts/deps.sh fetches from the Go module
# proxy when the machine has none recent enough), GO_SDK (where deps.sh
# puts it) and STATICCHECK, and puts GO_SDK, /usr/local/go/bin and
# $HOME/go/bin (go install's, staticcheck's) in front of PATH, each once.
# The Makefile takes the same values from it (its PATH and GO_TOOLCHAIN).

GO_WANT=1.26
GO_TOOLCHAIN=go1.26.8
GO_SDK="$HOME/sdk/$GO_TOOLCHAIN/bin"
STATICCHECK=honnef.co/go/tools/cmd/staticcheck@v0.8.2

# toolchain_front DIR... moves each DIR to the front of PATH (the last
# given ends up first), so that the pinned go wins over any other.
toolchain_front() {
	for _tc_d in "$@"; do
		_tc_p=":$PATH:"
		while case $_tc_p in *":$_tc_d:"*) true ;; *) false ;; esac; do
			_tc_p="${_tc_p%%:"$_tc_d":*}:${_tc_p#*:"$_tc_d":}"
		done
		_tc_p=${_tc_p#:}
		_tc_p=${_tc_p%:}
		PATH="$_tc_d${_tc_p:+:$_tc_p}"
	done
	unset _tc_d _tc_p
}
toolchain_front "$HOME/go/bin" /usr/local/go/bin "$GO_SDK"
export PATH
