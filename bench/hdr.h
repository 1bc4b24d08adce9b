/* SPDX-License-Identifier: MIT */
#ifndef NSHM_BENCH_HDR_H
#define NSHM_BENCH_HDR_H

/*
 * A log-linear ("HDR style") histogram of 64-bit values, for latencies in
 * nanoseconds.
 *
 * Values below 2 * HDR_SUB (256) each have their own bucket (exact). Above
 * that, every power-of-two range [2^k, 2^(k+1)) is split into HDR_SUB (128)
 * equal buckets of width 2^(k-7). A bucket's width is at most 1/128 of its
 * lower bound, and a value is reported as its bucket's midpoint, so any
 * reported value is within 1/256 (0.4 %) of a value that was recorded in the
 * same bucket. The whole uint64_t range is covered; min, max, count and sum
 * are kept exactly.
 *
 * Recording is a few shifts and one increment: cheap enough to do inside a
 * ping-pong loop. Memory: HDR_NBUCKETS counters (about 58 KiB).
 *
 * Concurrency: none; a histogram belongs to one thread. Histograms may be
 * placed in shared memory (plain data, no pointers) and merged by another
 * process once the writer is done.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HDR_SUB_BITS 7
#define HDR_SUB (1u << HDR_SUB_BITS) /* sub-buckets per power of two */
/* bucket groups: group 0 covers [0, 256), group g >= 1 covers
 * [2^(g+7), 2^(g+8)); 2^63 .. 2^64-1 is group 56. */
#define HDR_GROUPS (64 - HDR_SUB_BITS)
#define HDR_NBUCKETS ((HDR_GROUPS + 1) * HDR_SUB)

struct hdr_hist {
	uint64_t count;
	uint64_t min;
	uint64_t max;
	double sum; /* for the mean; double so it never overflows */
	uint64_t buckets[HDR_NBUCKETS];
};

/** Empty @p h. */
void hdr_reset(struct hdr_hist *h);

/** Index of the bucket that holds @p v. */
static inline unsigned hdr_index(uint64_t v)
{
	unsigned msb, shift;

	if (v < 2u * HDR_SUB)
		return (unsigned)v;
	msb = 63u - (unsigned)__builtin_clzll(v); /* >= 8 here */
	shift = msb - HDR_SUB_BITS;		  /* v >> shift in [128, 256) */
	return shift * HDR_SUB + (unsigned)(v >> shift);
}

/** Record one value. */
static inline void hdr_record(struct hdr_hist *h, uint64_t v)
{
	h->buckets[hdr_index(v)]++;
	h->count++;
	h->sum += (double)v;
	if (v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
}

/** Smallest value that falls into bucket @p idx. */
uint64_t hdr_bucket_low(unsigned idx);
/** Width of bucket @p idx (1 for the exact range). */
uint64_t hdr_bucket_width(unsigned idx);

/**
 * The value at percentile @p pct (0..100]: the smallest recorded value v
 * such that at least pct % of all values are <= v, reported as the midpoint
 * of v's bucket, clamped to [min, max]. 0 when empty. pct >= 100 gives max.
 */
uint64_t hdr_percentile(const struct hdr_hist *h, double pct);

/**
 * The value at percentile @p pct (0..100) of values read from a clock that
 * moves in steps of @p quantum (1: a fine clock), interpolated: the count
 * in the bucket that holds the percentile is taken as spread evenly over
 * max(quantum, bucket width) around the bucket's centre (the grouped-data
 * median). With a coarse clock and a random phase between clock steps and
 * events, a reading v stands for true values around v, so this resolves
 * differences smaller than a step where hdr_percentile() snaps to whole
 * steps. pct <= 0 gives min, pct >= 100 max, empty 0.
 */
double hdr_percentile_q(const struct hdr_hist *h, double pct,
			uint64_t quantum);

/** Mean of the recorded values (0 when empty). */
double hdr_mean(const struct hdr_hist *h);

/** Add every value of @p src to @p dst. */
void hdr_merge(struct hdr_hist *dst, const struct hdr_hist *src);

#ifdef __cplusplus
}
#endif
#endif /* NSHM_BENCH_HDR_H */
