#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Build an unchanged NSPR program with
#	cc prog.c $(pkg-config --cflags --libs nshm-nspr)
# run it, and prove it used nshm: its PR_*SharedMemory calls bind to
# libnshm-nspr (link order, DT_NEEDED order, ld.so bindings), its segment
# shows up in /dev/shm under the mapped name, no file appears at the NSPR
# path and no System V segment is created by it. A control build against
# plain nspr.pc shows the same checks tell real NSPR apart.
#
# usage: pkgconfig_test.sh uninstalled|install BUILD_DIR PROG_SRC CC
#        PKG_CONFIG CMAKE [EXTRA_CFLAGS]
set -u

mode=$1 build=$2 src=$3 cc=$4 pkgconfig=$5 cmake=$6 extra=${7:-}
tmp=$(mktemp -d /tmp/nshmt-nsprpc.XXXXXX) || exit 1
name="$tmp/shm-$$"
fails=0

cleanup() {
	# Whatever happened, leave nothing behind.
	[ -x "$tmp/prog" ] && "$tmp/prog" -n "$name" -c >/dev/null 2>&1
	[ -x "$tmp/prog-real" ] && "$tmp/prog-real" -n "$name" -c \
		>/dev/null 2>&1
	rm -f "/dev/shm/$mapped"
	rm -rf "$tmp"
}
ok() { echo "ok - $*"; }
bad() { echo "not ok - $*"; fails=$((fails + 1)); }

# The mapping of include/nshm/prshm.h, for names made of [A-Za-z0-9./_-].
mapped="nspr.$(printf '%s' "$name" |
	sed -e 's/_/_5F/g' -e 's,/,_2F,g' -e 's/\./_2E/g')"
trap cleanup EXIT INT TERM

case $mode in
uninstalled)
	PKG_CONFIG_PATH="$build/pkgconfig-uninstalled"
	;;
install)
	"$cmake" --install "$build" --prefix "$tmp/prefix" >"$tmp/install.log" \
		2>&1 || { cat "$tmp/install.log"; echo "Bail out! install"; exit 1; }
	pc=$(find "$tmp/prefix" -name nshm-nspr.pc | head -n 1)
	[ -n "$pc" ] || { echo "Bail out! nshm-nspr.pc not installed"; exit 1; }
	PKG_CONFIG_PATH=$(dirname "$pc")
	LD_LIBRARY_PATH=$(dirname "$(dirname "$pc")")
	export LD_LIBRARY_PATH
	;;
*)
	echo "Bail out! mode $mode"; exit 1
	;;
esac
export PKG_CONFIG_PATH

libs=$("$pkgconfig" --libs nshm-nspr) || { echo "Bail out! pkg-config"; exit 1; }
cflags=$("$pkgconfig" --cflags nshm-nspr)
echo "# pkg-config --cflags --libs nshm-nspr: $cflags $libs"

# 1. -lnshm-nspr comes before NSPR's libraries on the link line.
case " $libs " in
*" -lnshm-nspr "*" -lnspr4 "*) ok "link line: -lnshm-nspr before -lnspr4" ;;
*) bad "link line order: $libs" ;;
esac

# 2. The program builds unchanged.
# shellcheck disable=SC2086 # word splitting of flags is intended
if "$cc" $extra "$src" $cflags $libs -o "$tmp/prog" 2>"$tmp/cc.log"; then
	ok "cc prog.c \$(pkg-config --cflags --libs nshm-nspr)"
else
	cat "$tmp/cc.log"; bad "build"; exit 1
fi

# 3. DT_NEEDED: libnshm-nspr before libnspr4, so ld.so binds ours first.
needed=$(readelf -d "$tmp/prog" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' |
	tr '\n' ' ')
case " $needed" in
*" libnshm-nspr.so"*" libnspr4.so"*) ok "DT_NEEDED order: $needed" ;;
*) bad "DT_NEEDED order: $needed" ;;
esac

# 4. The library exports exactly NSPR's five functions.
lib=$(ldd "$tmp/prog" | sed -n 's/.*libnshm-nspr[^ ]* => \([^ ]*\).*/\1/p')
exports=$(nm -D --defined-only "$lib" | awk '$2 ~ /[TtWDdBb]/ {print $3}' |
	sort | tr '\n' ' ')
want="PR_AttachSharedMemory PR_CloseSharedMemory PR_DeleteSharedMemory \
PR_DetachSharedMemory PR_OpenSharedMemory "
if [ "$exports" = "$want" ]; then
	ok "exports: $exports"
else
	bad "exports of $lib: '$exports'"
fi

# 5. The run: NSPR's BasicTest/ReadOnlyTest pass, and ld.so binds
# PR_OpenSharedMemory to libnshm-nspr.
if LD_DEBUG=bindings LD_DEBUG_OUTPUT="$tmp/ld" "$tmp/prog" -n "$name" \
	>"$tmp/run.log" 2>&1; then
	ok "NSPR BasicTest + ReadOnlyTest"
else
	cat "$tmp/run.log"; bad "NSPR BasicTest + ReadOnlyTest"
fi
if cat "$tmp"/ld.* 2>/dev/null | grep -q \
	"to .*libnshm-nspr\.so.*symbol \`PR_OpenSharedMemory'"; then
	ok "ld.so binds PR_OpenSharedMemory to libnshm-nspr"
else
	bad "ld.so binding of PR_OpenSharedMemory"
	cat "$tmp"/ld.* 2>/dev/null | grep SharedMemory
fi

have_ipcs=0
command -v ipcs >/dev/null 2>&1 && have_ipcs=1

# cpid column of `ipcs -m -p` is the creator's pid.
sysv_made_by() { ipcs -m -p | awk -v p="$1" '$3 == p { n++ } END { print n + 0 }'; }

# 6. Keep a segment: it is in /dev/shm under the mapped name, not a file at
# the path, and not a System V segment made by the program.
"$tmp/prog" -n "$name" -k >"$tmp/keep.log" 2>&1 &
pid=$!
wait $pid || { cat "$tmp/keep.log"; bad "keep run"; }
if [ -e "/dev/shm/$mapped" ]; then
	ok "segment in /dev/shm/$mapped"
else
	bad "no /dev/shm/$mapped"; ls -l /dev/shm | grep nspr
fi
if [ -e "$name" ]; then bad "a file was created at $name"; else
	ok "no file at the NSPR path"; fi
if [ $have_ipcs = 1 ]; then
	n=$(sysv_made_by $pid)
	if [ "$n" = 0 ]; then ok "no SysV segment (ipcs -m)"; else
		bad "$n SysV segments made by the program"; fi
fi
if "$tmp/prog" -n "$name" -c >"$tmp/check.log" 2>&1; then
	ok "second process reads it, deletes it"
else
	cat "$tmp/check.log"; bad "check run"
fi
if [ -e "/dev/shm/$mapped" ]; then bad "still in /dev/shm after delete"
else ok "deleted from /dev/shm"; fi

# 7. Control: the same source against real NSPR makes a file and a SysV
# segment and nothing in /dev/shm, so the checks above can tell them apart.
# shellcheck disable=SC2086
if [ $have_ipcs = 1 ] && "$cc" "$src" $("$pkgconfig" --cflags --libs nspr) \
	-o "$tmp/prog-real" 2>"$tmp/cc-real.log"; then
	env -u LD_LIBRARY_PATH "$tmp/prog-real" -n "$name" -k \
		>"$tmp/real.log" 2>&1 &
	pid=$!
	if wait $pid; then
		n=$(sysv_made_by $pid)
		if [ "$n" = 1 ] && [ -e "$name" ] &&
			[ ! -e "/dev/shm/$mapped" ]; then
			ok "control: real NSPR made a SysV segment and a file"
		else
			bad "control: real NSPR: sysv=$n file=$([ -e "$name" ] && echo y)"
		fi
		env -u LD_LIBRARY_PATH "$tmp/prog-real" -n "$name" -c \
			>/dev/null 2>&1 || bad "control: delete"
	else
		echo "# control skipped: real NSPR could not run here"
		cat "$tmp/real.log"
	fi
else
	echo "# control skipped: no ipcs or real NSPR build failed"
fi

[ $fails = 0 ] && echo "# all passed" || echo "# $fails failed"
[ $fails = 0 ]
