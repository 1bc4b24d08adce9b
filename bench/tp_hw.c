/* SPDX-License-Identifier: MIT */
/*
 * The hardware floor, written here in the benchmark with plain shared memory
 * (MAP_SHARED|MAP_ANONYMOUS before fork), so that every other transport can
 * be compared with what the machine itself allows.
 *
 * Latency: a bare mailbox ping-pong. One mailbox per direction, each starting
 * on its own 128-byte boundary (the adjacent-line prefetcher pulls 128-byte
 * pairs). A mailbox is the message itself: its first 8 bytes are the
 * sequence word, used as the "full" flag. The sender copies bytes 8..size-1
 * in and then stores the sequence word with release order; the receiver
 * spins on the sequence word with acquire loads and copies the message out.
 * For size <= 64 the message is exactly one cache line each way; for larger
 * sizes the same protocol copies through a size-byte shared buffer (one
 * flag line plus the payload's lines).
 *
 * hw-ring (latency only): the same mailbox protocol, but each direction
 * rotates over `capacity` mailboxes of round_up(size, 8) bytes (round trip
 * i uses mailbox i & (capacity - 1)), as a ring's slots do: the floor of a
 * ring hand-off, with the flag inside the message and no index at all.
 * On the KVM guests of the README, moving through 64 or more lines instead
 * of bouncing one costs 1.13-1.28x by itself (in a standalone test too),
 * which is why the rings are also compared with this.
 *
 * Throughput: a minimal SPSC ring (rigtorp style). Producer index and
 * consumer index on their own 128-byte lines, each side caching the other's
 * index in its own memory and re-reading the shared one only when the cache
 * says full/empty; slots of round_up(size, 8) bytes; messages copied in and
 * copied out with memcpy; one release store of the index per message.
 */
#include "bench.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#define LINE 128u

struct hw_state {
	unsigned char *base;
	size_t len;
	size_t stride;	 /* ring slot or mailbox stride */
	uint64_t mask;	 /* ring, hw-ring: capacity - 1 (mailbox: 0) */
	size_t back;	 /* latency: offset of the pong -> ping mailboxes */
};

static inline size_t round_up(size_t v, size_t a)
{
	return (v + a - 1) / a * a;
}

/* ---- throughput: the minimal SPSC ring ---------------------------------- */

struct hw_ring_hdr {
	_Alignas(LINE) _Atomic(uint64_t) tail; /* written by the producer */
	_Alignas(LINE) _Atomic(uint64_t) head; /* written by the consumer */
};

static BENCH_ALWAYS_INLINE void
hw_ring_producer_sz(struct hw_state *s, const struct bench_params *p,
		    struct side_result *r, size_t size)
{
	struct hw_ring_hdr *h = (struct hw_ring_hdr *)s->base;
	unsigned char *slots = s->base + sizeof(*h);
	unsigned char *buf = malloc(size);
	const size_t stride = round_up(size, 8); /* == s->stride */
	uint64_t tail = 0, cached_head = 0, cap = s->mask + 1;

	if (buf == NULL) {
		side_fail(r, -ENOMEM, "out of memory");
		return;
	}
	msg_fill(buf, size);
	for (uint64_t seq = 0;; seq++) {
		bool last = send_is_last(p, seq);

		msg_stamp(buf, size, seq | (last ? MSG_LAST : 0));
		while (tail - cached_head == cap)
			/* R1: pairs with W2; the consumer is done with the slot. */
			cached_head = atomic_load_explicit(
				&h->head, memory_order_acquire);
		memcpy(slots + (tail & s->mask) * stride, buf, size);
		/* W1: pairs with R2; publishes the slot's bytes. */
		atomic_store_explicit(&h->tail, ++tail, memory_order_release);
		r->msgs++;
		if (last)
			break;
	}
	r->bytes = r->msgs * size;
	free(buf);
}

static void hw_ring_producer(struct hw_state *s, const struct bench_params *p,
			     struct side_result *r)
{
	BENCH_SIZE_DISPATCH(p->size, hw_ring_producer_sz, s, p, r);
}

static BENCH_ALWAYS_INLINE void
hw_ring_consumer_sz(struct hw_state *s, const struct bench_params *p,
		    struct side_result *r, size_t size)
{
	struct hw_ring_hdr *h = (struct hw_ring_hdr *)s->base;
	unsigned char *slots = s->base + sizeof(*h);
	unsigned char *buf = malloc(size);
	const size_t stride = round_up(size, 8); /* == s->stride */
	uint64_t head = 0, cached_tail = 0, expect = 0;

	(void)p;
	if (buf == NULL) {
		side_fail(r, -ENOMEM, "out of memory");
		return;
	}
	for (;;) {
		while (head == cached_tail)
			/* R2: pairs with W1; the slot's bytes are visible. */
			cached_tail = atomic_load_explicit(
				&h->tail, memory_order_acquire);
		memcpy(buf, slots + (head & s->mask) * stride, size);
		/* W2: pairs with R1; hands the slot back. */
		atomic_store_explicit(&h->head, ++head, memory_order_release);
		if (consume_check(r, buf, size, &expect))
			break;
	}
	free(buf);
}

static void hw_ring_consumer(struct hw_state *s, const struct bench_params *p,
			     struct side_result *r)
{
	BENCH_SIZE_DISPATCH(p->size, hw_ring_consumer_sz, s, p, r);
}

/* ---- latency: the mailbox ping-pong ------------------------------------- */

static inline _Atomic(uint64_t) *mb_word(unsigned char *mb)
{
	return (_Atomic(uint64_t) *)(void *)mb;
}

static BENCH_ALWAYS_INLINE void mb_put(unsigned char *mb,
				      const unsigned char *msg, size_t size)
{
	if (size > 8)
		memcpy(mb + 8, msg + 8, size - 8);
	/* W3: pairs with R3 on the other side; publishes bytes 8..size-1. */
	atomic_store_explicit(mb_word(mb), msg_seq(msg), memory_order_release);
}

static BENCH_ALWAYS_INLINE void mb_get(unsigned char *mb, unsigned char *msg,
				      size_t size, uint64_t want)
{
	uint64_t s;

	/* R3: pairs with W3; the message's other bytes are visible. */
	while (((s = atomic_load_explicit(mb_word(mb), memory_order_acquire)) &
		~MSG_LAST) != want)
		;
	memcpy(msg, &s, 8);
	if (size > 8)
		memcpy(msg + 8, mb + 8, size - 8);
}

/* Mailbox of round trip @p i: the one mailbox, or i's slot (hw-ring). */
static BENCH_ALWAYS_INLINE unsigned char *
mb_at(const struct hw_state *s, unsigned char *dir, uint64_t i, bool rot)
{
	return rot ? dir + (i & s->mask) * s->stride : dir;
}

static BENCH_ALWAYS_INLINE void
hw_ping_sz(struct hw_state *s, const struct bench_params *p,
	   struct side_result *r, struct hdr_hist *hist, bool rot, size_t size)
{
	unsigned char *to = s->base, *from = s->base + s->back;
	unsigned char *out = malloc(size), *in = malloc(size);
	uint64_t t0, t1 = 0;

	if (out == NULL || in == NULL) {
		side_fail(r, -ENOMEM, "out of memory");
		goto out;
	}
	msg_fill(out, size);
	for (uint64_t i = 0;; i++) {
		bool timed;
		uint64_t seq = rtt_begin(p, r, i, t1, &timed);

		msg_stamp(out, size, seq);
		t0 = bench_now();
		mb_put(mb_at(s, to, i, rot), out, size);
		mb_get(mb_at(s, from, i, rot), in, size, i);
		t1 = bench_now();
		rtt_account(p, r, hist, in, size, i, timed, t0, t1);
		if (seq & MSG_LAST)
			break;
	}
out:
	free(out);
	free(in);
}

static void hw_ping(struct hw_state *s, const struct bench_params *p,
		    struct side_result *r, struct hdr_hist *hist)
{
	if (s->mask != 0)
		BENCH_SIZE_DISPATCH(p->size, hw_ping_sz, s, p, r, hist, true);
	else
		BENCH_SIZE_DISPATCH(p->size, hw_ping_sz, s, p, r, hist, false);
}

static BENCH_ALWAYS_INLINE void
hw_pong_sz(struct hw_state *s, const struct bench_params *p,
	   struct side_result *r, bool rot, size_t size)
{
	unsigned char *from = s->base, *to = s->base + s->back;
	unsigned char *buf = malloc(size);

	(void)p;
	if (buf == NULL) {
		side_fail(r, -ENOMEM, "out of memory");
		return;
	}
	for (uint64_t i = 0;; i++) {
		mb_get(mb_at(s, from, i, rot), buf, size, i);
		mb_put(mb_at(s, to, i, rot), buf, size);
		r->msgs++;
		if (msg_seq(buf) & MSG_LAST)
			break;
	}
	free(buf);
}

static void hw_pong(struct hw_state *s, const struct bench_params *p,
		    struct side_result *r)
{
	if (s->mask != 0)
		BENCH_SIZE_DISPATCH(p->size, hw_pong_sz, s, p, r, true);
	else
		BENCH_SIZE_DISPATCH(p->size, hw_pong_sz, s, p, r, false);
}

/* ---- the transport ------------------------------------------------------ */

static int hw_setup_kind(void **st, const struct bench_params *p, bool rot)
{
	struct hw_state *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return -ENOMEM;
	if (p->kind == KIND_TPUT) {
		s->stride = round_up(p->size, 8);
		s->mask = p->capacity - 1u;
		s->len = sizeof(struct hw_ring_hdr) +
			 (size_t)p->capacity * s->stride;
	} else if (rot) {
		/* capacity mailboxes per direction, packed like ring slots */
		s->stride = round_up(p->size, 8);
		s->mask = p->capacity - 1u;
		s->back = round_up((size_t)p->capacity * s->stride, LINE);
		s->len = 2 * s->back;
	} else {
		/* Two mailboxes, each on its own 128-byte pair of lines. */
		s->stride = round_up(p->size, LINE);
		s->back = s->stride;
		s->len = 2 * s->stride;
	}
	s->base = bench_shared_alloc(s->len);
	if (s->base == NULL) {
		free(s);
		return -ENOMEM;
	}
	if (p->kind == KIND_RTT)
		/* A sequence word no message carries: every mailbox empty. */
		for (uint64_t i = 0; i <= s->mask; i++) {
			atomic_store_explicit(mb_word(mb_at(s, s->base, i, rot)),
					      ~(uint64_t)0,
					      memory_order_relaxed);
			atomic_store_explicit(
				mb_word(mb_at(s, s->base + s->back, i, rot)),
				~(uint64_t)0, memory_order_relaxed);
		}
	*st = s;
	return 0;
}

static int hw_setup(void **st, const struct bench_params *p, char *why,
		    size_t whylen)
{
	(void)why;
	(void)whylen;
	return hw_setup_kind(st, p, false);
}

static int hw_ring_setup(void **st, const struct bench_params *p, char *why,
			 size_t whylen)
{
	(void)why;
	(void)whylen;
	return hw_setup_kind(st, p, true);
}

static void hw_run(void *st, const struct bench_params *p, int role,
		   struct side_result *r, struct hdr_hist *h)
{
	struct hw_state *s = st;

	if (p->kind == KIND_TPUT) {
		if (role == 0)
			hw_ring_producer(s, p, r);
		else
			hw_ring_consumer(s, p, r);
	} else {
		if (role == 0)
			hw_ping(s, p, r, h);
		else
			hw_pong(s, p, r);
	}
}

static void hw_teardown(void *st, const struct bench_params *p)
{
	struct hw_state *s = st;

	(void)p;
	bench_shared_free(s->base, s->len);
	free(s);
}

const struct transport tp_hw = {
	.name = "hw",
	.desc = "hardware floor: mailbox ping-pong (latency), minimal SPSC "
		"ring in shared memory (throughput)",
	.modes = MODE_SPIN,
	.baseline = true,
	.max_producers = 1,
	.max_consumers = 1,
	.setup = hw_setup,
	.run = hw_run,
	.teardown = hw_teardown,
};

const struct transport tp_hw_ring = {
	.name = "hw-ring",
	.desc = "floor of a ring hand-off: the mailbox ping-pong rotating "
		"over `capacity` mailboxes per direction (latency only)",
	.modes = MODE_SPIN,
	.ring_floor = true,
	.max_producers = 1,
	.max_consumers = 1,
	.setup = hw_ring_setup,
	.run = hw_run,
	.teardown = hw_teardown,
};
