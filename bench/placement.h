/* SPDX-License-Identifier: MIT */
#ifndef NSHM_BENCH_PLACEMENT_H
#define NSHM_BENCH_PLACEMENT_H

#include <stdbool.h>

#include "bench.h"

/*
 * Where the benchmark's processes run. With hwloc: cores that share the
 * deepest cache level, one PU of each (no two SMT siblings of one core
 * unless the machine has too few cores); without a shared cache, any cores;
 * with fewer CPUs than processes, unpinned.
 */
struct placement {
	int n;			   /* CPUs chosen */
	int cpu[BENCH_MAX_PROCS];  /* OS CPU numbers */
	bool pinned;		   /* false: run unpinned */
	bool smt_siblings;	   /* some chosen PUs share a core */
	char method[32];	   /* "hwloc", "--cpus", "sched_getaffinity" */
	char shared_cache[64];	   /* e.g. "L3 (32 MiB)", or "none" / "unknown" */
	char desc[320];		   /* one sentence for the report */
};

/* Choose @p n CPUs. @p override: "A,B,..." from --cpus, or NULL.
 * @return 0 or a negative errno (bad --cpus). */
int placement_choose(struct placement *pl, int n, const char *override);

/* Pin the calling process to the CPU of role @p role (no-op unpinned).
 * @return 0 or a negative errno. */
int placement_pin(const struct placement *pl, int role);

#endif /* NSHM_BENCH_PLACEMENT_H */
