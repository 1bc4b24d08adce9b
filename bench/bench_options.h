/* SPDX-License-Identifier: MIT */
#ifndef NSHM_BENCH_OPTIONS_H
#define NSHM_BENCH_OPTIONS_H

/* nshm-bench's command line (bench_options.c) and the transports it knows. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bench.h"
#include "bench_report.h"

#define BENCH_MAX_TRANSPORTS 32
#define MAX_SIZES 32
#define MAX_CASES 512
#define MAX_PCS 16

struct options {
	bool quick;
	size_t sizes[MAX_SIZES];
	unsigned nsizes;
	const struct transport *tps[BENCH_MAX_TRANSPORTS];
	unsigned ntps;
	unsigned modes;
	unsigned reps;
	uint64_t msgs, rtt_iters, budget_ms;
	size_t ring_bytes;
	unsigned capacity;
	unsigned mq_depth;
	const char *json, *plot, *cpus;
	bool mono;
	bool no_tput, no_rtt;
	bool selected;	      /* --transports/--sizes/--modes: not a full run */
	bool sizes_given;     /* --sizes: MPMC transports run these too */
	bool pcs_given;	      /* --pc */
	/* Producer x consumer configurations of the MPMC transports. */
	struct { unsigned p, c; bool sweep; } pcs[MAX_PCS];
	unsigned npcs;
	struct nb_options nb; /* the neighbour experiment (neighbour.c) */
};

/* Parse the command line into @p o (exits with usage on a bad one). */
void parse_args(int argc, char **argv, struct options *o);
/* Print to stderr and exit(2). */
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* Ring slots for messages of @p size under @p o (--capacity, --ring-bytes). */
unsigned capacity_for(const struct options *o, size_t size);

#endif /* NSHM_BENCH_OPTIONS_H */
