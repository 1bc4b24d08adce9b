/* SPDX-License-Identifier: MIT */
/*
 * The records ring with its producer(s) and consumer as threads of one
 * process, each with its own handle: the memory-order pairs RING-RR1/RA1
 * (header after payload), RR2/RA2 (head after the reads, and with many
 * producers after the consumer's zeroing) and RM5..RM8 (claims and
 * intents) under ThreadSanitizer (label `thread`). One producer with
 * batches, and three producers, in a small ring so every side waits.
 */
#include <pthread.h>

#include <nshm/records.h>
#include "ring_test.h"

struct job {
	const char *name;
	uint32_t id;
	uint64_t n;
	int batch;
	int rc;
	pthread_barrier_t *all_in; /* every producer attached */
};

/* Payload of record @s of producer @id: words that say who and which. */
static void fill(unsigned char *d, uint32_t len, uint32_t id, uint64_t s)
{
	for (uint32_t i = 0; i < len; i++)
		d[i] = (unsigned char)(s * 7 + i + id);
}

static uint32_t len_of(uint64_t s)
{
	return (uint32_t)((s * 2654435761u) % 200);
}

static void *producer(void *arg)
{
	struct job *j = arg;
	struct nshm_ring *p;
	struct timespec dl;

	if (nshm_records_attach(j->name, NULL, NSHM_RING_PRODUCER, 0, &p) !=
	    0) {
		j->rc = 1;
		pthread_barrier_wait(j->all_in);
		return NULL;
	}
	/*
	 * Produce only once every producer holds its role: the consumer's
	 * -EPIPE means "every producer that was there closed", so one that
	 * finished before the others attached would end the test early.
	 */
	pthread_barrier_wait(j->all_in);
	for (uint64_t s = 0; s < j->n; s++) {
		uint32_t len = len_of(s) + 8;
		void *w = nshm_records_reserve(p, len);

		if (w == NULL) {
			nshm_records_publish(p);
			if (nshm_records_reserve_wait(p, len, &w,
						      t_in_ms(&dl, 10000)) !=
			    0) {
				j->rc = 2;
				break;
			}
		}
		memcpy(w, &s, 8);
		fill((unsigned char *)w + 8, len - 8, j->id, s);
		if (j->batch > 1 && s % (uint64_t)j->batch != 0)
			nshm_records_seal(p, j->id);
		else
			nshm_records_commit(p, j->id);
	}
	nshm_records_publish(p);
	nshm_ring_close(p);
	return NULL;
}

static void run(uint32_t np, int batch, uint64_t n)
{
	const char *name = t_name("rec-thr");
	struct nshm_ring_params q = NSHM_RING_PARAMS_INIT;
	struct nshm_wait_strategy ws = { .spins = 16, .yields = 2,
					 .park_slice_ms = 2 };
	struct nshm_ring *c;
	struct job j[3];
	pthread_t th[3];
	pthread_barrier_t all_in;
	uint64_t next[3] = { 0, 0, 0 }, got = 0;
	static unsigned char want[256];
	struct nshm_record rec = { NULL, 0, 0 };
	struct timespec dl;
	int ret;

	q.capacity = 1024;
	q.record_max = 208;
	q.max_producers = np;
	q.role = NSHM_RING_CONSUMER;
	assert_int_equal(nshm_records_create(name, &q, NULL, &c), 0);
	assert_int_equal(nshm_ring_set_wait(c, &ws), 0);
	assert_int_equal(pthread_barrier_init(&all_in, NULL, np), 0);
	for (uint32_t i = 0; i < np; i++) {
		j[i] = (struct job){ name, i, n, batch, 0, &all_in };
		assert_int_equal(pthread_create(&th[i], NULL, producer, &j[i]),
				 0);
	}
	for (;;) {
		uint64_t s;

		if (!nshm_records_next(c, &rec)) {
			nshm_records_release(c);
			ret = nshm_records_next_wait(c, &rec,
						     t_in_ms(&dl, 10000));
			if (ret != 0)
				break;
		}
		assert_true(rec.type < np);
		memcpy(&s, rec.data, 8);
		assert_int_equal(s, next[rec.type]);
		assert_int_equal(rec.len, len_of(s) + 8);
		fill(want, rec.len - 8, rec.type, s);
		assert_memory_equal((const unsigned char *)rec.data + 8, want,
				    rec.len - 8);
		next[rec.type]++;
		got++;
	}
	assert_int_equal(ret, -EPIPE);
	assert_int_equal(got, n * np);
	for (uint32_t i = 0; i < np; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(j[i].rc, 0);
	}
	pthread_barrier_destroy(&all_in);
	nshm_ring_close(c);
}

static void test_one_producer(void **state)
{
	(void)state;
	run(1, 1, t_count(100000));
	run(1, 4, t_count(100000));
}

static void test_three_producers(void **state)
{
	(void)state;
	run(3, 1, t_count(50000));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_producer),
		cmocka_unit_test(test_three_producers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
