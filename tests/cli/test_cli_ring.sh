#!/usr/bin/env bash
# The nshm command on rings: create, ls, info, pub/sub round trips (binary
# safe), --json everywhere, and the exit code of each failure class, against
# real segments.
nshm=$1
. "$(dirname "$0")/lib.sh"
n="nshmt-clir-$$"
tmp=$(mktemp -d)
cleanup() {
	for x in "$n" "$n-b" "$n-k" "$n-mp" "$n-bc" "$n-rec" "$n-raw" "$n-bad" "$n-ver" "$n-perm" "sysv:$n"; do
		"$nshm" rm "$x" >/dev/null 2>&1
	done
	# What dd scribbled (or made, had create failed) is no nshm segment
	# any more: nshm rm leaves it alone, so remove our own files here.
	rm -f "/dev/shm/$n-bad" "/dev/shm/$n-ver" "/dev/shm/$n-raw" "/dev/shm/$n-junk"
	rm -rf "$tmp"
}
trap cleanup EXIT

# --- create, ls, info: what this process created, field by field ---------
"$nshm" create -k spsc -e 24 -c 64 -m 640 --type-name "struct tick" \
	--type-version 3 --align 8 "$n" >"$tmp/create" &
creator=$!
wait "$creator"
ok "create ring" grep -q "created spsc ring $n: 64 x 24-byte" "$tmp/create"
check "create ring exists" 8 "File exists" -- \
	"$nshm" create -k spsc -e 24 -c 64 "$n"
check "create sysv ring" 0 "created spsc ring sysv:$n" -- \
	"$nshm" create -k spsc -e 16 -c 8 "sysv:$n"
"$nshm" create "$n-raw" 4k >/dev/null
check "ls ring row" 0 "^$n +posix +.* spsc +struct tick/24 +64 +0\(0%\) +0/0 +[^ ]+ +0640 +$creator " -- \
	"$nshm" ls "$n*"
check "ls sysv ring" 0 "^sysv:$n +sysv .* spsc +bytes/16 +8 " -- "$nshm" ls "sysv:$n"
check "ls pattern filters" 0 "^NAME[^\n]*$" -- "$nshm" ls "$n-nothing*"
check "info ring" 0 "type +\"struct tick\" version 3" -- "$nshm" info "$n"
check "info element" 0 "element +24 bytes, align 8" -- "$nshm" info "$n"
check "info roles" 0 "producer +never" -- "$nshm" info "$n"
check "info creator" 0 "creator pid $creator" -- "$nshm" info "$n"
check "info raw" 0 "size +4096 bytes" -- "$nshm" info "$n-raw"

json "ls --json" "$nshm" ls --json "$n*"
json "info --json" "$nshm" info --json "$n"
json "info --json several" "$nshm" info --json "$n" "$n-raw" "sysv:$n"
json "create --json" "$nshm" create --json -k spsc -e 8 -c 4 "$n-b"
"$nshm" rm "$n-b"
# The JSON carries the same facts as the table.
ok "ls --json fields" python3 -c '
import json, sys
rows = {r["name"]: r for r in json.load(sys.stdin)}
r = rows[sys.argv[1]]
g = r["ring"]
assert r["backend"] == "posix" and r["mode"] == "0640", r
assert r["creator_pid"] == int(sys.argv[2]) and r["created_ns"] > 0, r
assert g["kind"] == "spsc" and g["type_name"] == "struct tick", g
assert g["elem_size"] == 24 and g["capacity"] == 64 and g["count"] == 0, g
assert rows[sys.argv[1] + "-raw"]["ring"] is None
' "$n" "$creator" < <("$nshm" ls --json "$n*")

# --- pub/sub: binary-safe round trips --------------------------------------
# 64 random 24-byte elements: every byte value, NULs and newlines included.
head -c $((64 * 24)) /dev/urandom >"$tmp/in"
check "pub raw" 0 "^$" -- "$nshm" pub --raw "$n" <"$tmp/in"
check "info after pub" 0 "fill +64 of 64" -- "$nshm" info "$n"
check "producer closed" 0 "producer +closed, last pid [0-9]+, 1 attaches" -- \
	"$nshm" info "$n"
# The producer closed: sub drains all 64 and ends with status 0.
"$nshm" sub --raw "$n" >"$tmp/out"
ok "sub raw ends at 0" [ $? -eq 0 ]
ok "raw round trip is byte-exact" cmp -s "$tmp/in" "$tmp/out"

# Concurrently, through a ring smaller than the data (pub blocks on full):
# 8 slots, 500 records of 16 bytes, sub started first.
head -c $((500 * 16)) /dev/urandom >"$tmp/in2"
"$nshm" sub --raw "sysv:$n" >"$tmp/out2" &
subpid=$!
"$nshm" pub --raw "sysv:$n" <"$tmp/in2"
ok "pub into small ring" [ $? -eq 0 ]
wait "$subpid"
ok "sub of a streaming producer ends at 0" [ $? -eq 0 ]
ok "streamed round trip is byte-exact" cmp -s "$tmp/in2" "$tmp/out2"

# hex in, hex and JSON out (a short line is zero-padded).
printf '00ff0a0d 00 11\n%s\n' "$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')" \
	>"$tmp/hex"
"$nshm" pub "$n" <"$tmp/hex"
ok "pub hex" [ $? -eq 0 ]
"$nshm" sub --json -n 1 "$n" >"$tmp/json1"
ok "sub --json line" python3 -c '
import json, sys
o = json.loads(open(sys.argv[1]).read())
assert o["size"] == 24 and o["hex"] == "00ff0a0d0011" + "00" * 18, o
assert o["index"] == 64, o
' "$tmp/json1"
check "sub hex" 0 "^$(sed -n 2p "$tmp/hex")$" -- "$nshm" sub "$n"
check "pub text" 0 "^$" -- "$nshm" pub --text "$n" <<<"hello"
check "sub text" 0 "^hello$" -- "$nshm" sub --text "$n"
printf 'aa\nbb\n' | "$nshm" pub "$n"
# Options after the NAME, as in `nshm sub ticks --json | jq`.
check "options after the NAME" 0 '^\{"index":67,"size":24,"hex":"aa0{46}"\}$' -- \
	"$nshm" sub "$n" --json -n 1
ok "sub --json parses as JSON lines" bash -c \
	'"$1" sub --json "$2" | python3 -m json.tool --json-lines >/dev/null' _ "$nshm" "$n"

# MPMC, where the library has it: two producers at once into one ring, one
# consumer; every element arrives once (the order between producers is
# theirs to pick).
if "$nshm" create -k mpmc -e 16 -c 256 --max-producers 4 --max-consumers 2 \
	"$n-mp" >/dev/null 2>&1; then
	head -c 1600 /dev/urandom >"$tmp/mp"
	head -c 800 "$tmp/mp" >"$tmp/mp1"
	tail -c 800 "$tmp/mp" >"$tmp/mp2"
	"$nshm" pub --raw "$n-mp" <"$tmp/mp1" &
	p1=$!
	"$nshm" pub --raw "$n-mp" <"$tmp/mp2"
	wait "$p1"
	check "mpmc roles" 0 "producers 0 live of 4, consumers 0 live of 2" -- \
		"$nshm" info "$n-mp"
	"$nshm" sub --raw "$n-mp" >"$tmp/mpout"
	ok "mpmc: each element once" cmp -s <(od -An -tx1 -w16 "$tmp/mp" | sort) \
		<(od -An -tx1 -w16 "$tmp/mpout" | sort)
	json "mpmc info --json" "$nshm" info --json "$n-mp"
	"$nshm" rm "$n-mp"
fi

# Broadcast, where the library has it (lossy: the writer never waits).
# Everything still in the ring reaches a subscriber that starts late; one
# stopped while the writer laps it is told exactly what it missed.
if "$nshm" create -k broadcast -e 16 -c 16 "$n-bc" >/dev/null 2>&1; then
	head -c 160 /dev/urandom >"$tmp/bc"
	"$nshm" pub --raw "$n-bc" <"$tmp/bc"
	"$nshm" sub --raw "$n-bc" >"$tmp/bcout"
	ok "broadcast: a late subscriber gets all 10" cmp -s "$tmp/bc" "$tmp/bcout"
	"$nshm" rm "$n-bc"
	"$nshm" create -k broadcast -e 16 -c 16 "$n-bc" >/dev/null
	"$nshm" sub --json "$n-bc" >"$tmp/bcjson" &
	subpid=$!
	# One writer for all 101 messages (a writer that closes would end
	# the subscriber's read: drained, -EPIPE), fed through a FIFO. The
	# subscriber reads (and prints) the first before it is stopped, so
	# it has joined and stands at index 1 (a stop between its mapping
	# and its join would make it join late, lapped by nobody).
	mkfifo "$tmp/bcfifo"
	"$nshm" pub --raw "$n-bc" <"$tmp/bcfifo" &
	pubpid=$!
	exec 7>"$tmp/bcfifo"
	head -c 16 /dev/urandom >"$tmp/bc1"
	cat "$tmp/bc1" >&7
	for _ in $(seq 600); do # up to 30 s: a loaded machine, ASan
		grep -q hex "$tmp/bcjson" && break
		sleep 0.05
	done
	ok "broadcast: the subscriber read the first message" \
		grep -q hex "$tmp/bcjson"
	kill -STOP "$subpid"
	head -c 1600 /dev/urandom >"$tmp/bc100"
	cat "$tmp/bc100" >&7 # 100 more, lapping the stopped reader
	exec 7>&-
	wait "$pubpid"
	kill -CONT "$subpid"
	wait "$subpid"
	ok "broadcast: lapped subscriber ends at 0" [ $? -eq 0 ]
	ok "broadcast: received + missed == published" python3 -c '
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
missed = sum(o.get("missed", 0) for o in lines)
got = [o["hex"] for o in lines if "hex" in o]
data = open(sys.argv[3], "rb").read() + open(sys.argv[2], "rb").read()
want = [data[i:i + 16].hex() for i in range(0, len(data), 16)]
assert missed > 0 and len(got) + missed == 101, (missed, len(got))
assert got[0] == want[0], "not the first message first"
assert got[1:] == want[101 - len(got) + 1:], "not the newest, in order"
' "$tmp/bcjson" "$tmp/bc100" "$tmp/bc1"
	"$nshm" rm "$n-bc"
fi

# Records, where the library has it: variable lengths (0 too) and a type id
# per record; raw framing (4-byte LE length) round-trips random bytes.
if "$nshm" create -k records -c 4096 --record-max 512 "$n-rec" >/dev/null 2>&1; then
	printf 'hello\n\nworld wide\n' | "$nshm" pub --text --type 7 "$n-rec"
	"$nshm" sub --json "$n-rec" >"$tmp/recjson"
	ok "records: lengths and types" python3 -c '
import json, sys
got = [json.loads(l) for l in open(sys.argv[1])]
want = [(5, "hello"), (0, ""), (10, "world wide")]
assert [(o["size"], bytes.fromhex(o["hex"]).decode()) for o in got] == want, got
assert all(o["type"] == 7 for o in got), got
' "$tmp/recjson"
	python3 -c '
import os, struct, sys
sys.stdout.buffer.write(b"".join(struct.pack("<I", n) + os.urandom(n)
                                 for n in (0, 1, 17, 300, 512, 3)))' >"$tmp/rec"
	"$nshm" pub --raw "$n-rec" <"$tmp/rec"
	"$nshm" sub --raw "$n-rec" >"$tmp/recout"
	ok "records: raw round trip is byte-exact" cmp -s "$tmp/rec" "$tmp/recout"
	check "records: too long" 1 "a 513-byte record, the ring's largest is 512" -- \
		bash -c 'python3 -c "import sys; sys.stdout.buffer.write(b\"\\x01\\x02\\0\\0\" + b\"x\" * 513)" | "$1" pub --raw "$2"' _ "$nshm" "$n-rec"
	check "records: info in bytes" 0 "capacity +4096 bytes of records" -- "$nshm" info "$n-rec"
	json "records: info --json" "$nshm" info --json "$n-rec"
	"$nshm" rm "$n-rec"
fi

# --- failures and their exit codes ------------------------------------------
check "pub bad hex" 1 "line 1: not hex" -- "$nshm" pub "$n" <<<"zz"
check "pub line too long" 1 "more than the element's 24 bytes" -- \
	"$nshm" pub "$n" <<<"$(printf '%050d' 0)"
check "pub raw partial" 1 "not a whole 24-byte element" -- \
	"$nshm" pub --raw "$n" < <(head -c 30 /dev/zero)
"$nshm" sub -n 1 "$n" >/dev/null # the whole element before the partial one
check "pub into a raw segment" 9 "not a ring" -- "$nshm" pub "$n-raw" </dev/null
check "sub missing" 3 "No such file" -- "$nshm" sub "$n-none"
check "info missing" 3 "No such file" -- "$nshm" info "$n-none"
check "rm missing" 3 "No such file" -- "$nshm" rm "$n-none"
check "rm several, first failure" 3 "No such file" -- "$nshm" rm "$n-none" "$n-b"
check "create unknown kind" 2 "unknown ring kind" -- "$nshm" create -k fifo -e 8 -c 8 "$n-b"
# A kind in the table goes through to the library: made where the library
# has it, else refused with status 1 (broadcast is reserved today).
"$nshm" create -k broadcast -e 8 -c 8 "$n-k" >"$tmp/kind" 2>&1
case $? in
0) ok "create broadcast (the library has it)" grep -q "created broadcast ring" "$tmp/kind"
   "$nshm" rm "$n-k" ;;
*) check "create reserved kind" 1 "no broadcast rings yet" -- \
	"$nshm" create -k broadcast -e 8 -c 8 "$n-k" ;;
esac
check "create ring without size" 2 "needs --elem-size and --capacity" -- \
	"$nshm" create -k spsc "$n-b"
check "create ring bad capacity" 1 "Invalid argument" -- \
	"$nshm" create -k spsc -e 8 -c 3 "$n-b"
check "bad name" 11 "invalid segment name" -- "$nshm" info "a/b"

# A second consumer while one lives (waiting: no producer yet): busy.
"$nshm" create -k spsc -e 8 -c 8 "$n-b" >/dev/null
"$nshm" sub "$n-b" >/dev/null &
subpid=$!
wait_for bash -c '"$1" info "$2" | grep -q "consumer *alive"' _ "$nshm" "$n-b"
check "second consumer busy" 10 "busy" -- "$nshm" sub "$n-b"
kill -INT "$subpid"
wait "$subpid"
ok "sub exits 0 on SIGINT" [ $? -eq 0 ]
check "SIGINT gives the role back" 0 "consumer +closed" -- "$nshm" info "$n-b"

# Another layout version (ring config version word, at area + 4).
"$nshm" create -k spsc -e 8 -c 8 "$n-ver" >/dev/null
printf '\x63' | dd of="/dev/shm/$n-ver" bs=1 seek=$((4096 + 4)) conv=notrunc 2>/dev/null
check "other layout version" 5 "layout version 99" -- "$nshm" info "$n-ver"
check "watch other layout version" 5 "layout version 99" -- "$nshm" watch -n 1 "$n-ver"
# A corrupt header (capacity word changed: the config checksum fails).
"$nshm" create -k spsc -e 8 -c 8 "$n-bad" >/dev/null
printf '\x63' | dd of="/dev/shm/$n-bad" bs=1 seek=$((4096 + 16)) conv=notrunc 2>/dev/null
check "corrupt ring header" 7 "checksum mismatch" -- "$nshm" info "$n-bad"
check "ls shows it corrupt" 0 "^$n-bad .*checksum mismatch" -- "$nshm" ls "$n-bad"
check "sub on corrupt ring" 7 "checksum mismatch" -- "$nshm" sub "$n-bad"
# A corrupt segment header (its name bytes: the header checksum fails).
printf 'X' | dd of="/dev/shm/$n-raw" bs=1 seek=100 conv=notrunc 2>/dev/null
check "corrupt segment header" 7 "header checksum" -- "$nshm" info "$n-raw"
# Foreign file: not an nshm segment.
head -c 8192 /dev/urandom >"/dev/shm/$n-junk"
check "not an nshm segment" 4 "not an nshm segment" -- "$nshm" info "$n-junk"
check "rm leaves it alone" 4 "left alone" -- "$nshm" rm "$n-junk"
rm -f "/dev/shm/$n-junk"
# Permission denied: another user, mode 0600.
"$nshm" create -k spsc -e 8 -c 8 "$n-perm" >/dev/null
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
	check "permission denied" 6 "Permission denied" -- \
		setpriv --reuid=65534 --regid=65534 --clear-groups "$nshm" info "$n-perm"
	check "rm permission denied" 6 "Permission denied" -- \
		setpriv --reuid=65534 --regid=65534 --clear-groups "$nshm" rm "$n-perm"
else
	chmod 200 "/dev/shm/$n-perm"
	check "permission denied" 6 "Permission denied" -- "$nshm" info "$n-perm"
fi
finish
