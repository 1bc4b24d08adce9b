/* SPDX-License-Identifier: MIT */
/*
 * The MPMC kind (data plane: include/nshm/bits/ring_mpmc.h).
 *
 * Why this algorithm. Per-slot sequence words with one CAS on the side's
 * index (Vyukov's bounded MPMC queue, rigtorp's MPMCQueue) hand each
 * message over in one cache line and never make a claimant wait for
 * another one: DPDK's MP/MC head/tail ring makes every producer wait until
 * the producers before it have published (a preempted one stalls them all:
 * under 10 % of 200 000 messages in 4 s at 4P4C on this machine), and its
 * RTS/HTS modes freeze the ring when a claimant dies. Here a preempted
 * producer delays consumers only at its own slot, every other producer
 * goes on, and a dead one is found through the role table: each claimant
 * writes what it claims (its intent) into its own entry before its CAS,
 * so a waiter stuck behind a claimed slot can tell whether a live holder
 * covers it. If none does (every holder whose intent covers it is proven
 * dead, or the dead claimant's entry was taken over), the slot is given
 * up: a dead producer's slot becomes a tomb the consumers skip, a dead
 * consumer's slot is freed for the producers. That is exact, not a guess:
 * the claimant's intent is stored before its release CAS and the
 * recoverer loads the index with acquire (RING-M5/M6), and a claimant
 * that finished cleared its intent with release after its seq stores, so
 * the recoverer's give-up CAS on the seq then fails (RING-M7/M8).
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

/*
 * MPMC slots are whole cache lines: a consumer writes the seq word of the
 * slot it releases, so a slot sharing a line with the next slot's payload
 * would bounce that line between the consumer's release and the producer's
 * next write (SPSC consumers never write slots: its slots pack tighter).
 * rigtorp's MPMCQueue pads its slots for the same reason. Measured, 64-byte
 * messages, 1P1C round trip: 1.29x SPSC's with 72-byte slots, 1.25x with
 * 128-byte ones.
 */
static uint32_t mpmc_stride(uint32_t size, uint32_t align, bool elem_seq)
{
	uint32_t s = nshm__ring_slot_stride(size, align, elem_seq);

	return (s + NSHM_CACHELINE - 1u) & ~(NSHM_CACHELINE - 1u);
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

/* Every slot starts free for its first lap: seq = index. */
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
			i, memory_order_relaxed);
}

static bool mpmc_config_ok(const struct nshm_ring_config *c)
{
	return !(c->flags & NSHM_RING_CFG_ELEM_SEQ) && c->seq_key == 0 &&
	       c->seq_off == nshm__ring_trailing_seq_off(c->elem_size) &&
	       c->max_producers >= 1 && c->max_consumers >= 1;
}

static int mpmc_take(struct nshm_ring *r, int role)
{
	struct nshm_ring_shared *sh = r->sh;
	uint32_t cap = r->mask + 1;

	/* Both indices live on lines every claimant of a side shares. */
	if (role == NSHM_RING_PRODUCER) {
		r->pcap = cap;
		r->tail_p = &sh->prod.index;
		r->data_ev = &sh->prod.ev.word;
	} else {
		r->ccap = cap;
		r->head_p = &sh->cons.index;
		r->space_ev = &sh->cons.ev.word;
	}
	r->claimed = 0;
	return 0;
}

/*
 * A clean close with slots still claimed (a reserve never committed, a
 * peek never released): a producer's become tombs (their contents were
 * never published), a consumer's are handed back. They are ours, so plain
 * release stores do; consumers and producers then go on past them.
 */
static void mpmc_leave(struct nshm_ring *r)
{
	uint64_t pos = r->role == NSHM_RING_PRODUCER ? r->ppos : r->cpos;

	for (uint32_t i = 0; i < r->claimed; i++, pos++)
		/* RING-M1/M3: as a publish or a release would. */
		atomic_store_explicit(nshm__ring_seq(r, pos),
				      r->role == NSHM_RING_PRODUCER
					      ? (pos + 1) ^ NSHM_RING_TOMB
					      : pos + r->mask + 1,
				      memory_order_release);
	r->claimed = 0;
	if (r->me != NULL)
		/* RING-M7: our stores above before the cleared intent. */
		atomic_store_explicit(&r->me->intent_n, 0,
				      memory_order_release);
}

/*
 * Blocking calls: can the fast path make progress at our side's index?
 * 1 yes, 0 not yet. A value no lap explains is left to the fast path
 * (ready says 1), which reports it as corruption.
 */
static int mpmc_ready(struct nshm_ring *r)
{
	bool prod = r->role == NSHM_RING_PRODUCER;
	uint32_t cap = r->mask + 1;
	/* Relaxed: a hint, as in the fast path; the seq decides. */
	uint64_t pos = atomic_load_explicit(prod ? r->tail_p : r->head_p,
					    memory_order_relaxed);
	/* RING-M2/M4: as in the claims. */
	uint64_t seq = atomic_load_explicit(nshm__ring_seq(r, pos),
					    memory_order_acquire);

	if (!prod && seq != pos + 1) {
		/*
		 * Not there yet: fetch the slot's payload lines meanwhile, so
		 * that when the seq word arrives the payload is (mostly) on
		 * its way too, as the SPSC consumer does (NSHM_RING_PREFETCH).
		 */
		const unsigned char *slot = nshm__ring_slot(r, pos);

		for (uint32_t o = 0; o < r->esize && o < NSHM_RING_PREFETCH;
		     o += 64)
			__builtin_prefetch(slot + o, 0 /* read */, 3);
	}
	if (prod)
		return seq == pos ||
		       !(pos - seq <= cap ||
			 seq == ((pos - cap + 1) ^ NSHM_RING_TOMB));
	return seq == pos + 1 || seq == ((pos + 1) ^ NSHM_RING_TOMB) ||
	       !(pos + 1 - seq <= cap ||
		 seq == ((pos + 1 - cap) ^ NSHM_RING_TOMB));
}

/* Count a slot given up, on the ring and on our own entry. */
static void count_given_up(struct nshm_ring *r)
{
	/* Relaxed: statistics. */
	atomic_fetch_add_explicit(&r->sh->ctl.skipped, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&r->me->recovered, 1, memory_order_relaxed);
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

		if (seq != p)
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
			count_given_up(r);
			n++;
		}
	}
	return n;
}

/*
 * Producer: from enq on, every slot whose previous lap a consumer claimed
 * (below deq) but never released, and that no live consumer's intent
 * covers, is freed (its message, which the dead consumer held, is lost
 * and counted). @return how many.
 */
static int recover_for_producer(struct nshm_ring *r)
{
	uint32_t cap = r->mask + 1;
	/* RING-M6: as above. */
	uint64_t enq = atomic_load_explicit(r->tail_p, memory_order_acquire);
	uint64_t deq = atomic_load_explicit(&r->sh->cons.index,
					    memory_order_acquire);
	int n = 0;

	for (uint64_t p = enq; p != enq + cap; p++) {
		uint64_t q = p - cap; /* the lap the consumer holds */
		_Atomic(uint64_t) *sw = nshm__ring_seq(r, p);
		/* RING-M4: as in the claims. */
		uint64_t seq = atomic_load_explicit(sw, memory_order_acquire);

		if (deq - q - 1 >= cap)
			break; /* q not claimed by a consumer: just full */
		if (seq != q + 1 && seq != ((q + 1) ^ NSHM_RING_TOMB))
			continue; /* released (or never this lap) */
		if (nshm__ring_intent_live(r, NSHM_RING_CONSUMER, q))
			break; /* a live reader: wait for it */
		if (atomic_compare_exchange_strong_explicit(
			    sw, &seq, p, memory_order_release,
			    memory_order_relaxed)) {
			count_given_up(r);
			n++;
		}
	}
	return n;
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
	.stride = mpmc_stride,
	.check_params = mpmc_check_params,
	.build = mpmc_build,
	.config_ok = mpmc_config_ok,
	.take = mpmc_take,
	.leave = mpmc_leave,
	.ready = mpmc_ready,
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
