#!/bin/sh
# SPDX-License-Identifier: MIT
# Smoke test: nshm-bench --quick --json FILE completes and FILE is valid JSON
# with every required key, the neighbour experiment's (issue 9) included.
# Usage: bench_smoke.sh NSHM_BENCH OUT.json CHECK.py
set -eu
bench=$1
out=$2
check=$3
if ! command -v python3 >/dev/null 2>&1; then
	echo "SKIP: python3 not found" >&2
	exit 77
fi
rm -f "$out"
"$bench" --quick --json "$out"
# A plain --quick run includes the neighbour experiment (issue 9).
python3 "$check" --neighbour "$out"
