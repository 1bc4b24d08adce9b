/* SPDX-License-Identifier: MIT */
#ifndef NSHM_BITS_RING_RECORDS_H
#define NSHM_BITS_RING_RECORDS_H

/*
 * Internal to nshm's public headers: do not include directly (include
 * <nshm/records.h>).
 *
 * The records data plane, inline. The ring is a byte ring of capacity C
 * (a power of two; config.capacity counts bytes, config.slot_stride and
 * config.elem_size are 1). Positions are free-running 64-bit byte counts:
 * tail (sh->prod.index) = bytes ever published, head (sh->cons.index) =
 * bytes ever released. A record starts at a multiple of the alignment A
 * (config.seq_key: 8 .. 64) with one header block of A bytes whose first 8
 * bytes are the header word, then the payload (A-aligned), padded to A:
 *
 *	[ hdr u64 | pad to A | payload (len) | pad to A ]   total = A + round_up(len, A)
 *
 *	hdr = len (bits 0-31) | type (32-47) | state (48-55) | owner (56-63)
 *	state  'R' 0x52 a record, 'P' 0x50 padding to the end of the lap,
 *	       'S' 0x53 bytes to skip (len = bytes - A: a claim given up),
 *	       | 0x20 (lower case) written but not yet published (a batch;
 *	       MPSC: claimed, being written)
 *	owner  0
 *
 * Records never straddle the end of the ring: a record that does not fit
 * before it is preceded by a padding record covering the rest of the lap
 * (its len = bytes to the lap end - A), as in Aeron's ring buffers.
 *
 * Publication (one line per hand-off for small records): before it
 * publishes anything ending at position E, the producer stores 0 in the
 * header word at E (room for those 8 bytes is part of every reservation),
 * then the header of the first record with release order. So the header
 * word the consumer polls (at the end of what it has read) is always 0
 * until the producer publishes there, whatever stale bytes a previous lap
 * left around it: the consumer never needs to zero what it consumed.
 *
 * Many producers (config.max_producers > 1, the handle's stride 2): the
 * consumer zeroes what it consumed before it releases it (as Aeron does),
 * so free space reads 0; a producer announces its claim in its role entry
 * (intent, intent_n), claims [tail, end) with one CAS on tail, writes its
 * header in pending form at once, then the payload, then the header
 * (release), then clears its intent (release). A claim no live producer's
 * intent covers is given up by the consumer (src/ring/records.c).
 *
 * config.seq_off holds record_max, the largest payload (at most about
 * half the capacity, so that one always fits once the ring drains).
 *
 * The handle's fields (struct nshm_ring), for this kind:
 *   producer: ppos = published end (tail), phead = head last seen,
 *             cpos = end of sealed, unpublished records (== ppos: none),
 *             cready = where the reserved record's header goes,
 *             claimed = reserved length + 1 (0: nothing reserved),
 *             reserved = length a blocking reserve waits for;
 *   consumer: cpos = head (released), cready = the next record to read,
 *             reserved = bytes the last record took (what to prefetch).
 *
 * Memory-order pairs (doc/ring.md, Records):
 *   RING-RR1/RA1  commit/publish stores the first header (release), after
 *                 the payloads, the later headers and the 0 at the end ->
 *                 the consumer's acquire load of that header word.
 *   RING-RR2/RA2  release stores head (release), after the reads ->
 *                 the producer's acquire load of head before reusing.
 *   RING-R4       tail is stored relaxed before the header (ordered by
 *                 RING-RR1), for recovery, counters and tools.
 *   RING-E1       notify after publishing (bits/ring_core.h).
 */
#if !defined(NSHM_INSIDE_RING_H)
#error "include <nshm/records.h> instead of <nshm/bits/ring_records.h>"
#endif

#include <nshm/bits/atomic.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <nshm/bits/compiler.h>
#include <nshm/bits/ring_layout.h>
#include <nshm/bits/ring_core.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NSHM_REC_ST_REC 0x52u	  /* 'R': a record */
#define NSHM_REC_ST_PAD 0x50u	  /* 'P': padding to the end of the lap */
#define NSHM_REC_ST_PENDING 0x20u /* or'ed in: written, not yet published */
#define NSHM_REC_ST_SKIP 0x53u	  /* 'S': bytes to skip (MPSC: a dead claim) */
#define NSHM_REC_PENDING_BIT ((uint64_t)NSHM_REC_ST_PENDING << 48)
#define NSHM_REC_TYPE_MAX 0xffffu /* record type ids: 0 .. 65535 */

/* A header word. */
#define NSHM_REC_HDR(len, type, state)                         \
	((uint64_t)(uint32_t)(len) | (uint64_t)(type) << 32 | \
	 (uint64_t)(state) << 48)

/** A record read in place: its payload (inside the ring), length, type. */
struct nshm_record {
	const void *data;
	uint32_t len;
	uint32_t type;
};

/* Out of line (src/ring/records.c); exported for these inlines only. */
NSHM_API void *nshm__rec_reserve_fail(struct nshm_ring *r, uint32_t len);
NSHM_API bool nshm__rec_refresh(struct nshm_ring *r, uint64_t end);
NSHM_API void nshm__rec_commit_slow(struct nshm_ring *r, uint32_t type,
				    uint32_t len, bool publish);
NSHM_API bool nshm__rec_corrupt(struct nshm_ring *r, uint64_t pos,
				uint64_t hdr);
NSHM_API void nshm__rec_mp_drop(struct nshm_ring *r);
NSHM_API void nshm__rec_mp_zero(struct nshm_ring *r);

/* Many producers (MPSC protocol, doc/ring.md): the handle's stride is 2. */
#define nshm__rec_mp(r) ((r)->stride != 1u)

/* A corrupt header: always false (so the compiler sees no record). */
static NSHM_ALWAYS_INLINE bool nshm__rec_bad(struct nshm_ring *r, uint64_t pos,
					     uint64_t hdr)
{
	(void)nshm__rec_corrupt(r, pos, hdr);
	return false;
}

static NSHM_ALWAYS_INLINE uint32_t nshm__rec_align(const struct nshm_ring *r)
{
	return (uint32_t)r->seq_key;
}

/* Bytes a record of @p len takes: header block + payload, padded. */
static NSHM_ALWAYS_INLINE uint32_t nshm__rec_total(const struct nshm_ring *r,
						   uint32_t len)
{
	uint32_t a = nshm__rec_align(r);

	return a + ((len + a - 1u) & ~(a - 1u));
}

/* The header word of the record at position @p pos (a multiple of 8). */
static NSHM_ALWAYS_INLINE NSHM_ATOMIC(uint64_t) *
nshm__rec_hdr(const struct nshm_ring *r, uint64_t pos)
{
	return (NSHM_ATOMIC(uint64_t) *)(void *)(r->slots +
						 (size_t)(pos & r->mask));
}

/* The padding header for position @p pos (to the end of its lap). */
static NSHM_ALWAYS_INLINE uint64_t nshm__rec_pad(const struct nshm_ring *r,
						 uint64_t pos)
{
	uint32_t off = (uint32_t)(pos & r->mask);

	return NSHM_REC_HDR(r->mask + 1u - off - nshm__rec_align(r), 0,
			    NSHM_REC_ST_PAD);
}

/* Producer: is there room up to @p end (and the 8 bytes after it)? */
static NSHM_ALWAYS_INLINE bool nshm__rec_room(struct nshm_ring *r,
					      uint64_t end)
{
	if (nshm_likely(end + 8u - r->phead <= r->pcap))
		return true;
	return nshm__rec_refresh(r, end);
}

/** Largest payload a record of this ring may have (bytes). */
static inline uint32_t nshm_records_max(const struct nshm_ring *r)
{
	return r->seq_off;
}

/**
 * Producer: reserve a record of @p len bytes (0 .. nshm_records_max()),
 * after any sealed ones. @return a pointer to its payload inside the ring
 * (aligned to the ring's record alignment, 8 by default), to be written in
 * place and then committed (nshm_records_commit*) or sealed; NULL when the
 * ring has no room now, or on error (nshm_ring_error(): -EMSGSIZE for a
 * @p len above the maximum, -EPERM on a consumer handle, -NSHM_EFORKED,
 * -NSHM_ECORRUPT). A second reserve before commit/seal replaces the
 * first (nothing of it is published).
 */
static NSHM_ALWAYS_INLINE void *nshm_records_reserve(struct nshm_ring *r,
						     uint32_t len)
{
	uint64_t pos = r->cpos, rec = pos, end;
	uint32_t off, total;

	if (nshm_unlikely(r->pcap == 0 || len > r->seq_off || nshm__rec_mp(r)))
		return nshm__rec_reserve_fail(r, len);
	off = (uint32_t)(pos & r->mask);
	total = nshm__rec_total(r, len);
	if (nshm_unlikely(off + total > r->pcap))
		rec = pos + (r->pcap - off); /* pad to the lap end first */
	end = rec + total;
	if (nshm_unlikely(!nshm__rec_room(r, end)))
		return NULL;
	r->cready = rec;
	r->claimed = len + 1u;
	return r->slots + (size_t)(rec & r->mask) + nshm__rec_align(r);
}

/**
 * Producer: give the reserved record type @p type (0 .. 65535) and length
 * @p len (at most what was reserved: a record may shrink) and publish it,
 * with every record sealed before it, in one release store. Misuse
 * (nothing reserved, @p len larger than reserved, @p type > 65535, a
 * consumer handle) publishes nothing and sets nshm_ring_error() (-EINVAL,
 * -EPERM).
 */
static NSHM_ALWAYS_INLINE void nshm_records_commit_len(struct nshm_ring *r,
						       uint32_t type,
						       uint32_t len)
{
	uint64_t pos = r->ppos, rec = r->cready, end;

	if (nshm_unlikely(len >= r->claimed || type > NSHM_REC_TYPE_MAX ||
			  r->cpos != pos || nshm__rec_mp(r))) {
		nshm__rec_commit_slow(r, type, len, true);
		return;
	}
	end = rec + nshm__rec_total(r, len);
	/* Relaxed: ordered before the consumer's view by RING-RR1 below. */
	atomic_store_explicit(nshm__rec_hdr(r, end), 0, memory_order_relaxed);
	/* RING-R4: relaxed, ordered by RING-RR1. */
	atomic_store_explicit(r->tail_p, end, memory_order_relaxed);
	if (nshm_unlikely(rec != pos)) {
		/* Relaxed: the padding's release store below orders it. */
		atomic_store_explicit(nshm__rec_hdr(r, rec),
				      NSHM_REC_HDR(len, type, NSHM_REC_ST_REC),
				      memory_order_relaxed);
		/* RING-RR1: pairs with RING-RA1 in nshm_records_next(). */
		atomic_store_explicit(nshm__rec_hdr(r, pos),
				      nshm__rec_pad(r, pos),
				      memory_order_release);
	} else {
		/* RING-RR1: pairs with RING-RA1 in nshm_records_next(). */
		atomic_store_explicit(nshm__rec_hdr(r, pos),
				      NSHM_REC_HDR(len, type, NSHM_REC_ST_REC),
				      memory_order_release);
	}
	r->ppos = end;
	r->cpos = end;
	r->claimed = 0;
	nshm__ring_notify(r, r->data_ev);
}

/** Producer: nshm_records_commit_len() with the reserved length. */
static NSHM_ALWAYS_INLINE void nshm_records_commit(struct nshm_ring *r,
						   uint32_t type)
{
	nshm_records_commit_len(r, type, r->claimed - 1u);
}

/**
 * Producer, batches: give the reserved record @p type and @p len but do
 * not publish it yet; the next reserve goes after it. nshm_records_publish()
 * (or a commit) publishes every sealed record with one release store.
 * Errors as for nshm_records_commit_len().
 */
static inline void nshm_records_seal_len(struct nshm_ring *r, uint32_t type,
					 uint32_t len)
{
	nshm__rec_commit_slow(r, type, len, false);
}

/** Producer: nshm_records_seal_len() with the reserved length. */
static inline void nshm_records_seal(struct nshm_ring *r, uint32_t type)
{
	nshm__rec_commit_slow(r, type, r->claimed - 1u, false);
}

/**
 * Producer: publish every sealed record (one release store of the first
 * one's header; the consumer sees the whole batch at once). Nothing
 * sealed: no-op.
 */
static inline void nshm_records_publish(struct nshm_ring *r)
{
	uint64_t pos = r->ppos, end = r->cpos, w;
	NSHM_ATOMIC(uint64_t) *h;

	if (nshm_unlikely(r->pcap == 0)) {
		nshm__ring_misuse(r, 1 /* NSHM_RING_PRODUCER */);
		return;
	}
	if (end == pos)
		return;
	h = nshm__rec_hdr(r, pos);
	/* Relaxed: ordered by RING-RR1 below. */
	atomic_store_explicit(nshm__rec_hdr(r, end), 0, memory_order_relaxed);
	/* RING-R4: as in commit. */
	atomic_store_explicit(r->tail_p, end, memory_order_relaxed);
	/* Relaxed: our own word, written by the seal of the first record. */
	w = atomic_load_explicit(h, memory_order_relaxed);
	/* RING-RR1: pairs with RING-RA1 in nshm_records_next(). */
	atomic_store_explicit(h, w & ~NSHM_REC_PENDING_BIT,
			      memory_order_release);
	r->ppos = end;
	nshm__ring_notify(r, r->data_ev);
}

/**
 * Producer: drop the reserved record and every sealed, unpublished one
 * (nothing of them was published).
 */
static inline void nshm_records_abort(struct nshm_ring *r)
{
	if (nshm_unlikely(r->pcap == 0)) {
		nshm__ring_misuse(r, 1 /* NSHM_RING_PRODUCER */);
		return;
	}
	if (nshm_unlikely(nshm__rec_mp(r))) {
		nshm__rec_mp_drop(r);
		return;
	}
	r->claimed = 0;
	if (r->cpos != r->ppos) {
		/* Relaxed: "not yet" again (the consumer polls it). */
		atomic_store_explicit(nshm__rec_hdr(r, r->ppos), 0,
				      memory_order_relaxed);
		r->cpos = r->ppos;
	}
}

/**
 * Producer: copy a record of @p len bytes and type @p type in and publish
 * it. @return 0, -EAGAIN (no room now), -EMSGSIZE (@p len above
 * nshm_records_max()), -EINVAL (@p type > 65535), -EPERM, -NSHM_EFORKED,
 * -NSHM_ECORRUPT.
 */
static inline int nshm_records_push(struct nshm_ring *r, uint32_t type,
				    const void *data, uint32_t len)
{
	void *p;

	if (nshm_unlikely(type > NSHM_REC_TYPE_MAX))
		return -EINVAL;
	if (nshm_unlikely(len > r->seq_off && r->pcap != 0))
		return -EMSGSIZE;
	p = nshm_records_reserve(r, len);
	if (nshm_unlikely(p == NULL))
		return r->err != 0 && r->err != -EMSGSIZE ? r->err : -EAGAIN;
	if (len != 0)
		memcpy(p, data, len);
	nshm_records_commit_len(r, type, len);
	return 0;
}

/**
 * Producer: copy in as many of the @p n records @p recs (data, len, type)
 * as fit now, in order, and publish them with one release store.
 * @return how many (0 .. n; 0 also on error, see nshm_ring_error()).
 */
static inline uint32_t nshm_records_push_n(struct nshm_ring *r,
					   const struct nshm_record *recs,
					   uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++) {
		void *p;

		if (recs[i].type > NSHM_REC_TYPE_MAX)
			break;
		p = nshm_records_reserve(r, recs[i].len);
		if (p == NULL)
			break;
		if (recs[i].len != 0)
			memcpy(p, recs[i].data, recs[i].len);
		nshm_records_seal_len(r, recs[i].type, recs[i].len);
	}
	nshm_records_publish(r);
	return i;
}

/**
 * Consumer: the next record, in place: @p rec gets a pointer to its
 * payload inside the ring, its length and type; it stays valid until
 * nshm_records_release(). Calling it again before releasing gives the
 * records after it (a batch read). Padding is skipped. @return true, or
 * false when there is none now or on error (nshm_ring_error():
 * -NSHM_ECORRUPT for a header that no producer writes — bad state, length
 * above the maximum, a record past the end of the ring or more than the
 * ring ahead, padding that does not end the lap; nothing outside the ring
 * is read — or -EPERM, -NSHM_EFORKED).
 */
static NSHM_ALWAYS_INLINE bool nshm_records_next(struct nshm_ring *r,
						 struct nshm_record *rec)
{
	uint64_t pos = r->cready, w;
	uint32_t a = nshm__rec_align(r);

	if (nshm_unlikely(r->ccap == 0)) {
		nshm__ring_misuse(r, 2 /* NSHM_RING_CONSUMER */);
		return false;
	}
	for (;;) {
		uint32_t off = (uint32_t)(pos & r->mask), len, total;

		/* RING-RA1: pairs with RING-RR1 (commit, publish). */
		w = atomic_load_explicit(nshm__rec_hdr(r, pos),
					 memory_order_acquire);
		if (nshm_likely((w >> 48) == NSHM_REC_ST_REC)) {
			len = (uint32_t)w;
			if (nshm_unlikely(len > r->seq_off))
				return nshm__rec_bad(r, pos, w);
			total = nshm__rec_total(r, len);
			if (nshm_unlikely(off + total > r->ccap ||
					  pos + total - r->cpos > r->ccap))
				break;
			rec->data = r->slots + off + a;
			rec->len = len;
			rec->type = (uint32_t)(w >> 32) & NSHM_REC_TYPE_MAX;
			r->cready = pos + total;
			r->reserved = total; /* the next wait's prefetch */
			return true;
		}
		if ((w >> 48) == NSHM_REC_ST_PAD && off != 0 &&
		    w == nshm__rec_pad(r, pos) &&
		    pos + (r->ccap - off) - r->cpos <= r->ccap) {
			pos += r->ccap - off;
			r->cready = pos;
			continue;
		}
		if ((w >> 48) == NSHM_REC_ST_SKIP &&
		    ((w >> 32) & NSHM_REC_TYPE_MAX) == 0 &&
		    (uint32_t)w <= r->ccap - a - off &&
		    ((uint32_t)w & (a - 1)) == 0 &&
		    pos + a + (uint32_t)w - r->cpos <= r->ccap) {
			pos += a + (uint32_t)w; /* a claim given up */
			r->cready = pos;
			continue;
		}
		if (w == 0 || (w >> 48) == (NSHM_REC_ST_REC | NSHM_REC_ST_PENDING) ||
		    (w >> 48) == (NSHM_REC_ST_PAD | NSHM_REC_ST_PENDING)) {
			/*
			 * Not published yet. While we wait, ask for the lines
			 * the next record's payload will be in (the producer
			 * writes them before its header), as the SPSC ring
			 * does (NSHM_RING_PREFETCH): they then come with the
			 * header instead of one transfer after it. As many
			 * as the last record took (r->reserved): small
			 * records would only pull lines the producer is
			 * about to write.
			 */
			for (uint32_t o = 64; o < r->reserved &&
					      o < NSHM_RING_PREFETCH &&
					      off + o < r->ccap;
			     o += 64)
				__builtin_prefetch(r->slots + off + o,
						   0 /* read */, 3);
			return false;
		}
		break;
	}
	/*
	 * A whole ring read and not released (many producers fill it to the
	 * last byte): what we see is our own oldest record. Else corrupt.
	 */
	if (pos - r->cpos >= r->ccap)
		return false;
	return nshm__rec_bad(r, pos, w);
}

/**
 * Consumer: hand back every record read so far (one release store of
 * head); their bytes may be reused at once.
 */
static NSHM_ALWAYS_INLINE void nshm_records_release(struct nshm_ring *r)
{
	if (nshm_unlikely(r->ccap == 0)) {
		nshm__ring_misuse(r, 2 /* NSHM_RING_CONSUMER */);
		return;
	}
	if (r->cready == r->cpos)
		return;
	if (nshm_unlikely(nshm__rec_mp(r)))
		nshm__rec_mp_zero(r); /* free space reads 0 for the claims */
	r->cpos = r->cready;
	/* RING-RR2: pairs with RING-RA2 in nshm__rec_refresh(). */
	atomic_store_explicit(r->head_p, r->cpos, memory_order_release);
	nshm__ring_notify(r, r->space_ev);
}

/**
 * Consumer: copy the next record out into @p buf (@p cap bytes) and
 * release it (with any read before it). @p len and @p type (either may be
 * NULL) get its length and type. @return 0, -EAGAIN (none now),
 * -EMSGSIZE (it is longer than @p cap: nothing is copied, the record stays
 * the next one, and *@p len says how many bytes it needs), -NSHM_ECORRUPT,
 * -EPERM, -NSHM_EFORKED.
 */
static inline int nshm_records_pop(struct nshm_ring *r, void *buf, size_t cap,
				   uint32_t *len, uint32_t *type)
{
	struct nshm_record rec = { NULL, 0, 0 };

	if (!nshm_records_next(r, &rec))
		return r->err != 0 ? r->err : -EAGAIN;
	if (len != NULL)
		*len = rec.len;
	if (type != NULL)
		*type = rec.type;
	if (nshm_unlikely(rec.len > cap)) {
		r->cready -= nshm__rec_total(r, rec.len); /* still next */
		return -EMSGSIZE;
	}
	if (rec.len != 0)
		memcpy(buf, rec.data, rec.len);
	nshm_records_release(r);
	return 0;
}

#ifdef __cplusplus
}
#endif
#endif /* NSHM_BITS_RING_RECORDS_H */
