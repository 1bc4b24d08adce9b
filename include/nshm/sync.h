/* SPDX-License-Identifier: MIT */
#ifndef NSHM_SYNC_H
#define NSHM_SYNC_H

/*
 * Process-shared synchronisation that lives inside shared memory.
 *
 *	struct nshm_mutex  robust, process-shared mutex (owner death reported)
 *	nshm_futex_*       wait/wake on a 32-bit word in a shared mapping
 *	struct nshm_event  event count ("doorbell"): no syscall when no waiter
 *	nshm_peer_*        liveness of the processes attached to a segment
 *
 * All deadlines are absolute CLOCK_MONOTONIC times; NULL means no deadline.
 * Every object here is plain data that may sit anywhere in a segment and is
 * used through any mapping of it, in any process.
 */

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <nshm/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- deadlines -------------------------------------------------------- */

/** Set @p ts to now + @p ns on CLOCK_MONOTONIC. @return @p ts. */
NSHM_API struct timespec *nshm_deadline_in(struct timespec *ts, uint64_t ns);

/* ---- robust mutex ----------------------------------------------------- */

/*
 * A robust, process-shared, NORMAL-type mutex (no recursion, no error-check:
 * both misbehave across pid namespaces). Place it in a segment and
 * initialise it once, before anyone else can see it.
 */
struct nshm_mutex {
	pthread_mutex_t m;
	_Atomic(uint32_t) generation; /* bumped by every owner-death repair */
	uint32_t reserved;
} __attribute__((aligned(64)));

/** Initialise @p m in place. @return 0 or a negative errno. */
NSHM_API int nshm_mutex_init(struct nshm_mutex *m);

/**
 * Lock, waiting until @p deadline (absolute CLOCK_MONOTONIC, NULL = forever).
 *
 * @return 0; -EOWNERDEAD: the previous owner died holding it, you now hold
 *         it, repair the protected state and call nshm_mutex_consistent()
 *         before unlocking (unlocking without it makes the mutex
 *         -ENOTRECOVERABLE for everyone); -ETIMEDOUT; -ENOTRECOVERABLE;
 *         -EDEADLK (this thread holds it already).
 */
NSHM_API int nshm_mutex_lock(struct nshm_mutex *m,
			     const struct timespec *deadline);

/** @return 0, -EBUSY, -EOWNERDEAD, -ENOTRECOVERABLE. */
NSHM_API int nshm_mutex_trylock(struct nshm_mutex *m);

/** Mark the state repaired after -EOWNERDEAD. @return 0 or -EINVAL. */
NSHM_API int nshm_mutex_consistent(struct nshm_mutex *m);

/** @return 0 or -EPERM (not held by this thread). */
NSHM_API int nshm_mutex_unlock(struct nshm_mutex *m);

/* ---- futex ------------------------------------------------------------ */

/**
 * Sleep while *@p word == @p expected (shared futex, never PRIVATE).
 * EINTR and spurious wake-ups are absorbed.
 *
 * @return 0 once the word differs (or a wake-up came), -ETIMEDOUT, or
 *         another negative errno (-EFAULT, -EINVAL).
 */
NSHM_API int nshm_futex_wait(_Atomic(uint32_t) *word, uint32_t expected,
			     const struct timespec *deadline);

/** Wake up to @p n waiters. @return how many woke, or a negative errno. */
NSHM_API int nshm_futex_wake(_Atomic(uint32_t) *word, int n);

/* ---- event count ------------------------------------------------------ */

/*
 * Waiter:   key = nshm_event_prepare(ev);
 *           if (!condition()) nshm_event_wait(ev, key, deadline);
 * Notifier: make condition() true (any store), then nshm_event_notify(ev).
 * If prepare happens before notify, the wait returns at once: no wake-up is
 * lost. notify makes no system call when nobody is waiting.
 */
struct nshm_event {
	_Atomic(uint32_t) word; /* epoch << 1 | WAITERS bit */
};

/* How a waiter waits: spin, then sched_yield(), then park on the futex. */
struct nshm_wait_strategy {
	uint32_t spins;	 /* busy polls before yielding (0: none) */
	uint32_t yields; /* sched_yield() polls before parking (0: none) */
};

NSHM_API void nshm_event_init(struct nshm_event *ev);
NSHM_API uint32_t nshm_event_prepare(struct nshm_event *ev);
/** @return 0 (notified or epoch moved), -ETIMEDOUT, or a negative errno. */
NSHM_API int nshm_event_wait(struct nshm_event *ev, uint32_t key,
			     const struct timespec *deadline);
NSHM_API void nshm_event_notify(struct nshm_event *ev);

/**
 * Wait until @p ready(@p arg) is true, following @p ws (NULL: a default).
 * @return 0, -ETIMEDOUT, or the first negative value @p ready's companion
 *         check returned (see nshm/ring.h for peer checks).
 */
NSHM_API int nshm_event_await(struct nshm_event *ev, bool (*ready)(void *),
			      void *arg, const struct nshm_wait_strategy *ws,
			      const struct timespec *deadline);

/* ---- peers ------------------------------------------------------------ */

/*
 * Each mapping made by nshm_seg_attach() is a participant of its segment,
 * recorded in the segment's header page. A participant is identified by a
 * 64-bit id (slot and generation, so a reused slot is a new id).
 * @p area is any address nshm_seg_attach() returned for that segment.
 */
typedef uint64_t nshm_peer_t;

/** Id of the participant that this mapping is. @return 0 or -EINVAL. */
NSHM_API int nshm_peer_self(void *area, nshm_peer_t *id);

/** @return 1 alive, 0 dead or gone, or a negative errno. */
NSHM_API int nshm_peer_alive(void *area, nshm_peer_t id);

/** Reclaim the slots of dead participants. @return how many, or -errno. */
NSHM_API int nshm_peer_reap(void *area);

#ifdef __cplusplus
}
#endif
#endif /* NSHM_SYNC_H */
