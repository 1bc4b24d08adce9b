/* SPDX-License-Identifier: MIT */
#ifndef NSHM_BENCH_REPORT_H
#define NSHM_BENCH_REPORT_H

/* nshm-bench: per-case results and how they are reported. */

#include <stdbool.h>
#include <stdint.h>
#include <signal.h>
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

/* ---- the neighbour experiment (neighbour.c, doc/bench.md) ------------- */

enum nb_sched { NB_SCHED_AUTO = 0, NB_SCHED_FIFO, NB_SCHED_OTHER };

struct nb_options {
	bool run;	    /* run the experiment */
	bool only;	    /* and nothing else (--neighbour alone) */
	unsigned period_us; /* the neighbour's producer sends every ... (0:
			       by placement, see neighbour.c) */
	unsigned run_ms;    /* each alone / beside run lasts ... */
	unsigned reps;	    /* alone/beside pairs */
	enum nb_sched sched;
	const char *cpus;   /* --cpus, or NULL */
};

/* One run of the spinning pair. Times in ns. */
struct nb_pair {
	bool ok;
	double p50, p99, p999, p9999, max;
	uint64_t samples;
	uint64_t over_10us; /* round trips of 10 us or more: stalls */
	uint64_t ipis;	    /* function-call IPIs the pair's CPUs got */
	double wall_s;	    /* the whole run, fork to exit */
};

struct nb_rep {
	struct nb_pair alone, beside;
	/* The neighbour ring during the beside run. */
	bool nb_ok;
	uint64_t nb_msgs;	   /* messages its consumer received */
	uint64_t consumer_parks;   /* nshm_ring_stats() of its ring */
	uint64_t producer_wakeups;
	uint64_t empty_waits;
	double nb_wall_s;	   /* how long its producer ran */
	double parks_per_s;	   /* consumer_parks / nb_wall_s */
	double cpu_pct;		   /* its two processes' CPU time, in % of
				      one CPU over nb_wall_s */
	double cpu_us_per_msg;	   /* the same per message, in us */
	double r_p50, r_p99, r_p999; /* beside / alone */
	bool counted;		   /* in the medians (enough samples) */
};

#define NB_TARGET_P999 1.10 /* issue 9: at most +10 % at p99.9 */

struct nb_result {
	bool ran;
	char note[240];		/* why it failed or was cut short */
	const char *transport;	/* the pair's transport: nshm-spsc */
	const char *mode;	/* "spin" */
	size_t size;		/* 64 */
	unsigned capacity;	/* slots of every ring */
	unsigned period_us, run_ms;
	char sched[48];		/* the neighbour's policy, as used */
	struct placement pl;	/* CPU slots; roles map onto them */
	int slot[4];		/* slot of ping, pong, nb producer, nb
				   consumer in pl */
	int cpu[4];		/* their OS CPUs (-1: unpinned) */
	bool shared;		/* the neighbour shares CPUs with the pair */
	unsigned nreps;
	unsigned ncounted;	/* repetitions the medians take */
	struct nb_rep reps[BENCH_MAX_REPS];
	/* Medians over the repetitions. */
	double r_p50, r_p99, r_p999;
	double parks_per_s, cpu_pct, parks_per_msg, cpu_us_per_msg;
	double alone_p999, beside_p999;
	double alone_ipis_per_s, beside_ipis_per_s; /* pair's CPUs, both */
};

/*
 * Run the experiment: o->reps times, the pair alone, then the pair beside
 * the neighbour. @p main_pl: the run's placement (two CPUs). Stops early
 * when *stop becomes non-zero. Fills @p out (out->ran, or out->note).
 */
void neighbour_run(const struct nb_options *o, const struct placement *main_pl,
		   struct nb_result *out, const volatile sig_atomic_t *stop);

struct run_info {
	char date[40];	      /* ISO 8601, UTC */
	char cpu_model[128];
	int ncpus_online;
	char kernel[200];
	char clock[240];
	struct placement pl;
	struct placement pl_multi; /* cases of more than two processes */
	unsigned reps;
	uint64_t msgs, rtt_iters, budget_ms;
	bool quick;
	double wall_s;
	const struct nb_result *nb; /* NULL: the experiment did not run */
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

/*
 * The MPMC section (issue 10, report_mpmc.c): P x C table, same-run
 * ratios and targets; and its "mpmc" JSON object (null without an
 * nshm-mpmc case).
 */
void report_mpmc_table(FILE *f, const struct case_result *res, unsigned n);
void report_mpmc_json(FILE *f, const struct case_result *res, unsigned n);

#endif /* NSHM_BENCH_REPORT_H */
