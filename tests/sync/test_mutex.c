/* SPDX-License-Identifier: MIT */
/*
 * Robust mutex: bad input, deadlines, owner death across processes (a loop
 * of SIGKILLed holders), unrepaired unlock, detach refused while held.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>

#include <nshm/shm.h>
#include <nshm/sync.h>

#include "test_util.h"
#include "sync_test.h"

#define HELD_MAX 16 /* per-thread bookkeeping (src/sync/mutex.c) */

struct shared {
	struct nshm_mutex m;
	alignas(64) _Atomic(uint32_t) ready;
	uint32_t counter; /* protected by m */
};

struct fix {
	struct nshm_seg *seg;
	struct shared *sh;
};

static int setup(void **state)
{
	static struct fix f;

	f.sh = st_segment(t_name("mutex"), 4096, &f.seg);
	assert_int_equal(nshm_mutex_init(&f.sh->m), 0);
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
	struct timespec bad = { .tv_sec = 1, .tv_nsec = 1000000000L };
	struct timespec neg = { .tv_sec = -1, .tv_nsec = 0 };

	assert_int_equal(nshm_mutex_init(NULL), -EINVAL);
	assert_int_equal(
		nshm_mutex_init((struct nshm_mutex *)((char *)f->sh + 8)),
		-EINVAL); /* not 64-byte aligned */
	assert_int_equal(nshm_mutex_lock(NULL, NULL), -EINVAL);
	assert_int_equal(nshm_mutex_trylock(NULL), -EINVAL);
	assert_int_equal(nshm_mutex_unlock(NULL), -EINVAL);
	assert_int_equal(nshm_mutex_consistent(NULL), -EINVAL);
	assert_int_equal(nshm_mutex_lock(&f->sh->m, &bad), -EINVAL);
	assert_int_equal(nshm_mutex_lock(&f->sh->m, &neg), -EINVAL);
	/* Unlock of a mutex not held. */
	assert_int_equal(nshm_mutex_unlock(&f->sh->m), -EPERM);
	/* consistent() without -EOWNERDEAD. */
	assert_int_equal(nshm_mutex_lock(&f->sh->m, NULL), 0);
	assert_int_equal(nshm_mutex_consistent(&f->sh->m), -EINVAL);
	/* Relock by the same thread is reported, not a self-deadlock. */
	assert_int_equal(nshm_mutex_lock(&f->sh->m, NULL), -EDEADLK);
	assert_int_equal(nshm_mutex_trylock(&f->sh->m), -EDEADLK);
	assert_int_equal(nshm_mutex_unlock(&f->sh->m), 0);
	assert_int_equal(nshm_mutex_unlock(&f->sh->m), -EPERM);
	assert_true(strlen(nshm_errdetail()) > 0);
}

static void *other_unlock(void *arg)
{
	return (void *)(intptr_t)nshm_mutex_unlock(arg);
}

static void test_unlock_by_other_thread(void **state)
{
	struct fix *f = *state;
	pthread_t th;
	void *rv;

	assert_int_equal(nshm_mutex_lock(&f->sh->m, NULL), 0);
	assert_int_equal(pthread_create(&th, NULL, other_unlock, &f->sh->m),
			 0);
	assert_int_equal(pthread_join(th, &rv), 0);
	assert_int_equal((int)(intptr_t)rv, -EPERM);
	assert_int_equal(nshm_mutex_unlock(&f->sh->m), 0);
}

/* A child process holds the lock until told to go (or killed). */
static pid_t hold_in_child(struct shared *sh, bool die_holding)
{
	pid_t pid;

	atomic_store_explicit(&sh->ready, 0, memory_order_relaxed);
	pid = st_fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (nshm_mutex_lock(&sh->m, NULL) != 0)
			_exit(1);
		/* Release: pairs with the parent's acquire in hold_wait(). */
		atomic_store_explicit(&sh->ready, 1, memory_order_release);
		nshm_futex_wake(&sh->ready, 1);
		if (die_holding)
			_exit(0); /* exit without unlocking */
		for (;;)
			pause(); /* until SIGKILL */
	}
	st_futex_wait_eq(&sh->ready, 1, 5000);
	return pid;
}

static void test_deadlines(void **state)
{
	struct fix *f = *state;
	struct timespec dl;
	uint64_t t0, el;
	pid_t pid = hold_in_child(f->sh, false);

	/* Past deadline on a busy mutex: -ETIMEDOUT at once. */
	dl.tv_sec = 0;
	dl.tv_nsec = 0;
	t0 = st_now_ns();
	assert_int_equal(nshm_mutex_lock(&f->sh->m, &dl), -ETIMEDOUT);
	assert_true(st_now_ns() - t0 < 5000000u);
	assert_int_equal(nshm_mutex_trylock(&f->sh->m), -EBUSY);
	/* 50 ms deadline is honoured within scheduling slack. */
	t0 = st_now_ns();
	assert_int_equal(nshm_mutex_lock(&f->sh->m,
					 nshm_deadline_in(&dl, 50000000u)),
			 -ETIMEDOUT);
	el = st_now_ns() - t0;
	print_message("# timed lock: asked 50 ms, took %.3f ms\n", el / 1e6);
	assert_true(el >= 50000000u && el < 150000000u);

	kill(pid, SIGKILL);
	assert_true(WIFSIGNALED(t_wait(pid, 5000)));
	assert_int_equal(nshm_mutex_lock(&f->sh->m,
					 nshm_deadline_in(&dl, 1000000000u)),
			 -EOWNERDEAD);
	assert_int_equal(nshm_mutex_consistent(&f->sh->m), 0);
	assert_int_equal(nshm_mutex_unlock(&f->sh->m), 0);
}

static void test_owner_death_loop(void **state)
{
	struct fix *f = *state;
	unsigned int trials = (unsigned int)(5000 * t_scale());
	unsigned int owner_dead = 0, gen0;
	uint64_t t0 = st_now_ns(), worst = 0;

	gen0 = atomic_load_explicit(&f->sh->m.generation,
				    memory_order_relaxed); /* single thread */
	for (unsigned int i = 0; i < trials; i++) {
		pid_t pid = hold_in_child(f->sh, (i % 4) == 3);
		uint64_t t1;
		int ret;

		f->sh->counter = i; /* "protected state" the child held */
		kill(pid, SIGKILL);
		assert_int_equal(waitpid(pid, NULL, 0), pid);
		t1 = st_now_ns();
		ret = nshm_mutex_lock(&f->sh->m, NULL);
		if (ret == -EOWNERDEAD) {
			owner_dead++;
			assert_int_equal(f->sh->counter, i);
			assert_int_equal(nshm_mutex_consistent(&f->sh->m), 0);
		}
		assert_int_equal(nshm_mutex_unlock(&f->sh->m), 0);
		if (st_now_ns() - t1 > worst)
			worst = st_now_ns() - t1;
		assert_int_equal(ret, -EOWNERDEAD);
	}
	/* Healthy afterwards, and every repair was counted. */
	assert_int_equal(nshm_mutex_trylock(&f->sh->m), 0);
	assert_int_equal(nshm_mutex_unlock(&f->sh->m), 0);
	assert_int_equal(atomic_load_explicit(&f->sh->m.generation,
					      memory_order_relaxed) -
				 gen0,
			 trials);
	print_message("# owner death: %u/%u trials recovered (-EOWNERDEAD), "
		      "0 ENOTRECOVERABLE, %.1f us/trial, worst lock %.1f us\n",
		      owner_dead, trials, (st_now_ns() - t0) / 1e3 / trials,
		      worst / 1e3);
}

static void test_unrepaired_unlock_is_reported(void **state)
{
	struct fix *f = *state;
	pid_t pid = hold_in_child(f->sh, true);

	t_wait(pid, 5000);
	assert_int_equal(nshm_mutex_lock(&f->sh->m, NULL), -EOWNERDEAD);
	/* No consistent(): the unlock says what it did. */
	assert_int_equal(nshm_mutex_unlock(&f->sh->m), -ENOTRECOVERABLE);
	assert_non_null(strstr(nshm_errdetail(), "consistent"));
	assert_int_equal(nshm_mutex_lock(&f->sh->m, NULL), -ENOTRECOVERABLE);
	assert_int_equal(nshm_mutex_trylock(&f->sh->m), -ENOTRECOVERABLE);
	/* Only re-initialisation (a new segment, in practice) helps. */
	assert_int_equal(nshm_mutex_init(&f->sh->m), 0);
	assert_int_equal(nshm_mutex_lock(&f->sh->m, NULL), 0);
	assert_int_equal(nshm_mutex_unlock(&f->sh->m), 0);
}

static void *lock_and_exit(void *arg)
{
	return (void *)(intptr_t)nshm_mutex_lock(arg, NULL);
}

static void test_thread_exit_holding(void **state)
{
	struct fix *f = *state;
	pthread_t th;
	void *rv;

	assert_int_equal(pthread_create(&th, NULL, lock_and_exit, &f->sh->m),
			 0);
	assert_int_equal(pthread_join(th, &rv), 0);
	assert_int_equal((int)(intptr_t)rv, 0);
	assert_int_equal(nshm_mutex_lock(&f->sh->m, NULL), -EOWNERDEAD);
	assert_int_equal(nshm_mutex_consistent(&f->sh->m), 0);
	assert_int_equal(nshm_mutex_unlock(&f->sh->m), 0);
}

static void test_detach_refused_while_held(void **state)
{
	struct fix *f = *state;
	void *second = NULL;
	struct shared *sh2;

	/* A second mapping of the same segment, lock through it. */
	assert_int_equal(nshm_seg_attach(f->seg, 0, &second), 0);
	sh2 = second;
	assert_int_equal(nshm_mutex_lock(&sh2->m, NULL), 0);
	assert_int_equal(nshm_seg_detach(f->seg, second), -EBUSY);
	/* The other mapping holds no lock of ours: it could go. */
	assert_int_equal(nshm_mutex_unlock(&sh2->m), 0);
	assert_int_equal(nshm_seg_detach(f->seg, second), 0);
}

/* Mutexes beyond struct shared, one per 64-byte line. */
static struct nshm_mutex *extra(struct fix *f, unsigned int i)
{
	return (struct nshm_mutex *)(void *)((char *)f->sh + 1024) + i;
}

/*
 * Issue 9, item 6: a lock handed out with -EOWNERDEAD can always be made
 * consistent and unlocked, even when the thread's bookkeeping is full.
 * (The old code returned -EOWNERDEAD unrecorded: consistent() said
 * -EINVAL, unlock() -EPERM, and the lock could never be released.)
 */
static void test_owner_dead_with_full_bookkeeping(void **state)
{
	struct fix *f = *state;
	struct nshm_mutex *dead = extra(f, HELD_MAX);
	pid_t pid;
	int ret;

	for (unsigned int i = 0; i <= HELD_MAX; i++)
		assert_int_equal(nshm_mutex_init(extra(f, i)), 0);
	pid = st_fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(nshm_mutex_lock(dead, NULL) == 0 ? 0 : 1); /* dies holding */
	assert_true(t_exited_ok(t_wait(pid, 5000)));
	for (unsigned int i = 0; i < HELD_MAX; i++)
		assert_int_equal(nshm_mutex_lock(extra(f, i), NULL), 0);
	ret = nshm_mutex_lock(dead, NULL);
	if (ret == -EOWNERDEAD) {
		/* Handed out: then it must be repairable and releasable. */
		assert_int_equal(nshm_mutex_consistent(dead), 0);
		assert_int_equal(nshm_mutex_unlock(dead), 0);
	} else {
		/* Refused before anything was taken. */
		assert_int_equal(ret, -ENOLCK);
		assert_int_equal(nshm_mutex_trylock(dead), -ENOLCK);
		assert_int_equal(nshm_mutex_unlock(extra(f, 0)), 0);
		assert_int_equal(nshm_mutex_lock(dead, NULL), -EOWNERDEAD);
		assert_int_equal(nshm_mutex_consistent(dead), 0);
		assert_int_equal(nshm_mutex_unlock(dead), 0);
		assert_int_equal(nshm_mutex_lock(extra(f, 0), NULL), 0);
	}
	for (unsigned int i = 0; i < HELD_MAX; i++)
		assert_int_equal(nshm_mutex_unlock(extra(f, i)), 0);
	assert_int_equal(nshm_mutex_lock(dead, NULL), 0);
	assert_int_equal(nshm_mutex_unlock(dead), 0);
}

/* A scribbled word or state is an error code, never a crash or a hang. */
static void test_scribbled_words(void **state)
{
	struct fix *f = *state;
	struct nshm_mutex *m = &f->sh->m;
	static const uint32_t junk[] = {
		0x7fffffffu,		 /* slot far out of range */
		0x40000000u,		 /* abandoned by its thread */
		0xc0000000u,		 /* abandoned, with waiters */
		(100u << 20),		 /* generation 0: no such id */
		(NSHM_PEER_MAX - 1) << 20 | 12345u, /* a free slot's id */
	};
	struct timespec dl;

	for (unsigned int i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
		/* Relaxed: a test store, as a scribbler would make it. */
		atomic_store_explicit(&m->word, junk[i], memory_order_relaxed);
		assert_int_equal(nshm_mutex_lock(m, nshm_deadline_in(
							    &dl, 1000000000u)),
				 -EOWNERDEAD);
		assert_int_equal(nshm_mutex_consistent(m), 0);
		assert_int_equal(nshm_mutex_unlock(m), 0);
	}
	/* Our own id, forged while no thread of ours holds it: an error. */
	{
		uint64_t t0;
		uint32_t mine;

		assert_int_equal(nshm_mutex_lock(m, NULL), 0);
		mine = atomic_load_explicit(&m->word, memory_order_relaxed);
		assert_int_equal(nshm_mutex_unlock(m), 0);
		atomic_store_explicit(&m->word, mine, memory_order_relaxed);
		t0 = st_now_ns();
		assert_int_equal(nshm_mutex_lock(m, NULL), -NSHM_ECORRUPT);
		assert_true(st_now_ns() - t0 < 1000000000u);
		assert_int_equal(nshm_mutex_init(m), 0);
	}
	/* A garbage state forces a repair; it is not a silent success. */
	atomic_store_explicit(&m->state, 77, memory_order_relaxed);
	assert_int_equal(nshm_mutex_trylock(m), -EOWNERDEAD);
	assert_int_equal(nshm_mutex_consistent(m), 0);
	assert_int_equal(nshm_mutex_unlock(m), 0);
	/* A displaced holder is told, and changes nothing. */
	assert_int_equal(nshm_mutex_lock(m, NULL), 0);
	atomic_store_explicit(&m->word, 0, memory_order_relaxed);
	{
		pid_t pid = st_fork();

		assert_true(pid >= 0);
		if (pid == 0)
			_exit(nshm_mutex_lock(m, NULL) == 0 ? 0 : 1);
		assert_true(t_exited_ok(t_wait(pid, 5000)));
	}
	assert_int_equal(nshm_mutex_unlock(m), -NSHM_ECORRUPT);
	/* The child died holding it: taken over, then healthy. */
	assert_int_equal(nshm_mutex_lock(m, NULL), -EOWNERDEAD);
	assert_int_equal(nshm_mutex_consistent(m), 0);
	assert_int_equal(nshm_mutex_unlock(m), 0);
}

/*
 * A live owner is never robbed: not when it is stopped, not when its id
 * is forged into the word by someone else. Lockers wait out their
 * deadline instead.
 */
static void test_live_owner_kept(void **state)
{
	struct fix *f = *state;
	struct nshm_mutex *m = &f->sh->m;
	void *second = NULL;
	struct timespec dl;
	uint32_t forged;
	pid_t pid;

	/* Lock through a second mapping: a second, live participant. */
	assert_int_equal(nshm_seg_attach(f->seg, 0, &second), 0);
	assert_int_equal(nshm_mutex_lock(&((struct shared *)second)->m, NULL),
			 0);
	forged = atomic_load_explicit(&m->word, memory_order_relaxed);
	assert_int_equal(nshm_mutex_unlock(&((struct shared *)second)->m), 0);
	atomic_store_explicit(&m->word, forged, memory_order_relaxed);
	assert_int_equal(nshm_mutex_lock(m, nshm_deadline_in(&dl, 50000000u)),
			 -ETIMEDOUT);
	atomic_store_explicit(&m->word, 0, memory_order_relaxed);
	assert_int_equal(nshm_seg_detach(f->seg, second), 0);
	/* Now that participant is gone: its id is taken over. */
	atomic_store_explicit(&m->word, forged, memory_order_relaxed);
	assert_int_equal(nshm_mutex_lock(m, NULL), -EOWNERDEAD);
	assert_int_equal(nshm_mutex_consistent(m), 0);
	assert_int_equal(nshm_mutex_unlock(m), 0);

	/* A SIGSTOPped owner keeps it; once killed, it is taken over. */
	pid = hold_in_child(f->sh, false);
	kill(pid, SIGSTOP);
	assert_int_equal(nshm_mutex_lock(m, nshm_deadline_in(&dl, 100000000u)),
			 -ETIMEDOUT);
	kill(pid, SIGKILL);
	assert_true(WIFSIGNALED(t_wait(pid, 5000)));
	assert_int_equal(nshm_mutex_lock(m, nshm_deadline_in(&dl, 1000000000u)),
			 -EOWNERDEAD);
	assert_int_equal(nshm_mutex_consistent(m), 0);
	assert_int_equal(nshm_mutex_unlock(m), 0);
}

static void *hold_100ms(void *arg)
{
	struct shared *sh = arg;

	if (nshm_mutex_lock(&sh->m, NULL) != 0)
		return (void *)1;
	/* Release: pairs with the acquire in the main thread's wait. */
	atomic_store_explicit(&sh->ready, 1, memory_order_release);
	usleep(100000);
	return (void *)(intptr_t)nshm_mutex_unlock(&sh->m);
}

/* A sibling thread's long hold is a hold, not a forged id. */
static void test_sibling_long_hold(void **state)
{
	struct fix *f = *state;
	pthread_t th;
	void *rv;

	atomic_store_explicit(&f->sh->ready, 0, memory_order_relaxed);
	assert_int_equal(pthread_create(&th, NULL, hold_100ms, f->sh), 0);
	assert_int_equal(st_wait_eq(&f->sh->ready, 1, 5000), 0);
	assert_int_equal(nshm_mutex_lock(&f->sh->m, NULL), 0);
	assert_int_equal(nshm_mutex_unlock(&f->sh->m), 0);
	assert_int_equal(pthread_join(th, &rv), 0);
	assert_null(rv);
}

/*
 * A child made by fork() (atfork handlers run) locks in the mapping it
 * inherited: it joins the participant table on that first lock, so its
 * death is seen; detaching the inherited mapping leaves its slot.
 */
static void test_forked_child_joins(void **state)
{
	struct fix *f = *state;
	struct nshm_peer_info info[4];
	pid_t pid;

	for (int die = 0; die < 2; die++) {
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			if (nshm_mutex_lock(&f->sh->m, NULL) != 0)
				_exit(1);
			if (nshm_peer_list(f->sh, info, 4) != 2)
				_exit(2); /* parent + this child's own slot */
			if (die)
				_exit(0); /* holding it */
			if (nshm_mutex_unlock(&f->sh->m) != 0)
				_exit(3);
			if (nshm_seg_detach(f->seg, f->sh) != 0)
				_exit(4);
			_exit(0);
		}
		assert_true(t_exited_ok(t_wait(pid, 5000)));
		if (die) {
			assert_int_equal(nshm_mutex_lock(&f->sh->m, NULL),
					 -EOWNERDEAD);
			assert_int_equal(nshm_mutex_consistent(&f->sh->m), 0);
			assert_int_equal(nshm_peer_reap(f->sh), 1);
		} else {
			assert_int_equal(nshm_mutex_lock(&f->sh->m, NULL), 0);
			assert_int_equal(nshm_peer_list(f->sh, info, 4), 1);
		}
		assert_int_equal(nshm_mutex_unlock(&f->sh->m), 0);
	}
}

/* Outside a read-write nshm mapping there is no owner id: -EINVAL. */
static void test_outside_a_segment(void **state)
{
	struct fix *f = *state;
	struct nshm_mutex *heap = aligned_alloc(64, sizeof(*heap));
	void *ro = NULL;

	assert_non_null(heap);
	assert_int_equal(nshm_mutex_init(heap), 0);
	assert_int_equal(nshm_mutex_lock(heap, NULL), -EINVAL);
	assert_int_equal(nshm_mutex_trylock(heap), -EINVAL);
	free(heap);
	/* Through a read-only mapping: refused, not a fault. */
	assert_int_equal(nshm_seg_attach(f->seg, NSHM_READONLY, &ro), 0);
	assert_int_equal(nshm_mutex_lock(&((struct shared *)ro)->m, NULL),
			 -EINVAL);
	assert_int_equal(nshm_seg_detach(f->seg, ro), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bad_input, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_unlock_by_other_thread,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_deadlines, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_owner_death_loop, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_unrepaired_unlock_is_reported, setup, teardown),
		cmocka_unit_test_setup_teardown(test_thread_exit_holding,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_detach_refused_while_held, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_owner_dead_with_full_bookkeeping, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scribbled_words, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_live_owner_kept, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_outside_a_segment, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_sibling_long_hold, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_forked_child_joins, setup,
						teardown),
	};

	return cmocka_run_group_tests_name("sync/mutex", tests, NULL, NULL);
}
