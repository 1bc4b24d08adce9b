#!/usr/bin/env bash
# Install the build tree into a scratch prefix, then build and run an outside
# program against it with pkg-config (nshm), with CMake find_package(nshm),
# and check the NSPR compat package is found the same ways.
set -euo pipefail
build=$1 src=$2 san=${3:-}
prefix=$(mktemp -d /tmp/nshmt-prefix-XXXXXX)
work=$(mktemp -d /tmp/nshmt-consumer-XXXXXX)
trap 'rm -rf "$prefix" "$work"' EXIT

cmake --install "$build" --prefix "$prefix" >/dev/null
libdir=$(dirname "$(find "$prefix" -name 'nshm.pc' | head -1)")/..
test -f "$libdir/pkgconfig/nshm.pc"
test -f "$libdir/pkgconfig/nshm-nspr.pc"
test -f "$libdir/cmake/nshm/nshmConfig.cmake"
test -f "$prefix/include/nshm/shm.h"
export PKG_CONFIG_PATH=$libdir/pkgconfig
export LD_LIBRARY_PATH=$libdir

flags=()
if [ -n "$san" ]; then
	flags=(-fsanitize="${san//;/,}")
fi
name="nshmt-consumer-$$"

# 1. pkg-config, shared
${CC:-cc} "${flags[@]}" -o "$work/pc" "$src/consumer.c" $(pkg-config --cflags --libs nshm)
"$work/pc" "$name-a"
# 2. pkg-config, static
${CC:-cc} "${flags[@]}" -DNSHM_STATIC -o "$work/pc-static" "$src/consumer.c" \
	$(pkg-config --static --cflags nshm) "$libdir/libnshm.a" $(pkg-config --static --libs-only-l nshm | sed 's/-lnshm//')
"$work/pc-static" "$name-b"
if ldd "$work/pc-static" | grep -q libnshm; then
	echo "static consumer links libnshm.so" >&2
	exit 1
fi
# 2b. C++17 through <nshm/nshm.hpp>, pkg-config
${CXX:-c++} -std=c++17 "${flags[@]}" -o "$work/pc-cxx" "$src/consumer_cxx.cc" \
	$(pkg-config --cflags --libs nshm)
"$work/pc-cxx" "$name-x"
# 3. CMake find_package(nshm), both targets
cmake -S "$src" -B "$work/cmake" -DCMAKE_PREFIX_PATH="$prefix" \
	-DCMAKE_C_FLAGS="${flags[*]}" >/dev/null
cmake --build "$work/cmake" >/dev/null
"$work/cmake/consumer" "$name-c"
"$work/cmake/consumer_static" "$name-d"
"$work/cmake/consumer_nspr" "$name-e"
echo "install consumers: pkg-config shared+static+C++, cmake nshm::nshm, nshm::nshm_static, nshm::nshm-nspr: ok"

# 4. From any prefix, with no LD_LIBRARY_PATH: every installed tool finds
# libnshm through its $ORIGIN-relative RUNPATH, and libnshm-nspr finds it
# through its own (the NSPR program below does not even list libnshm: it
# reaches it only through libnshm-nspr).
unset LD_LIBRARY_PATH
loads() { # TOOL ARGS...: runs, and did not fail to load a library
	local out rc=0
	out=$("$@" 2>&1) || rc=$?
	if [ $rc -ne 0 ] || grep -q 'error while loading shared libraries' <<<"$out"; then
		echo "installed $(basename "$1") ($*): exit $rc" >&2
		echo "$out" | tail -5 >&2
		readelf -d "$1" | grep -i 'runpath\|rpath' >&2 || true
		exit 1
	fi
}
ntools=0
for tool in "$prefix"/bin/*; do
	case $(basename "$tool") in
	nshm) loads "$tool" list ;;
	nshm-demo) loads "$tool" -n 20000 -l 2000 ;;
	nshm-bench) loads "$tool" --list ;;
	*) loads "$tool" --help ;;
	esac
	ntools=$((ntools + 1))
done
if [ "$ntools" -lt 3 ]; then
	echo "expected nshm, nshm-demo and nshm-bench in $prefix/bin" >&2
	exit 1
fi
if [ -f "$libdir/pkgconfig/nshm-nspr.pc" ]; then
	# The program's own RUNPATH finds libnshm-nspr (as -rpath or a system
	# directory would); --as-needed drops libnshm from its NEEDED list.
	${CC:-cc} "${flags[@]}" -o "$work/nspr-prog" "$src/consumer_nspr.c" \
		$(pkg-config --cflags nshm-nspr) -Wl,--as-needed \
		-Wl,--enable-new-dtags,-rpath,"$libdir" $(pkg-config --libs nshm-nspr)
	if readelf -d "$work/nspr-prog" | grep -q 'NEEDED.*libnshm\.so'; then
		echo "note: the NSPR program links libnshm directly" >&2
	fi
	loads "$work/nspr-prog" "$name-f"
fi
echo "installed tools ($ntools) and an NSPR program run from $prefix with no LD_LIBRARY_PATH: ok"
