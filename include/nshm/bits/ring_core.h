/* SPDX-License-Identifier: MIT */
#ifndef NSHM_BITS_RING_CORE_H
#define NSHM_BITS_RING_CORE_H

/*
 * Internal to nshm's public headers: do not include directly.
 *
 * What every ring kind's inline data plane shares: the process-local
 * handle, slot and seq-word addresses, the published-seq value, copies
 * around a seq field, burst spans, the notify that wakes only sleepers,
 * and the small accessors. Each kind's data plane (bits/ring_spsc.h,
 * bits/ring_mpmc.h) builds on these and never branches on the kind.
 */
#if !defined(NSHM_INSIDE_RING_H)
#error "include <nshm/ring.h> instead of <nshm/bits/ring_core.h>"
#endif

#include <nshm/bits/atomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <nshm/bits/compiler.h>
#include <nshm/bits/ring_layout.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Process-local handle. Fields are library-managed: use the functions.
 * One thread uses a handle at a time. A handle has one role; the fields of
 * the other role stay zero, which makes every fast-path call of the wrong
 * role fall into the slow path, where it fails (-EPERM) without touching
 * shared memory, at no cost to the right role.
 */
struct nshm_ring {
	/* line 0: everything the fast path reads */
	uint64_t ppos;		   /* producer: next index to fill (our tail) */
	uint64_t phead;		   /* producer: head last seen; consumer: last published */
	uint64_t cpos;		   /* consumer: next index to read (our head) */
	uint64_t cready;	   /* consumer: first index not seen published */
	unsigned char *slots;	   /* slot 0, inside the mapping */
	uint32_t pcap;		   /* capacity if producer, else 0 */
	uint32_t ccap;		   /* capacity if consumer, else 0 */
	uint32_t mask;		   /* capacity - 1, validated copy */
	uint32_t stride;	   /* slot stride (payload + seq), validated */
	uint32_t esize;		   /* element size, validated copy */
	uint32_t seq_off;	   /* offset of the seq word in a slot */
	/* line 1 */
	NSHM_ATOMIC(uint64_t) *tail_p; /* producer: &sh->prod.index, else sink */
	NSHM_ATOMIC(uint64_t) *head_p; /* consumer: &sh->cons.index, else sink */
	NSHM_ATOMIC(uint32_t) *data_ev;  /* producer notifies: &sh->prod.ev.word */
	NSHM_ATOMIC(uint32_t) *space_ev; /* consumer notifies: &sh->cons.ev.word */
	struct nshm_ring_shared *sh;
	uint32_t fence;		     /* 1: no membarrier, fence before notify */
	int err;		     /* first fast-path error, 0 if none */
	uint32_t role;		     /* enum nshm_ring_role */
	uint32_t claimed;	     /* MPMC: slots claimed from ppos/cpos */
	uint64_t seq_key;	     /* XORed into published seqs (layout.h) */
	/* line 2: cold */
	NSHM_ATOMIC(uint64_t) sink;	     /* wrong-role stores land here */
	NSHM_ATOMIC(uint32_t) sink_ev;   /* always 0: no waiter */
	uint32_t reserved;	     /* per kind: records prefetch, MPMC stale refreshes */
	struct nshm_ring_role_entry *me;   /* our role-table entry (MPMC intents) */
	/* library-private state follows (src/ring/core.c) */
	void *priv;
};

/* Out of line (src/ring/core.c); exported for these inlines only. */
NSHM_API uint32_t nshm__ring_misuse(struct nshm_ring *r, int want_role);
NSHM_API uint32_t nshm__ring_corrupt(struct nshm_ring *r, uint64_t seen);
NSHM_API uint32_t nshm__ring_corrupt_seq(struct nshm_ring *r, uint64_t pos,
					 uint64_t seq);
NSHM_API void nshm__ring_wake(struct nshm_ring *r, NSHM_ATOMIC(uint32_t) *ev);

/* The payload of the slot of index @p pos (local mask and stride only). */
static NSHM_ALWAYS_INLINE unsigned char *
nshm__ring_slot(const struct nshm_ring *r, uint64_t pos)
{
	return r->slots + (size_t)(pos & r->mask) * r->stride;
}

/* The sequence word of the slot of index @p pos. */
static NSHM_ALWAYS_INLINE NSHM_ATOMIC(uint64_t) *
nshm__ring_seq(const struct nshm_ring *r, uint64_t pos)
{
	return (NSHM_ATOMIC(uint64_t) *)(void *)(nshm__ring_slot(r, pos) +
					     r->seq_off);
}

/* The value the seq word of index @p pos holds once it is published. */
static NSHM_ALWAYS_INLINE uint64_t nshm__ring_seq_pub(const struct nshm_ring *r,
						      uint64_t pos)
{
	return NSHM_RING_SEQ(pos) ^ r->seq_key;
}

/*
 * Copy an element of @p size bytes into a slot, leaving out the 8 bytes at
 * @p skip (the ring's seq field, which the consumer may be loading right
 * now; skip == size: none). Constant arguments (the typed API) fold to
 * plain moves.
 */
static NSHM_ALWAYS_INLINE void nshm__copy_skip(void *dst, const void *src,
					       size_t size, size_t skip)
{
	/*
	 * Offset and length set in a branch: with skip == size (no seq
	 * field) gcc -O0 would otherwise see a read at src + size + 8 of
	 * SIZE_MAX - 7 bytes in the dead call, and warn.
	 */
	size_t at = 0, rest = 0;

	if (skip < size) {
		at = skip + 8;
		rest = size - at;
	}
	memcpy(dst, src, skip);
	if (rest != 0)
		memcpy((unsigned char *)dst + at,
		       (const unsigned char *)src + at, rest);
}

/* nshm__copy_skip() with the handle's element size and seq field. */
static NSHM_ALWAYS_INLINE void nshm__ring_copy_in(const struct nshm_ring *r,
						  void *slot, const void *src)
{
	nshm__copy_skip(slot, src, r->esize,
			r->seq_off < r->esize ? r->seq_off : r->esize);
}

/*
 * Lines of a slot that the consumer prefetches while it waits for it: the
 * first NSHM_RING_PREFETCH bytes. The producer writes them before the seq
 * word, so when the seq arrives they are (mostly) already on their way and
 * the hand-off costs about one line transfer instead of one per line.
 * Measured at 64-256 B: round trip 1.4-1.7x -> 1.2-1.3x of one line; more
 * lines than this only took throughput at 1-4 KiB from 0.99x to 0.93x.
 */
#define NSHM_RING_PREFETCH 256u

/* Between a store a waiter re-checks and the load of its event word. */
static NSHM_ALWAYS_INLINE void nshm__ring_notify_fence(struct nshm_ring *r)
{
	/*
	 * RING-E1: pairs with SYNC-E2 in the waiter (src/sync/wait.c): our
	 * seq or head store must be ordered before this load (store->load).
	 * A waiter whose park outlives its short first slice sets WAITERS,
	 * then issues membarrier(GLOBAL_EXPEDITED), which runs a full barrier
	 * on this CPU: so the compiler fence is all we need here (a race
	 * inside that first slice costs the waiter at most the slice, never
	 * the wake-up). Without membarrier (r->fence) we pay a full fence.
	 */
	if (nshm_unlikely(r->fence)) {
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpragmas"
#pragma GCC diagnostic ignored "-Wtsan" /* TSan does not model fences */
#endif
		atomic_thread_fence(memory_order_seq_cst);
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
	} else {
		atomic_signal_fence(memory_order_seq_cst);
	}
}

/*
 * After publishing, wake the other side if (and only if) it sleeps: one
 * load of a word on our own index line (already in our cache), and a branch.
 */
static NSHM_ALWAYS_INLINE void nshm__ring_notify(struct nshm_ring *r,
						 NSHM_ATOMIC(uint32_t) *ev)
{
	nshm__ring_notify_fence(r);
	/* Relaxed: ordered by RING-E1; the slow path re-reads with a CAS. */
	if (nshm_unlikely(atomic_load_explicit(ev, memory_order_relaxed) &
			  NSHM_EVENT_WAITERS))
		nshm__ring_wake(r, ev);
}

/* Fill @p sp with the @p n slots from index @p pos (one or two runs). */
static NSHM_ALWAYS_INLINE void nshm__ring_span(const struct nshm_ring *r,
					       uint64_t pos, uint32_t n,
					       struct nshm_ring_span *sp)
{
	uint32_t idx = (uint32_t)(pos & r->mask);
	uint32_t first = r->mask - idx + 1;

	if (first > n)
		first = n;
	sp->run1 = r->slots + (size_t)idx * r->stride;
	sp->n1 = first;
	sp->run2 = r->slots;
	sp->n2 = n - first;
	sp->stride = r->stride;
	sp->reserved = 0;
}

/* ---- blocking: the kind-neutral slow path (src/ring/wait.c) --------- */

NSHM_API int nshm_ring_wait_writable(struct nshm_ring *r,
				     const struct timespec *deadline);
NSHM_API int nshm_ring_wait_readable(struct nshm_ring *r,
				     const struct timespec *deadline);

/* ---- small accessors -------------------------------------------------- */

/** Slots in the ring. */
static inline uint32_t nshm_ring_capacity(const struct nshm_ring *r)
{
	return r->mask + 1;
}

/** Bytes per element (the slot stride is larger: see nshm_ring_span). */
static inline uint32_t nshm_ring_elem_size(const struct nshm_ring *r)
{
	return r->esize;
}

/**
 * This handle's own index: for a producer the index the next push gets
 * (== messages ever pushed, unless indices were seeded), for a consumer the
 * index the next pop returns.
 */
static inline uint64_t nshm_ring_position(const struct nshm_ring *r)
{
	return r->role == 1 ? r->ppos : r->cpos;
}

/**
 * The first error a fast-path call hit on this handle, or 0:
 * -NSHM_ECORRUPT (an index or a slot's seq word in shared memory failed
 * its check: the call behaved as full/empty and nothing out of bounds was
 * touched) or -EPERM
 * (a call of the other role). Sticky until nshm_ring_clear_error().
 */
static inline int nshm_ring_error(const struct nshm_ring *r)
{
	return r->err;
}

static inline void nshm_ring_clear_error(struct nshm_ring *r)
{
	r->err = 0;
}

#ifdef __cplusplus
}
#endif
#endif /* NSHM_BITS_RING_CORE_H */
