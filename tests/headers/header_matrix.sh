#!/usr/bin/env bash
# The public headers compile warning-free, and work, for every compiler x
# language standard x optimisation level a user may pick:
#   C:   gcc, clang  x  -std=c11, c17          x  -O0 -O1 -O2 -O3
#   C++: g++, clang++ x -std=c++17, 20, 23     x  -O0 -O2 -O3
# with -Wall -Wextra -Wpedantic -Wconversion -Wshadow -Wundef -Wcast-qual
# -Wwrite-strings -Wvla -Werror. First each public header must compile on
# its own (C11 and C++17, every compiler). Each configuration builds and runs:
# api_all.c (every public macro and inline function of the C headers; also
# compiled as C++), the README's C example, and for C++
# tests/cxx/test_cxx_api.cc (nshm.hpp) and the README's C++ example. Then
# check_coverage.py checks that api_all.c names everything public.
#
# usage: header_matrix.sh SRCDIR INCLUDEDIR LIBDIR README [SANITIZE] [NSPR_CFLAGS]
# NSHM_HDR_JOBS: parallel jobs (default: nproc). NSHM_HDR_OPTS,
# NSHM_HDR_CXX_OPTS: the -O levels for C and C++ (default "0 1 2 3" and
# "0 2 3": C++ builds cost most, and -O1 finds nothing -O2 does not; with
# the C++ -O1 builds this test takes 1.3x as long).
# Under sanitizers (SANITIZE non-empty) only the gcc configurations run,
# at -O0 and -O2, built with the same -fsanitize flags as the library
# (clang's sanitizer runtime cannot load gcc's, and the plain build's run
# of this test already covers clang's warnings).
# shellcheck disable=SC2206,SC2054 # flag lists are split on purpose
set -euo pipefail
src=$1 inc=$2 libdir=$3 readme=$4 san=${5:-} nspr_cflags=${6:-}
work=$(mktemp -d /tmp/nshmt-hdr-XXXXXX)
main_pid=$$
trap 'rm -rf "$work"; rm -f /dev/shm/nshmt-hdrx-$main_pid-*' EXIT
start=$SECONDS

warn=(-Wall -Wextra -Wpedantic -Wconversion -Wshadow -Wundef -Wcast-qual
	-Wwrite-strings -Wvla -Werror)
opts=${NSHM_HDR_OPTS:-0 1 2 3}
cxx_opts=${NSHM_HDR_CXX_OPTS:-${NSHM_HDR_OPTS:-0 2 3}}
cc_list="gcc clang" cxx_list="g++ clang++"
if [ -n "$san" ]; then
	opts=${NSHM_HDR_OPTS:-0 2} cxx_opts=${NSHM_HDR_CXX_OPTS:-0 2}
	cc_list=gcc cxx_list=g++
fi
jobs=${NSHM_HDR_JOBS:-$(nproc)}

# The README's examples, as programs. C: the block after "## A short
# example"; its declarations stay at file scope, the rest (from the
# "producer process" comment on) becomes main(). C++: the first ```cpp
# block, a whole program. The ring name "ticks" becomes a unique one.
awk '/^## A short example/ {s=1} s && /^```c$/ {b=1; next} b && /^```$/ {exit}
     b {print}' "$readme" >"$work/readme_c.txt"
awk '/^```cpp$/ {b=1; next} b && /^```$/ {exit} b {print}' "$readme" \
	>"$work/readme_cxx.cc"
if ! grep -q 'producer process' "$work/readme_c.txt"; then
	echo "README: no C example with a '/* producer process */' part" >&2
	exit 1
fi
{
	sed -n '1,/producer process/p' "$work/readme_c.txt" | sed '$d'
	echo 'int main(void)'
	echo '{'
	sed -n '/producer process/,$p' "$work/readme_c.txt"
	echo '	return rc == 0 ? 0 : 1;'
	echo '}'
} | sed 's/"ticks"/NSHM_HDR_RING/g' >"$work/readme_c.c"
sed -i 's/"ticks"/NSHM_HDR_RING/g' "$work/readme_cxx.cc"
if [ ! -s "$work/readme_cxx.cc" ]; then
	echo "README: no C++ example (a \`\`\`cpp block)" >&2
	exit 1
fi

have() { command -v "$1" >/dev/null 2>&1; }
cxx_std() { # c++23, or c++2b where the compiler does not know the name yet
	if [ "$2" = c++23 ] && ! "$1" -std=c++23 -x c++ -E /dev/null >/dev/null 2>&1; then
		echo c++2b
	else
		echo "$2"
	fi
}

configs=()
missing=()
for cc in $cc_list; do
	if ! have $cc; then missing+=($cc); continue; fi
	for std in c11 c17; do
		for o in $opts; do configs+=("c $cc $std -O$o"); done
	done
done
for cxx in $cxx_list; do
	if ! have $cxx; then missing+=($cxx); continue; fi
	for std in c++17 c++20 c++23; do
		s=$(cxx_std $cxx $std)
		for o in $cxx_opts; do configs+=("c++ $cxx $s -O$o"); done
	done
done
# One more: C++ without exceptions or RTTI (nshm.hpp needs neither).
if have g++; then
	configs+=("c++ g++ c++17 -O2 -fno-exceptions -fno-rtti")
fi
if ((${#configs[@]} == 0)); then
	echo "no compiler found" >&2
	exit 77
fi

# Each public header compiles on its own (includes what it needs), in C
# and C++, with every compiler: -fsyntax-only, quick.
selfc=0
for h in "$inc"/nshm/*.h "$inc"/nshm/*.hpp; do
	b=$(basename "$h")
	extra=()
	[ "$b" = prshm.h ] && { [ -n "$nspr_cflags" ] || continue; extra=($nspr_cflags); }
	for cc in $cc_list $cxx_list; do
		have $cc || continue
		case $cc in
		*++) std=-std=c++17 lang=c++ ;;
		*) [ "${b##*.}" = hpp ] && continue; std=-std=c11 lang=c ;;
		esac
		if ! echo "#include <nshm/$b>" | $cc -x $lang $std "${warn[@]}" -I"$inc" \
			"${extra[@]}" -fsyntax-only - 2>"$work/self.err"; then
			echo "== $b alone, $cc $std:"
			cat "$work/self.err"
			selfc=$((selfc + 1))
		fi
	done
done

export src inc libdir san nspr_cflags work main_pid
export warn_s="${warn[*]}"
# One configuration: compile, link and run each program. Output goes to a
# log that is printed only on failure.
one() {
	set -u
	local lang=$1 cc=$2 std=$3 opt=$4
	shift 4
	local extra=("$@")
	local tag
	tag=$(echo "$cc-$std$opt${extra[*]:+-x}" | tr -c 'A-Za-z0-9+\n-' _)
	local d=$work/$tag log=$work/$tag.log
	local ring=nshmt-hdrx-$main_pid-${tag//+/p} # the README examples' ring
	local run=1 sanf=()
	mkdir -p "$d"
	if [ -n "$san" ]; then
		case $cc in
		gcc | g++) sanf=(-fsanitize="${san//;/,}" -fno-sanitize-recover=all) ;;
		*) run=0 ;;
		esac
	fi
	local -a cflags=(-std="$std" "$opt" $warn_s "${extra[@]}" "${sanf[@]}"
		-I"$inc" -DNSHM_HDR_RING="\"$ring\"")
	local -a ldflags=(-L"$libdir" -Wl,-rpath,"$libdir" -lnshm)
	local -a progs=()
	local nspr=()
	[ -n "$nspr_cflags" ] && nspr=(-DNSHM_HDR_HAVE_NSPR $nspr_cflags)
	{
		echo "== $lang $cc -std=$std $opt ${extra[*]}"
		if [ "$lang" = c ]; then
			$cc "${cflags[@]}" "${nspr[@]}" -c "$src/api_all.c" -o "$d/api_all.o" &&
			$cc "${cflags[@]}" -c "$work/readme_c.c" -o "$d/readme.o" || return 1
			progs=(api_all readme)
		else
			$cc "${cflags[@]}" "${nspr[@]}" -x c++ -c "$src/api_all.c" -o "$d/api_all.o" &&
			$cc "${cflags[@]}" -x c++ -c "$work/readme_c.c" -o "$d/readme.o" &&
			$cc "${cflags[@]}" -c "$src/../cxx/test_cxx_api.cc" -o "$d/api_cxx.o" &&
			$cc "${cflags[@]}" -c "$work/readme_cxx.cc" -o "$d/readme_cxx.o" || return 1
			progs=(api_all readme api_cxx readme_cxx)
		fi
		if [ $run = 0 ]; then
			echo "(compiled only: sanitizer runtimes of gcc and clang do not mix)"
			touch "$work/$tag.ok"
			return 0
		fi
		for p in "${progs[@]}"; do
			$cc "${sanf[@]}" "$d/$p.o" "${ldflags[@]}" -o "$d/$p" || return 1
			rm -f "/dev/shm/$ring" # the C example leaves it behind
			"$d/$p" || { echo "$p failed: exit $?"; return 1; }
		done
	} >"$log" 2>&1 && touch "$work/$tag.ok"
}
export -f one

printf '%s\n' "${configs[@]}" >"$work/configs"
xargs -P "$jobs" -L 1 bash -c 'one "$@"' _ <"$work/configs" || true
# Report: the log of every configuration that failed.
nok=0 nbad=0
for log in "$work"/*.log; do
	if [ -e "${log%.log}.ok" ]; then
		nok=$((nok + 1))
	else
		nbad=$((nbad + 1))
		cat "$log"
	fi
done
python3 "$src/check_coverage.py" "$inc" "$src/api_all.c" || nbad=$((nbad + 1))
if [ $selfc != 0 ]; then
	echo "$selfc public headers do not compile on their own (above)"
	nbad=$((nbad + selfc))
fi
for m in "${missing[@]}"; do
	echo "SKIPPED: $m not installed (scripts/setup.sh installs it)"
done
echo "header matrix: ${#configs[@]} configurations (C -O${opts// /,}, C++ -O${cxx_opts// /,}; x compilers x standards), $((SECONDS - start)) s"
echo "$nok passed, $nbad failed"
[ $nbad = 0 ]
