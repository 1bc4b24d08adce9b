#!/usr/bin/env bash
# Install the Debian 12 packages nshm needs, but only those that are missing,
# so a warm machine pays nothing and a fresh one needs no manual step.
set -euo pipefail

pkgs=(
	build-essential cmake pkg-config  # gcc, g++
	clang           # tests/headers: every header under clang and clang++ too
	libclang-rt-14-dev # libFuzzer for tests/fuzz (clang only recommends it)
	libcmocka-dev   # every unit and multi-process test
	liburcu-dev     # process-local tables of open segments
	libhwloc-dev    # CPU placement for demos and benchmarks
	libnspr4-dev    # NSPR types and error codes for the compat library
	libbenchmark-dev # optional google-benchmark microbenchmarks
	libck-dev       # nshm-bench's ck-mpmc, Concurrency Kit (benchmark only)
	gnuplot-nox     # nshm-bench --plot
	python3         # JSON checks in CI
	tmux            # the nshm watch terminal UI test (tests/cli)
)

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing+=("$p")
done

if ((${#missing[@]})); then
	echo "setup: installing ${missing[*]}" >&2
	if [ "$(id -u)" -ne 0 ]; then
		SUDO=sudo
	else
		SUDO=
	fi
	export DEBIAN_FRONTEND=noninteractive
	$SUDO apt-get update -qq
	$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
