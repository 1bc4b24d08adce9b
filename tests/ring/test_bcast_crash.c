/* SPDX-License-Identifier: MIT */
/*
 * Broadcast (issue 11) under death, slowness, restarts and a hostile
 * writer, with real processes; every race is forced (SIGSTOP, pipes),
 * none left to a lucky schedule.
 *
 *   reader_killed   back-pressured: a reader SIGKILLed while it holds the
 *                   writer full is evicted (proof of death), the writer
 *                   goes on, the other reader loses nothing
 *   evict_slow      evict_ms: a SIGSTOPped reader is evicted after the
 *                   deadline (counted); resumed, its next read says
 *                   -NSHM_EEVICTED; it rejoins and reads on
 *   reader_resume   a reader SIGKILLed after 10 messages re-registers
 *                   with its tag, FROM_LAST, and resumes at message 10
 *   writer_restart  the writer SIGKILLed mid-stream (both policies) and
 *                   restarted: readers see every index once, none torn
 *                   (back-pressured: no gap either)
 *   hostile         a peer scribbles the header, the tail and seq words
 *                   while readers read: no crash, no hang, errors reported
 */
#include <signal.h>
#include <sys/wait.h>

#include "ring_test.h"

NSHM_BCAST_DEFINE(mb, struct msg)

/* A pipe pair: the child says it reached a point, the parent says go. */
struct sync2 {
	int up[2];
	int down[2];
};

static void s_init(struct sync2 *s)
{
	assert_int_equal(pipe(s->up), 0);
	assert_int_equal(pipe(s->down), 0);
}

static void s_fini(struct sync2 *s)
{
	close(s->up[0]);
	close(s->up[1]);
	close(s->down[0]);
	close(s->down[1]);
}

static void s_tell(int fd)
{
	char b = 'x';

	if (write(fd, &b, 1) != 1)
		_exit(3);
}

static void s_hear(int fd)
{
	char b;

	if (read(fd, &b, 1) != 1)
		_exit(4);
}

static void publish_n(struct mb *w, uint64_t from, uint64_t n)
{
	struct msg m;
	struct timespec dl;

	for (uint64_t i = from; i < from + n; i++) {
		msg_fill(&m, i);
		assert_int_equal(mb_publish_wait(w, &m, t_in_ms(&dl, 10000)), 0);
	}
}

/* Reader child: read @n in order from 0; tell up after @tell_at. */
static int read_all(const char *name, uint64_t n, uint64_t tell_at,
		    struct sync2 *s, uint32_t tag)
{
	struct mb *h = NULL;
	struct msg m;
	struct timespec dl;
	uint64_t missed;

	if (mb_attach(name, NSHM_RING_CONSUMER, NSHM_BCAST_FROM_OLDEST, tag, 0,
		      &h) != 0)
		return 10;
	s_tell(s->up[1]);
	for (uint64_t i = 0; i < n; i++) {
		int rc = mb_read_wait(h, &m, &missed, t_in_ms(&dl, 10000));

		if (rc != 1)
			return 11;
		if (msg_check(&m, i) != 0)
			return 13;
		if (i + 1 == tell_at) {
			s_tell(s->up[1]);
			s_hear(s->down[0]); /* parked here until killed */
		}
	}
	mb_close(h);
	return 0;
}

static void test_reader_killed(void **state)
{
	const char *name = t_name("bc-kill");
	struct nshm_ring_stats st;
	struct mb *w = NULL;
	struct sync2 s;
	pid_t victim, good;
	int status;
	const uint64_t n = 2000;

	(void)state;
	s_init(&s);
	assert_int_equal(mb_create(name, 64, NSHM_BCAST_BACKPRESSURE, 8, 0, 0,
				   0, &w),
			 0);
	victim = fork();
	assert_true(victim >= 0);
	if (victim == 0)
		_exit(read_all(name, n, 5, &s, 0));
	s_hear(s.up[0]);
	good = fork();
	assert_true(good >= 0);
	if (good == 0)
		_exit(read_all(name, n, 0, &s, 0));
	s_hear(s.up[0]);
	/* The victim stops after 5: the writer fills up against it. */
	publish_n(w, 0, 5 + 64);
	s_hear(s.up[0]);
	assert_false(mb_publish(w, &(struct msg){ 0 }));
	kill(victim, SIGKILL);
	waitpid(victim, &status, 0);
	/* Proof of death: evicted, the writer goes on to the end. */
	publish_n(w, 5 + 64, n - 5 - 64);
	status = t_wait(good, 30000);
	assert_true(t_exited_ok(status));
	assert_int_equal(nshm_ring_stats(mb_ring(w), &st), 0);
	assert_int_equal(st.evictions, 1);
	mb_close(w);
	nshm_ring_delete(name);
	s_fini(&s);
}

static void test_evict_slow(void **state)
{
	const char *name = t_name("bc-slow");
	struct nshm_ring_stats st;
	struct mb *w = NULL;
	struct sync2 s;
	pid_t slow;
	int status;
	uint64_t t0;

	(void)state;
	s_init(&s);
	assert_int_equal(mb_create(name, 16, NSHM_BCAST_BACKPRESSURE, 4, 50, 0,
				   0, &w),
			 0);
	slow = fork();
	assert_true(slow >= 0);
	if (slow == 0) {
		struct mb *h = NULL;
		struct msg m;
		uint64_t missed;
		int rc;

		if (mb_attach(name, NSHM_RING_CONSUMER, NSHM_BCAST_FROM_NOW, 0,
			      0, &h) != 0)
			_exit(10);
		s_tell(s.up[1]);
		s_hear(s.down[0]); /* SIGSTOPped here by the parent */
		rc = mb_read(h, &m, &missed);
		if (rc != -NSHM_EEVICTED)
			_exit(11);
		if (mb_read(h, &m, &missed) != -NSHM_EEVICTED)
			_exit(12); /* sticky until rejoin */
		/* From now: what is there now is never lost to us again. */
		if (nshm_bcast_rejoin(mb_ring(h), NSHM_BCAST_FROM_NOW) != 0)
			_exit(13);
		s_tell(s.up[1]);
		/* Registered again: we hold the writer back, nothing lost. */
		for (uint64_t i = 0; i < 100; i++) {
			struct timespec dl;

			rc = mb_read_wait(h, &m, &missed, t_in_ms(&dl, 10000));
			if (rc != 1)
				_exit(14);
			if (i == 0)
				t0 = m.seq;
			else if (msg_check(&m, t0 + i) != 0)
				_exit(15);
		}
		mb_close(h);
		_exit(0);
	}
	s_hear(s.up[0]);
	kill(slow, SIGSTOP);
	t0 = t_now_ns();
	publish_n(w, 0, 16 + 100); /* full after 16; evicted at ~50 ms */
	assert_true(t_now_ns() - t0 >= 45000000u);
	assert_int_equal(nshm_ring_stats(mb_ring(w), &st), 0);
	assert_int_equal(st.evictions, 1);
	kill(slow, SIGCONT);
	s_tell(s.down[1]);
	s_hear(s.up[0]);
	publish_n(w, 116, 200);
	status = t_wait(slow, 30000);
	if (!t_exited_ok(status))
		fail_msg("slow reader: exit %d",
			 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	mb_close(w);
	nshm_ring_delete(name);
	s_fini(&s);
}

static void test_reader_resume(void **state)
{
	const char *name = t_name("bc-resume");
	struct mb *w = NULL, *h = NULL;
	struct sync2 s;
	struct msg m;
	struct timespec dl;
	uint64_t missed;
	pid_t pid;
	int status;

	(void)state;
	s_init(&s);
	assert_int_equal(mb_create(name, 64, NSHM_BCAST_BACKPRESSURE, 4, 0, 0,
				   0, &w),
			 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(read_all(name, 40, 10, &s, 7));
	s_hear(s.up[0]);
	publish_n(w, 0, 40);
	s_hear(s.up[0]); /* it read 10 */
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	/* Untagged newcomers do not get its position... */
	assert_int_equal(mb_attach(name, NSHM_RING_CONSUMER,
				   NSHM_BCAST_FROM_LAST, 9, 0, &h),
			 0);
	assert_int_equal(nshm_bcast_resumed(mb_ring(h)), 0);
	mb_close(h);
	/* ...the restarted reader with its tag does. */
	assert_int_equal(mb_attach(name, NSHM_RING_CONSUMER,
				   NSHM_BCAST_FROM_LAST, 7, 0, &h),
			 0);
	assert_int_equal(nshm_bcast_resumed(mb_ring(h)), 1);
	for (uint64_t i = 10; i < 40; i++) {
		assert_int_equal(mb_read_wait(h, &m, &missed,
					      t_in_ms(&dl, 5000)),
				 1);
		assert_int_equal(msg_check(&m, i), 0);
	}
	mb_close(h);
	mb_close(w);
	nshm_ring_delete(name);
	s_fini(&s);
}

/* ---- writer killed and restarted ---------------------------------------- */

/* Writer child: attach (taking a dead writer's place) and publish on. */
static int writer_child(const char *name, uint64_t until, struct sync2 *s)
{
	struct mb *w = NULL;
	struct msg m;
	struct timespec dl;
	uint64_t i;

	if (mb_attach(name, NSHM_RING_PRODUCER, NSHM_BCAST_FROM_NOW, 0, 0,
		      &w) != 0)
		return 10;
	i = nshm_ring_position(mb_ring(w));
	if (s != NULL)
		s_tell(s->up[1]);
	for (; i < until; i++) {
		msg_fill(&m, i);
		if (mb_publish_wait(w, &m, t_in_ms(&dl, 20000)) != 0)
			return 11;
		if (s != NULL && (i & 63) == 0)
			usleep(100);
	}
	mb_close(w);
	return 0;
}

/*
 * Reader child: every message index once, in order, intact; gaps only
 * as counted laps (lossy); -NSHM_EPEERDEAD/-ETIMEDOUT while no writer
 * lives are the documented signal: read on.
 */
static int restart_reader(const char *name, int role, uint64_t n,
			  struct sync2 *s)
{
	struct mb *h = NULL;
	struct msg m;
	struct timespec dl;
	uint64_t want = 0, missed, signals = 0;

	if (mb_attach(name, role, NSHM_BCAST_FROM_OLDEST, 0, 0, &h) != 0)
		return 10;
	s_tell(s->up[1]);
	while (want < n) {
		int rc = mb_read_wait(h, &m, &missed, t_in_ms(&dl, 200));

		if (rc == -NSHM_EPEERDEAD || rc == -ETIMEDOUT || rc == -EPIPE) {
			if (++signals > 200)
				return 12;
			continue;
		}
		if (rc == -NSHM_ELAPPED && role == NSHM_RING_SUBSCRIBER) {
			want += missed;
			continue;
		}
		if (rc != 1)
			return 11;
		if (msg_check(&m, want) != 0)
			return 13; /* duplicate, gap or torn */
		want++;
	}
	mb_close(h);
	return 0;
}

static void run_restart(int policy)
{
	const char *name = t_name("bc-wrst");
	int role = policy == NSHM_BCAST_LOSSY ? NSHM_RING_SUBSCRIBER
					      : NSHM_RING_CONSUMER;
	const uint64_t n = 300000;
	struct mb *w = NULL;
	struct sync2 s;
	pid_t rd[2], wr;
	int status;

	s_init(&s);
	assert_int_equal(mb_create(name, 4096, (uint32_t)policy, 0, 0, 0, 0,
				   &w),
			 0);
	for (int i = 0; i < 2; i++) {
		rd[i] = fork();
		assert_true(rd[i] >= 0);
		if (rd[i] == 0)
			_exit(restart_reader(name, role, n, &s));
		s_hear(s.up[0]);
	}
	mb_close(w); /* the first writer child starts from index 0 */
	for (int round = 0; round < 3; round++) {
		wr = fork();
		assert_true(wr >= 0);
		if (wr == 0)
			_exit(writer_child(name, n, &s));
		s_hear(s.up[0]);
		usleep(20000 + 10000 * (useconds_t)round);
		kill(wr, SIGKILL);
		waitpid(wr, &status, 0);
	}
	wr = fork();
	assert_true(wr >= 0);
	if (wr == 0)
		_exit(writer_child(name, n, NULL));
	assert_true(t_exited_ok(t_wait(wr, 60000)));
	for (int i = 0; i < 2; i++) {
		status = t_wait(rd[i], 60000);
		if (!t_exited_ok(status))
			fail_msg("reader %d: exit %d", i,
				 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	}
	nshm_ring_delete(name);
	s_fini(&s);
}

static void test_writer_restart_bp(void **state)
{
	(void)state;
	run_restart(NSHM_BCAST_BACKPRESSURE);
}

static void test_writer_restart_lossy(void **state)
{
	(void)state;
	run_restart(NSHM_BCAST_LOSSY);
}

/* ---- a hostile peer scribbling while readers read ----------------------- */

static int hostile_reader(const char *name, int role, uint64_t ms,
			  struct sync2 *s)
{
	struct mb *h = NULL;
	struct msg m;
	const struct msg *p;
	struct timespec dl;
	uint64_t end, missed, errors = 0;

	if (mb_attach(name, role, NSHM_BCAST_FROM_NOW, 0, 0, &h) != 0)
		return 10;
	s_tell(s->up[1]);
	end = t_now_ns() + ms * 1000000u;
	while (t_now_ns() < end) {
		int rc = mb_read_wait(h, &m, &missed, t_in_ms(&dl, 5));

		if (rc == 1 || rc == -ETIMEDOUT)
			continue;
		/* Any error is fine (reported); a crash or a hang is not. */
		errors++;
		nshm_ring_clear_error(mb_ring(h));
		if (rc != -NSHM_ELAPPED)
			nshm_bcast_rejoin(mb_ring(h), NSHM_BCAST_FROM_NOW);
		if (mb_read_begin(h, &p, &missed) == 1)
			(void)mb_read_end(h, &missed);
	}
	mb_close(h);
	return errors > 0 ? 0 : 12;
}

static void test_hostile(void **state)
{
	const char *name = t_name("bc-host");
	uint64_t ms = 300, end, rnd = 0x2545F4914F6CDD1Dull;
	struct mb *w = NULL;
	struct nshm_ring_shared *sh;
	struct sync2 s;
	struct msg m;
	pid_t rd[2];
	uint64_t i = 0;

	(void)state;
	s_init(&s);
	assert_int_equal(mb_create(name, 64, NSHM_BCAST_BACKPRESSURE, 4, 20, 0,
				   0, &w),
			 0);
	for (int k = 0; k < 2; k++) {
		rd[k] = fork();
		assert_true(rd[k] >= 0);
		if (rd[k] == 0)
			_exit(hostile_reader(name,
					     k ? NSHM_RING_SUBSCRIBER
					       : NSHM_RING_CONSUMER,
					     ms, &s));
		s_hear(s.up[0]);
	}
	sh = t_scribbler(name);
	end = t_now_ns() + (ms + 100) * 1000000u;
	while (t_now_ns() < end) {
		unsigned char *b = (unsigned char *)sh;
		unsigned char *slots = mb_ring(w)->slots;
		uint32_t stride = mb_ring(w)->stride;

		for (int k = 0; k < 64; k++, i++) {
			msg_fill(&m, i);
			mb_publish(w, &m);
		}
		rnd ^= rnd << 13;
		rnd ^= rnd >> 7;
		rnd ^= rnd << 17;
		switch (rnd % 4) {
		case 0: /* the tail, anywhere */
			atomic_store(&sh->prod.index, rnd >> 3);
			break;
		case 1: /* a slot's seq word */
			atomic_store((_Atomic(uint64_t) *)(void *)(slots +
				     (rnd >> 8) % 64 * stride + 64),
				     rnd >> 4);
			break;
		case 2: /* a byte of the header or the role table */
			b[(rnd >> 8) % (512 + 64 * 5)] ^= (unsigned char)rnd;
			break;
		default: /* the tail set back to where the writer is */
			atomic_store(&sh->prod.index,
				     nshm_ring_position(mb_ring(w)));
			break;
		}
		nshm_bcast_recover(mb_ring(w));
		usleep(200);
	}
	for (int k = 0; k < 2; k++) {
		int status = t_wait(rd[k], 20000);

		if (!t_exited_ok(status))
			fail_msg("reader %d: status 0x%x (exit %d)", k, status,
				 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	}
	mb_close(w);
	nshm_ring_delete(name);
	s_fini(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reader_killed),
		cmocka_unit_test(test_evict_slow),
		cmocka_unit_test(test_reader_resume),
		cmocka_unit_test(test_writer_restart_bp),
		cmocka_unit_test(test_writer_restart_lossy),
		cmocka_unit_test(test_hostile),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
