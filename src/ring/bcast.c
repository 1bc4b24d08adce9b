/* SPDX-License-Identifier: MIT */
/*
 * The broadcast kind (data plane: include/nshm/bits/ring_bcast.h): one
 * writer, many readers, one ring with two policies fixed at create.
 *
 * Why this design. Lossy: Aeron's broadcast buffer and the seqlock
 * recipe of the reference notes (crash-safe-designs.md section 4), but
 * with the sequence word in each slot instead of one hot tail_intent
 * line every reader polls twice per message: a reader reads only the
 * slot it wants (one line per message up to 56 bytes) and `tail` only
 * when that slot is not the one it expects, and the writer loads nothing
 * a reader stores, so a reader (on a read-only mapping) cannot slow it.
 * Lost counts are exact: a reader's index is local and only moves by
 * delivering a message or by a lap that counts every index it skips.
 * Back-pressured: the Disruptor's gating on the minimum reader cursor,
 * cached by the writer and rescanned only when the cache says full; each
 * reader's cursor sits in its own role-table entry (its own line). A
 * reader that blocks the writer is evicted when proven dead (liveness,
 * never a timeout) or, by policy, when it blocked the writer longer than
 * evict_ms (Aeron's untethered subscriptions: a slowness policy, not a
 * death guess); eviction is a CAS of the reader's registration token,
 * so a newcomer that took the dead reader's entry meanwhile is never hit.
 *
 * The config's seq_key word (unused: broadcast has no element seq) holds
 * the policy: NSHM_BCAST_CFG_BP | evict_ms, covered by the config CRC.
 */
#include <errno.h>
#include <time.h>
#include <unistd.h>

#include "ring/core.h"
#include <nshm/bcast.h>

/* Process-local state of a broadcast handle (ring_priv.kind_state). */
struct bcast_state {
	uint64_t laps;	    /* reader: times overrun */
	uint64_t missed;    /* reader: messages lost to overruns */
	uint64_t blk_pos;   /* writer: 1 + the index it is blocked at, or 0 */
	uint64_t blk_since; /* writer: when that began (CLOCK_MONOTONIC ns) */
	uint32_t bp;	    /* back-pressured */
	uint32_t evict_ms;
	uint32_t resumed;   /* reader: FROM_LAST found its cursor */
	uint32_t reserved;
};

_Static_assert(sizeof(struct bcast_state) <=
		       sizeof(((struct ring_priv *)0)->kind_state),
	       "broadcast state fits the handle");

static struct bcast_state *bst(const struct nshm_ring *r)
{
	return (struct bcast_state *)(void *)priv(r)->kind_state;
}

/* A subscriber's `me`: never written, held == 0 == its cready. */
static struct nshm_ring_role_entry nobody;

/* How the next attach of this thread joins (nshm_bcast_attach). */
struct join {
	int from;
	uint32_t tag;
};
static _Thread_local struct join join_next;

/* Tries of the read step before an inconsistency is called corruption. */
#define STEP_TRIES 64

static uint32_t cap_of(const struct nshm_ring *r)
{
	return r->mask + 1;
}

/* ---- ops: geometry and config ------------------------------------------ */

static int bcast_check_params(struct nshm_ring_params *p)
{
	if (p->type->flags & NSHM_RING_TYPE_SEQ_FIELD)
		return nshm__err(-EOPNOTSUPP, "broadcast rings keep their own "
				 "seq word after each element: a type with "
				 "NSHM_RING_TYPE_SEQ_FIELD is SPSC only");
	if (p->policy > NSHM_BCAST_BACKPRESSURE)
		return nshm__err(-EINVAL, "unknown broadcast policy %u "
				 "(NSHM_BCAST_LOSSY or "
				 "NSHM_BCAST_BACKPRESSURE)", p->policy);
	if (p->max_producers > 1)
		return nshm__err(-EINVAL, "a broadcast ring has one writer "
				 "(max_producers %u)", p->max_producers);
	p->max_producers = 1;
	if (p->role == NSHM_RING_SUBSCRIBER)
		return nshm__err(-EINVAL, "create a broadcast ring as its "
				 "writer (or an observer); subscribers attach");
	if (p->policy == NSHM_BCAST_LOSSY) {
		if (p->max_consumers != 0 || p->evict_ms != 0)
			return nshm__err(-EINVAL, "a lossy broadcast ring has "
					 "no registered readers: max_consumers "
					 "and evict_ms must be 0 (readers are "
					 "subscribers)");
		if (p->role == NSHM_RING_CONSUMER)
			return nshm__err(-EINVAL, "a lossy broadcast ring has "
					 "no CONSUMER role: read as a "
					 "subscriber");
		return 0;
	}
	if (p->max_consumers == 0)
		p->max_consumers = NSHM_BCAST_READERS_DEFAULT;
	if (p->max_consumers > NSHM_RING_ROLES_MAX - 1)
		return nshm__err(-EINVAL, "%u readers exceed the %u entries "
				 "of the role table left after the writer",
				 p->max_consumers, NSHM_RING_ROLES_MAX - 1);
	return 0;
}

static void bcast_fill_config(struct nshm_ring_config *c,
			      const struct nshm_ring_params *p)
{
	c->seq_key = (p->policy == NSHM_BCAST_BACKPRESSURE ? NSHM_BCAST_CFG_BP
							   : 0) |
		     p->evict_ms;
}

static void bcast_build(struct nshm_ring_shared *sh,
			const struct nshm_ring_config *c)
{
	(void)sh; /* zero-filled seq words: "never written" */
	(void)c;
}

static bool bcast_config_ok(const struct nshm_ring_config *c)
{
	uint64_t w = c->seq_key;
	bool bp = (w & NSHM_BCAST_CFG_BP) != 0;

	if ((c->flags & NSHM_RING_CFG_ELEM_SEQ) || c->max_producers != 1 ||
	    c->seq_off != nshm__ring_trailing_seq_off(c->elem_size) ||
	    (w & ~(NSHM_BCAST_CFG_BP | NSHM_BCAST_CFG_EVICT_MS)) != 0)
		return false;
	if (bp)
		return c->max_consumers >= 1;
	return c->max_consumers == 0 && (w & NSHM_BCAST_CFG_EVICT_MS) == 0;
}

/* ---- the writer's room: the minimum live cursor ---------------------------- */

/* Consumer entries are [1, 1 + max_consumers). */
static struct nshm_ring_role_entry *readers(struct nshm_ring *r, uint32_t *n)
{
	*n = priv(r)->cfg.max_consumers;
	return role_table(r) + priv(r)->cfg.max_producers;
}

/* A registered reader's cursor as the writer at @p n counts it. */
static uint64_t cursor_of(struct nshm_ring_role_entry *e, uint64_t n,
			  uint32_t cap)
{
	/* RING-B8: pairs with RING-B7, the reader's store after its copy. */
	uint64_t cur = atomic_load_explicit(&e->cursor, memory_order_acquire);

	/*
	 * Behind by more than a lap (a reader lapped on joining or resuming,
	 * or a scribbled cursor, also one "ahead" of us): it holds the
	 * writer at exactly a lap, never further, until it reads on.
	 */
	if (n - cur > cap)
		cur = n - cap;
	return cur;
}

/* Is @p e a registered, not evicted reader? Its token, else 0. */
static uint32_t active_token(struct nshm_ring_role_entry *e)
{
	/* Acquire: pairs with the reader's release store of held (join). */
	uint32_t held = atomic_load_explicit(&e->held, memory_order_acquire);

	if (held == 0 || (held & NSHM_BCAST_EVICTED))
		return 0;
	/* RING-A5: a holder that closed cleared held first anyway. */
	if (atomic_load_explicit(&e->peer, memory_order_acquire) == 0)
		return 0;
	return held;
}

static uint64_t scan_min(struct nshm_ring *r, uint64_t n)
{
	uint32_t cap = cap_of(r), count;
	struct nshm_ring_role_entry *t = readers(r, &count);
	uint64_t min = n;

	for (uint32_t i = 0; i < count; i++) {
		uint64_t cur;

		if (active_token(&t[i]) == 0)
			continue;
		cur = cursor_of(&t[i], n, cap);
		if (n - cur > n - min)
			min = cur;
	}
	return min;
}

uint32_t nshm__bcast_room(struct nshm_ring *r)
{
	struct bcast_state *st = bst(r);
	uint64_t n = r->ppos, min;

	if (r->pcap == 0)
		return nshm__ring_misuse(r, NSHM_RING_PRODUCER);
	if (!st->bp) {
		r->phead = n; /* lossy: never full; back here in a lap */
		return 1;
	}
	/*
	 * RING-B9: pairs with the joining reader's fence: our tail store
	 * (commit) before the loads of the table below.
	 */
	atomic_thread_fence(memory_order_seq_cst);
	min = scan_min(r, n);
	r->phead = min;
	if (n - min < r->pcap) {
		st->blk_pos = 0;
		return 1;
	}
	if (st->blk_pos != n + 1) {
		st->blk_pos = n + 1;
		st->blk_since = nshm__now_ns();
	}
	return 0;
}

/*
 * Evict the readers that block the writer at ppos and are proven dead,
 * or (evict_ms) have blocked it that long. @return how many.
 */
static int evict(struct nshm_ring *r)
{
	struct bcast_state *st = bst(r);
	uint32_t cap = cap_of(r), count;
	struct nshm_ring_role_entry *t = readers(r, &count);
	uint64_t n = r->ppos, now = 0;
	int evicted = 0;

	if (!st->bp)
		return 0;
	for (uint32_t i = 0; i < count; i++) {
		struct nshm_ring_role_entry *e = &t[i];
		uint32_t tok = active_token(e);
		uint64_t id;
		int alive;
		bool slow = false;

		if (tok == 0 || n - cursor_of(e, n, cap) < cap)
			continue; /* not registered, or not in our way */
		/* RING-A5, as in claims. */
		id = atomic_load_explicit(&e->peer, memory_order_acquire);
		alive = id == 0 ? 0 : nshm__ring_holder_alive(r, id);
		if (alive == 1 && st->evict_ms != 0 && st->blk_pos == n + 1) {
			if (now == 0)
				now = nshm__now_ns();
			slow = now - st->blk_since >=
			       (uint64_t)st->evict_ms * 1000000u;
		}
		if (alive != 0 && !slow)
			continue; /* alive, or cannot tell: wait for it */
		/*
		 * Only the registration we saw: a newcomer that took a dead
		 * reader's entry stored a token of its own, so this fails.
		 */
		if (atomic_compare_exchange_strong_explicit(
			    &e->held, &tok, tok | NSHM_BCAST_EVICTED,
			    memory_order_acq_rel, memory_order_relaxed)) {
			evicted++;
			/* Relaxed: a statistic on our own entry. */
			atomic_fetch_add_explicit(&r->me->recovered, 1,
						  memory_order_relaxed);
		}
	}
	if (evicted > 0)
		/* An evicted reader parked for data learns it now. */
		nshm_event_notify(&r->sh->prod.ev);
	return evicted;
}

/* ---- ops: roles ------------------------------------------------------------ */

/*
 * The oldest message still readable at tail @p t: the slot of index t
 * (which held t - cap) is usually marked busy already by the last commit
 * (bits/ring_bcast.h), so t - cap + 1 once a lap has been written.
 */
static uint64_t oldest(uint64_t t, uint32_t cap)
{
	return t >= cap ? t - cap + 1 : 0;
}

static int writer_take(struct nshm_ring *r)
{
	struct nshm_ring_shared *sh = r->sh;
	uint32_t cap = cap_of(r);
	/* RING-B6 / RING-C1: a dead writer's stores are all visible. */
	uint64_t t = atomic_load_explicit(&sh->prod.index,
					  memory_order_acquire);

	/*
	 * A writer killed between publishing a slot and storing tail left
	 * tail one short: go on after what it published (no index twice).
	 */
	for (uint32_t k = 0; k < cap; k++, t++)
		/* RING-B4: as a reader loads it. */
		if (atomic_load_explicit(nshm__ring_seq(r, t),
					 memory_order_acquire) !=
		    NSHM_RING_SEQ(t))
			break;
	/* RING-B5: as a commit stores it. */
	atomic_store_explicit(&sh->prod.index, t, memory_order_release);
	r->ppos = t;
	r->reserved = 0; /* slot t not marked busy by us (ring_bcast.h) */
	r->phead = t - cap; /* the first reserve rescans */
	r->pcap = cap;
	r->tail_p = &sh->prod.index;
	r->data_ev = bst(r)->bp ? &sh->prod.ev.word : &r->sink_ev;
	return 0;
}

/* Register at @p c (from): cursor, token, then where we really start. */
static uint64_t reader_register(struct nshm_ring *r,
				struct nshm_ring_role_entry *e, uint32_t tok,
				int from, uint64_t resume_at, bool resumed)
{
	uint32_t cap = cap_of(r);
	/* RING-B6. */
	uint64_t t = atomic_load_explicit(&r->sh->prod.index,
					  memory_order_acquire);
	uint64_t c;

	/* Relaxed: published by the release store of held below. */
	atomic_store_explicit(&e->cursor, resumed ? resume_at : t,
			      memory_order_relaxed);
	atomic_store_explicit(&e->held, tok, memory_order_release);
	/*
	 * RING-B9: pairs with the writer's fence before its rescan. Either
	 * it sees us registered (at a cursor no later than the tail we
	 * load next), or we load a tail its cached minimum is not above.
	 */
	atomic_thread_fence(memory_order_seq_cst);
	t = atomic_load_explicit(&r->sh->prod.index, memory_order_acquire);
	if (resumed)
		c = resume_at - t <= (1ull << 62) && resume_at != t
			    ? t /* ahead of the writer: bogus, from now */
			    : resume_at;
	else
		c = from == NSHM_BCAST_FROM_OLDEST ? oldest(t, cap) : t;
	/* RING-B7: pairs with RING-B8 in the writer's rescan. */
	atomic_store_explicit(&e->cursor, c, memory_order_release);
	return c;
}

/*
 * FROM_LAST: the entry the last reader tagged @p tag left (closed, or
 * held by a dead process). If it is not the one the core gave us, take
 * it instead and hand ours back. @return 1 with *pos its cursor, or 0.
 */
static int resume_entry(struct nshm_ring *r, uint32_t tag, uint64_t *pos)
{
	struct nshm_ring_role_entry *mine = r->me, *t;
	uint64_t self = priv(r)->self;
	uint32_t count;

	/* Relaxed: only holders write their tag, at registration. */
	if (atomic_load_explicit(&mine->tag, memory_order_relaxed) == tag) {
		*pos = atomic_load_explicit(&mine->cursor,
					    memory_order_acquire);
		return 1;
	}
	t = readers(r, &count);
	for (uint32_t i = 0; i < count; i++) {
		struct nshm_ring_role_entry *e = &t[i];
		uint64_t cur;

		if (e == mine ||
		    atomic_load_explicit(&e->tag, memory_order_relaxed) != tag)
			continue;
		/* RING-A5, as in claims. */
		cur = atomic_load_explicit(&e->peer, memory_order_acquire);
		if (cur != 0 && nshm__ring_holder_alive(r, cur) != 0)
			continue; /* a live one (or cannot tell) uses it */
		/* RING-R5/A5: as a claim. */
		if (!atomic_compare_exchange_strong_explicit(
			    &e->peer, &cur, self, memory_order_acq_rel,
			    memory_order_acquire))
			continue;
		*pos = atomic_load_explicit(&e->cursor, memory_order_acquire);
		/* Relaxed: as entry_taken() in roles.c. */
		atomic_store_explicit(&e->pid, (uint32_t)getpid(),
				      memory_order_relaxed);
		atomic_fetch_add_explicit(&e->attaches, 1,
					  memory_order_relaxed);
		atomic_store_explicit(&e->state, NSHM_ROLE_ACTIVE,
				      memory_order_release);
		/* Hand back the entry the core claimed for us. */
		nshm__ring_unclaim(r, true);
		r->me = e;
		priv(r)->entry = (uint32_t)(e - role_table(r));
		return 1;
	}
	return 0;
}

static int reader_take(struct nshm_ring *r, int role, struct join j)
{
	struct nshm_ring_shared *sh = r->sh;
	struct bcast_state *st = bst(r);
	uint32_t cap = cap_of(r), tok;
	uint64_t pos = 0;
	int resumed = 0;

	r->ccap = cap;
	r->claimed = 0;
	st->resumed = 0;
	if (role == NSHM_RING_SUBSCRIBER) {
		/* RING-B6. */
		uint64_t t = atomic_load_explicit(&sh->prod.index,
						  memory_order_acquire);

		r->me = &nobody;
		r->cready = 0;
		r->cpos = j.from == NSHM_BCAST_FROM_OLDEST ? oldest(t, cap) : t;
		return 0;
	}
	if (!st->bp)
		return nshm__err(-EINVAL, "ring '%s' is lossy: it has no "
				 "registered readers (attach as "
				 "NSHM_RING_SUBSCRIBER)", priv(r)->name);
	if (j.from == NSHM_BCAST_FROM_LAST && j.tag != 0)
		resumed = resume_entry(r, j.tag, &pos);
	/* Relaxed: ours; readers of it load it relaxed (resume). */
	atomic_store_explicit(&r->me->tag, j.tag, memory_order_relaxed);
	tok = atomic_load_explicit(&r->me->attaches, memory_order_relaxed) &
	      ~NSHM_BCAST_EVICTED;
	if (tok == 0)
		tok = 1;
	r->cready = tok;
	r->head_p = &r->me->cursor;
	r->space_ev = &sh->cons.ev.word;
	r->cpos = reader_register(r, r->me, tok, j.from, pos, resumed != 0);
	st->resumed = (uint32_t)resumed;
	return 0;
}

static int bcast_take(struct nshm_ring *r, int role)
{
	struct bcast_state *st = bst(r);
	struct join j = join_next;

	join_next.from = NSHM_BCAST_FROM_NOW;
	join_next.tag = 0;
	memset(st, 0, sizeof(*st));
	st->bp = (priv(r)->cfg.seq_key & NSHM_BCAST_CFG_BP) != 0;
	st->evict_ms = (uint32_t)(priv(r)->cfg.seq_key &
				  NSHM_BCAST_CFG_EVICT_MS);
	r->seq_key = 0; /* the config's word is our policy, not a key */
	if (role == NSHM_RING_PRODUCER)
		return writer_take(r);
	return reader_take(r, role, j);
}

static void bcast_leave(struct nshm_ring *r)
{
	if (r->role == NSHM_RING_CONSUMER && r->me != NULL)
		/*
		 * Release: our last reads before the writer stops counting
		 * us. The cursor stays for a FROM_LAST successor.
		 */
		atomic_store_explicit(&r->me->held, 0, memory_order_release);
	r->claimed = 0;
}

/* ---- ops: waiting ------------------------------------------------------------ */

/*
 * Does seq word @p s of the slot of index @p c say "not written for c
 * yet"? Being written for c, the previous lap's message, or never
 * written (the first lap). Anything else (a later lap's value, garbage)
 * needs tail to tell.
 */
static bool not_yet(uint64_t s, uint64_t c, uint32_t cap)
{
	return s == NSHM_BCAST_BUSY(c) ||
	       (c >= cap ? s == NSHM_RING_SEQ(c - cap) : s == 0);
}

/* A reader: would a read return something other than "nothing new"? */
static int reader_ready(struct nshm_ring *r)
{
	uint64_t c = r->cpos, t, s;

	/* Relaxed: as in the fast path. */
	if (atomic_load_explicit(&r->me->held, memory_order_relaxed) !=
	    (uint32_t)r->cready)
		return 1;
	/* RING-B4. */
	s = atomic_load_explicit(nshm__ring_seq(r, c), memory_order_acquire);
	if (s == NSHM_RING_SEQ(c))
		return 1;
	if (not_yet(s, c, cap_of(r)))
		return 0; /* only our slot's line, as in the read step */
	/* RING-B6: tail may still be one short of what we read. */
	t = atomic_load_explicit(&r->sh->prod.index, memory_order_acquire);
	return t != c && t + 1 != c;
}

static int bcast_ready(struct nshm_ring *r)
{
	if (r->role == NSHM_RING_PRODUCER)
		return nshm__bcast_room(r) ? 1 : (r->err != 0 ? r->err : 0);
	return reader_ready(r);
}

static int bcast_unstick(struct nshm_ring *r)
{
	if (r->role == NSHM_RING_PRODUCER)
		evict(r);
	return 0;
}

static int bcast_recover(struct nshm_ring *r)
{
	return r->role == NSHM_RING_PRODUCER ? evict(r) : 0;
}

/* A subscriber, before it gives up waiting: is the writer gone? */
static int writer_gone(struct nshm_ring *r)
{
	struct nshm_ring_role_entry *e = &role_table(r)[0];
	/* RING-A5. */
	uint64_t id = atomic_load_explicit(&e->peer, memory_order_acquire);

	if (id == 0)
		/* RING-A6: pairs with RING-R6 in the writer's close. */
		return atomic_load_explicit(&e->state, memory_order_acquire) ==
				       NSHM_ROLE_CLOSED
			       ? nshm__err(-EPIPE, "ring '%s': the writer "
					   "closed", priv(r)->name)
			       : 0;
	if (nshm__ring_holder_alive(r, id) == 0 &&
	    atomic_load_explicit(&e->peer, memory_order_acquire) == id)
		return nshm__err(-NSHM_EPEERDEAD, "ring '%s': the writer "
				 "(pid %u) died", priv(r)->name,
				 atomic_load_explicit(&e->pid,
						      memory_order_relaxed));
	return 0; /* alive, or cannot tell from here */
}

/*
 * A subscriber cannot announce itself on the writer's event word (it maps
 * the ring read-only, and a lossy writer looks at no word a reader
 * writes): it polls, spinning first, then sleeping 50 us between looks.
 */
static int subscriber_wait(struct nshm_ring *r,
			   const struct timespec *deadline)
{
	const struct nshm_wait_strategy *ws = &priv(r)->ws;
	uint64_t left;

	for (uint32_t i = 0;; i++) {
		int gone;

		if (reader_ready(r))
			return 0;
		if (i < ws->spins) {
			nshm_cpu_relax();
			continue;
		}
		if (i < ws->spins + ws->yields) {
			sched_yield();
			continue;
		}
		if ((i & 63) == 0 && (gone = writer_gone(r)) != 0)
			/* What it published before it went is read first. */
			return reader_ready(r) ? 0 : gone;
		left = nshm__ns_until(deadline);
		if (left == 0)
			return reader_ready(r)
				       ? 0
				       : nshm__err(-ETIMEDOUT, "ring '%s': "
						   "nothing new at the "
						   "deadline", priv(r)->name);
		{
			struct timespec ts = { 0, left < 50000 ? (long)left
							       : 50000 };

			nanosleep(&ts, NULL);
		}
	}
}

int nshm__bcast_wait_readable(struct nshm_ring *r,
			      const struct timespec *deadline)
{
	if (r->role == NSHM_RING_SUBSCRIBER && !priv(r)->forked) {
		nshm__err_clear();
		return subscriber_wait(r, deadline);
	}
	return nshm_ring_wait_readable(r, deadline);
}

/* ---- the readers' out-of-line step ----------------------------------------- */

void nshm__bcast_misuse(struct nshm_ring *r, int want_role)
{
	nshm__ring_misuse(r, want_role);
}

/* Deliver index c (copied or in place): advance, tell the writer. */
static int delivered(struct nshm_ring *r, uint64_t c, uint64_t *missed)
{
	r->cpos = c + 1;
	/* RING-B7: pairs with RING-B8. */
	atomic_store_explicit(r->head_p, c + 1, memory_order_release);
	nshm__ring_notify(r, r->space_ev);
	if (missed != NULL)
		*missed = 0;
	return 1;
}

/*
 * Overrun: go on an eighth of the capacity ahead of the oldest index still
 * in the ring as of tail @p t. Not at the oldest itself: that is the slot
 * the writer overwrites next, so a reader slower than the writer would be
 * lapped again after every message or two (measured: 7000 laps against
 * 200 for 20 M messages with a reader a tenth as fast as the writer).
 */
static int lapped(struct nshm_ring *r, uint64_t t, uint64_t *missed)
{
	struct bcast_state *st = bst(r);
	uint32_t cap = cap_of(r);
	uint64_t c = r->cpos, to = t - cap + (cap + 7) / 8, n;

	if (to - c > (1ull << 62) || to == c)
		to = c + 1; /* at least the message we could not read */
	n = to - c;
	st->laps++;
	st->missed += n;
	r->cpos = to;
	r->claimed = 0;
	/* RING-B7: a back-pressured reader's new place frees the writer. */
	atomic_store_explicit(r->head_p, to, memory_order_release);
	nshm__ring_notify(r, r->space_ev);
	if (missed != NULL)
		*missed = n;
	return nshm__err(-NSHM_ELAPPED, "ring '%s': overrun by the writer "
			 "(tail %llu): %llu messages missed, reading on at "
			 "%llu", priv(r)->name, (unsigned long long)t,
			 (unsigned long long)n, (unsigned long long)to);
}

static int evicted_err(struct nshm_ring *r)
{
	r->claimed = 0;
	return nshm__err(-NSHM_EEVICTED, "ring '%s': the writer evicted "
			 "this reader (it kept the writer waiting longer "
			 "than %u ms); nshm_bcast_rejoin() to read on",
			 priv(r)->name, bst(r)->evict_ms);
}

static bool is_evicted(struct nshm_ring *r)
{
	/* Relaxed: as in the fast path. */
	return atomic_load_explicit(&r->me->held, memory_order_relaxed) !=
	       (uint32_t)r->cready;
}

int nshm__bcast_read_step(struct nshm_ring *r, void *out, const void **msg,
			  uint64_t *missed)
{
	uint32_t cap = cap_of(r);
	uint64_t c, t = 0, s1 = 0, s2;

	if (missed != NULL)
		*missed = 0;
	if (r->ccap == 0) {
		nshm__ring_misuse(r, NSHM_RING_CONSUMER);
		return r->err;
	}
	if (is_evicted(r))
		return evicted_err(r);
	c = r->cpos;
	for (int i = 0; i < STEP_TRIES; i++) {
		NSHM_ATOMIC(uint64_t) *sw = nshm__ring_seq(r, c);

		/* RING-B4: pairs with RING-B3. */
		s1 = atomic_load_explicit(sw, memory_order_acquire);
		if (s1 == NSHM_RING_SEQ(c)) {
			if (out == NULL) {
				*msg = nshm__ring_slot(r, c);
				r->claimed = 1;
				return 1;
			}
			memcpy(out, nshm__ring_slot(r, c), r->esize);
			/* RING-B2: pairs with RING-B1. */
			atomic_thread_fence(memory_order_acquire);
			s2 = atomic_load_explicit(sw, memory_order_relaxed);
			if (s2 == s1)
				return delivered(r, c, missed);
		} else if (not_yet(s1, c, cap)) {
			/*
			 * Caught up: the writer has not reached c. No look at
			 * tail, a line the writer stores for every message: a
			 * reader that waits polls only its slot's line, so
			 * waiting readers cost the writer nothing. The
			 * payload's lines come with the seq's (as SPSC does).
			 */
			for (uint32_t o = 0; o < r->esize && o < NSHM_RING_PREFETCH;
			     o += 64)
				__builtin_prefetch(nshm__ring_slot(r, c) + o,
						   0 /* read */, 3);
			return 0;
		}
		/* RING-B6: pairs with RING-B5: below t all was published. */
		t = atomic_load_explicit(&r->sh->prod.index,
					 memory_order_acquire);
		/*
		 * Nothing new, or being written now; or (t == c - 1) we read
		 * the last message before the writer stored tail after it.
		 */
		if (t == c || t + 1 == c)
			return 0;
		if (t - c > (1ull << 62)) {
			nshm__ring_count_corrupt(r);
			r->err = -NSHM_ECORRUPT;
			return nshm__err(-NSHM_ECORRUPT,
					 "ring '%s': tail %llu is behind this "
					 "reader's index %llu",
					 priv(r)->name, (unsigned long long)t,
					 (unsigned long long)c);
		}
		if (t - c >= cap) {
			if (is_evicted(r))
				return evicted_err(r);
			return lapped(r, t, missed);
		}
		/* Published, not yet reused: our seq load was stale. */
		nshm_cpu_relax();
	}
	nshm__ring_count_corrupt(r);
	r->err = -NSHM_ECORRUPT;
	return nshm__err(-NSHM_ECORRUPT,
			 "ring '%s': slot %u holds seq 0x%016llx, not index "
			 "%llu published (0x%016llx), though tail %llu is "
			 "past it",
			 priv(r)->name, (unsigned)(c & r->mask),
			 (unsigned long long)s1, (unsigned long long)c,
			 (unsigned long long)NSHM_RING_SEQ(c),
			 (unsigned long long)t);
}

int nshm__bcast_end_step(struct nshm_ring *r, uint64_t *missed)
{
	uint64_t t;

	if (missed != NULL)
		*missed = 0;
	if (r->ccap == 0) {
		nshm__ring_misuse(r, NSHM_RING_CONSUMER);
		return r->err;
	}
	if (r->claimed == 0)
		return nshm__err(-EINVAL, "ring '%s': read_end without a "
				 "read_begin that returned 1", priv(r)->name);
	r->claimed = 0;
	if (is_evicted(r))
		return evicted_err(r);
	/* RING-B6: the slot was reused, so tail is a lap past it. */
	t = atomic_load_explicit(&r->sh->prod.index, memory_order_acquire);
	return lapped(r, t, missed);
}

/* ---- ops: counters and checks ------------------------------------------------ */

static void bcast_stats(struct nshm_ring *r, struct nshm_ring_stats *st)
{
	struct bcast_state *b = bst(r);
	uint32_t cap = cap_of(r);

	/* RING-B6. */
	st->pushed = atomic_load_explicit(&r->sh->prod.index,
					  memory_order_acquire);
	st->popped = b->bp ? scan_min(r, st->pushed) : st->pushed;
	st->count = st->pushed - st->popped;
	if (st->count > cap)
		st->count = cap;
	st->laps = b->laps;
	st->missed = b->missed;
	/* Relaxed: statistics on the writer's entry. */
	st->evictions = atomic_load_explicit(&role_table(r)[0].recovered,
					     memory_order_relaxed);
}

static int bcast_check(struct nshm_ring *r, uint64_t head, uint64_t tail)
{
	(void)head;
	if (r->role == NSHM_RING_PRODUCER && tail != r->ppos)
		return nshm__err(-NSHM_ECORRUPT, "ring '%s': tail %llu, the "
				 "writer's index is %llu", priv(r)->name,
				 (unsigned long long)tail,
				 (unsigned long long)r->ppos);
	if ((r->role == NSHM_RING_CONSUMER ||
	     r->role == NSHM_RING_SUBSCRIBER) &&
	    tail + 1 - r->cpos > (1ull << 62))
		return nshm__err(-NSHM_ECORRUPT, "ring '%s': tail %llu is "
				 "behind this reader's index %llu",
				 priv(r)->name, (unsigned long long)tail,
				 (unsigned long long)r->cpos);
	return 0;
}

const struct ring_kind_ops nshm__bcast_ops = {
	.kind = NSHM_RING_BROADCAST,
	.stride = nshm__ring_line_stride,
	.check_params = bcast_check_params,
	.build = bcast_build,
	.config_ok = bcast_config_ok,
	.take = bcast_take,
	.leave = bcast_leave,
	.ready = bcast_ready,
	.unstick = bcast_unstick,
	.recover = bcast_recover,
	.stats = bcast_stats,
	.check = bcast_check,
	.fill_config = bcast_fill_config,
};

/* ---- the public calls ------------------------------------------------------ */

int nshm_bcast_attach(const char *name, const struct nshm_ring_type *type,
		      enum nshm_ring_role role, enum nshm_bcast_from from,
		      uint32_t tag, unsigned int flags, struct nshm_ring **out)
{
	int ret;

	nshm__err_clear();
	if ((unsigned)from > NSHM_BCAST_FROM_LAST)
		return nshm__err(-EINVAL, "unknown join position %d",
				 (int)from);
	if (role != NSHM_RING_CONSUMER &&
	    (tag != 0 || from == NSHM_BCAST_FROM_LAST))
		return nshm__err(-EINVAL, "only registered readers "
				 "(NSHM_RING_CONSUMER) have a tag or resume "
				 "FROM_LAST");
	join_next.from = (int)from;
	join_next.tag = tag;
	ret = nshm_ring_attach(name, NSHM_RING_BROADCAST, type, role, flags,
			       out);
	join_next.from = NSHM_BCAST_FROM_NOW;
	join_next.tag = 0;
	return ret;
}

static int reader_call(struct nshm_ring *r)
{
	nshm__err_clear();
	if (r == NULL)
		return nshm__err(-EINVAL, "ring handle is NULL");
	if (priv(r)->forked)
		return nshm__ring_forked_err(r);
	if (priv(r)->cfg.kind != NSHM_RING_BROADCAST)
		return nshm__err(-EPERM, "ring '%s' is no broadcast ring",
				 priv(r)->name);
	return 0;
}

int nshm_bcast_rejoin(struct nshm_ring *r, enum nshm_bcast_from from)
{
	int ret = reader_call(r);
	uint64_t t;

	if (ret != 0)
		return ret;
	if (from != NSHM_BCAST_FROM_NOW && from != NSHM_BCAST_FROM_OLDEST)
		return nshm__err(-EINVAL, "rejoin from NOW or OLDEST");
	r->claimed = 0;
	if (r->role == NSHM_RING_SUBSCRIBER) {
		/* RING-B6. */
		t = atomic_load_explicit(&r->sh->prod.index,
					 memory_order_acquire);
		r->cpos = from == NSHM_BCAST_FROM_OLDEST ? oldest(t, cap_of(r))
							 : t;
		return 0;
	}
	if (r->role != NSHM_RING_CONSUMER)
		return nshm__err(-EPERM, "ring '%s': rejoin needs a reader "
				 "handle", priv(r)->name);
	r->cpos = reader_register(r, r->me, (uint32_t)r->cready, (int)from, 0,
				  false);
	return 0;
}

int nshm_bcast_recover(struct nshm_ring *r)
{
	int ret = reader_call(r);

	if (ret != 0)
		return ret;
	if (r->role != NSHM_RING_PRODUCER)
		return nshm__err(-EPERM, "ring '%s': recover needs the "
				 "writer's handle", priv(r)->name);
	return evict(r);
}

int nshm_bcast_resumed(const struct nshm_ring *r)
{
	return r != NULL && priv(r)->cfg.kind == NSHM_RING_BROADCAST &&
	       bst(r)->resumed != 0;
}

/* ---- out-of-line copies of the inline data plane ---------------------- */

void *nshm_bcast_reserve_fn(struct nshm_ring *r)
{
	return nshm_bcast_reserve(r);
}

void nshm_bcast_commit_fn(struct nshm_ring *r)
{
	nshm_bcast_commit(r);
}

bool nshm_bcast_publish_fn(struct nshm_ring *r, const void *msg)
{
	return nshm_bcast_publish(r, msg);
}

int nshm_bcast_publish_wait_fn(struct nshm_ring *r, const void *msg,
			       const struct timespec *deadline)
{
	return nshm_bcast_publish_wait(r, msg, deadline);
}

int nshm_bcast_read_fn(struct nshm_ring *r, void *out, uint64_t *missed)
{
	return nshm_bcast_read(r, out, missed);
}

int nshm_bcast_read_wait_fn(struct nshm_ring *r, void *out, uint64_t *missed,
			    const struct timespec *deadline)
{
	return nshm_bcast_read_wait(r, out, missed, deadline);
}

int nshm_bcast_read_begin_fn(struct nshm_ring *r, const void **msg,
			     uint64_t *missed)
{
	return nshm_bcast_read_begin(r, msg, missed);
}

int nshm_bcast_read_end_fn(struct nshm_ring *r, uint64_t *missed)
{
	return nshm_bcast_read_end(r, missed);
}
