/* SPDX-License-Identifier: MIT */
/*
 * nshm-bench-sync: the sync layer against its baselines, in one run.
 *
 *   lock+unlock       nshm_mutex (robust, pshared, with bookkeeping)
 *                     vs. a bare glibc robust pshared pthread mutex
 *   notify, no waiter nshm_event_notify (inline) and nshm_event_notify_fn
 *                     vs. an empty loop and vs. a FUTEX_WAKE syscall
 *   wake-up latency   process A stores a timestamp, wakes process B parked
 *                     on the futex; B measures now - timestamp. Raw shared
 *                     futex ping-pong vs. nshm_event ping-pong (both park
 *                     at every turn, no spinning), same run, same CPUs.
 *
 * Usage: nshm-bench-sync [rounds]   (default 200000 wake-ups per run;
 *        3 alternating runs per latency variant, the quietest is shown)
 * Plain C, the library and pthread only. Not a test: it asserts nothing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <nshm/shm.h>
#include <nshm/sync.h>

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

struct stat2 {
	double median, p99;
};

static struct stat2 summarize(uint64_t *v, size_t n)
{
	struct stat2 s;

	qsort(v, n, sizeof(*v), cmp_u64);
	s.median = (double)v[n / 2];
	s.p99 = (double)v[(n * 99) / 100];
	return s;
}

static void pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set); /* best effort */
}

static long sys_futex(_Atomic(uint32_t) *w, int op, uint32_t v)
{
	return syscall(SYS_futex, w, op, v, NULL, NULL, 0);
}

/* ---- in-process micro benchmarks: ns per op, median/p99 of batches ---- */

#define BATCHES 200
#define REPS 3 /* alternating latency runs per variant */
#define BATCH 10000

static struct nshm_mutex *g_m;
static pthread_mutex_t *g_pm;
static struct nshm_event *g_ev;
static _Atomic(uint32_t) *g_word;

static void op_nshm_lock(void)
{
	nshm_mutex_lock(g_m, NULL);
	nshm_mutex_unlock(g_m);
}

static void op_pthread_lock(void)
{
	pthread_mutex_lock(g_pm);
	pthread_mutex_unlock(g_pm);
}

static void op_notify_inline(void)
{
	nshm_event_notify(g_ev);
}

static void op_notify_fn(void)
{
	nshm_event_notify_fn(g_ev);
}

static void op_empty(void)
{
	__asm__ __volatile__("" ::: "memory");
}

static void op_futex_wake(void)
{
	sys_futex(g_word, FUTEX_WAKE, 1);
}

static struct stat2 measure(void (*op)(void), int batches, int batch)
{
	static uint64_t v[BATCHES];

	for (int i = 0; i < batch; i++) /* warm up */
		op();
	for (int b = 0; b < batches; b++) {
		uint64_t t0 = now_ns();

		for (int i = 0; i < batch; i++)
			op();
		v[b] = now_ns() - t0;
	}
	{
		struct stat2 s = summarize(v, (size_t)batches);

		s.median /= batch;
		s.p99 /= batch;
		return s;
	}
}

/* ---- cross-process wake-up latency ------------------------------------ */

#define PP_OFFSET 1024 /* where struct pp sits in the caller's area */

struct pp {
	alignas(64) _Atomic(uint32_t) turn;   /* raw futex: 0 A's, 1 B's */
	alignas(64) _Atomic(uint32_t) seq;    /* event: even A's, odd B's */
	alignas(64) struct nshm_event ev[2];  /* ev[i]: side i parks here */
	alignas(64) _Atomic(uint64_t) t_send; /* sender's timestamp */
	alignas(64) _Atomic(uint32_t) start;
};

/* Raw futex: side @me waits for turn == me, then hands over. */
static void raw_side(struct pp *p, int me, uint32_t rounds, uint64_t *lat)
{
	for (uint32_t r = 0; r < rounds; r++) {
		uint32_t t;

		/* Acquire: pairs with the other side's release store. */
		while ((t = atomic_load_explicit(&p->turn,
						 memory_order_acquire)) !=
		       (uint32_t)me)
			sys_futex(&p->turn, FUTEX_WAIT, t);
		if (lat)
			lat[r] = now_ns() -
				 atomic_load_explicit(&p->t_send,
						      memory_order_relaxed);
		atomic_store_explicit(&p->t_send, now_ns(),
				      memory_order_relaxed);
		/* Release: pairs with the other side's acquire load. */
		atomic_store_explicit(&p->turn, 1u - (uint32_t)me,
				      memory_order_release);
		sys_futex(&p->turn, FUTEX_WAKE, 1);
	}
}

/* nshm_event: side @me waits for seq % 2 == me, then hands over. */
static void ev_side(struct pp *p, int me, uint32_t rounds, uint64_t *lat)
{
	for (uint32_t r = 0; r < rounds; r++) {
		for (;;) {
			uint32_t key;

			/* Acquire: pairs with the other side's release. */
			if (atomic_load_explicit(&p->seq,
						 memory_order_acquire) % 2u ==
			    (uint32_t)me)
				break;
			key = nshm_event_prepare(&p->ev[me]);
			if (atomic_load_explicit(&p->seq,
						 memory_order_acquire) % 2u ==
			    (uint32_t)me)
				break;
			nshm_event_wait(&p->ev[me], key, NULL);
		}
		if (lat)
			lat[r] = now_ns() -
				 atomic_load_explicit(&p->t_send,
						      memory_order_relaxed);
		atomic_store_explicit(&p->t_send, now_ns(),
				      memory_order_relaxed);
		/* Release: pairs with the other side's acquire load. */
		atomic_fetch_add_explicit(&p->seq, 1, memory_order_release);
		nshm_event_notify(&p->ev[1 - me]);
	}
}

static int ping_pong(const char *name, struct pp *p, bool raw,
		     uint32_t rounds, struct stat2 *out)
{
	uint64_t *lat = calloc(rounds, sizeof(*lat));
	pid_t pid;
	int status;

	if (lat == NULL)
		return -ENOMEM;
	atomic_store_explicit(&p->turn, 0, memory_order_relaxed);
	atomic_store_explicit(&p->seq, 0, memory_order_relaxed);
	nshm_event_init(&p->ev[0]);
	nshm_event_init(&p->ev[1]);
	atomic_store_explicit(&p->t_send, now_ns(), memory_order_relaxed);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		struct nshm_seg *s;
		struct pp *q;
		void *a;

		/* B maps the segment itself, at its own address. */
		if (nshm_seg_open(name, 0, 0, 0, &s) != 0 ||
		    nshm_seg_attach(s, 0, &a) != 0)
			_exit(1);
		q = (struct pp *)((char *)a + PP_OFFSET);
		pin(1);
		if (raw)
			raw_side(q, 1, rounds, NULL);
		else
			ev_side(q, 1, rounds, NULL);
		_exit(0);
	}
	pin(0);
	if (raw)
		raw_side(p, 0, rounds, lat);
	else
		ev_side(p, 0, rounds, lat);
	waitpid(pid, &status, 0);
	/* Drop the first sample: it measures the fork, not a wake-up. */
	*out = summarize(lat + 1, rounds - 1);
	free(lat);
	return 0;
}

int main(int argc, char **argv)
{
	uint32_t rounds = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 0)
				   : 200000u;
	char name[64];
	struct nshm_seg *seg;
	void *area;
	pthread_mutexattr_t attr;
	struct stat2 lk, plk, ni, nf, ne, fw;
	struct stat2 wraw = { 0, 0 }, wev = { 0, 0 };
	struct pp *p;
	int ret;

	if (rounds < 100)
		rounds = 100;
	snprintf(name, sizeof(name), "nshm-bench-sync-%ld", (long)getpid());
	ret = nshm_seg_open(name, 1 << 16, NSHM_CREATE | NSHM_EXCL, 0600,
			    &seg);
	if (ret == 0)
		ret = nshm_seg_attach(seg, 0, &area);
	if (ret != 0) {
		fprintf(stderr, "segment: %s (%s)\n", nshm_strerror(ret),
			nshm_errdetail());
		return 1;
	}
	g_m = area;
	nshm_mutex_init(g_m);
	g_pm = (pthread_mutex_t *)((char *)area + 128);
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
	pthread_mutex_init(g_pm, &attr);
	g_ev = (struct nshm_event *)((char *)area + 256);
	nshm_event_init(g_ev);
	g_word = (_Atomic(uint32_t) *)((char *)area + 320);
	p = (struct pp *)((char *)area + PP_OFFSET);

	pin(0);
	lk = measure(op_nshm_lock, BATCHES, BATCH);
	plk = measure(op_pthread_lock, BATCHES, BATCH);
	ni = measure(op_notify_inline, BATCHES, BATCH);
	nf = measure(op_notify_fn, BATCHES, BATCH);
	ne = measure(op_empty, BATCHES, BATCH);
	fw = measure(op_futex_wake, 50, 2000);
	/*
	 * Alternate raw / event REPS times and keep each variant's quietest
	 * run (lowest median): both get the same chances on a shared box.
	 */
	for (int k = 0; k < REPS; k++) {
		struct stat2 a, b;

		ping_pong(name, p, true, rounds, &a);
		ping_pong(name, p, false, rounds, &b);
		if (k == 0 || a.median < wraw.median)
			wraw = a;
		if (k == 0 || b.median < wev.median)
			wev = b;
	}

	printf("nshm-bench-sync: %u wake-ups per latency run, best of %d "
	       "alternating runs per variant, %ld CPUs, pinned to CPUs 0/1\n\n",
	       rounds, REPS, sysconf(_SC_NPROCESSORS_ONLN));
	printf("| operation | median | p99 | baseline (same run) | ratio |\n");
	printf("|---|---:|---:|---|---:|\n");
	printf("| uncontended lock+unlock, nshm_mutex | %.1f ns | %.1f ns | "
	       "glibc robust pshared mutex %.1f ns | %.2fx |\n",
	       lk.median, lk.p99, plk.median, lk.median / plk.median);
	printf("| notify, no waiter, nshm_event_notify (inline) | %.2f ns | "
	       "%.2f ns | empty loop %.2f ns; FUTEX_WAKE syscall %.0f ns | "
	       "%.3fx of the syscall |\n",
	       ni.median, ni.p99, ne.median, fw.median, ni.median / fw.median);
	printf("| notify, no waiter, nshm_event_notify_fn | %.2f ns | %.2f ns "
	       "| | |\n", nf.median, nf.p99);
	printf("| cross-process wake-up, raw shared futex | %.1f us | %.1f us "
	       "| (baseline) | 1.00x |\n", wraw.median / 1e3, wraw.p99 / 1e3);
	printf("| cross-process wake-up, nshm_event | %.1f us | %.1f us | raw "
	       "futex %.1f us | %.2fx (p99 %.2fx) |\n",
	       wev.median / 1e3, wev.p99 / 1e3, wraw.median / 1e3,
	       wev.median / wraw.median, wev.p99 / wraw.p99);

	nshm_seg_detach(seg, area);
	nshm_seg_close(seg);
	nshm_seg_delete(name);
	return 0;
}
