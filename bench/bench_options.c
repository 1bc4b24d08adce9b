/* SPDX-License-Identifier: MIT */
/*
 * nshm-bench's command line: the transports it knows, the options, their
 * checks and the usage text (the driver is nshm_bench.c).
 */
#include "bench_options.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
_Static_assert(NTRANSPORTS <= BENCH_MAX_TRANSPORTS,
	       "raise BENCH_MAX_TRANSPORTS");

/* ---- small helpers ------------------------------------------------------ */

void die(const char *fmt, ...)
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

unsigned capacity_for(const struct options *o, size_t size)
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

void parse_args(int argc, char **argv, struct options *o)
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

