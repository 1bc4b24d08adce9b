/* SPDX-License-Identifier: MIT */
#ifndef NSHM_BENCH_REPORT_H
#define NSHM_BENCH_REPORT_H

/* nshm-bench: per-case results and how they are reported. */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "bench.h"
#include "placement.h"

#define BENCH_MAX_REPS 64

struct case_def {
	const struct transport *tp;
	enum bench_mode mode;
	size_t size;
	unsigned producers, consumers;
};

/* One repetition of one case. Times in ns. */
struct rep_result {
	bool tput_ok, rtt_ok;
	double msgs_per_s, gb_per_s;
	uint64_t msgs;
	double p50, p90, p99, p999, max, mean;
	uint64_t samples;
};

struct case_result {
	struct case_def def;
	bool skipped;
	char note[240];	 /* why skipped, or the first error */
	unsigned capacity;
	unsigned nreps;
	struct rep_result reps[BENCH_MAX_REPS];
	/* Across repetitions: medians; max is the largest of all. */
	bool have_tput, have_rtt;
	double msgs_per_s, gb_per_s;
	uint64_t msgs;
	double p50, p90, p99, p999, max, mean;
	uint64_t samples;
	/* Half the range over repetitions, in % of the median: the noise. */
	double tput_spread, p50_spread;
};

struct run_info {
	char date[40];	      /* ISO 8601, UTC */
	char cpu_model[128];
	int ncpus_online;
	char kernel[200];
	char clock[240];
	struct placement pl;
	unsigned reps;
	uint64_t msgs, rtt_iters, budget_ms;
	bool quick;
	double wall_s;
};

/* Targets an nshm ring kind is checked against (from its issue). */
struct target {
	const char *transport;	/* e.g. "nshm-spsc" */
	const char *issue;	/* e.g. "issue 4" */
	double tput_min_x_hw;	/* throughput >= this x hw */
	double rtt_max_x_hw;	/* p50 RTT <= this x hw */
	size_t sizes[8];	/* sizes it covers, 0-terminated */
};

/* Notes printed once at the end (deduplicated). */
void bench_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

void report_finish(struct case_result *res, unsigned n);
void report_table(FILE *f, const struct run_info *ri,
		  const struct case_result *res, unsigned n);
int report_json(const char *path, const struct run_info *ri,
		const struct case_result *res, unsigned n);
int report_plot(const char *path, const struct run_info *ri,
		const struct case_result *res, unsigned n);

const char *mode_name(enum bench_mode m);

#endif /* NSHM_BENCH_REPORT_H */
