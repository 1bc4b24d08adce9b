#!/usr/bin/env bash
# Install the tools directory into a scratch prefix (only what nshm's
# CMakeLists installs, so a problem installing another target does not hide
# these checks; tests/install covers the whole package and its RUNPATH): the
# nshm binary runs from there (against the build's library), nshm.1 is a well-formed man page that documents
# every subcommand and exit status, and the bash completion completes
# subcommands. Then the basic CLI test runs against the installed binary.
build=$1 src=$2
. "$src/lib.sh"
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
if ! cmake --install "$build/tools" --prefix "$prefix" >"$prefix/log" 2>&1; then
	cat "$prefix/log"
	exit 1
fi
nshm=$prefix/bin/nshm
export LD_LIBRARY_PATH=$build${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
man=$(find "$prefix" -path '*/man1/nshm.1' | head -1)
comp=$prefix/share/bash-completion/completions/nshm
check "installed binary runs" 0 "^nshm [0-9]+\.[0-9]+\.[0-9]+$" -- "$nshm" --version
ok "man page installed" [ -n "$man" ]
if command -v groff >/dev/null; then
	check "man page is clean groff" 0 "^$" -- groff -man -ww -z "$man"
	text=$(groff -man -Tutf8 "$man" 2>/dev/null | sed 's/.\x08//g')
	for c in ls info watch create rm gc pub sub bench limits; do
		ok "man page documents nshm $c" grep -qE "^ +nshm $c" <<<"$text"
	done
	ok "man page lists the exit codes" grep -qE "^ +12 +" <<<"$text"
fi
ok "completion installed" [ -f "$comp" ]
ok "completion completes subcommands" bash -c '
	. "$1"
	COMP_WORDS=(nshm w); COMP_CWORD=1; _nshm
	[ "${COMPREPLY[*]}" = watch ]' _ "$comp"
ok "completion completes options" bash -c '
	. "$1"
	COMP_WORDS=(nshm gc --fo); COMP_CWORD=2; _nshm
	[ "${COMPREPLY[*]}" = --force ]' _ "$comp"
finish || exit 1
bash "$src/test_cli.sh" "$nshm"
