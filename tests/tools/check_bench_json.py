#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Check the JSON written by nshm-bench --json: it parses and every case has
the keys the README and CI rely on. No timing is asserted."""
import json
import sys

CASE_KEYS = ("transport", "mode", "size", "producers", "consumers",
             "msgs_per_s", "gb_per_s", "rtt_ns", "placement", "skipped",
             "note", "reps", "capacity", "rtt_samples", "per_rep",
             "latency_only")
RTT_KEYS = ("p50", "p90", "p99", "p999", "max")
TOP_KEYS = ("tool", "date", "cpu_model", "ncpus", "clock", "placement",
            "options", "cases", "notes", "neighbour")
# The neighbour experiment (issue 9): in a full or plain --quick run; with
# --neighbour on the command line it must be there.
NB_KEYS = ("ran", "note", "transport", "mode", "size", "period_us", "run_ms",
           "sched", "cpus", "shared_cpus", "placement", "reps",
           "reps_counted", "median_ratio", "median_p999_ns",
           "pair_cpu_ipis_per_s", "consumer_parks_per_s", "parks_per_msg",
           "cpu_pct", "cpu_us_per_msg", "target")
NB_PAIR_KEYS = ("p50", "p99", "p999", "p9999", "max", "samples", "over_10us",
                "ipis", "wall_s")
NB_NB_KEYS = ("msgs", "consumer_parks", "producer_wakeups", "wall_s",
              "consumer_parks_per_s", "cpu_pct", "cpu_us_per_msg")
RATIO_KEYS = ("p50", "p99", "p999")


def fail(msg):
    print("check_bench_json: " + msg, file=sys.stderr)
    sys.exit(1)


def check_neighbour(nb):
    """Every field exists and the run measured something; no timing is
    asserted (PASS/MISS is printed, never enforced)."""
    for k in NB_KEYS:
        if k not in nb:
            fail("neighbour: missing %r" % k)
    if not nb["ran"]:
        fail("neighbour: did not run: %s" % nb["note"])
    for k in ("ping", "pong", "nb_producer", "nb_consumer"):
        if k not in nb["cpus"]:
            fail("neighbour: cpus lacks %r" % k)
    for k in RATIO_KEYS:
        if nb["median_ratio"].get(k) is None:
            fail("neighbour: median_ratio.%s missing" % k)
    t = nb["target"]
    if t.get("p999_max_x_alone") != 1.1 or t.get("result") not in ("PASS",
                                                                  "MISS"):
        fail("neighbour: target %r" % t)
    if not nb["reps"]:
        fail("neighbour: no repetition")
    for i, r in enumerate(nb["reps"]):
        for side in ("alone", "beside"):
            for k in NB_PAIR_KEYS:
                if k not in r.get(side, {}):
                    fail("neighbour rep %d: %s lacks %r" % (i, side, k))
            if not r[side]["samples"] or r[side]["p999"] is None:
                fail("neighbour rep %d: %s measured nothing" % (i, side))
        for k in NB_NB_KEYS:
            if k not in r.get("neighbour", {}):
                fail("neighbour rep %d: neighbour lacks %r" % (i, k))
        if not r["neighbour"]["msgs"]:
            fail("neighbour rep %d: the neighbour sent nothing" % i)
        for k in RATIO_KEYS:
            if r.get("ratio", {}).get(k) is None:
                fail("neighbour rep %d: ratio.%s missing" % (i, k))
        if "counted" not in r:
            fail("neighbour rep %d: missing 'counted'" % i)
    if not 1 <= nb["reps_counted"] <= len(nb["reps"]):
        fail("neighbour: reps_counted %r" % nb["reps_counted"])


def main(path, want_neighbour):
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    for k in TOP_KEYS:
        if k not in doc:
            fail("top level: missing %r" % k)
    if doc["neighbour"] is not None:
        check_neighbour(doc["neighbour"])
    elif want_neighbour:
        fail("the neighbour experiment did not run (it is part of a "
             "plain --quick run)")
    cases = doc["cases"]
    if not cases and doc["neighbour"] is not None:  # --neighbour alone
        print("check_bench_json: neighbour only, p99.9 x%.2f: OK"
              % doc["neighbour"]["median_ratio"]["p999"])
        return
    if not cases:
        fail("no cases")
    measured = 0
    for c in cases:
        name = "%s/%s/%s" % (c.get("transport"), c.get("mode"), c.get("size"))
        for k in CASE_KEYS:
            if k not in c:
                fail("%s: missing %r" % (name, k))
        for k in RTT_KEYS:
            if k not in c["rtt_ns"]:
                fail("%s: rtt_ns lacks %r" % (name, k))
        for k in ("cpus", "pinned"):
            if k not in c["placement"]:
                fail("%s: placement lacks %r" % (name, k))
        if c["mode"] not in ("spin", "block"):
            fail("%s: mode %r" % (name, c["mode"]))
        if c["skipped"]:
            continue
        if c["note"]:
            fail("%s: failed: %s" % (name, c["note"]))
        if c["latency_only"]:
            if c["msgs_per_s"] is not None:
                fail("%s: latency only, but has a throughput" % name)
        elif c["msgs_per_s"] is None or c["msgs_per_s"] <= 0:
            fail("%s: no throughput" % name)
        if c["transport"].startswith("nshm") and "ratios" in c:
            x = c["ratios"]
            if x["rtt_p50_x_hw"] is None or x["rtt_p50_x_hw_ring"] is None:
                fail("%s: ratio to hw or hw-ring missing" % name)
        if c["rtt_ns"]["p50"] is None or c["rtt_ns"]["p50"] <= 0:
            fail("%s: no round-trip time" % name)
        r = c["rtt_ns"]
        if not r["p50"] <= r["p90"] <= r["p99"] <= r["p999"] <= r["max"] * 1.01:
            # medians of percentiles over reps stay ordered; max is the
            # largest of all reps
            fail("%s: percentiles out of order: %r" % (name, r))
        measured += 1
    if measured == 0:
        fail("every case was skipped")
    for floor in ("hw", "hw-ring"):
        if not any(c["transport"] == floor and not c["skipped"]
                   for c in cases):
            fail("the hardware floor %s did not run" % floor)
    print("check_bench_json: %d cases, %d measured%s: OK"
          % (len(cases), measured,
             ", neighbour p99.9 x%.2f" % doc["neighbour"]["median_ratio"]["p999"]
             if doc["neighbour"] else ""))


if __name__ == "__main__":
    args = sys.argv[1:]
    want = "--neighbour" in args
    args = [a for a in args if a != "--neighbour"]
    if len(args) != 1:
        fail("usage: check_bench_json.py [--neighbour] FILE "
             "(--neighbour: it must have run)")
    main(args[0], want)
