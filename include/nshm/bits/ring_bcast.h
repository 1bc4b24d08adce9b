/* SPDX-License-Identifier: MIT */
#ifndef NSHM_BITS_RING_BCAST_H
#define NSHM_BITS_RING_BCAST_H

/*
 * Internal to nshm's public headers: do not include directly (include
 * <nshm/bcast.h>).
 *
 * The broadcast data plane, inline: one writer, any number of readers,
 * each reading every message at its own index (no reader consumes
 * anything for another). Slots are the trailing-seq slots of
 * bits/ring_layout.h; the seq word of the slot of index pos holds
 *
 *	NSHM_RING_SEQ(pos)         published: the payload of index pos
 *	pos & ~NSHM_RING_SEQ_PUB   being written (the writer's seqlock "odd"
 *	                           state), or 0 in a slot never written
 *
 * The writer marks a slot busy, writes it, publishes it, then stores
 * `tail` = pos + 1 (sh->prod.index). A reader at index c loads the seq;
 * if it says "c published" it copies the payload, then re-loads the seq:
 * the same value means the copy is whole (a seqlock read). Anything else
 * goes to the out-of-line step (src/ring/bcast.c), which compares c with
 * `tail`: nothing new, or overrun (lapped: the slot was reused; the exact
 * number missed is reported and the reader jumps to the oldest slot the
 * writer is not writing), or corrupt. Only the local index, mask, stride
 * and element size address memory: nothing read from the ring is used as
 * an offset or a length.
 *
 * Two policies (struct nshm_ring_params.policy, fixed at create):
 *  - LOSSY: the writer never waits and never loads anything a reader
 *    stores (its data_ev points to its own sink word, its room check
 *    never reads a cursor). Readers are SUBSCRIBERs on read-only mappings.
 *  - BACKPRESSURE: readers (CONSUMERs) hold role-table entries whose
 *    `cursor` (the next index they read) they store after each read; the
 *    writer may write index n only while n - min(cursor) < capacity. It
 *    caches that minimum (phead) and rescans only when the cache says
 *    full (nshm__bcast_room). SUBSCRIBERs may read such a ring too; they
 *    hold nothing back and can be lapped.
 *
 * Handle fields, for this kind: ppos/phead the writer's next index and
 * cached minimum cursor; cpos the reader's next index; cready the value
 * the reader's entry's `held` word must have (its registration token; 0
 * for a subscriber, whose `me` is a never-written entry of zeros), so an
 * evicted reader is told on its next read; head_p the reader's cursor
 * word (a subscriber's: the handle's sink); claimed 1 between reserve and
 * commit.
 *
 * Memory-order pairs (doc/ring.md, "Fan-out"):
 *   RING-B1/B2  writer: seq = busy (relaxed), release fence, payload ->
 *               reader: payload copy, acquire fence, seq re-load: a copy
 *               that saw any byte of the new payload sees the seq changed.
 *   RING-B3/B4  writer: seq = published (release) after the payload ->
 *               reader: seq load (acquire) before the copy.
 *   RING-B5/B6  writer: tail = pos + 1 (release) after the publish ->
 *               reader's step: tail load (acquire): every index below
 *               tail was published.
 *   RING-B7/B8  reader: cursor = c + 1 (release) after its copy ->
 *               writer's rescan: cursor load (acquire) before reusing a
 *               slot below it.
 *   RING-B9     a joining reader's seq_cst fence between making its entry
 *               active and loading tail <-> the writer's seq_cst fence
 *               between its tail store and its rescan: either the writer
 *               sees the reader, or the reader sees a tail the writer's
 *               cached minimum is not above.
 *   RING-E1     notify after publishing / after a cursor store.
 */
#if !defined(NSHM_INSIDE_RING_H)
#error "include <nshm/bcast.h> instead of <nshm/bits/ring_bcast.h>"
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

/* config.seq_key of a BROADCAST ring: its policy word (no element seq). */
#define NSHM_BCAST_CFG_BP (1ull << 32)		 /* back-pressured */
#define NSHM_BCAST_CFG_EVICT_MS 0xffffffffull /* evict_ms */

/* role entry `held`: bit 31 set once the writer evicted the reader. */
#define NSHM_BCAST_EVICTED 0x80000000u

/* The value of a slot's seq word while the writer writes index @p pos. */
#define NSHM_BCAST_BUSY(pos) ((uint64_t)(pos) & ~NSHM_RING_SEQ_PUB)

/* Out of line (src/ring/bcast.c), exported for these inlines only. */
NSHM_API uint32_t nshm__bcast_room(struct nshm_ring *r);
NSHM_API int nshm__bcast_read_step(struct nshm_ring *r, void *out,
				   const void **msg, uint64_t *missed);
NSHM_API int nshm__bcast_end_step(struct nshm_ring *r, uint64_t *missed);
NSHM_API void nshm__bcast_misuse(struct nshm_ring *r, int want_role);
NSHM_API int nshm__bcast_wait_readable(struct nshm_ring *r,
				       const struct timespec *deadline);

/* ---- writer ----------------------------------------------------------- */

/**
 * Writer: the slot for the next message, to fill in place (then
 * nshm_bcast_commit()). Lossy: always a slot. Back-pressured: NULL when
 * the slowest live reader is a whole capacity behind (or on error:
 * nshm_ring_error(), -EPERM on a reader handle, -NSHM_EFORKED).
 * Between reserve and commit readers of this slot's old message see it
 * overwritten (lossy) — do not hold it long.
 */
static inline void *nshm_bcast_reserve(struct nshm_ring *r)
{
	uint64_t n = r->ppos;

	/* A reader handle has pcap 0: always here, and room() says no. */
	if (nshm_unlikely(n - r->phead >= r->pcap) && !nshm__bcast_room(r))
		return NULL;
	/*
	 * RING-B1: pairs with RING-B2 in the readers: busy first (relaxed;
	 * usually stored already by the last commit, r->reserved), then a
	 * release fence orders it before every payload store, so a reader
	 * whose copy saw new bytes sees the seq changed.
	 */
	if (r->reserved == 0)
		atomic_store_explicit(nshm__ring_seq(r, n), NSHM_BCAST_BUSY(n),
				      memory_order_relaxed);
	r->reserved = 0;
	atomic_thread_fence(memory_order_release);
	r->claimed = 1;
	return nshm__ring_slot(r, n);
}

/** Writer: publish the slot nshm_bcast_reserve() gave. */
static inline void nshm_bcast_commit(struct nshm_ring *r)
{
	uint64_t n = r->ppos;

	if (nshm_unlikely(r->claimed == 0)) {
		nshm__bcast_misuse(r, 1 /* NSHM_RING_PRODUCER */);
		return;
	}
	r->claimed = 0;
	/* RING-B3: pairs with RING-B4, the readers' acquire load. */
	atomic_store_explicit(nshm__ring_seq(r, n), NSHM_RING_SEQ(n),
			      memory_order_release);
	/* RING-B5: pairs with RING-B6 in the readers' step. */
	atomic_store_explicit(r->tail_p, n + 1, memory_order_release);
	r->ppos = n + 1;
	/*
	 * Mark the next slot busy now, while no reader polls it, rather than
	 * in the next reserve, when readers that caught up poll that very
	 * line: one line transfer fewer per message on their critical path.
	 * Only where there is room for it (back-pressured: no live reader
	 * still needs its old message). Relaxed: RING-B1's fence orders it.
	 */
	if (nshm_likely(n + 1 - r->phead < r->pcap)) {
		atomic_store_explicit(nshm__ring_seq(r, n + 1),
				      NSHM_BCAST_BUSY(n + 1),
				      memory_order_relaxed);
		r->reserved = 1;
	}
	nshm__ring_notify(r, r->data_ev);
}

/**
 * Writer: copy @p msg (elem_size bytes) into the ring and publish it.
 * @return true; false only when back-pressured and full, or on error
 *         (nshm_ring_error()).
 */
static inline bool nshm_bcast_publish(struct nshm_ring *r, const void *msg)
{
	void *slot = nshm_bcast_reserve(r);

	if (nshm_unlikely(slot == NULL))
		return false;
	memcpy(slot, msg, r->esize);
	nshm_bcast_commit(r);
	return true;
}

/**
 * Writer, blocking: publish @p msg, waiting (spin, yield, park) while the
 * slowest live reader holds the ring full; dead readers, and by the
 * ring's evict_ms policy slow ones, are evicted meanwhile.
 * @return 0, -ETIMEDOUT, -NSHM_ECORRUPT, -EPERM, -NSHM_EFORKED, -EINVAL.
 */
static inline int nshm_bcast_publish_wait(struct nshm_ring *r,
					  const void *msg,
					  const struct timespec *deadline)
{
	while (!nshm_bcast_publish(r, msg)) {
		int rc;

		if (r->err != 0)
			return r->err;
		rc = nshm_ring_wait_writable(r, deadline);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* ---- readers ---------------------------------------------------------- */

/**
 * Reader (SUBSCRIBER or CONSUMER): copy the next message into @p out
 * (elem_size bytes). Never blocks, never returns a torn message: the copy
 * is re-checked against the slot's sequence word (a seqlock read) and
 * retried or reported.
 * @param missed  NULL, or set to 0, or with -NSHM_ELAPPED to how many
 *                messages were lost (>= 1).
 * @return 1 (a message, in order), 0 (nothing new), -NSHM_ELAPPED (the
 *         writer overran this reader: *missed messages are gone; the
 *         reader goes on at an older message still in the ring, so the
 *         next read usually returns 1; nothing was copied), -NSHM_EEVICTED
 *         (a back-pressured reader the writer evicted; sticky until
 *         nshm_bcast_rejoin()), -NSHM_ECORRUPT (the tail or the slot's seq
 *         word is no legal value: nothing out of bounds was touched, the
 *         reader stays where it was), -EPERM (a writer or observer
 *         handle), -NSHM_EFORKED (inherited across fork()).
 */
static inline int nshm_bcast_read(struct nshm_ring *r, void *out,
				  uint64_t *missed)
{
	uint64_t c = r->cpos, s1, s2;
	NSHM_ATOMIC(uint64_t) *sw = nshm__ring_seq(r, c);

	/* Relaxed: our own entry's line; the writer stores it only to evict. */
	if (nshm_likely(r->ccap != 0 &&
			atomic_load_explicit(&r->me->held,
					     memory_order_relaxed) ==
				(uint32_t)r->cready)) {
		/* RING-B4: pairs with RING-B3, the writer's publish. */
		s1 = atomic_load_explicit(sw, memory_order_acquire);
		if (nshm_likely(s1 == NSHM_RING_SEQ(c))) {
			memcpy(out, nshm__ring_slot(r, c), r->esize);
			/* RING-B2: pairs with RING-B1 (seqlock re-check). */
			atomic_thread_fence(memory_order_acquire);
			s2 = atomic_load_explicit(sw, memory_order_relaxed);
			if (nshm_likely(s2 == s1)) {
				r->cpos = c + 1;
				/* RING-B7: pairs with RING-B8 (rescan). */
				atomic_store_explicit(r->head_p, c + 1,
						      memory_order_release);
				nshm__ring_notify(r, r->space_ev);
				if (missed != NULL)
					*missed = 0;
				return 1;
			}
		}
	}
	return nshm__bcast_read_step(r, out, NULL, missed);
}

/**
 * Reader, in place: point @p *msg at the next message inside the ring
 * (read-only). Whatever you read through *msg may be overwritten under
 * you (lossy; or after an eviction): finish with nshm_bcast_read_end(),
 * which says whether it was. Double-fetch rule: copy each field you
 * branch on or index with into a local once, validate the local, use
 * only the local, and act on nothing until read_end said 1; the copying
 * nshm_bcast_read() is the easy default.
 * @return 1 (*msg set; call read_end), else as nshm_bcast_read() (0,
 *         -NSHM_ELAPPED with *missed, -NSHM_EEVICTED, -NSHM_ECORRUPT,
 *         -EPERM, -NSHM_EFORKED), with no read_end to call.
 */
static inline int nshm_bcast_read_begin(struct nshm_ring *r, const void **msg,
					uint64_t *missed)
{
	uint64_t c = r->cpos;

	if (nshm_likely(r->ccap != 0 &&
			/* Relaxed: as in nshm_bcast_read(). */
			atomic_load_explicit(&r->me->held,
					     memory_order_relaxed) ==
				(uint32_t)r->cready &&
			/* RING-B4, as in nshm_bcast_read(). */
			atomic_load_explicit(nshm__ring_seq(r, c),
					     memory_order_acquire) ==
				NSHM_RING_SEQ(c))) {
		*msg = nshm__ring_slot(r, c);
		r->claimed = 1;
		if (missed != NULL)
			*missed = 0;
		return 1;
	}
	return nshm__bcast_read_step(r, NULL, msg, missed);
}

/**
 * Reader, in place: end the read nshm_bcast_read_begin() started.
 * @return 1 (what was read through *msg was whole; the message is
 *         consumed), -NSHM_ELAPPED (it was overwritten while you read:
 *         discard everything computed from it; *missed counts it and any
 *         other message lost), -NSHM_EEVICTED, -EINVAL (no read_begin
 *         that returned 1 before), -EPERM, -NSHM_EFORKED.
 */
static inline int nshm_bcast_read_end(struct nshm_ring *r, uint64_t *missed)
{
	uint64_t c = r->cpos;

	if (nshm_likely(r->claimed != 0)) {
		/* RING-B2: pairs with RING-B1 (seqlock re-check). */
		atomic_thread_fence(memory_order_acquire);
		if (nshm_likely(atomic_load_explicit(nshm__ring_seq(r, c),
						     memory_order_relaxed) ==
				NSHM_RING_SEQ(c))) {
			r->claimed = 0;
			r->cpos = c + 1;
			/* RING-B7, as in nshm_bcast_read(). */
			atomic_store_explicit(r->head_p, c + 1,
					      memory_order_release);
			nshm__ring_notify(r, r->space_ev);
			if (missed != NULL)
				*missed = 0;
			return 1;
		}
	}
	return nshm__bcast_end_step(r, missed);
}

/**
 * Reader, blocking: nshm_bcast_read(), waiting up to @p deadline (NULL:
 * forever) while there is nothing new. A CONSUMER parks on the writer's
 * event word; a SUBSCRIBER (read-only: it cannot announce itself) polls,
 * sleeping at most 50 us between looks once spinning did not do it.
 * @return as nshm_bcast_read() but never 0: 1, -NSHM_ELAPPED,
 *         -NSHM_EEVICTED, -ETIMEDOUT, -EPIPE (the writer closed and
 *         nothing is left), -NSHM_EPEERDEAD (it died, nothing left; a
 *         restarted writer goes on where it stopped: read on), and the
 *         errors of nshm_bcast_read().
 */
static inline int nshm_bcast_read_wait(struct nshm_ring *r, void *out,
				       uint64_t *missed,
				       const struct timespec *deadline)
{
	for (;;) {
		int rc = nshm_bcast_read(r, out, missed);

		if (rc != 0)
			return rc;
		rc = nshm__bcast_wait_readable(r, deadline);
		if (rc < 0)
			return rc;
	}
}

#ifdef __cplusplus
}
#endif
#endif /* NSHM_BITS_RING_BCAST_H */
