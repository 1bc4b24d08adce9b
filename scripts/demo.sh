#!/usr/bin/env bash
# Quick start, command 1: set up, build, and run the main demo: a producer
# and a consumer process exchanging market-data ticks over a named ring.
# Arguments go to the demo (try --help).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh --target nshm-demo >/dev/null
exec "${NSHM_BUILD_DIR:-build}/examples/nshm-demo" "$@"
