/* SPDX-License-Identifier: MIT */
#include "hdr.h"

#include <string.h>

void hdr_reset(struct hdr_hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

uint64_t hdr_bucket_low(unsigned idx)
{
	unsigned shift;

	if (idx < 2u * HDR_SUB)
		return idx;
	shift = idx / HDR_SUB - 1u;
	return (uint64_t)(idx - shift * HDR_SUB) << shift;
}

uint64_t hdr_bucket_width(unsigned idx)
{
	if (idx < 2u * HDR_SUB)
		return 1;
	return (uint64_t)1 << (idx / HDR_SUB - 1u);
}

uint64_t hdr_percentile(const struct hdr_hist *h, double pct)
{
	uint64_t rank, seen = 0, v;
	double r;

	if (h->count == 0)
		return 0;
	if (pct >= 100.0)
		return h->max;
	if (pct <= 0.0)
		return h->min;
	/* rank = ceil(pct/100 * count), at least 1 (nearest-rank method). */
	r = pct / 100.0 * (double)h->count;
	rank = (uint64_t)r;
	if ((double)rank < r)
		rank++;
	if (rank == 0)
		rank = 1;
	for (unsigned i = 0; i < HDR_NBUCKETS; i++) {
		seen += h->buckets[i];
		if (seen >= rank) {
			v = hdr_bucket_low(i) + hdr_bucket_width(i) / 2;
			if (v < h->min)
				v = h->min;
			if (v > h->max)
				v = h->max;
			return v;
		}
	}
	return h->max; /* not reached when counts are consistent */
}

double hdr_percentile_q(const struct hdr_hist *h, double pct,
			uint64_t quantum)
{
	double pos, seen = 0.0;

	if (h->count == 0)
		return 0.0;
	if (pct >= 100.0)
		return (double)h->max;
	if (pct <= 0.0)
		return (double)h->min;
	pos = pct / 100.0 * (double)h->count;
	for (unsigned i = 0; i < HDR_NBUCKETS; i++) {
		double n = (double)h->buckets[i], w, centre;

		if (n == 0.0 || seen + n < pos) {
			seen += n;
			continue;
		}
		w = (double)hdr_bucket_width(i);
		centre = (double)hdr_bucket_low(i) + (w - 1.0) / 2.0;
		if ((double)quantum > w)
			w = (double)quantum;
		return centre - w / 2.0 + (pos - seen) / n * w;
	}
	return (double)h->max; /* not reached when counts are consistent */
}

double hdr_mean(const struct hdr_hist *h)
{
	return h->count ? h->sum / (double)h->count : 0.0;
}

void hdr_merge(struct hdr_hist *dst, const struct hdr_hist *src)
{
	if (src->count == 0)
		return;
	for (unsigned i = 0; i < HDR_NBUCKETS; i++)
		dst->buckets[i] += src->buckets[i];
	dst->count += src->count;
	dst->sum += src->sum;
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
}
