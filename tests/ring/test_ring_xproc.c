/* SPDX-License-Identifier: MIT */
/*
 * Producer and consumer in two processes (fork; each attaches by name):
 * 10^7 messages with sequence and checksum check, spinning and blocking;
 * copying bursts; zero-copy bursts written and read in place; a blocked
 * call returns -NSHM_EPEERDEAD when the other process is SIGKILLed.
 * NSHM_TEST_SCALE scales the counts (sanitizer builds run 1/20).
 */
#include "ring_test.h"

enum mode { SPIN, BLOCK, BURST, ZEROCOPY };

static const char *mode_name[] = { "spin", "blocking", "burst", "zero-copy" };

/* Child: attach as producer and send @n messages. @return exit code. */
static int produce(const char *name, uint64_t n, enum mode mode)
{
	struct msg_ring *p;
	struct timespec dl;
	struct msg buf[64];
	uint64_t seq = 0, rnd = 88172645463325252ull;
	int rc;

	if (msg_ring_attach(name, NSHM_RING_PRODUCER, 0, &p) != 0)
		return 10;
	while (seq < n) {
		uint32_t k;

		rnd ^= rnd << 13;
		rnd ^= rnd >> 7;
		rnd ^= rnd << 17;
		k = (uint32_t)(rnd % 64) + 1;
		if (k > n - seq)
			k = (uint32_t)(n - seq);
		switch (mode) {
		case SPIN:
			msg_fill(&buf[0], seq);
			while (!msg_ring_push(p, &buf[0]))
				nshm_cpu_relax();
			seq++;
			break;
		case BLOCK:
			msg_fill(&buf[0], seq);
			rc = msg_ring_push_wait(p, &buf[0], t_in_ms(&dl, 10000));
			if (rc != 0)
				return 11;
			seq++;
			break;
		case BURST:
			for (uint32_t i = 0; i < k; i++)
				msg_fill(&buf[i], seq + i);
			for (uint32_t done = 0; done < k;) {
				rc = nshm_ring_push_n_wait(msg_ring_ring(p),
							   buf + done, k - done,
							   t_in_ms(&dl, 10000));
				if (rc <= 0)
					return 12;
				done += (uint32_t)rc;
			}
			seq += k;
			break;
		case ZEROCOPY: {
			struct msg_ring_span sp;
			uint32_t got = msg_ring_reserve_n(p, k, &sp);

			if (got == 0) {
				if (nshm_ring_wait_writable(msg_ring_ring(p),
							    t_in_ms(&dl,
								    10000)))
					return 13;
				continue;
			}
			for (uint32_t i = 0; i < got; i++)
				msg_fill(msg_ring_span_at(&sp, i), seq + i);
			msg_ring_commit_n(p, got);
			seq += got;
			break;
		}
		}
	}
	return msg_ring_close(p) == 0 ? 0 : 14;
}

static void run(enum mode mode, uint64_t n, uint32_t capacity)
{
	const char *name = t_name(mode_name[mode]);
	struct msg_ring *c = NULL;
	struct nshm_ring_stats st;
	struct timespec dl;
	struct msg buf[100];
	uint64_t want = 0, t0, dt, spins = 0;
	int status, bad = 0;
	pid_t pid;

	assert_int_equal(msg_ring_create(name, capacity, NSHM_RING_CONSUMER,
					 NSHM_PREFAULT, 0, &c),
			 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(produce(name, n, mode));

	t0 = t_now_ns();
	while (want < n && bad == 0) {
		switch (mode) {
		case SPIN:
			if (!msg_ring_pop(c, &buf[0])) {
				/* Watchdog: no progress for 20 s is a hang. */
				if ((++spins & 0xfffff) == 0 &&
				    t_now_ns() - t0 > 20000000000ull)
					bad = 100;
				continue;
			}
			bad = msg_check(&buf[0], want++);
			break;
		case BLOCK:
			if (msg_ring_pop_wait(c, &buf[0], t_in_ms(&dl, 10000)))
				bad = 101;
			else
				bad = msg_check(&buf[0], want++);
			break;
		case BURST: {
			int k = nshm_ring_pop_n_wait(msg_ring_ring(c), buf, 100,
						     t_in_ms(&dl, 10000));

			if (k <= 0)
				bad = 102;
			for (int i = 0; i < k && bad == 0; i++)
				bad = msg_check(&buf[i], want++);
			break;
		}
		case ZEROCOPY: {
			struct msg_ring_span sp;
			uint32_t k = msg_ring_peek_n(c, 100, &sp);

			if (k == 0) {
				if (nshm_ring_wait_readable(msg_ring_ring(c),
							    t_in_ms(&dl,
								    10000)))
					bad = 103;
				break;
			}
			for (uint32_t i = 0; i < k && bad == 0; i++)
				bad = msg_check(msg_ring_span_at(&sp, i),
						want++);
			msg_ring_release_n(c, k);
			break;
		}
		}
	}
	dt = t_now_ns() - t0;
	status = t_wait(pid, 20000);
	if (bad != 0)
		fprintf(stderr, "# %s: error %d at message %llu: %s\n",
			mode_name[mode], bad, (unsigned long long)want - 1,
			nshm_errdetail());
	assert_int_equal(bad, 0);
	assert_true(t_exited_ok(status));
	assert_false(msg_ring_pop(c, &buf[0])); /* nothing extra */
	assert_int_equal(nshm_ring_stats(msg_ring_ring(c), &st), 0);
	assert_true(st.pushed == n);
	assert_true(st.popped == n);
	printf("# %-9s %llu msgs of 64 B, capacity %u: %.1f M msg/s; "
	       "full waits %llu, empty waits %llu, parks %llu/%llu, "
	       "wake-ups %llu/%llu\n",
	       mode_name[mode], (unsigned long long)n, capacity,
	       (double)n * 1e3 / (double)dt,
	       (unsigned long long)st.full_waits,
	       (unsigned long long)st.empty_waits,
	       (unsigned long long)st.producer_parks,
	       (unsigned long long)st.consumer_parks,
	       (unsigned long long)st.producer_wakeups,
	       (unsigned long long)st.consumer_wakeups);
	assert_int_equal(msg_ring_close(c), 0);
}

static void test_spin_10m(void **state)
{
	(void)state;
	run(SPIN, t_count(10000000), 4096);
}

static void test_blocking_10m(void **state)
{
	(void)state;
	run(BLOCK, t_count(10000000), 4096);
}

static void test_blocking_small_ring(void **state)
{
	(void)state;
	/* Capacity 4: both sides park and wake each other all the time. */
	run(BLOCK, t_count(200000), 4);
}

static void test_burst(void **state)
{
	(void)state;
	run(BURST, t_count(5000000), 256);
}

static void test_zero_copy(void **state)
{
	(void)state;
	run(ZEROCOPY, t_count(5000000), 256);
}

/* A blocked call returns -NSHM_EPEERDEAD when the other side is killed. */
static void test_peer_death(void **state)
{
	const char *name = t_name("death");
	struct msg_ring *r = NULL;
	struct timespec dl;
	struct msg m;
	uint64_t t0;
	int status;
	pid_t pid;

	(void)state;
	/* Consumer killed, producer blocked on a full ring. */
	assert_int_equal(msg_ring_create(name, 4, NSHM_RING_PRODUCER, 0, 0,
					 &r),
			 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct msg_ring *c;

		if (msg_ring_attach(name, NSHM_RING_CONSUMER, 0, &c) != 0)
			_exit(1);
		pause();
		_exit(2);
	}
	/* Wait for the child's attach. */
	for (int i = 0; i < 5000; i++) {
		struct nshm_ring_stats st;

		nshm_ring_stats(msg_ring_ring(r), &st);
		if (st.consumer_alive == 1)
			break;
		usleep(1000);
	}
	for (uint64_t i = 0; i < 4; i++) {
		msg_fill(&m, i);
		assert_true(msg_ring_push(r, &m));
	}
	kill(pid, SIGKILL);
	t0 = t_now_ns();
	assert_int_equal(msg_ring_push_wait(r, &m, t_in_ms(&dl, 10000)),
			 -NSHM_EPEERDEAD);
	assert_true(t_now_ns() - t0 < 5000000000ull);
	assert_non_null(strstr(nshm_errdetail(), "consumer"));
	status = t_wait(pid, 5000);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(msg_ring_close(r), 0);

	/* Producer killed, consumer blocked on an empty ring. */
	name = t_name("death2");
	assert_int_equal(msg_ring_create(name, 4, NSHM_RING_CONSUMER, 0, 0,
					 &r),
			 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct msg_ring *p;

		if (msg_ring_attach(name, NSHM_RING_PRODUCER, 0, &p) != 0)
			_exit(1);
		msg_fill(&m, 0);
		msg_ring_push(p, &m);
		pause();
		_exit(2);
	}
	/* The message it pushed is still delivered; then the death. */
	assert_int_equal(msg_ring_pop_wait(r, &m, t_in_ms(&dl, 10000)), 0);
	assert_int_equal(msg_check(&m, 0), 0);
	/* Let the child sleep in pause(), then kill it. */
	usleep(20000);
	kill(pid, SIGKILL);
	t0 = t_now_ns();
	assert_int_equal(msg_ring_pop_wait(r, &m, t_in_ms(&dl, 10000)),
			 -NSHM_EPEERDEAD);
	assert_true(t_now_ns() - t0 < 5000000000ull);
	status = t_wait(pid, 5000);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(msg_ring_close(r), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spin_10m),
		cmocka_unit_test(test_blocking_10m),
		cmocka_unit_test(test_blocking_small_ring),
		cmocka_unit_test(test_burst),
		cmocka_unit_test(test_zero_copy),
		cmocka_unit_test(test_peer_death),
	};

	setvbuf(stdout, NULL, _IONBF, 0);
	return cmocka_run_group_tests_name("ring/xproc", tests, NULL, NULL);
}
