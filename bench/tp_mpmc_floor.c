/* SPDX-License-Identifier: MIT */
/*
 * mpmc-floor: the floor of a many-producer, many-consumer ring, written
 * here in the benchmark (as `hw` is for SPSC): Dmitry Vyukov's bounded
 * MPMC queue (per-slot sequence words, as in rigtorp's MPMCQueue), in
 * plain shared memory (MAP_SHARED|MAP_ANONYMOUS before fork). Minimal on
 * purpose: no intents, no recovery of a dead claimant, no wake-ups, no
 * counters, no validation of what shared memory says; it spins.
 *
 * Layout: enq and deq on their own 128-byte lines; slots of
 * [payload | pad to 8 | seq], with the same stride as nshm's MPMC ring
 * (whole cache lines, src/ring/mpmc.c: mpmc_stride()), so that
 * nshm-mpmc / floor measures what the ring does, not where its bytes are.
 *
 * seq of slot i starts at i. Producer: pos = enq; if seq == pos, CAS enq
 * pos -> pos + 1 (on failure pos is the new enq, try again), copy in,
 * store seq = pos + 1 (release). Consumer: if seq == pos + 1, CAS deq,
 * copy out, store seq = pos + capacity (release). seq < pos (producer) or
 * seq < pos + 1 (consumer): full / empty.
 *
 * Throughput: one ring, P producers, C consumers; latency: two rings.
 */
#include "bench.h"
#include "mpmc_common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#define LINE 128u

struct vy_hdr {
	_Alignas(LINE) _Atomic(uint64_t) enq; /* producers claim here */
	_Alignas(LINE) _Atomic(uint64_t) deq; /* consumers claim here */
	_Alignas(LINE) unsigned char slots[];
};

struct vy_state {
	struct mpmc_sync *ms;
	struct vy_hdr *ring[2];
	size_t ring_len;
	size_t stride, seq_off;
	uint64_t mask;
};

/* As mpmc_stride() (src/ring/mpmc.c), for an 8-aligned type. */
static size_t vy_stride(size_t size, size_t *seq_off)
{
	size_t s = (size + 7) / 8 * 8 + 8;

	*seq_off = s - 8;
	return (s + 63) / 64 * 64;
}

static void vy_teardown(void *st, const struct bench_params *p)
{
	struct vy_state *s = st;

	(void)p;
	for (int i = 0; i < 2; i++)
		bench_shared_free(s->ring[i], s->ring_len);
	mpmc_sync_free(s->ms);
	free(s);
}

static int vy_setup(void **st, const struct bench_params *p, char *why,
		    size_t whylen)
{
	struct vy_state *s = calloc(1, sizeof(*s));

	(void)why;
	(void)whylen;
	if (s == NULL)
		return -ENOMEM;
	s->stride = vy_stride(p->size, &s->seq_off);
	s->mask = p->capacity - 1;
	s->ring_len = sizeof(struct vy_hdr) + p->capacity * s->stride;
	s->ms = mpmc_sync_new(p);
	if (s->ms == NULL) {
		vy_teardown(s, p);
		return -ENOMEM;
	}
	for (int i = 0; i < (p->kind == KIND_RTT ? 2 : 1); i++) {
		s->ring[i] = bench_shared_alloc(s->ring_len);
		if (s->ring[i] == NULL) {
			vy_teardown(s, p);
			return -ENOMEM;
		}
		for (uint64_t k = 0; k < p->capacity; k++)
			/* Relaxed: before fork. */
			atomic_store_explicit(
				(_Atomic(uint64_t) *)(void *)(s->ring[i]->slots +
							      k * s->stride +
							      s->seq_off),
				k, memory_order_relaxed);
	}
	*st = s;
	return 0;
}

static BENCH_ALWAYS_INLINE _Atomic(uint64_t) *
vy_seq(const struct vy_state *s, struct vy_hdr *h, uint64_t pos)
{
	return (_Atomic(uint64_t) *)(void *)(h->slots +
					     (pos & s->mask) * s->stride +
					     s->seq_off);
}

static BENCH_ALWAYS_INLINE int vy_put(struct vy_state *s, int ring,
				      const unsigned char *buf, size_t size)
{
	struct vy_hdr *h = s->ring[ring];
	/* Relaxed: a hint; the slot's seq decides. */
	uint64_t pos = atomic_load_explicit(&h->enq, memory_order_relaxed);

	for (;;) {
		/* V4: pairs with V3: the consumer is done with the slot. */
		uint64_t seq = atomic_load_explicit(vy_seq(s, h, pos),
						    memory_order_acquire);
		int64_t dif = (int64_t)(seq - pos);

		if (dif == 0) {
			/* Relaxed: the slot's seq orders the hand-off. */
			if (atomic_compare_exchange_weak_explicit(
				    &h->enq, &pos, pos + 1,
				    memory_order_relaxed,
				    memory_order_relaxed))
				break;
		} else if (dif < 0) {
			/* full: wait for a consumer (no pause, as hw) */
			pos = atomic_load_explicit(&h->enq,
						   memory_order_relaxed);
		} else {
			pos = atomic_load_explicit(&h->enq,
						   memory_order_relaxed);
		}
	}
	memcpy(h->slots + (pos & s->mask) * s->stride, buf, size);
	/* V1: pairs with V2: publishes the payload. */
	atomic_store_explicit(vy_seq(s, h, pos), pos + 1, memory_order_release);
	return 0;
}

static BENCH_ALWAYS_INLINE int vy_get(struct vy_state *s, int ring,
				      unsigned char *buf, size_t size)
{
	struct vy_hdr *h = s->ring[ring];
	/* Relaxed: a hint; the slot's seq decides. */
	uint64_t pos = atomic_load_explicit(&h->deq, memory_order_relaxed);

	for (;;) {
		/* V2: pairs with V1: the payload is there. */
		uint64_t seq = atomic_load_explicit(vy_seq(s, h, pos),
						    memory_order_acquire);
		int64_t dif = (int64_t)(seq - (pos + 1));

		if (dif == 0) {
			/* Relaxed: the slot's seq orders the hand-off. */
			if (atomic_compare_exchange_weak_explicit(
				    &h->deq, &pos, pos + 1,
				    memory_order_relaxed,
				    memory_order_relaxed))
				break;
		} else if (dif < 0) {
			/* empty: wait for a producer (no pause, as hw) */
			pos = atomic_load_explicit(&h->deq,
						   memory_order_relaxed);
		} else {
			pos = atomic_load_explicit(&h->deq,
						   memory_order_relaxed);
		}
	}
	memcpy(buf, h->slots + (pos & s->mask) * s->stride, size);
	/* V3: pairs with V4: hands the slot to the next lap's producer. */
	atomic_store_explicit(vy_seq(s, h, pos), pos + s->mask + 1,
			      memory_order_release);
	return 0;
}

MPMC_DEFINE_LOOPS(vy, struct vy_state, vy_put, vy_get)

static void vy_run(void *st, const struct bench_params *p, int role,
		   struct side_result *r, struct hdr_hist *h)
{
	struct vy_state *s = st;

	BENCH_SIZE_DISPATCH(p->size, vy_run_sz, s, s->ms, p, role, r, h);
}

const struct transport tp_mpmc_floor = {
	.name = "mpmc-floor",
	.desc = "MPMC floor: minimal Vyukov per-slot-sequence ring in plain "
		"shared memory, nshm's slot layout; spin",
	.modes = MODE_SPIN,
	.is_floor = true,
	.max_producers = BENCH_MAX_PROCS - 1,
	.max_consumers = BENCH_MAX_PROCS - 1,
	.setup = vy_setup,
	.run = vy_run,
	.teardown = vy_teardown,
};
