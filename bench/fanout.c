/* SPDX-License-Identifier: MIT */
/*
 * nshm-bench-fanout: paced one-way writer-to-reader latency for fan-out
 * (issue 11: "Lossy: paced writer-to-reader latency p50 <= 1.2x the SPSC
 * one-way latency at 1 reader and flat in readers. Back-pressured: with 4
 * readers report the rate and the latency percentiles.").
 *
 * Cases, interleaved per repetition: spsc (an SPSC ring, 1 reader: the
 * baseline), bcast (lossy, readers are SUBSCRIBERs) and mcast
 * (back-pressured, readers are CONSUMERs), each with --readers readers.
 * One writer process and R reader processes, forked, pinned, started
 * together. The writer sends one 64-byte message at every multiple of the
 * period (ticks from its start; a late writer skips slots rather than
 * bursting), stamped just before it publishes; each reader spins on the
 * non-blocking read and records now - stamp (ticks, both processes read
 * the same invariant TSC). The first FO_WARMUP messages are not recorded.
 * --period-us 0: unpaced, the writer publishes as fast as it can: its
 * rate by reader count (issue 11: "writer throughput with 4 readers >=
 * 0.9x with 1 reader"; the latencies are then queueing delays).
 * See doc/bench.md, "Paced fan-out latency".
 */
#include "bench.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nshm/bcast.h>

#define FO_MAX_READERS 16
#define FO_MAX_CASES 16
#define FO_MAX_REPS 101
#define FO_WARMUP 1000u

enum fo_kind { FO_SPSC, FO_BCAST, FO_MCAST };
static const char *const kind_name[] = { "spsc", "bcast", "mcast" };

/* Bytes 0..7 seq, 8..15 the writer's stamp, 56..63 seq ^ MSG_KEY. */
struct fo_msg {
	uint64_t seq;
	uint64_t stamp;
	unsigned char fill[40];
	uint64_t check;
};
_Static_assert(sizeof(struct fo_msg) == 64, "64-byte messages");

struct fo_side {
	int failed;
	char msg[160];
	uint64_t n;	  /* writer: sent; reader: received */
	uint64_t waits;	  /* writer: full retries (spsc) or waits (mcast) */
	uint64_t late;	  /* writer: pacing slots it was too late for */
	uint64_t t_first, t_last; /* writer: stamps of first and last */
	uint64_t missed;  /* lossy reader: -NSHM_ELAPPED's counts */
	uint64_t laps;	  /* lossy reader: -NSHM_ELAPPED returns */
	uint64_t gaps;	  /* lossy reader: sequence numbers skipped */
};

/* MAP_SHARED|MAP_ANONYMOUS, mapped before fork. Plain data otherwise. */
struct fo_shared {
	_Atomic(uint32_t) arrived; /* start barrier; pairs with itself */
	_Atomic(uint32_t) stop;	   /* driver's deadline; a flag, no data */
	uint32_t nprocs;
	struct fo_side w, rd[FO_MAX_READERS];
	struct hdr_hist hist[FO_MAX_READERS]; /* per reader, ticks */
};

/* The options, and what follows from them: the same for every run. */
static struct fo_opts {
	unsigned reps, nreaders, readers[8], capacity, ncpus, cpus[64];
	uint64_t period_us, msgs;
	uint64_t period, period_ns, warm; /* period in ticks and ns */
} o;

static const struct nshm_ring_type fo_type = {
	.name = "nshm-bench-fanout message", .version = 1, .size = 64,
	.align = 8 };

struct fo_run {
	enum fo_kind kind;
	unsigned readers;
	char name[64];
	int wcpu, rcpu[FO_MAX_READERS];
	bool shared; /* some reader shares its CPU with another process */
};

struct fo_res {
	bool ok;
	double p[4], worst_p50, rate;
	uint64_t recv, missed, laps, waits, late;
};

static struct fo_shared *sh;

static void fail(struct fo_side *s, const char *what, int rc)
{
	if (s->failed++ == 0)
		snprintf(s->msg, sizeof(s->msg), "%s: %s", what,
			 rc ? nshm_strerror(rc) : "failed");
}

static void pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	(void)sched_setaffinity(0, sizeof(set), &set); /* best effort */
}

static void barrier(void)
{
	unsigned spins = 0;

	/* Release: our attach before it; pairs with the load below. */
	atomic_fetch_add_explicit(&sh->arrived, 1, memory_order_acq_rel);
	/* Acquire: pairs with every other process's add: all attached. */
	while (atomic_load_explicit(&sh->arrived, memory_order_acquire) <
	       sh->nprocs) {
		if (++spins % 256 == 0)
			sched_yield(); /* processes may share a CPU */
		else
			cpu_relax();
	}
}

static bool stopped(void)
{
	/* Relaxed: pairs with the driver's store; a flag, no data. */
	return atomic_load_explicit(&sh->stop, memory_order_relaxed) != 0;
}

static int attach(const struct fo_run *run, bool writer, struct nshm_ring **r)
{
	if (run->kind == FO_SPSC)
		return nshm_ring_attach(run->name, NSHM_RING_SPSC, &fo_type,
					writer ? NSHM_RING_PRODUCER
					       : NSHM_RING_CONSUMER,
					NSHM_PREFAULT, r);
	return nshm_bcast_attach(run->name, &fo_type,
				 writer ? NSHM_RING_PRODUCER
				 : run->kind == FO_MCAST ? NSHM_RING_CONSUMER
							 : NSHM_RING_SUBSCRIBER,
				 NSHM_BCAST_FROM_NOW, 0, NSHM_PREFAULT, r);
}

static void writer(const struct fo_run *run, struct nshm_ring *r)
{
	struct fo_side *s = &sh->w;
	struct fo_msg m;
	struct timespec dl;
	uint64_t t0, k = 0;
	int rc;

	memset(&m, 0, sizeof(m));
	msg_fill(m.fill, sizeof(m.fill));
	/* publish_wait's deadline: well past the run's expected length. */
	nshm_deadline_in(&dl, 2 * o.msgs * o.period_ns + 2000000000u);
	t0 = bench_now();
	for (uint64_t seq = 0; seq < o.msgs; seq++) {
		if (o.period != 0) {
			/* The next multiple of the period: skip, never burst. */
			uint64_t slot = (bench_now() - t0) / o.period + 1;

			if (slot > k + 1 && k != 0)
				s->late += slot - k - 1;
			k = slot;
			while (bench_now() < t0 + k * o.period)
				cpu_relax();
		}
		m.seq = seq;
		m.check = seq ^ MSG_KEY;
		m.stamp = bench_now();
		rc = 0;
		if (run->kind == FO_SPSC) {
			/* Full: retry (counted), unless broken or stopped. */
			while (rc == 0 && !nshm_ring_push(r, &m)) {
				s->waits++;
				rc = stopped() ? -ETIMEDOUT
					       : nshm_ring_error(r);
			}
		} else if (!nshm_bcast_publish(r, &m)) {
			/* Lossy: an error. Back-pressured: full, so wait. */
			s->waits += run->kind == FO_MCAST;
			rc = nshm_ring_error(r) < 0 ? nshm_ring_error(r) : -EIO;
			if (run->kind == FO_MCAST)
				rc = nshm_bcast_publish_wait(r, &m, &dl);
		}
		if (rc < 0) {
			fail(s, "publish", rc);
			return;
		}
		if (seq == 0)
			s->t_first = m.stamp;
		s->t_last = m.stamp;
		s->n++;
		if (stopped())
			break;
	}
}

static void reader(const struct fo_run *run, struct nshm_ring *r, int i)
{
	struct fo_side *s = &sh->rd[i];
	struct hdr_hist *h = &sh->hist[i];
	struct fo_msg m;
	uint64_t expect = 0, idle = 0, missed = 0;
	bool lossy = run->kind == FO_BCAST;
	int rc;

	for (;;) {
		uint64_t now;

		/* No pause in the measured loop (as in nshm-bench's). */
		rc = run->kind == FO_SPSC ? nshm_ring_pop(r, &m)
					  : nshm_bcast_read(r, &m, &missed);
		if (rc == 0) {
			if (++idle % 1024 == 0 && stopped()) {
				fail(s, "stopped at the deadline", 0);
				break;
			}
			/* Readers sharing a CPU: let the others poll too. */
			if (run->shared && idle % 64 == 0)
				sched_yield();
			continue;
		}
		now = bench_now();
		if (rc == -NSHM_ELAPPED && lossy) {
			s->laps++;
			s->missed += missed;
			continue;
		}
		if (rc < 0) {
			fail(s, "read", rc);
			break;
		}
		if (m.seq < expect || (m.seq > expect && !lossy) ||
		    m.check != (m.seq ^ MSG_KEY)) {
			fail(s, "bad sequence or torn message", 0);
			break;
		}
		s->gaps += m.seq - expect;
		expect = m.seq + 1;
		s->n++;
		if (m.seq >= o.warm) /* a clock skew would read as 0 */
			hdr_record(h, now > m.stamp ? now - m.stamp : 0);
		if (m.seq == o.msgs - 1)
			break;
	}
	/* Lossy: received + missed == published, exactly (nshm/bcast.h). */
	if (!s->failed && (s->n + s->missed != o.msgs || s->gaps != s->missed))
		fail(s, "received + missed != published", 0);
}

/* A child: pin, attach, start with the others, run, report, _exit. */
static void child(const struct fo_run *run, int role)
{
	struct fo_side *s = role < 0 ? &sh->w : &sh->rd[role];
	struct nshm_ring *r = NULL;
	int rc;

	pin(role < 0 ? run->wcpu : run->rcpu[role]);
	rc = attach(run, role < 0, &r);
	if (rc < 0)
		fail(s, "attach", rc);
	barrier();
	if (r != NULL) {
		if (role < 0)
			writer(run, r);
		else
			reader(run, r, role);
		nshm_ring_close(r);
	}
	_exit(s->failed ? 1 : 0);
}

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, unsigned n)
{
	qsort(v, n, sizeof(*v), cmp_dbl);
	return n == 0 ? 0 : n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* One run: create, fork 1 + R, wait (kill on overrun), delete, report. */
static bool run_once(struct fo_run *run, struct fo_res *res)
{
	static struct hdr_hist all;
	struct nshm_ring_params rp = NSHM_RING_PARAMS_INIT;
	struct nshm_ring *owner = NULL;
	pid_t pid[1 + FO_MAX_READERS];
	unsigned n = 1 + run->readers, alive = 0;
	uint64_t t = mono_ns(), stop_at = t + 2 * o.msgs * o.period_ns +
					  2000000000u;
	uint64_t kill_at = stop_at + 2000000000u;
	bool ok = true;
	int rc;

	memset(res, 0, sizeof(*res));
	memset(sh, 0, offsetof(struct fo_shared, hist));
	for (unsigned i = 0; i < run->readers; i++)
		hdr_reset(&sh->hist[i]);
	sh->nprocs = n;
	rp.kind = run->kind == FO_SPSC ? NSHM_RING_SPSC : NSHM_RING_BROADCAST;
	rp.type = &fo_type;
	rp.capacity = o.capacity;
	rp.role = NSHM_RING_OBSERVER;
	rp.flags = NSHM_PREFAULT;
	rp.mode = 0600;
	rp.policy = run->kind == FO_MCAST ? NSHM_BCAST_BACKPRESSURE
					  : NSHM_BCAST_LOSSY;
	rp.max_consumers = run->kind == FO_MCAST ? run->readers : 0;
	nshm_ring_delete(run->name); /* left over from a crash */
	rc = nshm_ring_create_with(run->name, &rp, &owner);
	if (rc < 0) {
		fprintf(stderr, "create %s: %s\n", run->name,
			nshm_strerror(rc));
		return false;
	}
	fflush(NULL); /* children _exit: nothing buffered twice */
	for (unsigned i = 0; i < n; i++) {
		pid[i] = fork();
		if (pid[i] == 0)
			child(run, (int)i - 1);
		if (pid[i] < 0) {
			/* The others wait at the barrier: release them. */
			/* Pairs with stopped(): a flag, no data. */
			atomic_store_explicit(&sh->stop, 1,
					      memory_order_relaxed);
			/* Pairs with barrier()'s acquire load. */
			atomic_fetch_add_explicit(&sh->arrived, n - i,
						  memory_order_release);
			ok = false;
			n = i;
			break;
		}
		alive++;
	}
	while (alive > 0) {
		struct timespec ts = { 0, 2000000 };

		for (unsigned i = 0; i < n; i++) {
			int st;

			if (pid[i] <= 0 ||
			    waitpid(pid[i], &st, WNOHANG) != pid[i])
				continue;
			if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
				ok = false;
			pid[i] = 0;
			alive--;
		}
		t = mono_ns();
		if (t >= stop_at) /* pairs with stopped(): a flag, no data */
			atomic_store_explicit(&sh->stop, 1,
					      memory_order_relaxed);
		if (t >= kill_at) { /* once: SIGKILL is not ignored */
			fprintf(stderr, "%s: timed out, killing %u\n",
				run->name, alive);
			for (unsigned i = 0; i < n; i++)
				if (pid[i] > 0)
					kill(pid[i], SIGKILL);
			kill_at = UINT64_MAX;
			ok = false;
		}
		if (alive > 0)
			nanosleep(&ts, NULL);
	}
	nshm_ring_close(owner);
	nshm_ring_delete(run->name);
	if (sh->w.failed)
		fprintf(stderr, "%s writer: %s\n", run->name, sh->w.msg);
	hdr_reset(&all);
	for (unsigned i = 0; i < run->readers; i++) {
		const struct fo_side *s = &sh->rd[i];
		double p50 = hdr_percentile_q(&sh->hist[i], 50,
					      bench_clk.quantum);

		if (s->failed)
			fprintf(stderr, "%s reader %u: %s (received %llu)\n",
				run->name, i, s->msg, (unsigned long long)s->n);
		ok = ok && !s->failed;
		hdr_merge(&all, &sh->hist[i]);
		if (p50 > res->worst_p50)
			res->worst_p50 = p50;
		res->recv += s->n;
		res->missed += s->missed;
		res->laps += s->laps;
	}
	res->ok = ok && !sh->w.failed;
	res->worst_p50 = ticks_to_ns(res->worst_p50);
	{
		static const double pct[4] = { 50, 90, 99, 99.9 };

		for (int j = 0; j < 4; j++)
			res->p[j] = ticks_to_ns(hdr_percentile_q(
				&all, pct[j], bench_clk.quantum));
	}
	if (sh->w.n > 1 && sh->w.t_last > sh->w.t_first)
		res->rate = (double)(sh->w.n - 1) * 1e9 /
			    ticks_to_ns((double)(sh->w.t_last - sh->w.t_first));
	res->waits = sh->w.waits;
	res->late = sh->w.late;
	return res->ok;
}

static unsigned parse_list(const char *s, unsigned *out, unsigned max)
{
	unsigned n = 0;
	char *end;

	for (; n < max; s = end + 1) {
		out[n++] = (unsigned)strtoul(s, &end, 10);
		if (end == s || (*end != ',' && *end != '\0'))
			return 0;
		if (*end == '\0')
			return n;
	}
	return 0;
}

static bool parse(int argc, char **argv)
{
	bool quick = false, reps = false, msgs = false;

	o = (struct fo_opts){ .reps = 5, .nreaders = 3, .readers = { 1, 2, 4 },
			      .capacity = 4096, .period_us = 5, .msgs = 20000 };
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";

		if (strcmp(a, "--quick") == 0 && (quick = true))
			continue;
		i++;
		if (strcmp(a, "--reps") == 0 && (reps = true))
			o.reps = (unsigned)strtoul(v, NULL, 10);
		else if (strcmp(a, "--msgs") == 0 && (msgs = true))
			o.msgs = strtoull(v, NULL, 10);
		else if (strcmp(a, "--period-us") == 0)
			o.period_us = strtoull(v, NULL, 10);
		else if (strcmp(a, "--capacity") == 0)
			o.capacity = (unsigned)strtoul(v, NULL, 10);
		else if (strcmp(a, "--readers") == 0)
			o.nreaders = parse_list(v, o.readers, 8);
		else if (strcmp(a, "--cpus") == 0)
			o.ncpus = parse_list(v, o.cpus, 64);
		else
			return false;
	}
	o.reps = quick && !reps ? 3 : o.reps;
	o.msgs = quick && !msgs ? 5000 : o.msgs;
	for (unsigned i = 0; i < o.nreaders; i++)
		if (o.readers[i] < 1 || o.readers[i] > FO_MAX_READERS)
			return false;
	return o.reps >= 1 && o.reps <= FO_MAX_REPS && o.msgs >= 2 &&
	       o.nreaders >= 1 && o.capacity >= 1 &&
	       (o.capacity & (o.capacity - 1)) == 0;
}

/* Writer on the first CPU, readers round-robin over the others. */
static void place(struct fo_run *c)
{
	unsigned others = o.ncpus > 1 ? o.ncpus - 1 : 1;
	unsigned used = c->readers < others ? c->readers : others;

	c->wcpu = (int)o.cpus[0];
	for (unsigned i = 0; i < c->readers; i++)
		c->rcpu[i] = (int)o.cpus[o.ncpus > 1 ? 1 + i % others : 0];
	c->shared = o.ncpus < 2 || c->readers > others;
	if (c->kind == FO_MCAST)
		return; /* the same as bcast's */
	printf("placement: %s, %u reader(s): writer cpu %d, readers on cpus",
	       c->kind == FO_SPSC ? "spsc" : "bcast/mcast", c->readers,
	       c->wcpu);
	for (unsigned i = 0; i < c->readers; i++)
		printf("%c%d", i ? ',' : ' ', c->rcpu[i]);
	printf(" (%.2f cpus per reader%s)\n", (double)used / c->readers,
	       c->shared ? "; shared: readers yield every 64 empty polls" : "");
}

/* Median over reps of field @p j of a case's results (0..3 p, 4..6). */
static double med(const struct fo_res *rs, unsigned reps, int j)
{
	double v[FO_MAX_REPS];

	for (unsigned r = 0; r < reps; r++)
		v[r] = j < 4 ? rs[r].p[j] : j == 4 ? rs[r].worst_p50
		       : j == 5 ? (double)rs[r].recv : rs[r].rate;
	return median(v, reps);
}

/* Median over reps of the p50 ratio a / b, pairing the same rep. */
static double ratio(const struct fo_res *a, const struct fo_res *b,
		    unsigned reps)
{
	double v[FO_MAX_REPS];

	for (unsigned r = 0; r < reps; r++)
		v[r] = b[r].p[0] > 0 ? a[r].p[0] / b[r].p[0] : 0;
	return median(v, reps);
}

/* The same for the writer's rate. */
static double rate_ratio(const struct fo_res *a, const struct fo_res *b,
			 unsigned reps)
{
	double v[FO_MAX_REPS];

	for (unsigned r = 0; r < reps; r++)
		v[r] = b[r].rate > 0 ? a[r].rate / b[r].rate : 0;
	return median(v, reps);
}

int main(int argc, char **argv)
{
	static struct fo_res res[FO_MAX_CASES][FO_MAX_REPS];
	static struct fo_run cases[FO_MAX_CASES];
	unsigned ncase = 0, base = 0, failed = 0, nfail[FO_MAX_CASES] = { 0 };
	double bc1 = 0;
	bool any_shared = false, flat = true;
	cpu_set_t set;

	if (!parse(argc, argv)) {
		fprintf(stderr, "usage: nshm-bench-fanout [--quick] [--reps N] "
			"[--msgs N] [--period-us N]\n  [--readers LIST (1,2,4)] "
			"[--cpus WRITER,READER,...] [--capacity N (4096)]\n");
		return 2;
	}
	if (o.ncpus == 0 && sched_getaffinity(0, sizeof(set), &set) == 0)
		for (int c = 0; c < CPU_SETSIZE && o.ncpus < 64; c++)
			if (CPU_ISSET(c, &set))
				o.cpus[o.ncpus++] = (unsigned)c;
	sh = bench_shared_alloc(sizeof(*sh));
	if (sh == NULL || o.ncpus == 0) {
		fprintf(stderr, "nshm-bench-fanout: no memory or CPUs\n");
		return 1;
	}
	bench_clock_init(false, 100);
	o.period_ns = o.period_us * 1000u;
	o.period = ns_to_ticks(o.period_ns);
	o.warm = o.msgs > 4 * FO_WARMUP ? FO_WARMUP : o.msgs / 4;
	if (o.period_us == 0)
		printf("unpaced: the writer publishes as fast as it can\n");
	printf("nshm-bench-fanout: 64-byte messages, one every %llu us, %llu "
	       "per run (the first %llu not recorded), %u reps, %u slots\n",
	       (unsigned long long)o.period_us, (unsigned long long)o.msgs,
	       (unsigned long long)o.warm, o.reps, o.capacity);
	printf("clock: %s\n", bench_clk.desc);
	for (int k = FO_SPSC; k <= FO_MCAST; k++) {
		for (unsigned j = 0; j < (k == FO_SPSC ? 1 : o.nreaders); j++) {
			struct fo_run *c = &cases[ncase++];

			c->kind = (enum fo_kind)k;
			c->readers = k == FO_SPSC ? 1 : o.readers[j];
			place(c);
			any_shared |= c->shared && c->kind != FO_SPSC;
		}
	}
	for (unsigned r = 0; r < o.reps; r++) {
		for (unsigned c = 0; c < ncase; c++) {
			snprintf(cases[c].name, sizeof(cases[c].name),
				 "nshm-fanout-%d-%u-%u", (int)getpid(), r, c);
			nfail[c] += !run_once(&cases[c], &res[c][r]);
			failed += !res[c][r].ok;
		}
		fprintf(stderr, "nshm-bench-fanout: rep %u/%u done\n", r + 1,
			o.reps);
	}
	printf("\n| case | readers | p50 ns | p90 ns | p99 ns | p99.9 ns | "
	       "worst reader p50 | recv/run | missed | laps | rate k/s | "
	       "waits | late | p50/spsc | p50/p50(%u) |\n", o.readers[0]);
	printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
	       "---:|---:|---:|\n");
	for (unsigned c = 0; c < ncase; c++) {
		const struct fo_run *k = &cases[c];
		uint64_t sum[4] = { 0, 0, 0, 0 };
		double m[7], rs = ratio(res[c], res[0], o.reps), rf = 0;

		for (int j = 0; j < 7; j++)
			m[j] = med(res[c], o.reps, j);
		for (unsigned r = 0; r < o.reps; r++) {
			sum[0] += res[c][r].missed;
			sum[1] += res[c][r].laps;
			sum[2] += res[c][r].waits;
			sum[3] += res[c][r].late;
		}
		if (k->kind != FO_SPSC && k->readers == o.readers[0])
			base = c; /* cases of a kind run in --readers order */
		if (k->kind != FO_SPSC)
			rf = ratio(res[c], res[base], o.reps);
		if (k->kind == FO_BCAST && k->readers == 1)
			bc1 = rs;
		if (k->kind == FO_BCAST && rf > 1.2)
			flat = false;
		printf("| %s%s | %u | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f | "
		       "%llu | %llu | %.1f | %llu | %llu | %.2fx | ",
		       kind_name[k->kind], nfail[c] ? " (FAILED)" : "",
		       k->readers, m[0], m[1], m[2], m[3],
		       m[4], m[5], (unsigned long long)sum[0],
		       (unsigned long long)sum[1], m[6] / 1e3,
		       (unsigned long long)sum[2], (unsigned long long)sum[3],
		       rs);
		printf(k->kind == FO_SPSC ? "- |\n" : "%.2fx |\n", rf);
	}
	printf("\nmissed, laps, waits (spsc: full retries; mcast: blocked "
	       "publishes), late (pacing slots the writer missed): sums over "
	       "reps; the rest: medians over reps.\n");
	for (unsigned c = 0; c < ncase; c++)
		if (cases[c].kind == FO_MCAST && cases[c].readers == 4)
			printf("back-pressured, 4 readers: %.1f k msg/s of %.1f "
			       "offered; p50 %.0f, p90 %.0f, p99 %.0f, p99.9 "
			       "%.0f ns\n", med(res[c], o.reps, 6) / 1e3,
			       o.period_us ? 1e3 / (double)o.period_us : 0.0,
			       med(res[c], o.reps, 0), med(res[c], o.reps, 1),
			       med(res[c], o.reps, 2), med(res[c], o.reps, 3));
	if (o.period_us == 0) {
		/* Unpaced: the writer's rate by reader count, same rep. */
		for (unsigned c = 0, b = 0; c < ncase; c++) {
			if (cases[c].kind == FO_SPSC)
				continue;
			if (cases[c].readers == o.readers[0])
				b = c;
			printf("%s writer rate, %u readers / %u: %.2fx "
			       "(/ spsc push rate: %.2fx)%s\n",
			       kind_name[cases[c].kind], cases[c].readers,
			       o.readers[0], rate_ratio(res[c], res[b], o.reps),
			       rate_ratio(res[c], res[0], o.reps),
			       cases[c].kind == FO_BCAST &&
					       cases[c].readers == 4
				       ? rate_ratio(res[c], res[b], o.reps) >=
							 0.9
						 ? "  issue 11 (>= 0.9x): PASS"
						 : "  issue 11 (>= 0.9x): MISS"
				       : "");
		}
		printf("(latencies above are queueing delays, not one-way "
		       "latency: unpaced)\n");
	}
	if (o.period_us != 0)
		printf("issue 11, lossy: p50 <= 1.2x spsc at 1 reader: %s "
		       "(%.2fx); flat in readers (p50 <= 1.2x the %u-reader "
		       "p50): %s\n",
		       bc1 == 0 ? "n/a" : bc1 <= 1.2 ? "PASS" : "MISS", bc1,
		       o.readers[0],
		       o.nreaders < 2 ? "n/a" : flat ? "PASS" : "MISS");
	if (any_shared)
		printf("warning: readers share a CPU with each other or the "
		       "writer (%u CPUs usable): \"flat in readers\" cannot be "
		       "judged on this machine\n", o.ncpus);
	if (failed)
		printf("FAILED: %u of %u runs (see stderr)\n", failed,
		       ncase * o.reps);
	bench_shared_free(sh, sizeof(*sh));
	return failed ? 1 : 0;
}
