#!/usr/bin/env bash
# Install what is missing, then configure and build.
#   NSHM_BUILD_DIR  build directory (default: build)
#   NSHM_CMAKE_ARGS extra CMake arguments, e.g. -DNSHM_SANITIZE=address\;undefined
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
build=${NSHM_BUILD_DIR:-build}
# shellcheck disable=SC2086
cmake -S . -B "$build" ${NSHM_CMAKE_ARGS:-} >/dev/null
cmake --build "$build" -j"$(nproc)" "$@"
