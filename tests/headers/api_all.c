/* SPDX-License-Identifier: MIT */
/*
 * Every public macro and inline function of nshm's C headers, used once,
 * with results checked. header_matrix.sh compiles this file as C11, C17,
 * C++17, C++20 and C++23 with gcc and clang at every -O level, with
 * -Werror, and runs it: a header that warns, or an inline fast path that
 * miscompiles, fails the test. check_coverage.py fails the test when a
 * public header gains a macro or inline function this file does not name.
 *
 * To cover a new one: use it in one of the t_*() functions below (or add
 * a t_*() function and call it from main()), and check what it returns.
 */
#if defined(__cplusplus) && __cplusplus > 202002L
/* C++23's own <stdatomic.h> (its _Atomic, its using-declarations) and
 * nshm's NSHM_ATOMIC layer coexist, in either order. */
#include <stdatomic.h>
#endif
#include <nshm/nshm.h>
#ifdef NSHM_HDR_HAVE_NSPR
#include <nshm/prshm.h>
#endif

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHECK(c)                                                           \
	do {                                                               \
		if (!(c)) {                                                \
			fprintf(stderr, "%s:%d: check failed: %s (%s)\n",  \
				__FILE__, __LINE__, #c, nshm_errdetail()); \
			exit(1);                                           \
		}                                                          \
	} while (0)

struct t_elem {
	uint64_t a;
	uint32_t b, c;
};
struct s_elem {
	uint64_t x;
	uint64_t ring_seq; /* the ring's */
	uint64_t y[2];
};

/* Every typed-ring macro. */
NSHM_RING_DEFINE(t_ring, struct t_elem)
NSHM_RING_DEFINE_VERSION(tv_ring, struct t_elem, 7)
NSHM_RING_DEFINE_SEQ(s_ring, struct s_elem, ring_seq)
NSHM_RING_DEFINE_SEQ_VERSION(sv_ring, struct s_elem, ring_seq, 3)

/* ---- compile-time constants and layout -------------------------------- */

NSHM_API int t_api_declared(void); /* NSHM_API in a declaration */

struct t_aligned {
	char c NSHM_ALIGNED(NSHM_CACHELINE);
};

NSHM_STATIC_ASSERT(NSHM_VERSION_MAJOR == 0 && NSHM_VERSION_MINOR >= 1 &&
			   NSHM_VERSION_PATCH >= 0,
		   "version");
NSHM_STATIC_ASSERT(NSHM_EBASE == 4096 && NSHM_ELAST > NSHM_EKIND, "errc");
NSHM_STATIC_ASSERT(NSHM_ALIGNOF(struct t_aligned) == NSHM_CACHELINE &&
			   NSHM_LINE_PAIR == 2 * NSHM_CACHELINE,
		   "alignment");
NSHM_STATIC_ASSERT(sizeof(NSHM_ATOMIC(uint64_t)) == 8 &&
			   sizeof(NSHM_ATOMIC(uint32_t)) == 4,
		   "atomics are plain words");
NSHM_STATIC_ASSERT(sizeof(struct nshm_event) == 4 &&
			   offsetof(struct nshm_event, word) == 0,
		   "event");
NSHM_STATIC_ASSERT(sizeof(struct nshm_ring_shared) % NSHM_LINE_PAIR == 0 &&
			   NSHM_RING_HDR_SIZE % NSHM_LINE_PAIR == 0,
		   "ring header: whole line pairs (its own asserts pin the rest)");
NSHM_STATIC_ASSERT(NSHM_RING_MAGIC != 0 && NSHM_RING_VERSION >= 3 &&
			   NSHM_RING_TYPE_NAME_MAX >= 47,
		   "ring constants");
NSHM_STATIC_ASSERT(NSHM_RING_SEQ(5) == (5 | NSHM_RING_SEQ_PUB) &&
			   NSHM_RING_CFG_ELEM_SEQ == 1u &&
			   NSHM_RING_PREFETCH >= 64,
		   "seq");
NSHM_STATIC_ASSERT(NSHM_RING_CAPACITY_MAX == (1u << 30) &&
			   NSHM_RING_ELEM_MAX == (1u << 24) &&
			   NSHM_RING_BYTES_MAX == (1ull << 40) &&
			   NSHM_RING_ALIGN_MAX == 4096u,
		   "ring limits");
NSHM_STATIC_ASSERT((NSHM_RING_CREATE_FLAGS & NSHM_HUGEPAGES) &&
			   (NSHM_RING_ATTACH_FLAGS & NSHM_ALLOW_OTHER_OWNER) &&
			   !(NSHM_RING_ATTACH_FLAGS & NSHM_CREATE),
		   "ring flags");
NSHM_STATIC_ASSERT(NSHM_NAME_MAX == 200 && NSHM_SEG_HDR_SIZE == 4096u &&
			   NSHM_MODE_DEFAULT == 0600u &&
			   NSHM_SEG_INIT_TIMEOUT_MS > 0,
		   "segment constants");
NSHM_STATIC_ASSERT((NSHM_CREATE | NSHM_EXCL | NSHM_PREFAULT | NSHM_MLOCK |
			    NSHM_READONLY) == 0x57u,
		   "segment flags");
NSHM_STATIC_ASSERT(NSHM_EVENT_WAITERS == 1u && NSHM_WAIT_SPINS_DEFAULT > 0 &&
			   NSHM_WAIT_YIELDS_DEFAULT > 0 &&
			   NSHM_WAIT_SLICE_MS_DEFAULT > 0 && NSHM_PEER_MAX >= 2,
		   "sync constants");
NSHM_STATIC_ASSERT(NSHM_RING_TYPE_SEQ_FIELD == 1u, "type flag");
#ifdef NSHM_TSAN
NSHM_STATIC_ASSERT(NSHM_TSAN == 1, "NSHM_TSAN is 1 when defined");
#endif

static NSHM_ALWAYS_INLINE int t_always_inline(int x)
{
	return x + 1;
}

static NSHM_MAYBE_UNUSED int t_never_called(void)
{
	return 0;
}

static char ring_name[64];

static const char *rname(const char *tag)
{
	snprintf(ring_name, sizeof(ring_name), "nshmt-hdr-%d-%s", (int)getpid(),
		 tag);
	nshm_ring_delete(ring_name); /* a crashed earlier run */
	return ring_name;
}

/* ---- compiler.h, common.h --------------------------------------------- */

static void t_compiler(void)
{
	int hits = 0;

	if (nshm_likely(t_always_inline(1) == 2))
		hits++;
	if (nshm_unlikely(hits == 0))
		hits = 100;
	NSHM_ASSERT(hits == 1);
	nshm_cpu_relax();
	CHECK(hits == 1);
	CHECK(strlen(nshm_strerror(-NSHM_ETYPE)) > 0);
	CHECK(nshm_errdetail() != NULL);
}

/* ---- sync.h ----------------------------------------------------------- */

static void t_event(void)
{
	struct nshm_event ev;
	struct timespec past;
	uint32_t key, before;

	nshm_event_init(&ev);
	nshm_event_notify(&ev); /* nobody waits: no system call, no change */
	before = atomic_load_explicit(&ev.word, memory_order_relaxed);
	CHECK(before == 0);
	key = nshm_event_prepare(&ev);
	CHECK((key & NSHM_EVENT_WAITERS) != 0);
	nshm_event_notify(&ev); /* a waiter announced: epoch moves */
	CHECK(atomic_load_explicit(&ev.word, memory_order_relaxed) != key);
	/* The epoch moved since prepare: returns at once. */
	CHECK(nshm_event_wait(&ev, key, nshm_deadline_in(&past, 0)) == 0);
}

/* ---- prshm.h ---------------------------------------------------------- */

static void t_nspr(void)
{
#ifdef NSHM_HDR_HAVE_NSPR
	char buf[NSHM_NAME_MAX + 1];

	CHECK(nshm_nspr_name("/tmp/x.y", buf, sizeof(buf)) == 19);
	CHECK(strcmp(buf, NSHM_NSPR_PREFIX "_2Ftmp_2Fx_2Ey") == 0);
	CHECK(NSHM_NSPR_NAME_SIZE == 1024);
	CHECK(nshm_nspr_name("", buf, sizeof(buf)) == -ENOENT);
#endif
}

/* ---- ring.h, bits/ring_spsc.h: the untyped inline data plane ---------- */

static void t_ring_untyped(void)
{
	static const struct nshm_ring_type type =
		NSHM_RING_TYPE_INIT(struct t_elem, 1);
	const char *name = rname("u");
	struct nshm_ring *p, *c;
	struct nshm_ring_span sp;
	struct t_elem in[4], out[4], *e;
	struct timespec past;
	uint32_t n, i;

	memset(in, 0, sizeof(in));
	memset(out, 0, sizeof(out));
	CHECK(nshm_ring_create(name, NSHM_RING_SPSC, &type, 4,
			       NSHM_RING_PRODUCER, 0, 0, &p) == 0);
	CHECK(nshm_ring_attach(name, NSHM_RING_SPSC, &type, NSHM_RING_CONSUMER,
			       0, &c) == 0);
	CHECK(nshm_ring_capacity(p) == 4 && nshm_ring_capacity(c) == 4);
	CHECK(nshm_ring_elem_size(c) == sizeof(struct t_elem));
	CHECK(nshm_ring_error(p) == 0);

	/* reserve/commit, peek/release */
	e = (struct t_elem *)nshm_ring_reserve(p);
	CHECK(e != NULL);
	e->a = 11;
	nshm_ring_commit(p);
	CHECK(nshm_ring_position(p) == 1);
	e = (struct t_elem *)nshm_ring_peek(c);
	CHECK(e != NULL && e->a == 11);
	nshm_ring_release(c);
	CHECK(nshm_ring_peek(c) == NULL);

	/* push/pop, push_n/pop_n across the wrap */
	in[0].a = 21;
	CHECK(nshm_ring_push(p, &in[0]));
	CHECK(nshm_ring_pop(c, &out[0]) && out[0].a == 21);
	for (i = 0; i < 4; i++)
		in[i].a = 30 + i;
	CHECK(nshm_ring_push_n(p, in, 4) == 4);
	CHECK(!nshm_ring_push(p, &in[0])); /* full */
	CHECK(nshm_ring_pop_n(c, out, 4) == 4);
	for (i = 0; i < 4; i++)
		CHECK(out[i].a == 30 + i);

	/* reserve_n/commit_n, peek_n/release_n, span_at */
	n = nshm_ring_reserve_n(p, 3, &sp);
	CHECK(n == 3 && sp.n1 + sp.n2 == 3);
	for (i = 0; i < n; i++)
		((struct t_elem *)nshm_ring_span_at(&sp, i))->a = 40 + i;
	nshm_ring_commit_n(p, n);
	n = nshm_ring_peek_n(c, 4, &sp);
	CHECK(n == 3);
	for (i = 0; i < n; i++)
		CHECK(((struct t_elem *)nshm_ring_span_at(&sp, i))->a == 40 + i);
	nshm_ring_release_n(c, n);

	/* blocking forms: data there, then a deadline in the past */
	CHECK(nshm_ring_push_wait(p, &in[1], NULL) == 0);
	CHECK(nshm_ring_pop_wait(c, &out[0], NULL) == 0 && out[0].a == 31);
	CHECK(nshm_ring_push_n_wait(p, in, 2, NULL) == 2);
	CHECK(nshm_ring_pop_n_wait(c, out, 4, NULL) == 2 && out[1].a == 31);
	CHECK(nshm_ring_pop_wait(c, &out[0], nshm_deadline_in(&past, 0)) ==
	      -ETIMEDOUT);
	CHECK(nshm_ring_pop_n_wait(c, out, 1, nshm_deadline_in(&past, 0)) ==
	      -ETIMEDOUT);

	/* a call of the wrong role: -EPERM, sticky until cleared */
	CHECK(nshm_ring_reserve(c) == NULL);
	CHECK(nshm_ring_error(c) == -EPERM);
	nshm_ring_clear_error(c);
	CHECK(nshm_ring_error(c) == 0);
	CHECK(nshm_ring_position(c) == 12);

	CHECK(nshm_ring_close(c) == 0 && nshm_ring_close(p) == 0);
	CHECK(nshm_ring_delete(name) == 0);
}

/* ---- typed rings: every generated function ---------------------------- */

static void t_ring_typed(void)
{
	const char *name = rname("t");
	struct t_ring *p, *c;
	struct tv_ring *bad;
	struct t_ring_span sp;
	struct t_elem v[3], *e;
	struct timespec past;
	uint32_t n, i;

	memset(v, 0, sizeof(v));
	CHECK(strcmp(t_ring_type()->name, "struct t_elem") == 0);
	CHECK(tv_ring_type()->version == 7);
	CHECK(t_ring_create(name, 4, NSHM_RING_PRODUCER, 0, 0, &p) == 0);
	CHECK(t_ring_attach(name, NSHM_RING_CONSUMER, 0, &c) == 0);
	/* the same type at another version: refused */
	CHECK(tv_ring_attach(name, NSHM_RING_CONSUMER, 0, &bad) ==
	      -NSHM_ETYPE);
	CHECK(nshm_ring_capacity(t_ring_ring(p)) == 4);

	e = t_ring_reserve(p);
	CHECK(e != NULL);
	e->a = 1;
	t_ring_commit(p);
	e = t_ring_peek(c);
	CHECK(e != NULL && e->a == 1);
	t_ring_release(c);

	v[0].a = 2;
	CHECK(t_ring_push(p, &v[0]));
	CHECK(t_ring_pop(c, &v[1]) && v[1].a == 2);

	for (i = 0; i < 3; i++)
		v[i].a = 10 + i;
	CHECK(t_ring_push_n(p, v, 3) == 3);
	memset(v, 0, sizeof(v));
	CHECK(t_ring_pop_n(c, v, 3) == 3 && v[2].a == 12);

	n = t_ring_reserve_n(p, 3, &sp);
	CHECK(n == 3 && t_ring_span_len(&sp) == 3);
	for (i = 0; i < n; i++)
		t_ring_span_at(&sp, i)->b = 20 + i;
	t_ring_commit_n(p, n);
	n = t_ring_peek_n(c, 3, &sp);
	CHECK(n == 3);
	for (i = 0; i < n; i++)
		CHECK(t_ring_span_at(&sp, i)->b == 20 + i);
	t_ring_release_n(c, n);

	v[0].c = 99;
	CHECK(t_ring_push_wait(p, &v[0], NULL) == 0);
	CHECK(t_ring_pop_wait(c, &v[1], NULL) == 0 && v[1].c == 99);
	CHECK(t_ring_pop_wait(c, &v[1], nshm_deadline_in(&past, 0)) ==
	      -ETIMEDOUT);

	CHECK(t_ring_close(c) == 0 && t_ring_close(p) == 0);
	CHECK(nshm_ring_delete(name) == 0);
}

/* The seq-field macros: the ring owns ring_seq, push copies around it. */
static void t_ring_seq(void)
{
	static const struct nshm_ring_type type =
		NSHM_RING_TYPE_INIT_SEQ(struct s_elem, 3, ring_seq);
	const char *name = rname("s");
	struct sv_ring *p, *c;
	struct s_ring *bad;
	struct s_elem v, w;

	CHECK(type.flags == NSHM_RING_TYPE_SEQ_FIELD &&
	      type.seq_offset == offsetof(struct s_elem, ring_seq));
	CHECK(sv_ring_type()->seq_offset == type.seq_offset);
	CHECK(s_ring_type()->version == 1);
	CHECK(sv_ring_create(name, 2, NSHM_RING_PRODUCER, 0, 0, &p) == 0);
	CHECK(sv_ring_attach(name, NSHM_RING_CONSUMER, 0, &c) == 0);
	CHECK(s_ring_attach(name, NSHM_RING_CONSUMER, 0, &bad) == -NSHM_ETYPE);
	for (uint64_t k = 0; k < 5; k++) {
		memset(&v, 0, sizeof(v));
		v.x = k;
		v.ring_seq = 0xdeadbeef; /* not copied */
		v.y[1] = ~k;
		CHECK(sv_ring_push(p, &v));
		CHECK(sv_ring_pop(c, &w));
		CHECK(w.x == k && w.y[1] == ~k && w.ring_seq != 0xdeadbeef);
	}
	CHECK(sv_ring_close(c) == 0 && sv_ring_close(p) == 0);
	CHECK(nshm_ring_delete(name) == 0);
}

/* ---- spsc.h: the SPSC data plane under the kind's name ---------------- */

static void t_spsc_names(void)
{
#ifdef NSHM_SPSC_H
	static const struct nshm_ring_type type =
		NSHM_RING_TYPE_INIT(struct t_elem, 1);
	const char *name = rname("k");
	struct nshm_ring *p, *c;
	struct nshm_ring_span sp;
	struct t_elem v[2], *e;

	memset(v, 0, sizeof(v));
	CHECK(nshm_ring_create(name, NSHM_RING_SPSC, &type, 4,
			       NSHM_RING_PRODUCER, 0, 0, &p) == 0);
	CHECK(nshm_ring_attach(name, NSHM_RING_SPSC, &type, NSHM_RING_CONSUMER,
			       0, &c) == 0);
	e = (struct t_elem *)nshm_spsc_reserve(p);
	CHECK(e != NULL);
	e->a = 1;
	nshm_spsc_commit(p);
	CHECK(nshm_spsc_reserve_n(p, 2, &sp) == 2);
	((struct t_elem *)nshm_ring_span_at(&sp, 1))->a = 3;
	nshm_spsc_commit_n(p, 2);
	e = (struct t_elem *)nshm_spsc_peek(c);
	CHECK(e != NULL && e->a == 1);
	nshm_spsc_release(c);
	CHECK(nshm_spsc_peek_n(c, 4, &sp) == 2);
	CHECK(((struct t_elem *)nshm_ring_span_at(&sp, 1))->a == 3);
	nshm_spsc_release_n(c, 2);
	v[0].a = 5;
	CHECK(nshm_spsc_push(p, &v[0]) && nshm_spsc_pop(c, &v[1]) &&
	      v[1].a == 5);
	CHECK(nshm_spsc_push_n(p, v, 2) == 2 && nshm_spsc_pop_n(c, v, 2) == 2);
	CHECK(nshm_spsc_push_wait(p, &v[0], NULL) == 0 &&
	      nshm_spsc_pop_wait(c, &v[1], NULL) == 0 && v[1].a == 5);
	CHECK(nshm_spsc_push_n_wait(p, v, 2, NULL) == 2 &&
	      nshm_spsc_pop_n_wait(c, v, 2, NULL) == 2);
	CHECK(nshm_ring_close(c) == 0 && nshm_ring_close(p) == 0);
	CHECK(nshm_ring_delete(name) == 0);
#endif
}

/* ---- mpmc.h, bits/ring_mpmc.h ----------------------------------------- */

#ifdef NSHM_MPMC_H
struct m_elem {
	uint64_t a, b;
};
NSHM_MPMC_DEFINE(m_q, struct m_elem)
NSHM_MPMC_DEFINE_VERSION(mv_q, struct m_elem, 2)

NSHM_STATIC_ASSERT(NSHM_RING_ROLES_MAX >= 2 &&
			   NSHM_RING_MPMC_ROLES_DEFAULT <= NSHM_RING_ROLES_MAX &&
			   NSHM_RING_TOMB == (1ull << 63),
		   "mpmc constants");

static void t_mpmc(void)
{
	struct nshm_ring_params prm = NSHM_RING_PARAMS_INIT;
	const char *name = rname("m");
	struct nshm_ring *p, *c;
	struct nshm_ring_span sp;
	struct m_elem v[4], *e;
	struct timespec past;
	uint32_t i;

	memset(v, 0, sizeof(v));
	prm.kind = NSHM_RING_MPMC;
	prm.type = m_q_type();
	prm.capacity = 8;
	prm.role = NSHM_RING_PRODUCER;
	prm.max_producers = 2;
	prm.max_consumers = 2;
	CHECK(nshm_ring_create_with(name, &prm, &p) == 0);
	CHECK(nshm_ring_attach(name, NSHM_RING_MPMC, m_q_type(),
			       NSHM_RING_CONSUMER, 0, &c) == 0);

	e = (struct m_elem *)nshm_mpmc_reserve(p);
	CHECK(e != NULL);
	e->a = 1;
	nshm_mpmc_commit(p);
	e = (struct m_elem *)nshm_mpmc_peek(c);
	CHECK(e != NULL && e->a == 1);
	nshm_mpmc_release(c);

	CHECK(nshm_mpmc_reserve_n(p, 2, &sp) == 2);
	for (i = 0; i < 2; i++)
		((struct m_elem *)nshm_ring_span_at(&sp, i))->a = 10 + i;
	nshm_mpmc_commit(p);
	CHECK(nshm_mpmc_reserve_n_all(p, 2, &sp) == 2);
	for (i = 0; i < 2; i++)
		((struct m_elem *)nshm_ring_span_at(&sp, i))->a = 12 + i;
	nshm_mpmc_commit(p);
	CHECK(nshm_mpmc_peek_n(c, 8, &sp) == 4);
	for (i = 0; i < 4; i++)
		CHECK(((struct m_elem *)nshm_ring_span_at(&sp, i))->a == 10 + i);
	nshm_mpmc_release(c);

	v[0].a = 20;
	CHECK(nshm_mpmc_push(p, &v[0]));
	CHECK(nshm_mpmc_pop(c, &v[1]) && v[1].a == 20);
	for (i = 0; i < 4; i++)
		v[i].a = 30 + i;
	CHECK(nshm_mpmc_push_n(p, v, 2) == 2);
	CHECK(nshm_mpmc_push_n_all(p, v + 2, 2) == 2);
	CHECK(nshm_mpmc_push_n_all(p, v, 8) == 0); /* 4 free: none */
	memset(v, 0, sizeof(v));
	CHECK(nshm_mpmc_pop_n(c, v, 4) == 4 && v[3].a == 33);
	v[0].a = 40;
	CHECK(nshm_mpmc_push_wait(p, &v[0], NULL) == 0);
	CHECK(nshm_mpmc_pop_wait(c, &v[1], NULL) == 0 && v[1].a == 40);
	CHECK(nshm_mpmc_push_n_wait(p, v, 2, NULL) == 2);
	CHECK(nshm_mpmc_pop_n_wait(c, v, 4, NULL) == 2);
	CHECK(nshm_mpmc_pop_wait(c, &v[1], nshm_deadline_in(&past, 0)) ==
	      -ETIMEDOUT);
	CHECK(nshm_mpmc_pop_n_wait(c, v, 1, nshm_deadline_in(&past, 0)) ==
	      -ETIMEDOUT);
	CHECK(nshm_mpmc_recover(c) == 0); /* nobody died */
	CHECK(nshm_ring_close(c) == 0 && nshm_ring_close(p) == 0);
	CHECK(nshm_ring_delete(name) == 0);
}

/* Every function NSHM_MPMC_DEFINE generates. */
static void t_mpmc_typed(void)
{
	const char *name = rname("mt");
	struct m_q *p, *c;
	struct mv_q *bad;
	struct m_elem v[2], *e;
	struct timespec past;

	memset(v, 0, sizeof(v));
	CHECK(mv_q_type()->version == 2);
	CHECK(m_q_create(name, 4, 1, 1, NSHM_RING_PRODUCER, 0, 0, &p) == 0);
	CHECK(m_q_attach(name, NSHM_RING_CONSUMER, 0, &c) == 0);
	CHECK(mv_q_attach(name, NSHM_RING_CONSUMER, 0, &bad) == -NSHM_ETYPE);
	CHECK(nshm_ring_capacity(m_q_ring(p)) == 4);
	e = m_q_reserve(p);
	CHECK(e != NULL);
	e->b = 7;
	m_q_commit(p);
	e = m_q_peek(c);
	CHECK(e != NULL && e->b == 7);
	m_q_release(c);
	v[0].a = 8;
	CHECK(m_q_push(p, &v[0]) && m_q_pop(c, &v[1]) && v[1].a == 8);
	CHECK(m_q_push_n(p, v, 2) == 2 && m_q_pop_n(c, v, 2) == 2);
	CHECK(m_q_push_wait(p, &v[0], NULL) == 0);
	CHECK(m_q_pop_wait(c, &v[1], NULL) == 0 && v[1].a == 8);
	CHECK(m_q_pop_wait(c, &v[1], nshm_deadline_in(&past, 0)) ==
	      -ETIMEDOUT);
	CHECK(m_q_close(c) == 0 && m_q_close(p) == 0);
	CHECK(nshm_ring_delete(name) == 0);
}
#endif

/* ---- bcast.h, bits/ring_bcast.h --------------------------------------- */

#ifdef NSHM_BCAST_H
struct b_elem {
	uint64_t a, b;
};
NSHM_BCAST_DEFINE(b_md, struct b_elem)
NSHM_BCAST_DEFINE_VERSION(bv_md, struct b_elem, 2)

NSHM_STATIC_ASSERT(NSHM_BCAST_READERS_DEFAULT >= 1 &&
			   (NSHM_BCAST_CFG_BP & NSHM_BCAST_CFG_EVICT_MS) == 0 &&
			   NSHM_BCAST_EVICTED != 0 &&
			   NSHM_BCAST_BUSY(NSHM_RING_SEQ(5)) == 5,
		   "broadcast constants");

static void t_bcast(void)
{
	const char *name = rname("b");
	struct b_md *w, *rd;
	struct bv_md *bad;
	struct nshm_ring *uw, *ur;
	struct b_elem v, got, *slot;
	const struct b_elem *in;
	const void *raw;
	struct timespec past;
	uint64_t missed = 0, seen = 0, lost = 0;
	int rc;

	memset(&v, 0, sizeof(v));
	CHECK(b_md_type()->version == 1 && bv_md_type()->version == 2);
	/* Lossy: a writer and a subscriber. */
	CHECK(b_md_create(name, 4, NSHM_BCAST_LOSSY, 0, 0, 0, 0, &w) == 0);
	CHECK(b_md_attach(name, NSHM_RING_SUBSCRIBER, NSHM_BCAST_FROM_NOW, 0,
			  0, &rd) == 0);
	CHECK(bv_md_attach(name, NSHM_RING_SUBSCRIBER, NSHM_BCAST_FROM_NOW, 0,
			   0, &bad) == -NSHM_ETYPE);
	v.a = 1;
	CHECK(b_md_publish(w, &v));
	slot = b_md_reserve(w);
	CHECK(slot != NULL);
	slot->a = 2;
	b_md_commit(w);
	CHECK(b_md_read(rd, &got, &missed) == 1 && got.a == 1);
	CHECK(b_md_read_begin(rd, &in, &missed) == 1 && in->a == 2);
	CHECK(b_md_read_end(rd, &missed) == 1);
	CHECK(b_md_read(rd, &got, &missed) == 0); /* nothing new */
	CHECK(b_md_read_wait(rd, &got, &missed, nshm_deadline_in(&past, 0)) ==
	      -ETIMEDOUT);
	v.a = 3;
	CHECK(b_md_publish_wait(w, &v, NULL) == 0);
	CHECK(b_md_read_wait(rd, &got, &missed, NULL) == 1 && got.a == 3);

	/* The untyped calls, and a lap: received + missed == published. */
	uw = b_md_ring(w);
	ur = b_md_ring(rd);
	for (uint64_t k = 10; k < 16; k++) {
		v.a = k;
		if (k % 2)
			CHECK(nshm_bcast_publish(uw, &v));
		else if (k % 4)
			CHECK(nshm_bcast_publish_wait(uw, &v, NULL) == 0);
		else {
			slot = (struct b_elem *)nshm_bcast_reserve(uw);
			CHECK(slot != NULL);
			*slot = v;
			nshm_bcast_commit(uw);
		}
	}
	while ((rc = nshm_bcast_read(ur, &got, &missed)) != 0) {
		if (rc == -NSHM_ELAPPED) {
			lost += missed;
			continue;
		}
		CHECK(rc == 1 && got.a >= 10 && got.a < 16);
		seen++;
	}
	CHECK(lost > 0 && seen + lost == 6);
	v.a = 20;
	CHECK(nshm_bcast_publish(uw, &v));
	CHECK(nshm_bcast_read_begin(ur, &raw, &missed) == 1 &&
	      ((const struct b_elem *)raw)->a == 20);
	CHECK(nshm_bcast_read_end(ur, &missed) == 1);
	CHECK(nshm_bcast_read_wait(ur, &got, &missed,
				   nshm_deadline_in(&past, 0)) == -ETIMEDOUT);
	CHECK(b_md_close(rd) == 0 && b_md_close(w) == 0);
	CHECK(nshm_ring_delete(name) == 0);

	/* Back-pressured: the writer is told full, a registered reader frees. */
	name = rname("bp");
	CHECK(b_md_create(name, 2, NSHM_BCAST_BACKPRESSURE, 0, 0, 0, 0, &w) ==
	      0);
	CHECK(b_md_attach(name, NSHM_RING_CONSUMER, NSHM_BCAST_FROM_NOW, 0, 0,
			  &rd) == 0);
	CHECK(b_md_publish(w, &v) && b_md_publish(w, &v));
	CHECK(!b_md_publish(w, &v)); /* full: the reader holds it */
	CHECK(b_md_read(rd, &got, &missed) == 1);
	CHECK(b_md_publish(w, &v));
	CHECK(b_md_close(rd) == 0 && b_md_close(w) == 0);
	CHECK(nshm_ring_delete(name) == 0);
}
#endif

/* ---- records.h, bits/ring_records.h ----------------------------------- */

#ifdef NSHM_RECORDS_H
struct r_quote {
	uint64_t id;
	double bid, ask;
};
struct r_trade {
	uint64_t id;
	double px;
	uint32_t qty;
};
#define R_TYPES(X, P)                       \
	X(P, quote, 1, struct r_quote, 1)   \
	X(P, trade, 2, struct r_trade, 1)
NSHM_RECORDS_PROTO(feed, "feed", 1, R_TYPES)

NSHM_STATIC_ASSERT(NSHM_REC_TYPE_MAX == 0xffffu &&
			   NSHM_REC_PENDING_BIT ==
				   ((uint64_t)NSHM_REC_ST_PENDING << 48) &&
			   NSHM_REC_HDR(8, 1, NSHM_REC_ST_REC) !=
				   NSHM_REC_HDR(8, 1, NSHM_REC_ST_PAD),
		   "records constants");

#ifdef NSHM_REC_ST_SKIP
NSHM_STATIC_ASSERT(NSHM_REC_ST_SKIP != NSHM_REC_ST_REC &&
			   NSHM_REC_ST_SKIP != NSHM_REC_ST_PAD,
		   "records: a skip is neither a record nor padding");
#endif

static void t_records(void)
{
	const char *name = rname("r");
	static const struct nshm_record recs[2] = { { "AA", 2, 13 },
						    { "BBB", 3, 14 } };
	struct nshm_ring *p, *c;
	struct nshm_record rec;
	struct r_quote *q;
	struct r_trade t;
	char buf[64];
	uint32_t len, type;
	void *d;

	memset(&t, 0, sizeof(t));
	CHECK(feed_proto()->count == 2 && feed_quote == 1 && feed_trade == 2);
	CHECK(feed_create(name, 4096, NSHM_RING_PRODUCER, &p) == 0);
	CHECK(feed_attach(name, NSHM_RING_CONSUMER, 0, &c) == 0);
	CHECK(nshm_records_max(p) >= 64);

	q = feed_reserve_quote(p);
	CHECK(q != NULL);
	q->id = 1;
	feed_commit_quote(p);
	t.id = 2;
	t.qty = 7;
	CHECK(feed_push_trade(p, &t) == 0);
	d = nshm_records_reserve(p, 5);
	CHECK(d != NULL);
	memcpy(d, "hello", 5);
	nshm_records_commit_len(p, 9, 5);
	d = nshm_records_reserve(p, 3);
	CHECK(d != NULL);
	memcpy(d, "abc", 3);
	nshm_records_commit(p, 10);
	d = nshm_records_reserve(p, 4); /* a batch of two, one publication */
	CHECK(d != NULL);
	memcpy(d, "wxyz", 4);
	nshm_records_seal_len(p, 11, 4);
	d = nshm_records_reserve(p, 2);
	CHECK(d != NULL);
	memcpy(d, "ok", 2);
	nshm_records_seal(p, 12);
	nshm_records_publish(p);
	d = nshm_records_reserve(p, 8); /* dropped */
	CHECK(d != NULL);
	nshm_records_abort(p);
	CHECK(nshm_records_push_n(p, recs, 2) == 2);
	CHECK(nshm_records_push(p, 15, "Z", 1) == 0);

	CHECK(nshm_records_next(c, &rec) && rec.type == feed_quote);
	CHECK(feed_as_quote(&rec) != NULL && feed_as_quote(&rec)->id == 1 &&
	      feed_as_trade(&rec) == NULL);
	CHECK(nshm_records_next(c, &rec) && feed_as_trade(&rec) != NULL &&
	      feed_as_trade(&rec)->qty == 7);
	nshm_records_release(c);
	CHECK(nshm_records_pop(c, buf, sizeof(buf), &len, &type) == 0 &&
	      len == 5 && type == 9 && memcmp(buf, "hello", 5) == 0);
	CHECK(nshm_records_pop(c, buf, 2, &len, &type) == -EMSGSIZE &&
	      len == 3);
	CHECK(nshm_records_pop(c, buf, sizeof(buf), &len, &type) == 0 &&
	      type == 10 && memcmp(buf, "abc", 3) == 0);
	CHECK(nshm_records_pop(c, buf, sizeof(buf), &len, &type) == 0 &&
	      type == 11 && len == 4);
	CHECK(nshm_records_pop(c, buf, sizeof(buf), &len, &type) == 0 &&
	      type == 12 && memcmp(buf, "ok", 2) == 0);
	CHECK(nshm_records_pop(c, buf, sizeof(buf), &len, &type) == 0 &&
	      type == 13 && len == 2);
	CHECK(nshm_records_pop(c, buf, sizeof(buf), &len, &type) == 0 &&
	      type == 14 && memcmp(buf, "BBB", 3) == 0);
	CHECK(nshm_records_pop(c, buf, sizeof(buf), NULL, &type) == 0 &&
	      type == 15 && buf[0] == 'Z');
	CHECK(nshm_records_pop(c, buf, sizeof(buf), &len, &type) == -EAGAIN);
	CHECK(nshm_ring_close(c) == 0 && nshm_ring_close(p) == 0);
	CHECK(nshm_ring_delete(name) == 0);
}
#endif

int main(void)
{
	t_compiler();
	t_event();
	t_nspr();
	t_ring_untyped();
	t_ring_typed();
	t_ring_seq();
	t_spsc_names();
#ifdef NSHM_MPMC_H
	t_mpmc();
	t_mpmc_typed();
#endif
#ifdef NSHM_BCAST_H
	t_bcast();
#endif
#ifdef NSHM_RECORDS_H
	t_records();
#endif
	printf("api_all: ok\n");
	return 0;
}
