/* SPDX-License-Identifier: MIT */
/*
 * The SPSC kind: its slot geometry (a trailing seq word, or the element's
 * own seq field), setting up the fast path when a role is taken (a
 * restarted producer resumes at the first unpublished slot), its readiness
 * and stuck-slot checks for blocking calls, its counters and checks, and
 * the out-of-line copies of its inline data plane (bits/ring_spsc.h).
 */
#include <errno.h>

#include "ring/core.h"

static int spsc_check_params(struct nshm_ring_params *p)
{
	if (p->max_producers > 1 || p->max_consumers > 1)
		return nshm__err(-EINVAL, "an SPSC ring has one producer and "
				 "one consumer (max_producers %u, "
				 "max_consumers %u)", p->max_producers,
				 p->max_consumers);
	p->max_producers = 1;
	p->max_consumers = 1;
	return 0;
}

static void spsc_build(struct nshm_ring_shared *sh,
		       const struct nshm_ring_config *c)
{
	(void)sh; /* zero-filled slots: "never written" */
	(void)c;
}

/*
 * The seq word lies inside the slot, 8-aligned: after the payload with key
 * 0, or inside an 8-aligned element with a key whose bit 63 is clear.
 */
static bool spsc_config_ok(const struct nshm_ring_config *c)
{
	if (c->max_producers != 1 || c->max_consumers != 1)
		return false;
	if (!(c->flags & NSHM_RING_CFG_ELEM_SEQ))
		return c->seq_off == nshm__ring_trailing_seq_off(c->elem_size) &&
		       c->seq_key == 0;
	return c->elem_align >= 8 && c->elem_size >= 8 &&
	       c->seq_off % 8 == 0 && c->seq_off <= c->elem_size - 8 &&
	       (c->seq_key & NSHM_RING_SEQ_PUB) == 0;
}

/*
 * The end of the published run: the first index in [head, tail) whose slot
 * does not say published, or tail. The producer stores tail before the seq
 * words of a commit, so a producer killed inside a commit leaves tail up to
 * one burst ahead of what it published; everything below the first
 * unpublished slot is published (seqs are stored in index order). Scans
 * backward from tail: 0 iterations unless a commit was cut short (or is in
 * flight). @p tail - @p head <= capacity (checked by the caller).
 */
static uint64_t published_end(const struct nshm_ring *r, uint64_t head,
			      uint64_t tail)
{
	while (tail != head) {
		/*
		 * RING-A4: pairs with RING-R1 in nshm_ring_commit_n() (and the dead
		 * holder's stores, RING-C1): a published seq means its
		 * payload is complete.
		 */
		uint64_t seq = atomic_load_explicit(nshm__ring_seq(r, tail - 1),
						    memory_order_acquire);

		if (seq == nshm__ring_seq_pub(r, tail - 1))
			break;
		tail--;
	}
	return tail;
}

/*
 * The consumer's exact position: its entry's cursor, stored at every
 * release (RING-R7), when it lies in [head, tail]; else head (a cursor
 * out of that range was never the consumer's: scribbled, or left by an
 * older holder).
 */
static uint64_t consumer_position(struct nshm_ring *r, uint64_t head,
				  uint64_t tail)
{
	uint32_t first, count;
	uint64_t c;

	role_range(r, NSHM_RING_CONSUMER, &first, &count);
	/* RING-A7: pairs with RING-R7 (or the dead holder's, RING-C1). */
	c = atomic_load_explicit(&role_table(r)[first].cursor,
				 memory_order_acquire);
	return c - head <= tail - head ? c : head;
}

/*
 * @role's entry is ours: load the indices, bound them, and set up the
 * fast-path fields (the other role's stay zero / point at the sink).
 */
static int spsc_take(struct nshm_ring *r, int role)
{
	struct nshm_ring_shared *sh = r->sh;
	uint32_t cap = r->mask + 1;
	uint64_t head, tail;

	/*
	 * RING-A4, acquire both: the previous holder of either role may have
	 * died; we see every index it published (RING-C1).
	 */
	tail = atomic_load_explicit(&sh->prod.index, memory_order_acquire);
	head = atomic_load_explicit(&sh->cons.index, memory_order_acquire);
	if (tail - head > cap) {
		/* Relaxed: a statistic (we hold a role: we may write). */
		atomic_fetch_add_explicit(&sh->ctl.corrupt_seen, 1,
					  memory_order_relaxed);
		return nshm__err(-NSHM_ECORRUPT,
				 "ring '%s': tail %llu and head %llu are more "
				 "than the capacity %u apart",
				 priv(r)->name, (unsigned long long)tail,
				 (unsigned long long)head, cap);
	}
	if (role == NSHM_RING_PRODUCER) {
		/*
		 * A dead predecessor may have stored tail and died before the
		 * seq words: resume at the first unpublished slot (the
		 * consumer waits there), so nothing is skipped or repeated,
		 * and put tail back (RING-R4: we are its only writer now).
		 */
		tail = published_end(r, head, tail);
		atomic_store_explicit(&sh->prod.index, tail,
				      memory_order_release);
		r->ppos = tail;
		r->phead = head;
		r->pcap = cap;
		r->tail_p = &sh->prod.index;
		r->data_ev = &sh->prod.ev.word;
	} else {
		/*
		 * head may lag what our predecessor released by less than a
		 * batch (bits/ring_spsc.h); its exact position is in the
		 * entry we now hold (RING-A7), if that is between head and
		 * tail. Resume there, and let the producer see it.
		 */
		uint64_t at = consumer_position(r, head, tail);

		atomic_store_explicit(&r->me->cursor, at,
				      memory_order_relaxed); /* ours now */
		atomic_store_explicit(&sh->cons.index, at,
				      memory_order_release); /* RING-R2 */
		r->cpos = at;
		r->cready = at;
		r->phead = at; /* the head we just stored */
		r->ccap = cap;
		r->head_p = &sh->cons.index;
		r->space_ev = &sh->cons.ev.word;
	}
	return 0;
}

/* A clean close: head is everything we released (RING-R2). */
static void spsc_leave(struct nshm_ring *r)
{
	if (r->role == NSHM_RING_CONSUMER)
		atomic_store_explicit(r->head_p, r->cpos, memory_order_release);
}

/*
 * Is the condition the caller waits for true? The consumer polls the seq
 * word of the slot it wants, the producer re-reads head (bounded) into its
 * cache. Cheap enough for every spin: each is a load of a line that stays
 * in our cache until the other side writes it. @return 1 ready, 0 not, or
 * -NSHM_ECORRUPT.
 */
static int spsc_ready(struct nshm_ring *r)
{
	if (r->role == NSHM_RING_CONSUMER) {
		if (r->cready != r->cpos)
			return 1;
		/* RING-A2: the slot's seq word (as in nshm_ring_peek()). */
		if (nshm__ring_cons_poll(r, r->cpos))
			return 1;
		return r->err == -NSHM_ECORRUPT ? -NSHM_ECORRUPT : 0;
	}
	if (r->ppos - r->phead < r->pcap)
		return 1;
	/* RING-A1, bounded (as in nshm_ring_reserve()). */
	if (nshm__ring_prod_refresh(r) != 0)
		return 1;
	return r->err == -NSHM_ECORRUPT ? -NSHM_ECORRUPT : 0;
}

/*
 * Producer about to park (WAITERS announced): the consumer stores head only
 * every few releases, so read its exact position once (its cursor's line
 * is not one we poll: RING-A7). Its store came before its look at the
 * event word (RING-E1): we see it, or it sees us and wakes us. What we
 * find we also put into head, only ever raising it (a CAS), so that head
 * stays what bounds tail (tail - head <= capacity) for everyone.
 */
static int spsc_ready_exact(struct nshm_ring *r)
{
	/* RING-A1: as in the refresh. */
	uint64_t head = atomic_load_explicit(&r->sh->cons.index,
					     memory_order_acquire);
	uint64_t c;

	if (r->role != NSHM_RING_PRODUCER)
		return 0;
	if (head - r->phead > r->ppos - r->phead)
		return 1; /* corrupt: the fast path reports it */
	c = consumer_position(r, head, r->ppos);
	/*
	 * RING-R2 on the consumer's behalf (release: nothing of ours to
	 * order, but a reader of head pairs with it as with the consumer's);
	 * the consumer's own stores are never below a cursor it published
	 * before them, so head only rises.
	 */
	while (head - c > (UINT64_C(1) << 63) &&
	       !atomic_compare_exchange_weak_explicit(
		       &r->sh->cons.index, &head, c, memory_order_release,
		       memory_order_relaxed))
		;
	r->phead = c - head <= r->ppos - head ? c : head;
	return r->ppos - r->phead < r->pcap;
}

/*
 * Consumer, after a park slice that no notify ended: does the producer's
 * tail say the slot we wait for was committed while its seq word still
 * says otherwise? The producer stores tail just before a commit's seq
 * words, so a live producer is in that state for nanoseconds (a dead one
 * is peer_check()'s), and seeing the same unpublished value there for
 * RING_STUCK_NS means the word was overwritten (a hostile or broken
 * peer): -NSHM_ECORRUPT rather than waiting forever. That covers the
 * values the fast path must take for "not yet" (the previous lap's; with
 * an element seq, anything). The observation is kept in the handle, so
 * it adds up across blocking calls with short deadlines. A tail more than
 * the capacity ahead of us, or behind us, is corrupt at once.
 * @return 0 or -NSHM_ECORRUPT.
 */
static int stuck_slot(struct nshm_ring *r)
{
	struct stuck *st = &priv(r)->stuck;
	uint64_t tail, seq, ahead, now;

	/*
	 * Relaxed: tail (stored relaxed, RING-R4) is only compared here,
	 * never used to read a slot; the seq word decides what is published.
	 */
	tail = atomic_load_explicit(&r->sh->prod.index, memory_order_relaxed);
	ahead = tail - r->cpos;
	if (ahead > r->ccap) {
		nshm__ring_corrupt(r, tail);
		return -NSHM_ECORRUPT;
	}
	/* A snapshot for comparison only: relaxed. */
	seq = atomic_load_explicit(nshm__ring_seq(r, r->cpos),
				   memory_order_relaxed);
	if (ahead == 0 || seq == nshm__ring_seq_pub(r, r->cpos)) {
		st->since = 0;
		return 0;
	}
	now = nshm__now_ns();
	if (st->since == 0 || st->pos != r->cpos || seq != st->seq) {
		st->pos = r->cpos;
		st->since = now;
		st->seq = seq;
		return 0;
	}
	if (now - st->since < RING_STUCK_NS)
		return 0;
	r->err = -NSHM_ECORRUPT;
	nshm__ring_count_corrupt(r);
	return nshm__err(-NSHM_ECORRUPT,
			 "ring '%s': tail %llu says index %llu was committed, "
			 "but for %llu ms its slot's seq word has held "
			 "0x%016llx, not 0x%016llx",
			 priv(r)->name, (unsigned long long)tail,
			 (unsigned long long)r->cpos,
			 (unsigned long long)((now - st->since) / 1000000u),
			 (unsigned long long)seq,
			 (unsigned long long)nshm__ring_seq_pub(r, r->cpos));
}

static int spsc_unstick(struct nshm_ring *r)
{
	return r->role == NSHM_RING_CONSUMER ? stuck_slot(r) : 0;
}

static void spsc_stats(struct nshm_ring *r, struct nshm_ring_stats *st)
{
	struct nshm_ring_shared *sh = r->sh;
	uint32_t cap = r->mask + 1;

	/*
	 * A snapshot for humans. RING-A4 (acquire) on both, head first: the
	 * consumer saw every slot below head published, and RING-R4 is
	 * ordered before those seqs, so tail >= head here. pushed counts
	 * what is published (a commit in flight, or cut short, is not).
	 */
	st->popped = atomic_load_explicit(&sh->cons.index, memory_order_acquire);
	st->pushed = atomic_load_explicit(&sh->prod.index, memory_order_acquire);
	if (st->pushed - st->popped <= cap) {
		/* head may lag the consumer by less than a batch. */
		st->popped = consumer_position(r, st->popped, st->pushed);
		st->pushed = published_end(r, st->popped, st->pushed);
	}
	st->count = st->pushed - st->popped;
	if (st->count > cap)
		st->count = cap; /* corrupt: clamp */
}

static int spsc_check(struct nshm_ring *r, uint64_t head, uint64_t tail)
{
	const char *name = priv(r)->name;
	uint64_t seq;

	if (r->role == NSHM_RING_PRODUCER && tail != r->ppos)
		return nshm__err(-NSHM_ECORRUPT,
				 "ring '%s': tail %llu was changed behind the "
				 "producer (ours is %llu)",
				 name, (unsigned long long)tail,
				 (unsigned long long)r->ppos);
	if (r->role == NSHM_RING_CONSUMER &&
	    (r->cpos - head > (uint64_t)r->mask + 1 ||
	     /* Relaxed: a snapshot of our own word. */
	     atomic_load_explicit(&r->me->cursor, memory_order_relaxed) !=
		     r->cpos))
		return nshm__err(-NSHM_ECORRUPT,
				 "ring '%s': head %llu (or the consumer's "
				 "entry) was changed behind the consumer (ours "
				 "is %llu)",
				 name, (unsigned long long)head,
				 (unsigned long long)r->cpos);
	if (tail - head > (uint64_t)r->mask + 1)
		return nshm__err(-NSHM_ECORRUPT,
				 "ring '%s': tail %llu and head %llu are more "
				 "than the capacity apart",
				 name, (unsigned long long)tail,
				 (unsigned long long)head);
	/*
	 * The slot at head: published, previous lap, or never written. An
	 * element's own seq field may hold anything while it is written.
	 */
	seq = atomic_load_explicit(nshm__ring_seq(r, head),
				   memory_order_relaxed); /* A snapshot. */
	if (seq != nshm__ring_seq_pub(r, head) &&
	    seq != nshm__ring_seq_pub(r, head - r->mask - 1) && seq != 0 &&
	    r->seq_off >= r->esize)
		return nshm__err(-NSHM_ECORRUPT,
				 "ring '%s': slot %u holds seq 0x%016llx, not "
				 "a value of index %llu",
				 name, (unsigned)(head & r->mask),
				 (unsigned long long)seq,
				 (unsigned long long)head);
	return 0;
}

const struct ring_kind_ops nshm__spsc_ops = {
	.kind = NSHM_RING_SPSC,
	.stride = nshm__ring_slot_stride,
	.check_params = spsc_check_params,
	.build = spsc_build,
	.config_ok = spsc_config_ok,
	.take = spsc_take,
	.leave = spsc_leave,
	.ready = spsc_ready,
	.ready_exact = spsc_ready_exact,
	.unstick = spsc_unstick,
	.stats = spsc_stats,
	.check = spsc_check,
};

/* ---- out-of-line copies of the inline data plane (STYLE B.5) ---------- */

void *nshm_ring_reserve_fn(struct nshm_ring *r)
{
	return nshm_ring_reserve(r);
}

void nshm_ring_commit_fn(struct nshm_ring *r)
{
	nshm_ring_commit(r);
}

uint32_t nshm_ring_reserve_n_fn(struct nshm_ring *r, uint32_t n,
				struct nshm_ring_span *sp)
{
	return nshm_ring_reserve_n(r, n, sp);
}

void nshm_ring_commit_n_fn(struct nshm_ring *r, uint32_t n)
{
	nshm_ring_commit_n(r, n);
}

void *nshm_ring_peek_fn(struct nshm_ring *r)
{
	return nshm_ring_peek(r);
}

void nshm_ring_release_fn(struct nshm_ring *r)
{
	nshm_ring_release(r);
}

uint32_t nshm_ring_peek_n_fn(struct nshm_ring *r, uint32_t n,
			     struct nshm_ring_span *sp)
{
	return nshm_ring_peek_n(r, n, sp);
}

void nshm_ring_release_n_fn(struct nshm_ring *r, uint32_t n)
{
	nshm_ring_release_n(r, n);
}

bool nshm_ring_push_fn(struct nshm_ring *r, const void *elem)
{
	return nshm_ring_push(r, elem);
}

bool nshm_ring_pop_fn(struct nshm_ring *r, void *elem)
{
	return nshm_ring_pop(r, elem);
}

uint32_t nshm_ring_push_n_fn(struct nshm_ring *r, const void *elems,
			     uint32_t n)
{
	return nshm_ring_push_n(r, elems, n);
}

uint32_t nshm_ring_pop_n_fn(struct nshm_ring *r, void *elems, uint32_t n)
{
	return nshm_ring_pop_n(r, elems, n);
}

int nshm_ring_push_wait_fn(struct nshm_ring *r, const void *elem,
			   const struct timespec *deadline)
{
	return nshm_ring_push_wait(r, elem, deadline);
}

int nshm_ring_pop_wait_fn(struct nshm_ring *r, void *elem,
			  const struct timespec *deadline)
{
	return nshm_ring_pop_wait(r, elem, deadline);
}

int nshm_ring_push_n_wait_fn(struct nshm_ring *r, const void *elems,
			     uint32_t n, const struct timespec *deadline)
{
	return nshm_ring_push_n_wait(r, elems, n, deadline);
}

int nshm_ring_pop_n_wait_fn(struct nshm_ring *r, void *elems, uint32_t n,
			    const struct timespec *deadline)
{
	return nshm_ring_pop_n_wait(r, elems, n, deadline);
}

