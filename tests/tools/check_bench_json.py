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
            "options", "cases", "notes", "neighbour", "mpmc")
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
# The MPMC section (issue 10): null unless an MPMC transport ran.
MPMC_CONFIG_KEYS = ("transport", "mode", "size", "producers", "consumers",
                    "skipped", "msgs_per_s", "x_own_1x1", "reps_ok", "reps")
MPMC_TARGET_KEYS = ("name", "mode", "what", "ratio", "limit", "at_least",
                    "result")


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


def check_mpmc(doc):
    """The MPMC section: every key; a target for each comparison whose
    cases ran; every measured P x C case delivered in every repetition."""
    m = doc["mpmc"]
    for k in ("issue", "size", "configs", "targets"):
        if k not in m:
            fail("mpmc: missing %r" % k)
    for c in m["configs"]:
        for k in MPMC_CONFIG_KEYS:
            if k not in c:
                fail("mpmc config %r: missing %r" % (c, k))
        if not c["skipped"] and c["reps_ok"] != c["reps"]:
            fail("mpmc %s/%s %dx%d: delivered in %d of %d repetitions"
                 % (c["transport"], c["mode"], c["producers"],
                    c["consumers"], c["reps_ok"], c["reps"]))
    names = set()
    for t in m["targets"]:
        for k in MPMC_TARGET_KEYS:
            if k not in t:
                fail("mpmc target %r: missing %r" % (t, k))
        if t["result"] not in ("PASS", "MISS", "n/a"):
            fail("mpmc target %s: result %r" % (t["name"], t["result"]))
        names.add((t["name"], t["mode"]))

    def ran(tp, mode, p, c):
        return any(x["transport"] == tp and x["mode"] == mode and
                   x["size"] == m["size"] and x["producers"] == p and
                   x["consumers"] == c and not x["skipped"]
                   for x in doc["cases"])
    for mode in ("spin", "block"):
        if not ran("nshm-mpmc", mode, 1, 1):
            continue
        for vs, key in (("nshm-spsc", "tput_1x1_x_nshm_spsc"),
                        ("nshm-spsc", "rtt_p50_1x1_x_nshm_spsc"),
                        ("mpmc-floor", "tput_1x1_x_mpmc_floor"),
                        ("ck-mpmc", "tput_1x1_x_ck_mpmc")):
            if (ran(vs, mode, 1, 1) or ran(vs, "spin", 1, 1)) and \
                    (key, mode) not in names:
                fail("mpmc: target %s (%s) missing" % (key, mode))
        if mode == "block" and ran("nshm-mpmc", mode, 4, 4):
            for key in ("delivered_4x4", "tput_4x4_x_own_1x1"):
                if (key, mode) not in names:
                    fail("mpmc: target %s missing" % key)


def main(path, want_neighbour):
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    for k in TOP_KEYS:
        if k not in doc:
            fail("top level: missing %r" % k)
    if doc["neighbour"] is not None:
        check_neighbour(doc["neighbour"])
    if doc["mpmc"] is not None:
        check_mpmc(doc)
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
        if c["producers"] != 1 or c["consumers"] != 1:
            # P x C (MPMC): throughput only, no round trip, no ratios
            if c["rtt_ns"]["p50"] is not None:
                fail("%s %dx%d: a round trip on a P x C case"
                     % (name, c["producers"], c["consumers"]))
            measured += 1
            continue
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
