/* SPDX-License-Identifier: MIT */
/*
 * Producer SIGKILLed at random points and restarted, many times, while the
 * consumer reads (research notes §7 T5). Each restarted producer takes the
 * role over from the dead one and resumes from the tail in the ring; every
 * message carries seq == its ring index and a checksum. The consumer must
 * see every index exactly once, in order, never a torn message, and must
 * never hang: after each kill its blocking pop drains what was committed
 * and then returns -NSHM_EPEERDEAD.
 *
 * Producers alternate the three write paths (reserve/commit in place,
 * copying push, reserve_n bursts) so the kill lands inside all of them.
 */
#include "ring_test.h"

static uint64_t rnd_state = 0x2545f4914f6cdd1dull;

static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

/* Child: take the producer role over and write forever. */
static int producer(const char *name, int path)
{
	struct msg_ring *p;
	struct timespec dl;
	struct msg m;
	uint64_t seq;
	int rc;

	rc = msg_ring_attach(name, NSHM_RING_PRODUCER, 0, &p);
	if (rc != 0) {
		fprintf(stderr, "producer attach: %s (%s)\n",
			nshm_strerror(rc), nshm_errdetail());
		return 10;
	}
	seq = nshm_ring_position(msg_ring_ring(p));
	for (;;) {
		switch (path) {
		case 0: { /* in place: the kill can land mid-fill */
			struct msg *s = msg_ring_reserve(p);

			if (s == NULL)
				break;
			msg_fill(s, seq++);
			msg_ring_commit(p);
			continue;
		}
		case 1:
			msg_fill(&m, seq);
			if (msg_ring_push(p, &m)) {
				seq++;
				continue;
			}
			break;
		default: {
			struct msg_ring_span sp;
			uint32_t k = msg_ring_reserve_n(p, 1 + (uint32_t)(seq % 7),
							&sp);

			if (k == 0)
				break;
			for (uint32_t i = 0; i < k; i++)
				msg_fill(msg_ring_span_at(&sp, i), seq + i);
			msg_ring_commit_n(p, k);
			seq += k;
			continue;
		}
		}
		/* Full: block until there is room (or the consumer died). */
		rc = nshm_ring_wait_writable(msg_ring_ring(p),
					     t_in_ms(&dl, 10000));
		if (rc != 0)
			return 11;
	}
}

static void test_producer_kill_restart(void **state)
{
	const char *name = t_name("kill");
	struct msg_ring *c = NULL;
	struct nshm_ring_stats st;
	struct timespec dl;
	struct msg m;
	int kills = (int)(100 * t_scale()), torn = 0, dup_or_gap = 0, hung = 0;
	uint64_t want = 0, delivered = 0;
	uint32_t attached = 0;

	(void)state;
	assert_int_equal(msg_ring_create(name, 256, NSHM_RING_CONSUMER, 0, 0,
					 &c),
			 0);
	for (int k = 0; k < kills && !torn && !dup_or_gap && !hung; k++) {
		uint64_t until;
		int status, rc;
		pid_t pid = fork();

		assert_true(pid >= 0);
		if (pid == 0)
			_exit(producer(name, k % 3));
		/*
		 * Mostly let it attach first (a kill mid-stream); every 8th
		 * cycle it is killed at a random point of its attach.
		 * The first must attach: the role is then never NEVER below.
		 */
		if (k == 0 || k % 8 != 7) {
			uint64_t give_up = t_now_ns() + 5000000000ull;

			do {
				usleep(200);
				nshm_ring_stats(msg_ring_ring(c), &st);
			} while (st.producer_attaches < attached + 1 &&
				 t_now_ns() < give_up);
			assert_true(st.producer_attaches >= attached + 1);
		}
		/* Read for 0..15 ms, then kill it. */
		until = t_now_ns() + (rnd() % 16) * 1000000u;
		while (t_now_ns() < until) {
			rc = msg_ring_pop_wait(c, &m, t_in_ms(&dl, 2000));
			if (rc == -ETIMEDOUT) {
				hung++;
				break;
			}
			if (rc != 0)
				break; /* it died on its own: checked below */
			rc = msg_check(&m, want);
			if (rc == 1)
				dup_or_gap++;
			if (rc == 2)
				torn++;
			want++;
			delivered++;
		}
		kill(pid, SIGKILL);
		status = t_wait(pid, 5000);
		assert_true(WIFSIGNALED(status));
		nshm_ring_stats(msg_ring_ring(c), &st);
		attached = st.producer_attaches;
		/* Drain what it committed; then the consumer is told. */
		for (;;) {
			rc = msg_ring_pop_wait(c, &m, t_in_ms(&dl, 3000));
			if (rc != 0)
				break;
			rc = msg_check(&m, want);
			if (rc == 1)
				dup_or_gap++;
			if (rc == 2)
				torn++;
			want++;
			delivered++;
		}
		if (rc == -ETIMEDOUT)
			hung++;
		else
			assert_int_equal(rc, -NSHM_EPEERDEAD);
	}
	assert_int_equal(nshm_ring_stats(msg_ring_ring(c), &st), 0);
	printf("# T5 kills=%d delivered=%llu dup_or_gap=%d torn=%d "
	       "consumer_hung=%d producer_attaches=%u\n",
	       kills, (unsigned long long)delivered, dup_or_gap, torn, hung,
	       st.producer_attaches);
	assert_int_equal(torn, 0);
	assert_int_equal(dup_or_gap, 0);
	assert_int_equal(hung, 0);
	assert_true(st.popped == delivered);
	assert_true(st.pushed == delivered);
	assert_true(delivered > 0);
	assert_int_equal(msg_ring_close(c), 0);
}

/* A second consumer is refused while the first lives, accepted after. */
static void test_consumer_takeover(void **state)
{
	const char *name = t_name("ctake");
	struct msg_ring *p = NULL, *c = NULL;
	struct msg m;
	int status;
	pid_t pid;

	(void)state;
	assert_int_equal(msg_ring_create(name, 16, NSHM_RING_PRODUCER, 0, 0,
					 &p),
			 0);
	for (uint64_t i = 0; i < 10; i++) {
		msg_fill(&m, i);
		assert_true(msg_ring_push(p, &m));
	}
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct msg_ring *cc;

		if (msg_ring_attach(name, NSHM_RING_CONSUMER, 0, &cc) != 0)
			_exit(1);
		/* Read 3, peek the 4th and die holding it. */
		for (uint64_t i = 0; i < 3; i++)
			if (!msg_ring_pop(cc, &m) || msg_check(&m, i) != 0)
				_exit(2);
		if (msg_ring_peek(cc) == NULL)
			_exit(3);
		raise(SIGKILL);
	}
	status = t_wait(pid, 5000);
	assert_true(WIFSIGNALED(status));
	/* Take over: resume at the element the dead one was reading. */
	assert_int_equal(msg_ring_attach(name, NSHM_RING_CONSUMER, 0, &c), 0);
	assert_int_equal(nshm_ring_position(msg_ring_ring(c)), 3);
	for (uint64_t i = 3; i < 10; i++) {
		assert_true(msg_ring_pop(c, &m));
		assert_int_equal(msg_check(&m, i), 0);
	}
	assert_false(msg_ring_pop(c, &m));
	assert_int_equal(msg_ring_close(c), 0);
	assert_int_equal(msg_ring_close(p), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_producer_kill_restart),
		cmocka_unit_test(test_consumer_takeover),
	};

	setvbuf(stdout, NULL, _IONBF, 0);
	return cmocka_run_group_tests_name("ring/crash", tests, NULL, NULL);
}
