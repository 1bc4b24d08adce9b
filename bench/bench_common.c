/* SPDX-License-Identifier: MIT */
/* nshm-bench: the clock, the start barrier, shared memory, error notes. */
#include "bench.h"

#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

struct bench_clock bench_clk = { .tsc = false, .ns_per_tick = 1.0 };

static bool cpu_has_flag(const char *flag)
{
	char line[8192];
	bool found = false;
	FILE *f = fopen("/proc/cpuinfo", "r");

	if (f == NULL)
		return false;
	while (fgets(line, sizeof(line), f) != NULL) {
		char *p;

		if (strncmp(line, "flags", 5) != 0)
			continue;
		for (p = strtok(line, " \t\n"); p; p = strtok(NULL, " \t\n"))
			if (strcmp(p, flag) == 0)
				found = true;
		break; /* the first CPU speaks for all */
	}
	fclose(f);
	return found;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t gcd_u64(uint64_t a, uint64_t b)
{
	while (b != 0) {
		uint64_t t = a % b;

		a = b;
		b = t;
	}
	return a;
}

/*
 * The median cost of one timestamp, and the clock's step: the greatest
 * common divisor of back-to-back differences. Some hypervisors advance the
 * guest's TSC in steps (26 ticks, 10 ns, on the KVM guests this project
 * is measured on), so every latency sample is a multiple of that step; the
 * percentiles then interpolate within it (hdr_percentile_q()).
 */
static double stamp_overhead_ns(void)
{
	enum { N = 2001 };
	static uint64_t t[N], d[N - 1];
	uint64_t g = 0;

	for (int i = 0; i < N; i++)
		t[i] = bench_now();
	for (int i = 0; i < N - 1; i++) {
		d[i] = t[i + 1] - t[i];
		g = gcd_u64(d[i], g);
	}
	bench_clk.quantum = g ? g : 1;
	qsort(d, N - 1, sizeof(d[0]), cmp_u64);
	return ticks_to_ns((double)d[(N - 1) / 2]);
}

/* "; readings step by N ticks (x ns)" when the clock moves in steps. */
static void clock_desc_step(void)
{
	size_t n = strlen(bench_clk.desc);

	if (bench_clk.quantum > 1)
		snprintf(bench_clk.desc + n, sizeof(bench_clk.desc) - n,
			 "; readings step by %llu ticks (%.1f ns): "
			 "percentiles interpolate within a step",
			 (unsigned long long)bench_clk.quantum,
			 ticks_to_ns((double)bench_clk.quantum));
}

void bench_clock_init(bool force_mono, unsigned calib_ms)
{
	bool inv = BENCH_HAVE_TSC && cpu_has_flag("constant_tsc") &&
		   cpu_has_flag("nonstop_tsc");

	if (inv && !force_mono) {
		struct timespec ts = { .tv_sec = calib_ms / 1000,
				       .tv_nsec = (long)(calib_ms % 1000) *
						  1000000L };
		uint64_t a0 = tsc_now(), m0 = mono_ns(), b0 = tsc_now();
		uint64_t a1, m1, b1;

		nanosleep(&ts, NULL);
		a1 = tsc_now();
		m1 = mono_ns();
		b1 = tsc_now();
		/* The monotonic reading sits between the two TSC reads. */
		bench_clk.ns_per_tick = (double)(m1 - m0) /
					((double)(a1 + b1) / 2.0 -
					 (double)(a0 + b0) / 2.0);
		bench_clk.tsc = true;
		bench_clk.overhead_ns = stamp_overhead_ns();
		snprintf(bench_clk.desc, sizeof(bench_clk.desc),
			 "TSC (rdtscp+lfence), %.3f GHz calibrated against "
			 "CLOCK_MONOTONIC over %u ms; one stamp costs %.0f ns",
			 1.0 / bench_clk.ns_per_tick, calib_ms,
			 bench_clk.overhead_ns);
	} else {
		bench_clk.tsc = false;
		bench_clk.ns_per_tick = 1.0;
		bench_clk.overhead_ns = stamp_overhead_ns();
		snprintf(bench_clk.desc, sizeof(bench_clk.desc),
			 "clock_gettime(CLOCK_MONOTONIC)%s; one stamp costs "
			 "%.0f ns",
			 force_mono ? " (asked for)" :
				      " (no invariant TSC)",
			 bench_clk.overhead_ns);
	}
	clock_desc_step();
}

void side_fail(struct side_result *r, int err, const char *fmt, ...)
{
	va_list ap;

	if (r->err != 0 || r->msg[0] != '\0')
		return; /* keep the first problem */
	r->err = err ? err : -1;
	va_start(ap, fmt);
	vsnprintf(r->msg, sizeof(r->msg), fmt, ap);
	va_end(ap);
}

void bench_barrier(struct bench_ctl *ctl)
{
	unsigned spins = 0;

	/* A1: pairs with A1 in the other children: everyone has attached. */
	atomic_fetch_add_explicit(&ctl->arrived, 1, memory_order_acq_rel);
	while (atomic_load_explicit(&ctl->arrived, memory_order_acquire) <
	       ctl->nprocs) {
		if (++spins % 256 == 0)
			sched_yield(); /* one CPU, or an unpinned run */
		else
			cpu_relax();
	}
}

void *bench_shared_alloc(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	memset(p, 0, size); /* fault in every page before anyone measures */
	return p;
}

void bench_shared_free(void *p, size_t size)
{
	if (p != NULL)
		munmap(p, size);
}
