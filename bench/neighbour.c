/* SPDX-License-Identifier: MIT */
/*
 * nshm-bench's neighbour experiment (issue 9, "Waiting must not tax the
 * neighbours"; doc/bench.md): does a ring whose consumer parks and wakes in
 * a loop raise the tail latency of an unrelated spinning ring?
 *
 * The pair: the nshm-spsc spin 64-byte ping-pong of the main table (its
 * own transport code, tp_nshm_ring.c), run o->reps times alone (A) and
 * beside the neighbour (B), A B A B ..., each for o->run_ms.
 * The neighbour: a second SPSC ring of 64-byte messages between two more
 * processes. Its producer sleeps until the next multiple of period_us
 * (clock_nanosleep, absolute) and pushes one message (push_wait); its
 * consumer loops on pop_wait with the ring's default wait strategy (spin,
 * yield, then park on the futex), so it parks after nearly every message
 * and is woken by the next push. The ring's own counters (nshm_ring_stats:
 * consumer_parks, producer_wakeups) say how often it did.
 * Four processes in all, forked by the driver, pinned, started together.
 *
 * Placement: with four usable cores, one each (the neighbour disturbs the
 * pair only through what the library does to other CPUs, such as an IPI).
 * With two, the neighbour runs on the pong's CPU; it then takes that CPU
 * while it runs, and under SCHED_OTHER its sched_yield()s would hand the
 * CPU to the spinner for a time slice each, so it would hardly ever park.
 * So where it shares CPUs it runs SCHED_FIFO 1 (when permitted): it runs
 * as soon as it is woken and sleeps otherwise, as on a core of its own.
 * The policy is set after the start barrier (a FIFO task spinning there
 * would starve the spinner it waits for) and is printed.
 */
#include "bench.h"
#include "bench_report.h"
#include "placement.h"

#include <errno.h>
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include <nshm/ring.h>

#define NB_SIZE 64u	     /* bytes of every message, pair and neighbour */
#define NB_PAIR_CAP 4096u    /* the main table's capacity for 64 B */
#define NB_RING_CAP 64u	     /* the neighbour holds one message at a time */
#define NB_WARMUP 20000u     /* untimed round trips before each run */
#define NB_PERIOD_SHARED_US 2000u /* default period, sharing the pair's CPUs */
#define NB_PERIOD_OWN_US 500u	  /* default period, on cores of its own */
#define NB_MIN_SAMPLES 100000u	  /* a run's p99.9 rests on >= 100 of them */

/* Shared between the driver and all four roles (MAP_SHARED). */
struct nb_shared {
	_Atomic(uint32_t) stop; /* the ping has finished */
};

struct nb_state {
	void *pair;		  /* tp_nshm_spsc's state: the pair's rings */
	struct nb_shared *sh;
	char name[80];		  /* the neighbour ring */
	struct nshm_ring *owner;  /* the driver's handle (observer) */
	struct nshm_ring *r;	  /* a neighbour role's handle */
	struct nshm_ring_type type;
	uint64_t period_ns;
	bool fifo;		  /* neighbour roles run SCHED_FIFO 1 */
};

static uint64_t cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void ts_from_ns(struct timespec *ts, uint64_t ns)
{
	ts->tv_sec = (time_t)(ns / 1000000000u);
	ts->tv_nsec = (long)(ns % 1000000000u);
}

/*
 * Function-call interrupts (the "CAL" line of /proc/interrupts, what
 * membarrier's IPIs and other smp_call_function()s raise) received so far
 * by CPUs @p a and @p b together; 0 when they cannot be read.
 */
static uint64_t cal_ipis(int a, int b)
{
	char line[4096];
	int col[256], ncol = 0;
	uint64_t sum = 0;
	FILE *f = fopen("/proc/interrupts", "r");

	if (f == NULL || a < 0)
		goto out;
	if (fgets(line, sizeof(line), f) == NULL)
		goto out;
	for (char *t = strtok(line, " \t\n"); t && ncol < 256;
	     t = strtok(NULL, " \t\n"))
		col[ncol++] = strncmp(t, "CPU", 3) == 0 ? atoi(t + 3) : -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		char *p = line, *end;

		while (*p == ' ')
			p++;
		if (strncmp(p, "CAL:", 4) != 0)
			continue;
		p += 4;
		for (int i = 0; i < ncol; i++, p = end) {
			unsigned long long v = strtoull(p, &end, 10);

			if (end == p)
				break;
			if (col[i] == a || (col[i] == b && b != a))
				sum += v;
		}
		break;
	}
out:
	if (f != NULL)
		fclose(f);
	return sum;
}

static int set_fifo(void)
{
	struct sched_param sp = { .sched_priority = 1 };

	return sched_setscheduler(0, SCHED_FIFO, &sp) < 0 ? -errno : 0;
}

/* May this process's children run SCHED_FIFO? (Try it, then undo.) */
static bool fifo_permitted(void)
{
	struct sched_param sp = { .sched_priority = 0 };
	int old = sched_getscheduler(0);

	if (set_fifo() < 0)
		return false;
	sched_setscheduler(0, old < 0 ? SCHED_OTHER : old, &sp);
	return true;
}

static int nb_child_init(void *st, const struct bench_params *p, int role)
{
	struct nb_state *s = st;

	if (role < 2)
		return tp_nshm_spsc.child_init(s->pair, p, role);
	return nshm_ring_attach(s->name, NSHM_RING_SPSC, &s->type,
				role == 2 ? NSHM_RING_PRODUCER :
					    NSHM_RING_CONSUMER,
				NSHM_PREFAULT, &s->r);
}

static void nb_child_fini(void *st, const struct bench_params *p, int role)
{
	struct nb_state *s = st;

	if (role < 2)
		tp_nshm_spsc.child_fini(s->pair, p, role);
	else if (s->r != NULL)
		nshm_ring_close(s->r);
}

/* Role 2: one message every period, on the clock, until the ping is done. */
static void nb_producer(struct nb_state *s, const struct bench_params *p,
			struct side_result *r)
{
	unsigned char msg[NB_SIZE];
	uint64_t c0, w0, next, now;
	/* Should the ping die, stop a second after its deadline anyway. */
	uint64_t stop_at = p->deadline + ns_to_ticks(1000000000u);
	int ret = 0;

	msg_fill(msg, sizeof(msg));
	if (s->fifo && (ret = set_fifo()) < 0) {
		side_fail(r, ret, "neighbour producer: SCHED_FIFO: %s",
			  strerror(-ret));
		return;
	}
	/* Wake when asked, not up to 50 us later (the default slack). */
	prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
	c0 = cpu_ns();
	w0 = mono_ns();
	next = w0;
	for (uint64_t seq = 0;; seq++) {
		struct timespec ts;
		bool last;

		next += s->period_ns;
		ts_from_ns(&ts, next);
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts,
				       NULL) == EINTR)
			;
		/* Relaxed: a flag only, no data is published with it. */
		last = atomic_load_explicit(&s->sh->stop,
					    memory_order_relaxed) != 0 ||
		       bench_now() >= stop_at;
		msg_stamp(msg, NB_SIZE, seq | (last ? MSG_LAST : 0));
		ret = nshm_ring_push_wait(s->r, msg, NULL);
		if (ret < 0)
			break;
		r->msgs++;
		if (last)
			break;
		/* Late by a whole period (descheduled): no burst to catch up. */
		now = mono_ns();
		if (now > next + s->period_ns)
			next = now;
	}
	r->cpu_ns = cpu_ns() - c0;
	r->wall_ns = mono_ns() - w0;
	if (ret < 0)
		side_fail(r, ret, "neighbour producer: %s%s%s",
			  nshm_strerror(ret), nshm_errdetail()[0] ? ": " : "",
			  nshm_errdetail());
}

/* Role 3: pop_wait with the default wait strategy, every message checked. */
static void nb_consumer(struct nb_state *s, const struct bench_params *p,
			struct side_result *r)
{
	unsigned char msg[NB_SIZE];
	uint64_t expect = 0, c0, w0;
	int ret = 0;

	(void)p;
	if (s->fifo && (ret = set_fifo()) < 0) {
		side_fail(r, ret, "neighbour consumer: SCHED_FIFO: %s",
			  strerror(-ret));
		return;
	}
	c0 = cpu_ns();
	w0 = mono_ns();
	for (;;) {
		ret = nshm_ring_pop_wait(s->r, msg, NULL);
		if (ret < 0 || consume_check(r, msg, NB_SIZE, &expect))
			break;
	}
	r->cpu_ns = cpu_ns() - c0;
	r->wall_ns = mono_ns() - w0;
	if (ret < 0)
		side_fail(r, ret, "neighbour consumer: %s%s%s",
			  nshm_strerror(ret), nshm_errdetail()[0] ? ": " : "",
			  nshm_errdetail());
}

static void nb_run(void *st, const struct bench_params *p, int role,
		   struct side_result *r, struct hdr_hist *h)
{
	struct nb_state *s = st;

	switch (role) {
	case 0:
		tp_nshm_spsc.run(s->pair, p, 0, r, h);
		/* Relaxed: a flag only (the producer just stops sending). */
		atomic_store_explicit(&s->sh->stop, 1, memory_order_relaxed);
		break;
	case 1:
		tp_nshm_spsc.run(s->pair, p, 1, r, h);
		break;
	case 2:
		nb_producer(s, p, r);
		break;
	default:
		nb_consumer(s, p, r);
		break;
	}
}

/* Roles 0 ping, 1 pong (the pair), 2 and 3 the neighbour's two sides. */
static const struct transport tp_neighbour = {
	.name = "neighbour",
	.desc = "nshm-spsc spin ping-pong beside a parking ring",
	.modes = MODE_SPIN,
	.child_init = nb_child_init,
	.run = nb_run,
	.child_fini = nb_child_fini,
};

static uint64_t count_from(const struct hdr_hist *h, uint64_t v);

/*
 * One run of the pair, alone or beside the neighbour. @return 0, or -1
 * with @p note set.
 */
static int one_run(struct nb_state *s, const struct nb_result *res,
		   bool beside, int instance, struct nb_pair *pair,
		   struct nb_rep *rep, char *note, size_t notelen)
{
	struct bench_params p = {
		.kind = KIND_RTT,
		.mode = MODE_SPIN,
		.size = NB_SIZE,
		.producers = 1,
		.consumers = 1,
		.msgs = UINT64_MAX,
		.iters = UINT64_MAX / 2, /* the time decides */
		.warmup = NB_WARMUP,
		.budget = ns_to_ticks((uint64_t)res->run_ms * 1000000u),
		.budget_ms = res->run_ms,
		.capacity = NB_PAIR_CAP,
		.instance = instance,
	};
	const struct bench_ctl *ctl;
	char why[240] = "";
	uint64_t ipis, t0;
	int ret;

	memset(pair, 0, sizeof(*pair));
	s->pair = NULL;
	s->owner = NULL;
	s->r = NULL;
	atomic_store_explicit(&s->sh->stop, 0, memory_order_relaxed);
	ret = tp_nshm_spsc.setup(&s->pair, &p, why, sizeof(why));
	if (ret != 0) {
		snprintf(note, notelen, "the pair's rings: %s",
			 ret > 0 ? why : strerror(-ret));
		return -1;
	}
	if (beside) {
		snprintf(s->name, sizeof(s->name), "nshm-bench-%d-nb-%d",
			 (int)getpid(), instance);
		nshm_ring_delete(s->name); /* left over from a crash */
		ret = nshm_ring_create(s->name, NSHM_RING_SPSC, &s->type,
				       NB_RING_CAP, NSHM_RING_OBSERVER,
				       NSHM_PREFAULT, 0600, &s->owner);
		if (ret < 0) {
			snprintf(note, notelen, "nshm_ring_create(%s): %s",
				 s->name, nshm_strerror(ret));
			tp_nshm_spsc.teardown(s->pair, &p);
			return -1;
		}
	}
	ipis = cal_ipis(res->cpu[0], res->cpu[1]);
	t0 = mono_ns();
	ret = bench_run_roles(&tp_neighbour, s, &p, beside ? 4 : 2, &res->pl,
			      res->slot, why, sizeof(why));
	pair->wall_s = (double)(mono_ns() - t0) / 1e9;
	pair->ipis = cal_ipis(res->cpu[0], res->cpu[1]) - ipis;
	ctl = bench_results();
	if (ret == 0 && ctl->hist.count == 0) {
		snprintf(why, sizeof(why), "no round trips timed");
		ret = -1;
	}
	if (ret == 0) {
		const struct hdr_hist *h = &ctl->hist;
		uint64_t q = bench_clk.quantum;

		pair->p50 = ticks_to_ns(hdr_percentile_q(h, 50, q));
		pair->p99 = ticks_to_ns(hdr_percentile_q(h, 99, q));
		pair->p999 = ticks_to_ns(hdr_percentile_q(h, 99.9, q));
		pair->p9999 = ticks_to_ns(hdr_percentile_q(h, 99.99, q));
		pair->max = ticks_to_ns((double)h->max);
		pair->samples = h->count;
		pair->over_10us = count_from(h, ns_to_ticks(10000));
		pair->ok = true;
	}
	if (ret == 0 && beside) {
		struct nshm_ring_stats st;
		const struct side_result *pr = &ctl->res[2], *co = &ctl->res[3];

		if (nshm_ring_stats(s->owner, &st) == 0) {
			rep->nb_msgs = co->msgs;
			rep->consumer_parks = st.consumer_parks;
			rep->producer_wakeups = st.producer_wakeups;
			rep->empty_waits = st.empty_waits;
			rep->nb_wall_s = (double)pr->wall_ns / 1e9;
			if (pr->msgs > 0)
				rep->cpu_us_per_msg =
					(double)(pr->cpu_ns + co->cpu_ns) /
					(double)pr->msgs / 1e3;
			if (rep->nb_wall_s > 0) {
				rep->parks_per_s = (double)st.consumer_parks /
						   rep->nb_wall_s;
				rep->cpu_pct = (double)(pr->cpu_ns +
							co->cpu_ns) /
					       (double)pr->wall_ns * 100.0;
			}
			rep->nb_ok = true;
		}
	}
	tp_nshm_spsc.teardown(s->pair, &p);
	if (s->owner != NULL) {
		nshm_ring_close(s->owner);
		nshm_ring_delete(s->name);
	}
	if (ret < 0) {
		snprintf(note, notelen, "%s run failed: %s",
			 beside ? "beside" : "alone", why);
		return -1;
	}
	return 0;
}

/* Samples of @p h at or above @p v (to its bucket's precision). */
static uint64_t count_from(const struct hdr_hist *h, uint64_t v)
{
	uint64_t n = 0;

	for (unsigned i = hdr_index(v); i < HDR_NBUCKETS; i++)
		n += h->buckets[i];
	return n;
}

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median_of(double *v, unsigned n)
{
	if (n == 0)
		return NAN;
	qsort(v, n, sizeof(*v), cmp_dbl);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

/*
 * CPUs: four of their own when there are four; otherwise the pair gets the
 * run's two and the neighbour shares the pong's.
 */
static void choose_cpus(const struct nb_options *o,
			const struct placement *main_pl, struct nb_result *res)
{
	struct placement four;

	if (placement_choose(&four, 4, o->cpus) == 0 && four.pinned &&
	    four.n >= 4 && !four.smt_siblings) {
		res->pl = four;
		for (int i = 0; i < 4; i++)
			res->slot[i] = i;
	} else {
		res->pl = o->cpus != NULL && four.pinned ? four : *main_pl;
		res->slot[0] = 0;
		res->slot[1] = 1;
		res->slot[2] = res->slot[3] = res->pl.n >= 3 ? 2 : 1;
	}
	res->shared = !res->pl.pinned;
	for (int i = 0; i < 4; i++) {
		res->cpu[i] = res->pl.pinned && res->pl.n > 0 ?
				      res->pl.cpu[res->slot[i] % res->pl.n] :
				      -1;
		if (i >= 2 && res->pl.pinned &&
		    (res->cpu[i] == res->cpu[0] || res->cpu[i] == res->cpu[1]))
			res->shared = true;
	}
}

void neighbour_run(const struct nb_options *o, const struct placement *main_pl,
		   struct nb_result *res, const volatile sig_atomic_t *stop)
{
	static int instance = 1000000; /* apart from the main cases' */
	struct nb_state s;
	double v[3][BENCH_MAX_REPS], w[4][BENCH_MAX_REPS], a[BENCH_MAX_REPS],
		b[BENCH_MAX_REPS], ia[BENCH_MAX_REPS], ib[BENCH_MAX_REPS];
	unsigned k = 0, kn = 0;
	bool fifo;

	memset(res, 0, sizeof(*res));
	res->transport = tp_nshm_spsc.name;
	res->mode = "spin";
	res->size = NB_SIZE;
	res->capacity = NB_PAIR_CAP;
	res->run_ms = o->run_ms;
	choose_cpus(o, main_pl, res);
	/*
	 * Sharing CPUs, every neighbour message stalls the pair for as long
	 * as the neighbour runs: keep it mostly asleep. On cores of its own
	 * only what it does to other CPUs reaches the pair: wake it often
	 * enough that one IPI per park would touch > 0.1 % of round trips.
	 */
	res->period_us = o->period_us ? o->period_us :
			 res->shared  ? NB_PERIOD_SHARED_US :
					NB_PERIOD_OWN_US;
	fifo = o->sched == NB_SCHED_FIFO ||
	       (o->sched == NB_SCHED_AUTO && res->shared);
	if (fifo && !fifo_permitted()) {
		fifo = false;
		bench_note("neighbour: SCHED_FIFO is not permitted here; it "
			   "runs SCHED_OTHER, so while it shares a CPU with a "
			   "spinner its yields give that CPU away for a time "
			   "slice and it parks less often");
	}
	snprintf(res->sched, sizeof(res->sched), "%s",
		 fifo ? "SCHED_FIFO 1" : "SCHED_OTHER");

	memset(&s, 0, sizeof(s));
	s.sh = bench_shared_alloc(sizeof(*s.sh));
	if (s.sh == NULL) {
		snprintf(res->note, sizeof(res->note), "shared memory: %s",
			 strerror(errno));
		return;
	}
	s.type.name = "nshm-bench neighbour";
	s.type.version = 1;
	s.type.size = NB_SIZE;
	s.type.align = 8;
	s.period_ns = (uint64_t)res->period_us * 1000u;
	s.fifo = fifo;

	fprintf(stderr, "nshm-bench: neighbour: %u x (alone, beside) x %u ms; "
		"pair on CPUs %d,%d, neighbour on %d,%d (%s)\n", o->reps,
		o->run_ms, res->cpu[0], res->cpu[1], res->cpu[2], res->cpu[3],
		res->sched);
	for (unsigned r = 0; r < o->reps && !*stop; r++) {
		struct nb_rep *rep = &res->reps[res->nreps];
		char note[240] = "";

		memset(rep, 0, sizeof(*rep));
		fprintf(stderr, "nshm-bench: neighbour rep %u/%u\n", r + 1,
			o->reps);
		if (one_run(&s, res, false, instance++, &rep->alone, rep, note,
			    sizeof(note)) < 0 ||
		    *stop ||
		    one_run(&s, res, true, instance++, &rep->beside, rep, note,
			    sizeof(note)) < 0) {
			if (res->note[0] == '\0')
				snprintf(res->note, sizeof(res->note), "%s",
					 *stop ? "interrupted" : note);
			continue;
		}
		rep->r_p50 = rep->beside.p50 / rep->alone.p50;
		rep->r_p99 = rep->beside.p99 / rep->alone.p99;
		rep->r_p999 = rep->beside.p999 / rep->alone.p999;
		res->nreps++;
	}
	bench_shared_free(s.sh, sizeof(*s.sh));

	/*
	 * The medians take the repetitions whose A and B both timed at
	 * least NB_MIN_SAMPLES round trips (a p99.9 resting on 100 or more);
	 * fewer means something else had the pair's CPUs most of the run.
	 * If none has that many, all of them, with a note.
	 */
	for (unsigned r = 0; r < res->nreps; r++) {
		struct nb_rep *rep = &res->reps[r];

		rep->counted = rep->alone.samples >= NB_MIN_SAMPLES &&
			       rep->beside.samples >= NB_MIN_SAMPLES;
		res->ncounted += rep->counted;
	}
	if (res->ncounted == 0 && res->nreps > 0) {
		for (unsigned r = 0; r < res->nreps; r++)
			res->reps[r].counted = true;
		res->ncounted = res->nreps;
		bench_note("neighbour: no repetition timed %u round trips in "
			   "both runs (a busy machine?): its medians take all "
			   "of them and are unreliable", NB_MIN_SAMPLES);
	}
	for (unsigned r = 0; r < res->nreps; r++) {
		const struct nb_rep *rep = &res->reps[r];

		if (!rep->counted)
			continue;
		v[0][k] = rep->r_p50;
		v[1][k] = rep->r_p99;
		v[2][k] = rep->r_p999;
		a[k] = rep->alone.p999;
		b[k] = rep->beside.p999;
		ia[k] = (double)rep->alone.ipis / rep->alone.wall_s;
		ib[k] = (double)rep->beside.ipis / rep->beside.wall_s;
		k++;
		if (rep->nb_ok) {
			w[0][kn] = rep->parks_per_s;
			w[1][kn] = rep->cpu_pct;
			w[2][kn] = rep->nb_msgs ? (double)rep->consumer_parks /
							  (double)rep->nb_msgs :
						  NAN;
			w[3][kn] = rep->cpu_us_per_msg;
			kn++;
		}
	}
	res->r_p50 = median_of(v[0], k);
	res->r_p99 = median_of(v[1], k);
	res->r_p999 = median_of(v[2], k);
	res->alone_p999 = median_of(a, k);
	res->beside_p999 = median_of(b, k);
	res->alone_ipis_per_s = median_of(ia, k);
	res->beside_ipis_per_s = median_of(ib, k);
	res->parks_per_s = median_of(w[0], kn);
	res->cpu_pct = median_of(w[1], kn);
	res->parks_per_msg = median_of(w[2], kn);
	res->cpu_us_per_msg = median_of(w[3], kn);
	res->ran = k > 0;
}
