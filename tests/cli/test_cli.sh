#!/usr/bin/env bash
# The nshm command: each subcommand's output and exit code, good and bad input.
nshm=$1
. "$(dirname "$0")/lib.sh"
n="nshmt-cli-$$"
trap 'for x in "$n" "sysv:$n"; do "$nshm" delete "$x" >/dev/null 2>&1; done; rm -f /dev/shm/$n-junk' EXIT

check "create posix" 0 "size +65536 bytes" -- "$nshm" create -m 640 "$n" 64k
check "create exists excl" 8 "File exists" -- "$nshm" create -x "$n" 64k
check "create exists" 0 "existed already" -- "$nshm" create "$n" 1k
check "info" 0 "mode +0640" -- "$nshm" info "$n"
check "list shows it" 0 "^$n +posix +64K" -- "$nshm" ls
check "create sysv" 0 "backend +sysv" -- "$nshm" create "sysv:$n" 1M
check "ls shows sysv" 0 "^sysv:$n +sysv +1M" -- "$nshm" ls
check "list is ls" 0 "^sysv:$n +sysv" -- "$nshm" list
check "delete both" 0 "^$" -- "$nshm" delete "$n" "sysv:$n"
check "info missing" 3 "No such file" -- "$nshm" info "$n"
check "delete missing" 3 "No such file" -- "$nshm" delete "$n"
check "bad name" 11 "invalid segment name" -- "$nshm" create "a/b" 1k
check "bad size" 2 "needs NAME SIZE" -- "$nshm" create "$n" 12q
check "zero size" 1 "needs a size" -- "$nshm" create "$n" 0
check "bad mode" 2 "bad mode" -- "$nshm" create -m 999 "$n" 1k
check "too big" 1 "larger than any machine|File too large" -- "$nshm" create "$n" 1000000G
head -c 10000 /dev/urandom >/dev/shm/$n-junk
check "foreign file" 4 "not an nshm segment" -- "$nshm" info "$n-junk"
check "foreign delete refused" 4 "left alone" -- "$nshm" delete "$n-junk"
check "limits" 0 "shm-size" -- "$nshm" limits
check "limits sysv" 0 "kernel.shmmax" -- "$nshm" limits
check "unknown command" 2 "unknown command" -- "$nshm" frobnicate
check "help" 0 "usage" -- "$nshm" --help
check "rm missing -f" 0 "^$" -- "$nshm" rm -f "$n"
check "rm usage" 2 "needs a NAME" -- "$nshm" rm
check "help per command" 0 "usage: nshm gc" -- "$nshm" gc --help
check "help lists exit codes" 0 "4  not an nshm segment" -- "$nshm" rm --help
check "help command" 0 "usage: nshm watch" -- "$nshm" help watch
check "unknown option" 2 "Try 'nshm ls --help'" -- "$nshm" ls --frob
# bench execs nshm-bench: next to nshm, in the build tree's bench/, or on PATH.
d=$(dirname "$nshm")
if [ -x "$d/nshm-bench" ] || [ -x "$d/../bench/nshm-bench" ] || command -v nshm-bench >/dev/null; then
	check "bench runs nshm-bench" 0 "usage: nshm-bench" -- "$nshm" bench --help
else
	check "bench without nshm-bench" 127 "nshm-bench not found" -- "$nshm" bench --help
fi
finish
