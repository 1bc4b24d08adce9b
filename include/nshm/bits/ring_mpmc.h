/* SPDX-License-Identifier: MIT */
#ifndef NSHM_BITS_RING_MPMC_H
#define NSHM_BITS_RING_MPMC_H

/*
 * Internal to nshm's public headers: do not include directly (include
 * <nshm/mpmc.h>).
 *
 * The MPMC data plane, inline. Each slot ends with a 64-bit sequence word
 * (the trailing-seq slot of bits/ring_layout.h) that only producers write;
 * for the slot of index pos it holds
 *
 *	pos + 1                published: a consumer may take it
 *	(pos + 1) ^ TOMB       given up: its producer died before publishing
 *	pos + 1 - capacity     not yet: the previous lap's value (or its
 *	(or its tomb)          tomb); each slot starts at index + 1 - capacity
 *
 * Producers claim at enq (sh->prod.index), consumers at deq
 * (sh->cons.index), each with one CAS. Consumers never write a slot: a
 * producer may fill index pos once every index below pos + 1 - capacity
 * was taken by a consumer that is done reading it, which it learns from
 * its cached "horizon" (r->phead) and refreshes out of line
 * (nshm__mpmc_room()) about once a lap: the highest index a consumer
 * published in its own role entry (cursor, stored every
 * NSHM__MPMC_SEEN_BATCH takes, when it finds the ring empty, and whenever
 * a producer waits), lowered to the first index a consumer still reads in
 * place (its intent). So a slot line only ever travels producer -> consumer,
 * as in SPSC, and the producer polls no line a consumer writes per message.
 *
 * Copying pops copy first and claim after (optimistic): the copy is good
 * if the CAS of deq from pos succeeds, because no producer refills index
 * pos before a consumer took it. A dead copying consumer therefore holds
 * nothing. In-place peeks record what they are about to claim in their
 * own entry (intent, intent_n) before the CAS and clear it when released;
 * so do producers, for every claim. A waiter stuck behind a claimed slot
 * (src/ring/mpmc.c) gives it up only when no live holder's intent covers
 * it.
 *
 * Memory-order pairs (doc/ring.md):
 *   RING-M1/M2  producer stores the slot's seq = pos + 1 (release) after the
 *               payload -> consumer loads the seq (acquire) before reading.
 *   RING-M3/M4  consumer's CAS of deq (acq_rel) after its copy, and its
 *               release of a peek (intent cleared, release) after its reads
 *               -> the producer's acquire loads of deq / cursor / intents
 *               before it refills those slots.
 *   RING-M5/M6  claimant's intent stores, then its CAS on enq/deq (release)
 *               -> a recoverer's acquire load of enq/deq, then of the
 *               intents: it sees the intent of whoever claimed below enq.
 *   RING-M7/M8  claimant clears its intent (release) after publishing ->
 *               a recoverer loads it (acquire): seeing it clear, it sees
 *               the publication, and its give-up CAS on the seq fails.
 *   RING-M9/M10 consumer stores its cursor (release) after acquiring deq
 *               (so after the claims below it, and their intents) -> the
 *               producer loads cursors (acquire), then intents.
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

/*
 * A consumer publishes its cursor at least every this many takes (fewer on
 * small rings: capacity / 4): the producer's view lags by less than that
 * while the consumer is busy, and not at all once it finds the ring empty
 * or a producer waits.
 */
#define NSHM__MPMC_SEEN_BATCH 16u

/* Out of line (src/ring/mpmc.c): a seq or index no legal value explains. */
NSHM_API uint32_t nshm__mpmc_corrupt(struct nshm_ring *r, uint64_t pos,
				     uint64_t seq);
/*
 * Out of line (src/ring/mpmc.c), the producer's slow path: refresh the
 * horizon r->phead for index @p pos. @return the free slots at pos (0:
 * full, or an error in nshm_ring_error(); UINT32_MAX: pos is behind what
 * was taken and enq has moved on: reload it).
 */
NSHM_API uint32_t nshm__mpmc_room(struct nshm_ring *r, uint64_t pos);

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
 * Done with what we claimed. RING-M7 (and RING-M3 for a consumer): pairs
 * with RING-M8 in roles.c and the producers' horizon: our seq stores
 * (publish) or reads (release) come before this clear.
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
 * r->ppos), 0 when full or on error (nshm_ring_error()). Reads no line a
 * consumer writes unless the cached horizon is used up.
 */
static NSHM_ALWAYS_INLINE uint32_t nshm__mpmc_claim_prod(struct nshm_ring *r,
							 uint32_t n,
							 uint32_t need)
{
	uint64_t pos;
	uint32_t k;

	if (nshm_unlikely(r->pcap == 0))
		return nshm__ring_misuse(r, 1 /* NSHM_RING_PRODUCER */);
	if (n > r->pcap)
		n = r->pcap;
	if (need > n)
		need = n;
	/* Relaxed: a hint; the CAS decides. */
	pos = atomic_load_explicit(r->tail_p, memory_order_relaxed);
	for (;;) {
		/* Free at pos: pcap - (pos - phead); pos may be past it. */
		uint64_t used = pos - r->phead;

		if (nshm_unlikely(used > (uint64_t)(r->pcap - need))) {
			uint32_t room = nshm__mpmc_room(r, pos);

			if (room == UINT32_MAX) {
				/* Relaxed: as above (our enq was stale). */
				pos = atomic_load_explicit(r->tail_p,
							   memory_order_relaxed);
				continue;
			}
			if (room < need) {
				nshm__mpmc_forget(r);
				return 0;
			}
			used = pos - r->phead;
		}
		k = r->pcap - (uint32_t)used;
		if (k > n)
			k = n;
		nshm__mpmc_intend(r, pos, k);
		/*
		 * RING-M5: release orders our intent before the claim for a
		 * recoverer; on failure @pos is the new enq.
		 */
		if (nshm_likely(atomic_compare_exchange_weak_explicit(
			    r->tail_p, &pos, pos + k, memory_order_release,
			    memory_order_relaxed))) {
			r->ppos = pos;
			r->claimed = k;
			return k;
		}
		nshm__mpmc_retry(r);
	}
}

/* Is the seq @p seq of index @p pos "published" (or given up)? */
static NSHM_ALWAYS_INLINE bool nshm__mpmc_full(uint64_t pos, uint64_t seq)
{
	return seq == pos + 1 || seq == ((pos + 1) ^ NSHM_RING_TOMB);
}

/* ... or "not yet" (the previous lap's value, or its tomb)? */
static NSHM_ALWAYS_INLINE bool nshm__mpmc_not_yet(const struct nshm_ring *r,
						  uint64_t pos, uint64_t seq)
{
	uint64_t prev = pos + 1 - r->ccap;

	return seq == prev || seq == (prev ^ NSHM_RING_TOMB);
}

/*
 * Consumer: after taking up to @p end, publish our cursor when the batch is
 * due or a producer waits (then wake it), as the producers' horizon needs.
 */
static NSHM_ALWAYS_INLINE void nshm__mpmc_seen(struct nshm_ring *r,
					       uint64_t end)
{
	bool waiters;

	/* RING-E1: our deq CAS or intent clear before the event load. */
	nshm__ring_notify_fence(r);
	/* Relaxed: ordered by RING-E1; the slow path re-reads with a CAS. */
	waiters = (atomic_load_explicit(r->space_ev, memory_order_relaxed) &
		   NSHM_EVENT_WAITERS) != 0;
	if (nshm_likely(end - r->cready > (UINT64_C(1) << 63)) && !waiters)
		return; /* end < cready: not due */
	/* RING-M9: pairs with RING-M10 in the producers' horizon. */
	atomic_store_explicit(&r->me->cursor, end, memory_order_release);
	r->phead = end; /* a consumer's phead: the cursor it published */
	r->cready = end + (r->ccap >= 4 * NSHM__MPMC_SEEN_BATCH
				   ? NSHM__MPMC_SEEN_BATCH
				   : (r->ccap + 3) / 4);
	if (waiters)
		nshm__ring_wake(r, r->space_ev);
}

/*
 * Consumer, the ring found empty at @p pos: publish pos (every index below
 * it is taken) unless we did, and fetch the slot's payload lines meanwhile
 * so that when its seq arrives the payload is on its way too (as SPSC).
 */
static NSHM_ALWAYS_INLINE void nshm__mpmc_empty(struct nshm_ring *r,
						uint64_t pos)
{
	const unsigned char *slot = nshm__ring_slot(r, pos);

	if (r->phead != pos) {
		/* RING-M9; pos came from an acquire load of deq. */
		atomic_store_explicit(&r->me->cursor, pos,
				      memory_order_release);
		r->phead = pos;
	}
	for (uint32_t o = 0; o < r->esize && o < NSHM_RING_PREFETCH; o += 64)
		__builtin_prefetch(slot + o, 0 /* read */, 3);
}

/*
 * Consumer: the seq @p seq at index *@p pos is neither published nor given
 * up. @return true when the call ends there: the ring is empty at pos (our
 * cursor published, the payload prefetched) or no lap explains the value
 * (nshm_ring_error() set); false when deq had moved on (*pos reloaded).
 */
static NSHM_ALWAYS_INLINE bool nshm__mpmc_cons_miss(struct nshm_ring *r,
						    uint64_t *pos,
						    uint64_t seq)
{
	uint64_t now;

	if (nshm_likely(nshm__mpmc_not_yet(r, *pos, seq))) {
		nshm__mpmc_empty(r, *pos);
		return true;
	}
	/* RING-M6, as in the claims: others took past it, or corruption. */
	now = atomic_load_explicit(r->head_p, memory_order_acquire);
	if (now != *pos) {
		*pos = now; /* our deq was stale */
		return false;
	}
	nshm__mpmc_corrupt(r, *pos, seq);
	return true;
}

/*
 * A copy out of a slot that a producer may be refilling when another
 * consumer won it: the CAS after it tells, and the bytes are then dropped.
 * Not a race TSan should report (a seqlock-style read).
 */
#if defined(__SANITIZE_THREAD__)
#define NSHM__MPMC_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define NSHM__MPMC_TSAN 1
#endif
#endif
#ifdef NSHM__MPMC_TSAN
__attribute__((no_sanitize("thread"))) static inline void
nshm__mpmc_copy_out(void *dst, const void *src, size_t n)
{
	volatile const unsigned char *s = (volatile const unsigned char *)src;
	unsigned char *d = (unsigned char *)dst;

	for (size_t i = 0; i < n; i++)
		d[i] = s[i];
}
#else
static NSHM_ALWAYS_INLINE void nshm__mpmc_copy_out(void *dst, const void *src,
						   size_t n)
{
	memcpy(dst, src, n);
}
#endif

/*
 * Consumer, copying: copy up to @p n messages at deq into @p dst (slots
 * given up for a dead producer are skipped), then take them with one CAS.
 * @p esize is r->esize (a constant in the typed forms: inline moves).
 * @return how many were copied (0: empty, or on error). If it returns 0
 * after a lost race, @p dst may hold bytes of a message another consumer
 * took.
 */
static NSHM_ALWAYS_INLINE uint32_t nshm__mpmc_take(struct nshm_ring *r,
						   unsigned char *dst,
						   uint32_t n, size_t esize)
{
	uint64_t pos, seq;

	if (nshm_unlikely(r->ccap == 0))
		return nshm__ring_misuse(r, 2 /* NSHM_RING_CONSUMER */);
	if (n > r->ccap)
		n = r->ccap;
	/* RING-M6/M9: acquire, so a cursor we publish covers the claims
	 * (and intents) below deq. */
	pos = atomic_load_explicit(r->head_p, memory_order_acquire);
	for (;;) {
		/* RING-M2: pairs with RING-M1, the producer's publish. */
		seq = atomic_load_explicit(nshm__ring_seq(r, pos),
					   memory_order_acquire);
		if (nshm_likely(nshm__mpmc_full(pos, seq))) {
			uint32_t k = 1, got = 0;

			if (nshm_likely(seq == pos + 1))
				nshm__mpmc_copy_out(dst, nshm__ring_slot(r, pos),
						    esize), got = 1;
			for (; k < n; k++) {
				/* RING-M2, as above. */
				uint64_t s = atomic_load_explicit(
					nshm__ring_seq(r, pos + k),
					memory_order_acquire);

				if (s == pos + k + 1)
					nshm__mpmc_copy_out(
						dst + (size_t)got * esize,
						nshm__ring_slot(r, pos + k),
						esize), got++;
				else if (s != ((pos + k + 1) ^ NSHM_RING_TOMB))
					break;
			}
			/*
			 * RING-M3 (release: our copy before the producers'
			 * refill) and RING-M6 (acquire: earlier claimants'
			 * intents, for the cursor we publish).
			 */
			if (nshm_likely(atomic_compare_exchange_weak_explicit(
				    r->head_p, &pos, pos + k,
				    memory_order_acq_rel,
				    memory_order_acquire))) {
				pos += k;
				nshm__mpmc_seen(r, pos);
				if (nshm_likely(got != 0))
					return got;
				continue; /* all given up: on to the next */
			}
			nshm__mpmc_retry(r);
			continue;
		}
		if (nshm__mpmc_cons_miss(r, &pos, seq))
			return 0;
	}
}

/*
 * Consumer, in place: claim up to @p n published slots at deq, stopping
 * before a given-up one (a given-up first slot is claimed alone). @return
 * how many (the first is r->cpos), 0 when empty or on error.
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
	/* RING-M6/M9: as in nshm__mpmc_take(). */
	pos = atomic_load_explicit(r->head_p, memory_order_acquire);
	for (;;) {
		/* RING-M2: pairs with RING-M1, the producer's publish. */
		seq = atomic_load_explicit(nshm__ring_seq(r, pos),
					   memory_order_acquire);
		if (nshm_likely(nshm__mpmc_full(pos, seq))) {
			for (k = 1; k < n && seq == pos + 1; k++)
				/* RING-M2, as above. */
				if (atomic_load_explicit(
					    nshm__ring_seq(r, pos + k),
					    memory_order_acquire) !=
				    pos + k + 1)
					break;
			nshm__mpmc_intend(r, pos, k);
			/* RING-M5 (release), RING-M6 (acquire): as above. */
			if (nshm_likely(atomic_compare_exchange_weak_explicit(
				    r->head_p, &pos, pos + k,
				    memory_order_acq_rel,
				    memory_order_acquire))) {
				r->cpos = pos;
				r->claimed = k;
				return k;
			}
			nshm__mpmc_retry(r);
			continue;
		}
		if (nshm__mpmc_cons_miss(r, &pos, seq)) {
			nshm__mpmc_forget(r);
			return 0;
		}
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
	uint32_t k = n == 0 || n > r->pcap ? 0
					   : nshm__mpmc_claim_prod(r, n, n);

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
	uint32_t k = n == 0 || n > r->pcap ? 0
					   : nshm__mpmc_claim_prod(r, n, n);

	if (k != 0) {
		nshm__mpmc_copy_in(r, elems, k);
		nshm_mpmc_commit(r);
	}
	return k;
}

/* ---- consumer --------------------------------------------------------- */

/**
 * Consumer: hand back every slot of the last peek: producers may refill
 * them (one release store on our own entry; no slot is written).
 */
static NSHM_ALWAYS_INLINE void nshm_mpmc_release(struct nshm_ring *r)
{
	uint64_t end;

	if (nshm_unlikely(r->ccap == 0)) {
		nshm__ring_misuse(r, 2 /* NSHM_RING_CONSUMER */);
		return;
	}
	if (r->claimed == 0)
		return;
	end = r->cpos + r->claimed;
	r->claimed = 0;
	nshm__mpmc_done(r); /* RING-M3: our reads before the clear */
	nshm__mpmc_seen(r, end);
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
		if (nshm_likely(!nshm__mpmc_is_tomb(r, r->cpos)))
			break;
		nshm_mpmc_release(r); /* a given-up slot, claimed alone */
		k = 0;
	}
	nshm__ring_span(r, r->cpos, k, sp);
	return k;
}

/**
 * Consumer: copy the oldest message out. @return false when empty (then
 * *elem is unspecified: the copy comes before the claim).
 */
static inline bool nshm_mpmc_pop(struct nshm_ring *r, void *elem)
{
	return nshm__mpmc_take(r, (unsigned char *)elem, 1, r->esize) != 0;
}

/** Consumer: copy out up to @p n messages. @return how many (0: empty). */
static inline uint32_t nshm_mpmc_pop_n(struct nshm_ring *r, void *elems,
				       uint32_t n)
{
	return n == 0 ? 0
		      : nshm__mpmc_take(r, (unsigned char *)elems, n, r->esize);
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
