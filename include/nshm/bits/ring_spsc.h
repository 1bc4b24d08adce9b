/* SPDX-License-Identifier: MIT */
#ifndef NSHM_BITS_RING_SPSC_H
#define NSHM_BITS_RING_SPSC_H

/*
 * Internal to nshm's public headers: do not include directly.
 *
 * The SPSC data plane, inline: reserve/commit, peek/release, their burst
 * forms, copying push/pop. No system call, no lock, no value from shared
 * memory used as a size or mask: every slot address is computed from the
 * mask and stride copied into the process-local handle at attach, and every
 * index read from shared memory is bounded before it is believed (a bad one
 * makes the call behave as full/empty and sets nshm_ring_error()).
 *
 * Memory-order pairs (table in doc/ring.md):
 *   R1/A2  commit stores tail (release)   -> consumer loads tail (acquire):
 *          slot contents are visible before the slot is.
 *   R2/A1  release stores head (release)  -> producer loads head (acquire):
 *          the consumer's reads of a slot finish before it is reused.
 *   E1/E2  index store, then event-word load (notifier) vs. event-word RMW,
 *          then index load (waiter): store-load (Dekker) order, made by a
 *          compiler fence here plus membarrier(GLOBAL_EXPEDITED) in the
 *          waiter, or by a full fence here when membarrier is unavailable.
 */
#if !defined(NSHM_INSIDE_RING_H)
#error "include <nshm/ring.h> instead of <nshm/bits/ring_spsc.h>"
#endif

#include <stdatomic.h>
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
	uint64_t phead;		   /* producer: head last seen (cached) */
	uint64_t cpos;		   /* consumer: next index to read (our head) */
	uint64_t ctail;		   /* consumer: tail last seen (cached) */
	unsigned char *slots;	   /* slot 0, inside the mapping */
	_Atomic(uint64_t) *tail_p; /* producer: &sh->prod.index, else sink */
	_Atomic(uint64_t) *head_p; /* consumer: &sh->cons.index, else sink */
	struct nshm_ring_shared *sh;
	/* line 1 */
	_Atomic(uint32_t) *data_ev;  /* producer notifies: &sh->prod.ev.word */
	_Atomic(uint32_t) *space_ev; /* consumer notifies: &sh->cons.ev.word */
	uint32_t pcap;		     /* capacity if producer, else 0 */
	uint32_t ccap;		     /* capacity if consumer, else 0 */
	uint32_t mask;		     /* capacity - 1, validated copy */
	uint32_t stride;	     /* element size, validated copy */
	uint32_t fence;		     /* 1: no membarrier, fence before notify */
	int err;		     /* first fast-path error, 0 if none */
	uint32_t role;		     /* enum nshm_ring_role */
	uint32_t waiter_mb;	     /* 1: membarrier usable when parking */
	_Atomic(uint64_t) sink;	     /* wrong-role stores land here */
	_Atomic(uint32_t) sink_ev;   /* always 0: no waiter */
	uint32_t reserved;
	/* cold, library-private state follows (src/ring/ring.c) */
	void *priv;
};

/* Out of line (src/ring/ring.c); exported for these inlines only. */
NSHM_API uint32_t nshm__ring_misuse(struct nshm_ring *r, int want_role);
NSHM_API uint32_t nshm__ring_corrupt(struct nshm_ring *r, uint64_t seen);
NSHM_API void nshm__ring_wake(struct nshm_ring *r, _Atomic(uint32_t) *ev);

/* Producer slow path: re-read head. @return free slots (0: full/error). */
static NSHM_ALWAYS_INLINE uint32_t nshm__ring_prod_refresh(struct nshm_ring *r)
{
	uint64_t head, used;

	if (nshm_unlikely(r->pcap == 0))
		return nshm__ring_misuse(r, 1 /* NSHM_RING_PRODUCER */);
	/*
	 * A1: pairs with R2 in nshm_ring_release_n(). Seeing the consumer's
	 * new head means its reads of the freed slots are complete, so we
	 * may overwrite them.
	 */
	head = atomic_load_explicit(&r->sh->cons.index, memory_order_acquire);
	used = r->ppos - head;
	if (nshm_unlikely(used > r->pcap))
		return nshm__ring_corrupt(r, head); /* head ahead of tail */
	r->phead = head;
	return (uint32_t)(r->pcap - used);
}

/* Consumer slow path: re-read tail. @return filled slots (0: empty/error). */
static NSHM_ALWAYS_INLINE uint32_t nshm__ring_cons_refresh(struct nshm_ring *r)
{
	uint64_t tail, avail;

	if (nshm_unlikely(r->ccap == 0))
		return nshm__ring_misuse(r, 2 /* NSHM_RING_CONSUMER */);
	/*
	 * A2: pairs with R1 in nshm_ring_commit_n(). Every slot below the
	 * tail we load is filled and its contents are visible to us.
	 */
	tail = atomic_load_explicit(&r->sh->prod.index, memory_order_acquire);
	avail = tail - r->cpos;
	if (nshm_unlikely(avail > r->ccap))
		return nshm__ring_corrupt(r, tail); /* more than fits: bogus */
	r->ctail = tail;
	return (uint32_t)avail;
}

/*
 * After publishing an index, wake the other side if (and only if) it sleeps:
 * one load of a word on the line we just wrote, and a branch.
 */
static NSHM_ALWAYS_INLINE void nshm__ring_notify(struct nshm_ring *r,
						 _Atomic(uint32_t) *ev)
{
	/*
	 * E1: pairs with E2 in the waiter (ring.c, ring_park()): our index
	 * store must be ordered before this load (store->load). The waiter
	 * sets WAITERS, then issues membarrier(GLOBAL_EXPEDITED), which runs
	 * a full barrier on this CPU: so the compiler fence is all we need
	 * here. Without membarrier (r->fence) we pay a full fence ourselves.
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
	/* Relaxed: ordered by E1; the slow path re-reads with a CAS. */
	if (nshm_unlikely(atomic_load_explicit(ev, memory_order_relaxed) &
			  NSHM_EVENT_WAITERS))
		nshm__ring_wake(r, ev);
}

/* ---- producer --------------------------------------------------------- */

/**
 * Producer: a slot to fill in place, or NULL when the ring is full (or the
 * handle is not a producer, or the consumer's index is corrupt: see
 * nshm_ring_error()). Follow with nshm_ring_commit().
 */
static inline void *nshm_ring_reserve(struct nshm_ring *r)
{
	uint64_t pos = r->ppos;

	if (nshm_unlikely(pos - r->phead >= r->pcap) &&
	    nshm__ring_prod_refresh(r) == 0)
		return NULL;
	return r->slots + (size_t)(pos & r->mask) * r->stride;
}

/** Producer: publish @p n reserved slots at once (one index store). */
static inline void nshm_ring_commit_n(struct nshm_ring *r, uint32_t n)
{
	uint64_t pos = r->ppos + n;

	NSHM_ASSERT(pos - r->phead <= r->pcap);
	r->ppos = pos;
	/*
	 * R1: pairs with A2 in nshm__ring_cons_refresh(). The slot contents
	 * written since reserve become visible before the new tail. Only
	 * this thread writes tail.
	 */
	atomic_store_explicit(r->tail_p, pos, memory_order_release);
	nshm__ring_notify(r, r->data_ev);
}

/** Producer: publish the slot from nshm_ring_reserve(). */
static inline void nshm_ring_commit(struct nshm_ring *r)
{
	nshm_ring_commit_n(r, 1);
}

/**
 * Producer: reserve up to @p n slots (a burst: as many as are free). When
 * they wrap, @p sp gets two spans: p1[0..n1) then p2[0..n2).
 * @return n1 + n2 (0: full). Publish with nshm_ring_commit_n().
 */
static inline uint32_t nshm_ring_reserve_n(struct nshm_ring *r, uint32_t n,
					   struct nshm_ring_span *sp)
{
	uint64_t pos = r->ppos;
	uint64_t room = (uint64_t)r->pcap - (pos - r->phead);
	uint32_t idx, first;

	if (room < n)
		room = nshm__ring_prod_refresh(r);
	if (n > room)
		n = (uint32_t)room;
	idx = (uint32_t)(pos & r->mask);
	first = r->mask - idx + 1;
	if (first > n)
		first = n;
	sp->p1 = r->slots + (size_t)idx * r->stride;
	sp->n1 = first;
	sp->p2 = r->slots;
	sp->n2 = n - first;
	return n;
}

/** Producer: copy one element in. @return false when full. */
static inline bool nshm_ring_push(struct nshm_ring *r, const void *elem)
{
	void *slot = nshm_ring_reserve(r);

	if (slot == NULL)
		return false;
	memcpy(slot, elem, r->stride);
	nshm_ring_commit(r);
	return true;
}

/** Producer: copy up to @p n elements in, one publication. @return count. */
static inline uint32_t nshm_ring_push_n(struct nshm_ring *r, const void *elems,
					uint32_t n)
{
	struct nshm_ring_span sp;
	const unsigned char *src = (const unsigned char *)elems;

	n = nshm_ring_reserve_n(r, n, &sp);
	if (n == 0)
		return 0;
	memcpy(sp.p1, src, (size_t)sp.n1 * r->stride);
	if (sp.n2 != 0)
		memcpy(sp.p2, src + (size_t)sp.n1 * r->stride,
		       (size_t)sp.n2 * r->stride);
	nshm_ring_commit_n(r, n);
	return n;
}

/* ---- consumer --------------------------------------------------------- */

/**
 * Consumer: the oldest filled slot, read (or modified) in place, or NULL
 * when empty (or not a consumer, or the producer's index is corrupt: see
 * nshm_ring_error()). Follow with nshm_ring_release().
 */
static inline void *nshm_ring_peek(struct nshm_ring *r)
{
	uint64_t pos = r->cpos;

	if (nshm_unlikely(pos == r->ctail) && nshm__ring_cons_refresh(r) == 0)
		return NULL;
	return r->slots + (size_t)(pos & r->mask) * r->stride;
}

/** Consumer: hand @p n peeked slots back at once (one index store). */
static inline void nshm_ring_release_n(struct nshm_ring *r, uint32_t n)
{
	uint64_t pos = r->cpos + n;

	NSHM_ASSERT(r->ctail - pos <= r->ccap);
	r->cpos = pos;
	/*
	 * R2: pairs with A1 in nshm__ring_prod_refresh(). Our reads of the
	 * slots happen before the producer can see them as free. Only this
	 * thread writes head.
	 */
	atomic_store_explicit(r->head_p, pos, memory_order_release);
	nshm__ring_notify(r, r->space_ev);
}

/** Consumer: hand the slot from nshm_ring_peek() back. */
static inline void nshm_ring_release(struct nshm_ring *r)
{
	nshm_ring_release_n(r, 1);
}

/**
 * Consumer: up to @p n filled slots in place, as one or two spans (see
 * nshm_ring_reserve_n()). @return n1 + n2 (0: empty). Release with
 * nshm_ring_release_n().
 */
static inline uint32_t nshm_ring_peek_n(struct nshm_ring *r, uint32_t n,
					struct nshm_ring_span *sp)
{
	uint64_t pos = r->cpos;
	uint64_t avail = r->ctail - pos;
	uint32_t idx, first;

	if (avail < n)
		avail = nshm__ring_cons_refresh(r);
	if (n > avail)
		n = (uint32_t)avail;
	idx = (uint32_t)(pos & r->mask);
	first = r->mask - idx + 1;
	if (first > n)
		first = n;
	sp->p1 = r->slots + (size_t)idx * r->stride;
	sp->n1 = first;
	sp->p2 = r->slots;
	sp->n2 = n - first;
	return n;
}

/** Consumer: copy the oldest element out. @return false when empty. */
static inline bool nshm_ring_pop(struct nshm_ring *r, void *elem)
{
	const void *slot = nshm_ring_peek(r);

	if (slot == NULL)
		return false;
	memcpy(elem, slot, r->stride);
	nshm_ring_release(r);
	return true;
}

/** Consumer: copy up to @p n elements out, one release. @return count. */
static inline uint32_t nshm_ring_pop_n(struct nshm_ring *r, void *elems,
				       uint32_t n)
{
	struct nshm_ring_span sp;
	unsigned char *dst = (unsigned char *)elems;

	n = nshm_ring_peek_n(r, n, &sp);
	if (n == 0)
		return 0;
	memcpy(dst, sp.p1, (size_t)sp.n1 * r->stride);
	if (sp.n2 != 0)
		memcpy(dst + (size_t)sp.n1 * r->stride, sp.p2,
		       (size_t)sp.n2 * r->stride);
	nshm_ring_release_n(r, n);
	return n;
}

/* ---- blocking forms: try inline, then spin/park out of line ----------- */

NSHM_API int nshm_ring_wait_writable(struct nshm_ring *r,
				     const struct timespec *deadline);
NSHM_API int nshm_ring_wait_readable(struct nshm_ring *r,
				     const struct timespec *deadline);

/**
 * Producer: push, waiting for room until @p deadline (absolute
 * CLOCK_MONOTONIC; NULL: no deadline). @return 0, -ETIMEDOUT,
 * -NSHM_EPEERDEAD (the consumer died with the ring full), -EPIPE (the
 * consumer closed with the ring full), -NSHM_ECORRUPT, -EPERM, -EINVAL.
 */
static inline int nshm_ring_push_wait(struct nshm_ring *r, const void *elem,
				      const struct timespec *deadline)
{
	while (!nshm_ring_push(r, elem)) {
		int rc = nshm_ring_wait_writable(r, deadline);

		if (rc < 0)
			return rc;
	}
	return 0;
}

/**
 * Consumer: pop, waiting for data until @p deadline. @return 0,
 * -ETIMEDOUT, -NSHM_EPEERDEAD (the producer died with the ring empty),
 * -EPIPE (the producer closed with the ring empty), -NSHM_ECORRUPT, -EPERM,
 * -EINVAL.
 */
static inline int nshm_ring_pop_wait(struct nshm_ring *r, void *elem,
				     const struct timespec *deadline)
{
	while (!nshm_ring_pop(r, elem)) {
		int rc = nshm_ring_wait_readable(r, deadline);

		if (rc < 0)
			return rc;
	}
	return 0;
}

/**
 * Producer: wait until there is room, then push as many of @p n as fit.
 * @return the count pushed (>= 1; 0 only for n == 0), or a negative error
 * as nshm_ring_push_wait() when none could be pushed.
 */
static inline int nshm_ring_push_n_wait(struct nshm_ring *r, const void *elems,
					uint32_t n,
					const struct timespec *deadline)
{
	uint32_t k;

	while ((k = nshm_ring_push_n(r, elems, n)) == 0 && n != 0) {
		int rc = nshm_ring_wait_writable(r, deadline);

		if (rc < 0)
			return rc;
	}
	return (int)k;
}

/**
 * Consumer: wait until there is data, then pop up to @p n. @return the
 * count popped (>= 1; 0 only for n == 0), or a negative error.
 */
static inline int nshm_ring_pop_n_wait(struct nshm_ring *r, void *elems,
				       uint32_t n,
				       const struct timespec *deadline)
{
	uint32_t k;

	while ((k = nshm_ring_pop_n(r, elems, n)) == 0 && n != 0) {
		int rc = nshm_ring_wait_readable(r, deadline);

		if (rc < 0)
			return rc;
	}
	return (int)k;
}

/* ---- small accessors -------------------------------------------------- */

/** Slots in the ring. */
static inline uint32_t nshm_ring_capacity(const struct nshm_ring *r)
{
	return r->mask + 1;
}

/** Bytes per element (the slot stride). */
static inline uint32_t nshm_ring_elem_size(const struct nshm_ring *r)
{
	return r->stride;
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
 * -NSHM_ECORRUPT (an index in shared memory failed its bound: the call
 * behaved as full/empty and nothing out of bounds was touched) or -EPERM
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
#endif /* NSHM_BITS_RING_SPSC_H */
