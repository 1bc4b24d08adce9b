#!/usr/bin/env bash
# Quick start, command 2: set up, build, and run the whole test suite.
#   NSHM_BUILD_DIR, NSHM_CMAKE_ARGS  as for scripts/build.sh
#   NSHM_CTEST_ARGS                  extra ctest arguments, e.g. -L thread
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
# shellcheck disable=SC2086
ctest --test-dir "${NSHM_BUILD_DIR:-build}" --output-on-failure -j2 \
	${NSHM_CTEST_ARGS:-}
