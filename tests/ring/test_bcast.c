/* SPDX-License-Identifier: MIT */
/*
 * Broadcast (issue 11): the API, the lossy and back-pressured policies
 * with real reader processes, torn reads under heavy overwrite, and the
 * read-only subscriber mapping.
 *
 *   api            create/attach checks, publish/read, an exact lap in one
 *                  process, read_begin/read_end, stats
 *   readonly       a subscriber's store into the ring faults (SIGSEGV
 *                  handler _exit()s with a known code: works under ASan)
 *   lossless       back-pressured, 1 writer, 4 reader processes: every
 *                  reader gets every message in order
 *   lossy          1 writer, 3 fast readers and 1 deliberately slow one:
 *                  the slow one reports laps and received + missed ==
 *                  published exactly; the fast ones lose nothing
 *   torn           capacity 4, a writer overwriting flat out: copying and
 *                  in-place readers never accept a torn message
 *
 * NSHM_TEST_SCALE scales the counts (10^7 messages at 50).
 */
#include <signal.h>
#include <sys/wait.h>

#include "ring_test.h"

NSHM_BCAST_DEFINE(mb, struct msg)

static const struct nshm_ring_type msg_type = NSHM_RING_TYPE_INIT(struct msg, 1);

#define READERS 4

/* ---- api ---------------------------------------------------------------- */

static void test_api(void **state)
{
	const char *n = t_name("bc-api");
	struct nshm_ring_params p = NSHM_RING_PARAMS_INIT;
	struct nshm_ring *w = NULL, *s = NULL, *c = NULL;
	struct nshm_ring_stats st;
	struct mb *tw = NULL;
	struct msg m;
	const void *in;
	uint64_t missed = 99;

	(void)state;
	p.kind = NSHM_RING_BROADCAST;
	p.type = &msg_type;
	p.capacity = 8;
	p.role = NSHM_RING_PRODUCER;
	p.max_consumers = 4; /* lossy: no reader entries */
	assert_int_equal(nshm_ring_create_with(n, &p, &w), -EINVAL);
	p.max_consumers = 0;
	p.policy = 7;
	assert_int_equal(nshm_ring_create_with(n, &p, &w), -EINVAL);
	p.policy = NSHM_BCAST_LOSSY;
	p.role = NSHM_RING_SUBSCRIBER;
	assert_int_equal(nshm_ring_create_with(n, &p, &w), -EINVAL);
	p.role = NSHM_RING_PRODUCER;
	assert_int_equal(nshm_ring_create_with(n, &p, &w), 0);

	/* A lossy ring has no registered readers; SPSC has no subscribers. */
	assert_int_equal(nshm_bcast_attach(n, &msg_type, NSHM_RING_CONSUMER,
					   NSHM_BCAST_FROM_NOW, 0, 0, &c),
			 -EINVAL); /* as bcast.h documents */
	assert_int_equal(nshm_bcast_attach(n, &msg_type, NSHM_RING_SUBSCRIBER,
					   NSHM_BCAST_FROM_LAST, 0, 0, &s),
			 -EINVAL);
	assert_int_equal(nshm_ring_attach(n, NSHM_RING_SPSC, &msg_type,
					  NSHM_RING_SUBSCRIBER, 0, &s),
			 -NSHM_EKIND);
	assert_int_equal(nshm_ring_attach(n, NSHM_RING_BROADCAST, &msg_type,
					  NSHM_RING_SUBSCRIBER, 0, &s),
			 0);
	assert_int_equal(nshm_bcast_read(s, &m, &missed), 0);
	assert_int_equal(missed, 0);

	/* One message, then an exact lap: 3 laps' worth, 8 kept, 1 busy-safe. */
	msg_fill(&m, 0);
	assert_true(nshm_bcast_publish(w, &m));
	memset(&m, 0, sizeof(m));
	assert_int_equal(nshm_bcast_read(s, &m, &missed), 1);
	assert_int_equal(msg_check(&m, 0), 0);
	for (uint64_t i = 1; i <= 24; i++) {
		msg_fill(&m, i);
		assert_true(nshm_bcast_publish(w, &m));
	}
	/* Reader at 1, tail 25, capacity 8: resumes at 25 - 8 + 8/8 = 18. */
	assert_int_equal(nshm_bcast_read(s, &m, &missed), -NSHM_ELAPPED);
	assert_int_equal(missed, 17);
	for (uint64_t i = 18; i <= 24; i++) {
		assert_int_equal(nshm_bcast_read(s, &m, &missed), 1);
		assert_int_equal(msg_check(&m, i), 0);
	}
	assert_int_equal(nshm_bcast_read(s, &m, &missed), 0);
	assert_int_equal(nshm_ring_stats(s, &st), 0);
	assert_int_equal(st.laps, 1);
	assert_int_equal(st.missed, 17);
	assert_int_equal(st.pushed, 25);

	/* In place: a whole read, then one overwritten under the reader. */
	msg_fill(&m, 25);
	assert_true(nshm_bcast_publish(w, &m));
	assert_int_equal(nshm_bcast_read_begin(s, &in, &missed), 1);
	assert_int_equal(msg_check(in, 25), 0);
	assert_int_equal(nshm_bcast_read_end(s, &missed), 1);
	msg_fill(&m, 26);
	assert_true(nshm_bcast_publish(w, &m));
	assert_int_equal(nshm_bcast_read_begin(s, &in, &missed), 1);
	for (uint64_t i = 27; i < 27 + 8; i++) {
		msg_fill(&m, i);
		assert_true(nshm_bcast_publish(w, &m));
	}
	assert_int_equal(nshm_bcast_read_end(s, &missed), -NSHM_ELAPPED);
	assert_int_equal(missed, 2); /* 26 overwritten by 34: on at 35-8+1 */
	assert_int_equal(nshm_bcast_read(s, &m, &missed), 1);
	assert_int_equal(msg_check(&m, 28), 0);
	assert_int_equal(nshm_bcast_read_end(s, &missed), -EINVAL);

	/* Role misuse touches nothing. */
	assert_null(nshm_bcast_reserve(s));
	assert_int_equal(nshm_ring_error(s), -EPERM);
	assert_int_equal(nshm_bcast_read(w, &m, &missed), -EPERM);
	assert_int_equal(nshm_ring_check(s), 0);
	assert_int_equal(nshm_ring_check(w), 0);

	/* Join from the oldest retained. */
	{
		struct mb *o = NULL;

		assert_int_equal(mb_attach(n, NSHM_RING_SUBSCRIBER,
					   NSHM_BCAST_FROM_OLDEST, 0, 0, &o),
				 0);
		assert_int_equal(mb_read(o, &m, &missed), 1);
		/* 27's slot is marked busy for 35 already. */
		assert_int_equal(msg_check(&m, 35 - 8 + 1), 0);
		mb_close(o);
	}
	assert_int_equal(nshm_ring_close(s), 0);
	assert_int_equal(nshm_ring_close(w), 0);
	nshm_ring_delete(n);

	/* Back-pressured: full at a capacity ahead of the slowest reader. */
	n = t_name("bc-api-bp");
	assert_int_equal(mb_create(n, 4, NSHM_BCAST_BACKPRESSURE, 0, 0, 0, 0,
				   &tw),
			 0);
	assert_int_equal(nshm_ring_stats(mb_ring(tw), &st), 0);
	assert_int_equal(st.max_consumers, NSHM_BCAST_READERS_DEFAULT);
	{
		struct mb *rd = NULL;
		struct timespec dl;

		assert_int_equal(mb_attach(n, NSHM_RING_CONSUMER,
					   NSHM_BCAST_FROM_NOW, 3, 0, &rd),
				 0);
		for (uint64_t i = 0; i < 4; i++) {
			msg_fill(&m, i);
			assert_true(mb_publish(tw, &m));
		}
		msg_fill(&m, 4);
		assert_false(mb_publish(tw, &m));
		assert_int_equal(mb_publish_wait(tw, &m, t_in_ms(&dl, 30)),
				 -ETIMEDOUT);
		assert_int_equal(mb_read(rd, &m, &missed), 1);
		assert_int_equal(msg_check(&m, 0), 0);
		msg_fill(&m, 4);
		assert_true(mb_publish(tw, &m));
		assert_int_equal(nshm_ring_stats(mb_ring(tw), &st), 0);
		assert_int_equal(st.count, 4);
		assert_int_equal(st.consumers, 1);
		assert_int_equal(nshm_bcast_recover(mb_ring(tw)), 0);
		mb_close(rd);
		/* No reader left: the writer runs free. */
		for (uint64_t i = 5; i < 20; i++) {
			msg_fill(&m, i);
			assert_true(mb_publish(tw, &m));
		}
	}
	mb_close(tw);
	nshm_ring_delete(n);
}

/* ---- a subscriber's mapping is read-only --------------------------------- */

static void on_segv(int sig)
{
	(void)sig;
	_exit(42);
}

static void test_readonly(void **state)
{
	const char *n = t_name("bc-ro");
	struct mb *w = NULL;
	struct msg m;
	pid_t pid;
	int status;

	(void)state;
	assert_int_equal(mb_create(n, 16, NSHM_BCAST_LOSSY, 0, 0, 0, 0, &w), 0);
	msg_fill(&m, 0);
	assert_true(mb_publish(w, &m));
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct nshm_ring *s = NULL;
		struct sigaction sa;

		if (nshm_ring_attach(n, NSHM_RING_BROADCAST, &msg_type,
				     NSHM_RING_SUBSCRIBER, 0, &s) != 0)
			_exit(10);
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_segv;
		sigaction(SIGSEGV, &sa, NULL);
		sigaction(SIGBUS, &sa, NULL);
		/* The slot, the tail, the role table: each store faults. */
		*(volatile uint64_t *)(void *)s->slots = 1;
		_exit(11);
	}
	status = t_wait(pid, 10000);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 42);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct nshm_ring *s = NULL;
		struct sigaction sa;

		if (nshm_ring_attach(n, NSHM_RING_BROADCAST, &msg_type,
				     NSHM_RING_SUBSCRIBER, 0, &s) != 0)
			_exit(10);
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_segv;
		sigaction(SIGSEGV, &sa, NULL);
		sigaction(SIGBUS, &sa, NULL);
		atomic_store(&s->sh->prod.index, 0);
		_exit(11);
	}
	status = t_wait(pid, 10000);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 42);
	mb_close(w);
	nshm_ring_delete(n);
}

/* ---- many reader processes ------------------------------------------------ */

struct go {
	int ready[2]; /* readers write one byte each once attached */
};

static void go_init(struct go *g)
{
	assert_int_equal(pipe(g->ready), 0);
}

static void go_wait(struct go *g, int n)
{
	char b;

	for (int i = 0; i < n; i++)
		assert_int_equal(read(g->ready[0], &b, 1), 1);
}

static void go_signal(struct go *g)
{
	char b = 'r';

	if (write(g->ready[1], &b, 1) != 1)
		_exit(3);
}

/*
 * Reader child: read until message @n - 1. @slow_us: sleep that long
 * after each message of the first half. Exit 0 when every message it got was intact and in
 * order and (strict) none was missed, and received + missed == n.
 */
static int reader(const char *name, int role, uint64_t n, unsigned slow_us,
		  bool strict, struct go *g)
{
	struct mb *h = NULL;
	struct msg m;
	struct timespec dl;
	uint64_t want = 0, got = 0, lost = 0, missed, laps = 0;

	if (mb_attach(name, role, NSHM_BCAST_FROM_OLDEST, 0, 0, &h) != 0)
		return 10;
	go_signal(g);
	while (want < n) {
		int rc = mb_read_wait(h, &m, &missed, t_in_ms(&dl, 20000));

		if (rc == -NSHM_ELAPPED) {
			if (strict)
				return 12;
			laps++;
			lost += missed;
			want += missed;
			continue;
		}
		if (rc != 1)
			return 11;
		if (msg_check(&m, want) != 0)
			return 13;
		want++;
		got++;
		/*
		 * The slow one: after its first message it waits until the
		 * writer is more than a lap ahead (a lap for sure), then
		 * reads slowly through the first half, then catches up.
		 */
		if (slow_us != 0 && got == 1) {
			struct nshm_ring_stats st;

			do {
				usleep(1000);
				if (nshm_ring_stats(mb_ring(h), &st) != 0)
					return 17;
			} while (st.pushed < want + st.capacity + 1 &&
				 st.pushed < n);
		}
		if (slow_us != 0 && want < n / 2)
			usleep(slow_us);
	}
	if (got + lost != n)
		return 14;
	if (slow_us != 0 && laps == 0)
		return 15; /* the slow reader must have been lapped */
	{
		struct nshm_ring_stats st;

		if (nshm_ring_stats(mb_ring(h), &st) != 0 || st.missed != lost ||
		    st.laps != laps)
			return 16;
	}
	mb_close(h);
	return 0;
}

static void run_fanout(int policy, uint64_t n, uint32_t cap, unsigned pace_every)
{
	const char *name = t_name("bc-fan");
	struct mb *w = NULL;
	struct msg m;
	struct timespec dl;
	pid_t pid[READERS];
	struct go g;

	go_init(&g);
	assert_int_equal(mb_create(name, cap, (uint32_t)policy, 0, 0, 0, 0, &w),
			 0);
	for (int i = 0; i < READERS; i++) {
		bool slow = policy == NSHM_BCAST_LOSSY && i == READERS - 1;

		pid[i] = fork();
		assert_true(pid[i] >= 0);
		if (pid[i] == 0)
			_exit(reader(name,
				     policy == NSHM_BCAST_LOSSY
					     ? NSHM_RING_SUBSCRIBER
					     : NSHM_RING_CONSUMER,
				     n, slow ? 200 : 0,
				     !slow, &g));
	}
	go_wait(&g, READERS);
	for (uint64_t i = 0; i < n; i++) {
		msg_fill(&m, i);
		assert_int_equal(mb_publish_wait(w, &m, t_in_ms(&dl, 20000)), 0);
		if (pace_every != 0 && i % pace_every == pace_every - 1)
			usleep(1000);
	}
	for (int i = 0; i < READERS; i++) {
		int status = t_wait(pid[i], 60000);

		if (!t_exited_ok(status))
			fail_msg("reader %d: status 0x%x (exit %d)", i, status,
				 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	}
	{
		struct nshm_ring_stats st;

		assert_int_equal(nshm_ring_stats(mb_ring(w), &st), 0);
		assert_int_equal(st.pushed, n);
		assert_int_equal(st.evictions, 0);
	}
	mb_close(w);
	nshm_ring_delete(name);
	close(g.ready[0]);
	close(g.ready[1]);
}

static void test_lossless(void **state)
{
	(void)state;
	run_fanout(NSHM_BCAST_BACKPRESSURE, t_count(200000), 1024, 0);
}

/*
 * Lossy: the writer is paced (1 ms pause every capacity / 32 messages: a
 * capacity holds 32 ms of traffic) so that fast readers on a loaded
 * machine keep up; the slow one (200 us per message) cannot.
 */
static void test_lossy(void **state)
{
	uint64_t n = t_count(200000);
	uint32_t cap = 65536;

	(void)state;
	while (cap > 1024 && cap * 4ull > n)
		cap /= 2;
	run_fanout(NSHM_BCAST_LOSSY, n, cap, cap / 32);
}

/* ---- torn reads under heavy overwrite ------------------------------------- */

static int torn_reader(const char *name, bool in_place, uint64_t ms,
		       struct go *g)
{
	struct mb *h = NULL;
	struct msg m;
	const struct msg *p;
	uint64_t end, missed, last = 0, got = 0, laps = 0;
	bool any = false;

	if (mb_attach(name, NSHM_RING_SUBSCRIBER, NSHM_BCAST_FROM_NOW, 0, 0,
		      &h) != 0)
		return 10;
	go_signal(g);
	end = t_now_ns() + ms * 1000000u;
	while (t_now_ns() < end) {
		uint64_t pos = nshm_ring_position(mb_ring(h));
		int rc;

		if (in_place) {
			int ok;

			rc = mb_read_begin(h, &p, &missed);
			if (rc != 1)
				goto other;
			/* Computed on the live slot, believed only after end. */
			ok = msg_check(p, pos);
			rc = mb_read_end(h, &missed);
			if (rc == 1 && ok != 0)
				return 13; /* a torn message was accepted */
			if (rc == 1)
				goto good;
			goto other;
		}
		rc = mb_read(h, &m, &missed);
		if (rc == 1) {
			if (msg_check(&m, pos) != 0)
				return 13;
			goto good;
		}
other:
		if (rc == -NSHM_ELAPPED) {
			laps++;
			continue;
		}
		if (rc != 0) {
			fprintf(stderr, "torn reader: %d: %s\n", rc,
				nshm_errdetail());
			return 11;
		}
		continue;
good:
		if (any && pos <= last)
			return 14; /* a duplicate or going back */
		last = pos;
		any = true;
		got++;
	}
	mb_close(h);
	return got > 0 && laps > 0 ? 0 : 15;
}

static void test_torn(void **state)
{
	const char *name = t_name("bc-torn");
	uint64_t ms = T_SANITIZED ? 600 : 300;
	struct mb *w = NULL;
	struct msg m;
	pid_t pid[2];
	struct go g;
	uint64_t i = 0, end;

	(void)state;
	go_init(&g);
	assert_int_equal(mb_create(name, 4, NSHM_BCAST_LOSSY, 0, 0, 0, 0, &w),
			 0);
	for (int k = 0; k < 2; k++) {
		pid[k] = fork();
		assert_true(pid[k] >= 0);
		if (pid[k] == 0)
			_exit(torn_reader(name, k == 1, ms, &g));
	}
	go_wait(&g, 2);
	end = t_now_ns() + (ms + 200) * 1000000u;
	while (t_now_ns() < end) {
		for (int k = 0; k < 256; k++, i++) {
			msg_fill(&m, i);
			mb_publish(w, &m);
		}
	}
	for (int k = 0; k < 2; k++) {
		int status = t_wait(pid[k], 30000);

		if (!t_exited_ok(status))
			fail_msg("%s reader: status 0x%x (exit %d)",
				 k ? "in-place" : "copying", status,
				 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	}
	mb_close(w);
	nshm_ring_delete(name);
	close(g.ready[0]);
	close(g.ready[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_api),
		cmocka_unit_test(test_readonly),
		cmocka_unit_test(test_lossless),
		cmocka_unit_test(test_lossy),
		cmocka_unit_test(test_torn),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
