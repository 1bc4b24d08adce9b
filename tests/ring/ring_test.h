/* SPDX-License-Identifier: MIT */
#ifndef NSHM_RING_TEST_H
#define NSHM_RING_TEST_H

/*
 * Shared helpers for the ring tests: a checksummed 64-byte message. Built
 * with T_SEQ_FIELD=1, one payload word becomes the ring's seq field
 * (NSHM_RING_DEFINE_SEQ): the same tests then run on that layout.
 */

#include <nshm/nshm.h>
#include "test_util.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define T_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define T_SANITIZED 1
#endif
#endif
#ifndef T_SANITIZED
#define T_SANITIZED 0
#endif

#ifndef T_SEQ_FIELD
#define T_SEQ_FIELD 0
#endif
#define T_PAYLOAD (6 - T_SEQ_FIELD)

struct msg {
	uint64_t seq;
	uint64_t payload[T_PAYLOAD];
#if T_SEQ_FIELD
	uint64_t ring_seq; /* the ring's: never written by the tests */
#endif
	uint64_t sum;
};
_Static_assert(sizeof(struct msg) == 64, "64-byte message");

#if T_SEQ_FIELD
NSHM_RING_DEFINE_SEQ(msg_ring, struct msg, ring_seq)
#else
NSHM_RING_DEFINE(msg_ring, struct msg)
#endif

static inline uint64_t msg_word(uint64_t seq, int i)
{
	return (seq + 1) * 0x9e3779b97f4a7c15ull ^ (uint64_t)i << 56;
}

static inline void msg_fill(struct msg *m, uint64_t seq)
{
	uint64_t s = seq;

	m->seq = seq;
	for (int i = 0; i < T_PAYLOAD; i++) {
		m->payload[i] = msg_word(seq, i);
		s = s * 31 + m->payload[i];
	}
	m->sum = s;
}

/* 0: fine; 1: wrong sequence; 2: torn/corrupt payload. */
static inline int msg_check(const struct msg *m, uint64_t want)
{
	uint64_t s = m->seq;

	if (m->seq != want)
		return 1;
	for (int i = 0; i < T_PAYLOAD; i++) {
		if (m->payload[i] != msg_word(want, i))
			return 2;
		s = s * 31 + m->payload[i];
	}
	return s == m->sum ? 0 : 2;
}

/* Create ring @p n of @p t with @p cap slots: a producer and a consumer. */
static inline void t_ring_pair(const char *n, const struct nshm_ring_type *t,
			       uint32_t cap, struct nshm_ring **p,
			       struct nshm_ring **c)
{
	assert_int_equal(nshm_ring_create(n, NSHM_RING_SPSC, t, cap,
					  NSHM_RING_PRODUCER, 0, 0, p),
			 0);
	assert_int_equal(nshm_ring_attach(n, NSHM_RING_SPSC, t,
					  NSHM_RING_CONSUMER, 0, c),
			 0);
}

/*
 * A read-write view of ring @p n's shared header, as a hostile (or buggy)
 * peer would have: observers map read-only, so tests that scribble on a
 * ring use this. The mapping lives until the process exits.
 */
static inline struct nshm_ring_shared *t_scribbler(const char *n)
{
	struct nshm_seg *seg = NULL;
	void *area = NULL;

	assert_int_equal(nshm_seg_open(n, 0, 0, 0, &seg), 0);
	assert_int_equal(nshm_seg_attach(seg, 0, &area), 0);
	nshm_seg_close(seg);
	return area;
}

/* Make a scribbled ring config's checksum right again. */
static inline void refresh_crc(struct nshm_ring_shared *sh)
{
	sh->config.crc = t_crc32c(&sh->config,
				offsetof(struct nshm_ring_config, crc));
}

static inline uint64_t t_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline struct timespec *t_in_ms(struct timespec *ts, uint64_t ms)
{
	return nshm_deadline_in(ts, ms * 1000000u);
}

/* Message count for the big cross-process runs, scaled and sanitizer-aware. */
static inline uint64_t t_count(uint64_t plain)
{
	double n = (double)plain * t_scale();

	if (T_SANITIZED)
		n /= 20;
	return n < 1000 ? 1000 : (uint64_t)n;
}

#endif /* NSHM_RING_TEST_H */
