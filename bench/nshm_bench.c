/* SPDX-License-Identifier: MIT */
/*
 * nshm-bench: latency and throughput of nshm rings against the hardware
 * floor and the transports users would pick instead, in one run, with the
 * cases interleaved (A B C A B C ...) so that ratios stay fair on a noisy
 * machine. See doc/bench.md.
 */
#include "bench.h"
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

static const struct transport *const all_transports[] = {
	&tp_hw,
	&tp_hw_ring,
#ifdef NSHM_BENCH_HAVE_RING
	&tp_nshm_spsc,
	&tp_nshm_spsc_seq,
#endif
#ifdef NSHM_BENCH_HAVE_CXX
	&tp_nshm_spsc_cxx,
#endif
#ifdef NSHM_BENCH_HAVE_MPMC
	&tp_nshm_mpmc,
#endif
	&tp_mpmc_floor,
#ifdef NSHM_BENCH_HAVE_CK
	&tp_ck_mpmc,
#endif
#ifdef NSHM_BENCH_HAVE_RECORDS
	&tp_nshm_records,
	&tp_nshm_records_mix,
#endif
#ifdef NSHM_BENCH_HAVE_BCAST
	&tp_nshm_bcast,
	&tp_nshm_mcast,
	&tp_bcast_floor,
#endif
	&tp_pipe,
	&tp_unix,
	&tp_mq,
};
#define NTRANSPORTS (sizeof(all_transports) / sizeof(all_transports[0]))

#define MAX_SIZES 32
#define MAX_CASES 512
#define MAX_PCS 16

struct options {
	bool quick;
	size_t sizes[MAX_SIZES];
	unsigned nsizes;
	const struct transport *tps[NTRANSPORTS];
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

/* ---- small helpers ------------------------------------------------------ */

static void die(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "nshm-bench: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static bool parse_u64(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	uint64_t mult = 1;

	if (s == NULL || *s == '\0' || *s == '-')
		return false;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno != 0 || end == s)
		return false;
	if (*end == 'k' || *end == 'K')
		mult = 1000;
	else if (*end == 'm' || *end == 'M')
		mult = 1000000;
	else if (*end == 'g' || *end == 'G')
		mult = 1000000000;
	if (mult != 1)
		end++;
	if (*end != '\0')
		return false;
	*out = (uint64_t)v * mult;
	return true;
}

/* Sizes: plain bytes, or with a KiB/MiB suffix "k"/"m" (binary). */
static bool parse_size(const char *s, size_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno != 0 || end == s)
		return false;
	if (*end == 'k' || *end == 'K')
		v *= 1024, end++;
	else if (*end == 'm' || *end == 'M')
		v *= 1024 * 1024, end++;
	if (*end != '\0')
		return false;
	*out = (size_t)v;
	return true;
}

const char *mode_name(enum bench_mode m)
{
	return m == MODE_SPIN ? "spin" : "block";
}

static unsigned pow2_floor(size_t v)
{
	unsigned r = 1;

	while ((size_t)r * 2 <= v && r < (1u << 30))
		r *= 2;
	return r;
}

static unsigned capacity_for(const struct options *o, size_t size)
{
	unsigned c;

	if (o->capacity)
		return o->capacity;
	c = pow2_floor(o->ring_bytes / size);
	if (c < 4)
		c = 4;
	if (c > 4096)
		c = 4096;
	return c;
}

/* ---- usage -------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
"usage: nshm-bench [options]\n"
"\n"
"Measures throughput (messages/s, GB/s; every sequence number checked) and\n"
"round-trip latency (ping-pong; p50 p90 p99 p99.9 max from an HDR-style\n"
"histogram) for every transport, interleaved over several repetitions;\n"
"reports medians and ratios of each nshm ring to the hardware floor and to\n"
"the best non-nshm transport.\n"
"\n"
"  --quick             CI smoke run (< 30 s): 3 reps, short time caps\n"
"  --sizes LIST        message sizes in bytes, e.g. 8,64,4k,64k\n"
"                      (default 8,64,256,1024,4096,65536)\n"
"  --transports LIST   subset of the transports below (default: all)\n"
"  --modes LIST        spin,block (default both; each transport runs the\n"
"                      modes it has)\n"
"  --reps N            repetitions (default 5; quick 3)\n"
"  --msgs N            throughput: at most N messages per run (default 5M)\n"
"  --rtt-iters N       latency: at most N round trips per run (default 100k)\n"
"  --budget-ms N       time cap per run, whichever ends first (default 300)\n"
"  --ring-bytes N      ring slots = N / size, power of two, 4..4096\n"
"                      (default 256k)\n"
"  --capacity N        ring slots (power of two), overrides --ring-bytes\n"
"  --mq-depth N        POSIX mq depth wanted (default 10, the unprivileged\n"
"                      maximum)\n"
"  --no-tput, --no-rtt skip one of the two measurements\n"
"  --pc LIST           producer x consumer configurations of the MPMC\n"
"                      transports (default 1x1,2x1,1x2,2x2,4x4; quick\n"
"                      1x1,4x4); latency is measured at 1x1 only. They run\n"
"                      at 64 B, or at every size of --sizes\n"
"                      (a P x C case of more than 2 processes pins its\n"
"                      roles round-robin onto as many CPUs as can be had)\n"
"  --sweep             also 4x1,1x4,8x1,1x8,8x8 (scaling, up to 8P8C), each\n"
"                      only where P + C CPUs are usable (else skipped)\n"
"  --cpus A,B          pin to these CPUs instead of asking hwloc\n"
"  --clock tsc|mono    timestamp source (default tsc when invariant)\n"
"  --json FILE         write every case as JSON\n"
"  --plot FILE.png     draw latency and throughput by size (gnuplot)\n"
"  --neighbour         run the neighbour experiment (issue 9: does a ring\n"
"                      whose consumer parks tax a spinning pair?); alone,\n"
"                      unless --transports is given too. A full run (no\n"
"                      --transports/--sizes/--modes) includes it\n"
"  --no-neighbour      leave it out of a full run\n"
"  --neighbour-period-us N  its producer sends every N us (default 2000\n"
"                      where it shares the pair's CPUs, 500 on cores of\n"
"                      its own)\n"
"  --neighbour-ms N    duration of each alone/beside run (500; quick 200)\n"
"  --neighbour-reps N  alone/beside pairs (default 9; quick 3)\n"
"  --neighbour-sched auto|fifo|other  the neighbour's scheduling policy\n"
"                      (auto: SCHED_FIFO 1 where it shares CPUs with the\n"
"                      pair and may, else SCHED_OTHER)\n"
"  --list              list the transports and exit\n"
"  --help              this text\n"
"\n"
"Numbers suffixes: --msgs/--rtt-iters take k, M (10^3, 10^6); sizes take\n"
"k, m (KiB, MiB).\n");
}

static void list_transports(FILE *f)
{
	for (unsigned i = 0; i < NTRANSPORTS; i++) {
		const struct transport *t = all_transports[i];

		fprintf(f, "  %-10s %-11s %s\n", t->name,
			t->modes == (MODE_SPIN | MODE_BLOCK) ? "spin,block" :
			t->modes == MODE_SPIN		    ? "spin" :
							      "block",
			t->desc);
	}
#ifndef NSHM_BENCH_HAVE_RING
	fprintf(f, "  (nshm ring transports not built: include/nshm/ring.h "
		   "was missing at configure time)\n");
#endif
}

static void add_transport(struct options *o, const struct transport *t)
{
	for (unsigned i = 0; i < o->ntps; i++)
		if (o->tps[i] == t)
			return;
	if (o->ntps < NTRANSPORTS)
		o->tps[o->ntps++] = t;
}

static const struct transport *find_transport(const char *name, size_t len)
{
	for (unsigned i = 0; i < NTRANSPORTS; i++)
		if (strlen(all_transports[i]->name) == len &&
		    strncmp(all_transports[i]->name, name, len) == 0)
			return all_transports[i];
	/* "nshm" selects every nshm ring: handled by the caller. */
	return NULL;
}

/* "PxC,PxC,...": add each configuration not listed yet. */
static void parse_pcs(struct options *o, const char *list, bool sweep)
{
	for (const char *p = list; *p;) {
		unsigned long np, nc;
		char *end;
		bool dup = false;

		np = strtoul(p, &end, 10);
		if (end == p || (*end != 'x' && *end != 'X'))
			die("--pc: '%s': expected a list like 1x1,2x2", list);
		p = end + 1;
		nc = strtoul(p, &end, 10);
		if (end == p || (*end != ',' && *end != '\0') || np == 0 ||
		    nc == 0 || np + nc > BENCH_MAX_PROCS)
			die("--pc: '%s': P x C with P, C >= 1 and P + C <= %d",
			    list, BENCH_MAX_PROCS);
		p = *end == ',' ? end + 1 : end;
		for (unsigned i = 0; i < o->npcs; i++)
			dup |= o->pcs[i].p == np && o->pcs[i].c == nc;
		if (dup)
			continue;
		if (o->npcs >= MAX_PCS)
			die("--pc: at most %d configurations", MAX_PCS);
		o->pcs[o->npcs].p = (unsigned)np;
		o->pcs[o->npcs].c = (unsigned)nc;
		o->pcs[o->npcs].sweep = sweep;
		o->npcs++;
	}
}

static void parse_args(int argc, char **argv, struct options *o)
{
	enum { O_QUICK = 256, O_SIZES, O_TPS, O_MODES, O_REPS, O_MSGS,
	       O_ITERS, O_BUDGET, O_RINGB, O_CAP, O_MQD, O_NOTPUT, O_NORTT,
	       O_CPUS, O_CLOCK, O_JSON, O_PLOT, O_LIST, O_HELP, O_NB, O_NONB,
	       O_NBPER, O_NBMS, O_NBREPS, O_NBSCHED, O_PC, O_SWEEP };
	static const struct option lo[] = {
		{ "quick", no_argument, NULL, O_QUICK },
		{ "sizes", required_argument, NULL, O_SIZES },
		{ "transports", required_argument, NULL, O_TPS },
		{ "modes", required_argument, NULL, O_MODES },
		{ "reps", required_argument, NULL, O_REPS },
		{ "msgs", required_argument, NULL, O_MSGS },
		{ "rtt-iters", required_argument, NULL, O_ITERS },
		{ "budget-ms", required_argument, NULL, O_BUDGET },
		{ "ring-bytes", required_argument, NULL, O_RINGB },
		{ "capacity", required_argument, NULL, O_CAP },
		{ "mq-depth", required_argument, NULL, O_MQD },
		{ "no-tput", no_argument, NULL, O_NOTPUT },
		{ "no-rtt", no_argument, NULL, O_NORTT },
		{ "cpus", required_argument, NULL, O_CPUS },
		{ "clock", required_argument, NULL, O_CLOCK },
		{ "json", required_argument, NULL, O_JSON },
		{ "plot", required_argument, NULL, O_PLOT },
		{ "neighbour", no_argument, NULL, O_NB },
		{ "no-neighbour", no_argument, NULL, O_NONB },
		{ "neighbour-period-us", required_argument, NULL, O_NBPER },
		{ "neighbour-ms", required_argument, NULL, O_NBMS },
		{ "neighbour-reps", required_argument, NULL, O_NBREPS },
		{ "neighbour-sched", required_argument, NULL, O_NBSCHED },
		{ "pc", required_argument, NULL, O_PC },
		{ "sweep", no_argument, NULL, O_SWEEP },
		{ "list", no_argument, NULL, O_LIST },
		{ "help", no_argument, NULL, O_HELP },
		{ 0 }
	};
	const char *sizes = NULL, *tps = NULL, *modes = NULL, *pcs = NULL;
	bool sweep = false;
	uint64_t reps = 0, msgs = 0, iters = 0, budget = 0, v;
	uint64_t nb_ms = 0, nb_reps = 0;
	bool nb_only = false, no_nb = false;
	int c;

	memset(o, 0, sizeof(*o));
	o->ring_bytes = 256 * 1024;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case O_QUICK: o->quick = true; break;
		case O_SIZES: sizes = optarg; break;
		case O_TPS: tps = optarg; break;
		case O_MODES: modes = optarg; break;
		case O_REPS:
			if (!parse_u64(optarg, &reps) || reps == 0 ||
			    reps > BENCH_MAX_REPS)
				die("--reps: 1..%d", BENCH_MAX_REPS);
			break;
		case O_MSGS:
			if (!parse_u64(optarg, &msgs) || msgs < 2)
				die("--msgs: a number >= 2");
			break;
		case O_ITERS:
			if (!parse_u64(optarg, &iters) || iters == 0)
				die("--rtt-iters: a number >= 1");
			break;
		case O_BUDGET:
			if (!parse_u64(optarg, &budget) || budget == 0 ||
			    budget > 600000)
				die("--budget-ms: 1..600000");
			break;
		case O_RINGB:
			if (!parse_size(optarg, &o->ring_bytes) ||
			    o->ring_bytes == 0)
				die("--ring-bytes: a size");
			break;
		case O_CAP:
			if (!parse_u64(optarg, &v) || v < 2 || v > (1u << 24) ||
			    (v & (v - 1)) != 0)
				die("--capacity: a power of two, 2..2^24");
			o->capacity = (unsigned)v;
			break;
		case O_MQD:
			if (!parse_u64(optarg, &v) || v == 0 || v > 65536)
				die("--mq-depth: 1..65536");
			o->mq_depth = (unsigned)v;
			break;
		case O_NOTPUT: o->no_tput = true; break;
		case O_NORTT: o->no_rtt = true; break;
		case O_CPUS: o->cpus = optarg; break;
		case O_CLOCK:
			if (strcmp(optarg, "mono") == 0)
				o->mono = true;
			else if (strcmp(optarg, "tsc") != 0)
				die("--clock: tsc or mono");
			break;
		case O_NB: nb_only = true; break;
		case O_NONB: no_nb = true; break;
		case O_NBPER:
			if (!parse_u64(optarg, &v) || v < 10 || v > 1000000)
				die("--neighbour-period-us: 10..1000000");
			o->nb.period_us = (unsigned)v;
			break;
		case O_NBMS:
			if (!parse_u64(optarg, &nb_ms) || nb_ms < 10 ||
			    nb_ms > 600000)
				die("--neighbour-ms: 10..600000");
			break;
		case O_NBREPS:
			if (!parse_u64(optarg, &nb_reps) || nb_reps == 0 ||
			    nb_reps > BENCH_MAX_REPS)
				die("--neighbour-reps: 1..%d", BENCH_MAX_REPS);
			break;
		case O_NBSCHED:
			if (strcmp(optarg, "auto") == 0)
				o->nb.sched = NB_SCHED_AUTO;
			else if (strcmp(optarg, "fifo") == 0)
				o->nb.sched = NB_SCHED_FIFO;
			else if (strcmp(optarg, "other") == 0)
				o->nb.sched = NB_SCHED_OTHER;
			else
				die("--neighbour-sched: auto, fifo or other");
			break;
		case O_PC: pcs = optarg; break;
		case O_SWEEP: sweep = true; break;
		case O_JSON: o->json = optarg; break;
		case O_PLOT: o->plot = optarg; break;
		case O_LIST:
			list_transports(stdout);
			exit(0);
		case 'h':
		case O_HELP:
			usage(stdout);
			printf("\ntransports:\n");
			list_transports(stdout);
			exit(0);
		default:
			usage(stderr);
			exit(2);
		}
	}
	if (optind < argc)
		die("unexpected argument '%s' (see --help)", argv[optind]);
	if (o->no_tput && o->no_rtt)
		die("--no-tput and --no-rtt leave nothing to measure");

	o->reps = reps ? (unsigned)reps : o->quick ? 3 : 5;
	o->msgs = msgs ? msgs : o->quick ? 200000 : 5000000;
	o->rtt_iters = iters ? iters : o->quick ? 10000 : 100000;
	o->budget_ms = budget ? budget : o->quick ? 40 : 300;
	o->mq_depth = o->mq_depth ? o->mq_depth : 10;

	/*
	 * The neighbour experiment: with --neighbour (alone, unless
	 * transports are chosen too), or as part of a full run.
	 */
	o->selected = sizes != NULL || tps != NULL || modes != NULL;
	if (nb_only && no_nb)
		die("--neighbour and --no-neighbour contradict each other");
	o->nb.run = nb_only || (!o->selected && !no_nb);
	o->nb.only = nb_only && tps == NULL;
	/* period_us 0: chosen by placement (neighbour.c) */
	o->nb.run_ms = nb_ms ? (unsigned)nb_ms : o->quick ? 200 : 500;
	o->nb.reps = nb_reps ? (unsigned)nb_reps : o->quick ? 3 : 9;
	o->nb.cpus = o->cpus;

	parse_pcs(o, pcs != NULL ? pcs : o->quick ? "1x1,4x4" :
			 "1x1,2x1,1x2,2x2,4x4", false);
	if (sweep)
		parse_pcs(o, "4x1,1x4,8x1,1x8,8x8", true);
	o->sizes_given = sizes != NULL;
	o->pcs_given = pcs != NULL;
	if (sizes == NULL)
		sizes = "8,64,256,1024,4096,65536";
	for (const char *p = sizes; *p;) {
		char tok[32];
		size_t n = strcspn(p, ",");

		if (n == 0 || n >= sizeof(tok) || o->nsizes >= MAX_SIZES)
			die("--sizes: bad list '%s'", sizes);
		memcpy(tok, p, n);
		tok[n] = '\0';
		if (!parse_size(tok, &o->sizes[o->nsizes]) ||
		    o->sizes[o->nsizes] < MSG_MIN ||
		    o->sizes[o->nsizes] > MSG_MAX)
			die("--sizes: '%s' is not a size in %u..%u", tok,
			    MSG_MIN, MSG_MAX);
		for (unsigned k = 0; k < o->nsizes; k++)
			if (o->sizes[k] == o->sizes[o->nsizes])
				die("--sizes: %zu is listed twice",
				    o->sizes[k]);
		o->nsizes++;
		p += n;
		if (*p == ',')
			p++;
	}
	if (tps == NULL) {
		for (unsigned i = 0; i < NTRANSPORTS; i++)
			o->tps[o->ntps++] = all_transports[i];
	} else {
		for (const char *p = tps; *p;) {
			size_t n = strcspn(p, ",");
			const struct transport *t = find_transport(p, n);

			if (t == NULL && n == 4 && strncmp(p, "nshm", 4) == 0) {
				for (unsigned i = 0; i < NTRANSPORTS; i++)
					if (all_transports[i]->nshm)
						add_transport(o,
							      all_transports[i]);
			} else if (t == NULL) {
				fprintf(stderr,
					"nshm-bench: unknown transport '%.*s'; "
					"these exist:\n", (int)n, p);
				list_transports(stderr);
				exit(2);
			} else {
				add_transport(o, t);
			}
			p += n;
			if (*p == ',')
				p++;
		}
	}
	if (modes == NULL) {
		o->modes = MODE_SPIN | MODE_BLOCK;
	} else {
		for (const char *p = modes; *p;) {
			size_t n = strcspn(p, ",");

			if (n == 4 && strncmp(p, "spin", 4) == 0)
				o->modes |= MODE_SPIN;
			else if (n == 5 && strncmp(p, "block", 5) == 0)
				o->modes |= MODE_BLOCK;
			else
				die("--modes: spin and/or block");
			p += n;
			if (*p == ',')
				p++;
		}
	}
}

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
