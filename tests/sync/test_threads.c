/* SPDX-License-Identifier: MIT */
/*
 * Thread-only versions of the mutex and event-count tests, for
 * ThreadSanitizer (label "thread"): plain, non-atomic data protected by an
 * nshm_mutex or handed over through release/acquire + nshm_event.
 */
#include <pthread.h>

#include <nshm/shm.h>
#include <nshm/sync.h>

#include "test_util.h"
#include "sync_test.h"

#define RING 64u

struct shared {
	struct nshm_mutex m;
	uint64_t counter; /* protected by m */
	alignas(64) struct nshm_event ev_data;  /* consumer waits here */
	alignas(64) struct nshm_event ev_space; /* producer waits here */
	alignas(64) _Atomic(uint32_t) head;	/* consumer position */
	alignas(64) _Atomic(uint32_t) tail;	/* producer position */
	alignas(64) uint64_t slot[RING];	/* plain data */
	_Atomic(uint32_t) flag;
};

static struct nshm_seg *seg;
static struct shared *sh;
static uint32_t n_msgs;

static int setup(void **state)
{
	(void)state;
	sh = st_segment(t_name("threads"), 4096, &seg);
	assert_int_equal(nshm_mutex_init(&sh->m), 0);
	nshm_event_init(&sh->ev_data);
	nshm_event_init(&sh->ev_space);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	st_drop(seg, sh);
	return 0;
}

#define LOCKERS 4
#define INCS 20000

static void *locker(void *arg)
{
	(void)arg;
	for (int i = 0; i < INCS; i++) {
		if (nshm_mutex_lock(&sh->m, NULL) != 0)
			return (void *)1;
		sh->counter++;
		if (nshm_mutex_unlock(&sh->m) != 0)
			return (void *)1;
	}
	return NULL;
}

static void test_mutex_threads(void **state)
{
	pthread_t th[LOCKERS];
	void *rv;

	(void)state;
	for (int i = 0; i < LOCKERS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, locker, NULL), 0);
	for (int i = 0; i < LOCKERS; i++) {
		assert_int_equal(pthread_join(th[i], &rv), 0);
		assert_null(rv);
	}
	assert_int_equal(sh->counter, (uint64_t)LOCKERS * INCS);
}

static void *lock_and_die(void *arg)
{
	(void)arg;
	nshm_mutex_lock(&sh->m, NULL);
	sh->counter = 12345; /* "half-done" update */
	return NULL;	     /* exits holding the lock */
}

static void test_mutex_thread_death(void **state)
{
	pthread_t th;

	(void)state;
	assert_int_equal(pthread_create(&th, NULL, lock_and_die, NULL), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(nshm_mutex_lock(&sh->m, NULL), -EOWNERDEAD);
	assert_int_equal(sh->counter, 12345);
	sh->counter = 0; /* repair */
	assert_int_equal(nshm_mutex_consistent(&sh->m), 0);
	assert_int_equal(nshm_mutex_unlock(&sh->m), 0);
}

static bool has_data(void *arg)
{
	(void)arg;
	/* Acquire: pairs with the producer's release of tail. */
	return atomic_load_explicit(&sh->tail, memory_order_acquire) !=
	       atomic_load_explicit(&sh->head, memory_order_relaxed);
}

static bool has_space(void *arg)
{
	(void)arg;
	/* Acquire: pairs with the consumer's release of head. */
	return atomic_load_explicit(&sh->tail, memory_order_relaxed) -
		       atomic_load_explicit(&sh->head, memory_order_acquire) <
	       RING;
}

static void *producer(void *arg)
{
	const struct nshm_wait_strategy *ws = arg;

	for (uint32_t i = 0; i < n_msgs; i++) {
		/* Only this thread writes tail. */
		uint32_t t = atomic_load_explicit(&sh->tail,
						  memory_order_relaxed);

		if (nshm_event_await(&sh->ev_space, has_space, NULL, ws,
				     NULL) != 0)
			return (void *)1;
		sh->slot[t % RING] = (uint64_t)i * 3 + 1;
		/* Release: pairs with has_data()'s acquire. */
		atomic_store_explicit(&sh->tail, t + 1, memory_order_release);
		nshm_event_notify(&sh->ev_data);
	}
	return NULL;
}

static void *consumer(void *arg)
{
	const struct nshm_wait_strategy *ws = arg;

	for (uint32_t i = 0; i < n_msgs; i++) {
		/* Only this thread writes head. */
		uint32_t h = atomic_load_explicit(&sh->head,
						  memory_order_relaxed);

		if (nshm_event_await(&sh->ev_data, has_data, NULL, ws,
				     NULL) != 0)
			return (void *)1;
		if (sh->slot[h % RING] != (uint64_t)i * 3 + 1)
			return (void *)2;
		/* Release: pairs with has_space()'s acquire. */
		atomic_store_explicit(&sh->head, h + 1, memory_order_release);
		nshm_event_notify(&sh->ev_space);
	}
	return NULL;
}

static void run_pipe(const struct nshm_wait_strategy *ws, uint32_t n)
{
	pthread_t p, c;
	void *rp, *rc;

	n_msgs = n;
	atomic_store_explicit(&sh->head, 0, memory_order_relaxed);
	atomic_store_explicit(&sh->tail, 0, memory_order_relaxed);
	assert_int_equal(pthread_create(&c, NULL, consumer, (void *)ws), 0);
	assert_int_equal(pthread_create(&p, NULL, producer, (void *)ws), 0);
	assert_int_equal(pthread_join(p, &rp), 0);
	assert_int_equal(pthread_join(c, &rc), 0);
	assert_null(rp);
	assert_null(rc);
	assert_int_equal(atomic_load_explicit(&sh->head, memory_order_relaxed),
			 n);
}

static void test_event_pipe_park_only(void **state)
{
	const struct nshm_wait_strategy park = { .park_slice_ms = 1000 };

	(void)state;
	run_pipe(&park, (uint32_t)(100000 * t_scale()));
}

static void test_event_pipe_spin_yield(void **state)
{
	const struct nshm_wait_strategy sy = { .spins = 64, .yields = 4 };

	(void)state;
	run_pipe(&sy, (uint32_t)(100000 * t_scale()));
	run_pipe(NULL, (uint32_t)(100000 * t_scale()));
}

static bool flag_set(void *arg)
{
	(void)arg;
	/* Acquire: pairs with the notifier's release store. */
	return atomic_load_explicit(&sh->flag, memory_order_acquire) != 0;
}

static void *await_flag(void *arg)
{
	struct timespec dl;

	(void)arg;
	return (void *)(intptr_t)nshm_event_await(
		&sh->ev_data, flag_set, NULL,
		&(struct nshm_wait_strategy){ .park_slice_ms = 5000 },
		nshm_deadline_in(&dl, 5000000000ull));
}

static void test_event_wakes_all(void **state)
{
	pthread_t th[3];
	void *rv;

	(void)state;
	atomic_store_explicit(&sh->flag, 0, memory_order_relaxed);
	for (int i = 0; i < 3; i++)
		assert_int_equal(pthread_create(&th[i], NULL, await_flag, NULL),
				 0);
	usleep(20000);
	/* Release: pairs with flag_set()'s acquire. */
	atomic_store_explicit(&sh->flag, 1, memory_order_release);
	nshm_event_notify(&sh->ev_data);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(pthread_join(th[i], &rv), 0);
		assert_int_equal((int)(intptr_t)rv, 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_mutex_threads, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_mutex_thread_death, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_event_pipe_park_only,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_event_pipe_spin_yield,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_event_wakes_all, setup,
						teardown),
	};

	return cmocka_run_group_tests_name("sync/threads", tests, NULL, NULL);
}
