/* SPDX-License-Identifier: MIT */
#ifndef NSHM_BITS_RING_SPSC_H
#define NSHM_BITS_RING_SPSC_H

/*
 * Internal to nshm's public headers: do not include directly.
 *
 * The SPSC data plane, inline: reserve/commit, peek/release, their burst
 * forms, copying push/pop. No system call, no lock, no value from shared
 * memory used as a size or mask: every slot address is computed from the
 * mask, stride and seq offset copied into the process-local handle at
 * attach, and every value read from shared memory is checked before it is
 * believed (a bad one makes the call behave as full/empty and sets
 * nshm_ring_error()).
 *
 * One line per hand-off (layout version 3): each slot has a sequence word
 * that the producer stores last, with release order; the consumer polls the
 * seq of the slot it wants and never reads the producer's index line on the
 * fast path. The word follows the element (a message of up to 56 bytes and
 * its seq share one line) or is a field of the element that the ring owns
 * (NSHM_RING_TYPE_SEQ_FIELD: a 64-byte element is one line).
 *
 * Memory-order pairs (table in doc/ring.md):
 *   RING-R1/A2  commit stores each slot's seq (release) -> consumer loads
 *               the seq of the slot it reads (acquire): the payload is
 *               visible before the slot is seen published.
 *   RING-R2/A1  release stores head (release; every few releases, when
 *               the ring is found empty, while the producer waits) ->
 *               producer loads head (acquire): the consumer's reads of a
 *               slot finish before it is reused.
 *   RING-R7/A7  release stores the consumer's exact position in its own
 *               role entry (release, every release, a line nobody polls)
 *               -> a successor consumer, a producer about to park, stats.
 *   RING-E1/SYNC-E2  seq/head store, then event-word load (notifier) vs.
 *               event-word RMW, then seq/head load (waiter): store-load
 *               (Dekker) order, made by a compiler fence here plus the
 *               waiter's deferred membarrier(GLOBAL_EXPEDITED) (src/sync/
 *               wait.h: issued only when a park outlives a short first
 *               slice), or by a full fence here when membarrier is
 *               unavailable.
 * The shared tail is still stored by every commit (relaxed, before the seq
 * stores, which order it: RING-R1), on the producer's own line that nobody
 * polls; it serves crash recovery, counters and tools (RING-R4/A4).
 */
#if !defined(NSHM_INSIDE_RING_H)
#error "include <nshm/ring.h> instead of <nshm/bits/ring_spsc.h>"
#endif

#include <nshm/bits/atomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <nshm/bits/compiler.h>
#include <nshm/bits/ring_layout.h>
#include <nshm/bits/ring_core.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Consumer: head (which the producer polls when it finds the ring full) is
 * stored every this many releases (a quarter of a small ring), when the
 * ring is found empty, and whenever the producer waits; our exact position
 * goes to our own role entry at every release, on a line nobody polls.
 */
#define NSHM__SPSC_HEAD_BATCH 16u

/* Releases per head store on a ring of @p cap slots (>= 1). */
static NSHM_ALWAYS_INLINE uint32_t nshm__ring_head_batch(uint32_t cap)
{
	return cap >= 4 * NSHM__SPSC_HEAD_BATCH ? NSHM__SPSC_HEAD_BATCH
						: (cap + 3) / 4;
}

/* Consumer: store head = @p pos. */
static NSHM_ALWAYS_INLINE void nshm__ring_head_store(struct nshm_ring *r,
						     uint64_t pos)
{
	/*
	 * RING-R2: pairs with RING-A1 in nshm__ring_prod_refresh(). Our reads
	 * of the slots happen before the producer can see them as free. Only
	 * this thread stores head; a producer about to park may raise it with
	 * a CAS to a position we published before (spsc.c), never above our
	 * next store, so head only rises.
	 */
	atomic_store_explicit(r->head_p, pos, memory_order_release);
	r->phead = pos; /* what we published, so we need not read it back */
}

/* Producer slow path: re-read head. @return free slots (0: full/error). */
static NSHM_ALWAYS_INLINE uint32_t nshm__ring_prod_refresh(struct nshm_ring *r)
{
	uint64_t head, used;

	if (nshm_unlikely(r->pcap == 0))
		return nshm__ring_misuse(r, 1 /* NSHM_RING_PRODUCER */);
	/*
	 * RING-A1: pairs with RING-R2 in nshm_ring_release_n(). Seeing the
	 * consumer's new head means its reads of the freed slots are
	 * complete, so we may overwrite them.
	 */
	head = atomic_load_explicit(&r->sh->cons.index, memory_order_acquire);
	/*
	 * head only moves forward, and never past our tail: it must lie in
	 * [phead, ppos]. Anything else (ahead of tail, or behind what we saw)
	 * is corruption, and we keep the room we knew about.
	 */
	used = r->ppos - head;
	if (nshm_unlikely(head - r->phead > r->ppos - r->phead))
		return nshm__ring_corrupt(r, head);
	r->phead = head;
	return (uint32_t)(r->pcap - used);
}

/*
 * Consumer: is index @p pos (== r->cready) published? One load of its
 * slot's seq word, on the line the payload shares. On yes, r->cready moves
 * past it. A seq that is neither published, nor the previous lap's, nor 0
 * (never written) is corruption: false, and nshm_ring_error() is set.
 */
static NSHM_ALWAYS_INLINE bool nshm__ring_cons_poll(struct nshm_ring *r,
						    uint64_t pos)
{
	uint64_t seq;

	/*
	 * RING-A2: pairs with RING-R1 in nshm_ring_commit_n(). The published
	 * value means the payload written before it is visible to us.
	 */
	seq = atomic_load_explicit(nshm__ring_seq(r, pos),
				   memory_order_acquire);
	if (nshm_likely(seq == nshm__ring_seq_pub(r, pos))) {
		r->cready = pos + 1;
		return true;
	}
	/* Not yet: previous lap, never written, or the producer's bytes. */
	if (nshm_likely(seq == nshm__ring_seq_pub(r, pos - r->ccap) ||
			seq == 0 || r->seq_off < r->esize)) {
		const unsigned char *slot = nshm__ring_slot(r, pos);

		/* Caught up: head is all we released. */
		if (r->phead != r->cpos)
			nshm__ring_head_store(r, r->cpos);

		for (uint32_t o = 0; o < r->esize && o < NSHM_RING_PREFETCH;
		     o += 64)
			__builtin_prefetch(slot + o, 0 /* read */, 3);
		return false;
	}
	return nshm__ring_corrupt_seq(r, pos, seq) != 0;
}

/* Consumer: poll index r->cready == r->cpos (or fail a wrong-role call). */
static NSHM_ALWAYS_INLINE bool nshm__ring_cons_next(struct nshm_ring *r,
						    uint64_t pos)
{
	if (nshm_unlikely(r->ccap == 0))
		return nshm__ring_misuse(r, 2 /* NSHM_RING_CONSUMER */) != 0;
	return nshm__ring_cons_poll(r, pos);
}

/*
 * Consumer: scan seqs forward from r->cready until @p want are known
 * published past r->cpos (at most the capacity). @return how many are.
 */
static NSHM_ALWAYS_INLINE uint64_t nshm__ring_cons_scan(struct nshm_ring *r,
							uint64_t want)
{
	uint64_t pos = r->cpos, end = r->cready;

	if (nshm_unlikely(r->ccap == 0))
		return nshm__ring_misuse(r, 2 /* NSHM_RING_CONSUMER */);
	if (want > r->ccap)
		want = r->ccap;
	while (end - pos < want && nshm__ring_cons_poll(r, end))
		end++;
	return r->cready - pos;
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
	return nshm__ring_slot(r, pos);
}

/**
 * Producer: publish @p n reserved slots at once: one tail store, then each
 * slot's seq word in index order.
 */
static inline void nshm_ring_commit_n(struct nshm_ring *r, uint32_t n)
{
	uint64_t pos = r->ppos, end = pos + n;

	if (nshm_unlikely(r->pcap == 0)) {
		nshm__ring_misuse(r, 1 /* NSHM_RING_PRODUCER */);
		return; /* touches no shared memory */
	}
	NSHM_ASSERT(end - r->phead <= r->pcap);
	r->ppos = end;
	/*
	 * RING-R4: pairs with RING-A4 in ring.c (take-over, stats). Relaxed:
	 * only this thread writes tail, nobody polls it on the fast path, and
	 * the seq release stores below order it before any slot is seen
	 * published, so tail >= every published index (tail >= head).
	 */
	atomic_store_explicit(r->tail_p, end, memory_order_relaxed);
	for (; pos != end; pos++)
		/*
		 * RING-R1: pairs with RING-A2 in nshm__ring_cons_poll(). The
		 * slot's payload written since reserve (and the tail store
		 * above) is visible before its seq says published.
		 */
		atomic_store_explicit(nshm__ring_seq(r, pos),
				      nshm__ring_seq_pub(r, pos),
				      memory_order_release);
	nshm__ring_notify(r, r->data_ev);
}

/** Producer: publish the slot from nshm_ring_reserve(). */
static inline void nshm_ring_commit(struct nshm_ring *r)
{
	nshm_ring_commit_n(r, 1);
}

/**
 * Producer: reserve up to @p n slots (a burst: as many as are free). When
 * they wrap, @p sp gets two runs; element i is nshm_ring_span_at(sp, i).
 * @return n1 + n2 (0: full). Publish with nshm_ring_commit_n().
 */
static inline uint32_t nshm_ring_reserve_n(struct nshm_ring *r, uint32_t n,
					   struct nshm_ring_span *sp)
{
	uint64_t pos = r->ppos;
	uint64_t room = (uint64_t)r->pcap - (pos - r->phead);

	/*
	 * A refresh that fails (a corrupt head: 0, error set) leaves the room
	 * we already knew about usable, so a blocking caller that was told
	 * "writable" always gets at least one slot and never spins.
	 */
	if (room < n) {
		uint32_t fresh = nshm__ring_prod_refresh(r);

		if (fresh > room)
			room = fresh;
	}
	if (n > room)
		n = (uint32_t)room;
	nshm__ring_span(r, pos, n, sp);
	return n;
}

/** Producer: copy one element in. @return false when full. */
static inline bool nshm_ring_push(struct nshm_ring *r, const void *elem)
{
	void *slot = nshm_ring_reserve(r);

	if (slot == NULL)
		return false;
	nshm__ring_copy_in(r, slot, elem);
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
	for (uint32_t i = 0; i < sp.n1; i++, src += r->esize)
		nshm__ring_copy_in(r, sp.run1 + (size_t)i * sp.stride, src);
	for (uint32_t i = 0; i < sp.n2; i++, src += r->esize)
		nshm__ring_copy_in(r, sp.run2 + (size_t)i * sp.stride, src);
	if (n != 0)
		nshm_ring_commit_n(r, n);
	return n;
}

/* ---- consumer --------------------------------------------------------- */

/**
 * Consumer: the oldest filled slot, read (or modified) in place, or NULL
 * when empty (or not a consumer, or its seq word is corrupt: see
 * nshm_ring_error()). Follow with nshm_ring_release().
 */
static inline void *nshm_ring_peek(struct nshm_ring *r)
{
	uint64_t pos = r->cpos;

	if (pos == r->cready && !nshm__ring_cons_next(r, pos))
		return NULL;
	return nshm__ring_slot(r, pos);
}

/** Consumer: hand @p n peeked slots back at once. */
static inline void nshm_ring_release_n(struct nshm_ring *r, uint32_t n)
{
	uint64_t old = r->cpos, pos = old + n;

	if (nshm_unlikely(r->ccap == 0)) {
		nshm__ring_misuse(r, 2 /* NSHM_RING_CONSUMER */);
		return; /* touches no shared memory */
	}
	NSHM_ASSERT(r->cready - pos <= r->ccap);
	r->cpos = pos;
	/*
	 * RING-R7: pairs with RING-A7 (a successor's take, the producer's
	 * last look before it parks, stats): our reads of the slots first.
	 */
	atomic_store_explicit(&r->me->cursor, pos, memory_order_release);
	/* Crossed a multiple of the batch (a power of two)? */
	if ((pos ^ old) >= nshm__ring_head_batch(r->ccap))
		nshm__ring_head_store(r, pos);
	nshm__ring_notify_fence(r);
	/* Relaxed: ordered by RING-E1; the slow path re-reads with a CAS. */
	if (nshm_unlikely(atomic_load_explicit(r->space_ev,
					       memory_order_relaxed) &
			  NSHM_EVENT_WAITERS)) {
		nshm__ring_head_store(r, pos);
		nshm__ring_wake(r, r->space_ev);
	}
}

/** Consumer: hand the slot from nshm_ring_peek() back. */
static inline void nshm_ring_release(struct nshm_ring *r)
{
	nshm_ring_release_n(r, 1);
}

/**
 * Consumer: up to @p n filled slots in place, as one or two runs (see
 * nshm_ring_reserve_n()). @return n1 + n2 (0: empty). Release with
 * nshm_ring_release_n().
 */
static inline uint32_t nshm_ring_peek_n(struct nshm_ring *r, uint32_t n,
					struct nshm_ring_span *sp)
{
	uint64_t pos = r->cpos;
	uint64_t avail = r->cready - pos;

	if (avail < n)
		avail = nshm__ring_cons_scan(r, n);
	if (n > avail)
		n = (uint32_t)avail;
	nshm__ring_span(r, pos, n, sp);
	return n;
}

/** Consumer: copy the oldest element out. @return false when empty. */
static inline bool nshm_ring_pop(struct nshm_ring *r, void *elem)
{
	const void *slot = nshm_ring_peek(r);

	if (slot == NULL)
		return false;
	memcpy(elem, slot, r->esize);
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
	for (uint32_t i = 0; i < sp.n1; i++, dst += r->esize)
		memcpy(dst, sp.run1 + (size_t)i * sp.stride, r->esize);
	for (uint32_t i = 0; i < sp.n2; i++, dst += r->esize)
		memcpy(dst, sp.run2 + (size_t)i * sp.stride, r->esize);
	if (n != 0)
		nshm_ring_release_n(r, n);
	return n;
}

/* ---- blocking forms: try inline, then spin/park out of line ----------- */


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

#ifdef __cplusplus
}
#endif
#endif /* NSHM_BITS_RING_SPSC_H */
