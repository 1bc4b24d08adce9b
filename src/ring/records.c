/* SPDX-License-Identifier: MIT */
/*
 * The records kind (data plane: include/nshm/bits/ring_records.h): a byte
 * ring of variable-size, typed records on the ring core.
 *
 * Config encoding (the core's config line, CRC'd): capacity = bytes (a
 * power of two, >= NSHM_RECORDS_MIN_BYTES), elem_size = elem_align =
 * slot_stride = 1 (so the core's area_size = slots_off + capacity), seq_off
 * = record_max (largest payload), seq_key = record_align (8 .. 64), flags
 * 0. The element type is the protocol (records.h): name "<proto>#<set
 * fingerprint>", the protocol's version, size 1, align 1, so the core's
 * fingerprint check at attach covers the whole type set.
 *
 * Why "zero the next header" rather than Aeron's zeroing of consumed bytes:
 * the consumer polls the header word at the end of what it read; the
 * producer stores 0 there before it publishes anything ending there, so
 * stale bytes of a previous lap can never look like a header, the consumer
 * writes nothing but head, and a large record costs the consumer no memset.
 *
 * Many producers (max_producers > 1) use another protocol: claims with a
 * CAS on tail announced in the role table, the consumer zeroing what it
 * consumed, dead claims given up on proof of death (below, "many
 * producers").
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <nshm/records.h>

#include "ring/core.h"

/* Smallest ring: a few records of the largest alignment. */
#define NSHM_RECORDS_MIN_BYTES 128u

/* ---- geometry --------------------------------------------------------- */

static uint32_t rec_total(uint32_t len, uint32_t a)
{
	return a + (uint32_t)(((uint64_t)len + a - 1) & ~(uint64_t)(a - 1));
}

/*
 * The largest record_max for @p cap bytes and alignment @p a: two records
 * of the maximum and the 8-byte header word after them fit, so one always
 * fits once the ring drains, padding included (doc/ring.md).
 */
static uint64_t max_payload(uint32_t cap, uint32_t a)
{
	uint64_t t = ((uint64_t)cap - 8u) / 2u;

	t &= ~(uint64_t)(a - 1);
	return t > a ? t - a : 0;
}

static bool align_ok(uint64_t a)
{
	return a >= 8 && a <= 64 && (a & (a - 1)) == 0;
}

static uint32_t records_stride(uint32_t size, uint32_t align, bool elem_seq)
{
	(void)size;
	(void)align;
	(void)elem_seq;
	return 1; /* capacity counts bytes */
}

static int records_check_params(struct nshm_ring_params *p)
{
	const struct nshm_ring_type *t = p->type;
	uint64_t lim;

	if (p->max_producers >= NSHM_RING_ROLES_MAX)
		return nshm__err(-EINVAL, "max_producers %u: a records ring "
				 "has at most %u producers and one consumer",
				 p->max_producers, NSHM_RING_ROLES_MAX - 1);
	if (p->max_consumers > 1)
		return nshm__err(-EINVAL, "a records ring has one consumer "
				 "(max_consumers %u)", p->max_consumers);
	if (t->size != 1 || t->align != 1 || t->flags != 0)
		return nshm__err(-EINVAL, "a records ring's type names its "
				 "protocol: size 1, align 1, no flags (use "
				 "nshm_records_create())");
	if (p->max_producers == 0)
		p->max_producers = 1;
	p->max_consumers = 1;
	if (p->record_align == 0)
		p->record_align = 8;
	if (!align_ok(p->record_align))
		return nshm__err(-EINVAL, "record_align %u is not a power of "
				 "two in 8 .. 64", p->record_align);
	if (p->capacity < NSHM_RECORDS_MIN_BYTES)
		return nshm__err(-EINVAL, "a records ring needs at least %u "
				 "bytes (capacity %u)", NSHM_RECORDS_MIN_BYTES,
				 p->capacity);
	if (p->record_max == 0)
		p->record_max = p->capacity / 4;
	lim = max_payload(p->capacity, p->record_align);
	if (p->record_max > lim || p->record_max > NSHM_RING_ELEM_MAX)
		return nshm__err(-EINVAL, "record_max %u does not fit: a ring "
				 "of %u bytes (align %u) takes records of at "
				 "most %llu bytes (two of them and a header "
				 "word must fit)", p->record_max, p->capacity,
				 p->record_align, (unsigned long long)lim);
	return 0;
}

static void records_fill_config(struct nshm_ring_config *c,
				const struct nshm_ring_params *p)
{
	c->seq_off = p->record_max;
	c->seq_key = p->record_align;
	c->flags = 0;
}

static void records_build(struct nshm_ring_shared *sh,
			  const struct nshm_ring_config *c)
{
	(void)sh; /* zero-filled: every header word says "not yet" */
	(void)c;
}

static bool records_config_ok(const struct nshm_ring_config *c)
{
	return c->elem_size == 1 && c->elem_align == 1 &&
	       c->slot_stride == 1 && c->flags == 0 &&
	       c->max_producers >= 1 && c->max_producers < NSHM_RING_ROLES_MAX &&
	       c->max_consumers == 1 &&
	       align_ok(c->seq_key) && c->capacity >= NSHM_RECORDS_MIN_BYTES &&
	       c->seq_off <= max_payload(c->capacity, (uint32_t)c->seq_key);
}

/*
 * What the header word @p w at @p pos is, for take() and the slow paths:
 * 1 a record or padding that may be published there (*@p next: the
 * position after it), 0 not yet published, -1 corrupt.
 */
static int classify(const struct nshm_ring *r, uint64_t pos, uint64_t w,
		    uint64_t *next)
{
	uint32_t cap = r->mask + 1, off = (uint32_t)(pos & r->mask);
	uint32_t a = nshm__rec_align(r);

	if (w == 0 || (w >> 48) == (NSHM_REC_ST_REC | NSHM_REC_ST_PENDING) ||
	    (w >> 48) == (NSHM_REC_ST_PAD | NSHM_REC_ST_PENDING))
		return 0;
	if ((w >> 48) == NSHM_REC_ST_REC && (uint32_t)w <= r->seq_off &&
	    off + rec_total((uint32_t)w, a) <= cap) {
		*next = pos + rec_total((uint32_t)w, a);
		return 1;
	}
	if (w == nshm__rec_pad(r, pos) && off != 0) {
		*next = pos + (cap - off);
		return 1;
	}
	if ((w >> 48) == NSHM_REC_ST_SKIP && ((w >> 32) & 0xffffu) == 0 &&
	    (uint32_t)w <= cap - a - off && ((uint32_t)w & (a - 1)) == 0) {
		*next = pos + a + (uint32_t)w;
		return 1;
	}
	return -1;
}

/* ---- cold halves of the fast path -------------------------------------- */

bool nshm__rec_corrupt(struct nshm_ring *r, uint64_t pos, uint64_t hdr)
{
	r->err = -NSHM_ECORRUPT;
	nshm__ring_count_corrupt(r);
	nshm__err(-NSHM_ECORRUPT,
		  "ring '%s': the record header at byte %llu (offset %u) is "
		  "0x%016llx: no producer writes that (state 0x%02x, length "
		  "%u, max %u, released up to %llu)",
		  priv(r)->name, (unsigned long long)pos,
		  (unsigned)(pos & r->mask), (unsigned long long)hdr,
		  (unsigned)(hdr >> 48) & 0xffu, (uint32_t)hdr, r->seq_off,
		  (unsigned long long)r->cpos);
	return false;
}

static void *mp_reserve(struct nshm_ring *r, uint32_t len);
static void mp_commit(struct nshm_ring *r, uint32_t type, uint32_t len);

void *nshm__rec_reserve_fail(struct nshm_ring *r, uint32_t len)
{
	if (r->pcap == 0) {
		nshm__ring_misuse(r, NSHM_RING_PRODUCER);
		return NULL;
	}
	if (len <= r->seq_off)
		return mp_reserve(r, len);
	if (r->err == 0)
		r->err = -EMSGSIZE;
	nshm__err(-EMSGSIZE, "ring '%s': a record of %u bytes; this ring "
		  "takes at most %u", priv(r)->name, len, r->seq_off);
	return NULL;
}

bool nshm__rec_refresh(struct nshm_ring *r, uint64_t end)
{
	/* RING-RA2: pairs with RING-RR2 in nshm_records_release(). */
	uint64_t head = atomic_load_explicit(&r->sh->cons.index,
					     memory_order_acquire);

	/* head only moves forward and never past our tail: [phead, ppos]. */
	if (head - r->phead > r->ppos - r->phead) {
		nshm__ring_corrupt(r, head);
		return false;
	}
	r->phead = head;
	return end + 8u - head <= r->pcap;
}

/*
 * Seal (and with @p publish, publish) the reserved record: the padding
 * before it (if any) and its header; the first sealed record's header (at
 * the published end) goes in pending form, published by the release store
 * of nshm_records_publish().
 */
void nshm__rec_commit_slow(struct nshm_ring *r, uint32_t type, uint32_t len,
			   bool publish)
{
	uint64_t pend, rec, pending;

	if (r->pcap == 0) {
		nshm__ring_misuse(r, NSHM_RING_PRODUCER);
		return;
	}
	if (r->claimed == 0 || len >= r->claimed || type > NSHM_REC_TYPE_MAX) {
		if (r->err == 0)
			r->err = -EINVAL;
		nshm__err(-EINVAL, "ring '%s': %s of %u bytes, type %u: %s",
			  priv(r)->name, publish ? "commit" : "seal", len,
			  type,
			  r->claimed == 0 ? "nothing is reserved"
			  : len >= r->claimed ? "more than was reserved"
					      : "type ids are 0 .. 65535");
		return;
	}
	if (nshm__rec_mp(r)) {
		mp_commit(r, type, len);
		return;
	}
	pend = r->cpos;
	rec = r->cready;
	pending = pend == r->ppos ? NSHM_REC_PENDING_BIT : 0;
	if (rec != pend) {
		/* Relaxed: published by RING-RR1 (nshm_records_publish). */
		atomic_store_explicit(nshm__rec_hdr(r, pend),
				      nshm__rec_pad(r, pend) | pending,
				      memory_order_relaxed);
		pending = 0;
	}
	/* Relaxed: as above. */
	atomic_store_explicit(nshm__rec_hdr(r, rec),
			      NSHM_REC_HDR(len, type, NSHM_REC_ST_REC) | pending,
			      memory_order_relaxed);
	r->cpos = rec + nshm__rec_total(r, len);
	r->claimed = 0;
	if (publish)
		nshm_records_publish(r);
}

/* ---- many producers --------------------------------------------------- */

/*
 * MPSC protocol (doc/ring.md, Records, "Many producers"). The consumer
 * zeroes what it consumed before releasing it, so free space reads 0. A
 * producer stores its intent (the byte range it is about to claim) in its
 * own role entry, claims [tail, end) with one CAS on tail (release:
 * RING-RM5), at once writes its header in pending form (and the padding
 * before it, if any), then the payload, then the final header (release:
 * RING-RR1), then clears its intent (release: RING-RM7). A consumer stuck
 * at a header that is 0 or pending below tail asks whether a live
 * producer's intent covers it (RING-RM6/RM8: tail loaded with acquire,
 * then the intents): if one does, it waits (a slow or stopped producer
 * never loses its record); if none does, the claimant is proven dead and
 * the claim becomes a skip record with a CAS on its header: of its
 * pending header's length, or, when it died before writing that, of the
 * zero bytes up to the next header word written, the next live claim or
 * tail (a dead claimant wrote nothing else: its pending header comes
 * first). Counted in ctl.skipped.
 */

/* Producer: head, bounded to [phead, tail]. false: corrupt. */
static bool mp_refresh(struct nshm_ring *r)
{
	/* RING-RA2: pairs with RING-RR2 (release, after the zeroing). */
	uint64_t head = atomic_load_explicit(&r->sh->cons.index,
					     memory_order_acquire);
	/* Relaxed: a bound only. */
	uint64_t tail = atomic_load_explicit(r->tail_p, memory_order_relaxed);

	if (head - r->phead > tail - r->phead) {
		nshm__ring_corrupt(r, head);
		return false;
	}
	r->phead = head;
	return true;
}

static void mp_intend(struct nshm_ring *r, uint64_t pos, uint32_t n)
{
	/* Relaxed: ordered before the claim by its release CAS (RING-RM5). */
	atomic_store_explicit(&r->me->intent, pos, memory_order_relaxed);
	atomic_store_explicit(&r->me->intent_n, n, memory_order_relaxed);
}

static void mp_done(struct nshm_ring *r)
{
	/* RING-RM7: our header stores before the cleared intent. */
	atomic_store_explicit(&r->me->intent_n, 0, memory_order_release);
}

static void *mp_reserve(struct nshm_ring *r, uint32_t len)
{
	uint32_t a = nshm__rec_align(r), total = nshm__rec_total(r, len);
	uint32_t cap = r->pcap;
	uint64_t t;

	if (r->claimed != 0)
		nshm__rec_mp_drop(r); /* a second reserve replaces the first */
	/* Relaxed: a hint; the CAS decides. */
	t = atomic_load_explicit(r->tail_p, memory_order_relaxed);
	for (;;) {
		uint32_t off = (uint32_t)(t & r->mask);
		uint64_t rec = off + total > cap ? t + (cap - off) : t;
		uint64_t end = rec + total;

		if (end - r->phead > cap && (!mp_refresh(r) ||
					     end - r->phead > cap)) {
			/* Relaxed: nothing claimed, nothing to order. */
			atomic_store_explicit(&r->me->intent_n, 0,
					      memory_order_relaxed);
			return NULL; /* full (or corrupt: nshm_ring_error()) */
		}
		mp_intend(r, t, (uint32_t)(end - t));
		/* RING-RM5: our intent before the claim, for the consumer. */
		if (atomic_compare_exchange_weak_explicit(
			    r->tail_p, &t, end, memory_order_release,
			    memory_order_relaxed)) {
			if (rec != t)
				/* Relaxed: ours; the consumer reads it only
				 * after RING-RR1, or after our death (C1). */
				atomic_store_explicit(nshm__rec_hdr(r, t),
						      nshm__rec_pad(r, t),
						      memory_order_relaxed);
			/* Relaxed: as above; first, before the payload. */
			atomic_store_explicit(
				nshm__rec_hdr(r, rec),
				NSHM_REC_HDR(len, 0, NSHM_REC_ST_REC) |
					NSHM_REC_PENDING_BIT,
				memory_order_relaxed);
			r->ppos = t;
			r->cpos = t;
			r->cready = rec;
			r->claimed = len + 1u;
			return r->slots + (size_t)(rec & r->mask) + a;
		}
		/* Relaxed: a statistic on our own line. */
		atomic_fetch_add_explicit(&r->me->retries, 1,
					  memory_order_relaxed);
	}
}

/* A skip header for @p bytes (>= A) at a record start. */
static uint64_t skip_hdr(uint32_t bytes, uint32_t a)
{
	return NSHM_REC_HDR(bytes - a, 0, NSHM_REC_ST_SKIP);
}

static void mp_commit(struct nshm_ring *r, uint32_t type, uint32_t len)
{
	uint32_t a = nshm__rec_align(r);
	uint32_t have = nshm__rec_total(r, r->claimed - 1u);
	uint32_t used = nshm__rec_total(r, len);
	uint64_t rec = r->cready;

	if (used < have)
		/* Relaxed: published by the release store below. */
		atomic_store_explicit(nshm__rec_hdr(r, rec + used),
				      skip_hdr(have - used, a),
				      memory_order_relaxed);
	/* RING-RR1: pairs with RING-RA1 in nshm_records_next(). */
	atomic_store_explicit(nshm__rec_hdr(r, rec),
			      NSHM_REC_HDR(len, type, NSHM_REC_ST_REC),
			      memory_order_release);
	mp_done(r);
	r->claimed = 0;
	nshm__ring_notify(r, r->data_ev);
}

void nshm__rec_mp_drop(struct nshm_ring *r)
{
	if (r->claimed == 0)
		return;
	/* RING-RR1: the consumer skips the claim. */
	atomic_store_explicit(nshm__rec_hdr(r, r->cready),
			      skip_hdr(nshm__rec_total(r, r->claimed - 1u),
				       nshm__rec_align(r)),
			      memory_order_release);
	mp_done(r);
	r->claimed = 0;
	nshm__ring_notify(r, r->data_ev);
}

/* Consumer: zero [from, to) (at most the ring; it may wrap). */
static void zero_range(struct nshm_ring *r, uint64_t from, uint64_t to)
{
	uint32_t cap = r->mask + 1, off = (uint32_t)(from & r->mask);
	uint64_t n = to - from;

	if (n > cap)
		n = cap;
	if (off + n <= cap) {
		memset(r->slots + off, 0, (size_t)n);
	} else {
		memset(r->slots + off, 0, cap - off);
		memset(r->slots, 0, (size_t)(n - (cap - off)));
	}
}

/*
 * Consumer, before releasing [cpos, cready): zero it, so that free space
 * reads 0 for the claims. The target goes in our entry's cursor word
 * first, so a successor of a consumer killed in the middle finishes the
 * zeroing and the release (take) instead of reading half-zeroed records.
 */
void nshm__rec_mp_zero(struct nshm_ring *r)
{
	/* Relaxed: read by a successor only after our death (RING-C1). */
	atomic_store_explicit(&r->me->cursor, r->cready, memory_order_relaxed);
	zero_range(r, r->cpos, r->cready);
}

/* The first live claim's start in (pos, lim), or lim. */
static uint64_t live_claim_after(struct nshm_ring *r, uint64_t pos,
				 uint64_t lim)
{
	struct nshm_ring_role_entry *t = role_table(r);
	uint32_t np = priv(r)->cfg.max_producers;

	for (uint32_t i = 0; i < np; i++) {
		/* RING-RM8: pairs with RING-RM7. */
		uint32_t n = atomic_load_explicit(&t[i].intent_n,
						  memory_order_acquire);
		/* Relaxed: stored with intent_n, before the claim. */
		uint64_t in = atomic_load_explicit(&t[i].intent,
						   memory_order_relaxed);
		uint64_t id;

		if (n == 0 || in - pos - 1 >= lim - pos - 1)
			continue;
		/* RING-A5, as in the role table. */
		id = atomic_load_explicit(&t[i].peer, memory_order_acquire);
		if (id != 0 && (!nshm__ring_peer_id_valid(id) ||
				nshm_peer_alive(priv(r)->area, id) != 0))
			lim = in; /* alive, or cannot tell: not ours */
	}
	return lim;
}

/*
 * Consumer: give up the claim at cready if no live producer holds it.
 * @return 1 (given up), 0 (nothing to do, or a live claimant).
 */
static int mp_recover(struct nshm_ring *r)
{
	uint32_t cap = r->mask + 1, a = nshm__rec_align(r);
	uint64_t pos = r->cready, tail, w, nw, g, lim;
	uint32_t off = (uint32_t)(pos & r->mask);

	if (r->role != NSHM_RING_CONSUMER || !nshm__rec_mp(r))
		return 0;
	/* RING-RA1: as in nshm_records_next(). */
	w = atomic_load_explicit(nshm__rec_hdr(r, pos), memory_order_acquire);
	if (w != 0 && (w >> 48) != (NSHM_REC_ST_REC | NSHM_REC_ST_PENDING))
		return 0; /* published (or corrupt: the fast path says) */
	/* RING-RM6: pairs with RING-RM5, the claimants' release CAS. */
	tail = atomic_load_explicit(&r->sh->prod.index, memory_order_acquire);
	if (tail - pos - 1 >= cap)
		return 0; /* nothing claimed at pos (or tail is corrupt) */
	if (nshm__ring_intent_live(r, NSHM_RING_PRODUCER, pos))
		return 0; /* a live claimant: FIFO, wait for it */
	if (w != 0) {
		uint32_t len = (uint32_t)w;

		/* Its claimant died after its pending header: exact. */
		if (len > r->seq_off || off + nshm__rec_total(r, len) > cap)
			return 0; /* not one a producer writes: stuck check */
		nw = skip_hdr(nshm__rec_total(r, len), a);
	} else {
		/*
		 * It died before its header: its claim (and any dead ones
		 * after it) wrote nothing, up to the next header word written,
		 * the next live claim, tail or the end of the lap.
		 */
		lim = pos - off + cap;
		if (tail - pos < lim - pos)
			lim = tail;
		lim = live_claim_after(r, pos, lim);
		if (lim - pos < a)
			return 0; /* a scribbled tail or intent: no skip */
		for (g = pos + a; g - pos < lim - pos; g += a)
			/* Relaxed: dead claimants' stores (RING-C1). */
			if (atomic_load_explicit(nshm__rec_hdr(r, g),
						 memory_order_relaxed) != 0)
				break;
		nw = skip_hdr((uint32_t)(g - pos), a);
	}
	/*
	 * RING-RM8 (in intent_live) then this CAS: a claimant that wrote its
	 * header meanwhile made it fail.
	 */
	if (!atomic_compare_exchange_strong_explicit(nshm__rec_hdr(r, pos), &w,
						     nw, memory_order_relaxed,
						     memory_order_relaxed))
		return 0;
	/* Relaxed: statistics. */
	atomic_fetch_add_explicit(&r->sh->ctl.skipped, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&r->me->recovered, 1, memory_order_relaxed);
	return 1;
}

int nshm_records_recover(struct nshm_ring *r)
{
	int n = 0;

	nshm__err_clear();
	if (r == NULL)
		return nshm__err(-EINVAL, "ring handle is NULL");
	if (priv(r)->forked)
		return nshm__ring_forked_err(r);
	if (priv(r)->cfg.kind != NSHM_RING_RECORDS ||
	    r->role != NSHM_RING_CONSUMER)
		return nshm__err(-EPERM, "ring '%s': recover needs the "
				 "consumer handle of a records ring",
				 priv(r)->name);
	while (n < 1024) {
		struct nshm_record rec;

		if (nshm_records_next(r, &rec)) {
			/* Only skips move us; un-read what we read. */
			r->cready -= nshm__rec_total(r, rec.len);
			return n;
		}
		if (r->err == -NSHM_ECORRUPT)
			return r->err;
		if (mp_recover(r) == 0)
			return n;
		n++;
	}
	return n;
}

/* ---- roles ------------------------------------------------------------ */

static int records_take(struct nshm_ring *r, int role)
{
	struct nshm_ring_shared *sh = r->sh;
	uint32_t cap = r->mask + 1;
	uint64_t head, tail, pos;

	/* RING-A4: a dead predecessor's stores are visible (RING-C1). */
	tail = atomic_load_explicit(&sh->prod.index, memory_order_acquire);
	head = atomic_load_explicit(&sh->cons.index, memory_order_acquire);
	if (tail - head > cap || (head & (nshm__rec_align(r) - 1)) != 0) {
		nshm__ring_count_corrupt(r);
		return nshm__err(-NSHM_ECORRUPT,
				 "ring '%s': tail %llu and head %llu are not "
				 "two positions of a records ring of %u bytes",
				 priv(r)->name, (unsigned long long)tail,
				 (unsigned long long)head, cap);
	}
	r->stride = priv(r)->cfg.max_producers > 1 ? 2u : 1u;
	if (role == NSHM_RING_CONSUMER && nshm__rec_mp(r)) {
		/*
		 * A predecessor killed inside a release may have zeroed part
		 * of what it released: finish that release (RING-C1: its
		 * stores are visible, its cursor word says where it ended).
		 */
		uint64_t c = atomic_load_explicit(&r->me->cursor,
						  memory_order_relaxed);

		if (c != head && c - head <= cap) {
			r->cpos = head;
			zero_range(r, head, c);
			head = c;
			/* RING-RR2: as a release would. */
			atomic_store_explicit(&sh->cons.index, head,
					      memory_order_release);
		}
	}
	if (role == NSHM_RING_CONSUMER) {
		r->cpos = head;
		r->cready = head;
		r->ccap = cap;
		r->head_p = &sh->cons.index;
		r->space_ev = &sh->cons.ev.word;
		return 0;
	}
	if (nshm__rec_mp(r)) {
		/* Claims are each producer's own: nothing to resume. */
		r->ppos = tail;
		r->cpos = tail;
		r->phead = head;
		r->claimed = 0;
		r->pcap = cap;
		r->tail_p = &sh->prod.index;
		r->data_ev = &sh->prod.ev.word;
		return 0;
	}
	/*
	 * A dead predecessor may have stored tail and died before the header
	 * that published it: walk the records from head to the first one not
	 * published (at most the ring), resume there and put tail back.
	 */
	pos = head;
	while (pos != tail) {
		uint64_t next;
		/* RING-A4/RA1: a published header's record is complete. */
		uint64_t w = atomic_load_explicit(nshm__rec_hdr(r, pos),
						  memory_order_acquire);
		int c = classify(r, pos, w, &next);

		if (c == 0)
			break;
		if (c < 0 || next - head > tail - head) {
			nshm__ring_count_corrupt(r);
			return nshm__err(-NSHM_ECORRUPT,
					 "ring '%s': the record at byte %llu "
					 "(header 0x%016llx) is not one of "
					 "the records between head %llu and "
					 "tail %llu",
					 priv(r)->name,
					 (unsigned long long)pos,
					 (unsigned long long)w,
					 (unsigned long long)head,
					 (unsigned long long)tail);
		}
		pos = next;
	}
	/* Relaxed: "not yet" where the consumer waits (a dead one's half). */
	atomic_store_explicit(nshm__rec_hdr(r, pos), 0, memory_order_relaxed);
	/* RING-R4: we are tail's only writer now. */
	atomic_store_explicit(&sh->prod.index, pos, memory_order_release);
	r->ppos = pos;
	r->cpos = pos;
	r->phead = head;
	r->claimed = 0;
	r->pcap = cap;
	r->tail_p = &sh->prod.index;
	r->data_ev = &sh->prod.ev.word;
	return 0;
}

static void records_leave(struct nshm_ring *r)
{
	/* Reserved or sealed, never published: nothing of it is visible. */
	if (r->role == NSHM_RING_PRODUCER)
		nshm_records_abort(r);
}

/* Blocking calls: 1 ready, 0 not yet (corruption: 1, the fast path says). */
static int records_ready(struct nshm_ring *r)
{
	if (r->role == NSHM_RING_CONSUMER) {
		struct nshm_record rec;

		/* Exactly what the fast path would say (then un-read it). */
		if (nshm_records_next(r, &rec)) {
			r->cready -= nshm__rec_total(r, rec.len);
			return 1;
		}
		return r->err == -NSHM_ECORRUPT ? -NSHM_ECORRUPT : 0;
	}
	{
		uint32_t len = r->reserved;
		/* Relaxed: a hint (MPSC: the shared claim index). */
		uint64_t pos = nshm__rec_mp(r)
				       ? atomic_load_explicit(r->tail_p,
							      memory_order_relaxed)
				       : r->cpos;
		uint64_t rec = pos;
		uint32_t off = (uint32_t)(pos & r->mask);
		uint32_t total = nshm__rec_total(r, len);

		if (off + total > r->pcap)
			rec = pos + (r->pcap - off);
		if (nshm__rec_mp(r)) {
			if (rec + total - r->phead <= r->pcap ||
			    (mp_refresh(r) &&
			     rec + total - r->phead <= r->pcap))
				return 1;
		} else if (nshm__rec_room(r, rec + total)) {
			return 1;
		}
		return r->err == -NSHM_ECORRUPT ? -NSHM_ECORRUPT : 0;
	}
}

/*
 * Consumer, after a park slice no notify ended: tail more than the ring
 * ahead of head is corrupt; tail past the record we wait for while its
 * header holds the same unpublished value for RING_STUCK_NS means the
 * word was overwritten (a live producer is between its tail store and its
 * header store for nanoseconds; a dead one is reported first).
 */
static int records_unstick(struct nshm_ring *r)
{
	struct stuck *st = &priv(r)->stuck;
	uint64_t tail, w, now;

	if (r->role != NSHM_RING_CONSUMER)
		return 0;
	/* Relaxed: compared only, never used to read (RING-R4). */
	tail = atomic_load_explicit(&r->sh->prod.index, memory_order_relaxed);
	if (tail - r->cpos > r->ccap) {
		nshm__ring_corrupt(r, tail);
		return -NSHM_ECORRUPT;
	}
	if (nshm__rec_mp(r)) {
		/*
		 * Many producers: a claim stays unpublished as long as its
		 * live claimant takes, so no stuck rule; a dead one's claim
		 * is given up.
		 */
		(void)mp_recover(r);
		return 0;
	}
	/* Relaxed: a snapshot for comparison only. */
	w = atomic_load_explicit(nshm__rec_hdr(r, r->cready),
				 memory_order_relaxed);
	if (tail - r->cpos <= r->cready - r->cpos) {
		st->since = 0;
		return 0;
	}
	now = nshm__now_ns();
	if (st->since == 0 || st->pos != r->cready || st->seq != w) {
		st->pos = r->cready;
		st->since = now;
		st->seq = w;
		return 0;
	}
	if (now - st->since < RING_STUCK_NS)
		return 0;
	r->err = -NSHM_ECORRUPT;
	nshm__ring_count_corrupt(r);
	return nshm__err(-NSHM_ECORRUPT,
			 "ring '%s': tail %llu says byte %llu was published, "
			 "but for %llu ms its header has held 0x%016llx",
			 priv(r)->name, (unsigned long long)tail,
			 (unsigned long long)r->cready,
			 (unsigned long long)((now - st->since) / 1000000u),
			 (unsigned long long)w);
}

/* Stats: pushed/popped/count are the byte indices (core's helper). */

static int records_check(struct nshm_ring *r, uint64_t head, uint64_t tail)
{
	const char *name = priv(r)->name;
	uint64_t next, w;

	if (tail - head > (uint64_t)r->mask + 1)
		return nshm__err(-NSHM_ECORRUPT,
				 "ring '%s': tail %llu and head %llu are more "
				 "than the capacity apart", name,
				 (unsigned long long)tail,
				 (unsigned long long)head);
	if (r->role == NSHM_RING_CONSUMER && head != r->cpos)
		return nshm__err(-NSHM_ECORRUPT,
				 "ring '%s': head %llu was changed behind the "
				 "consumer (ours is %llu)", name,
				 (unsigned long long)head,
				 (unsigned long long)r->cpos);
	if (r->role == NSHM_RING_PRODUCER && !nshm__rec_mp(r) &&
	    tail != r->ppos)
		return nshm__err(-NSHM_ECORRUPT,
				 "ring '%s': tail %llu was changed behind the "
				 "producer (ours is %llu)", name,
				 (unsigned long long)tail,
				 (unsigned long long)r->ppos);
	if (head == tail)
		return 0;
	/* Relaxed: a snapshot. */
	w = atomic_load_explicit(nshm__rec_hdr(r, head), memory_order_relaxed);
	if (classify(r, head, w, &next) < 0)
		return nshm__err(-NSHM_ECORRUPT,
				 "ring '%s': the record header at head %llu "
				 "is 0x%016llx", name,
				 (unsigned long long)head,
				 (unsigned long long)w);
	return 0;
}

/* Before a blocking read gives up on dead producers: their claims. */
static int records_recover_op(struct nshm_ring *r)
{
	int n = 0;

	while (n < 1024 && mp_recover(r) == 1) {
		struct nshm_record rec;

		n++;
		if (nshm_records_next(r, &rec)) {
			r->cready -= nshm__rec_total(r, rec.len);
			break;
		}
	}
	return n;
}

const struct ring_kind_ops nshm__records_ops = {
	.kind = NSHM_RING_RECORDS,
	.stride = records_stride,
	.check_params = records_check_params,
	.build = records_build,
	.config_ok = records_config_ok,
	.take = records_take,
	.leave = records_leave,
	.ready = records_ready,
	.unstick = records_unstick,
	.recover = records_recover_op,
	.stats = nshm__ring_index_stats,
	.check = records_check,
	.fill_config = records_fill_config,
};
