#!/usr/bin/env bash
# The nshm command: each subcommand's output and exit code, good and bad input.
set -uo pipefail
nshm=$1
n="nshmt-cli-$$"
fails=0 passes=0
trap 'for x in "$n" "sysv:$n"; do "$nshm" delete "$x" >/dev/null 2>&1; done; rm -f /dev/shm/$n-junk' EXIT

check() { # check DESCRIPTION EXPECTED_RC PATTERN -- command...
	local what=$1 want=$2 pat=$3
	shift 4
	out=$("$@" 2>&1)
	rc=$?
	if [ "$rc" -eq "$want" ] && grep -qE -- "$pat" <<<"$out"; then
		passes=$((passes + 1))
	else
		fails=$((fails + 1))
		echo "FAIL: $what: rc=$rc (want $want), output:"
		echo "$out" | sed 's/^/    /'
	fi
}

check "create posix" 0 "size +65536 bytes" -- "$nshm" create -m 640 "$n" 64k
check "create exists excl" 1 "File exists" -- "$nshm" create -x "$n" 64k
check "create exists" 0 "existed already" -- "$nshm" create "$n" 1k
check "info" 0 "mode +0640" -- "$nshm" info "$n"
check "list shows it" 0 "^$n +posix +65536" -- "$nshm" list
check "create sysv" 0 "backend +sysv" -- "$nshm" create "sysv:$n" 1M
check "list shows sysv" 0 "^sysv:$n +sysv +1048576" -- "$nshm" list
check "delete both" 0 "^$" -- "$nshm" delete "$n" "sysv:$n"
check "info missing" 1 "No such file" -- "$nshm" info "$n"
check "delete missing" 1 "No such file" -- "$nshm" delete "$n"
check "bad name" 1 "invalid segment name" -- "$nshm" create "a/b" 1k
check "bad size" 2 "usage" -- "$nshm" create "$n" 12q
check "zero size" 1 "needs a size" -- "$nshm" create "$n" 0
check "bad mode" 2 "bad mode" -- "$nshm" create -m 999 "$n" 1k
check "too big" 1 "larger than any machine|File too large" -- "$nshm" create "$n" 1000000G
head -c 10000 /dev/urandom >/dev/shm/$n-junk
check "foreign file" 1 "not an nshm segment" -- "$nshm" info "$n-junk"
check "foreign delete refused" 1 "left alone" -- "$nshm" delete "$n-junk"
check "limits" 0 "shm-size" -- "$nshm" limits
check "limits sysv" 0 "kernel.shmmax" -- "$nshm" limits
check "unknown command" 2 "unknown command" -- "$nshm" frobnicate
check "help" 0 "usage" -- "$nshm" --help
echo "cli: $passes passed, $fails failed"
[ "$fails" -eq 0 ]
