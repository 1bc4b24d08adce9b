#!/usr/bin/env bash
# nshm gc: removes the segments of a SIGKILLed process, keeps live ones,
# idle ones and cleanly closed ones; a dry run removes nothing. POSIX and
# SysV. Every gc is limited to this run's names (a pattern), so it never
# touches what other tests on the machine are using.
nshm=$1
. "$(dirname "$0")/lib.sh"
n="nshmt-cligc-$$"
tmp=$(mktemp -d)
pids=()
cleanup() {
	exec 3>&- 4>&- 5>&- 6>&- 7>&-
	# End of input (or SIGTERM) makes each pub give its role back.
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
	wait 2>/dev/null
	for x in "$n-dead" "$n-live" "$n-idle" "$n-closed" "sysv:$n-dead" "sysv:$n-live"; do
		"$nshm" rm "$x" >/dev/null 2>&1
	done
	rm -rf "$tmp"
}
trap cleanup EXIT

mkdir "$tmp/d"
fdead="file:$tmp/d/$n-dead"
for x in "$n-dead" "$n-live" "$n-closed" "sysv:$n-dead" "sysv:$n-live" "$fdead"; do
	"$nshm" create -k spsc -e 8 -c 16 "$x" >/dev/null
done
"$nshm" create "$n-idle" 4k >/dev/null

# A producer per ring, each blocked reading its stdin (a FIFO we hold open).
start_pub() { # start_pub NAME FIFO: pid in $pub
	mkfifo "$2"
	"$nshm" pub "$1" <"$2" &
	pub=$!
	pids+=("$pub")
}
start_pub "$n-dead" "$tmp/f1"; dead_pid=$pub
exec 3>"$tmp/f1"
start_pub "$n-live" "$tmp/f2"
exec 4>"$tmp/f2"
start_pub "sysv:$n-dead" "$tmp/f3"; sdead_pid=$pub
exec 5>"$tmp/f3"
start_pub "sysv:$n-live" "$tmp/f4"
exec 6>"$tmp/f4"
start_pub "$fdead" "$tmp/f5"; fdead_pid=$pub
exec 7>"$tmp/f5"
echo 0102 >&3 # one element in the doomed ring
for x in "$n-dead" "$n-live" "sysv:$n-dead" "sysv:$n-live" "$fdead"; do
	wait_for bash -c '"$1" info "$2" | grep -q "producer *alive"' _ "$nshm" "$x" ||
		echo "producer of $x never came up"
done
# A producer that closes cleanly leaves an empty participant table: idle.
"$nshm" pub "$n-closed" <<<"aa"

check "nothing to collect yet" 0 "nothing to collect" -- "$nshm" gc --path "$tmp/d" "*$n-*"
check "ls --path shows the file ring" 0 "^$fdead +file .* spsc .* 1/0 " -- \
	"$nshm" ls --path "$tmp/d" "file:*"

kill -9 "$dead_pid" "$sdead_pid" "$fdead_pid"
wait "$dead_pid" "$sdead_pid" "$fdead_pid" 2>/dev/null
check "ls shows the dead participant" 0 "^$n-dead .* 0/1 " -- "$nshm" ls "$n-dead"
check "info shows it dead" 0 "slot +[0-9]+ +pid $dead_pid +dead" -- "$nshm" info "$n-dead"

# Dry run: lists exactly the two dead ones, removes nothing.
"$nshm" gc "*$n-*" >"$tmp/dry"
ok "dry run status 0" [ $? -eq 0 ]
ok "dry run lists the POSIX one" grep -q "^would remove $n-dead " "$tmp/dry"
ok "dry run lists the SysV one" grep -q "^would remove sysv:$n-dead " "$tmp/dry"
ok "dry run lists nothing else" [ "$(grep -c '^would remove' "$tmp/dry")" -eq 2 ]
check "dry run removed nothing" 0 "^$n-dead " -- "$nshm" ls "$n-dead"
check "gc --path: the file ring too" 0 "^would remove $fdead " -- "$nshm" gc --path "$tmp/d" "file:*"
check "gc --path --force" 0 "^removed $fdead " -- "$nshm" gc --force --path "$tmp/d" "file:*"
ok "file ring removed" [ ! -e "$tmp/d/$n-dead" ]
json "gc --json" "$nshm" gc --json "*$n-*"
ok "gc --json names both" python3 -c '
import json, sys
got = sorted(o["name"] for o in json.load(sys.stdin))
want = sorted([sys.argv[1] + "-dead", "sysv:" + sys.argv[1] + "-dead"])
assert got == want, got
' "$n" < <("$nshm" gc --json "*$n-*")

# A live process that only maps it read-only (an observer: no participant
# slot) still keeps a dead ring: it is in /proc/PID/maps.
"$nshm" watch -i 5 --plain "$n-dead" >/dev/null &
watcher=$!
pids+=("$watcher")
wait_for grep -q "/dev/shm/$n-dead" "/proc/$watcher/maps"
check "a mapper keeps it" 0 "^would remove sysv:$n-dead" -- "$nshm" gc "*$n-dead"
ok "... and only the SysV one is listed" bash -c '! "$1" gc "$2" | grep -q "^would remove $2"' \
	_ "$nshm" "$n-dead"
kill "$watcher"
wait "$watcher" 2>/dev/null

"$nshm" gc --force "*$n-*" >"$tmp/force"
ok "gc --force status 0" [ $? -eq 0 ]
ok "gc --force reports both" [ "$(grep -c '^removed' "$tmp/force")" -eq 2 ]
check "dead POSIX ring gone" 3 "No such file" -- "$nshm" info "$n-dead"
check "dead SysV ring gone" 3 "No such file" -- "$nshm" info "sysv:$n-dead"
check "live POSIX ring kept" 0 "producer +alive" -- "$nshm" info "$n-live"
check "live SysV ring kept" 0 "producer +alive" -- "$nshm" info "sysv:$n-live"
check "idle segment kept" 0 "size +4096" -- "$nshm" info "$n-idle"
check "closed ring kept" 0 "producer +closed" -- "$nshm" info "$n-closed"
check "second gc finds nothing" 0 "nothing to collect" -- "$nshm" gc --force "*$n-*"
finish
