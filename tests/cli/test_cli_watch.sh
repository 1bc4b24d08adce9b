#!/usr/bin/env bash
# nshm watch -n 3 --json: the rate it reports matches what a producer sent.
#
# The producer is `nshm pub --rate 2000`, paced on an absolute schedule
# (element k is due at t0 + k/2000), with a consumer draining the ring so
# it never fills. watch measures each interval itself (CLOCK_MONOTONIC
# around the two snapshots) and pushed is the ring's exact tail index, so
# over a 0.5 s sample the only error is the producer being late at the
# sample's edges: a few elements of phase, plus a scheduling stall on a
# busy CI machine (50 ms = 10% of a sample, and the paced producer catches
# up right after). Hence: each sample within 25% of 2000/s, the mean of the
# three within 10%; and, exactly, rate * interval == the pushed delta.
nshm=$1
. "$(dirname "$0")/lib.sh"
n="nshmt-cliw-$$"
tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
	wait 2>/dev/null
	"$nshm" rm "$n" >/dev/null 2>&1
	rm -rf "$tmp"
}
trap cleanup EXIT

"$nshm" create -k spsc -e 8 -c 1024 "$n" >/dev/null
"$nshm" sub "$n" >/dev/null &
pids+=($!)
"$nshm" pub --rate 2000 "$n" < <(yes 0102030405060708) &
pids+=($!)
wait_for bash -c '"$1" info "$2" | grep -q "pushed *[1-9]"' _ "$nshm" "$n"

"$nshm" watch -n 3 -i 0.5 --json "$n" >"$tmp/w.json"
ok "watch -n 3 exits 0" [ $? -eq 0 ]
ok "every line is JSON" python3 -m json.tool --json-lines "$tmp/w.json" /dev/null
ok "three samples at the producer's rate" python3 -c '
import json, sys
s = [json.loads(l) for l in open(sys.argv[1])]
assert len(s) == 3, len(s)
rates = []
for i, o in enumerate(s):
    r = o["rings"][0]
    assert r["name"] == sys.argv[2] and r["error"] is None, r
    assert r["producer"] == "alive" and r["consumer"] == "alive", r
    assert abs(o["interval"] - 0.5) < 0.25, o["interval"]
    assert abs(r["push_rate"] - 2000) <= 500, ("sample", i, r["push_rate"])
    assert r["push_bytes_rate"] == r["push_rate"] * 8 or \
        abs(r["push_bytes_rate"] - r["push_rate"] * 8) < 0.01, r
    if i:  # the rate is the exact counter delta over the measured interval
        d = r["pushed"] - s[i - 1]["rings"][0]["pushed"]
        assert abs(r["push_rate"] * o["interval"] - d) < 0.01, (d, r, o)
    rates.append(r["push_rate"])
mean = sum(rates) / 3
assert abs(mean - 2000) <= 200, ("mean", mean, rates)
print("rates", rates)
' "$tmp/w.json" "$n"

# Plain lines when stdout is not a terminal.
check "plain line" 0 "^[0-9.]+ $n push/s [0-9.]+k? pop/s .* producer alive consumer alive" -- \
	"$nshm" watch -n 1 -i 0.2 "$n"
check "watch missing" 3 "No such file" -- "$nshm" watch -n 1 "$n-none"
check "watch bad interval" 2 "bad interval" -- "$nshm" watch -i 0 "$n"
finish
