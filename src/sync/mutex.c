/* SPDX-License-Identifier: MIT */
/*
 * Robust, process-shared mutex (struct nshm_mutex).
 *
 * A thin layer over a glibc robust + PTHREAD_PROCESS_SHARED mutex of the
 * NORMAL type (recursive and error-check types misbehave across pid
 * namespaces, research notes R9), plus per-process bookkeeping of which
 * nshm mutexes this process holds:
 *
 *   - a thread-local list, so a relock by the same thread is -EDEADLK
 *     instead of a self-deadlock, and so an unlock after -EOWNERDEAD without
 *     nshm_mutex_consistent() is reported (-ENOTRECOVERABLE) rather than
 *     silently poisoning the lock;
 *   - a process-wide table of held addresses, so a detach that would unmap
 *     a held lock is refused with -EBUSY (a robust-list entry in unmapped
 *     memory is never cleaned up: research notes R5, glibc BZ #14485).
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "sync/sync_internal.h"

#define HELD_TLS_MAX 16	      /* locks one thread may hold at once */
#define HELD_TABLE_BITS 10    /* process-wide: 1024 entries */
#define HELD_TABLE_SIZE (1u << HELD_TABLE_BITS)

/* An nshm_mutex is 64-byte aligned: bit 0 of its address is free. */
#define HELD_OWNER_DEAD 1u

struct held_tls {
	unsigned int n;
	bool registered; /* thread-exit destructor armed */
	uintptr_t m[HELD_TLS_MAX]; /* address | HELD_OWNER_DEAD */
};

/*
 * initial-exec: the default global-dynamic model costs a __tls_get_addr
 * call on every lock and unlock of a shared library (~144 bytes of static
 * TLS).
 */
static _Thread_local struct held_tls held_me
	__attribute__((tls_model("initial-exec")));

/*
 * Keys are mutex addresses (0 = free). Open addressing with linear probing;
 * each mutex is held by at most one thread of this process at a time, so a
 * key is never present twice.
 */
static _Atomic(uintptr_t) held_table[HELD_TABLE_SIZE];
static pthread_once_t held_once = PTHREAD_ONCE_INIT;
static pthread_key_t held_key;

static void held_table_del(uintptr_t key);

static void held_atfork_child(void)
{
	/*
	 * The child owns none of its parent's locks (the owner recorded in
	 * each robust mutex is a parent thread). Only this thread exists now.
	 */
	for (unsigned int i = 0; i < HELD_TABLE_SIZE; i++)
		atomic_store_explicit(&held_table[i], 0,
				      memory_order_relaxed); /* single thread */
	held_me.n = 0;
}

/*
 * A thread that exits holding locks: the robust mechanism marks them
 * OWNER_DIED for the next locker; forget them here so that they do not
 * block a detach forever.
 */
static void held_thread_exit(void *unused)
{
	(void)unused;
	while (held_me.n > 0) {
		uintptr_t k = held_me.m[--held_me.n];

		held_table_del(k & ~(uintptr_t)HELD_OWNER_DEAD);
	}
}

static void held_init(void)
{
	pthread_key_create(&held_key, held_thread_exit);
	pthread_atfork(NULL, NULL, held_atfork_child);
}

static unsigned int held_hash(uintptr_t key)
{
	return (unsigned int)(((uint64_t)key * 0x9e3779b97f4a7c15ull) >>
			      (64 - HELD_TABLE_BITS));
}

static bool held_table_add(uintptr_t key)
{
	unsigned int h = held_hash(key);

	for (unsigned int i = 0; i < HELD_TABLE_SIZE; i++) {
		_Atomic(uintptr_t) *e = &held_table[(h + i) % HELD_TABLE_SIZE];
		uintptr_t expect = 0;

		/*
		 * Relaxed: the table is advisory bookkeeping read only by
		 * nshm__mutex_held_in() in a detach of this process; the lock
		 * itself orders the protected data.
		 */
		if (atomic_compare_exchange_strong_explicit(
			    e, &expect, key, memory_order_relaxed,
			    memory_order_relaxed))
			return true;
	}
	return false;
}

static void held_table_del(uintptr_t key)
{
	unsigned int h = held_hash(key);

	for (unsigned int i = 0; i < HELD_TABLE_SIZE; i++) {
		_Atomic(uintptr_t) *e = &held_table[(h + i) % HELD_TABLE_SIZE];

		/* Relaxed: see held_table_add(). */
		if (atomic_load_explicit(e, memory_order_relaxed) == key) {
			/* Relaxed: only the holder removes its own key. */
			atomic_store_explicit(e, 0, memory_order_relaxed);
			return;
		}
	}
}

bool nshm__mutex_held_in(const void *lo, const void *hi)
{
	for (unsigned int i = 0; i < HELD_TABLE_SIZE; i++) {
		/* Relaxed: see held_table_add(). */
		uintptr_t k = atomic_load_explicit(&held_table[i],
						   memory_order_relaxed);

		if (k != 0 && k >= (uintptr_t)lo && k < (uintptr_t)hi)
			return true;
	}
	return false;
}

static int held_me_find(const struct nshm_mutex *m)
{
	for (unsigned int i = 0; i < held_me.n; i++)
		if ((held_me.m[i] & ~(uintptr_t)HELD_OWNER_DEAD) ==
		    (uintptr_t)m)
			return (int)i;
	return -1;
}

bool nshm__mutex_held_by_me(const struct nshm_mutex *m)
{
	return held_me_find(m) >= 0;
}

/* Record a lock we now hold. false: out of bookkeeping room. */
static bool held_push(struct nshm_mutex *m, bool owner_dead)
{
	if (held_me.n >= HELD_TLS_MAX)
		return false;
	if (nshm_unlikely(!held_me.registered)) {
		pthread_once(&held_once, held_init);
		/* Any non-NULL value arms the destructor. */
		pthread_setspecific(held_key, &held_me);
		held_me.registered = true;
	}
	if (!held_table_add((uintptr_t)m))
		return false;
	held_me.m[held_me.n++] =
		(uintptr_t)m | (owner_dead ? HELD_OWNER_DEAD : 0u);
	return true;
}

static void held_drop(int i)
{
	uintptr_t k = held_me.m[i] & ~(uintptr_t)HELD_OWNER_DEAD;

	held_me.m[i] = held_me.m[--held_me.n];
	held_table_del(k);
}

int nshm_mutex_init(struct nshm_mutex *m)
{
	pthread_mutexattr_t attr;
	int rc;

	nshm__err_clear();
	if (m == NULL || ((uintptr_t)m & 63u) != 0)
		return nshm__err(-EINVAL, "mutex %p is NULL or not 64-byte "
				 "aligned", (void *)m);
	rc = pthread_mutexattr_init(&attr);
	if (rc != 0)
		return -rc; /* pthread_* return a positive errno */
	rc = pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
	if (rc == 0)
		rc = pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
	if (rc == 0)
		rc = pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_NORMAL);
	if (rc == 0)
		rc = pthread_mutex_init(&m->m, &attr);
	pthread_mutexattr_destroy(&attr);
	if (rc != 0)
		return nshm__err(-rc, "pthread_mutex_init (robust, pshared)");
	/* Relaxed: nobody else can see @m before the caller publishes it. */
	atomic_store_explicit(&m->generation, 0, memory_order_relaxed);
	m->reserved = 0;
	return 0;
}

#if defined(__SANITIZE_THREAD__)
/*
 * ThreadSanitizer (gcc 12) intercepts pthread_mutex_timedlock but not
 * pthread_mutex_clocklock; an unintercepted lock would make TSan report
 * false races on everything the mutex protects. Convert the monotonic
 * deadline to CLOCK_REALTIME for the TSan build only.
 */
static int mutex_timedlock(pthread_mutex_t *pm, const struct timespec *dl)
{
	struct timespec rt;
	uint64_t left = nshm__ns_until(dl), t;

	clock_gettime(CLOCK_REALTIME, &rt);
	t = (uint64_t)rt.tv_sec * 1000000000u + (uint64_t)rt.tv_nsec + left;
	rt.tv_sec = (time_t)(t / 1000000000u);
	rt.tv_nsec = (long)(t % 1000000000u);
	return pthread_mutex_timedlock(pm, &rt);
}
#else
static int mutex_timedlock(pthread_mutex_t *pm, const struct timespec *dl)
{
	return pthread_mutex_clocklock(pm, CLOCK_MONOTONIC, dl);
}
#endif

static int lock_result(struct nshm_mutex *m, int rc)
{
	if (nshm_likely(rc == 0 || rc == EOWNERDEAD)) {
		if (nshm_unlikely(!held_push(m, rc == EOWNERDEAD))) {
			if (rc == 0) {
				pthread_mutex_unlock(&m->m);
				return nshm__err(-ENOLCK,
						 "this thread/process holds "
						 "too many nshm mutexes (max "
						 "%d per thread, %u per "
						 "process)", HELD_TLS_MAX,
						 HELD_TABLE_SIZE);
			}
			/* Never drop an owner-dead lock unrepaired. */
		}
		return -rc;
	}
	switch (rc) {
	case EBUSY:
	case ETIMEDOUT:
		return -rc;
	case ENOTRECOVERABLE:
		return nshm__err(-rc, "mutex %p is not recoverable: an owner "
				 "died and the next one unlocked without "
				 "repairing; recreate the segment", (void *)m);
	default:
		return nshm__err(-rc, "pthread mutex lock failed");
	}
}

int nshm_mutex_lock(struct nshm_mutex *m, const struct timespec *deadline)
{
	int rc;

	if (nshm_unlikely(m == NULL))
		return nshm__err(-EINVAL, "mutex is NULL");
	if (nshm_unlikely(held_me_find(m) >= 0))
		return nshm__err(-EDEADLK, "this thread already holds mutex %p",
				 (void *)m);
	if (deadline == NULL) {
		rc = pthread_mutex_lock(&m->m);
	} else {
		rc = nshm__deadline_check(deadline);
		if (rc != 0)
			return rc;
		rc = pthread_mutex_trylock(&m->m);
		if (rc == EBUSY)
			rc = nshm__deadline_passed(deadline)
				     ? ETIMEDOUT
				     : mutex_timedlock(&m->m, deadline);
	}
	return lock_result(m, rc);
}

int nshm_mutex_trylock(struct nshm_mutex *m)
{
	if (nshm_unlikely(m == NULL))
		return nshm__err(-EINVAL, "mutex is NULL");
	if (nshm_unlikely(held_me_find(m) >= 0))
		return nshm__err(-EDEADLK, "this thread already holds mutex %p",
				 (void *)m);
	return lock_result(m, pthread_mutex_trylock(&m->m));
}

int nshm_mutex_consistent(struct nshm_mutex *m)
{
	int i, rc;

	if (m == NULL)
		return nshm__err(-EINVAL, "mutex is NULL");
	i = held_me_find(m);
	if (i < 0 || !(held_me.m[i] & HELD_OWNER_DEAD))
		return nshm__err(-EINVAL, "mutex %p is not held by this thread "
				 "after -EOWNERDEAD", (void *)m);
	rc = pthread_mutex_consistent(&m->m);
	if (rc != 0)
		return nshm__err(-rc, "pthread_mutex_consistent failed");
	held_me.m[i] &= ~(uintptr_t)HELD_OWNER_DEAD;
	/*
	 * Relaxed: the generation is a statistic read under the mutex (the
	 * mutex orders it); the RMW only keeps concurrent readers tear-free.
	 */
	atomic_fetch_add_explicit(&m->generation, 1, memory_order_relaxed);
	return 0;
}

int nshm_mutex_unlock(struct nshm_mutex *m)
{
	bool unrepaired;
	int i, rc;

	if (nshm_unlikely(m == NULL))
		return nshm__err(-EINVAL, "mutex is NULL");
	i = held_me_find(m);
	if (nshm_unlikely(i < 0))
		return nshm__err(-EPERM, "mutex %p is not held by this thread",
				 (void *)m);
	unrepaired = held_me.m[i] & HELD_OWNER_DEAD;
	/* Drop the bookkeeping first: after the unlock another may lock. */
	held_drop(i);
	rc = pthread_mutex_unlock(&m->m);
	if (nshm_unlikely(rc != 0))
		return nshm__err(-rc, "pthread_mutex_unlock failed");
	if (nshm_unlikely(unrepaired))
		return nshm__err(-ENOTRECOVERABLE,
				 "mutex %p was unlocked after -EOWNERDEAD "
				 "without nshm_mutex_consistent(): it is now "
				 "unrecoverable for every process",
				 (void *)m);
	return 0;
}
