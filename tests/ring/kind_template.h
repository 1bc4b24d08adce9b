/* SPDX-License-Identifier: MIT */
#ifndef NSHM_KIND_TEMPLATE_H
#define NSHM_KIND_TEMPLATE_H

/*
 * One stress / crash / fuzz body for every ring kind (issue 10), as DPDK's
 * ring tests do: test_kind.c is compiled once per kind, with
 * -DT_KIND_SPSC=1 or -DT_KIND_MPMC=1, and this header gives the body a thin
 * per-kind adapter (k_*) over the kind's inline data plane. The body only
 * uses what every kind promises:
 *
 *   - every published message is delivered at most once, intact, and per
 *     producer in order to each consumer;
 *   - a dead holder costs only what it held: the ring's own count of given
 *     up slots (stats.skipped, 0 for SPSC, whose successors resume the dead
 *     one's state) explains every ring index that was never delivered;
 *   - scribbled shared memory never crashes or leaks a pointer outside the
 *     slot array.
 *
 * Kind-only facts are the adapter's constants: K_MAXP / K_MAXC (how many
 * producer / consumer processes the body runs: SPSC 1 + 1, MPMC 4 + 4).
 */

#include <sched.h>
#include <stdatomic.h>
#include <sys/mman.h>

#include "ring_test.h"

#if !defined(T_KIND_SPSC) && !defined(T_KIND_MPMC)
#error "build with -DT_KIND_SPSC=1 or -DT_KIND_MPMC=1"
#endif

/* ---- the message: 64 bytes, checksummed, says where it was written ---- */

struct kmsg {
	uint64_t tag; /* lane << 40 | n: producer lane and its sequence */
	uint64_t pos; /* ring index it was written at; K_NOPOS: unknown */
	uint64_t w[5];
	uint64_t sum;
};
_Static_assert(sizeof(struct kmsg) == 64, "64-byte message");

#define K_NOPOS UINT64_MAX
#define K_LANE(tag) ((uint32_t)((tag) >> 40))
#define K_SEQ(tag) ((tag) & ((1ull << 40) - 1))

static const struct nshm_ring_type kmsg_type =
	NSHM_RING_TYPE_INIT(struct kmsg, 1);

static inline uint64_t kmsg_sum(const struct kmsg *m)
{
	uint64_t s = m->tag * 0xff51afd7ed558ccdull ^ m->pos;

	for (int i = 0; i < 5; i++)
		s = (s ^ m->w[i]) * 0xc4ceb9fe1a85ec53ull;
	return s;
}

static inline void kmsg_fill(struct kmsg *m, uint64_t tag, uint64_t pos)
{
	m->tag = tag;
	m->pos = pos;
	for (int i = 0; i < 5; i++)
		m->w[i] = (tag + 1) * 0x9e3779b97f4a7c15ull ^ (uint64_t)i << 56;
	m->sum = kmsg_sum(m);
}

/* 1 if whole (every word as written), 0 if torn or garbage. */
static inline int kmsg_ok(const struct kmsg *m)
{
	for (int i = 0; i < 5; i++)
		if (m->w[i] !=
		    ((m->tag + 1) * 0x9e3779b97f4a7c15ull ^ (uint64_t)i << 56))
			return 0;
	return m->sum == kmsg_sum(m);
}

/* ---- the per-kind adapter --------------------------------------------- */

#if defined(T_KIND_MPMC)
#define K_KIND NSHM_RING_MPMC
#define K_TAG "mpmc"
#define K_MAXP 4u
#define K_MAXC 4u
#define k_reserve nshm_mpmc_reserve
#define k_commit nshm_mpmc_commit
#define k_peek nshm_mpmc_peek
#define k_release nshm_mpmc_release
#define k_push nshm_mpmc_push
#define k_pop nshm_mpmc_pop
#define k_push_n nshm_mpmc_push_n
#define k_pop_n nshm_mpmc_pop_n
#define k_push_wait nshm_mpmc_push_wait
#define k_pop_wait nshm_mpmc_pop_wait
#define k_reserve_n nshm_mpmc_reserve_n
#define k_peek_n nshm_mpmc_peek_n
static inline void k_commit_n(struct nshm_ring *r, uint32_t n)
{
	(void)n; /* commits what the last reserve_n claimed */
	nshm_mpmc_commit(r);
}
static inline void k_release_n(struct nshm_ring *r, uint32_t n)
{
	(void)n;
	nshm_mpmc_release(r);
}
static inline int k_recover(struct nshm_ring *r)
{
	return nshm_mpmc_recover(r);
}
#else
#define K_KIND NSHM_RING_SPSC
#define K_TAG "spsc"
#define K_MAXP 1u
#define K_MAXC 1u
#define k_reserve nshm_ring_reserve
#define k_commit nshm_ring_commit
#define k_peek nshm_ring_peek
#define k_release nshm_ring_release
#define k_push nshm_ring_push
#define k_pop nshm_ring_pop
#define k_push_n nshm_ring_push_n
#define k_pop_n nshm_ring_pop_n
#define k_push_wait nshm_ring_push_wait
#define k_pop_wait nshm_ring_pop_wait
#define k_reserve_n nshm_ring_reserve_n
#define k_peek_n nshm_ring_peek_n
#define k_commit_n nshm_ring_commit_n
#define k_release_n nshm_ring_release_n
static inline int k_recover(struct nshm_ring *r)
{
	(void)r; /* SPSC: a successor resumes the dead one's indices */
	return 0;
}
#endif

static inline int k_create(const char *name, uint32_t cap,
			   enum nshm_ring_role role, unsigned int flags,
			   struct nshm_ring **out)
{
	struct nshm_ring_params p = NSHM_RING_PARAMS_INIT;

	p.kind = K_KIND;
	p.type = &kmsg_type;
	p.capacity = cap;
	p.role = role;
	p.flags = flags;
	p.max_producers = K_MAXP;
	p.max_consumers = K_MAXC;
	return nshm_ring_create_with(name, &p, out);
}

static inline int k_attach(const char *name, enum nshm_ring_role role,
			   struct nshm_ring **out)
{
	return nshm_ring_attach(name, K_KIND, &kmsg_type, role, 0, out);
}

/* ---- bookkeeping shared by the forked processes of one run ------------ */

#define K_LANES 8u
/* Ring indices a campaign may use (a bit each): far more than CI needs. */
#define K_IDX_BITS (1ull << 28)
#define K_LANE_BITS (1ull << 26)

struct kbook {
	_Atomic(uint32_t) stop;	 /* producers: close and exit */
	_Atomic(uint32_t) cstop; /* consumers: exit once drained */
	_Atomic(uint32_t) die_lane; /* consumer lane + 1 to die holding */
	_Atomic(uint32_t) pdie_lane; /* producer lane + 1 to die holding */
	_Atomic(uint32_t) spin;	 /* wait strategy: spin mode */
	_Atomic(uint64_t) issued;
	_Atomic(uint64_t) delivered;
	_Atomic(uint64_t) dup, lane_dup, torn, misplaced, order, errs;
	_Atomic(uint64_t) lane_next[K_LANES];
	/* bits: ring index seen; (lane, n) seen */
	_Atomic(uint64_t) idx_seen[K_IDX_BITS / 64];
	_Atomic(uint64_t) lane_seen[K_LANES][K_LANE_BITS / 64];
};

static inline struct kbook *kbook_new(void)
{
	void *p = mmap(NULL, sizeof(struct kbook), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	assert_true(p != MAP_FAILED);
	return p; /* zero-filled */
}

static inline void kbook_free(struct kbook *b)
{
	munmap(b, sizeof(*b));
}

/* Set bit @i; @return its old value. */
static inline int kbit_set(_Atomic(uint64_t) *bits, uint64_t i)
{
	/* Relaxed: a set of facts read after every process has exited. */
	return (atomic_fetch_or_explicit(&bits[i / 64], 1ull << (i % 64),
					 memory_order_relaxed) >>
		(i % 64)) & 1;
}

static inline int kbit_get(_Atomic(uint64_t) *bits, uint64_t i)
{
	return (atomic_load_explicit(&bits[i / 64], memory_order_relaxed) >>
		(i % 64)) & 1;
}

/* Record a message a consumer got from ring index @p pos. */
static inline void kbook_record(struct kbook *b, const struct kmsg *m,
				uint64_t pos, uint64_t *last)
{
	uint32_t lane = K_LANE(m->tag);
	uint64_t n = K_SEQ(m->tag);

	if (!kmsg_ok(m) || lane >= K_LANES || n >= K_LANE_BITS) {
		atomic_fetch_add(&b->torn, 1);
		return;
	}
	if (m->pos != K_NOPOS && m->pos != pos)
		atomic_fetch_add(&b->misplaced, 1);
	if (pos < K_IDX_BITS && kbit_set(b->idx_seen, pos))
		atomic_fetch_add(&b->dup, 1);
	if (kbit_set(b->lane_seen[lane], n))
		atomic_fetch_add(&b->lane_dup, 1);
	/* FIFO: one consumer sees each producer's messages in order. */
	if (last != NULL) {
		if (last[lane] != 0 && n < last[lane])
			atomic_fetch_add(&b->order, 1);
		last[lane] = n + 1;
	}
	atomic_fetch_add(&b->delivered, 1);
}

static uint64_t k_rnd_state = 0x2545f4914f6cdd1dull;

static inline uint64_t k_rnd(void)
{
	k_rnd_state ^= k_rnd_state << 13;
	k_rnd_state ^= k_rnd_state >> 7;
	k_rnd_state ^= k_rnd_state << 17;
	return k_rnd_state;
}

/* "spin": long spins then yields before parking; else the defaults. */
static inline int k_set_mode(struct nshm_ring *r, int spin)
{
	struct nshm_wait_strategy ws = { 0 };

	if (!spin)
		return 0;
	ws.spins = 1u << 16;
	ws.yields = 1u << 10;
	return nshm_ring_set_wait(r, &ws);
}

#endif /* NSHM_KIND_TEMPLATE_H */
