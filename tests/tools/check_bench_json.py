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
            "options", "cases", "notes")


def fail(msg):
    print("check_bench_json: " + msg, file=sys.stderr)
    sys.exit(1)


def main(path):
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    for k in TOP_KEYS:
        if k not in doc:
            fail("top level: missing %r" % k)
    cases = doc["cases"]
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
    print("check_bench_json: %d cases, %d measured: OK" % (len(cases), measured))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        fail("usage: check_bench_json.py FILE")
    main(sys.argv[1])
