/* SPDX-License-Identifier: MIT */
/*
 * nshm-bench's HDR-style histogram: every percentile it reports is within
 * 1/256 of the exact nearest-rank percentile of the same data (checked
 * against a sort of the data), on several distributions.
 */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "hdr.h"

#define REL_ERR (1.0 / 256.0) /* the documented bound */

static uint64_t rng_state = 0x853c49e6748fea9bULL;

static uint64_t rng(void) /* xorshift64*: deterministic, good enough */
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static double rng_unit(void) /* in (0, 1) */
{
	return ((double)(rng() >> 11) + 0.5) / 9007199254740992.0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest rank: the smallest value with at least pct % of values <= it. */
static uint64_t exact_percentile(const uint64_t *sorted, size_t n, double pct)
{
	double r = pct / 100.0 * (double)n;
	size_t rank = (size_t)r;

	if ((double)rank < r)
		rank++;
	if (rank == 0)
		rank = 1;
	if (rank > n)
		rank = n;
	return sorted[rank - 1];
}

static struct hdr_hist *new_hist(void)
{
	struct hdr_hist *h = malloc(sizeof(*h));

	assert_non_null(h);
	hdr_reset(h);
	return h;
}

static void check_against_sort(uint64_t *v, size_t n, const char *what)
{
	static const double pcts[] = { 0.001, 1, 10, 25, 50, 75, 90, 99,
				       99.9, 99.99, 99.999, 100 };
	struct hdr_hist *h = new_hist();

	for (size_t i = 0; i < n; i++)
		hdr_record(h, v[i]);
	qsort(v, n, sizeof(*v), cmp_u64);
	assert_int_equal(h->count, n);
	assert_int_equal(h->min, v[0]);
	assert_int_equal(h->max, v[n - 1]);
	for (size_t k = 0; k < sizeof(pcts) / sizeof(pcts[0]); k++) {
		uint64_t want = exact_percentile(v, n, pcts[k]);
		uint64_t got = hdr_percentile(h, pcts[k]);
		double err = want ? fabs((double)got - (double)want) /
					    (double)want :
				    (double)got;

		if (err > REL_ERR)
			fail_msg("%s: p%g is %llu, exact %llu (error %.4f%%)",
				 what, pcts[k], (unsigned long long)got,
				 (unsigned long long)want, err * 100.0);
	}
	free(h);
}

static void test_exact_below_256(void **state)
{
	struct hdr_hist *h = new_hist();

	(void)state;
	for (uint64_t v = 0; v < 256; v++)
		assert_int_equal(hdr_bucket_width(hdr_index(v)), 1);
	for (uint64_t v = 1; v <= 200; v++)
		hdr_record(h, v);
	assert_int_equal(hdr_percentile(h, 50), 100);
	assert_int_equal(hdr_percentile(h, 99), 198);
	assert_int_equal(hdr_percentile(h, 100), 200);
	assert_int_equal(hdr_percentile(h, 0.1), 1);
	free(h);
}

static void test_buckets_tile_the_range(void **state)
{
	(void)state;
	/* Consecutive buckets touch and never overlap. */
	for (unsigned i = 0; i + 1 < HDR_NBUCKETS; i++)
		assert_int_equal(hdr_bucket_low(i) + hdr_bucket_width(i),
				 hdr_bucket_low(i + 1));
	assert_int_equal(hdr_index(UINT64_MAX), HDR_NBUCKETS - 1);
	/* Every value lands in the bucket whose range holds it, and every
	 * bucket is narrow relative to its values. */
	for (int k = 0; k < 200000; k++) {
		uint64_t v = rng() >> (rng() % 64);
		unsigned i = hdr_index(v);
		uint64_t lo = hdr_bucket_low(i), w = hdr_bucket_width(i);

		assert_true(i < HDR_NBUCKETS);
		assert_true(v >= lo);
		assert_true(v - lo < w);
		if (v >= 256)
			assert_true((double)w / (double)lo <= 1.0 / 128.0);
	}
}

static void test_uniform_and_log_uniform(void **state)
{
	enum { N = 300000 };
	uint64_t *v = malloc(N * sizeof(*v));

	(void)state;
	assert_non_null(v);
	for (size_t i = 0; i < N; i++)
		v[i] = 1 + rng() % 1000000;
	check_against_sort(v, N, "uniform 1..1e6");
	for (size_t i = 0; i < N; i++)
		v[i] = (uint64_t)exp(rng_unit() * log(1e12));
	check_against_sort(v, N, "log-uniform 1..1e12");
	free(v);
}

static void test_latency_like(void **state)
{
	enum { N = 200000 };
	uint64_t *v = malloc(N * sizeof(*v));

	(void)state;
	assert_non_null(v);
	/* A tight body near 120 ns, an exponential tail, rare huge stalls:
	 * what a ping-pong on a VM looks like. */
	for (size_t i = 0; i < N; i++) {
		double u = rng_unit();

		if (u < 0.001)
			v[i] = 1000000 + rng() % 20000000;
		else if (u < 0.05)
			v[i] = 120 + (uint64_t)(-log(rng_unit()) * 2000.0);
		else
			v[i] = 110 + rng() % 30;
	}
	check_against_sort(v, N, "latency-like");
	free(v);
}

static void test_small_and_extreme(void **state)
{
	uint64_t v[] = { 0, UINT64_MAX, 1, UINT64_MAX / 3, 255, 256, 257 };
	uint64_t one = 12345;

	(void)state;
	check_against_sort(v, sizeof(v) / sizeof(v[0]), "extremes");
	check_against_sort(&one, 1, "one value");
}

static void test_empty_and_merge(void **state)
{
	struct hdr_hist *a = new_hist(), *b = new_hist(), *all = new_hist();

	(void)state;
	assert_int_equal(hdr_percentile(a, 50), 0);
	assert_true(hdr_mean(a) == 0.0);
	for (int i = 0; i < 50000; i++) {
		uint64_t x = rng() % 100000;

		hdr_record(i % 3 ? a : b, x);
		hdr_record(all, x);
	}
	hdr_merge(a, b);
	assert_int_equal(a->count, all->count);
	assert_int_equal(a->min, all->min);
	assert_int_equal(a->max, all->max);
	assert_memory_equal(a->buckets, all->buckets, sizeof(a->buckets));
	assert_true(fabs(hdr_mean(a) - hdr_mean(all)) < 1e-6 * hdr_mean(all));
	hdr_reset(b);
	hdr_merge(a, b); /* merging an empty one changes nothing */
	assert_int_equal(a->count, all->count);
	free(a);
	free(b);
	free(all);
}

/*
 * A clock that moves in steps of q ticks (as a KVM guest's TSC does, 26
 * ticks): a duration x read with a random phase comes out as a multiple of
 * q, the lower one with probability (1 - frac(x/q)). The nearest-rank
 * percentile snaps to a step; the interpolated one recovers x to a small
 * part of a step.
 */
static double coarse_median(double x_lo, double x_hi, uint64_t q,
			    double *snapped)
{
	struct hdr_hist *h = new_hist();
	double r;

	for (int i = 0; i < 200000; i++) {
		double u = (double)(rng() % 1000000) / 1e6;
		double x = x_lo + (x_hi - x_lo) * u;
		double phase = (double)(rng() % 1000) / 1000.0 * (double)q;

		hdr_record(h, (uint64_t)((phase + x) / (double)q) * q);
	}
	r = hdr_percentile_q(h, 50, q);
	*snapped = (double)hdr_percentile(h, 50);
	free(h);
	return r;
}

static void test_coarse_clock(void **state)
{
	struct hdr_hist *h = new_hist();
	double snap_a, snap_b, a, b;

	(void)state;
	a = coarse_median(370, 376, 26, &snap_a); /* true median 373 */
	b = coarse_median(380, 386, 26, &snap_b); /* true median 383 */
	assert_true(fabs(a - 373) < 3.0);
	assert_true(fabs(b - 383) < 3.0);
	/*
	 * The 10-tick difference: about right interpolated (measured 14),
	 * while the snapped medians jump a whole step (25).
	 */
	assert_true(fabs((b - a) - 10.0) < 6.0);
	assert_true(fabs((b - a) - 10.0) < fabs((snap_b - snap_a) - 10.0));
	/* A fine clock: within the bucket, as hdr_percentile(). */
	for (uint64_t v = 1000; v < 2000; v++)
		hdr_record(h, v);
	assert_true(fabs(hdr_percentile_q(h, 50, 1) -
			 (double)hdr_percentile(h, 50)) <= 8.0);
	assert_true(hdr_percentile_q(h, 100, 1) == 1999.0);
	assert_true(hdr_percentile_q(h, 0, 1) == 1000.0);
	hdr_reset(h);
	assert_true(hdr_percentile_q(h, 50, 26) == 0.0);
	free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exact_below_256),
		cmocka_unit_test(test_buckets_tile_the_range),
		cmocka_unit_test(test_uniform_and_log_uniform),
		cmocka_unit_test(test_latency_like),
		cmocka_unit_test(test_small_and_extreme),
		cmocka_unit_test(test_empty_and_merge),
		cmocka_unit_test(test_coarse_clock),
	};

	return cmocka_run_group_tests_name("bench_hdr", tests, NULL, NULL);
}
