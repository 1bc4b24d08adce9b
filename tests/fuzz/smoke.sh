#!/bin/sh
# Run a libFuzzer target briefly: exit 77 (skipped) where it was not built.
fz=$1
shift
if [ ! -x "$fz" ]; then
	echo "skipped: $fz not built (needs clang with libFuzzer: libclang-rt-14-dev)"
	exit 77
fi
exec "$fz" "$@"
