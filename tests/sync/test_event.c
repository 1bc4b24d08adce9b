/* SPDX-License-Identifier: MIT */
/*
 * Futex and event count: bad input, deadline accuracy, EINTR, cross-process
 * wake-ups through separate mappings, the self-clearing WAITERS bit, and
 * nshm_event_await() with a strategy and an early-exit check.
 */
#include <limits.h>
#include <pthread.h>
#include <signal.h>

#include <nshm/shm.h>
#include <nshm/sync.h>

#include "test_util.h"
#include "sync_test.h"

struct shared {
	struct nshm_event ev;
	_Atomic(uint32_t) word;
	_Atomic(uint32_t) flag;
	_Atomic(uint32_t) ready;
	_Atomic(uint32_t) result;
};

struct fix {
	const char *name;
	struct nshm_seg *seg;
	struct shared *sh;
};

static int setup(void **state)
{
	static struct fix f;

	f.name = t_name("event");
	f.sh = st_segment(f.name, 4096, &f.seg);
	nshm_event_init(&f.sh->ev);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;

	st_drop(f->seg, f->sh);
	return 0;
}

static void test_bad_input(void **state)
{
	struct fix *f = *state;
	struct timespec bad = { .tv_sec = 0, .tv_nsec = -1 };
	struct nshm_wait_strategy ws = { .reserved = 1 };

	assert_int_equal(nshm_futex_wait(NULL, 0, NULL), -EINVAL);
	assert_int_equal(nshm_futex_wait((_Atomic(uint32_t) *)((char *)&f->sh->word + 1), 0, NULL),
			 -EINVAL); /* misaligned */
	assert_int_equal(nshm_futex_wait(&f->sh->word, 0, &bad), -EINVAL);
	assert_int_equal(nshm_futex_wake(NULL, 1), -EINVAL);
	assert_int_equal(nshm_futex_wake(&f->sh->word, 0), -EINVAL);
	assert_int_equal(nshm_event_wait(NULL, 1, NULL), -EINVAL);
	/* A key without WAITERS cannot come from prepare(). */
	assert_int_equal(nshm_event_wait(&f->sh->ev, 2, NULL), -EINVAL);
	assert_int_equal(nshm_event_wait(&f->sh->ev, 1, &bad), -EINVAL);
	assert_int_equal(nshm_event_await(NULL, NULL, NULL, NULL, NULL),
			 -EINVAL);
	assert_int_equal(nshm_event_await(&f->sh->ev, NULL, NULL, NULL, NULL),
			 -EINVAL);
	assert_null(nshm_deadline_in(NULL, 5));
	(void)ws;
}

static bool never(void *arg)
{
	(void)arg;
	return false;
}

static void test_reserved_strategy_field(void **state)
{
	struct fix *f = *state;
	struct nshm_wait_strategy ws = { .reserved = 1 };

	assert_int_equal(nshm_event_await(&f->sh->ev, never, NULL, &ws, NULL),
			 -EINVAL);
}

static void test_past_deadline_and_value_checks(void **state)
{
	struct fix *f = *state;
	struct timespec past = { .tv_sec = 0, .tv_nsec = 0 };
	uint32_t key;

	/* Word already differs: 0 at once, even with a past deadline. */
	atomic_store_explicit(&f->sh->word, 5, memory_order_relaxed);
	assert_int_equal(nshm_futex_wait(&f->sh->word, 4, &past), 0);
	/* Same value, past deadline: -ETIMEDOUT at once. */
	assert_int_equal(nshm_futex_wait(&f->sh->word, 5, &past), -ETIMEDOUT);
	/* No waiter: wake wakes nobody. */
	assert_int_equal(nshm_futex_wake(&f->sh->word, INT_MAX), 0);

	key = nshm_event_prepare(&f->sh->ev);
	assert_true(key & NSHM_EVENT_WAITERS);
	assert_int_equal(nshm_event_wait(&f->sh->ev, key, &past), -ETIMEDOUT);
	/* prepare before notify: the wait returns at once. */
	nshm_event_notify(&f->sh->ev);
	assert_int_equal(nshm_event_wait(&f->sh->ev, key, NULL), 0);
	/* The notify cleared WAITERS and moved the epoch. */
	assert_int_equal(atomic_load_explicit(&f->sh->ev.word,
					      memory_order_relaxed),
			 (key + 1));
}

static void test_deadline_accuracy(void **state)
{
	struct fix *f = *state;
	const uint64_t asks[] = { 1000000u, 20000000u, 100000000u };

	for (unsigned int i = 0; i < 3; i++) {
		struct timespec dl;
		uint64_t t0 = st_now_ns(), el;
		uint32_t key = nshm_event_prepare(&f->sh->ev);

		assert_int_equal(nshm_event_wait(&f->sh->ev, key,
						 nshm_deadline_in(&dl,
								  asks[i])),
				 -ETIMEDOUT);
		el = st_now_ns() - t0;
		print_message("# event wait deadline: asked %.1f ms, woke "
			      "after %.3f ms\n", asks[i] / 1e6, el / 1e6);
		assert_true(el >= asks[i]);
		assert_true(el < asks[i] + 50000000u); /* loaded 2-core VM */
		t0 = st_now_ns();
		assert_int_equal(nshm_futex_wait(&f->sh->word,
						 atomic_load_explicit(
							 &f->sh->word,
							 memory_order_relaxed),
						 nshm_deadline_in(&dl,
								  asks[i])),
				 -ETIMEDOUT);
		el = st_now_ns() - t0;
		assert_true(el >= asks[i] && el < asks[i] + 50000000u);
	}
}

static void on_usr1(int sig)
{
	(void)sig;
}

struct sig_arg {
	pthread_t target;
	int n;
};

static void *send_signals(void *p)
{
	struct sig_arg *a = p;

	for (int i = 0; i < a->n; i++) {
		usleep(5000);
		pthread_kill(a->target, SIGUSR1);
	}
	return NULL;
}

static void test_eintr_absorbed(void **state)
{
	struct fix *f = *state;
	struct sigaction sa = { .sa_handler = on_usr1 }; /* no SA_RESTART */
	struct sig_arg a = { .target = pthread_self(), .n = 5 };
	struct timespec dl;
	pthread_t th;
	uint64_t t0;
	uint32_t key;

	assert_int_equal(sigaction(SIGUSR1, &sa, NULL), 0);
	assert_int_equal(pthread_create(&th, NULL, send_signals, &a), 0);
	t0 = st_now_ns();
	key = nshm_event_prepare(&f->sh->ev);
	/* Signals arrive every 5 ms; the wait must last its full 60 ms. */
	assert_int_equal(nshm_event_wait(&f->sh->ev, key,
					 nshm_deadline_in(&dl, 60000000u)),
			 -ETIMEDOUT);
	assert_true(st_now_ns() - t0 >= 60000000u);
	assert_int_equal(pthread_join(th, NULL), 0);
	signal(SIGUSR1, SIG_DFL);
}

/* Child: open the segment by name (its own mapping), wait, report. */
static void child_waiter(const char *name, bool use_futex)
{
	struct nshm_seg *seg;
	struct shared *sh = st_attach(name, &seg);
	struct timespec dl;
	int ret = -1;

	if (sh == NULL)
		_exit(2);
	nshm_deadline_in(&dl, 5000000000u);
	if (use_futex) {
		/* Release: pairs with the parent's acquire in st_wait_eq. */
		atomic_store_explicit(&sh->ready, 1, memory_order_release);
		ret = nshm_futex_wait(&sh->word, 0, &dl);
	} else {
		for (;;) {
			uint32_t key = nshm_event_prepare(&sh->ev);

			/* Acquire: pairs with the parent's release store. */
			if (atomic_load_explicit(&sh->flag,
						 memory_order_acquire)) {
				ret = 0;
				break;
			}
			atomic_store_explicit(&sh->ready, 1,
					      memory_order_release);
			ret = nshm_event_wait(&sh->ev, key, &dl);
			if (ret != 0)
				break;
		}
	}
	_exit(ret == 0 ? 0 : 1);
}

static void test_cross_process_wake(void **state)
{
	struct fix *f = *state;

	for (int mode = 0; mode < 2; mode++) {
		pid_t pid;
		int status;

		atomic_store_explicit(&f->sh->ready, 0, memory_order_relaxed);
		atomic_store_explicit(&f->sh->word, 0, memory_order_relaxed);
		atomic_store_explicit(&f->sh->flag, 0, memory_order_relaxed);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0)
			child_waiter(f->name, mode == 0);
		assert_int_equal(st_wait_eq(&f->sh->ready, 1, 5000), 0);
		usleep(20000); /* let it park */
		if (mode == 0) {
			atomic_store_explicit(&f->sh->word, 1,
					      memory_order_release);
			assert_int_equal(nshm_futex_wake(&f->sh->word, 1), 1);
		} else {
			atomic_store_explicit(&f->sh->flag, 1,
					      memory_order_release);
			nshm_event_notify(&f->sh->ev);
		}
		status = t_wait(pid, 5000);
		assert_true(t_exited_ok(status));
	}
}

static void test_dead_waiter_bit_self_clears(void **state)
{
	struct fix *f = *state;
	uint32_t w;
	pid_t pid;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		nshm_event_prepare(&f->sh->ev);
		/* Release: pairs with st_wait_eq()'s acquire. */
		atomic_store_explicit(&f->sh->ready, 1, memory_order_release);
		for (;;)
			pause();
	}
	assert_int_equal(st_wait_eq(&f->sh->ready, 1, 5000), 0);
	kill(pid, SIGKILL);
	t_wait(pid, 5000);
	w = atomic_load_explicit(&f->sh->ev.word, memory_order_relaxed);
	assert_true(w & NSHM_EVENT_WAITERS); /* the dead waiter's bit */
	nshm_event_notify(&f->sh->ev);	     /* one wasted wake ... */
	w = atomic_load_explicit(&f->sh->ev.word, memory_order_relaxed);
	assert_false(w & NSHM_EVENT_WAITERS); /* ... and it is gone */
	nshm_event_notify(&f->sh->ev);	      /* fast path now */
	assert_int_equal(atomic_load_explicit(&f->sh->ev.word,
					      memory_order_relaxed),
			 w); /* no epoch bump without waiters */
}

struct await_arg {
	struct shared *sh;
	int checks;
	int check_ret;
};

static bool flag_set(void *p)
{
	struct await_arg *a = p;

	/* Acquire: pairs with the notifier's release store of flag. */
	return atomic_load_explicit(&a->sh->flag, memory_order_acquire) != 0;
}

static int check_count(void *p)
{
	struct await_arg *a = p;

	a->checks++;
	return a->checks >= 3 ? a->check_ret : 0;
}

static void *set_flag_later(void *p)
{
	struct shared *sh = p;

	usleep(30000);
	/* Release: pairs with flag_set()'s acquire. */
	atomic_store_explicit(&sh->flag, 1, memory_order_release);
	nshm_event_notify(&sh->ev);
	return NULL;
}

static void test_await(void **state)
{
	struct fix *f = *state;
	struct await_arg a = { .sh = f->sh, .check_ret = -NSHM_EPEERDEAD };
	struct nshm_wait_strategy ws = {
		.spins = 100, .yields = 10, .park_slice_ms = 10,
		.check = check_count,
	};
	struct timespec dl;
	pthread_t th;
	uint64_t t0;

	/* Already ready: 0 without parking. */
	atomic_store_explicit(&f->sh->flag, 1, memory_order_relaxed);
	assert_int_equal(nshm_event_await(&f->sh->ev, flag_set, &a, NULL,
					  NULL), 0);
	/*
	 * Deadline: -ETIMEDOUT after 200 ms, with the check run after each
	 * 10 ms park slice that timed out (at least twice even when a loaded
	 * machine stretches the spin and yield phases).
	 */
	atomic_store_explicit(&f->sh->flag, 0, memory_order_relaxed);
	a.check_ret = 0;
	t0 = st_now_ns();
	assert_int_equal(nshm_event_await(&f->sh->ev, flag_set, &a, &ws,
					  nshm_deadline_in(&dl, 200000000u)),
			 -ETIMEDOUT);
	assert_true(st_now_ns() - t0 >= 200000000u);
	assert_true(a.checks >= 2);
	/* The check ends the wait early with its value (dead peer). */
	a.checks = 0;
	a.check_ret = -NSHM_EPEERDEAD;
	assert_int_equal(nshm_event_await(&f->sh->ev, flag_set, &a, &ws,
					  NULL),
			 -NSHM_EPEERDEAD);
	assert_int_equal(a.checks, 3);
	/* A notify from another thread ends a parked await. */
	a.checks = 0;
	ws.check = NULL;
	ws.park_slice_ms = 10000;
	assert_int_equal(pthread_create(&th, NULL, set_flag_later, f->sh), 0);
	t0 = st_now_ns();
	assert_int_equal(nshm_event_await(&f->sh->ev, flag_set, &a, &ws,
					  nshm_deadline_in(&dl, 5000000000u)),
			 0);
	assert_true(st_now_ns() - t0 < 2000000000u); /* not the slice */
	assert_int_equal(pthread_join(th, NULL), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bad_input, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_reserved_strategy_field,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_past_deadline_and_value_checks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deadline_accuracy, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_eintr_absorbed, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_cross_process_wake, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_dead_waiter_bit_self_clears, setup, teardown),
		cmocka_unit_test_setup_teardown(test_await, setup, teardown),
	};

	return cmocka_run_group_tests_name("sync/event", tests, NULL, NULL);
}
