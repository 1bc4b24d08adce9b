/* SPDX-License-Identifier: MIT */
/*
 * MPMC-only tests (issue 10; the per-kind stress / crash / fuzz template
 * is test_kind.c):
 *
 *  - attach with the wrong kind (SPSC <-> MPMC: -NSHM_EKIND both ways) or
 *    the wrong type (-NSHM_ETYPE); creation parameters (too many role
 *    entries, a seq-field type, a wrong params size or reserved field,
 *    SPSC role counts): the documented error and a detail that says why,
 *    and no name left behind;
 *  - role table: -EBUSY with a clear detail when every entry is held by a
 *    live process, take-over of a dead holder's entry; 64 producer + 64
 *    consumer handles on one ring (128 entries, NSHM_RING_ROLES_MAX, also
 *    the segment's NSHM_PEER_MAX participants: a handle is one mapping),
 *    used from one process and from 128 threads (one handle per thread);
 *  - a producer SIGSTOPped between reserve and commit, a consumer between
 *    peek and release, for over a second: nothing lost, nothing skipped
 *    (stopped is alive), and the others went on as far as FIFO order
 *    allows (producers filled the ring; consumers drained past a stopped
 *    consumer's slot);
 *  - scribbled seq words and indices: -NSHM_ECORRUPT from the fast path's
 *    error and the blocking calls (or their deadline), never a crash;
 *  - index wrap: enq/deq seeded near 2^32 and 2^64 with every slot's seq
 *    seeded for that lap, a dead producer's tomb right at 2^64 - 1.
 */
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ring_test.h"

struct pm {
	uint64_t tag;
	uint64_t w[6];
	uint64_t sum;
};

static const struct nshm_ring_type pm_type = NSHM_RING_TYPE_INIT(struct pm, 1);

static void pm_fill(struct pm *m, uint64_t tag)
{
	m->tag = tag;
	m->sum = tag * 0x9e3779b97f4a7c15ull;
	for (int i = 0; i < 6; i++) {
		m->w[i] = tag ^ (uint64_t)(i + 1) << 56;
		m->sum += m->w[i];
	}
}

/* 0 fine, 1 wrong tag, 2 torn. */
static int pm_check(const struct pm *m, uint64_t tag)
{
	uint64_t s = m->tag * 0x9e3779b97f4a7c15ull;

	for (int i = 0; i < 6; i++) {
		if (m->w[i] != (m->tag ^ (uint64_t)(i + 1) << 56))
			return 2;
		s += m->w[i];
	}
	if (s != m->sum)
		return 2;
	return m->tag == tag ? 0 : 1;
}

static int mk(const char *name, uint32_t cap, uint32_t np, uint32_t nc,
	      enum nshm_ring_role role, struct nshm_ring **out)
{
	struct nshm_ring_params p = NSHM_RING_PARAMS_INIT;

	p.kind = NSHM_RING_MPMC;
	p.type = &pm_type;
	p.capacity = cap;
	p.role = role;
	p.max_producers = np;
	p.max_consumers = nc;
	return nshm_ring_create_with(name, &p, out);
}

static int at(const char *name, enum nshm_ring_role role,
	      struct nshm_ring **out)
{
	return nshm_ring_attach(name, NSHM_RING_MPMC, &pm_type, role, 0, out);
}

static void detail_has(const char *what)
{
	if (strstr(nshm_errdetail(), what) == NULL)
		fprintf(stderr, "detail \"%s\" lacks \"%s\"\n",
			nshm_errdetail(), what);
	assert_non_null(strstr(nshm_errdetail(), what));
}

/* ---- kind, type and parameters ---------------------------------------- */

struct other {
	uint64_t a[4];
};
NSHM_MPMC_DEFINE(pm_q, struct pm)
NSHM_MPMC_DEFINE_VERSION(pm_q2, struct pm, 2)
NSHM_MPMC_DEFINE(other_q, struct other)

static void test_kind_and_type(void **state)
{
	const char *m = t_name("mk"), *s = t_name("sk");
	struct nshm_ring *o = NULL, *r = NULL;
	struct pm_q *q = NULL;
	struct pm_q2 *q2 = NULL;
	struct other_q *oq = NULL;

	(void)state;
	assert_int_equal(mk(m, 8, 2, 2, NSHM_RING_OBSERVER, &o), 0);
	assert_int_equal(nshm_ring_create(s, NSHM_RING_SPSC, &pm_type, 8,
					  NSHM_RING_OBSERVER, 0, 0, &r),
			 0);
	/* MPMC ring, SPSC expected: and the reverse. */
	assert_int_equal(nshm_ring_attach(m, NSHM_RING_SPSC, &pm_type,
					  NSHM_RING_PRODUCER, 0, &o),
			 -NSHM_EKIND);
	assert_true(strlen(nshm_errdetail()) > 0);
	assert_int_equal(nshm_ring_attach(s, NSHM_RING_MPMC, &pm_type,
					  NSHM_RING_CONSUMER, 0, &o),
			 -NSHM_EKIND);
	assert_true(strlen(nshm_errdetail()) > 0);
	assert_int_equal(pm_q_attach(s, NSHM_RING_PRODUCER, 0, &q),
			 -NSHM_EKIND);
	/* Wrong type: size, and same size but another version. */
	assert_int_equal(other_q_attach(m, NSHM_RING_PRODUCER, 0, &oq),
			 -NSHM_ETYPE);
	assert_true(strlen(nshm_errdetail()) > 0);
	assert_int_equal(pm_q2_attach(m, NSHM_RING_CONSUMER, 0, &q2),
			 -NSHM_ETYPE);
	/* The right one. */
	assert_int_equal(pm_q_attach(m, NSHM_RING_PRODUCER, 0, &q), 0);
	assert_int_equal(pm_q_close(q), 0);
	assert_int_equal(nshm_ring_close(o), 0);
	assert_int_equal(nshm_ring_close(r), 0);
}

struct sq {
	uint64_t a;
	uint64_t seq;
};

static void test_params(void **state)
{
	const char *n = t_name("prm");
	const struct nshm_ring_type seq_t =
		NSHM_RING_TYPE_INIT_SEQ(struct sq, 1, seq);
	struct nshm_ring_params p = NSHM_RING_PARAMS_INIT;
	struct nshm_ring_stats st;
	struct nshm_ring *r = NULL;

	(void)state;
	/* More role entries than the table has. */
	assert_int_equal(mk(n, 8, 65, 64, NSHM_RING_OBSERVER, &r), -EINVAL);
	detail_has("NSHM_RING_ROLES_MAX");
	assert_int_equal(mk(n, 8, 128, 1, NSHM_RING_OBSERVER, &r), -EINVAL);
	assert_int_equal(mk(n, 8, 1u << 16, 1u << 16, NSHM_RING_OBSERVER, &r),
			 -EINVAL);
	assert_int_equal(at(n, NSHM_RING_PRODUCER, &r), -ENOENT);
	/* Exactly the limit is fine. */
	assert_int_equal(mk(n, 8, 100, 28, NSHM_RING_OBSERVER, &r), 0);
	assert_int_equal(nshm_ring_stats(r, &st), 0);
	assert_int_equal(st.max_producers, 100);
	assert_int_equal(st.max_consumers, 28);
	assert_int_equal(st.kind, NSHM_RING_MPMC);
	assert_int_equal(nshm_ring_close(r), 0);
	assert_int_equal(nshm_ring_delete(n), 0);
	/* 0 means the default, 8 each. */
	assert_int_equal(mk(n, 8, 0, 0, NSHM_RING_OBSERVER, &r), 0);
	assert_int_equal(nshm_ring_stats(r, &st), 0);
	assert_int_equal(st.max_producers, NSHM_RING_MPMC_ROLES_DEFAULT);
	assert_int_equal(st.max_consumers, NSHM_RING_MPMC_ROLES_DEFAULT);
	assert_int_equal(nshm_ring_close(r), 0);
	assert_int_equal(nshm_ring_delete(n), 0);

	/* A seq-field type is SPSC only. */
	p.kind = NSHM_RING_MPMC;
	p.type = &seq_t;
	p.capacity = 8;
	assert_int_equal(nshm_ring_create_with(n, &p, &r), -EOPNOTSUPP);
	detail_has("SPSC only");
	/* The params struct's size, and its reserved fields. */
	p.type = &pm_type;
	p.size = (uint32_t)sizeof(p) - 4;
	assert_int_equal(nshm_ring_create_with(n, &p, &r), -EINVAL);
	detail_has("NSHM_RING_PARAMS_INIT");
	p.size = (uint32_t)sizeof(p);
	p.reserved[3] = 1;
	assert_int_equal(nshm_ring_create_with(n, &p, &r), -EINVAL);
	detail_has("reserved");
	p.reserved[3] = 0;
	p.capacity = 12;
	assert_int_equal(nshm_ring_create_with(n, &p, &r), -EINVAL);
	p.capacity = 8;
	/* SPSC has one of each. */
	p.kind = NSHM_RING_SPSC;
	p.max_producers = 2;
	assert_int_equal(nshm_ring_create_with(n, &p, &r), -EINVAL);
	/* No failed create left a name. */
	assert_int_equal(at(n, NSHM_RING_PRODUCER, &r), -ENOENT);
}

/* ---- the role table ----------------------------------------------------- */

static void test_roles_full(void **state)
{
	const char *n = t_name("full");
	struct nshm_ring *a = NULL, *b = NULL, *c = NULL, *k = NULL, *x = NULL;
	struct nshm_ring_stats st;
	struct pm m;
	int status;
	pid_t pid;

	(void)state;
	assert_int_equal(mk(n, 8, 2, 1, NSHM_RING_PRODUCER, &a), 0);
	assert_int_equal(at(n, NSHM_RING_PRODUCER, &b), 0);
	assert_int_equal(at(n, NSHM_RING_PRODUCER, &x), -EBUSY);
	detail_has("all 2 producer entries are held by live processes");
	assert_int_equal(at(n, NSHM_RING_CONSUMER, &k), 0);
	assert_int_equal(at(n, NSHM_RING_CONSUMER, &x), -EBUSY);
	detail_has("already has a live consumer");
	/* Wrong-role calls fail without touching the ring. */
	pm_fill(&m, 1);
	assert_false(nshm_mpmc_push(k, &m));
	assert_int_equal(nshm_ring_error(k), -EPERM);
	nshm_ring_clear_error(k);
	assert_false(nshm_mpmc_pop(a, &m));
	assert_int_equal(nshm_ring_error(a), -EPERM);
	nshm_ring_clear_error(a);
	/* A clean close frees its entry. */
	assert_int_equal(nshm_ring_close(a), 0);
	assert_int_equal(at(n, NSHM_RING_PRODUCER, &c), 0);
	assert_int_equal(nshm_ring_close(c), 0);
	/* A dead holder's entry is taken over. */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct nshm_ring *d;

		if (at(n, NSHM_RING_PRODUCER, &d) != 0)
			_exit(1);
		raise(SIGKILL);
	}
	status = t_wait(pid, 5000);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(nshm_ring_stats(b, &st), 0);
	assert_int_equal(st.producers, 1);
	assert_int_equal(at(n, NSHM_RING_PRODUCER, &c), 0);
	assert_int_equal(at(n, NSHM_RING_PRODUCER, &x), -EBUSY);
	assert_int_equal(nshm_ring_stats(b, &st), 0);
	assert_int_equal(st.producers, 2);
	assert_int_equal(st.consumers, 1);
	assert_int_equal(st.producer_attaches, 5); /* a b c d c */
	assert_int_equal(nshm_ring_close(c), 0);
	assert_int_equal(nshm_ring_close(b), 0);
	assert_int_equal(nshm_ring_close(k), 0);
}

#define RN 64u

/* 64 producers + 64 consumers on one ring, from one process. */
static void test_roles_128(void **state)
{
	const char *n = t_name("r128");
	struct nshm_ring *o = NULL, *p[RN], *c[RN], *x = NULL;
	struct nshm_ring_stats st;
	uint64_t seen[2 * RN / 64] = { 0 };
	struct pm m;
	int rc;

	(void)state;
	assert_int_equal(mk(n, 2 * RN, RN, RN, NSHM_RING_OBSERVER, &o), 0);
	for (uint32_t i = 0; i < RN; i++) {
		assert_int_equal(at(n, NSHM_RING_PRODUCER, &p[i]), 0);
		assert_int_equal(at(n, NSHM_RING_CONSUMER, &c[i]), 0);
	}
	assert_int_equal(nshm_ring_stats(o, &st), 0);
	assert_int_equal(st.producers, RN);
	assert_int_equal(st.consumers, RN);
	/*
	 * A 129th handle: the role table is full, and so is the segment's
	 * participant table (each read-write mapping is one participant).
	 */
	rc = at(n, NSHM_RING_PRODUCER, &x);
	assert_true(rc == -EBUSY || rc == -EUSERS);
	for (uint32_t i = 0; i < RN; i++) {
		pm_fill(&m, i);
		assert_true(nshm_mpmc_push(p[i], &m));
		pm_fill(&m, RN + i);
		assert_true(nshm_mpmc_push(p[RN - 1 - i], &m));
	}
	assert_false(nshm_mpmc_push(p[0], &m)); /* full */
	for (uint32_t i = 0; i < 2 * RN; i++) {
		assert_true(nshm_mpmc_pop(c[i % RN], &m));
		assert_int_equal(pm_check(&m, m.tag), 0);
		assert_true(m.tag < 2 * RN);
		assert_false(seen[m.tag / 64] >> (m.tag % 64) & 1);
		seen[m.tag / 64] |= 1ull << (m.tag % 64);
	}
	assert_false(nshm_mpmc_pop(c[5], &m));
	for (uint32_t i = 0; i < RN; i++) {
		assert_int_equal(nshm_ring_close(p[i]), 0);
		assert_int_equal(nshm_ring_close(c[i]), 0);
	}
	assert_int_equal(nshm_ring_stats(o, &st), 0);
	assert_int_equal(st.producers, 0);
	assert_int_equal(st.pushed, 2 * RN);
	assert_int_equal(st.popped, 2 * RN);
	assert_int_equal(st.skipped, 0);
	assert_int_equal(nshm_ring_close(o), 0);
}

/* The same with one thread per handle, all at once. */
struct th {
	struct nshm_ring *r;
	_Atomic(uint64_t) *got;
	_Atomic(uint64_t) *seen;
	uint32_t id;
	int bad;
};

#define TM 500u

static void *th_run(void *arg)
{
	struct th *t = arg;
	struct timespec dl;
	struct pm m;

	if (t->r->role == NSHM_RING_PRODUCER) {
		for (uint32_t k = 0; k < TM; k++) {
			pm_fill(&m, (uint64_t)t->id * TM + k);
			if (nshm_mpmc_push_wait(t->r, &m, t_in_ms(&dl, 20000)))
				t->bad++;
		}
		return NULL;
	}
	while (atomic_load(t->got) < (uint64_t)RN * TM) {
		int rc = nshm_mpmc_pop_wait(t->r, &m, t_in_ms(&dl, 50));

		if (rc == -ETIMEDOUT || rc == -EPIPE)
			continue;
		if (rc != 0 || pm_check(&m, m.tag) != 0 ||
		    m.tag >= (uint64_t)RN * TM) {
			t->bad++;
			continue;
		}
		if (atomic_fetch_or(&t->seen[m.tag / 64],
				    1ull << (m.tag % 64)) >>
			    (m.tag % 64) &
		    1)
			t->bad++; /* duplicate */
		atomic_fetch_add(t->got, 1);
	}
	return NULL;
}

static void test_roles_128_threads(void **state)
{
	const char *n = t_name("t128");
	static _Atomic(uint64_t) seen[RN * TM / 64 + 1];
	_Atomic(uint64_t) got = 0;
	struct nshm_ring *o = NULL;
	struct nshm_ring_stats st;
	struct th t[2 * RN];
	pthread_t tid[2 * RN];

	(void)state;
	memset(seen, 0, sizeof(seen));
	assert_int_equal(mk(n, 256, RN, RN, NSHM_RING_OBSERVER, &o), 0);
	for (uint32_t i = 0; i < 2 * RN; i++) {
		t[i].id = i;
		t[i].bad = 0;
		t[i].got = &got;
		t[i].seen = seen;
		assert_int_equal(at(n, i < RN ? NSHM_RING_PRODUCER
					      : NSHM_RING_CONSUMER,
				    &t[i].r),
				 0);
	}
	for (uint32_t i = 0; i < 2 * RN; i++)
		assert_int_equal(pthread_create(&tid[i], NULL, th_run, &t[i]),
				 0);
	for (uint32_t i = 0; i < 2 * RN; i++) {
		assert_int_equal(pthread_join(tid[i], NULL), 0);
		assert_int_equal(t[i].bad, 0);
	}
	assert_int_equal(nshm_ring_stats(o, &st), 0);
	printf("# 64 producer + 64 consumer threads: %u msgs, claim_retries "
	       "%llu\n", RN * TM, (unsigned long long)st.claim_retries);
	assert_int_equal(got, RN * TM);
	assert_int_equal(st.pushed, RN * TM);
	assert_int_equal(st.popped, RN * TM);
	assert_int_equal(st.skipped, 0);
	for (uint32_t i = 0; i < 2 * RN; i++)
		assert_int_equal(nshm_ring_close(t[i].r), 0);
	assert_int_equal(nshm_ring_close(o), 0);
}

/* ---- SIGSTOP mid-claim -------------------------------------------------- */

#define STOP_MS 1200u
#define SCAP 16u

static void test_stopped_producer(void **state)
{
	const char *n = t_name("stopp");
	struct nshm_ring *o = NULL, *p = NULL, *c = NULL;
	struct nshm_ring_stats st;
	struct timespec dl;
	uint64_t t0;
	int go[2], status, k = 0;
	struct pm m;
	char ch;
	pid_t pid;

	(void)state;
	assert_int_equal(mk(n, SCAP, 4, 4, NSHM_RING_OBSERVER, &o), 0);
	assert_int_equal(pipe(go), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct nshm_ring *a;
		struct pm *s;

		if (at(n, NSHM_RING_PRODUCER, &a) != 0)
			_exit(1);
		s = nshm_mpmc_reserve(a); /* index 0 */
		if (s == NULL || nshm_ring_position(a) != 0)
			_exit(2);
		memset(s, 0x77, 24); /* half written */
		if (write(go[1], "r", 1) != 1)
			_exit(3);
		raise(SIGSTOP);
		pm_fill(s, 1000);
		nshm_mpmc_commit(a);
		_exit(nshm_ring_close(a) == 0 ? 0 : 4);
	}
	assert_int_equal(read(go[0], &ch, 1), 1);
	/* Wait until it is really stopped. */
	assert_int_equal(waitpid(pid, &status, WUNTRACED), pid);
	assert_true(WIFSTOPPED(status));
	assert_int_equal(at(n, NSHM_RING_PRODUCER, &p), 0);
	assert_int_equal(at(n, NSHM_RING_CONSUMER, &c), 0);
	/* Producers go on until full: every slot but its own. */
	for (;;) {
		pm_fill(&m, (uint64_t)k);
		if (!nshm_mpmc_push(p, &m))
			break;
		k++;
	}
	assert_int_equal(k, SCAP - 1);
	assert_int_equal(nshm_ring_error(p), 0);
	/* Consumers wait at its slot (FIFO), and never give it up. */
	assert_false(nshm_mpmc_pop(c, &m));
	assert_int_equal(nshm_ring_error(c), 0);
	t0 = t_now_ns();
	assert_int_equal(nshm_mpmc_pop_wait(c, &m, t_in_ms(&dl, STOP_MS)),
			 -ETIMEDOUT);
	assert_true(t_now_ns() - t0 >= (STOP_MS - 50) * 1000000ull);
	assert_int_equal(nshm_mpmc_recover(c), 0);
	assert_int_equal(nshm_mpmc_push_wait(p, &m, t_in_ms(&dl, 100)),
			 -ETIMEDOUT);
	assert_int_equal(nshm_mpmc_recover(p), 0);
	assert_int_equal(nshm_ring_stats(o, &st), 0);
	assert_int_equal(st.skipped, 0);
	assert_int_equal(st.pushed, SCAP);
	assert_int_equal(st.popped, 0);
	/* It goes on: its message first, then the others, all intact. */
	kill(pid, SIGCONT);
	assert_int_equal(nshm_mpmc_pop_wait(c, &m, t_in_ms(&dl, 5000)), 0);
	assert_int_equal(pm_check(&m, 1000), 0);
	for (int i = 0; i < k; i++) {
		assert_int_equal(nshm_mpmc_pop_wait(c, &m, t_in_ms(&dl, 5000)),
				 0);
		assert_int_equal(pm_check(&m, (uint64_t)i), 0);
	}
	assert_false(nshm_mpmc_pop(c, &m));
	assert_true(t_exited_ok(t_wait(pid, 5000)));
	assert_int_equal(nshm_ring_stats(o, &st), 0);
	assert_int_equal(st.skipped, 0);
	assert_int_equal(st.pushed, SCAP);
	assert_int_equal(st.popped, SCAP);
	close(go[0]);
	close(go[1]);
	assert_int_equal(nshm_ring_close(p), 0);
	assert_int_equal(nshm_ring_close(c), 0);
	assert_int_equal(nshm_ring_close(o), 0);
}

static void test_stopped_consumer(void **state)
{
	const char *n = t_name("stopc");
	struct nshm_ring *o = NULL, *p = NULL, *c = NULL;
	struct nshm_ring_stats st;
	struct timespec dl;
	uint64_t t0;
	int go[2], status;
	struct pm m;
	char ch;
	pid_t pid;

	(void)state;
	assert_int_equal(mk(n, SCAP, 4, 4, NSHM_RING_OBSERVER, &o), 0);
	assert_int_equal(at(n, NSHM_RING_PRODUCER, &p), 0);
	for (uint64_t i = 0; i < SCAP; i++) {
		pm_fill(&m, i);
		assert_true(nshm_mpmc_push(p, &m));
	}
	assert_int_equal(pipe(go), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct nshm_ring *b;
		struct pm *s, keep;

		if (at(n, NSHM_RING_CONSUMER, &b) != 0)
			_exit(1);
		s = nshm_mpmc_peek(b); /* index 0 */
		if (s == NULL || nshm_ring_position(b) != 0)
			_exit(2);
		if (write(go[1], "r", 1) != 1)
			_exit(3);
		raise(SIGSTOP);
		keep = *s; /* still ours: nobody wrote over it */
		nshm_mpmc_release(b);
		if (pm_check(&keep, 0) != 0)
			_exit(5);
		_exit(nshm_ring_close(b) == 0 ? 0 : 4);
	}
	assert_int_equal(read(go[0], &ch, 1), 1);
	assert_int_equal(waitpid(pid, &status, WUNTRACED), pid);
	assert_true(WIFSTOPPED(status));
	assert_int_equal(at(n, NSHM_RING_CONSUMER, &c), 0);
	/* Other consumers read past its slot. */
	for (uint64_t i = 1; i < SCAP; i++) {
		assert_true(nshm_mpmc_pop(c, &m));
		assert_int_equal(pm_check(&m, i), 0);
	}
	assert_false(nshm_mpmc_pop(c, &m));
	/*
	 * Producers wait at its slot: index SCAP is slot 0, still held
	 * (FIFO: slots 1.. are free, but come after it), and never free it.
	 */
	pm_fill(&m, SCAP);
	assert_false(nshm_mpmc_push(p, &m));
	assert_int_equal(nshm_ring_error(p), 0);
	t0 = t_now_ns();
	assert_int_equal(nshm_mpmc_push_wait(p, &m, t_in_ms(&dl, STOP_MS)),
			 -ETIMEDOUT);
	assert_true(t_now_ns() - t0 >= (STOP_MS - 50) * 1000000ull);
	assert_int_equal(nshm_mpmc_recover(p), 0);
	assert_int_equal(nshm_ring_stats(o, &st), 0);
	assert_int_equal(st.skipped, 0);
	assert_int_equal(st.pushed, SCAP);
	assert_int_equal(st.popped, SCAP);
	/* It goes on: it had message 0 whole; the producer gets its room. */
	kill(pid, SIGCONT);
	assert_true(t_exited_ok(t_wait(pid, 5000)));
	assert_int_equal(nshm_mpmc_push_wait(p, &m, t_in_ms(&dl, 5000)), 0);
	assert_true(nshm_mpmc_pop(c, &m));
	assert_int_equal(pm_check(&m, SCAP), 0);
	assert_int_equal(nshm_ring_stats(o, &st), 0);
	assert_int_equal(st.skipped, 0);
	close(go[0]);
	close(go[1]);
	assert_int_equal(nshm_ring_close(p), 0);
	assert_int_equal(nshm_ring_close(c), 0);
	assert_int_equal(nshm_ring_close(o), 0);
}

/* ---- scribbled seq words and indices ------------------------------------ */

static _Atomic(uint64_t) *seq_of(struct nshm_ring *r, uint64_t pos)
{
	return nshm__ring_seq(r, pos);
}

/* A blocking call on a corrupt ring: the error, or its deadline. */
static void wait_bad(int rc, uint64_t t0, uint64_t ms)
{
	uint64_t dt = (t_now_ns() - t0) / 1000000u;

	if (rc != -NSHM_ECORRUPT && rc != -ETIMEDOUT)
		fprintf(stderr, "rc %d (%s)\n", rc, nshm_errdetail());
	assert_true(rc == -NSHM_ECORRUPT || rc == -ETIMEDOUT);
	assert_true(dt < ms + 500);
}

static void test_corrupt(void **state)
{
	const char *n = t_name("corr");
	struct nshm_ring *p = NULL, *c = NULL;
	struct nshm_ring_shared *sh;
	struct nshm_ring_stats st;
	struct timespec dl;
	uint64_t save, t0;
	struct pm m;

	(void)state;
	assert_int_equal(mk(n, 8, 2, 2, NSHM_RING_PRODUCER, &p), 0);
	assert_int_equal(at(n, NSHM_RING_CONSUMER, &c), 0);
	sh = t_scribbler(n);
	for (uint64_t i = 0; i < 3; i++) {
		pm_fill(&m, i);
		assert_true(nshm_mpmc_push(p, &m));
	}

	/* The seq word at deq: no lap's value. */
	save = atomic_load(seq_of(c, 0));
	atomic_store(seq_of(c, 0), 0xdeadbeefcafeull);
	assert_false(nshm_mpmc_pop(c, &m));
	assert_int_equal(nshm_ring_error(c), -NSHM_ECORRUPT);
	detail_has("no lap");
	assert_int_equal(nshm_mpmc_pop_wait(c, &m, t_in_ms(&dl, 1000)),
			 -NSHM_ECORRUPT);
	assert_int_equal(nshm_mpmc_recover(c), -NSHM_ECORRUPT);
	assert_int_equal(nshm_ring_stats(c, &st), 0);
	assert_true(st.corrupt >= 1);
	/* Repaired, the handle goes on. */
	atomic_store(seq_of(c, 0), save);
	nshm_ring_clear_error(c);
	assert_true(nshm_mpmc_pop(c, &m));
	assert_int_equal(pm_check(&m, 0), 0);

	/*
	 * The seq word at enq: producers never read seq words (consumers
	 * tell them what is free), so the next publish just writes over it.
	 */
	atomic_store(seq_of(p, 3), 3 + 1000);
	pm_fill(&m, 3);
	assert_true(nshm_mpmc_push(p, &m));
	assert_int_equal(nshm_ring_error(p), 0);
	assert_true(atomic_load(seq_of(p, 3)) == 4);

	/* enq far past deq: the check says so; no call runs away. */
	save = atomic_load(&sh->prod.index);
	atomic_store(&sh->prod.index, save + 1000);
	assert_int_equal(nshm_ring_check(c), -NSHM_ECORRUPT);
	pm_fill(&m, 99);
	assert_false(nshm_mpmc_push(p, &m));
	assert_int_equal(nshm_ring_error(p), -NSHM_ECORRUPT);
	nshm_ring_clear_error(p);
	t0 = t_now_ns();
	wait_bad(nshm_mpmc_push_wait(p, &m, t_in_ms(&dl, 200)), t0, 200);
	nshm_ring_clear_error(p);
	assert_int_equal(nshm_ring_stats(c, &st), 0);
	assert_true(st.count <= 8);
	atomic_store(&sh->prod.index, save);
	/* deq past enq. */
	save = atomic_load(&sh->cons.index);
	atomic_store(&sh->cons.index, save + 5);
	for (int i = 0; i < 4; i++) {
		t0 = t_now_ns();
		if (nshm_mpmc_pop(c, &m))
			continue; /* a value some lap explains: not ours to tell */
		if (nshm_ring_error(c) == 0)
			wait_bad(nshm_mpmc_pop_wait(c, &m, t_in_ms(&dl, 100)),
				 t0, 100);
		nshm_ring_clear_error(c);
	}
	/* Random indices and seq words: no crash, bounded waits. */
	for (int i = 0; i < 2000; i++) {
		uint64_t r = (uint64_t)i * 0x9e3779b97f4a7c15ull;
		struct nshm_ring_span sp;
		uint32_t k;

		switch (i % 4) {
		case 0:
			atomic_store(&sh->prod.index, r);
			break;
		case 1:
			atomic_store(&sh->cons.index, r >> (i % 64));
			break;
		default:
			atomic_store(seq_of(c, (uint64_t)i), r >> (i % 13));
			break;
		}
		(void)nshm_mpmc_push(p, &m);
		(void)nshm_mpmc_pop(c, &m);
		k = nshm_mpmc_peek_n(c, 8, &sp);
		assert_true(k <= 8);
		if (k != 0)
			nshm_mpmc_release(c);
		k = nshm_mpmc_reserve_n(p, 8, &sp);
		assert_true(k <= 8);
		if (k != 0)
			nshm_mpmc_commit(p);
		assert_true(nshm_mpmc_recover(c) >= -NSHM_ECORRUPT);
		assert_true(nshm_mpmc_recover(p) >= -NSHM_ECORRUPT);
		if (i % 100 == 0) {
			t0 = t_now_ns();
			nshm_ring_clear_error(c);
			int rc = nshm_mpmc_pop_wait(c, &m, t_in_ms(&dl, 5));

			if (rc != 0)
				wait_bad(rc, t0, 5);
		}
		assert_true(nshm_ring_error(c) == 0 ||
			    nshm_ring_error(c) == -NSHM_ECORRUPT);
		assert_true(nshm_ring_error(p) == 0 ||
			    nshm_ring_error(p) == -NSHM_ECORRUPT);
		nshm_ring_clear_error(c);
		nshm_ring_clear_error(p);
	}
	assert_int_equal(nshm_ring_close(p), 0);
	assert_int_equal(nshm_ring_close(c), 0);
}

/* ---- index wrap --------------------------------------------------------- */

/*
 * Seed enq = deq = @p start and every slot's seq with the value of the
 * index that maps to it in the lap starting there ("free for this lap").
 */
static void seed(const char *n, struct nshm_ring *o, uint64_t start)
{
	struct nshm_ring_shared *sh = t_scribbler(n);
	unsigned char *slots = (unsigned char *)sh + sh->config.slots_off;
	uint32_t cap = sh->config.capacity;

	for (uint64_t p = start; p != start + cap; p++)
		atomic_store((_Atomic(uint64_t) *)(void *)(slots +
							   (p & (cap - 1)) *
								   sh->config
									   .slot_stride +
							   sh->config.seq_off),
			     p + 1 - cap); /* "not yet" for lap p */
	atomic_store(&sh->prod.index, start);
	atomic_store(&sh->cons.index, start);
	assert_int_equal(nshm_ring_check(o), 0);
}

static void run_wrap(uint64_t start)
{
	const char *n = t_name("wrap");
	struct nshm_ring *o = NULL, *p[2], *c[2];
	struct nshm_ring_stats st;
	struct pm m, burst[5];
	uint64_t seq = 0, got = 0;

	assert_int_equal(mk(n, 8, 2, 2, NSHM_RING_OBSERVER, &o), 0);
	seed(n, o, start);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(at(n, NSHM_RING_PRODUCER, &p[i]), 0);
		assert_int_equal(at(n, NSHM_RING_CONSUMER, &c[i]), 0);
	}
	for (int round = 0; round < 40; round++) {
		int k = round % 3 == 0 ? 8 : 5;

		for (int i = 0; i < k; i++) {
			pm_fill(&m, seq++);
			assert_true(nshm_mpmc_push(p[i & 1], &m));
		}
		if (k == 8) {
			assert_false(nshm_mpmc_push(p[0], &m));
			for (int i = 0; i < k; i++) {
				assert_true(nshm_mpmc_pop(c[i & 1], &m));
				assert_int_equal(pm_check(&m, got++), 0);
			}
		} else {
			assert_int_equal(nshm_mpmc_pop_n(c[round & 1], burst,
							 5),
					 5);
			for (int i = 0; i < 5; i++)
				assert_int_equal(pm_check(&burst[i], got++),
						 0);
		}
		assert_false(nshm_mpmc_pop(c[0], &m));
		for (int i = 0; i < 2; i++) {
			assert_int_equal(nshm_ring_error(p[i]), 0);
			assert_int_equal(nshm_ring_error(c[i]), 0);
		}
	}
	assert_int_equal(nshm_ring_stats(o, &st), 0);
	assert_true(st.pushed == start + seq);
	assert_true(st.popped == start + seq);
	assert_int_equal(st.count, 0);
	assert_int_equal(st.skipped, 0);
	assert_int_equal(nshm_ring_check(o), 0);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(nshm_ring_close(p[i]), 0);
		assert_int_equal(nshm_ring_close(c[i]), 0);
	}
	assert_int_equal(nshm_ring_close(o), 0);
}

static void test_wrap_2_32(void **state)
{
	(void)state;
	run_wrap((1ull << 32) - 13);
}

static void test_wrap_2_64(void **state)
{
	(void)state;
	run_wrap(UINT64_MAX - 12);
}

/*
 * A producer dies holding index 2^64 - 1 (its tomb is (pos + 1) ^ TOMB =
 * TOMB itself); the next message, at index 0, still gets through.
 */
static void test_wrap_tomb(void **state)
{
	const char *n = t_name("wtomb");
	struct nshm_ring *o = NULL, *p = NULL, *c = NULL;
	struct nshm_ring_stats st;
	struct timespec dl;
	struct pm m;
	int status;
	pid_t pid;

	(void)state;
	assert_int_equal(mk(n, 8, 2, 2, NSHM_RING_OBSERVER, &o), 0);
	seed(n, o, UINT64_MAX);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct nshm_ring *d;

		if (at(n, NSHM_RING_PRODUCER, &d) != 0 ||
		    nshm_mpmc_reserve(d) == NULL ||
		    nshm_ring_position(d) != UINT64_MAX)
			_exit(1);
		raise(SIGKILL);
	}
	status = t_wait(pid, 5000);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(at(n, NSHM_RING_PRODUCER, &p), 0);
	assert_int_equal(at(n, NSHM_RING_CONSUMER, &c), 0);
	pm_fill(&m, 7);
	assert_true(nshm_mpmc_push(p, &m));
	assert_int_equal(nshm_ring_position(p), 0);
	memset(&m, 0, sizeof(m));
	assert_int_equal(nshm_mpmc_pop_wait(c, &m, t_in_ms(&dl, 5000)), 0);
	assert_int_equal(pm_check(&m, 7), 0);
	assert_int_equal(nshm_ring_stats(o, &st), 0);
	assert_int_equal(st.skipped, 1);
	assert_int_equal(st.pushed, 1);
	assert_int_equal(st.popped, 1);
	assert_int_equal(nshm_ring_error(c), 0);
	assert_int_equal(nshm_ring_close(p), 0);
	assert_int_equal(nshm_ring_close(c), 0);
	assert_int_equal(nshm_ring_close(o), 0);
}

/*
 * A LIVE producer (stopped) holds index 2^64 - 1: it must keep its slot,
 * as at any other index. Regression: the intent used to be stored as
 * pos + 1, which is 0, "no intent", for pos = 2^64 - 1, so a waiting
 * consumer gave the live claimant's slot up (skipped 1) and its late
 * commit stored seq 0 over the next lap's value. "None" is now
 * intent_n == 0.
 */
static void test_wrap_live_claim(void **state)
{
	const char *n = t_name("wlive");
	struct nshm_ring *o = NULL, *c = NULL;
	struct nshm_ring_stats st;
	struct timespec dl;
	int go[2], status, rc;
	struct pm m;
	char ch;
	pid_t pid;

	(void)state;
	assert_int_equal(mk(n, 8, 2, 2, NSHM_RING_OBSERVER, &o), 0);
	seed(n, o, UINT64_MAX);
	assert_int_equal(pipe(go), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct nshm_ring *a;
		struct pm *s;

		if (at(n, NSHM_RING_PRODUCER, &a) != 0)
			_exit(1);
		s = nshm_mpmc_reserve(a);
		if (s == NULL || nshm_ring_position(a) != UINT64_MAX)
			_exit(2);
		if (write(go[1], "r", 1) != 1)
			_exit(3);
		raise(SIGSTOP);
		pm_fill(s, 42);
		nshm_mpmc_commit(a);
		_exit(nshm_ring_close(a) == 0 ? 0 : 4);
	}
	assert_int_equal(read(go[0], &ch, 1), 1);
	assert_int_equal(waitpid(pid, &status, WUNTRACED), pid);
	assert_true(WIFSTOPPED(status));
	assert_int_equal(at(n, NSHM_RING_CONSUMER, &c), 0);
	rc = nshm_mpmc_pop_wait(c, &m, t_in_ms(&dl, 300));
	assert_int_equal(nshm_ring_stats(o, &st), 0);
	printf("# pop_wait %d, skipped %llu while the claimant lives\n", rc,
	       (unsigned long long)st.skipped);
	kill(pid, SIGCONT);
	assert_true(t_exited_ok(t_wait(pid, 5000)));
	assert_int_equal(rc, -ETIMEDOUT);
	assert_int_equal(st.skipped, 0);
	assert_int_equal(nshm_mpmc_pop_wait(c, &m, t_in_ms(&dl, 2000)), 0);
	assert_int_equal(pm_check(&m, 42), 0);
	close(go[0]);
	close(go[1]);
	assert_int_equal(nshm_ring_close(c), 0);
	assert_int_equal(nshm_ring_close(o), 0);
}

/*
 * Consumers publish their cursor only every few takes (and when they find
 * the ring empty): one that stops between two batches must not keep its
 * taken slots from the producers. A full ring is checked against deq now
 * and then by the non-blocking push, and before every park by push_wait.
 */
static void test_cursor_lag(void **state)
{
	const char *n = t_name("lag");
	struct nshm_ring *p = NULL, *c = NULL;
	struct timespec dl;
	struct pm m;
	int tries = 0;

	(void)state;
	assert_int_equal(mk(n, 64, 1, 1, NSHM_RING_PRODUCER, &p), 0);
	assert_int_equal(at(n, NSHM_RING_CONSUMER, &c), 0);
	for (uint64_t i = 0; i < 64; i++) {
		pm_fill(&m, i);
		assert_true(nshm_mpmc_push(p, &m));
	}
	assert_false(nshm_mpmc_push(p, &m));
	/* Five takes: the first publishes the cursor, the next four not. */
	for (uint64_t i = 0; i < 5; i++) {
		assert_true(nshm_mpmc_pop(c, &m));
		assert_int_equal(pm_check(&m, i), 0);
	}
	/* The non-blocking push finds all five within 64 tries per slot. */
	for (uint64_t i = 64; i < 67; i++) {
		pm_fill(&m, i);
		while (!nshm_mpmc_push(p, &m)) {
			assert_int_equal(nshm_ring_error(p), 0);
			assert_true(++tries < 64 * 3);
		}
	}
	/* push_wait: no timeout, it reads deq before it would park. */
	for (uint64_t i = 67; i < 69; i++) {
		pm_fill(&m, i);
		assert_int_equal(nshm_mpmc_push_wait(p, &m, t_in_ms(&dl, 2000)),
				 0);
	}
	assert_false(nshm_mpmc_push(p, &m));
	for (uint64_t i = 5; i < 69; i++) {
		assert_true(nshm_mpmc_pop(c, &m));
		assert_int_equal(pm_check(&m, i), 0);
	}
	assert_false(nshm_mpmc_pop(c, &m));
	assert_int_equal(nshm_ring_close(c), 0);
	assert_int_equal(nshm_ring_close(p), 0);
}

/*
 * A copying pop holds nothing while it copies (it claims after): a
 * consumer SIGSTOPped at random points of a pop loop never stalls the
 * producer or the other consumer, and nothing is lost or duplicated.
 */
#define POPSTOP_MSGS 20000u

static void test_pop_stopped_anywhere(void **state)
{
	const char *n = t_name("popstop");
	struct nshm_ring *o = NULL, *p = NULL, *c = NULL;
	_Atomic(uint64_t) *got; /* [0]: count; [1 + tag]: deliveries */
	struct nshm_ring_stats st;
	struct timespec dl;
	uint64_t mine = 0, dups = 0, lost = 0;
	size_t len = (POPSTOP_MSGS + 1) * sizeof(*got);
	struct pm m;
	pid_t pid;

	(void)state;
	got = mmap(NULL, len, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(got != MAP_FAILED);
	assert_int_equal(mk(n, 16, 1, 2, NSHM_RING_OBSERVER, &o), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct nshm_ring *b;

		if (at(n, NSHM_RING_CONSUMER, &b) != 0)
			_exit(1);
		for (;;) {
			if (nshm_mpmc_pop(b, &m)) {
				if (pm_check(&m, m.tag) != 0 ||
				    m.tag >= POPSTOP_MSGS)
					_exit(2);
				atomic_fetch_add(&got[1 + m.tag], 1);
				atomic_fetch_add(&got[0], 1);
			} else if (nshm_ring_error(b) != 0) {
				fprintf(stderr, "popper: %s: %s\n",
					nshm_strerror(nshm_ring_error(b)),
					nshm_errdetail());
				_exit(3);
			}
		}
	}
	assert_int_equal(at(n, NSHM_RING_PRODUCER, &p), 0);
	assert_int_equal(at(n, NSHM_RING_CONSUMER, &c), 0);
	for (uint64_t i = 0; i < POPSTOP_MSGS; i++) {
		if (i % 500 == 250)
			kill(pid, SIGSTOP); /* anywhere in its loop */
		if (i % 500 == 499)
			kill(pid, SIGCONT);
		/*
		 * It drains while it runs; while it is stopped we do, one
		 * before each push: it holds no slot, so the ring never stays
		 * full (a held slot would stop us a lap later, whatever we
		 * drain).
		 */
		if (i % 500 >= 250 && nshm_mpmc_pop(c, &m)) {
			assert_int_equal(pm_check(&m, m.tag), 0);
			assert_true(m.tag < POPSTOP_MSGS);
			atomic_fetch_add(&got[1 + m.tag], 1);
			mine++;
		}
		pm_fill(&m, i);
		assert_int_equal(nshm_mpmc_push_wait(p, &m, t_in_ms(&dl, 5000)),
				 0);
	}
	kill(pid, SIGCONT);
	while (nshm_mpmc_pop(c, &m)) {
		atomic_fetch_add(&got[1 + m.tag], 1);
		mine++;
	}
	/* What it took it records: wait for the sum, then stop it. */
	for (int w = 0; w < 5000 && atomic_load(&got[0]) + mine <
					    POPSTOP_MSGS; w++)
		usleep(1000);
	kill(pid, SIGKILL);
	assert_true(WIFSIGNALED(t_wait(pid, 5000)));
	for (uint64_t i = 0; i < POPSTOP_MSGS; i++) {
		uint64_t k = atomic_load(&got[1 + i]);

		dups += k > 1 ? k - 1 : 0;
		lost += k == 0;
	}
	printf("# popped by the stopped one %llu, by us %llu, lost %llu, "
	       "duplicates %llu\n",
	       (unsigned long long)atomic_load(&got[0]),
	       (unsigned long long)mine, (unsigned long long)lost,
	       (unsigned long long)dups);
	assert_int_equal(dups, 0);
	assert_int_equal(lost, 0);
	assert_int_equal(nshm_ring_stats(o, &st), 0);
	assert_int_equal(st.skipped, 0);
	assert_int_equal(nshm_ring_close(c), 0);
	assert_int_equal(nshm_ring_close(p), 0);
	assert_int_equal(nshm_ring_close(o), 0);
	munmap((void *)got, len);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kind_and_type),
		cmocka_unit_test(test_params),
		cmocka_unit_test(test_roles_full),
		cmocka_unit_test(test_roles_128),
		cmocka_unit_test(test_roles_128_threads),
		cmocka_unit_test(test_stopped_producer),
		cmocka_unit_test(test_stopped_consumer),
		cmocka_unit_test(test_corrupt),
		cmocka_unit_test(test_wrap_2_32),
		cmocka_unit_test(test_wrap_2_64),
		cmocka_unit_test(test_wrap_tomb),
		cmocka_unit_test(test_wrap_live_claim),
		cmocka_unit_test(test_cursor_lag),
		cmocka_unit_test(test_pop_stopped_anywhere),
	};

	setvbuf(stdout, NULL, _IONBF, 0);
	return cmocka_run_group_tests_name("ring/mpmc", tests, NULL, NULL);
}
