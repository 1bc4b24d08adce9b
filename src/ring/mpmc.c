/* SPDX-License-Identifier: MIT */
/*
 * The MPMC kind (data plane: include/nshm/bits/ring_mpmc.h).
 *
 * Why this algorithm. Per-slot sequence words with one CAS on the side's
 * index (Vyukov's bounded MPMC queue, rigtorp's MPMCQueue) never make a
 * claimant wait for another one: DPDK's MP/MC head/tail ring makes every
 * producer wait until the producers before it have published (a preempted
 * one stalls them all: under 10 % of 200 000 messages in 4 s at 4P4C on
 * this machine), and its RTS/HTS modes freeze the ring when a claimant
 * dies. Vyukov's consumers hand a slot back by writing its seq word, so
 * each slot line crosses twice per lap and a producer on a full ring polls
 * the very line the consumer must write next (with a CAS right behind it,
 * which waits for that write): 0.64x SPSC's 1P1C rate here. Our consumers
 * write no slot. A producer refills index pos once every index below
 * pos + 1 - capacity was taken by a consumer done reading it: its cached
 * horizon, refreshed about once a lap from the cursors consumers publish
 * in their own role entries every few takes (an idea of the back-pressured
 * broadcast, and of Disruptor's gating sequences), lowered to the first
 * index a consumer still reads in place. Copying pops copy before they
 * claim (the CAS of deq from pos succeeds only while nobody took pos, so
 * no producer refilled it), so they hold nothing while they copy; in-place
 * peeks announce their claim (intent) first, as producers do.
 *
 * A dead claimant never wedges the ring. Each claim that spans time (a
 * producer's, a peek's) is covered by its holder's intent, stored before
 * its CAS; a waiter stuck behind one looks for a live holder whose intent
 * covers the slot, proven through the sync layer's liveness. If none does
 * (every holder whose intent covers it is proven dead, or the dead
 * claimant's entry was taken over), the claim is given up: a dead
 * producer's slot becomes a tomb the consumers skip, a dead consumer's
 * intent is dropped from the horizon (its message is lost, and counted).
 * That is exact for producers: the recoverer loads the index with acquire
 * after the claimant's release CAS (RING-M5/M6), and a claimant that
 * finished cleared its intent with release after its seq stores, so the
 * recoverer's give-up CAS on the seq then fails (RING-M7/M8). For a dead
 * peek holder it is exact too, except for one that died in the few
 * instructions between losing its claim race and clearing its intent: its
 * stale intent is counted as held (skipped may then count a message that
 * another consumer delivered; nothing is lost or duplicated).
 *
 * MPSC and SPMC are the same ring with max_consumers or max_producers 1.
 */
#include <errno.h>

#include "ring/core.h"

uint32_t nshm__mpmc_corrupt(struct nshm_ring *r, uint64_t pos, uint64_t seq)
{
	r->err = -NSHM_ECORRUPT;
	nshm__ring_count_corrupt(r);
	nshm__err(-NSHM_ECORRUPT,
		  "ring '%s': slot %u holds seq 0x%016llx, which no lap of "
		  "index %llu explains",
		  priv(r)->name, (unsigned)(pos & r->mask),
		  (unsigned long long)seq, (unsigned long long)pos);
	return 0;
}

static int mpmc_check_params(struct nshm_ring_params *p)
{
	if (p->type->flags & NSHM_RING_TYPE_SEQ_FIELD)
		return nshm__err(-EOPNOTSUPP, "MPMC rings keep their own seq "
				 "word after each element: a type with "
				 "NSHM_RING_TYPE_SEQ_FIELD is SPSC only");
	if (p->max_producers == 0)
		p->max_producers = NSHM_RING_MPMC_ROLES_DEFAULT;
	if (p->max_consumers == 0)
		p->max_consumers = NSHM_RING_MPMC_ROLES_DEFAULT;
	if (p->max_producers + (uint64_t)p->max_consumers >
	    NSHM_RING_ROLES_MAX)
		return nshm__err(-EINVAL,
				 "%u producers + %u consumers exceed "
				 "NSHM_RING_ROLES_MAX (%u) role-table entries",
				 p->max_producers, p->max_consumers,
				 NSHM_RING_ROLES_MAX);
	return 0;
}

/* Every slot starts "not yet" for its first lap: index + 1 - capacity. */
static void mpmc_build(struct nshm_ring_shared *sh,
		       const struct nshm_ring_config *c)
{
	unsigned char *slots = (unsigned char *)sh + c->slots_off;

	for (uint64_t i = 0; i < c->capacity; i++)
		/* Relaxed: published with the whole segment (SEG- pairs). */
		atomic_store_explicit(
			(_Atomic(uint64_t) *)(void *)(slots +
						      i * c->slot_stride +
						      c->seq_off),
			i + 1 - c->capacity, memory_order_relaxed);
}

static bool mpmc_config_ok(const struct nshm_ring_config *c)
{
	return !(c->flags & NSHM_RING_CFG_ELEM_SEQ) && c->seq_key == 0 &&
	       c->seq_off == nshm__ring_trailing_seq_off(c->elem_size) &&
	       c->max_producers >= 1 && c->max_consumers >= 1;
}

static uint32_t horizon(struct nshm_ring *r, bool exact, bool recover);

static int mpmc_take(struct nshm_ring *r, int role)
{
	struct nshm_ring_shared *sh = r->sh;
	uint32_t cap = r->mask + 1;

	/* Both indices live on lines every claimant of a side shares. */
	if (role == NSHM_RING_PRODUCER) {
		r->pcap = cap;
		r->tail_p = &sh->prod.index;
		r->data_ev = &sh->prod.ev.word;
		r->space_ev = &sh->cons.ev.word; /* waiters read it */
		/* Relaxed: horizon() re-reads enq with acquire. */
		r->phead = atomic_load_explicit(r->tail_p,
						memory_order_relaxed) - cap;
		horizon(r, true, false);
	} else {
		r->ccap = cap;
		r->head_p = &sh->cons.index;
		r->space_ev = &sh->cons.ev.word;
		r->cready = 0; /* the first take publishes our cursor */
		/* Relaxed: our entry now; phead caches what we published. */
		r->phead = atomic_load_explicit(&r->me->cursor,
						memory_order_relaxed);
	}
	r->claimed = 0;
	return 0;
}

/*
 * A clean close with slots still claimed (a reserve never committed, a
 * peek never released): a producer's become tombs (their contents were
 * never published), a consumer's are handed back (their messages are
 * dropped). They are ours, so plain stores do.
 */
static void mpmc_leave(struct nshm_ring *r)
{
	if (r->role == NSHM_RING_PRODUCER) {
		uint64_t pos = r->ppos;

		for (uint32_t i = 0; i < r->claimed; i++, pos++)
			/* RING-M1: as a publish would. */
			atomic_store_explicit(nshm__ring_seq(r, pos),
					      (pos + 1) ^ NSHM_RING_TOMB,
					      memory_order_release);
	}
	r->claimed = 0;
	if (r->me != NULL)
		/* RING-M7: our stores above before the cleared intent. */
		atomic_store_explicit(&r->me->intent_n, 0,
				      memory_order_release);
}

/* enq more than the capacity past deq: no legal state explains it. */
static void corrupt_indices(struct nshm_ring *r, uint64_t enq, uint64_t deq)
{
	r->err = -NSHM_ECORRUPT;
	nshm__ring_count_corrupt(r);
	nshm__err(-NSHM_ECORRUPT,
		  "ring '%s': enq %llu is more than the capacity %u past deq "
		  "%llu", priv(r)->name, (unsigned long long)enq,
		  r->mask + 1, (unsigned long long)deq);
}

/*
 * Producer: recompute the horizon r->phead, below which every index was
 * taken by a consumer that is done with it: the highest cursor consumers
 * published (@p exact: deq itself), lowered to the first index an intent
 * still covers. Each value from shared memory must lie between what we
 * knew and enq, or it is ignored. @p recover: an intent whose holder is
 * proven dead is dropped instead (a claim it completed is counted as
 * skipped). @return the slots counted.
 */
static uint32_t horizon(struct nshm_ring *r, bool exact, bool recover)
{
	struct nshm_ring_role_entry *t = role_table(r);
	uint32_t first, count, cap = r->mask + 1, given = 0;
	uint64_t lo = r->phead, enq, base, h;

	role_range(r, NSHM_RING_CONSUMER, &first, &count);
	/* RING-M6: pairs with RING-M5, the producers' release CAS. */
	enq = atomic_load_explicit(r->tail_p, memory_order_acquire);
	if (enq - lo > cap) {
		/*
		 * Whoever claimed enq - 1 saw every index below enq - cap
		 * done. Other producers ran a lap past us (or enq is
		 * scribbled): ask deq itself, it is news anyway.
		 */
		lo = enq - cap;
		exact = true;
	}
	base = lo;
	if (exact) {
		/* RING-M4: pairs with RING-M3, the consumers' CAS. */
		uint64_t deq = atomic_load_explicit(&r->sh->cons.index,
						    memory_order_acquire);

		if (deq - lo <= enq - lo)
			base = deq;
		else if (enq - deq <= (UINT64_C(1) << 63)) /* deq < lo */
			corrupt_indices(r, enq, deq);
	} else {
		for (uint32_t i = first; i < first + count; i++) {
			/* RING-M10: pairs with RING-M9 (bits/ring_mpmc.h). */
			uint64_t v = atomic_load_explicit(&t[i].cursor,
							  memory_order_acquire);

			if (v - lo <= enq - lo && v - lo > base - lo)
				base = v;
		}
	}
	/* Intents after the cursors: RING-M9 made them visible. */
	h = base;
	for (uint32_t i = first; i < first + count; i++) {
		/* RING-M8/M4: pairs with RING-M7/M3, a peek's release. */
		uint32_t n = atomic_load_explicit(&t[i].intent_n,
						  memory_order_acquire);
		uint64_t in, id;

		if (n == 0)
			continue;
		/* Relaxed: stored with intent_n, before the claim (RING-M5). */
		in = atomic_load_explicit(&t[i].intent, memory_order_relaxed);
		if (in - lo >= h - lo)
			continue; /* not below h (or stale, below lo) */
		if (recover) {
			/* RING-A5, as in claims. */
			id = atomic_load_explicit(&t[i].peer,
						  memory_order_acquire);
			if (id == 0 || nshm__ring_holder_alive(r, id) == 0) {
				/* acq_rel: against entry_taken()'s exchange. */
				if (atomic_compare_exchange_strong_explicit(
					    &t[i].intent_n, &n, 0,
					    memory_order_acq_rel,
					    memory_order_relaxed) &&
				    n <= cap && base - in >= n)
					given += n; /* its claim was made */
				continue;
			}
		}
		h = in;
	}
	r->phead = h;
	return given;
}

/* Producer: can a claim at enq = @p pos go ahead (or is pos stale)? */
static bool producer_ready(const struct nshm_ring *r, uint64_t pos)
{
	return pos - r->phead < r->mask + 1 || (int64_t)(pos - r->phead) < 0;
}

uint32_t nshm__mpmc_room(struct nshm_ring *r, uint64_t pos)
{
	uint32_t cap = r->mask + 1;

	horizon(r, false, false);
	if (pos - r->phead >= cap && (++r->reserved & 63) == 0)
		/*
		 * A ring that stays full is checked against deq itself now
		 * and then: a consumer that stopped between two cursor
		 * batches, or died there, must not keep slots from us for
		 * good. Not every time: deq is the line consumers CAS, and
		 * a producer polling it would stall each of their CASes.
		 */
		horizon(r, true, false);
	if (r->err != 0)
		return 0;
	if ((int64_t)(pos - r->phead) < 0) {
		/* Relaxed: a re-read of the hint the caller had. */
		uint64_t now = atomic_load_explicit(r->tail_p,
						    memory_order_relaxed);

		if (now != pos)
			return UINT32_MAX; /* stale: the caller reloads */
		r->err = -NSHM_ECORRUPT;
		nshm__ring_count_corrupt(r);
		nshm__err(-NSHM_ECORRUPT, "ring '%s': enq %llu is behind %llu, "
			  "below which consumers already took every index",
			  priv(r)->name, (unsigned long long)pos,
			  (unsigned long long)r->phead);
		return 0;
	}
	if (pos - r->phead >= cap)
		return 0;
	r->reserved = 0;
	return (uint32_t)(cap - (pos - r->phead));
}

/*
 * Blocking calls: can the fast path make progress at our side's index?
 * 1 yes, 0 not yet. A value no lap explains is left to the fast path
 * (ready says 1), which reports it as corruption. A producer polls the
 * consumers' cursors here, never deq nor the event word next to it: both
 * sit on the line consumers CAS.
 */
static int mpmc_ready(struct nshm_ring *r)
{
	uint64_t pos, seq;

	if (r->role == NSHM_RING_PRODUCER) {
		/* Relaxed: a hint; the CAS decides. */
		pos = atomic_load_explicit(r->tail_p, memory_order_relaxed);
		if (producer_ready(r, pos))
			return 1;
		horizon(r, false, false);
		return producer_ready(r, pos);
	}
	/* RING-M6: as in the claims. */
	pos = atomic_load_explicit(r->head_p, memory_order_acquire);
	/* RING-M2: as in the claims. */
	seq = atomic_load_explicit(nshm__ring_seq(r, pos), memory_order_acquire);
	if (nshm__mpmc_not_yet(r, pos, seq)) {
		nshm__mpmc_empty(r, pos);
		return 0;
	}
	return 1;
}

/*
 * A producer about to park has announced itself (WAITERS): consumers now
 * publish their cursor at every take, but one that took before it saw the
 * announcement published nothing; its CAS of deq came before its look at
 * the event word (RING-E1), so deq itself tells.
 */
static int mpmc_ready_exact(struct nshm_ring *r)
{
	uint64_t pos;

	if (r->role != NSHM_RING_PRODUCER)
		return 0;
	/* Relaxed: a hint; the CAS decides. */
	pos = atomic_load_explicit(r->tail_p, memory_order_relaxed);
	horizon(r, true, false);
	return producer_ready(r, pos);
}

/* Count slots given up, on the ring and on our own entry. */
static void count_given_up(struct nshm_ring *r, uint32_t n)
{
	/* Relaxed: statistics. */
	atomic_fetch_add_explicit(&r->sh->ctl.skipped, n, memory_order_relaxed);
	atomic_fetch_add_explicit(&r->me->recovered, n, memory_order_relaxed);
}

/*
 * Consumer: from deq on, every slot that a producer claimed (below enq)
 * but never published, and that no live producer's intent covers, becomes
 * a tomb the consumers skip. @return how many.
 */
static int recover_for_consumer(struct nshm_ring *r)
{
	uint32_t cap = r->mask + 1;
	/* RING-M6: pairs with RING-M5, the claimants' release CAS. */
	uint64_t deq = atomic_load_explicit(r->head_p, memory_order_acquire);
	uint64_t enq = atomic_load_explicit(&r->sh->prod.index,
					    memory_order_acquire);
	int n = 0;

	if (enq - deq > cap)
		enq = deq + cap; /* scribbled, or moving: bounded */
	for (uint64_t p = deq; p != enq; p++) {
		_Atomic(uint64_t) *sw = nshm__ring_seq(r, p);
		/* RING-M2: as in the claims. */
		uint64_t seq = atomic_load_explicit(sw, memory_order_acquire);

		if (!nshm__mpmc_not_yet(r, p, seq))
			continue; /* published, given up, or not this lap */
		if (nshm__ring_intent_live(r, NSHM_RING_PRODUCER, p))
			break; /* a live claimant: FIFO, wait for it */
		/*
		 * RING-M8 (in intent_live) then this CAS: a claimant that
		 * published meanwhile made it fail. Release: the consumer
		 * that claims the tomb sees it whole.
		 */
		if (atomic_compare_exchange_strong_explicit(
			    sw, &seq, (p + 1) ^ NSHM_RING_TOMB,
			    memory_order_release, memory_order_relaxed)) {
			count_given_up(r, 1);
			n++;
		}
	}
	return n;
}

/*
 * Producer: the horizon from deq itself, dropping the intents of consumers
 * proven dead (the messages their peeks held are lost, and counted).
 * @return how many.
 */
static int recover_for_producer(struct nshm_ring *r)
{
	uint32_t n = horizon(r, true, true);

	if (n != 0)
		count_given_up(r, n);
	return (int)n;
}

static int mpmc_recover(struct nshm_ring *r)
{
	int n = r->role == NSHM_RING_PRODUCER ? recover_for_producer(r)
					      : recover_for_consumer(r);

	if (n > 0)
		/* Others may wait at what we freed. */
		nshm_event_notify(r->role == NSHM_RING_PRODUCER
					  ? &r->sh->cons.ev
					  : &r->sh->prod.ev);
	return n;
}

static int mpmc_unstick(struct nshm_ring *r)
{
	int n = mpmc_recover(r);

	return n < 0 ? n : 0;
}

int nshm_mpmc_recover(struct nshm_ring *r)
{
	nshm__err_clear();
	if (r == NULL)
		return nshm__err(-EINVAL, "ring handle is NULL");
	if (priv(r)->forked)
		return nshm__ring_forked_err(r);
	if (priv(r)->cfg.kind != NSHM_RING_MPMC ||
	    (r->role != NSHM_RING_PRODUCER && r->role != NSHM_RING_CONSUMER))
		return nshm__err(-EPERM, "ring '%s': recover needs a producer "
				 "or consumer handle of an MPMC ring",
				 priv(r)->name);
	if (r->err == -NSHM_ECORRUPT)
		return r->err;
	return mpmc_recover(r);
}

static int mpmc_check(struct nshm_ring *r, uint64_t head, uint64_t tail)
{
	uint32_t cap = r->mask + 1;
	uint64_t seq;

	if (tail - head > cap)
		return nshm__err(-NSHM_ECORRUPT,
				 "ring '%s': enq %llu and deq %llu are more "
				 "than the capacity %u apart",
				 priv(r)->name, (unsigned long long)tail,
				 (unsigned long long)head, cap);
	/* A snapshot: the slot at deq holds a value of some lap near it. */
	seq = atomic_load_explicit(nshm__ring_seq(r, head),
				   memory_order_relaxed);
	if (seq - (head - cap) > 2u * cap + 1 &&
	    (seq ^ NSHM_RING_TOMB) - (head - cap) > 2u * cap + 1)
		return nshm__err(-NSHM_ECORRUPT,
				 "ring '%s': slot %u holds seq 0x%016llx, no "
				 "value of index %llu",
				 priv(r)->name, (unsigned)(head & r->mask),
				 (unsigned long long)seq,
				 (unsigned long long)head);
	return 0;
}

const struct ring_kind_ops nshm__mpmc_ops = {
	.kind = NSHM_RING_MPMC,
	.stride = nshm__ring_line_stride,
	.check_params = mpmc_check_params,
	.build = mpmc_build,
	.config_ok = mpmc_config_ok,
	.take = mpmc_take,
	.leave = mpmc_leave,
	.ready = mpmc_ready,
	.ready_exact = mpmc_ready_exact,
	.unstick = mpmc_unstick,
	.recover = mpmc_recover,
	.stats = nshm__ring_index_stats,
	.check = mpmc_check,
};

/* ---- out-of-line copies of the inline data plane ---------------------- */

bool nshm_mpmc_push_fn(struct nshm_ring *r, const void *elem)
{
	return nshm_mpmc_push(r, elem);
}

bool nshm_mpmc_pop_fn(struct nshm_ring *r, void *elem)
{
	return nshm_mpmc_pop(r, elem);
}

uint32_t nshm_mpmc_push_n_fn(struct nshm_ring *r, const void *elems,
			     uint32_t n)
{
	return nshm_mpmc_push_n(r, elems, n);
}

uint32_t nshm_mpmc_pop_n_fn(struct nshm_ring *r, void *elems, uint32_t n)
{
	return nshm_mpmc_pop_n(r, elems, n);
}

int nshm_mpmc_push_wait_fn(struct nshm_ring *r, const void *elem,
			   const struct timespec *deadline)
{
	return nshm_mpmc_push_wait(r, elem, deadline);
}

int nshm_mpmc_pop_wait_fn(struct nshm_ring *r, void *elem,
			  const struct timespec *deadline)
{
	return nshm_mpmc_pop_wait(r, elem, deadline);
}
