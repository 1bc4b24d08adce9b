/* SPDX-License-Identifier: MIT */
/*
 * nshm-bench: latency and throughput of nshm rings against the hardware
 * floor and the transports users would pick instead, in one run, with the
 * cases interleaved (A B C A B C ...) so that ratios stay fair on a noisy
 * machine. See doc/bench.md.
 */
#include "bench.h"
#include "bench_options.h"
#include "bench_report.h"
#include "placement.h"

#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

static struct bench_ctl *ctl;
static struct placement pl;
/* Cases of more than two processes (MPMC): as many CPUs as can be pinned. */
static struct placement pl_multi;
/* What the children of the run in progress pin to (see bench_run_roles). */
static const struct placement *run_pl = &pl;
static pid_t children[BENCH_MAX_PROCS];
static unsigned nchildren;
static volatile sig_atomic_t alarm_fired;
static volatile sig_atomic_t interrupted;

/* ---- running one measurement -------------------------------------------- */

static void on_alarm(int sig)
{
	(void)sig;
	alarm_fired = 1;
}

static void on_interrupt(int sig)
{
	interrupted = sig;
	for (unsigned i = 0; i < nchildren; i++)
		if (children[i] > 0)
			kill(children[i], SIGKILL);
}

static void cleanup_at_exit(void)
{
	mq_restore_limits();
}

static void child_main(const struct transport *tp, void *st,
		       struct bench_params p, int role, int cpu_role)
{
	/*
	 * The measured loops write only process-private memory: results and
	 * histogram go to the shared control block once, at the end.
	 */
	static struct side_result res;
	static struct hdr_hist hist;
	struct side_result *r = &res;
	int ret;

	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGALRM, SIG_DFL);
	memset(r, 0, sizeof(*r));
	hdr_reset(&hist);
	ret = placement_pin(run_pl, cpu_role);
	if (ret < 0)
		side_fail(r, ret, "pinning to CPU %d: %s",
			  run_pl->cpu[cpu_role % run_pl->n], strerror(-ret));
	if (tp->child_init) {
		ret = tp->child_init(st, &p, role);
		if (ret < 0)
			side_fail(r, ret, "%s: attach: %s", tp->name,
				  strerror(-ret));
	}
	bench_barrier(ctl);
	if (r->err == 0) {
		uint64_t t = bench_now();

		p.deadline = t + p.budget;
		p.warm_deadline = t + p.budget / 4;
		tp->run(st, &p, role, r, &hist);
	}
	if (tp->child_fini)
		tp->child_fini(st, &p, role);
	r->done = true;
	if (p.kind == KIND_RTT && role == 0)
		memcpy(&ctl->hist, &hist, sizeof(hist));
	memcpy(&ctl->res[role], r, sizeof(*r));
	_exit(r->err ? 1 : 0); /* no atexit handlers in the children */
}

/*
 * Fork the roles, wait for them (a watchdog kills a run that hangs), and
 * leave the children's results in ctl. @return 0 or -1 with @p err set.
 */
static int run_children(const struct transport *tp, void *st,
			const struct bench_params *p, unsigned nprocs,
			char *err, size_t errlen)
{
	return bench_run_roles(tp, st, p, nprocs,
			       nprocs > 2 ? &pl_multi : NULL, NULL, err,
			       errlen);
}

const struct bench_ctl *bench_results(void)
{
	return ctl;
}

int bench_run_roles(const struct transport *tp, void *st,
		    const struct bench_params *p, unsigned nprocs,
		    const struct placement *where, const int *cpu_of_role,
		    char *err, size_t errlen)
{
	struct itimerval it = { 0 };
	uint64_t limit_ms = 2 * (p->budget_ms) + 10000;
	int ret = 0;

	if (nprocs == 0 || nprocs > BENCH_MAX_PROCS) {
		snprintf(err, errlen, "%u roles: 1..%d", nprocs,
			 BENCH_MAX_PROCS);
		return -1;
	}
	memset(ctl->res, 0, sizeof(ctl->res));
	atomic_store_explicit(&ctl->arrived, 0, memory_order_relaxed);
	ctl->nprocs = nprocs;
	if (p->kind == KIND_RTT)
		hdr_reset(&ctl->hist);
	fflush(NULL);
	nchildren = 0;
	for (unsigned i = 0; i < nprocs; i++) {
		pid_t pid = fork();

		if (pid < 0) {
			snprintf(err, errlen, "fork: %s", strerror(errno));
			ret = -1;
			break;
		}
		if (pid == 0) {
			run_pl = where != NULL ? where : &pl;
			child_main(tp, st, *p, (int)i,
				   cpu_of_role ? cpu_of_role[i] : (int)i);
		}
		children[nchildren++] = pid;
	}
	if (ret < 0) /* the ones started would wait at the barrier forever */
		for (unsigned j = 0; j < nchildren; j++)
			kill(children[j], SIGKILL);
	alarm_fired = 0;
	it.it_value.tv_sec = (time_t)(limit_ms / 1000);
	it.it_value.tv_usec = (suseconds_t)(limit_ms % 1000) * 1000;
	setitimer(ITIMER_REAL, &it, NULL);
	for (unsigned i = 0; i < nchildren; i++) {
		int status = 0;

		while (waitpid(children[i], &status, 0) < 0) {
			if (errno != EINTR)
				break;
			if (alarm_fired || interrupted) {
				for (unsigned j = 0; j < nchildren; j++)
					kill(children[j], SIGKILL);
				if (ret == 0) {
					if (alarm_fired)
						snprintf(err, errlen,
							 "hung: killed after "
							 "%llu ms",
							 (unsigned long long)
								 limit_ms);
					else
						snprintf(err, errlen,
							 "interrupted");
					ret = -1;
				}
			}
		}
		if (ret == 0 && WIFSIGNALED(status)) {
			snprintf(err, errlen, "role %u died of signal %d", i,
				 WTERMSIG(status));
			ret = -1;
		}
		children[i] = 0;
	}
	memset(&it, 0, sizeof(it));
	setitimer(ITIMER_REAL, &it, NULL);
	nchildren = 0;
	for (unsigned i = 0; ret == 0 && i < nprocs; i++) {
		if (!ctl->res[i].done) {
			snprintf(err, errlen, "role %u did not finish", i);
			ret = -1;
		} else if (ctl->res[i].err != 0 || ctl->res[i].bad != 0) {
			snprintf(err, errlen, "%s", ctl->res[i].msg[0] ?
				 ctl->res[i].msg : "failed");
			ret = -1;
		}
	}
	return ret;
}

static int instance_counter;

/* One producer and one consumer: the case also has a round trip. */
static bool pair_case(const struct case_def *cd)
{
	return cd->producers == 1 && cd->consumers == 1;
}

/* One measurement of one case. @return 1 skipped, 0 ok, -1 failed. */
static int measure(const struct options *o, const struct case_def *cd,
		   enum bench_kind kind, struct rep_result *rr, char *note,
		   size_t notelen)
{
	struct bench_params p = {
		.kind = kind,
		.mode = cd->mode,
		.size = cd->size,
		.producers = kind == KIND_TPUT ? cd->producers : 1,
		.consumers = kind == KIND_TPUT ? cd->consumers : 1,
		.msgs = o->msgs,
		.iters = o->rtt_iters,
		.budget = ns_to_ticks(o->budget_ms * 1000000u),
		.budget_ms = o->budget_ms,
		.capacity = capacity_for(o, cd->size),
		.mq_depth = o->mq_depth,
		.instance = ++instance_counter,
	};
	unsigned nprocs = p.producers + p.consumers;
	void *st = NULL;
	char why[240] = "";
	int ret;

	p.warmup = o->rtt_iters / 10 < 1000 ? o->rtt_iters / 10 : 1000;
	ret = cd->tp->setup(&st, &p, why, sizeof(why));
	if (ret == 1) {
		snprintf(note, notelen, "skipped: %s", why);
		return 1;
	}
	if (ret < 0) {
		snprintf(note, notelen, "setup failed: %s", strerror(-ret));
		return -1;
	}
	ret = run_children(cd->tp, st, &p, nprocs, why, sizeof(why));
	if (ret == 0 && kind == KIND_TPUT) {
		uint64_t sent = 0, got = 0, t0 = UINT64_MAX, t1 = 0;

		for (unsigned i = 0; i < p.producers; i++)
			sent += ctl->res[i].msgs;
		for (unsigned i = p.producers; i < nprocs; i++) {
			const struct side_result *r = &ctl->res[i];

			got += r->msgs;
			if (r->t_first < t0)
				t0 = r->t_first;
			if (r->t_last > t1)
				t1 = r->t_last;
		}
		if (sent != got || got < 2 || t1 <= t0) {
			snprintf(why, sizeof(why),
				 "sent %llu, received %llu messages",
				 (unsigned long long)sent,
				 (unsigned long long)got);
			ret = -1;
		} else {
			double s = ticks_to_ns((double)(t1 - t0)) / 1e9;

			rr->msgs = got;
			rr->msgs_per_s = (double)(got - 1) / s;
			rr->gb_per_s = rr->msgs_per_s * (double)cd->size / 1e9;
			rr->tput_ok = true;
		}
	} else if (ret == 0) {
		const struct hdr_hist *h = &ctl->hist;

		if (h->count == 0) {
			snprintf(why, sizeof(why), "no round trips timed");
			ret = -1;
		} else {
			uint64_t q = bench_clk.quantum;

			rr->p50 = ticks_to_ns(hdr_percentile_q(h, 50, q));
			rr->p90 = ticks_to_ns(hdr_percentile_q(h, 90, q));
			rr->p99 = ticks_to_ns(hdr_percentile_q(h, 99, q));
			rr->p999 = ticks_to_ns(hdr_percentile_q(h, 99.9, q));
			rr->max = ticks_to_ns((double)h->max);
			rr->mean = ticks_to_ns(hdr_mean(h));
			rr->samples = h->count;
			rr->rtt_ok = true;
		}
	}
	cd->tp->teardown(st, &p);
	if (ret < 0)
		snprintf(note, notelen, "%s %s failed: %s",
			 kind == KIND_TPUT ? "throughput" : "latency",
			 cd->tp->name, why);
	return ret;
}

/* ---- the run ------------------------------------------------------------ */

static void read_cpu_model(char *buf, size_t len)
{
	char line[512];
	FILE *f = fopen("/proc/cpuinfo", "r");

	snprintf(buf, len, "unknown");
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		char *c = strchr(line, ':');

		if (strncmp(line, "model name", 10) != 0 || c == NULL)
			continue;
		c++;
		while (*c == ' ' || *c == '\t')
			c++;
		c[strcspn(c, "\n")] = '\0';
		snprintf(buf, len, "%s", c);
		break;
	}
	fclose(f);
}

static void progress(bool tty, unsigned rep, unsigned reps, unsigned ci,
		     unsigned nc, const struct case_def *cd, const char *what,
		     double elapsed)
{
	if (tty)
		fprintf(stderr, "\r\033[K[%5.1fs] rep %u/%u case %u/%u %s %s %zu B: %s",
			elapsed, rep + 1, reps, ci + 1, nc, cd->tp->name,
			mode_name(cd->mode), cd->size, what);
	fflush(stderr);
}

int main(int argc, char **argv)
{
	static struct case_result res[MAX_CASES];
	static unsigned order[MAX_CASES];
	struct options o;
	struct run_info ri;
	static struct nb_result nb;
	struct sigaction sa;
	struct utsname un;
	unsigned nc = 0, maxprocs = 2, maxmulti = 2;
	uint64_t start;
	bool tty = isatty(STDERR_FILENO);
	time_t now;
	int ret;

	parse_args(argc, argv, &o);

	/* The case list: transports x modes x sizes, in a fixed order. */
	for (unsigned t = 0; t < o.ntps && !o.nb.only; t++) {
		const struct transport *tp = o.tps[t];

		if (tp->max_producers > 1 || tp->max_consumers > 1)
			continue; /* MPMC: by P x C, below */
		for (unsigned m = MODE_SPIN; m <= MODE_BLOCK; m <<= 1) {
			if (!(tp->modes & m) || !(o.modes & m))
				continue;
			for (unsigned s = 0; s < o.nsizes; s++) {
				struct case_result *c = &res[nc];

				if (nc >= MAX_CASES)
					die("too many cases");
				c->def.tp = tp;
				c->def.mode = (enum bench_mode)m;
				c->def.size = o.sizes[s];
				c->def.producers = 1;
				c->def.consumers = 1;
				c->capacity = capacity_for(&o, o.sizes[s]);
				if (c->def.producers + c->def.consumers >
				    maxprocs)
					maxprocs = c->def.producers +
						   c->def.consumers;
				nc++;
			}
		}
	}
	/*
	 * The MPMC transports (more than one producer or consumer possible):
	 * one case per P x C configuration, at 64 B unless --sizes says.
	 * They do not widen the pair placement: cases of more than two
	 * processes run on pl_multi.
	 */
	for (unsigned t = 0; t < o.ntps && !o.nb.only; t++) {
		const struct transport *tp = o.tps[t];
		long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		cpu_set_t aff;

		if (sched_getaffinity(0, sizeof(aff), &aff) == 0)
			ncpu = CPU_COUNT(&aff);
		if (tp->max_producers <= 1 && tp->max_consumers <= 1)
			continue;
		for (unsigned m = MODE_SPIN; m <= MODE_BLOCK; m <<= 1) {
			if (!(tp->modes & m) || !(o.modes & m))
				continue;
			for (unsigned s = 0; s < o.nsizes; s++) {
				if (!o.sizes_given && o.sizes[s] != 64)
					continue;
				for (unsigned k = 0; k < o.npcs; k++) {
					struct case_result *c = &res[nc];
					unsigned np = o.pcs[k].p, ncs = o.pcs[k].c;

					if (np > tp->max_producers ||
					    ncs > tp->max_consumers)
						continue;
					/*
					 * --quick: more processes than CPUs
					 * only in block mode (spinning, they
					 * measure time slices, seconds).
					 */
					if (o.quick && !o.pcs_given &&
					    m == MODE_SPIN && np + ncs > ncpu)
						continue;
					if (nc >= MAX_CASES)
						die("too many cases");
					c->def.tp = tp;
					c->def.mode = (enum bench_mode)m;
					c->def.size = o.sizes[s];
					c->def.producers = np;
					c->def.consumers = ncs;
					c->capacity = capacity_for(&o,
								   o.sizes[s]);
					if (o.pcs[k].sweep && np + ncs > ncpu) {
						c->skipped = true;
						snprintf(c->note, sizeof(c->note),
							 "skipped: --sweep "
							 "needs %u CPUs, %ld "
							 "usable", np + ncs,
							 ncpu);
					}
					if (!c->skipped && np + ncs > maxmulti)
						maxmulti = np + ncs;
					nc++;
				}
			}
		}
	}
	if (nc == 0 && !o.nb.run)
		die("no case to run: the transports chosen have none of the "
		    "modes chosen");

	memset(&ri, 0, sizeof(ri));
	now = time(NULL);
	strftime(ri.date, sizeof(ri.date), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	read_cpu_model(ri.cpu_model, sizeof(ri.cpu_model));
	ri.ncpus_online = (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (uname(&un) == 0)
		snprintf(ri.kernel, sizeof(ri.kernel), "%s %s %s", un.sysname,
			 un.release, un.machine);
	ri.reps = o.reps;
	ri.msgs = o.msgs;
	ri.rtt_iters = o.rtt_iters;
	ri.budget_ms = o.budget_ms;
	ri.quick = o.quick;
	ri.nb = o.nb.run ? &nb : NULL;

	ret = placement_choose(&pl, (int)maxprocs, o.cpus);
	if (ret < 0)
		die("--cpus '%s': %s", o.cpus,
		    ret == -EPERM ? "a CPU this process may not use" :
				    "expected a list like 0,1");
	ri.pl = pl;
	pl_multi = pl;
	for (unsigned k = maxmulti; k > 2; k--) {
		struct placement t;

		if (placement_choose(&t, (int)k, o.cpus) == 0 && t.pinned) {
			pl_multi = t;
			break;
		}
	}
	ri.pl_multi = pl_multi;
	if (maxmulti > 2 && pl_multi.n < (int)maxmulti)
		bench_note("MPMC cases of up to %u processes on %d CPUs: roles "
			   "pinned round-robin (role i on CPU i mod %d; "
			   "producers first), so some share a CPU",
			   maxmulti, pl_multi.n, pl_multi.n);
	if (!pl.pinned)
		bench_note("unpinned with fewer CPUs than processes: a spinning "
			   "transport waits for the scheduler to run its peer, "
			   "so spin numbers measure time slices, not the "
			   "transport");
	bench_clock_init(o.mono, o.quick ? 20 : 100);
	snprintf(ri.clock, sizeof(ri.clock), "%s", bench_clk.desc);

	ctl = bench_shared_alloc(sizeof(*ctl));
	if (ctl == NULL)
		die("cannot map the control block: %s", strerror(errno));

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm; /* no SA_RESTART: waitpid must return */
	sigaction(SIGALRM, &sa, NULL);
	sa.sa_handler = on_interrupt;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	atexit(cleanup_at_exit);

	if (nc > 0)
		fprintf(stderr, "nshm-bench: %u cases x %u reps; placement: "
			"%s\n", nc, o.reps, pl.desc);
	/*
	 * Execution order: size by size, every transport and mode of one size
	 * back to back, so that the cases a ratio compares ran close together
	 * in time; the whole sequence repeats o.reps times (A B C A B C ...).
	 */
	for (unsigned s = 0, k = 0; s < o.nsizes; s++)
		for (unsigned ci = 0; ci < nc; ci++)
			if (res[ci].def.size == o.sizes[s] && k < nc)
				order[k++] = ci;
	start = mono_ns();
	for (unsigned rep = 0; rep < o.reps && !interrupted; rep++) {
		static const enum bench_kind kinds[2] = { KIND_TPUT, KIND_RTT };

		for (unsigned oi = 0; oi < nc && !interrupted; oi++) {
			unsigned ci = order[oi];
			struct case_result *c = &res[ci];
			struct rep_result *rr = &c->reps[c->nreps];
			char note[240] = "";

			if (!tty && oi == 0)
				fprintf(stderr, "[%5.1fs] rep %u/%u: %u cases\n",
					(double)(mono_ns() - start) / 1e9,
					rep + 1, o.reps, nc);
			if (c->skipped)
				continue;
			memset(rr, 0, sizeof(*rr));
			for (unsigned k = 0; k < 2 && !c->skipped; k++) {
				bool tput = kinds[k] == KIND_TPUT;

				/* Round trips: one ping, one pong (1x1). */
				if (tput ? o.no_tput || c->def.tp->ring_floor
					 : o.no_rtt || interrupted ||
						   !pair_case(&c->def))
					continue;
				progress(tty, rep, o.reps, oi, nc, &c->def,
					 tput ? "throughput" : "latency",
					 (double)(mono_ns() - start) / 1e9);
				ret = measure(&o, &c->def, kinds[k], rr, note,
					      sizeof(note));
				/* 1: cannot run here (skip the case for good) */
				c->skipped = ret == 1;
				if (c->skipped || (ret < 0 && c->note[0] == '\0'))
					snprintf(c->note, sizeof(c->note), "%s",
						 note);
			}
			if (!c->skipped)
				c->nreps++;
		}
	}
	if (tty)
		fprintf(stderr, "\r\033[K");
	/* After the cases: it adds processes the cases should not meet. */
#ifdef NSHM_BENCH_HAVE_RING
	if (o.nb.run && !interrupted)
		neighbour_run(&o.nb, &pl, &nb, &interrupted);
#else
	snprintf(nb.note, sizeof(nb.note), "not built: include/nshm/ring.h "
		 "was missing at configure time");
#endif
	ri.wall_s = (double)(mono_ns() - start) / 1e9;
	fprintf(stderr, "nshm-bench: done in %.1f s\n", ri.wall_s);
	if (interrupted)
		fprintf(stderr, "nshm-bench: interrupted; reporting what was "
				"measured\n");

	report_finish(res, nc);
	/* With --json - the JSON owns stdout; the table goes to stderr. */
	report_table(o.json != NULL && strcmp(o.json, "-") == 0 ? stderr :
								  stdout,
		     &ri, res, nc);
	ret = 0;
	if (o.json != NULL && report_json(o.json, &ri, res, nc) < 0)
		ret = 1;
	if (o.plot != NULL && report_plot(o.plot, &ri, res, nc) < 0)
		ret = 1;
	mq_restore_limits();
	bench_shared_free(ctl, sizeof(*ctl));
	return interrupted ? 130 : ret;
}
