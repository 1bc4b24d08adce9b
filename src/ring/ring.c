/* SPDX-License-Identifier: MIT */
/*
 * Ring control plane: create/attach/validate/close, role ownership and
 * take-over, the blocking slow path (spin, yield, park on an event count,
 * peer liveness), counters, and out-of-line copies of the inline data plane.
 * The data plane itself is in include/nshm/bits/ring_spsc.h.
 */
#include <errno.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <nshm/ring.h>

#include "internal.h"
#include "ring/ring_internal.h"
#include "shm/seg_layout.h"
#include "sync/wait.h"

/* How long the creator may take to publish the ring header. */
#define RING_INIT_WAIT_NS (2ull * 1000000000u)
/* A committed slot whose seq word says otherwise this long: corrupt. */
#define RING_STUCK_NS (1000000000ull)

/* What stuck_slot() saw of the slot the consumer waits for. */
struct stuck {
	uint64_t pos;	/* the index it is about */
	uint64_t since; /* when it was first seen committed, unpublished */
	uint64_t seq;	/* its seq word then */
};

/* Cold, process-local state behind nshm_ring.priv. */
struct ring_priv {
	struct nshm_seg *seg;
	void *area;		     /* what nshm_seg_attach() returned */
	nshm_peer_t self;	     /* our participant id (0: observer) */
	pid_t pid;		     /* the process that took the role */
	bool forked;		     /* inherited by a fork()ed child */
	bool membarrier_ok;	     /* the waiter's membarrier works */
	struct stuck stuck;	     /* kept across blocking calls */
	struct nshm_wait_strategy ws;
	struct nshm_ring_config cfg; /* validated copy of the config line */
	struct nshm_ring *next;	     /* every open handle of this process */
	char name[NSHM_NAME_MAX + 4096 + 8];
};

void (*nshm__ring_test_hook)(struct nshm_ring *r, int point);

static void test_hook(struct nshm_ring *r, int point)
{
	void (*fn)(struct nshm_ring *, int) = nshm__ring_test_hook;

	if (nshm_unlikely(fn != NULL))
		fn(r, point);
}

static struct ring_priv *priv(const struct nshm_ring *r)
{
	return (struct ring_priv *)r->priv;
}

static const char *role_name(int role)
{
	switch (role) {
	case NSHM_RING_PRODUCER:
		return "producer";
	case NSHM_RING_CONSUMER:
		return "consumer";
	default:
		return "observer";
	}
}

static const char *kind_name(uint32_t kind)
{
	switch (kind) {
	case NSHM_RING_SPSC:
		return "spsc";
	case NSHM_RING_MPMC:
		return "mpmc";
	case NSHM_RING_BROADCAST:
		return "broadcast";
	case NSHM_RING_RECORDS:
		return "records";
	default:
		return "unknown";
	}
}

static bool is_pow2(uint64_t v)
{
	return v != 0 && (v & (v - 1)) == 0;
}

/* ---- type fingerprint ------------------------------------------------- */

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	while (n--) {
		h ^= *b++;
		h *= 0x100000001b3ull;
	}
	return h;
}

static uint64_t fnv_u32(uint64_t h, uint32_t v)
{
	unsigned char b[4] = { (unsigned char)v, (unsigned char)(v >> 8),
			       (unsigned char)(v >> 16),
			       (unsigned char)(v >> 24) };

	return fnv1a(h, b, sizeof(b));
}

uint64_t nshm_ring_type_fingerprint(const struct nshm_ring_type *t)
{
	const char *name;
	uint64_t h = 0xcbf29ce484222325ull;

	if (t == NULL)
		return 0;
	name = t->name ? t->name : "";
	/* Little-endian byte order, fixed: the same in every build. */
	h = fnv1a(h, name, strlen(name) + 1);
	h = fnv_u32(h, t->version);
	h = fnv_u32(h, t->size);
	h = fnv_u32(h, t->align);
	/* Only types with a seq field hash it: older fingerprints stand. */
	if (t->flags & NSHM_RING_TYPE_SEQ_FIELD) {
		h = fnv_u32(h, t->flags);
		h = fnv_u32(h, t->seq_offset);
	}
	return h;
}

/* ---- argument checks -------------------------------------------------- */

static int check_type(const struct nshm_ring_type *t)
{
	if (t == NULL)
		return nshm__err(-EINVAL, "element type is NULL");
	if (t->size == 0)
		return nshm__err(-EINVAL, "element size is 0");
	if (t->size > NSHM_RING_ELEM_MAX)
		return nshm__err(-EINVAL,
				 "element size %u exceeds NSHM_RING_ELEM_MAX "
				 "(%u bytes)",
				 t->size, NSHM_RING_ELEM_MAX);
	if (!is_pow2(t->align) || t->align > NSHM_RING_ALIGN_MAX)
		return nshm__err(-EINVAL,
				 "element alignment %u is not a power of two "
				 "<= %u",
				 t->align, NSHM_RING_ALIGN_MAX);
	if (t->size % t->align != 0)
		return nshm__err(-EINVAL,
				 "element size %u is not a multiple of its "
				 "alignment %u",
				 t->size, t->align);
	if (t->flags & ~NSHM_RING_TYPE_SEQ_FIELD)
		return nshm__err(-EINVAL, "unknown element type flags 0x%x "
				 "(allowed: NSHM_RING_TYPE_SEQ_FIELD)",
				 t->flags & ~NSHM_RING_TYPE_SEQ_FIELD);
	if (!(t->flags & NSHM_RING_TYPE_SEQ_FIELD)) {
		if (t->seq_offset != 0)
			return nshm__err(-EINVAL,
					 "seq_offset %u is set but the type has "
					 "no NSHM_RING_TYPE_SEQ_FIELD flag",
					 t->seq_offset);
		return 0;
	}
	if (t->align < 8 || t->seq_offset % 8 != 0 || t->size < 8 ||
	    t->seq_offset > t->size - 8)
		return nshm__err(-EINVAL,
				 "the ring's seq field must be 8 bytes at an "
				 "offset that is a multiple of 8, inside an "
				 "element aligned to 8 or more (offset %u, "
				 "size %u, align %u)",
				 t->seq_offset, t->size, t->align);
	return 0;
}

static int check_role(int role)
{
	if (role != NSHM_RING_OBSERVER && role != NSHM_RING_PRODUCER &&
	    role != NSHM_RING_CONSUMER)
		return nshm__err(-EINVAL, "unknown ring role %d", role);
	return 0;
}

static uint64_t slots_offset(uint32_t align)
{
	return align > NSHM_RING_HDR_SIZE ? align : NSHM_RING_HDR_SIZE;
}

/* Where a trailing seq word sits: right after the payload, 8-aligned. */
static uint32_t trailing_seq_off(uint32_t size)
{
	return (size + 7u) & ~7u;
}

/*
 * Slot stride of layout version 3: payload, pad to 8, the 64-bit seq word
 * (only the payload when the seq is a field of the element: @p elem_seq);
 * up to 64 bytes rounded to a power of two (16, 32, 64), so such a slot never
 * straddles a cache line. Above 64, to whole lines when that pads at most
 * 1/8 (payloads of ~450 bytes and up: line-aligned copies, no line shared by
 * two slots), else only to 8: for 64 or 256-byte payloads line rounding
 * would move 128 or 320 bytes per message instead of 72 or 264 (measured:
 * throughput 0.7x instead of 1.1x at 256 B). Then to the element alignment.
 * @p size <= NSHM_RING_ELEM_MAX, @p align <= NSHM_RING_ALIGN_MAX: no
 * overflow.
 */
static uint32_t slot_stride(uint32_t size, uint32_t align, bool elem_seq)
{
	uint32_t s = elem_seq ? size : trailing_seq_off(size) + 8u;
	uint32_t a = align > 8u ? align : 8u;
	uint32_t lines = (s + NSHM_CACHELINE - 1u) & ~(NSHM_CACHELINE - 1u);

	if (s <= NSHM_CACHELINE) {
		uint32_t p = 16u;

		while (p < s)
			p <<= 1;
		s = p;
	} else if (lines - s <= s / 8u && a < NSHM_CACHELINE) {
		a = NSHM_CACHELINE;
	}
	return (s + a - 1u) & ~(a - 1u);
}

/* ---- every handle of this process, for fork() -------------------------- */

static pthread_mutex_t handles_lock = PTHREAD_MUTEX_INITIALIZER;
static struct nshm_ring *handles;

static void handles_add(struct nshm_ring *r)
{
	pthread_mutex_lock(&handles_lock);
	priv(r)->next = handles;
	handles = r;
	pthread_mutex_unlock(&handles_lock);
}

static void handles_del(struct nshm_ring *r)
{
	pthread_mutex_lock(&handles_lock);
	for (struct nshm_ring **pp = &handles; *pp; pp = &priv(*pp)->next) {
		if (*pp == r) {
			*pp = priv(r)->next;
			break;
		}
	}
	pthread_mutex_unlock(&handles_lock);
}

static void atfork_prepare(void)
{
	pthread_mutex_lock(&handles_lock);
}

static void atfork_parent(void)
{
	pthread_mutex_unlock(&handles_lock);
}

/*
 * A child inherits its parent's handles, but not their roles: the role is
 * the parent's (its participant id, its liveness token), and the parent
 * goes on using it. Disarm the child's copies so that every data-plane
 * call falls into the misuse path (-NSHM_EFORKED, no shared store): the
 * fast path's capacity fields become 0, its index and event pointers the
 * handle's own sinks. nshm_ring_close() in the child only unmaps.
 */
static void atfork_child(void)
{
	for (struct nshm_ring *r = handles; r; r = priv(r)->next) {
		priv(r)->forked = true;
		r->pcap = 0;
		r->ccap = 0;
		r->tail_p = &r->sink;
		r->head_p = &r->sink;
		r->data_ev = &r->sink_ev;
		r->space_ev = &r->sink_ev;
	}
	pthread_mutex_unlock(&handles_lock);
}

__attribute__((constructor)) static void ring_ctor(void)
{
	pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

/* Bump the ring's corruption counter, unless we may not write (observer). */
static void count_corrupt(struct nshm_ring *r)
{
	if (r->role == NSHM_RING_PRODUCER || r->role == NSHM_RING_CONSUMER)
		/* Relaxed: a statistic. */
		atomic_fetch_add_explicit(&r->sh->ctl.corrupt_seen, 1,
					  memory_order_relaxed);
}

static int forked_err(const struct nshm_ring *r)
{
	return nshm__err(-NSHM_EFORKED, "ring '%s': this handle was "
			 "inherited across fork() from pid %ld; its %s role "
			 "stays with that process (close it here, or attach "
			 "anew)", priv(r)->name, (long)priv(r)->pid,
			 role_name((int)r->role));
}

/* ---- the cold halves of the fast path --------------------------------- */

uint32_t nshm__ring_misuse(struct nshm_ring *r, int want_role)
{
	if (priv(r)->forked) {
		if (r->err == 0)
			r->err = -NSHM_EFORKED;
		forked_err(r);
		return 0;
	}
	if (r->err == 0)
		r->err = -EPERM;
	nshm__err(-EPERM, "%s call on a %s handle of ring '%s'",
		  role_name(want_role), role_name((int)r->role),
		  priv(r)->name);
	return 0;
}

uint32_t nshm__ring_corrupt(struct nshm_ring *r, uint64_t seen)
{
	r->err = -NSHM_ECORRUPT;
	count_corrupt(r);
	if (r->role == NSHM_RING_PRODUCER)
		nshm__err(-NSHM_ECORRUPT,
			  "ring '%s': head %llu is not within %u of our "
			  "tail %llu",
			  priv(r)->name, (unsigned long long)seen, r->pcap,
			  (unsigned long long)r->ppos);
	else
		nshm__err(-NSHM_ECORRUPT,
			  "ring '%s': tail %llu is not within %u of our "
			  "head %llu",
			  priv(r)->name, (unsigned long long)seen, r->ccap,
			  (unsigned long long)r->cpos);
	return 0;
}

uint32_t nshm__ring_corrupt_seq(struct nshm_ring *r, uint64_t pos,
				uint64_t seq)
{
	r->err = -NSHM_ECORRUPT;
	count_corrupt(r);
	nshm__err(-NSHM_ECORRUPT,
		  "ring '%s': slot %u holds seq 0x%016llx: neither index "
		  "%llu published (0x%016llx) nor not yet",
		  priv(r)->name, (unsigned)(pos & r->mask),
		  (unsigned long long)seq, (unsigned long long)pos,
		  (unsigned long long)nshm__ring_seq_pub(r, pos));
	return 0;
}

void nshm__ring_wake(struct nshm_ring *r, _Atomic(uint32_t) *ev)
{
	struct nshm_ring_side *own = r->role == NSHM_RING_PRODUCER
					     ? &r->sh->prod
					     : &r->sh->cons;

	if (ev == &r->sink_ev)
		return;
	/* Our caller already ordered (E1) and saw WAITERS. */
	nshm_event_notify_slow((struct nshm_event *)ev);
	/* Slow path; only this side writes its counters. */
	atomic_fetch_add_explicit(&own->wakeups, 1, memory_order_relaxed);
}

/* ---- role ownership ---------------------------------------------------- */

/* The shared words of @role: who holds it, its state, its pid. */
struct role_words {
	_Atomic(uint64_t) *peer;
	_Atomic(uint32_t) *state;
	_Atomic(uint32_t) *pid;
};

static struct role_words role_words(struct nshm_ring_ctl *ctl, int role)
{
	if (role == NSHM_RING_PRODUCER)
		return (struct role_words){ &ctl->producer_peer,
					    &ctl->producer_state,
					    &ctl->producer_pid };
	return (struct role_words){ &ctl->consumer_peer, &ctl->consumer_state,
				    &ctl->consumer_pid };
}

/* Can @id name a participant at all? (Else it names nobody: free.) */
static bool peer_id_valid(uint64_t id)
{
	return (uint32_t)id < NSHM_PEER_MAX && (id >> 32) != 0;
}

/*
 * Take the role's word. A holder is displaced only on proof of death:
 * nshm_peer_alive() == 0, or an id that cannot name any participant. When
 * liveness cannot tell (a negative answer), the role stays where it is and
 * the caller gets that error: a live holder must never lose its role.
 */
static int claim_role(struct nshm_ring *r, int role)
{
	struct role_words w = role_words(&r->sh->ctl, role);

	for (int tries = 0; tries < 1000; tries++) {
		/* RING-A5: pairs with RING-R5, the CAS of the last holder. */
		uint64_t cur = atomic_load_explicit(w.peer, memory_order_acquire);

		if (cur != 0 && peer_id_valid(cur)) {
			int alive = nshm_peer_alive(priv(r)->area, cur);

			if (alive == 1)
				return nshm__err(
					-EBUSY,
					"ring '%s' already has a live %s "
					"(pid %u)",
					priv(r)->name, role_name(role),
					atomic_load_explicit(
						w.pid, memory_order_relaxed));
			if (alive < 0)
				return nshm__err(
					alive,
					"ring '%s': cannot tell whether its "
					"%s (pid %u) is alive, so it is not "
					"taken over: %s",
					priv(r)->name, role_name(role),
					atomic_load_explicit(
						w.pid, memory_order_relaxed),
					nshm_strerror(alive));
			/* Proven dead: take over. */
		}
		/*
		 * RING-R5/A5, acq_rel: acquire what a holder that closed
		 * published; release our later stores to whoever claims
		 * after us. A dead holder's own stores are ordered by the
		 * kernel dropping its liveness token, which
		 * nshm_peer_alive() observed (RING-C1).
		 */
		if (atomic_compare_exchange_strong_explicit(
			    w.peer, &cur, priv(r)->self, memory_order_acq_rel,
			    memory_order_acquire))
			return 0;
	}
	return nshm__err(-EBUSY, "ring '%s': %s role keeps changing hands",
			 priv(r)->name, role_name(role));
}

/*
 * Give the role back. @closed: a clean close, which says CLOSED first and
 * then clears the role word, both before the detach frees our participant
 * slot: so a waiter that finds our slot gone also finds the role word no
 * longer ours, and tells a close from a death (peer_check()).
 */
static void unclaim_role(struct nshm_ring *r, int role, bool closed)
{
	struct role_words w = role_words(&r->sh->ctl, role);
	uint64_t self = priv(r)->self;

	if (closed)
		/*
		 * RING-R6: pairs with RING-A6 in peer_check(): everything we
		 * published (seq, head) is visible to a waiter that sees
		 * CLOSED (or the cleared role word after it, RING-R5).
		 */
		atomic_store_explicit(w.state, NSHM_ROLE_CLOSED,
				      memory_order_release);
	/* RING-R5: only if it is still ours (a taker-over replaced us). */
	atomic_compare_exchange_strong_explicit(w.peer, &self, 0,
						memory_order_acq_rel,
						memory_order_relaxed);
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
 * Take @role: claim it, then load the indices, bound them, and set up the
 * fast-path fields. The other role's fields stay zero / point at the sink.
 */
static int take_role(struct nshm_ring *r, int role)
{
	struct nshm_ring_shared *sh = r->sh;
	struct nshm_ring_ctl *ctl = &sh->ctl;
	uint32_t cap = r->mask + 1;
	uint64_t head, tail;
	int ret;

	if (role == NSHM_RING_OBSERVER)
		return 0;
	ret = claim_role(r, role);
	if (ret != 0)
		return ret;

	/*
	 * Acquire both: the previous holder of either role may have died; we
	 * see every index it published.
	 */
	tail = atomic_load_explicit(&sh->prod.index, memory_order_acquire);
	head = atomic_load_explicit(&sh->cons.index, memory_order_acquire);
	if (tail - head > cap) {
		unclaim_role(r, role, false);
		atomic_fetch_add_explicit(&ctl->corrupt_seen, 1,
					  memory_order_relaxed);
		return nshm__err(-NSHM_ECORRUPT,
				 "ring '%s': tail %llu and head %llu are more "
				 "than the capacity %u apart",
				 priv(r)->name, (unsigned long long)tail,
				 (unsigned long long)head, cap);
	}

	r->fence = nshm__membarrier_register() ? 0 : 1;
	priv(r)->pid = getpid();
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
		atomic_store_explicit(&ctl->producer_pid, (uint32_t)getpid(),
				      memory_order_relaxed);
		atomic_fetch_add_explicit(&ctl->producer_attaches, 1,
					  memory_order_relaxed);
		atomic_store_explicit(&ctl->producer_state, NSHM_ROLE_ACTIVE,
				      memory_order_release);
	} else {
		r->cpos = head;
		r->cready = head;
		r->ccap = cap;
		r->head_p = &sh->cons.index;
		r->space_ev = &sh->cons.ev.word;
		atomic_store_explicit(&ctl->consumer_pid, (uint32_t)getpid(),
				      memory_order_relaxed);
		atomic_fetch_add_explicit(&ctl->consumer_attaches, 1,
					  memory_order_relaxed);
		atomic_store_explicit(&ctl->consumer_state, NSHM_ROLE_ACTIVE,
				      memory_order_release);
	}
	r->role = (uint32_t)role;
	return 0;
}

/* ---- handles ---------------------------------------------------------- */

/* Keep the detail of a failure across the cleanup calls that clear it. */
#define save_err(buf) snprintf(buf, sizeof(buf), "%s", nshm_errdetail())

static struct nshm_ring *handle_new(const char *name)
{
	struct nshm_ring *r;
	struct ring_priv *p;

	r = aligned_alloc(NSHM_LINE_PAIR, sizeof(*r) + NSHM_LINE_PAIR -
						  sizeof(*r) % NSHM_LINE_PAIR);
	if (r == NULL)
		return NULL;
	memset(r, 0, sizeof(*r));
	p = calloc(1, sizeof(*p));
	if (p == NULL) {
		free(r);
		return NULL;
	}
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->ws.spins = NSHM_WAIT_SPINS_DEFAULT;
	p->ws.yields = NSHM_WAIT_YIELDS_DEFAULT;
	p->membarrier_ok = true;
	r->priv = p;
	r->role = NSHM_RING_OBSERVER;
	r->tail_p = &r->sink;
	r->head_p = &r->sink;
	r->data_ev = &r->sink_ev;
	r->space_ev = &r->sink_ev;
	return r;
}

static void handle_free(struct nshm_ring *r)
{
	free(r->priv);
	free(r);
}

/* Point the handle at a validated mapping. */
static int handle_bind(struct nshm_ring *r, struct nshm_seg *seg, void *area,
		       const struct nshm_ring_config *cfg, bool writable)
{
	struct ring_priv *p = priv(r);
	int ret;

	p->seg = seg;
	p->area = area;
	p->cfg = *cfg;
	r->sh = area;
	r->slots = (unsigned char *)area + cfg->slots_off;
	r->mask = cfg->capacity - 1;
	r->stride = cfg->slot_stride;
	r->esize = cfg->elem_size;
	r->seq_off = cfg->seq_off; /* validated (seq_off_ok()) */
	r->seq_key = cfg->seq_key;
	r->waiter_mb = 1;
	if (!writable)
		return 0; /* an observer: no participant, no id */
	ret = nshm_peer_self(area, &p->self);
	if (ret != 0)
		return nshm__err(ret, "ring '%s': no participant id for this "
				 "mapping", p->name);
	return 0;
}

/* ---- create ----------------------------------------------------------- */

/* A random key for element seqs (see ring_layout.h): bit 63 clear. */
static uint64_t new_seq_key(void)
{
	uint64_t k;

	if (getrandom(&k, sizeof(k), GRND_NONBLOCK) != (ssize_t)sizeof(k))
		k = nshm__now_ns() * 0x9e3779b97f4a7c15ull ^
		    ((uint64_t)getpid() << 32);
	return k & ~NSHM_RING_SEQ_PUB;
}

/*
 * nshm__seg_create_init()'s callback: write the ring header into the new,
 * zero-filled area of @p size bytes before the segment's name appears.
 */
static int ring_build(void *area, size_t size, void *arg)
{
	const struct nshm_ring_config *cfg = arg;
	struct nshm_ring_shared *sh = area;

	if (size < cfg->area_size)
		return nshm__err(-EINVAL, "ring area of %zu bytes, %llu needed",
				 size, (unsigned long long)cfg->area_size);
	memcpy(&sh->config, cfg, sizeof(*cfg));
	nshm_event_init(&sh->prod.ev);
	nshm_event_init(&sh->cons.ev);
	/*
	 * RING-R0: pairs with RING-A0 in wait_ready(). Nobody can see the
	 * ring before the segment layer publishes it (SEG- pairs), so READY
	 * is set here, last, as a second line of defence: a ring that is
	 * not READY in a published segment is refused.
	 */
	atomic_store_explicit(&sh->ctl.state, NSHM_RING_READY,
			      memory_order_release);
	return 0;
}

int nshm_ring_create(const char *name, enum nshm_ring_kind kind,
		     const struct nshm_ring_type *type, uint32_t capacity,
		     enum nshm_ring_role role, unsigned int flags,
		     unsigned int mode, struct nshm_ring **out)
{
	struct nshm_ring_config cfg;
	char why[512];
	struct nshm_ring *r;
	struct nshm_seg *seg = NULL;
	void *area = NULL;
	const char *tname;
	uint64_t bytes;
	uint32_t stride;
	bool elem_seq;
	int ret;

	nshm__err_clear();
	if (name == NULL || out == NULL)
		return nshm__err(-EINVAL, "ring name or out pointer is NULL");
	if (kind == NSHM_RING_MPMC || kind == NSHM_RING_BROADCAST ||
	    kind == NSHM_RING_RECORDS)
		return nshm__err(-EOPNOTSUPP, "ring kind %s is not "
				 "implemented yet", kind_name(kind));
	if (kind != NSHM_RING_SPSC)
		return nshm__err(-EINVAL, "unknown ring kind %d", (int)kind);
	ret = check_type(type);
	if (ret != 0)
		return ret;
	ret = check_role((int)role);
	if (ret != 0)
		return ret;
	if (capacity == 0 || !is_pow2(capacity))
		return nshm__err(-EINVAL,
				 "capacity %u is not a power of two >= 1",
				 capacity);
	if (capacity > NSHM_RING_CAPACITY_MAX)
		return nshm__err(-EINVAL,
				 "capacity %u exceeds NSHM_RING_CAPACITY_MAX "
				 "(%u)",
				 capacity, NSHM_RING_CAPACITY_MAX);
	if (flags & ~(unsigned int)NSHM_RING_CREATE_FLAGS)
		return nshm__err(-EINVAL,
				 "unknown ring create flags 0x%x (allowed: "
				 "NSHM_HUGEPAGES, NSHM_PREFAULT, NSHM_MLOCK)",
				 flags & ~(unsigned int)NSHM_RING_CREATE_FLAGS);
	elem_seq = (type->flags & NSHM_RING_TYPE_SEQ_FIELD) != 0;
	stride = slot_stride(type->size, type->align, elem_seq);
	if ((uint64_t)capacity * stride > NSHM_RING_BYTES_MAX)
		return nshm__err(-EFBIG,
				 "%u slots of %u bytes (element and sequence "
				 "word) exceed NSHM_RING_BYTES_MAX (1 TiB)",
				 capacity, stride);

	tname = type->name ? type->name : "";
	memset(&cfg, 0, sizeof(cfg));
	cfg.magic = NSHM_RING_MAGIC;
	cfg.version = NSHM_RING_VERSION;
	cfg.kind = (uint32_t)kind;
	cfg.capacity = capacity;
	cfg.elem_size = type->size;
	cfg.elem_align = type->align;
	cfg.type_version = type->version;
	cfg.type_fp = nshm_ring_type_fingerprint(type);
	cfg.slots_off = slots_offset(type->align);
	cfg.slot_stride = stride;
	cfg.seq_off = elem_seq ? type->seq_offset
			       : trailing_seq_off(type->size);
	if (elem_seq) {
		cfg.flags = NSHM_RING_CFG_ELEM_SEQ;
		cfg.seq_key = new_seq_key();
	}
	bytes = cfg.slots_off + (uint64_t)capacity * cfg.slot_stride;
	cfg.area_size = bytes;
	snprintf(cfg.type_name, sizeof(cfg.type_name), "%s", tname);
	cfg.crc = nshm__crc32c(&cfg, offsetof(struct nshm_ring_config, crc));

	r = handle_new(name);
	if (r == NULL)
		return nshm__err(-ENOMEM, "out of memory for a ring handle");

	/*
	 * Published whole, as a segment is: the ring header is written before
	 * the name appears, so a creator killed at any point leaves no name
	 * (POSIX, file) or one the segment layer reports and replaces (SysV),
	 * never a name that is not a valid ring.
	 */
	ret = nshm__seg_create_init(name, (size_t)bytes, flags, mode, ring_build,
				    &cfg, &seg, &area);
	if (ret != 0)
		goto err_free; /* keeps the segment layer's detail */
	if (role == NSHM_RING_OBSERVER) {
		/* An observer keeps only a read-only view (it writes nothing). */
		void *ro;

		ret = nshm_seg_attach(seg, NSHM_READONLY |
					      (flags & (NSHM_PREFAULT |
							NSHM_MLOCK)), &ro);
		if (ret != 0)
			goto err_detach;
		nshm_seg_detach(seg, area);
		area = ro;
	}
	ret = handle_bind(r, seg, area, &cfg, role != NSHM_RING_OBSERVER);
	if (ret == 0)
		ret = take_role(r, (int)role);
	if (ret != 0)
		goto err_detach;
	handles_add(r);
	*out = r;
	return 0;

err_detach:
	save_err(why);
	nshm_seg_detach(seg, area);
	nshm_seg_close(seg);
	nshm_seg_delete(name);
	handle_free(r);
	return nshm__err(ret, "%s", why);
err_free:
	handle_free(r);
	return ret;
}

/* ---- attach ----------------------------------------------------------- */

/* RING-A0: wait until the creator published the config (RING-R0). */
static int wait_ready(struct nshm_ring_shared *sh, const char *name)
{
	struct timespec deadline;
	uint32_t s;

	nshm_deadline_in(&deadline, RING_INIT_WAIT_NS);
	for (;;) {
		s = atomic_load_explicit(&sh->ctl.state, memory_order_acquire);
		if (s == NSHM_RING_READY)
			return 0;
		if (s != NSHM_RING_INIT)
			return nshm__err(-NSHM_ECORRUPT,
					 "ring '%s': init state word is %u",
					 name, s);
		if (nshm_futex_wait(&sh->ctl.state, NSHM_RING_INIT,
				    &deadline) == -ETIMEDOUT)
			return nshm__err(-ETIMEDOUT,
					 "ring '%s': the creator never "
					 "finished the ring header (died while "
					 "creating?); delete and recreate it",
					 name);
	}
}

/*
 * The seq word lies inside the slot, 8-aligned: after the payload with key
 * 0, or inside an 8-aligned element with a key whose bit 63 is clear.
 */
static bool seq_off_ok(const struct nshm_ring_config *c)
{
	if (!(c->flags & NSHM_RING_CFG_ELEM_SEQ))
		return c->seq_off == trailing_seq_off(c->elem_size) &&
		       c->seq_key == 0;
	return c->elem_align >= 8 && c->elem_size >= 8 &&
	       c->seq_off % 8 == 0 && c->seq_off <= c->elem_size - 8 &&
	       (c->seq_key & NSHM_RING_SEQ_PUB) == 0;
}

static void seq_field_str(char *buf, size_t len, bool elem_seq, uint32_t off)
{
	if (elem_seq)
		snprintf(buf, len, "seq field at %u", off);
	else
		snprintf(buf, len, "no seq field");
}

static int validate_config(const struct nshm_ring_config *c, size_t seg_size,
			   enum nshm_ring_kind kind,
			   const struct nshm_ring_type *type, const char *name)
{
	bool t_seq, c_seq;
	uint64_t fp;

	if (c->magic != NSHM_RING_MAGIC)
		return nshm__err(-NSHM_EKIND,
				 "segment '%s' is not a ring (magic 0x%08x)",
				 name, c->magic);
	if (c->version != NSHM_RING_VERSION)
		return nshm__err(-EPROTO,
				 "ring '%s' has layout version %u, this "
				 "library speaks %u",
				 name, c->version, NSHM_RING_VERSION);
	if (nshm__crc32c(c, offsetof(struct nshm_ring_config, crc)) != c->crc)
		return nshm__err(-NSHM_ECORRUPT,
				 "ring '%s': config checksum mismatch", name);
	if (c->kind < NSHM_RING_SPSC || c->kind > NSHM_RING_RECORDS ||
	    !is_pow2(c->capacity) || c->capacity > NSHM_RING_CAPACITY_MAX ||
	    c->elem_size == 0 || c->elem_size > NSHM_RING_ELEM_MAX ||
	    !is_pow2(c->elem_align) || c->elem_align > NSHM_RING_ALIGN_MAX ||
	    c->elem_size % c->elem_align != 0 ||
	    c->slots_off != slots_offset(c->elem_align) ||
	    (c->flags & ~NSHM_RING_CFG_ELEM_SEQ) != 0 ||
	    c->slot_stride != slot_stride(c->elem_size, c->elem_align,
					  c->flags & NSHM_RING_CFG_ELEM_SEQ) ||
	    !seq_off_ok(c) || c->reserved0 != 0 ||
	    c->area_size !=
		    c->slots_off + (uint64_t)c->capacity * c->slot_stride ||
	    memchr(c->type_name, '\0', sizeof(c->type_name)) == NULL)
		return nshm__err(-NSHM_ECORRUPT,
				 "ring '%s': config fields are inconsistent "
				 "(capacity %u, element %u/%u, slots at %llu, "
				 "size %llu)",
				 name, c->capacity, c->elem_size,
				 c->elem_align,
				 (unsigned long long)c->slots_off,
				 (unsigned long long)c->area_size);
	if (c->area_size > seg_size)
		return nshm__err(-NSHM_ETRUNCATED,
				 "ring '%s' needs %llu bytes, its segment has "
				 "%zu",
				 name, (unsigned long long)c->area_size,
				 seg_size);
	if (kind != NSHM_RING_KIND_ANY && c->kind != (uint32_t)kind)
		return nshm__err(-NSHM_EKIND,
				 "ring '%s' is a %s ring, attached as %s",
				 name, kind_name(c->kind), kind_name(kind));
	if (type == NULL)
		return 0;
	fp = nshm_ring_type_fingerprint(type);
	t_seq = (type->flags & NSHM_RING_TYPE_SEQ_FIELD) != 0;
	c_seq = (c->flags & NSHM_RING_CFG_ELEM_SEQ) != 0;
	if (fp != c->type_fp || type->size != c->elem_size ||
	    type->align != c->elem_align || type->version != c->type_version ||
	    t_seq != c_seq || (t_seq && type->seq_offset != c->seq_off)) {
		char want[32], got[32];

		seq_field_str(want, sizeof(want), c_seq, c->seq_off);
		seq_field_str(got, sizeof(got), t_seq, type->seq_offset);
		return nshm__err(-NSHM_ETYPE,
				 "ring '%s' holds '%s' v%u (%u bytes, align "
				 "%u, %s, fingerprint %016llx); attached as "
				 "'%s' v%u (%u bytes, align %u, %s, "
				 "fingerprint %016llx)",
				 name, c->type_name, c->type_version,
				 c->elem_size, c->elem_align, want,
				 (unsigned long long)c->type_fp,
				 type->name ? type->name : "", type->version,
				 type->size, type->align, got,
				 (unsigned long long)fp);
	}
	return 0;
}

int nshm_ring_attach(const char *name, enum nshm_ring_kind kind,
		     const struct nshm_ring_type *type,
		     enum nshm_ring_role role, unsigned int flags,
		     struct nshm_ring **out)
{
	struct nshm_ring_config cfg;
	struct nshm_ring *r;
	struct nshm_seg *seg = NULL;
	void *area = NULL;
	char why[512];
	size_t size;
	int ret;

	nshm__err_clear();
	if (name == NULL || out == NULL)
		return nshm__err(-EINVAL, "ring name or out pointer is NULL");
	ret = check_role((int)role);
	if (ret != 0)
		return ret;
	if ((unsigned int)kind > NSHM_RING_RECORDS)
		return nshm__err(-EINVAL, "unknown ring kind %d", (int)kind);
	if (role != NSHM_RING_OBSERVER &&
	    (kind == NSHM_RING_KIND_ANY || type == NULL))
		return nshm__err(-EINVAL,
				 "a %s must name the ring kind and element "
				 "type (only observers may pass ANY/NULL)",
				 role_name((int)role));
	if (type != NULL && (ret = check_type(type)) != 0)
		return ret;
	if (flags & ~(unsigned int)NSHM_RING_ATTACH_FLAGS)
		return nshm__err(-EINVAL,
				 "unknown ring attach flags 0x%x (allowed: "
				 "NSHM_PREFAULT, NSHM_MLOCK, "
				 "NSHM_ALLOW_OTHER_OWNER)",
				 flags & ~(unsigned int)NSHM_RING_ATTACH_FLAGS);

	r = handle_new(name);
	if (r == NULL)
		return nshm__err(-ENOMEM, "out of memory for a ring handle");
	ret = nshm_seg_open(name, 0, flags & NSHM_ALLOW_OTHER_OWNER, 0, &seg);
	if (ret != 0)
		goto err_free;
	size = nshm_seg_size(seg);
	if (size < NSHM_RING_HDR_SIZE) {
		ret = nshm__err(-NSHM_EKIND,
				"segment '%s' (%zu bytes) is too small to be a "
				"ring",
				name, size);
		goto err_close;
	}
	/* An observer maps read-only: nothing it does can disturb the ring. */
	ret = nshm_seg_attach(seg, (flags & (NSHM_PREFAULT | NSHM_MLOCK)) |
				       (role == NSHM_RING_OBSERVER
						? NSHM_READONLY
						: 0u),
			      &area);
	if (ret != 0)
		goto err_close;
	ret = wait_ready(area, name);
	if (ret != 0)
		goto err_detach;
	/* One copy, then validate the copy: no double fetch. */
	memcpy(&cfg, &((struct nshm_ring_shared *)area)->config, sizeof(cfg));
	ret = validate_config(&cfg, size, kind, type, name);
	if (ret != 0)
		goto err_detach;
	ret = handle_bind(r, seg, area, &cfg, role != NSHM_RING_OBSERVER);
	if (ret == 0)
		ret = take_role(r, (int)role);
	if (ret != 0)
		goto err_detach;
	handles_add(r);
	*out = r;
	return 0;

err_detach:
	save_err(why);
	nshm_seg_detach(seg, area);
	nshm_seg_close(seg);
	handle_free(r);
	return nshm__err(ret, "%s", why);
err_close:
	save_err(why);
	nshm_seg_close(seg);
	handle_free(r);
	return nshm__err(ret, "%s", why);
err_free:
	handle_free(r);
	return ret;
}

/* ---- close / delete --------------------------------------------------- */

int nshm_ring_close(struct nshm_ring *r)
{
	struct ring_priv *p;
	int ret, ret2;

	if (r == NULL)
		return 0;
	nshm__err_clear();
	p = priv(r);
	handles_del(r);
	/* A child's inherited handle only unmaps: the role is the parent's. */
	if (!p->forked && (r->role == NSHM_RING_PRODUCER ||
			   r->role == NSHM_RING_CONSUMER)) {
		int role = (int)r->role;

		unclaim_role(r, role, true);
		/*
		 * Wake the other side unconditionally: if it sleeps it must
		 * re-check and see CLOSED (-EPIPE once drained/full).
		 */
		nshm_event_notify(role == NSHM_RING_PRODUCER ? &r->sh->prod.ev
							     : &r->sh->cons.ev);
	}
	ret = nshm_seg_detach(p->seg, p->area);
	ret2 = nshm_seg_close(p->seg);
	handle_free(r);
	return ret != 0 ? ret : ret2;
}

int nshm_ring_delete(const char *name)
{
	nshm__err_clear();
	if (name == NULL)
		return nshm__err(-EINVAL, "ring name is NULL");
	return nshm_seg_delete(name);
}

int nshm_ring_set_wait(struct nshm_ring *r, const struct nshm_wait_strategy *ws)
{
	nshm__err_clear();
	if (r == NULL)
		return nshm__err(-EINVAL, "ring handle is NULL");
	if (ws != NULL && ws->reserved != 0)
		return nshm__err(-EINVAL, "wait strategy: reserved field "
				 "must be 0");
	if (ws == NULL) {
		memset(&priv(r)->ws, 0, sizeof(priv(r)->ws));
		priv(r)->ws.spins = NSHM_WAIT_SPINS_DEFAULT;
		priv(r)->ws.yields = NSHM_WAIT_YIELDS_DEFAULT;
	} else {
		priv(r)->ws = *ws;
	}
	return 0;
}

/* ---- blocking slow path ------------------------------------------------ */

/*
 * Is the condition the caller waits for true? The consumer polls the seq
 * word of the slot it wants, the producer re-reads head (bounded) into its
 * cache. Cheap enough for every spin: each is a load of a line that stays
 * in our cache until the other side writes it. @return 1 ready, 0 not, or
 * -NSHM_ECORRUPT.
 */
static int ring_ready(struct nshm_ring *r)
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
 * The other side, while we wait for it: 0 (alive, or not there yet),
 * -NSHM_EPEERDEAD (proven dead), -EPIPE (closed cleanly), -NSHM_ECORRUPT
 * (an id or participant entry that cannot be read). A clean closer clears
 * the role word before its detach frees its participant slot, so an id
 * that is dead but still in the role word is a death; one that is gone
 * from it closed (or was taken over): look again.
 */
static int peer_check(struct nshm_ring *r)
{
	bool prod = r->role == NSHM_RING_CONSUMER; /* we wait on producer */
	struct role_words w = role_words(&r->sh->ctl,
					 prod ? NSHM_RING_PRODUCER
					      : NSHM_RING_CONSUMER);
	const char *who = prod ? "producer" : "consumer";
	const char *state = prod ? "empty" : "full";

	for (int look = 0; look < 4; look++) {
		/* RING-A5: pairs with RING-R5 (claim and unclaim). */
		uint64_t id = atomic_load_explicit(w.peer,
						   memory_order_acquire);
		int alive;

		if (id == 0) {
			/* RING-A6: pairs with RING-R6 in unclaim_role(). */
			if (atomic_load_explicit(w.state,
						 memory_order_acquire) ==
			    NSHM_ROLE_CLOSED)
				return nshm__err(-EPIPE,
						 "ring '%s': the %s closed "
						 "with the ring %s",
						 priv(r)->name, who, state);
			return 0;
		}
		test_hook(r, NSHM__RING_HOOK_PEER_ID_READ);
		if (!peer_id_valid(id))
			return nshm__err(-NSHM_ECORRUPT,
					 "ring '%s': %s id %016llx names no "
					 "participant",
					 priv(r)->name, who,
					 (unsigned long long)id);
		alive = nshm_peer_alive(priv(r)->area, id);
		if (alive == 1)
			return 0;
		if (alive < 0)
			/* Cannot tell: keep waiting, never guess. */
			return alive == -NSHM_ECORRUPT ? alive : 0;
		/*
		 * RING-A5: still the role's holder? Then it died in it. Else
		 * it closed (its detach came after clearing the word) or was
		 * replaced: read the role again.
		 */
		if (atomic_load_explicit(w.peer, memory_order_acquire) == id)
			return nshm__err(-NSHM_EPEERDEAD,
					 "ring '%s': the %s (pid %u) died "
					 "with the ring %s",
					 priv(r)->name, who,
					 atomic_load_explicit(
						 w.pid, memory_order_relaxed),
					 state);
	}
	return 0; /* the role keeps changing hands: look again later */
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
	count_corrupt(r);
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

/* ---- the ring's callbacks for the waiting engine (sync/wait.c) -------- */

static int wait_ready_cb(void *arg)
{
	return ring_ready(arg);
}

/*
 * Before each park: is the peer still there? A closed or dead peer ends
 * the wait only once the ring is re-checked AFTER its state was read: a
 * producer that pushed and then closed made its seq stores visible before
 * its closed word (RING-R6/A6), a dead one's are ordered by the kernel
 * dropping its liveness token (RING-C1), so nothing it committed is ever
 * left unread behind -EPIPE or -NSHM_EPEERDEAD.
 */
static int wait_before_park(void *arg)
{
	struct nshm_ring *r = arg;
	int ret, ready;

	test_hook(r, NSHM__RING_HOOK_WAIT_RECHECKED);
	ret = peer_check(r);
	if (ret == 0)
		return 0;
	ready = ring_ready(r);
	if (ready != 0)
		return ready;
	return ret;
}

static int wait_after_slice(void *arg)
{
	struct nshm_ring *r = arg;
	int ret;

	if (r->role == NSHM_RING_CONSUMER && (ret = stuck_slot(r)) != 0)
		return ret;
	if (priv(r)->ws.check != NULL && (ret = priv(r)->ws.check(r)) < 0)
		return ret;
	return 0;
}

/* Counters: each side writes only its own line (slow path). */
static struct nshm_ring_side *own_side(struct nshm_ring *r)
{
	return r->role == NSHM_RING_CONSUMER ? &r->sh->cons : &r->sh->prod;
}

static void wait_waiting(void *arg)
{
	/* Relaxed: statistics. */
	atomic_fetch_add_explicit(&own_side(arg)->waits, 1,
				  memory_order_relaxed);
}

static void wait_parking(void *arg)
{
	/* Relaxed: statistics. */
	atomic_fetch_add_explicit(&own_side(arg)->parks, 1,
				  memory_order_relaxed);
}

static int ring_wait(struct nshm_ring *r, const struct timespec *deadline)
{
	struct ring_priv *p = priv(r);
	bool consumer = r->role == NSHM_RING_CONSUMER;
	struct nshm__waiter w = {
		/* We sleep on the other side's event word. */
		.ev = consumer ? &r->sh->prod.ev : &r->sh->cons.ev,
		.ready = wait_ready_cb,
		.before_park = wait_before_park,
		.after_slice = wait_after_slice,
		.waiting = wait_waiting,
		.parking = wait_parking,
		.arg = r,
		.ws = &p->ws,
		.deadline = deadline,
		/* The notifier (nshm__ring_notify) fences only without it. */
		.mode = NSHM__WAIT_ASYM,
		.membarrier_ok = &p->membarrier_ok,
	};
	int ret;

	if (r->err == -NSHM_ECORRUPT)
		return nshm__err(-NSHM_ECORRUPT, "ring '%s' was found corrupt "
				 "earlier (nshm_ring_clear_error() to retry)",
				 p->name);
	ret = nshm__wait(&w);
	if (ret == -ETIMEDOUT) {
		/* Relaxed: statistics. */
		atomic_fetch_add_explicit(&own_side(r)->timeouts, 1,
					  memory_order_relaxed);
		return nshm__err(-ETIMEDOUT,
				 "ring '%s': still %s at the deadline",
				 p->name, consumer ? "empty" : "full");
	}
	return ret;
}

static int wait_common(struct nshm_ring *r, const struct timespec *deadline,
		       int want)
{
	nshm__err_clear();
	if (r == NULL)
		return nshm__err(-EINVAL, "ring handle is NULL");
	if (priv(r)->forked)
		return forked_err(r);
	if ((int)r->role != want)
		return nshm__err(-EPERM, "%s wait on a %s handle of ring '%s'",
				 role_name(want), role_name((int)r->role),
				 priv(r)->name);
	return ring_wait(r, deadline);
}

int nshm_ring_wait_writable(struct nshm_ring *r,
			    const struct timespec *deadline)
{
	return wait_common(r, deadline, NSHM_RING_PRODUCER);
}

int nshm_ring_wait_readable(struct nshm_ring *r,
			    const struct timespec *deadline)
{
	return wait_common(r, deadline, NSHM_RING_CONSUMER);
}

/* ---- introspection ---------------------------------------------------- */

static int role_alive(struct nshm_ring *r, _Atomic(uint64_t) *peer,
		      _Atomic(uint32_t) *state)
{
	uint64_t id = atomic_load_explicit(peer, memory_order_acquire);

	if (id == 0)
		return atomic_load_explicit(state, memory_order_relaxed) ==
				       NSHM_ROLE_NEVER
			       ? -1
			       : 0;
	return nshm_peer_alive(priv(r)->area, id) == 1;
}

int nshm_ring_stats(struct nshm_ring *r, struct nshm_ring_stats *st)
{
	struct nshm_ring_shared *sh;
	struct nshm_ring_ctl *ctl;
	const struct nshm_ring_config *c;

	nshm__err_clear();
	if (r == NULL || st == NULL)
		return nshm__err(-EINVAL, "ring handle or stats is NULL");
	sh = r->sh;
	ctl = &sh->ctl;
	c = &priv(r)->cfg;
	memset(st, 0, sizeof(*st));
	/*
	 * A snapshot for humans. RING-A4 (acquire) on both, head first: the
	 * consumer saw every slot below head published, and RING-R4 is ordered
	 * before those seqs, so tail >= head here. pushed counts what is
	 * published (a commit in flight, or cut short by a kill, is not).
	 */
	st->popped = atomic_load_explicit(&sh->cons.index, memory_order_acquire);
	st->pushed = atomic_load_explicit(&sh->prod.index, memory_order_acquire);
	if (st->pushed - st->popped <= c->capacity)
		st->pushed = published_end(r, st->popped, st->pushed);
	st->count = st->pushed - st->popped;
	if (st->count > c->capacity)
		st->count = c->capacity; /* corrupt: clamp */
	st->full_waits = atomic_load_explicit(&sh->prod.waits,
					      memory_order_relaxed);
	st->empty_waits = atomic_load_explicit(&sh->cons.waits,
					       memory_order_relaxed);
	st->producer_parks = atomic_load_explicit(&sh->prod.parks,
						  memory_order_relaxed);
	st->consumer_parks = atomic_load_explicit(&sh->cons.parks,
						  memory_order_relaxed);
	st->producer_wakeups = atomic_load_explicit(&sh->prod.wakeups,
						    memory_order_relaxed);
	st->consumer_wakeups = atomic_load_explicit(&sh->cons.wakeups,
						    memory_order_relaxed);
	st->timeouts = atomic_load_explicit(&sh->prod.timeouts,
					    memory_order_relaxed) +
		       atomic_load_explicit(&sh->cons.timeouts,
					    memory_order_relaxed);
	st->corrupt = atomic_load_explicit(&ctl->corrupt_seen,
					   memory_order_relaxed);
	st->capacity = c->capacity;
	st->elem_size = c->elem_size;
	st->producer_pid = atomic_load_explicit(&ctl->producer_pid,
						memory_order_relaxed);
	st->consumer_pid = atomic_load_explicit(&ctl->consumer_pid,
						memory_order_relaxed);
	st->producer_alive = role_alive(r, &ctl->producer_peer,
					&ctl->producer_state);
	st->consumer_alive = role_alive(r, &ctl->consumer_peer,
					&ctl->consumer_state);
	st->producer_attaches = atomic_load_explicit(&ctl->producer_attaches,
						     memory_order_relaxed);
	st->consumer_attaches = atomic_load_explicit(&ctl->consumer_attaches,
						     memory_order_relaxed);
	st->kind = c->kind;
	st->type_version = c->type_version;
	st->type_fp = c->type_fp;
	memcpy(st->type_name, c->type_name, sizeof(st->type_name));
	return 0;
}

int nshm_ring_check(struct nshm_ring *r)
{
	struct nshm_ring_config now;
	struct nshm_ring_shared *sh;
	uint64_t head, tail, seq;
	const char *name;

	nshm__err_clear();
	if (r == NULL)
		return nshm__err(-EINVAL, "ring handle is NULL");
	sh = r->sh;
	name = priv(r)->name;
	memcpy(&now, &sh->config, sizeof(now));
	if (memcmp(&now, &priv(r)->cfg, sizeof(now)) != 0 ||
	    nshm__crc32c(&now, offsetof(struct nshm_ring_config, crc)) !=
		    now.crc)
		goto corrupt_cfg;
	if (atomic_load_explicit(&sh->ctl.state, memory_order_relaxed) !=
	    NSHM_RING_READY)
		goto corrupt_cfg;
	tail = atomic_load_explicit(&sh->prod.index, memory_order_acquire);
	head = atomic_load_explicit(&sh->cons.index, memory_order_acquire);
	if (r->role == NSHM_RING_PRODUCER && tail != r->ppos)
		return nshm__err(-NSHM_ECORRUPT,
				 "ring '%s': tail %llu was changed behind the "
				 "producer (ours is %llu)",
				 name, (unsigned long long)tail,
				 (unsigned long long)r->ppos);
	if (r->role == NSHM_RING_CONSUMER && head != r->cpos)
		return nshm__err(-NSHM_ECORRUPT,
				 "ring '%s': head %llu was changed behind the "
				 "consumer (ours is %llu)",
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

corrupt_cfg:
	count_corrupt(r);
	return nshm__err(-NSHM_ECORRUPT,
			 "ring '%s': the immutable header changed after "
			 "attach",
			 name);
}

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

uint32_t nshm_ring_capacity_fn(const struct nshm_ring *r)
{
	return nshm_ring_capacity(r);
}

uint32_t nshm_ring_elem_size_fn(const struct nshm_ring *r)
{
	return nshm_ring_elem_size(r);
}

uint64_t nshm_ring_position_fn(const struct nshm_ring *r)
{
	return nshm_ring_position(r);
}

int nshm_ring_error_fn(const struct nshm_ring *r)
{
	return nshm_ring_error(r);
}

void *nshm_ring_span_at_fn(const struct nshm_ring_span *sp, uint32_t i)
{
	return nshm_ring_span_at(sp, i);
}
