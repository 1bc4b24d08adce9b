/* SPDX-License-Identifier: MIT */
#ifndef NSHM_BITS_RING_MPMC_H
#define NSHM_BITS_RING_MPMC_H

/*
 * Internal to nshm's public headers: do not include directly (include
 * <nshm/mpmc.h>).
 *
 * The MPMC data plane, inline. Each slot ends with a 64-bit sequence word
 * (the trailing-seq slot of bits/ring_layout.h); for the slot of index pos
 * it holds
 *
 *	pos                    free: a producer may claim it for this lap
 *	pos + 1                full: published, a consumer may claim it
 *	(pos + 1) ^ TOMB       given up: its producer died before publishing
 *	pos + capacity         released: free for the next lap (= the first
 *	                       value of index pos + capacity)
 *
 * Producers claim at enq (sh->prod.index), consumers at deq
 * (sh->cons.index), each with one CAS when the slot's seq says it is theirs
 * (Vyukov). Before the CAS the claimant stores what it claims in its own
 * role-table entry (intent, intent_n); after publishing (releasing) it
 * clears it with a release store. A waiter stuck behind a claimed slot
 * (src/ring/mpmc.c) gives the slot up only when no live holder's intent
 * covers it: a live claimant always has its claimed slots covered.
 *
 * Memory-order pairs (doc/ring.md):
 *   RING-M1/M2  producer stores the slot's seq = pos + 1 (release) after the
 *               payload -> consumer loads the seq (acquire) before reading.
 *   RING-M3/M4  consumer stores seq = pos + capacity (release) after its
 *               reads -> producer loads the seq (acquire) before writing.
 *   RING-M5/M6  claimant's intent stores, then its CAS on enq/deq (release)
 *               -> a recoverer's acquire load of enq/deq, then of the
 *               intents: it sees the intent of whoever claimed below enq.
 *   RING-M7/M8  claimant clears its intent (release) after publishing ->
 *               a recoverer loads it (acquire): seeing it clear, it sees
 *               the publication, and its give-up CAS on the seq fails.
 *   RING-E1     as in SPSC: notify after publishing (bits/ring_core.h).
 */
#if !defined(NSHM_INSIDE_RING_H)
#error "include <nshm/mpmc.h> instead of <nshm/bits/ring_mpmc.h>"
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

/* Out of line (src/ring/mpmc.c): a seq or index no legal value explains. */
NSHM_API uint32_t nshm__mpmc_corrupt(struct nshm_ring *r, uint64_t pos,
				     uint64_t seq);

/*
 * Record what we are about to claim: @p n slots from index @p pos (n == 0
 * means none, so every index, 2^64 - 1 too, can be named). Relaxed:
 * ordered before the claim by the release CAS that follows (RING-M5);
 * only this handle writes them.
 */
static NSHM_ALWAYS_INLINE void nshm__mpmc_intend(struct nshm_ring *r,
						 uint64_t pos, uint32_t n)
{
	atomic_store_explicit(&r->me->intent, pos, memory_order_relaxed);
	atomic_store_explicit(&r->me->intent_n, n, memory_order_relaxed);
}

/*
 * Done with what we claimed. RING-M7: pairs with RING-M8 in roles.c: our
 * seq stores (publish/release) are visible to whoever sees this clear.
 */
static NSHM_ALWAYS_INLINE void nshm__mpmc_done(struct nshm_ring *r)
{
	atomic_store_explicit(&r->me->intent_n, 0, memory_order_release);
}

/* Gave up without claiming: the intent may be stale, so clear it. */
static NSHM_ALWAYS_INLINE void nshm__mpmc_forget(struct nshm_ring *r)
{
	/* Relaxed: nothing was claimed, nothing to order. */
	atomic_store_explicit(&r->me->intent_n, 0, memory_order_relaxed);
}

/* A lost claim race: counted on our own entry (slow-ish path). */
static NSHM_ALWAYS_INLINE void nshm__mpmc_retry(struct nshm_ring *r)
{
	/* Relaxed: a statistic on a line only we write. */
	atomic_fetch_add_explicit(&r->me->retries, 1, memory_order_relaxed);
}

/*
 * Producer: claim up to @p n (>= 1) free slots at enq, at least @p need
 * of them (need == n: all or nothing). @return how many (the first is
 * r->ppos), 0 when full or on error (nshm_ring_error()).
 */
static NSHM_ALWAYS_INLINE uint32_t nshm__mpmc_claim_prod(struct nshm_ring *r,
							 uint32_t n,
							 uint32_t need)
{
	uint64_t pos, seq;
	uint32_t k;

	if (nshm_unlikely(r->pcap == 0))
		return nshm__ring_misuse(r, 1 /* NSHM_RING_PRODUCER */);
	if (n > r->pcap)
		n = r->pcap;
	/* Relaxed: a hint; the seq word (acquire) decides. */
	pos = atomic_load_explicit(r->tail_p, memory_order_relaxed);
	for (;;) {
		/* RING-M4: pairs with RING-M3, the consumer's release. */
		seq = atomic_load_explicit(nshm__ring_seq(r, pos),
					   memory_order_acquire);
		if (nshm_likely(seq == pos)) {
			/* Free; how many after it are too? */
			for (k = 1; k < n; k++)
				/* RING-M4, as above. */
				if (atomic_load_explicit(
					    nshm__ring_seq(r, pos + k),
					    memory_order_acquire) != pos + k)
					break;
			if (k < need) {
				nshm__mpmc_forget(r);
				return 0;
			}
			nshm__mpmc_intend(r, pos, k);
			/*
			 * RING-M5: release orders our intent before the claim
			 * for a recoverer; on failure @pos is the new enq.
			 */
			if (nshm_likely(atomic_compare_exchange_weak_explicit(
				    r->tail_p, &pos, pos + k,
				    memory_order_release,
				    memory_order_relaxed))) {
				r->ppos = pos;
				r->claimed = k;
				return k;
			}
			nshm__mpmc_retry(r);
			continue;
		}
		if (pos - seq <= r->pcap ||
		    seq == ((pos - r->pcap + 1) ^ NSHM_RING_TOMB)) {
			/* The previous lap is not released yet: full. */
			nshm__mpmc_forget(r);
			return 0;
		} else {
			/* Others claimed past it, or a value no lap explains. */
			uint64_t now = atomic_load_explicit(
				r->tail_p, memory_order_relaxed);

			if (now != pos) {
				pos = now; /* our enq was stale */
				continue;
			}
		}
		nshm__mpmc_forget(r);
		return nshm__mpmc_corrupt(r, pos, seq);
	}
}

/*
 * Consumer: claim up to @p n (>= 1) filled slots at deq (a slot given up
 * for a dead producer counts: it is skipped after the claim). @return how
 * many (the first is r->cpos), 0 when empty or on error.
 */
static NSHM_ALWAYS_INLINE uint32_t nshm__mpmc_claim_cons(struct nshm_ring *r,
							 uint32_t n)
{
	uint64_t pos, seq;
	uint32_t k;

	if (nshm_unlikely(r->ccap == 0))
		return nshm__ring_misuse(r, 2 /* NSHM_RING_CONSUMER */);
	if (n > r->ccap)
		n = r->ccap;
	/* Relaxed: a hint; the seq word (acquire) decides. */
	pos = atomic_load_explicit(r->head_p, memory_order_relaxed);
	for (;;) {
		/* RING-M2: pairs with RING-M1, the producer's publish. */
		seq = atomic_load_explicit(nshm__ring_seq(r, pos),
					   memory_order_acquire);
		if (nshm_likely(seq == pos + 1 ||
				seq == ((pos + 1) ^ NSHM_RING_TOMB))) {
			for (k = 1; k < n; k++) {
				/* RING-M2, as above. */
				uint64_t s = atomic_load_explicit(
					nshm__ring_seq(r, pos + k),
					memory_order_acquire);

				if (s != pos + k + 1 &&
				    s != ((pos + k + 1) ^ NSHM_RING_TOMB))
					break;
			}
			nshm__mpmc_intend(r, pos, k);
			/* RING-M5: as for producers. */
			if (nshm_likely(atomic_compare_exchange_weak_explicit(
				    r->head_p, &pos, pos + k,
				    memory_order_release,
				    memory_order_relaxed))) {
				r->cpos = pos;
				r->claimed = k;
				return k;
			}
			nshm__mpmc_retry(r);
			continue;
		}
		if (pos + 1 - seq <= r->ccap ||
		    seq == ((pos + 1 - r->ccap) ^ NSHM_RING_TOMB)) {
			/* Not published yet (or the last lap still held). */
			nshm__mpmc_forget(r);
			return 0;
		} else {
			/* Others claimed past it, or a value no lap explains. */
			uint64_t now = atomic_load_explicit(
				r->head_p, memory_order_relaxed);

			if (now != pos) {
				pos = now; /* our deq was stale */
				continue;
			}
		}
		nshm__mpmc_forget(r);
		return nshm__mpmc_corrupt(r, pos, seq);
	}
}

/* Is the claimed slot of index @p pos a given-up one (skip it)? */
static NSHM_ALWAYS_INLINE bool nshm__mpmc_is_tomb(const struct nshm_ring *r,
						  uint64_t pos)
{
	/* Relaxed: our claim's acquire load already read this value. */
	return atomic_load_explicit(nshm__ring_seq(r, pos),
				    memory_order_relaxed) ==
	       ((pos + 1) ^ NSHM_RING_TOMB);
}

/* ---- producer --------------------------------------------------------- */

/**
 * Producer: claim one free slot and return it to fill in place (NULL when
 * full, or on error). Publish it with nshm_mpmc_commit() soon: consumers
 * wait at it in FIFO order.
 */
static NSHM_ALWAYS_INLINE void *nshm_mpmc_reserve(struct nshm_ring *r)
{
	if (nshm__mpmc_claim_prod(r, 1, 1) == 0)
		return NULL;
	return nshm__ring_slot(r, r->ppos);
}

/**
 * Producer: claim up to @p n free slots (what fits; at least one unless
 * full) as one or two runs (see struct nshm_ring_span). @return how many.
 * Publish them all with nshm_mpmc_commit().
 */
static inline uint32_t nshm_mpmc_reserve_n(struct nshm_ring *r, uint32_t n,
					   struct nshm_ring_span *sp)
{
	uint32_t k = n == 0 ? 0 : nshm__mpmc_claim_prod(r, n, 1);

	nshm__ring_span(r, r->ppos, k, sp);
	return k;
}

/** Producer: the same, all or nothing: @return @p n or 0. */
static inline uint32_t nshm_mpmc_reserve_n_all(struct nshm_ring *r,
					       uint32_t n,
					       struct nshm_ring_span *sp)
{
	uint32_t k = n == 0 ? 0 : nshm__mpmc_claim_prod(r, n, n);

	nshm__ring_span(r, r->ppos, k, sp);
	return k;
}

/** Producer: publish every slot of the last reserve (one seq store each). */
static NSHM_ALWAYS_INLINE void nshm_mpmc_commit(struct nshm_ring *r)
{
	uint64_t pos = r->ppos, end = pos + r->claimed;

	if (nshm_unlikely(r->pcap == 0)) {
		nshm__ring_misuse(r, 1 /* NSHM_RING_PRODUCER */);
		return; /* touches no shared memory */
	}
	for (; pos != end; pos++)
		/* RING-M1: pairs with RING-M2: the payload first. */
		atomic_store_explicit(nshm__ring_seq(r, pos), pos + 1,
				      memory_order_release);
	r->claimed = 0;
	nshm__mpmc_done(r);
	nshm__ring_notify(r, r->data_ev);
}

/** Producer: copy one element in. @return false when full. */
static inline bool nshm_mpmc_push(struct nshm_ring *r, const void *elem)
{
	void *slot = nshm_mpmc_reserve(r);

	if (slot == NULL)
		return false;
	memcpy(slot, elem, r->esize);
	nshm_mpmc_commit(r);
	return true;
}

static inline void nshm__mpmc_copy_in(struct nshm_ring *r, const void *elems,
				      uint32_t k)
{
	const unsigned char *src = (const unsigned char *)elems;

	for (uint32_t i = 0; i < k; i++, src += r->esize)
		memcpy(nshm__ring_slot(r, r->ppos + i), src, r->esize);
}

/** Producer: copy in up to @p n elements (what fits). @return how many. */
static inline uint32_t nshm_mpmc_push_n(struct nshm_ring *r, const void *elems,
					uint32_t n)
{
	uint32_t k = n == 0 ? 0 : nshm__mpmc_claim_prod(r, n, 1);

	if (k != 0) {
		nshm__mpmc_copy_in(r, elems, k);
		nshm_mpmc_commit(r);
	}
	return k;
}

/** Producer: copy in all @p n elements or none. @return @p n or 0. */
static inline uint32_t nshm_mpmc_push_n_all(struct nshm_ring *r,
					    const void *elems, uint32_t n)
{
	uint32_t k = n == 0 ? 0 : nshm__mpmc_claim_prod(r, n, n);

	if (k != 0) {
		nshm__mpmc_copy_in(r, elems, k);
		nshm_mpmc_commit(r);
	}
	return k;
}

/* ---- consumer --------------------------------------------------------- */

/** Consumer: hand back every slot of the last peek (one seq store each). */
static NSHM_ALWAYS_INLINE void nshm_mpmc_release(struct nshm_ring *r)
{
	uint64_t pos = r->cpos, end = pos + r->claimed;

	if (nshm_unlikely(r->ccap == 0)) {
		nshm__ring_misuse(r, 2 /* NSHM_RING_CONSUMER */);
		return;
	}
	for (; pos != end; pos++)
		/* RING-M3: pairs with RING-M4: our reads first. */
		atomic_store_explicit(nshm__ring_seq(r, pos), pos + r->ccap,
				      memory_order_release);
	r->claimed = 0;
	nshm__mpmc_done(r);
	nshm__ring_notify(r, r->space_ev);
}

/**
 * Consumer: claim the oldest message and return it in place (NULL when
 * empty, or on error). Hand it back with nshm_mpmc_release(). Slots given
 * up for a dead producer are skipped.
 */
static NSHM_ALWAYS_INLINE void *nshm_mpmc_peek(struct nshm_ring *r)
{
	while (nshm__mpmc_claim_cons(r, 1) != 0) {
		if (nshm_likely(!nshm__mpmc_is_tomb(r, r->cpos)))
			return nshm__ring_slot(r, r->cpos);
		nshm_mpmc_release(r); /* nothing to read there */
	}
	return NULL;
}

/**
 * Consumer: claim up to @p n messages in place, as one or two runs. A run
 * stops before a given-up slot. @return how many (0: empty). Hand them
 * back with nshm_mpmc_release().
 */
static inline uint32_t nshm_mpmc_peek_n(struct nshm_ring *r, uint32_t n,
					struct nshm_ring_span *sp)
{
	uint32_t k = 0;

	while (n != 0 && (k = nshm__mpmc_claim_cons(r, n)) != 0) {
		uint32_t good = 0;

		while (good < k && !nshm__mpmc_is_tomb(r, r->cpos + good))
			good++;
		if (good == k)
			break;
		if (good != 0) {
			/* Keep the messages before the first given-up slot:
			 * hand back the rest now (each is released in turn
			 * as it is skipped). */
			uint64_t pos = r->cpos + good;

			for (; pos != r->cpos + k; pos++)
				/* RING-M3: nothing was read from these. */
				atomic_store_explicit(nshm__ring_seq(r, pos),
						      pos + r->ccap,
						      memory_order_release);
			r->claimed = k = good;
			break;
		}
		/* The first is given up: skip it alone, try again. */
		r->claimed = 1;
		nshm_mpmc_release(r);
		k = 0;
	}
	nshm__ring_span(r, r->cpos, k, sp);
	return k;
}

/** Consumer: copy the oldest message out. @return false when empty. */
static inline bool nshm_mpmc_pop(struct nshm_ring *r, void *elem)
{
	const void *slot = nshm_mpmc_peek(r);

	if (slot == NULL)
		return false;
	memcpy(elem, slot, r->esize);
	nshm_mpmc_release(r);
	return true;
}

/** Consumer: copy out up to @p n messages. @return how many (0: empty). */
static inline uint32_t nshm_mpmc_pop_n(struct nshm_ring *r, void *elems,
				       uint32_t n)
{
	unsigned char *dst = (unsigned char *)elems;
	uint32_t k, got = 0;

	while (n != 0 && (k = nshm__mpmc_claim_cons(r, n)) != 0) {
		for (uint32_t i = 0; i < k; i++) {
			if (nshm__mpmc_is_tomb(r, r->cpos + i))
				continue;
			memcpy(dst, nshm__ring_slot(r, r->cpos + i), r->esize);
			dst += r->esize;
			got++;
		}
		nshm_mpmc_release(r);
		if (got != 0)
			break;
	}
	return got;
}

/* ---- blocking forms --------------------------------------------------- */

/**
 * Producer: push, waiting for room until @p deadline (absolute
 * CLOCK_MONOTONIC; NULL: none). While it waits it gives up slots that dead
 * consumers hold. @return 0, -ETIMEDOUT, -EPIPE (every consumer closed),
 * -NSHM_EPEERDEAD (the last consumers died), -NSHM_ECORRUPT, -EPERM,
 * -NSHM_EFORKED, -EINVAL.
 */
static inline int nshm_mpmc_push_wait(struct nshm_ring *r, const void *elem,
				      const struct timespec *deadline)
{
	while (!nshm_mpmc_push(r, elem)) {
		int rc = nshm_ring_wait_writable(r, deadline);

		if (rc < 0)
			return rc;
	}
	return 0;
}

/**
 * Consumer: pop, waiting for a message until @p deadline; skips slots that
 * dead producers claimed and never published. @return 0, -ETIMEDOUT,
 * -EPIPE (every producer closed, and the ring is drained), -NSHM_EPEERDEAD
 * (the last producers died, drained), -NSHM_ECORRUPT, -EPERM,
 * -NSHM_EFORKED, -EINVAL.
 */
static inline int nshm_mpmc_pop_wait(struct nshm_ring *r, void *elem,
				     const struct timespec *deadline)
{
	while (!nshm_mpmc_pop(r, elem)) {
		int rc = nshm_ring_wait_readable(r, deadline);

		if (rc < 0)
			return rc;
	}
	return 0;
}

/** Producer: wait for room, then push what fits. @return count or error. */
static inline int nshm_mpmc_push_n_wait(struct nshm_ring *r, const void *elems,
					uint32_t n,
					const struct timespec *deadline)
{
	uint32_t k;

	while ((k = nshm_mpmc_push_n(r, elems, n)) == 0 && n != 0) {
		int rc = nshm_ring_wait_writable(r, deadline);

		if (rc < 0)
			return rc;
	}
	return (int)k;
}

/** Consumer: wait for messages, then pop up to @p n. @return count/error. */
static inline int nshm_mpmc_pop_n_wait(struct nshm_ring *r, void *elems,
				       uint32_t n,
				       const struct timespec *deadline)
{
	uint32_t k;

	while ((k = nshm_mpmc_pop_n(r, elems, n)) == 0 && n != 0) {
		int rc = nshm_ring_wait_readable(r, deadline);

		if (rc < 0)
			return rc;
	}
	return (int)k;
}

#ifdef __cplusplus
}
#endif
#endif /* NSHM_BITS_RING_MPMC_H */
