/* SPDX-License-Identifier: MIT */
/* nshm-bench: medians, ratios, the table, JSON and the plot. */
#include "bench_report.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <unistd.h>

/*
 * Performance targets of the nshm ring issues, checked (printed, never
 * asserted) against the hardware floor. Add a line when a ring kind lands
 * with a target of its own.
 */
static const struct target targets[] = {
	{ "nshm-spsc", "issue 4", 0.90, 1.15, { 8, 64, 256, 1024, 4096, 0 } },
	{ "nshm-spsc-seq", "issue 4", 0.90, 1.15, { 64, 256, 1024, 4096, 0 } },
};
#define NTARGETS (sizeof(targets) / sizeof(targets[0]))

/* ---- notes -------------------------------------------------------------- */

#define MAX_NOTES 32
static char notes[MAX_NOTES][240];
static unsigned nnotes;

void bench_note(const char *fmt, ...)
{
	char buf[240];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	for (unsigned i = 0; i < nnotes; i++)
		if (strcmp(notes[i], buf) == 0)
			return;
	if (nnotes < MAX_NOTES)
		memcpy(notes[nnotes++], buf, sizeof(buf));
}

/* ---- medians and ratios ------------------------------------------------- */

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, unsigned n)
{
	if (n == 0)
		return NAN;
	qsort(v, n, sizeof(*v), cmp_dbl);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

#define MEDIAN_OF(c, field, okfield, out)                                 \
	do {                                                              \
		double v_[BENCH_MAX_REPS];                                \
		unsigned k_ = 0;                                          \
		for (unsigned r_ = 0; r_ < (c)->nreps; r_++)              \
			if ((c)->reps[r_].okfield)                        \
				v_[k_++] = (double)(c)->reps[r_].field;   \
		(out) = median(v_, k_);                                   \
	} while (0)

/* Half the range of a field over the good repetitions, in % of @p med. */
#define SPREAD_OF(c, field, okfield, med, out)                            \
	do {                                                              \
		double lo_ = INFINITY, hi_ = -INFINITY;                   \
		for (unsigned r_ = 0; r_ < (c)->nreps; r_++) {            \
			if (!(c)->reps[r_].okfield)                       \
				continue;                                 \
			lo_ = fmin(lo_, (c)->reps[r_].field);             \
			hi_ = fmax(hi_, (c)->reps[r_].field);             \
		}                                                         \
		(out) = (med) > 0 && hi_ >= lo_ ?                         \
				(hi_ - lo_) / (med) * 50.0 : NAN;         \
	} while (0)

void report_finish(struct case_result *res, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		struct case_result *c = &res[i];
		double m;

		c->have_tput = c->have_rtt = false;
		c->max = 0;
		for (unsigned r = 0; r < c->nreps; r++) {
			c->have_tput |= c->reps[r].tput_ok;
			if (c->reps[r].rtt_ok) {
				c->have_rtt = true;
				if (c->reps[r].max > c->max)
					c->max = c->reps[r].max;
			}
		}
		MEDIAN_OF(c, msgs_per_s, tput_ok, c->msgs_per_s);
		MEDIAN_OF(c, gb_per_s, tput_ok, c->gb_per_s);
		MEDIAN_OF(c, msgs, tput_ok, m);
		c->msgs = isnan(m) ? 0 : (uint64_t)m;
		MEDIAN_OF(c, p50, rtt_ok, c->p50);
		MEDIAN_OF(c, p90, rtt_ok, c->p90);
		MEDIAN_OF(c, p99, rtt_ok, c->p99);
		MEDIAN_OF(c, p999, rtt_ok, c->p999);
		MEDIAN_OF(c, mean, rtt_ok, c->mean);
		MEDIAN_OF(c, samples, rtt_ok, m);
		c->samples = isnan(m) ? 0 : (uint64_t)m;
		if (!c->have_rtt)
			c->max = NAN;
		SPREAD_OF(c, msgs_per_s, tput_ok, c->msgs_per_s,
			  c->tput_spread);
		SPREAD_OF(c, p50, rtt_ok, c->p50, c->p50_spread);
	}
}

struct ratios {
	double tput_hw, rtt_hw;		/* nshm / hw */
	double rtt_hw_ring;		/* nshm / hw-ring (same capacity) */
	double tput_alt, rtt_alt;	/* nshm / best non-nshm */
	const struct case_result *alt_tput, *alt_rtt;
};

/*
 * Median over repetitions of the per-repetition ratio a_r / b_r. Cases of
 * one size run back to back in each repetition, so a and b of the same
 * repetition saw the same machine; pairing them cancels most of the noise
 * that drifts between repetitions.
 */
static double paired_ratio(const struct case_result *a,
			   const struct case_result *b, bool tput)
{
	double v[BENCH_MAX_REPS];
	unsigned k = 0, n = a->nreps < b->nreps ? a->nreps : b->nreps;

	for (unsigned r = 0; r < n; r++) {
		const struct rep_result *x = &a->reps[r], *y = &b->reps[r];

		if (tput && x->tput_ok && y->tput_ok && y->msgs_per_s > 0)
			v[k++] = x->msgs_per_s / y->msgs_per_s;
		else if (!tput && x->rtt_ok && y->rtt_ok && y->p50 > 0)
			v[k++] = x->p50 / y->p50;
	}
	return median(v, k);
}

static void ratios_of(const struct case_result *res, unsigned n,
		      const struct case_result *c, struct ratios *q)
{
	const struct case_result *hw = NULL, *hw_ring = NULL;

	memset(q, 0, sizeof(*q));
	q->tput_hw = q->rtt_hw = q->tput_alt = q->rtt_alt = NAN;
	q->rtt_hw_ring = NAN;
	for (unsigned i = 0; i < n; i++) {
		const struct case_result *o = &res[i];

		if (o->def.size != c->def.size || o->skipped ||
		    o->def.producers != c->def.producers ||
		    o->def.consumers != c->def.consumers)
			continue;
		if (o->def.tp->baseline && hw == NULL)
			hw = o;
		if (o->def.tp->ring_floor && hw_ring == NULL)
			hw_ring = o;
		if (o->def.tp->baseline || o->def.tp->ring_floor ||
		    o->def.tp->nshm || o->def.tp->is_floor)
			continue;
		/* An MPMC alternative (ck-mpmc) only for an MPMC ring. */
		if ((o->def.tp->max_producers > 1 ||
		     o->def.tp->max_consumers > 1) &&
		    c->def.tp->max_producers <= 1 &&
		    c->def.tp->max_consumers <= 1)
			continue;
		if (o->have_tput &&
		    (q->alt_tput == NULL ||
		     o->msgs_per_s > q->alt_tput->msgs_per_s))
			q->alt_tput = o;
		if (o->have_rtt &&
		    (q->alt_rtt == NULL || o->p50 < q->alt_rtt->p50))
			q->alt_rtt = o;
	}
	if (hw != NULL) {
		q->tput_hw = paired_ratio(c, hw, true);
		q->rtt_hw = paired_ratio(c, hw, false);
	}
	if (hw_ring != NULL)
		q->rtt_hw_ring = paired_ratio(c, hw_ring, false);
	if (q->alt_tput != NULL)
		q->tput_alt = paired_ratio(c, q->alt_tput, true);
	if (q->alt_rtt != NULL)
		q->rtt_alt = paired_ratio(c, q->alt_rtt, false);
}

static const struct target *target_of(const struct case_result *c)
{
	for (unsigned t = 0; t < NTARGETS; t++) {
		if (strcmp(targets[t].transport, c->def.tp->name) != 0)
			continue;
		for (unsigned k = 0; targets[t].sizes[k]; k++)
			if (targets[t].sizes[k] == c->def.size)
				return &targets[t];
	}
	return NULL;
}

/* ---- the table ---------------------------------------------------------- */

static void fmt_num(char *buf, size_t len, double v, const char *fmt)
{
	if (isnan(v))
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, fmt, v);
}

static void fmt_size(char *buf, size_t len, size_t s)
{
	if (s >= 1024 && s % 1024 == 0)
		snprintf(buf, len, "%zuK", s / 1024);
	else
		snprintf(buf, len, "%zu", s);
}

static const char *pass(double ratio, double limit, bool at_least)
{
	if (isnan(ratio))
		return "n/a";
	return (at_least ? ratio >= limit : ratio <= limit) ? "PASS" : "MISS";
}

/* The neighbour experiment's section of the table (issue 9). */
static void report_neighbour(FILE *f, const struct nb_result *nb)
{
	char a[5][24], x[3][24];

	fprintf(f, "\n*** neighbour (issue 9): p99.9 round trip of a spinning "
		   "pair beside a ring whose consumer parks <= %.2fx alone "
		   "***\n", NB_TARGET_P999);
	if (!nb->ran) {
		fprintf(f, "not measured: %s\n",
			nb->note[0] ? nb->note : "no repetition completed");
		return;
	}
	fprintf(f, "pair: %s %s %zu B ping-pong, capacity %u, CPUs %d,%d; "
		   "A = alone, B = beside the neighbour; %u A/B pairs of "
		   "%u ms, interleaved\n",
		nb->transport, nb->mode, nb->size, nb->capacity, nb->cpu[0],
		nb->cpu[1], nb->nreps, nb->run_ms);
	fprintf(f, "neighbour: %zu B messages, producer every %u us, "
		   "consumer pop_wait with the default wait strategy; CPUs "
		   "%d,%d (%s), %s\n",
		nb->size, nb->period_us, nb->cpu[2], nb->cpu[3],
		nb->shared ? "shared with the pair" : "cores of its own",
		nb->sched);
	fprintf(f, "%3s %-3s %7s %6s %7s %8s %9s %8s %6s %6s | %6s %6s %7s "
		   "%7s %6s | %7s %5s %6s\n",
		"rep", "run", "rtt p50", "p99", "p99.9", "p99.99", "max (ns)",
		"samples", ">=10us", "IPI/s", "nb msg", "parks", "wakeups",
		"parks/s", "us/msg", "B/A p50", "p99", "p99.9");
	for (unsigned r = 0; r < nb->nreps; r++) {
		const struct nb_rep *q = &nb->reps[r];

		for (int side = 0; side < 2; side++) {
			const struct nb_pair *pr = side ? &q->beside : &q->alone;

			fmt_num(a[0], sizeof(a[0]), pr->p50, "%.0f");
			fmt_num(a[1], sizeof(a[1]), pr->p99, "%.0f");
			fmt_num(a[2], sizeof(a[2]), pr->p999, "%.0f");
			fmt_num(a[3], sizeof(a[3]), pr->p9999, "%.0f");
			fmt_num(a[4], sizeof(a[4]), pr->max, "%.0f");
			fprintf(f, "%2u%c %-3s %7s %6s %7s %8s %9s %8llu %6llu "
				   "%6.0f",
				r + 1, q->counted ? ' ' : '*', side ? "B" : "A",
				a[0], a[1], a[2], a[3],
				a[4], (unsigned long long)pr->samples,
				(unsigned long long)pr->over_10us,
				pr->wall_s > 0 ? (double)pr->ipis / pr->wall_s
					       : NAN);
			if (!side || !q->nb_ok) {
				fprintf(f, "\n");
				continue;
			}
			fmt_num(x[0], sizeof(x[0]), q->r_p50, "%.3f");
			fmt_num(x[1], sizeof(x[1]), q->r_p99, "%.3f");
			fmt_num(x[2], sizeof(x[2]), q->r_p999, "%.3f");
			fprintf(f, " | %6llu %6llu %7llu %7.0f %6.1f | %7s %5s "
				   "%6s\n",
				(unsigned long long)q->nb_msgs,
				(unsigned long long)q->consumer_parks,
				(unsigned long long)q->producer_wakeups,
				q->parks_per_s, q->cpu_us_per_msg, x[0], x[1],
				x[2]);
		}
	}
	fmt_num(x[0], sizeof(x[0]), nb->r_p50, "%.3fx");
	fmt_num(x[1], sizeof(x[1]), nb->r_p99, "%.3fx");
	fmt_num(x[2], sizeof(x[2]), nb->r_p999, "%.3fx");
	fprintf(f, "median B/A of %u repetitions: p50 %s, p99 %s, p99.9 %s  "
		   "%s (p99.9 <= %.2fx, issue 9)\n",
		nb->ncounted, x[0], x[1], x[2],
		pass(nb->r_p999, NB_TARGET_P999, false), NB_TARGET_P999);
	if (nb->ncounted < nb->nreps)
		fprintf(f, "(* not in the medians: A or B timed fewer than "
			   "100000 round trips, the machine was busy)\n");
	fprintf(f, "neighbour: %.0f consumer parks/s (each one a wait that "
		   "could IPI other CPUs), after %.0f%% of its messages; its "
		   "two processes ran %.1f us per message, %.2f%% of one "
		   "CPU\n",
		nb->parks_per_s, nb->parks_per_msg * 100.0,
		nb->cpu_us_per_msg, nb->cpu_pct);
	fprintf(f, "function-call IPIs on the pair's CPUs (membarrier's among "
		   "them): %.0f/s alone, %.0f/s beside (medians)\n",
		nb->alone_ipis_per_s, nb->beside_ipis_per_s);
	fprintf(f, "(>=10us: round trips of 10 us or more, stalls; IPI/s: "
		   "/proc/interrupts CAL on the pair's two CPUs over the run; "
		   "us/msg: the neighbour's CPU time per message%s)\n",
		nb->shared ? ", here also the time it takes the CPU from the "
			     "pair" : "");
	if (nb->note[0] != '\0')
		fprintf(f, "  ! %s\n", nb->note);
}

void report_table(FILE *f, const struct run_info *ri,
		  const struct case_result *res, unsigned n)
{
	bool any_nshm = false;
	char a[32], b[32], c1[32], d[32], e[32], g[32], h[32], s[24];
	char sp1[16], sp2[16];

	fprintf(f, "nshm-bench %d.%d.%d, %s\n", 0, 1, 0, ri->date);
	fprintf(f, "cpu: %s, %d CPUs online; %s\n", ri->cpu_model,
		ri->ncpus_online, ri->kernel);
	fprintf(f, "placement: %s\n", ri->pl.desc);
	if (ri->pl_multi.n > ri->pl.n)
		fprintf(f, "placement of P x C cases: %s\n",
			ri->pl_multi.desc);
	fprintf(f, "clock: %s\n", ri->clock);
	if (n == 0) { /* --neighbour alone */
		fprintf(f, "%.1f s in all%s\n", ri->wall_s,
			ri->quick ? " (--quick: smoke numbers only)" : "");
		goto tail;
	}
	fprintf(f, "%u repetitions, cases interleaved; medians over "
		   "repetitions (+-%%: half their range in %% of the "
		   "median; max: the largest of all); per run at most "
		   "%llu messages / %llu round trips / %llu ms; %.1f s in "
		   "all%s\n\n",
		ri->reps, (unsigned long long)ri->msgs,
		(unsigned long long)ri->rtt_iters,
		(unsigned long long)ri->budget_ms, ri->wall_s,
		ri->quick ? " (--quick: smoke numbers only)" : "");
	fprintf(f, "%-10s %-5s %6s %9s %4s %7s %9s %4s %8s %8s %9s %10s\n",
		"transport", "mode", "size", "Mmsg/s", "+-%", "GB/s",
		"rtt p50", "+-%", "p90", "p99", "p99.9", "max (ns)");
	for (unsigned i = 0; i < n; i++) {
		const struct case_result *c = &res[i];

		any_nshm |= c->def.tp->nshm;
		fmt_size(s, sizeof(s), c->def.size);
		if (c->def.producers != 1 || c->def.consumers != 1) {
			size_t l = strlen(s); /* "64 4x4": P x C (MPMC) */

			snprintf(s + l, sizeof(s) - l, " %ux%u",
				 c->def.producers, c->def.consumers);
		}
		if (c->skipped) {
			fprintf(f, "%-10s %-5s %6s  %s\n", c->def.tp->name,
				mode_name(c->def.mode), s, c->note);
			continue;
		}
		fmt_num(a, sizeof(a), c->msgs_per_s / 1e6, "%.3f");
		fmt_num(b, sizeof(b), c->gb_per_s, "%.3f");
		fmt_num(c1, sizeof(c1), c->p50, "%.0f");
		fmt_num(d, sizeof(d), c->p90, "%.0f");
		fmt_num(e, sizeof(e), c->p99, "%.0f");
		fmt_num(g, sizeof(g), c->p999, "%.0f");
		fmt_num(h, sizeof(h), c->max, "%.0f");
		fmt_num(sp1, sizeof(sp1), c->tput_spread, "%.0f");
		fmt_num(sp2, sizeof(sp2), c->p50_spread, "%.0f");
		fprintf(f, "%-10s %-5s %6s %9s %4s %7s %9s %4s %8s %8s %9s "
			   "%10s\n",
			c->def.tp->name, mode_name(c->def.mode), s, a, sp1, b,
			c1, sp2, d, e, g, h);
		if (c->note[0] != '\0')
			fprintf(f, "%-10s   ! %s\n", "", c->note);
	}

	if (!any_nshm) {
		fprintf(f, "\nratios: no nshm ring transport in this run");
#ifndef NSHM_BENCH_HAVE_RING
		fprintf(f, " (not built: include/nshm/ring.h was missing "
			   "at configure time)");
#endif
		fprintf(f, "\n");
	} else {
		fprintf(f, "\nratios of nshm rings: medians of per-repetition "
			   "ratios (throughput: higher is better; rtt = p50 "
			   "round trip: lower is better)\n");
		fprintf(f, "%-10s %-5s %6s %9s %9s %12s %17s %17s\n",
			"transport", "mode", "size", "tput/hw", "rtt/hw",
			"rtt/hw-ring", "tput/best-alt", "rtt/best-alt");
		for (unsigned i = 0; i < n; i++) {
			const struct case_result *c = &res[i];
			struct ratios q;
			char x[48], y[48], z[32];

			if (!c->def.tp->nshm || c->skipped ||
			    c->def.producers != 1 || c->def.consumers != 1)
				continue; /* P x C: report_mpmc_table() */
			ratios_of(res, n, c, &q);
			fmt_size(s, sizeof(s), c->def.size);
			fmt_num(a, sizeof(a), q.tput_hw, "%.2fx");
			fmt_num(b, sizeof(b), q.rtt_hw, "%.2fx");
			fmt_num(z, sizeof(z), q.rtt_hw_ring, "%.2fx");
			fmt_num(c1, sizeof(c1), q.tput_alt, "%.1fx");
			fmt_num(d, sizeof(d), q.rtt_alt, "%.3fx");
			snprintf(x, sizeof(x), "%s (%s)", c1,
				 q.alt_tput ? q.alt_tput->def.tp->name : "-");
			snprintf(y, sizeof(y), "%s (%s)", d,
				 q.alt_rtt ? q.alt_rtt->def.tp->name : "-");
			fprintf(f, "%-10s %-5s %6s %9s %9s %12s %17s %17s\n",
				c->def.tp->name, mode_name(c->def.mode), s, a,
				b, z, x, y);
		}
		for (unsigned t = 0; t < NTARGETS; t++) {
			bool header = false;

			for (unsigned i = 0; i < n; i++) {
				const struct case_result *c = &res[i];
				struct ratios q;

				if (c->skipped || target_of(c) != &targets[t])
					continue;
				if (!header) {
					fprintf(f,
						"\n*** targets of %s (%s): "
						"throughput >= %.2fx hw, "
						"rtt p50 <= %.2fx hw ***\n",
						targets[t].transport,
						targets[t].issue,
						targets[t].tput_min_x_hw,
						targets[t].rtt_max_x_hw);
					fprintf(f, "%-10s %-5s %6s %9s %5s "
						   "%9s %5s\n",
						"transport", "mode", "size",
						"tput/hw", "", "rtt/hw", "");
					header = true;
				}
				ratios_of(res, n, c, &q);
				fmt_size(s, sizeof(s), c->def.size);
				fmt_num(a, sizeof(a), q.tput_hw, "%.3fx");
				fmt_num(b, sizeof(b), q.rtt_hw, "%.3fx");
				fprintf(f, "%-10s %-5s %6s %9s %5s %9s %5s\n",
					c->def.tp->name,
					mode_name(c->def.mode), s, a,
					pass(q.tput_hw,
					     targets[t].tput_min_x_hw, true),
					b,
					pass(q.rtt_hw,
					     targets[t].rtt_max_x_hw, false));
			}
		}
	}
	report_mpmc_table(f, res, n);
tail:
	if (ri->nb != NULL)
		report_neighbour(f, ri->nb);
	if (nnotes) {
		fprintf(f, "\nnotes:\n");
		for (unsigned i = 0; i < nnotes; i++)
			fprintf(f, "  - %s\n", notes[i]);
	}
	fflush(f);
}

/* ---- JSON --------------------------------------------------------------- */

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"': fputs("\\\"", f); break;
		case '\\': fputs("\\\\", f); break;
		case '\n': fputs("\\n", f); break;
		case '\r': fputs("\\r", f); break;
		case '\t': fputs("\\t", f); break;
		default:
			if (*p < 0x20)
				fprintf(f, "\\u%04x", *p);
			else
				fputc(*p, f);
		}
	}
	fputc('"', f);
}

static void json_num(FILE *f, double v, const char *fmt)
{
	if (!isfinite(v))
		fputs("null", f);
	else
		fprintf(f, fmt, v);
}

static void json_placement(FILE *f, const struct placement *pl,
			   const char *ind)
{
	fprintf(f, "{\n%s  \"cpus\": [", ind);
	for (int i = 0; i < pl->n; i++)
		fprintf(f, "%s%d", i ? ", " : "", pl->cpu[i]);
	fprintf(f, "],\n%s  \"pinned\": %s,\n%s  \"method\": ", ind,
		pl->pinned ? "true" : "false", ind);
	json_str(f, pl->method);
	fprintf(f, ",\n%s  \"shared_cache\": ", ind);
	json_str(f, pl->shared_cache);
	fprintf(f, ",\n%s  \"smt_siblings\": %s,\n%s  \"desc\": ", ind,
		pl->smt_siblings ? "true" : "false", ind);
	json_str(f, pl->desc);
	fprintf(f, "\n%s}", ind);
}

static void json_nb_pair(FILE *f, const char *key, const struct nb_pair *p)
{
	fprintf(f, "\"%s\": {\"p50\": ", key);
	json_num(f, p->ok ? p->p50 : NAN, "%.1f");
	fprintf(f, ", \"p99\": ");
	json_num(f, p->ok ? p->p99 : NAN, "%.1f");
	fprintf(f, ", \"p999\": ");
	json_num(f, p->ok ? p->p999 : NAN, "%.1f");
	fprintf(f, ", \"p9999\": ");
	json_num(f, p->ok ? p->p9999 : NAN, "%.1f");
	fprintf(f, ", \"max\": ");
	json_num(f, p->ok ? p->max : NAN, "%.1f");
	fprintf(f, ", \"samples\": %llu, \"over_10us\": %llu, \"ipis\": %llu, "
		   "\"wall_s\": ",
		(unsigned long long)p->samples,
		(unsigned long long)p->over_10us,
		(unsigned long long)p->ipis);
	json_num(f, p->ok ? p->wall_s : NAN, "%.3f");
	fputc('}', f);
}

/* The neighbour experiment (issue 9), or null when it did not run. */
static void json_neighbour(FILE *f, const struct nb_result *nb)
{
	if (nb == NULL) {
		fputs("null", f);
		return;
	}
	fprintf(f, "{\n    \"ran\": %s,\n    \"note\": ",
		nb->ran ? "true" : "false");
	json_str(f, nb->note);
	fprintf(f, ",\n    \"transport\": ");
	json_str(f, nb->transport ? nb->transport : "");
	fprintf(f, ",\n    \"mode\": ");
	json_str(f, nb->mode ? nb->mode : "");
	fprintf(f, ",\n    \"size\": %zu,\n    \"capacity\": %u,\n"
		   "    \"period_us\": %u,\n    \"run_ms\": %u,\n"
		   "    \"sched\": ",
		nb->size, nb->capacity, nb->period_us, nb->run_ms);
	json_str(f, nb->sched);
	fprintf(f, ",\n    \"cpus\": {\"ping\": %d, \"pong\": %d, "
		   "\"nb_producer\": %d, \"nb_consumer\": %d},\n"
		   "    \"shared_cpus\": %s,\n    \"placement\": ",
		nb->cpu[0], nb->cpu[1], nb->cpu[2], nb->cpu[3],
		nb->shared ? "true" : "false");
	json_placement(f, &nb->pl, "    ");
	fprintf(f, ",\n    \"reps\": [");
	for (unsigned r = 0; r < nb->nreps; r++) {
		const struct nb_rep *q = &nb->reps[r];

		fprintf(f, "%s\n      {", r ? "," : "");
		json_nb_pair(f, "alone", &q->alone);
		fprintf(f, ",\n       ");
		json_nb_pair(f, "beside", &q->beside);
		fprintf(f, ",\n       \"neighbour\": {\"msgs\": %llu, "
			   "\"consumer_parks\": %llu, \"producer_wakeups\": "
			   "%llu, \"empty_waits\": %llu, \"wall_s\": ",
			(unsigned long long)q->nb_msgs,
			(unsigned long long)q->consumer_parks,
			(unsigned long long)q->producer_wakeups,
			(unsigned long long)q->empty_waits);
		json_num(f, q->nb_ok ? q->nb_wall_s : NAN, "%.3f");
		fprintf(f, ", \"consumer_parks_per_s\": ");
		json_num(f, q->nb_ok ? q->parks_per_s : NAN, "%.1f");
		fprintf(f, ", \"cpu_pct\": ");
		json_num(f, q->nb_ok ? q->cpu_pct : NAN, "%.3f");
		fprintf(f, ", \"cpu_us_per_msg\": ");
		json_num(f, q->nb_ok ? q->cpu_us_per_msg : NAN, "%.2f");
		fprintf(f, "},\n       \"ratio\": {\"p50\": ");
		json_num(f, q->r_p50, "%.4f");
		fprintf(f, ", \"p99\": ");
		json_num(f, q->r_p99, "%.4f");
		fprintf(f, ", \"p999\": ");
		json_num(f, q->r_p999, "%.4f");
		fprintf(f, "},\n       \"counted\": %s}",
			q->counted ? "true" : "false");
	}
	fprintf(f, "%s],\n    \"reps_counted\": %u,\n"
		   "    \"median_ratio\": {\"p50\": ",
		nb->nreps ? "\n    " : "", nb->ncounted);
	json_num(f, nb->ran ? nb->r_p50 : NAN, "%.4f");
	fprintf(f, ", \"p99\": ");
	json_num(f, nb->ran ? nb->r_p99 : NAN, "%.4f");
	fprintf(f, ", \"p999\": ");
	json_num(f, nb->ran ? nb->r_p999 : NAN, "%.4f");
	fprintf(f, "},\n    \"median_p999_ns\": {\"alone\": ");
	json_num(f, nb->ran ? nb->alone_p999 : NAN, "%.1f");
	fprintf(f, ", \"beside\": ");
	json_num(f, nb->ran ? nb->beside_p999 : NAN, "%.1f");
	fprintf(f, "},\n    \"pair_cpu_ipis_per_s\": {\"alone\": ");
	json_num(f, nb->ran ? nb->alone_ipis_per_s : NAN, "%.1f");
	fprintf(f, ", \"beside\": ");
	json_num(f, nb->ran ? nb->beside_ipis_per_s : NAN, "%.1f");
	fprintf(f, "},\n    \"consumer_parks_per_s\": ");
	json_num(f, nb->ran ? nb->parks_per_s : NAN, "%.1f");
	fprintf(f, ",\n    \"parks_per_msg\": ");
	json_num(f, nb->ran ? nb->parks_per_msg : NAN, "%.4f");
	fprintf(f, ",\n    \"cpu_pct\": ");
	json_num(f, nb->ran ? nb->cpu_pct : NAN, "%.3f");
	fprintf(f, ",\n    \"cpu_us_per_msg\": ");
	json_num(f, nb->ran ? nb->cpu_us_per_msg : NAN, "%.2f");
	fprintf(f, ",\n    \"target\": {\"issue\": \"issue 9\", "
		   "\"p999_max_x_alone\": %.2f, \"result\": \"%s\"}\n  }",
		NB_TARGET_P999,
		nb->ran ? pass(nb->r_p999, NB_TARGET_P999, false) : "n/a");
}

int report_json(const char *path, const struct run_info *ri,
		const struct case_result *res, unsigned n)
{
	FILE *f = strcmp(path, "-") == 0 ? stdout : fopen(path, "w");

	if (f == NULL) {
		fprintf(stderr, "nshm-bench: --json %s: %s\n", path,
			strerror(errno));
		return -1;
	}
	fprintf(f, "{\n  \"tool\": \"nshm-bench\",\n  \"version\": \"0.1.0\",\n");
	fprintf(f, "  \"date\": ");
	json_str(f, ri->date);
	fprintf(f, ",\n  \"cpu_model\": ");
	json_str(f, ri->cpu_model);
	fprintf(f, ",\n  \"ncpus\": %d,\n  \"kernel\": ", ri->ncpus_online);
	json_str(f, ri->kernel);
	fprintf(f, ",\n  \"clock\": ");
	json_str(f, ri->clock);
	fprintf(f, ",\n  \"placement\": ");
	json_placement(f, &ri->pl, "  ");
	fprintf(f, ",\n  \"options\": {\"reps\": %u, \"msgs\": %llu, "
		   "\"rtt_iters\": %llu, \"budget_ms\": %llu, \"quick\": %s},\n",
		ri->reps, (unsigned long long)ri->msgs,
		(unsigned long long)ri->rtt_iters,
		(unsigned long long)ri->budget_ms,
		ri->quick ? "true" : "false");
	fprintf(f, "  \"wall_s\": %.2f,\n  \"notes\": [", ri->wall_s);
	for (unsigned i = 0; i < nnotes; i++) {
		fprintf(f, "%s\n    ", i ? "," : "");
		json_str(f, notes[i]);
	}
	fprintf(f, "%s],\n  \"neighbour\": ", nnotes ? "\n  " : "");
	json_neighbour(f, ri->nb);
	fprintf(f, ",\n  \"mpmc\": ");
	report_mpmc_json(f, res, n);
	fprintf(f, ",\n  \"cases\": [");
	for (unsigned i = 0; i < n; i++) {
		const struct case_result *c = &res[i];
		const struct target *t = target_of(c);
		struct ratios q;

		fprintf(f, "%s\n    {\n      \"transport\": ", i ? "," : "");
		json_str(f, c->def.tp->name);
		fprintf(f, ",\n      \"mode\": \"%s\",\n      \"size\": %zu,\n"
			   "      \"producers\": %u,\n      \"consumers\": %u,\n"
			   "      \"capacity\": %u,\n      \"reps\": %u,\n"
			   "      \"latency_only\": %s,\n"
			   "      \"skipped\": %s,\n      \"note\": ",
			mode_name(c->def.mode), c->def.size, c->def.producers,
			c->def.consumers, c->capacity, c->nreps,
			c->def.tp->ring_floor ? "true" : "false",
			c->skipped ? "true" : "false");
		json_str(f, c->note);
		fprintf(f, ",\n      \"msgs\": %llu,\n      \"msgs_per_s\": ",
			(unsigned long long)c->msgs);
		json_num(f, c->have_tput ? c->msgs_per_s : NAN, "%.0f");
		fprintf(f, ",\n      \"gb_per_s\": ");
		json_num(f, c->have_tput ? c->gb_per_s : NAN, "%.4f");
		fprintf(f, ",\n      \"msgs_per_s_spread_pct\": ");
		json_num(f, c->tput_spread, "%.1f");
		fprintf(f, ",\n      \"rtt_p50_spread_pct\": ");
		json_num(f, c->p50_spread, "%.1f");
		fprintf(f, ",\n      \"rtt_samples\": %llu,\n      \"rtt_ns\": {"
			   "\"p50\": ", (unsigned long long)c->samples);
		json_num(f, c->have_rtt ? c->p50 : NAN, "%.1f");
		fprintf(f, ", \"p90\": ");
		json_num(f, c->have_rtt ? c->p90 : NAN, "%.1f");
		fprintf(f, ", \"p99\": ");
		json_num(f, c->have_rtt ? c->p99 : NAN, "%.1f");
		fprintf(f, ", \"p999\": ");
		json_num(f, c->have_rtt ? c->p999 : NAN, "%.1f");
		fprintf(f, ", \"max\": ");
		json_num(f, c->have_rtt ? c->max : NAN, "%.1f");
		fprintf(f, ", \"mean\": ");
		json_num(f, c->have_rtt ? c->mean : NAN, "%.1f");
		fprintf(f, "},\n      \"per_rep\": {\"msgs_per_s\": [");
		for (unsigned r = 0; r < c->nreps; r++) {
			fprintf(f, "%s", r ? ", " : "");
			json_num(f, c->reps[r].tput_ok ? c->reps[r].msgs_per_s
						       : NAN, "%.0f");
		}
		fprintf(f, "], \"rtt_p50_ns\": [");
		for (unsigned r = 0; r < c->nreps; r++) {
			fprintf(f, "%s", r ? ", " : "");
			json_num(f, c->reps[r].rtt_ok ? c->reps[r].p50 : NAN,
				 "%.1f");
		}
		fprintf(f, "]},\n      \"placement\": ");
		json_placement(f, c->def.producers + c->def.consumers > 2 ?
					  &ri->pl_multi : &ri->pl, "      ");
		if (c->def.tp->nshm && !c->skipped &&
		    c->def.producers == 1 && c->def.consumers == 1) {
			ratios_of(res, n, c, &q);
			fprintf(f, ",\n      \"ratios\": {\"tput_x_hw\": ");
			json_num(f, q.tput_hw, "%.4f");
			fprintf(f, ", \"rtt_p50_x_hw\": ");
			json_num(f, q.rtt_hw, "%.4f");
			fprintf(f, ", \"rtt_p50_x_hw_ring\": ");
			json_num(f, q.rtt_hw_ring, "%.4f");
			fprintf(f, ", \"tput_x_best_alt\": ");
			json_num(f, q.tput_alt, "%.4f");
			fprintf(f, ", \"best_alt_tput\": ");
			json_str(f, q.alt_tput ? q.alt_tput->def.tp->name : "");
			fprintf(f, ", \"rtt_p50_x_best_alt\": ");
			json_num(f, q.rtt_alt, "%.4f");
			fprintf(f, ", \"best_alt_rtt\": ");
			json_str(f, q.alt_rtt ? q.alt_rtt->def.tp->name : "");
			fprintf(f, "}");
			if (t != NULL) {
				fprintf(f, ",\n      \"target\": {\"issue\": ");
				json_str(f, t->issue);
				fprintf(f, ", \"tput_min_x_hw\": %.2f, "
					   "\"rtt_p50_max_x_hw\": %.2f, "
					   "\"tput\": \"%s\", \"rtt\": \"%s\"}",
					t->tput_min_x_hw, t->rtt_max_x_hw,
					pass(q.tput_hw, t->tput_min_x_hw, true),
					pass(q.rtt_hw, t->rtt_max_x_hw, false));
			}
		}
		fprintf(f, "\n    }");
	}
	fprintf(f, "\n  ]\n}\n");
	if (f != stdout && fclose(f) != 0) {
		fprintf(stderr, "nshm-bench: --json %s: %s\n", path,
			strerror(errno));
		return -1;
	}
	return 0;
}

/* ---- the plot (gnuplot) ------------------------------------------------- */

static void gp_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++)
		if (*s == '"' || *s == '\\')
			fputc('\'', f);
		else if (*s == '\n')
			fputs("\\n", f); /* gnuplot's own escape */
		else if ((unsigned char)*s >= 0x20)
			fputc(*s, f);
	fputc('"', f);
}

int report_plot(const char *path, const struct run_info *ri,
		const struct case_result *res, unsigned n)
{
	char dat[] = "/tmp/nshm-bench-plot-XXXXXX";
	const struct case_result *series[64];
	unsigned ns = 0;
	bool any_rtt = false, any_tput = false;
	const char *term;
	FILE *d, *gp;
	int fd, ret = 0;

	if (strchr(path, '\'') != NULL || strchr(path, '"') != NULL) {
		fprintf(stderr, "nshm-bench: --plot: no quotes in the path, "
				"please\n");
		return -1;
	}
	if (system("command -v gnuplot >/dev/null 2>&1") != 0) {
		fprintf(stderr, "nshm-bench: --plot needs gnuplot (Debian: "
				"apt-get install gnuplot-nox); no plot "
				"written\n");
		return -1;
	}
	term = system("gnuplot -e 'set terminal pngcairo' >/dev/null 2>&1") ==
			       0 ?
		       "pngcairo size 1400,1000 font ',10'" :
		       "png size 1400,1000";

	/* One series per transport and mode, in case order. */
	for (unsigned i = 0; i < n && ns < 64; i++) {
		bool seen = false;

		for (unsigned k = 0; k < ns; k++)
			if (series[k]->def.tp == res[i].def.tp &&
			    series[k]->def.mode == res[i].def.mode)
				seen = true;
		if (!seen)
			series[ns++] = &res[i];
	}
	fd = mkstemp(dat);
	if (fd < 0 || (d = fdopen(fd, "w")) == NULL) {
		fprintf(stderr, "nshm-bench: --plot: temporary file: %s\n",
			strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	for (unsigned k = 0; k < ns; k++) {
		fprintf(d, "# %s %s\n", series[k]->def.tp->name,
			mode_name(series[k]->def.mode));
		for (unsigned i = 0; i < n; i++) {
			const struct case_result *c = &res[i];

			if (c->def.tp != series[k]->def.tp ||
			    c->def.mode != series[k]->def.mode ||
			    c->def.producers != 1 || c->def.consumers != 1)
				continue; /* by size: 1x1 only (P x C: table) */
			fprintf(d, "%zu", c->def.size);
			if (c->have_rtt)
				fprintf(d, " %.1f %.1f %.1f", c->p50, c->p99,
					c->p999);
			else
				fprintf(d, " ? ? ?");
			if (c->have_tput)
				fprintf(d, " %.6f %.6f\n", c->msgs_per_s / 1e6,
					c->gb_per_s);
			else
				fprintf(d, " ? ?\n");
		}
		fprintf(d, "\n\n");
	}
	fclose(d);

	gp = popen("gnuplot", "w");
	if (gp == NULL) {
		fprintf(stderr, "nshm-bench: --plot: cannot run gnuplot\n");
		unlink(dat);
		return -1;
	}
	fprintf(gp, "set terminal %s\nset output '%s'\n", term, path);
	fprintf(gp, "set datafile missing '?'\n");
	for (unsigned i = 0; i < n; i++) {
		any_rtt |= res[i].have_rtt;
		any_tput |= res[i].have_tput;
	}
	/* Only the panels that have points (gnuplot fails on empty ones). */
	fprintf(gp, "set multiplot layout %d,2 title ",
		any_rtt && any_tput ? 2 : 1);
	{
		char t[700];

		snprintf(t, sizeof(t),
			 "nshm-bench, %s, %s (%d CPUs), medians of %u reps\n"
			 "CPUs %d,%d%s, shared cache %s",
			 ri->date, ri->cpu_model, ri->ncpus_online, ri->reps,
			 ri->pl.n > 0 ? ri->pl.cpu[0] : -1,
			 ri->pl.n > 1 ? ri->pl.cpu[1] : -1,
			 ri->pl.pinned ? "" : " (unpinned)",
			 ri->pl.shared_cache);
		gp_str(gp, t);
	}
	fprintf(gp, " font ',11'\n");
	fprintf(gp, "set logscale x 2\nset logscale y 10\nset grid\n"
		    "set key outside right top font ',9'\n"
		    "set xlabel 'message size (bytes)'\n"
		    "set format y '%%g'\n");
	{
		size_t lo = SIZE_MAX, hi = 0;

		fprintf(gp, "set xtics (");
		for (unsigned i = 0, k = 0; i < n; i++) {
			bool dup = false;

			for (unsigned j = 0; j < i; j++)
				if (res[j].def.size == res[i].def.size)
					dup = true;
			if (dup)
				continue;
			fprintf(gp, "%s\"%zu\" %zu", k++ ? ", " : "",
				res[i].def.size, res[i].def.size);
			if (res[i].def.size < lo)
				lo = res[i].def.size;
			if (res[i].def.size > hi)
				hi = res[i].def.size;
		}
		fprintf(gp, ")\nset xrange [%g:%g]\n", (double)lo / 1.5,
			(double)hi * 1.5);
	}
	{
		static const struct {
			const char *title;
			int col;
		} panels[] = {
			{ "round trip, median (ns)", 2 },
			{ "round trip, p99 (ns)", 3 },
			{ "throughput (million messages/s)", 5 },
			{ "throughput (GB/s of payload)", 6 },
		};

		for (unsigned p = 0; p < 4; p++) {
			if (!(p < 2 ? any_rtt : any_tput))
				continue;
			fprintf(gp, "set title '%s'\nplot ", panels[p].title);
			for (unsigned k = 0, m = 0; k < ns; k++) {
				char t[64];

				/* hw-ring measures latency only */
				if (p >= 2 && series[k]->def.tp->ring_floor)
					continue;
				snprintf(t, sizeof(t), "%s %s",
					 series[k]->def.tp->name,
					 mode_name(series[k]->def.mode));
				fprintf(gp, "%s'%s' index %u using 1:%d with "
					    "linespoints lc %u pt %u title ",
					m++ ? ", " : "", dat, k, panels[p].col,
					k + 1, k % 13 + 1);
				gp_str(gp, t);
			}
			fprintf(gp, "\n");
		}
	}
	fprintf(gp, "unset multiplot\n");
	if (pclose(gp) != 0) {
		fprintf(stderr, "nshm-bench: gnuplot failed; no plot\n");
		ret = -1;
	}
	unlink(dat);
	if (ret == 0)
		fprintf(stderr, "nshm-bench: plot written to %s\n", path);
	return ret;
}
