/* SPDX-License-Identifier: MIT */
/*
 * nshm-bench: the MPMC section (issue 10). Every case of a transport that
 * can have more than one producer or consumer (nshm-mpmc, mpmc-floor,
 * ck-mpmc) by P x C, with its throughput against its own 1x1 in the same
 * repetitions; then the targets at 64 B as same-run ratios
 * (medians of per-repetition ratios, as everywhere in the report), each
 * with PASS/MISS. Printed, never asserted. doc/bench.md, "MPMC".
 */
#include "bench_report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MPMC_TARGET_SIZE 64
#define T_X_SPSC 0.80  /* 1P1C throughput >= 0.8 x nshm-spsc */
#define T_X_FLOOR 1.00 /* 1P1C throughput >= 1.0 x mpmc-floor, ck-mpmc */
#define T_RTT_SPSC 1.20 /* 1P1C p50 round trip <= 1.2 x nshm-spsc */
#define T_4X4_OWN 0.50	/* 4P4C blocking >= 0.5 x its own 1P1C */

static bool multi_tp(const struct transport *t)
{
	return t->max_producers > 1 || t->max_consumers > 1;
}

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/*
 * Median over repetitions of a_r / b_r (as bench_report.c does); the
 * smallest and largest of them in @p lo, @p hi when not NULL (the noise).
 */
static double paired_range(const struct case_result *a,
			   const struct case_result *b, bool tput, double *lo,
			   double *hi)
{
	double v[BENCH_MAX_REPS];
	unsigned k = 0, n;

	if (a == NULL || b == NULL)
		return NAN;
	n = a->nreps < b->nreps ? a->nreps : b->nreps;
	for (unsigned r = 0; r < n; r++) {
		const struct rep_result *x = &a->reps[r], *y = &b->reps[r];

		if (tput && x->tput_ok && y->tput_ok && y->msgs_per_s > 0)
			v[k++] = x->msgs_per_s / y->msgs_per_s;
		else if (!tput && x->rtt_ok && y->rtt_ok && y->p50 > 0)
			v[k++] = x->p50 / y->p50;
	}
	if (lo != NULL)
		*lo = *hi = NAN;
	if (k == 0)
		return NAN;
	qsort(v, k, sizeof(*v), cmp_dbl);
	if (lo != NULL) {
		*lo = v[0];
		*hi = v[k - 1];
	}
	return k % 2 ? v[k / 2] : (v[k / 2 - 1] + v[k / 2]) / 2.0;
}

static double paired(const struct case_result *a, const struct case_result *b,
		     bool tput)
{
	return paired_range(a, b, tput, NULL, NULL);
}

/* The case of @p name / @p mode / size / P x C, or NULL. mode 0: spin if
 * there, else block. */
static const struct case_result *find(const struct case_result *res,
				      unsigned n, const char *name,
				      unsigned mode, size_t size, unsigned np,
				      unsigned nc)
{
	const struct case_result *any = NULL;

	for (unsigned i = 0; i < n; i++) {
		const struct case_result *c = &res[i];

		if (c->skipped || c->def.size != size ||
		    c->def.producers != np || c->def.consumers != nc ||
		    strcmp(c->def.tp->name, name) != 0)
			continue;
		if (mode != 0 ? c->def.mode == mode : c->def.mode == MODE_SPIN)
			return c;
		if (mode == 0 && any == NULL)
			any = c;
	}
	return mode == 0 ? any : NULL;
}

/* Repetitions whose throughput run delivered (and verified) everything. */
static unsigned reps_ok(const struct case_result *c)
{
	unsigned k = 0;

	for (unsigned r = 0; r < c->nreps; r++)
		k += c->reps[r].tput_ok;
	return k;
}

struct mpmc_target {
	char what[96];	  /* "nshm-mpmc spin 1x1 tput / nshm-spsc spin" */
	char key[48];	  /* JSON name */
	const char *mode; /* nshm-mpmc's */
	double ratio;	  /* NAN: not measured */
	double lo, hi;	  /* the per-repetition ratios' range */
	double limit;
	bool at_least;
	int delivered;	  /* -1: a ratio target; else 0/1 */
};

#define MAX_T 24

static unsigned mpmc_targets(const struct case_result *res, unsigned n,
			     struct mpmc_target *t)
{
	static const struct {
		const char *vs, *key;
		double limit;
		bool tput;
	} one[] = {
		{ "nshm-spsc", "tput_1x1_x_nshm_spsc", T_X_SPSC, true },
		{ "mpmc-floor", "tput_1x1_x_mpmc_floor", T_X_FLOOR, true },
		{ "ck-mpmc", "tput_1x1_x_ck_mpmc", T_X_FLOOR, true },
		{ "nshm-spsc", "rtt_p50_1x1_x_nshm_spsc", T_RTT_SPSC, false },
	};
	unsigned k = 0;

	memset(t, 0, MAX_T * sizeof(*t));
	for (unsigned m = MODE_SPIN; m <= MODE_BLOCK; m <<= 1) {
		const struct case_result *me, *own, *big;

		me = find(res, n, "nshm-mpmc", m, MPMC_TARGET_SIZE, 1, 1);
		if (me == NULL)
			continue;
		for (unsigned i = 0; i < sizeof(one) / sizeof(one[0]); i++) {
			/* the comparator in the same mode, else its spin */
			const struct case_result *o =
				find(res, n, one[i].vs, m, MPMC_TARGET_SIZE, 1,
				     1);

			if (o == NULL)
				o = find(res, n, one[i].vs, 0,
					 MPMC_TARGET_SIZE, 1, 1);
			if (o == NULL || k >= MAX_T)
				continue;
			snprintf(t[k].what, sizeof(t[k].what),
				 "1x1 %s / %s %s", one[i].tput ? "tput" :
				 "rtt p50", one[i].vs, mode_name(o->def.mode));
			snprintf(t[k].key, sizeof(t[k].key), "%s", one[i].key);
			t[k].mode = mode_name((enum bench_mode)m);
			t[k].ratio = paired_range(me, o, one[i].tput, &t[k].lo,
						  &t[k].hi);
			t[k].limit = one[i].limit;
			t[k].at_least = one[i].tput;
			t[k].delivered = -1;
			k++;
		}
		own = me;
		big = find(res, n, "nshm-mpmc", m, MPMC_TARGET_SIZE, 4, 4);
		if (big == NULL || m != MODE_BLOCK || k + 2 > MAX_T)
			continue;
		/* 4P4C blocking: all delivered, >= 0.5 x its own 1P1C */
		snprintf(t[k].what, sizeof(t[k].what),
			 "4x4 every message delivered (%u of %u reps)",
			 reps_ok(big), big->nreps);
		snprintf(t[k].key, sizeof(t[k].key), "delivered_4x4");
		t[k].mode = mode_name(big->def.mode);
		t[k].ratio = t[k].lo = t[k].hi = NAN;
		t[k].delivered = big->nreps > 0 && reps_ok(big) == big->nreps &&
				 big->note[0] == '\0';
		k++;
		snprintf(t[k].what, sizeof(t[k].what),
			 "4x4 tput / own 1x1 %s", mode_name(own->def.mode));
		snprintf(t[k].key, sizeof(t[k].key), "tput_4x4_x_own_1x1");
		t[k].mode = mode_name(big->def.mode);
		t[k].ratio = paired_range(big, own, true, &t[k].lo, &t[k].hi);
		t[k].limit = T_4X4_OWN;
		t[k].at_least = true;
		t[k].delivered = -1;
		k++;
	}
	return k;
}

static const char *verdict(const struct mpmc_target *t)
{
	if (t->delivered >= 0)
		return t->delivered ? "PASS" : "MISS";
	if (isnan(t->ratio))
		return "n/a";
	return (t->at_least ? t->ratio >= t->limit : t->ratio <= t->limit) ?
		       "PASS" :
		       "MISS";
}

static void fmt(char *buf, size_t len, double v, const char *f)
{
	if (isnan(v))
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, f, v);
}

void report_mpmc_table(FILE *f, const struct case_result *res, unsigned n)
{
	struct mpmc_target t[MAX_T];
	unsigned nt;
	bool any = false;

	for (unsigned i = 0; i < n; i++)
		any |= multi_tp(res[i].def.tp);
	if (!any)
		return;
	fprintf(f, "\n*** MPMC (issue 10): throughput by producers x "
		   "consumers (every message of every producer checked, "
		   "exactly once); x own 1x1: median of per-repetition "
		   "ratios to the same transport and mode at 1x1 ***\n");
	fprintf(f, "%-10s %-5s %6s %5s %9s %4s %10s  %s\n", "transport",
		"mode", "size", "PxC", "Mmsg/s", "+-%", "x own 1x1",
		"delivered");
	for (unsigned i = 0; i < n; i++) {
		const struct case_result *c = &res[i], *own;
		char a[24], b[24], x[24], pc[32], s[32];

		if (!multi_tp(c->def.tp))
			continue;
		snprintf(pc, sizeof(pc), "%ux%u", c->def.producers,
			 c->def.consumers);
		if (c->def.size % 1024 == 0)
			snprintf(s, sizeof(s), "%zuK", c->def.size / 1024);
		else
			snprintf(s, sizeof(s), "%zu", c->def.size);
		if (c->skipped) {
			fprintf(f, "%-10s %-5s %6s %5s  %s\n", c->def.tp->name,
				mode_name(c->def.mode), s, pc, c->note);
			continue;
		}
		own = find(res, n, c->def.tp->name, c->def.mode, c->def.size,
			   1, 1);
		fmt(a, sizeof(a), c->have_tput ? c->msgs_per_s / 1e6 : NAN,
		    "%.2f");
		fmt(b, sizeof(b), c->tput_spread, "%.0f");
		fmt(x, sizeof(x), own == c ? NAN : paired(c, own, true),
		    "%.2fx");
		fprintf(f, "%-10s %-5s %6s %5s %9s %4s %10s  %u/%u reps%s%s\n",
			c->def.tp->name, mode_name(c->def.mode), s, pc, a, b,
			x, reps_ok(c), c->nreps, c->note[0] ? ": " : "",
			c->note);
	}
	nt = mpmc_targets(res, n, t);
	if (nt == 0)
		return;
	fprintf(f, "\n*** targets of nshm-mpmc (issue 10), %d B, same-run "
		   "ratios: 1x1 tput >= %.2fx nshm-spsc, >= %.2fx mpmc-floor "
		   "and ck-mpmc; 1x1 rtt p50 <= %.2fx nshm-spsc; 4x4 block "
		   "delivers all, tput >= %.2fx its 1x1 ***\n",
		MPMC_TARGET_SIZE, T_X_SPSC, T_X_FLOOR, T_RTT_SPSC, T_4X4_OWN);
	fprintf(f, "%-9s %-5s %-44s %8s %8s  %-6s %s\n", "", "mode",
		"(medians of per-repetition ratios)", "ratio", "target", "",
		"per-rep range");
	for (unsigned i = 0; i < nt; i++) {
		char r[24], l[24], g[48];

		fmt(r, sizeof(r), t[i].ratio, "%.3fx");
		if (isnan(t[i].lo))
			g[0] = '\0';
		else
			snprintf(g, sizeof(g), "%.2f..%.2f", t[i].lo, t[i].hi);
		if (t[i].delivered >= 0)
			snprintf(l, sizeof(l), "%s", "");
		else
			snprintf(l, sizeof(l), "%s %.2f",
				 t[i].at_least ? ">=" : "<=", t[i].limit);
		fprintf(f, "nshm-mpmc %-5s %-44s %8s %8s  %-6s %s\n", t[i].mode,
			t[i].what, t[i].delivered >= 0 ? "" : r, l,
			verdict(&t[i]), g);
	}
}

static void jnum(FILE *f, double v, const char *fm)
{
	if (!isfinite(v))
		fputs("null", f);
	else
		fprintf(f, fm, v);
}

void report_mpmc_json(FILE *f, const struct case_result *res, unsigned n)
{
	struct mpmc_target t[MAX_T];
	unsigned nt, k = 0;
	bool any = false;

	for (unsigned i = 0; i < n; i++)
		any |= multi_tp(res[i].def.tp);
	if (!any) {
		fputs("null", f);
		return;
	}
	fprintf(f, "{\n    \"issue\": \"issue 10\",\n    \"size\": %d,\n"
		   "    \"configs\": [", MPMC_TARGET_SIZE);
	for (unsigned i = 0; i < n; i++) {
		const struct case_result *c = &res[i], *own;

		if (!multi_tp(c->def.tp))
			continue;
		own = c->skipped ? NULL :
				   find(res, n, c->def.tp->name, c->def.mode,
					c->def.size, 1, 1);
		fprintf(f, "%s\n      {\"transport\": \"%s\", \"mode\": "
			   "\"%s\", \"size\": %zu, \"producers\": %u, "
			   "\"consumers\": %u, \"skipped\": %s, "
			   "\"msgs_per_s\": ",
			k++ ? "," : "", c->def.tp->name,
			mode_name(c->def.mode), c->def.size, c->def.producers,
			c->def.consumers, c->skipped ? "true" : "false");
		jnum(f, c->have_tput && !c->skipped ? c->msgs_per_s : NAN,
		     "%.0f");
		fprintf(f, ", \"x_own_1x1\": ");
		jnum(f, own == NULL ? NAN : paired(c, own, true), "%.4f");
		fprintf(f, ", \"reps_ok\": %u, \"reps\": %u}", reps_ok(c),
			c->nreps);
	}
	fprintf(f, "%s],\n    \"targets\": [", k ? "\n    " : "");
	nt = mpmc_targets(res, n, t);
	for (unsigned i = 0; i < nt; i++) {
		fprintf(f, "%s\n      {\"name\": \"%s\", \"mode\": \"%s\", "
			   "\"what\": \"%s\", \"ratio\": ",
			i ? "," : "", t[i].key, t[i].mode, t[i].what);
		jnum(f, t[i].ratio, "%.4f");
		fprintf(f, ", \"ratio_min\": ");
		jnum(f, t[i].lo, "%.4f");
		fprintf(f, ", \"ratio_max\": ");
		jnum(f, t[i].hi, "%.4f");
		fprintf(f, ", \"limit\": ");
		jnum(f, t[i].delivered >= 0 ? NAN : t[i].limit, "%.2f");
		fprintf(f, ", \"at_least\": %s, \"result\": \"%s\"}",
			t[i].at_least ? "true" : "false", verdict(&t[i]));
	}
	fprintf(f, "%s]\n  }", nt ? "\n    " : "");
}
