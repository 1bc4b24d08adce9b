/* SPDX-License-Identifier: MIT */
/*
 * The role table: one 64-byte entry per possible holder (producers first,
 * then consumers; SPSC has one of each), the same machinery for every kind.
 *
 * An entry is held by the participant id in its peer word. Claiming it is
 * a CAS from 0 (free) or from a holder proven dead (nshm_peer_alive() == 0,
 * or an id that cannot name any participant) to our id; a holder that is
 * alive, or whose liveness cannot be told, keeps it. A clean close says
 * CLOSED, then clears the peer word, both before the detach frees the
 * closer's participant slot, so a waiter that finds an id dead while it
 * still holds its entry knows the holder died in it (peer_check below).
 *
 * Memory-order pairs (doc/ring.md):
 *   RING-R5/A5  claim/unclaim CAS on peer (acq_rel) -> the next claimer's
 *               and every checker's acquire loads of peer.
 *   RING-R6/A6  a closer's release store of state = CLOSED, after all it
 *               published -> a waiter's acquire load of state, then its
 *               re-check of the ring.
 *   RING-C1     a dead holder's stores are ordered by the kernel dropping
 *               its liveness token, which nshm_peer_alive() observes.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <nshm/bcast.h>

#include "ring/core.h"

bool nshm__ring_peer_id_valid(uint64_t id)
{
	return (uint32_t)id < NSHM_PEER_MAX && (id >> 32) != 0;
}

/* 1 alive, 0 proven dead (or an id that names nobody), < 0 cannot tell. */
int nshm__ring_holder_alive(struct nshm_ring *r, uint64_t id)
{
	if (!nshm__ring_peer_id_valid(id))
		return 0;
	return nshm_peer_alive(priv(r)->area, id);
}

/*
 * A dead MPMC consumer's intent, dropped with its entry: the message its
 * peek held is lost, so count it (if its claim was made: deq moved past
 * it). acq_rel: against a producer's give-up CAS (mpmc.c: horizon()), so
 * one of us counts it.
 */
static void drop_consumer_intent(struct nshm_ring *r,
				 struct nshm_ring_role_entry *e)
{
	uint32_t n = atomic_exchange_explicit(&e->intent_n, 0,
					      memory_order_acq_rel);
	/* Relaxed: stored with intent_n (RING-M5). */
	uint64_t in = atomic_load_explicit(&e->intent, memory_order_relaxed);
	/* RING-M6: pairs with RING-M5, the claimant's CAS. */
	uint64_t deq = atomic_load_explicit(&r->sh->cons.index,
					    memory_order_acquire);

	if (n != 0 && n <= r->mask + 1 && deq - in >= n && deq - in <= (1ull << 62))
		/* Relaxed: a statistic. */
		atomic_fetch_add_explicit(&r->sh->ctl.skipped, n,
					  memory_order_relaxed);
}

/* The entry is ours now: record who we are, set it ACTIVE. */
static void entry_taken(struct nshm_ring *r, uint32_t i, int role)
{
	struct nshm_ring_role_entry *e = &role_table(r)[i];

	/*
	 * A dead predecessor's intent (MPMC) is dropped here. A producer's
	 * slots are then covered by no live holder and the waiters give them
	 * up (mpmc.c); a consumer's is counted now. Relaxed: only we write
	 * this entry now.
	 */
	if (priv(r)->cfg.kind == NSHM_RING_MPMC && role == NSHM_RING_CONSUMER)
		drop_consumer_intent(r, e);
	atomic_store_explicit(&e->intent_n, 0, memory_order_relaxed);
	atomic_store_explicit(&e->pid, (uint32_t)getpid(),
			      memory_order_relaxed);
	atomic_fetch_add_explicit(&e->attaches, 1, memory_order_relaxed);
	/* RING-R6: our pid and the cleared intent before ACTIVE. */
	atomic_store_explicit(&e->state, NSHM_ROLE_ACTIVE,
			      memory_order_release);
	priv(r)->entry = i;
	r->me = e;
}

/*
 * Take an entry of @role: a free one first, else one whose holder is
 * proven dead. @return 0, -EBUSY (every entry held by a live process), or
 * the liveness error when some holder's state cannot be told and no entry
 * could be taken (the role stays with it: a live holder never loses it).
 */
int nshm__ring_claim(struct nshm_ring *r, int role)
{
	struct nshm_ring_role_entry *t = role_table(r);
	uint64_t self = priv(r)->self;
	uint32_t first, count, pid = 0;
	int unknown = 0;

	role_range(r, role, &first, &count);
	if (count == 0)
		return nshm__err(-EINVAL, "ring '%s' has no %s entries in its "
				 "role table (a lossy broadcast ring's readers "
				 "attach as NSHM_RING_SUBSCRIBER)",
				 priv(r)->name, nshm__ring_role_name(role));
	for (int pass = 0; pass < 2; pass++) {
		for (uint32_t i = first; i < first + count; i++) {
			/* RING-A5: pairs with RING-R5 of the last holder. */
			uint64_t cur = atomic_load_explicit(
				&t[i].peer, memory_order_acquire);

			if (pass == 0 && cur != 0)
				continue; /* free entries first */
			if (pass == 1) {
				int alive;

				if (cur == 0)
					continue; /* taken meanwhile? next */
				alive = nshm__ring_holder_alive(r, cur);
				if (alive == 1) {
					pid = atomic_load_explicit(
						&t[i].pid,
						memory_order_relaxed);
					continue;
				}
				if (alive < 0) {
					unknown = alive;
					pid = atomic_load_explicit(
						&t[i].pid,
						memory_order_relaxed);
					continue;
				}
				/* Proven dead: take it over. */
			}
			/*
			 * RING-R5/A5, acq_rel: acquire what a holder that
			 * closed published; release our stores to whoever
			 * claims after us. A dead holder's stores are ordered
			 * by the kernel dropping its token (RING-C1).
			 */
			if (atomic_compare_exchange_strong_explicit(
				    &t[i].peer, &cur, self,
				    memory_order_acq_rel,
				    memory_order_acquire)) {
				entry_taken(r, i, role);
				return 0;
			}
		}
	}
	if (unknown != 0)
		return nshm__err(unknown,
				 "ring '%s': cannot tell whether its %s (pid "
				 "%u) is alive, so it is not taken over: %s",
				 priv(r)->name, nshm__ring_role_name(role), pid,
				 nshm_strerror(unknown));
	if (count == 1)
		return nshm__err(-EBUSY, "ring '%s' already has a live %s "
				 "(pid %u)", priv(r)->name,
				 nshm__ring_role_name(role), pid);
	return nshm__err(-EBUSY, "ring '%s': all %u %s entries are held by "
			 "live processes", priv(r)->name, count,
			 nshm__ring_role_name(role));
}

void nshm__ring_unclaim(struct nshm_ring *r, bool closed)
{
	struct nshm_ring_role_entry *e = r->me;
	uint64_t self = priv(r)->self;

	if (e == NULL)
		return;
	if (closed)
		/*
		 * RING-R6: pairs with RING-A6 in nshm__ring_peer_check():
		 * everything we published (seq, head) is visible to a waiter
		 * that sees CLOSED (or the cleared peer word after it).
		 */
		atomic_store_explicit(&e->state, NSHM_ROLE_CLOSED,
				      memory_order_release);
	/* RING-R5: only if it is still ours (a taker-over replaced us). */
	atomic_compare_exchange_strong_explicit(&e->peer, &self, 0,
						memory_order_acq_rel,
						memory_order_relaxed);
	r->me = NULL;
}

/* What became of one entry's holder, for peer_check(). */
enum holder_fate { FATE_NONE, FATE_LIVE, FATE_CLOSED, FATE_DEAD };

static enum holder_fate entry_fate(struct nshm_ring *r,
				   struct nshm_ring_role_entry *e, int *err)
{
	for (int look = 0; look < 4; look++) {
		/* RING-A5: pairs with RING-R5 (claim and unclaim). */
		uint64_t id = atomic_load_explicit(&e->peer,
						   memory_order_acquire);
		int alive;

		if (id == 0)
			/* RING-A6: pairs with RING-R6 in unclaim. */
			return atomic_load_explicit(&e->state,
						    memory_order_acquire) ==
					       NSHM_ROLE_CLOSED
				       ? FATE_CLOSED
				       : FATE_NONE;
		nshm__ring_test_point(r, NSHM__RING_HOOK_PEER_ID_READ);
		if (!nshm__ring_peer_id_valid(id)) {
			*err = nshm__err(-NSHM_ECORRUPT,
					 "ring '%s': a role entry holds id "
					 "%016llx, which names no participant",
					 priv(r)->name,
					 (unsigned long long)id);
			return FATE_NONE;
		}
		alive = nshm_peer_alive(priv(r)->area, id);
		if (alive == 1)
			return FATE_LIVE;
		if (alive < 0) {
			if (alive == -NSHM_ECORRUPT)
				*err = alive;
			return FATE_LIVE; /* cannot tell: never guess */
		}
		/*
		 * RING-A5: still the entry's holder? Then it died in it.
		 * Else it closed (its detach came after clearing the word)
		 * or was replaced: read the entry again.
		 */
		if (atomic_load_explicit(&e->peer, memory_order_acquire) == id)
			return FATE_DEAD;
	}
	return FATE_LIVE; /* keeps changing hands: look again later */
}

/*
 * The other side, while we wait for it: 0 (some holder alive, or none
 * there yet), -EPIPE (every holder that was there closed cleanly),
 * -NSHM_EPEERDEAD (none left alive, and the last ones died), or
 * -NSHM_ECORRUPT. The caller re-checks the ring after a negative answer.
 */
int nshm__ring_peer_check(struct nshm_ring *r)
{
	int other = r->role == NSHM_RING_CONSUMER ? NSHM_RING_PRODUCER
						  : NSHM_RING_CONSUMER;
	const char *state = other == NSHM_RING_PRODUCER ? "empty" : "full";
	struct nshm_ring_role_entry *t = role_table(r);
	bool closed = false, dead = false;
	uint32_t first, count, pid = 0;
	int err = 0;

	role_range(r, other, &first, &count);
	for (uint32_t i = first; i < first + count; i++) {
		switch (entry_fate(r, &t[i], &err)) {
		case FATE_LIVE:
			if (err != 0)
				return err;
			return 0;
		case FATE_CLOSED:
			closed = true;
			break;
		case FATE_DEAD:
			dead = true;
			pid = atomic_load_explicit(&t[i].pid,
						   memory_order_relaxed);
			break;
		default:
			if (err != 0)
				return err;
			break;
		}
	}
	if (dead)
		return nshm__err(-NSHM_EPEERDEAD,
				 "ring '%s': the %s (pid %u) died with the "
				 "ring %s", priv(r)->name,
				 nshm__ring_role_name(other), pid, state);
	if (closed)
		return nshm__err(-EPIPE, "ring '%s': the %s closed with the "
				 "ring %s", priv(r)->name,
				 nshm__ring_role_name(other), state);
	return 0;
}

/*
 * MPMC: does a live (or not provably dead) holder of @role have index
 * @pos claimed (its intent covers it)? @return 1 or 0. RING-M6/M8: the
 * caller loaded enq/deq with acquire first; intents are loaded with
 * acquire here, so a holder that finished and cleared its intent has its
 * seq stores visible to the caller's give-up CAS, which then fails.
 */
int nshm__ring_intent_live(struct nshm_ring *r, int role, uint64_t pos)
{
	struct nshm_ring_role_entry *t = role_table(r);
	uint32_t first, count, cap = r->mask + 1;

	role_range(r, role, &first, &count);
	for (uint32_t i = first; i < first + count; i++) {
		/* RING-M8: pairs with RING-M7 (bits/ring_mpmc.h). */
		uint32_t n = atomic_load_explicit(&t[i].intent_n,
						  memory_order_acquire);
		uint64_t in, id;

		if (n == 0)
			continue; /* claims nothing */
		if (n > cap)
			n = cap; /* scribbled: bounded */
		/* Relaxed: stored with intent_n, before the claim (RING-M5). */
		in = atomic_load_explicit(&t[i].intent, memory_order_relaxed);
		if (pos - in >= n)
			continue;
		/* RING-A5, as in claims. */
		id = atomic_load_explicit(&t[i].peer, memory_order_acquire);
		if (id != 0 && nshm__ring_holder_alive(r, id) != 0)
			return 1; /* alive, or cannot tell: keep waiting */
	}
	return 0;
}

void nshm__ring_role_stats(struct nshm_ring *r, struct nshm_ring_stats *st)
{
	const struct nshm_ring_config *c = &priv(r)->cfg;
	struct nshm_ring_role_entry *t = role_table(r);

	st->max_producers = c->max_producers;
	st->max_consumers = c->max_consumers;
	st->producer_alive = -1;
	st->consumer_alive = -1;
	for (uint32_t i = 0; i < (uint32_t)c->max_producers + c->max_consumers;
	     i++) {
		bool prod = i < c->max_producers;
		/* Relaxed: a snapshot for humans. */
		uint32_t state = atomic_load_explicit(&t[i].state,
						      memory_order_relaxed);
		uint32_t pid = atomic_load_explicit(&t[i].pid,
						    memory_order_relaxed);
		/* RING-A5. */
		uint64_t id = atomic_load_explicit(&t[i].peer,
						   memory_order_acquire);
		int *alive = prod ? &st->producer_alive : &st->consumer_alive;
		int a;

		if (state == NSHM_ROLE_NEVER)
			continue;
		a = id != 0 && nshm__ring_holder_alive(r, id) == 1;
		if (a)
			(*(prod ? &st->producers : &st->consumers))++;
		if (*alive != 1)
			*alive = a;
		if (a || *(prod ? &st->producer_pid : &st->consumer_pid) == 0)
			*(prod ? &st->producer_pid : &st->consumer_pid) = pid;
		*(prod ? &st->producer_attaches : &st->consumer_attaches) +=
			atomic_load_explicit(&t[i].attaches,
					     memory_order_relaxed);
		st->claim_retries += atomic_load_explicit(&t[i].retries,
							  memory_order_relaxed);
	}
}

int nshm_ring_roles(struct nshm_ring *r, struct nshm_ring_role_info *out,
		    unsigned int max)
{
	const struct nshm_ring_config *c;
	struct nshm_ring_role_entry *t;
	uint64_t tail;
	unsigned int n = 0;

	nshm__err_clear();
	if (r == NULL || (out == NULL && max != 0))
		return nshm__err(-EINVAL, "ring handle or out is NULL");
	c = &priv(r)->cfg;
	t = role_table(r);
	/* Relaxed: snapshots for humans. */
	tail = atomic_load_explicit(&r->sh->prod.index, memory_order_relaxed);
	for (uint32_t i = 0; i < (uint32_t)c->max_producers + c->max_consumers;
	     i++) {
		struct nshm_ring_role_entry *e = &t[i];
		struct nshm_ring_role_info *o;
		uint32_t state = atomic_load_explicit(&e->state,
						      memory_order_relaxed);
		/* RING-A5: pairs with RING-R5 (claim and unclaim). */
		uint64_t id = atomic_load_explicit(&e->peer,
						   memory_order_acquire);

		if (state == NSHM_ROLE_NEVER && id == 0)
			continue;
		if (n++ >= max)
			continue;
		o = &out[n - 1];
		memset(o, 0, sizeof(*o));
		o->index = i;
		o->role = i < c->max_producers ? NSHM_RING_PRODUCER
					       : NSHM_RING_CONSUMER;
		o->state = state;
		o->alive = id == 0 ? 0 : nshm__ring_holder_alive(r, id);
		o->pid = atomic_load_explicit(&e->pid, memory_order_relaxed);
		o->attaches = atomic_load_explicit(&e->attaches,
						   memory_order_relaxed);
		o->retries = atomic_load_explicit(&e->retries,
						  memory_order_relaxed);
		o->recovered = atomic_load_explicit(&e->recovered,
						    memory_order_relaxed);
		if (c->kind == NSHM_RING_BROADCAST) {
			uint32_t held = atomic_load_explicit(
				&e->held, memory_order_relaxed);

			o->reader = o->role == NSHM_RING_CONSUMER &&
				    held != 0 && !(held & NSHM_BCAST_EVICTED);
			o->position = atomic_load_explicit(
				&e->cursor, memory_order_relaxed);
			if (o->reader && tail - o->position <= c->capacity)
				o->lag = tail - o->position;
		} else {
			o->claimed = atomic_load_explicit(
				&e->intent_n, memory_order_relaxed);
			o->position = atomic_load_explicit(
				&e->intent, memory_order_relaxed);
		}
	}
	return (int)n;
}
