/* SPDX-License-Identifier: MIT */
/*
 * Producer and consumer as two threads of one process, each with its own
 * handle (its own mapping): the memory-order pairs R1/A2 and R2/A1 and the
 * park/notify protocol E1/E2 under ThreadSanitizer (label `thread`).
 * Spinning, blocking with a tiny ring (both sides park), and bursts.
 */
#include <pthread.h>

#include "ring_test.h"

struct job {
	const char *name;
	uint64_t n;
	int mode; /* 0 spin, 1 blocking, 2 burst */
	int rc;
};

static void *producer(void *arg)
{
	struct job *j = arg;
	struct msg_ring *p;
	struct timespec dl;
	struct msg buf[8];

	if (msg_ring_attach(j->name, NSHM_RING_PRODUCER, 0, &p) != 0) {
		j->rc = 1;
		return NULL;
	}
	for (uint64_t seq = 0; seq < j->n;) {
		if (j->mode == 2) {
			uint32_t k = 1 + (uint32_t)(seq % 8);
			int got;

			if (k > j->n - seq)
				k = (uint32_t)(j->n - seq);
			for (uint32_t i = 0; i < k; i++)
				msg_fill(&buf[i], seq + i);
			got = nshm_ring_push_n_wait(msg_ring_ring(p), buf, k,
						    t_in_ms(&dl, 10000));
			if (got <= 0) {
				j->rc = 2;
				break;
			}
			seq += (uint64_t)got;
			continue;
		}
		msg_fill(&buf[0], seq);
		if (j->mode == 0) {
			if (msg_ring_push(p, &buf[0]))
				seq++;
			else
				sched_yield(); /* TSan: keep it fair */
		} else if (msg_ring_push_wait(p, &buf[0],
					      t_in_ms(&dl, 10000)) == 0) {
			seq++;
		} else {
			j->rc = 3;
			break;
		}
	}
	msg_ring_close(p);
	return NULL;
}

static void run(int mode, uint64_t n, uint32_t cap)
{
	const char *name = t_name("thr");
	struct job j = { name, n, mode, 0 };
	struct msg_ring *c = NULL;
	struct nshm_ring_stats st;
	struct timespec dl;
	struct msg buf[8];
	pthread_t th;
	uint64_t want = 0;
	int bad = 0;

	assert_int_equal(msg_ring_create(name, cap, NSHM_RING_CONSUMER, 0, 0,
					 &c),
			 0);
	assert_int_equal(pthread_create(&th, NULL, producer, &j), 0);
	while (want < n && !bad) {
		int k;

		if (mode == 0) {
			if (!msg_ring_pop(c, &buf[0])) {
				sched_yield();
				continue;
			}
			k = 1;
		} else {
			k = nshm_ring_pop_n_wait(msg_ring_ring(c), buf,
						 mode == 2 ? 8 : 1,
						 t_in_ms(&dl, 10000));
			if (k <= 0) {
				bad = 100;
				break;
			}
		}
		for (int i = 0; i < k && !bad; i++)
			bad = msg_check(&buf[i], want++);
	}
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(bad, 0);
	assert_int_equal(j.rc, 0);
	assert_int_equal(nshm_ring_stats(msg_ring_ring(c), &st), 0);
	assert_true(st.popped == n);
	printf("# mode %d: %llu msgs, parks %llu/%llu wake-ups %llu/%llu\n",
	       mode, (unsigned long long)n,
	       (unsigned long long)st.producer_parks,
	       (unsigned long long)st.consumer_parks,
	       (unsigned long long)st.producer_wakeups,
	       (unsigned long long)st.consumer_wakeups);
	assert_int_equal(msg_ring_close(c), 0);
}

static void test_threads_spin(void **state)
{
	(void)state;
	run(0, t_count(2000000), 1024);
}

static void test_threads_blocking(void **state)
{
	(void)state;
	run(1, t_count(400000), 2);
}

static void test_threads_burst(void **state)
{
	(void)state;
	run(2, t_count(2000000), 16);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_threads_spin),
		cmocka_unit_test(test_threads_blocking),
		cmocka_unit_test(test_threads_burst),
	};

	setvbuf(stdout, NULL, _IONBF, 0);
	return cmocka_run_group_tests_name("ring/thread", tests, NULL, NULL);
}
