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
#include <nshm/bits/atomic.h> /* NSHM_ATOMIC(T): C11 and C++ */
#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <nshm/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- deadlines -------------------------------------------------------- */

/**
 * Set @p ts to now + @p ns on CLOCK_MONOTONIC (saturating).
 * @return @p ts (NULL if @p ts is NULL).
 */
NSHM_API struct timespec *nshm_deadline_in(struct timespec *ts, uint64_t ns);

/* ---- robust mutex ----------------------------------------------------- */

/*
 * A robust, process-shared mutex that keeps no pointer in shared memory.
 * Place it inside a segment (a mapping made by nshm_seg_attach(), read-write)
 * and initialise it once, before anyone else can see it; lock it from any
 * thread of any process that attached that segment read-write (also from a
 * forked child that inherited the mapping: it joins the segment's
 * participant table on its first lock).
 *
 * The lock word holds the owner's participant id (see "peers" below: the
 * id of the mapping it was locked through, shared by the threads of one
 * process). A waiter that finds it held probes the owner's liveness token
 * before sleeping and after each 10 ms sleep slice, and takes the lock
 * over (-EOWNERDEAD) only when the token proves the owner dead: a slow,
 * stopped or preempted owner keeps its lock. A thread that exits holding a
 * lock marks it abandoned: the next locker gets -EOWNERDEAD too.
 *
 * Against a peer that scribbles the mutex's bytes (a bug, or a hostile
 * process with write access), it guarantees:
 *   - no crash and no wild access: no pointers, every id is bounded, the
 *     only system calls are futex calls on the word itself;
 *   - no wait past a deadline, and no wait forever without one: a garbage
 *     owner is taken over with -EOWNERDEAD at once; a forged id of a live
 *     participant makes lockers wait as if it held the lock: -ETIMEDOUT at
 *     their deadline, or, without one, until that participant detaches or
 *     dies (then it is taken over with -EOWNERDEAD);
 *   - a displaced holder learns it: unlock returns -NSHM_ECORRUPT.
 * It cannot guarantee mutual exclusion against a scribbler (writing 0 or a
 * dead owner's id frees the lock for a second owner), nor the protected
 * data: repair after -EOWNERDEAD must validate what it reads.
 *
 * The segment's own control lock (attach, detach, reap) is different and
 * stronger: it is held by the kernel (an OFD lock byte, or a SysV
 * semaphore with SEM_UNDO), so no byte of shared memory can forge, steal or
 * wedge it; a scribbled control block is repaired or reported
 * (-NSHM_ECORRUPT, -EPROTO), never followed.
 */
struct nshm_mutex {
	NSHM_ATOMIC(uint32_t) word;	  /* 0 free; owner id | waiters bit */
	NSHM_ATOMIC(uint32_t) state;	  /* consistent / repair due / lost */
	NSHM_ATOMIC(uint32_t) generation; /* bumped by every owner-death repair */
	uint32_t reserved[13];
} __attribute__((aligned(64)));

/**
 * Initialise @p m in place (must be 64-byte aligned).
 * @return 0 or -EINVAL.
 */
NSHM_API int nshm_mutex_init(struct nshm_mutex *m);

/**
 * Lock, waiting until @p deadline (absolute CLOCK_MONOTONIC, NULL = forever;
 * a deadline already past means "try once").
 *
 * @return 0; -EOWNERDEAD: the previous owner died holding it (or its thread
 *         exited holding it), you now hold it, repair the protected state
 *         and call nshm_mutex_consistent() before unlocking; -ETIMEDOUT;
 *         -ENOTRECOVERABLE (an earlier owner unlocked after -EOWNERDEAD
 *         without repairing: re-initialise it, in practice recreate the
 *         segment); -EDEADLK (this thread holds it already); -EINVAL
 *         (NULL, misaligned, not inside a read-write mapping of an nshm
 *         segment in this process, malformed deadline); -ENOLCK (this
 *         thread holds 16 nshm mutexes, or the process 1024: nothing
 *         was locked); -EUSERS (a forked child could not join the segment's
 *         full participant table).
 */
NSHM_API int nshm_mutex_lock(struct nshm_mutex *m,
			     const struct timespec *deadline);

/**
 * @return 0, -EBUSY, -EOWNERDEAD, -ENOTRECOVERABLE, -EDEADLK, -EINVAL,
 *         -ENOLCK, -EUSERS (as nshm_mutex_lock()).
 */
NSHM_API int nshm_mutex_trylock(struct nshm_mutex *m);

/**
 * Mark the state repaired after -EOWNERDEAD; bumps @p m->generation.
 * @return 0, or -EINVAL (NULL, or not held by this thread after
 *         -EOWNERDEAD).
 */
NSHM_API int nshm_mutex_consistent(struct nshm_mutex *m);

/**
 * Unlock. While this process holds a mutex that lives in a mapping, that
 * mapping cannot be detached (nshm_seg_detach() returns -EBUSY).
 *
 * @return 0; -EPERM (not held by this thread); -EINVAL (NULL);
 *         -ENOTRECOVERABLE: it was held after -EOWNERDEAD and
 *         nshm_mutex_consistent() was not called: it is unlocked, and is
 *         now unrecoverable for everyone (never silently);
 *         -NSHM_ECORRUPT: the word no longer named this owner (overwritten
 *         in shared memory, or taken over): nothing was changed.
 */
NSHM_API int nshm_mutex_unlock(struct nshm_mutex *m);

/* ---- futex ------------------------------------------------------------ */

/**
 * Sleep while *@p word == @p expected (shared futex, never PRIVATE).
 * EINTR and spurious wake-ups are absorbed: it returns only once the word
 * differs or the deadline passed.
 *
 * @return 0 once the word differs, -ETIMEDOUT (at once, with no system call,
 *         for a past deadline), -EINVAL (NULL or misaligned @p word,
 *         malformed deadline), or another negative errno (-EFAULT).
 */
NSHM_API int nshm_futex_wait(NSHM_ATOMIC(uint32_t) *word, uint32_t expected,
			     const struct timespec *deadline);

/**
 * Wake up to @p n (> 0; INT_MAX for all) waiters.
 * @return how many woke, or -EINVAL, -EFAULT.
 */
NSHM_API int nshm_futex_wake(NSHM_ATOMIC(uint32_t) *word, int n);

/* ---- event count ------------------------------------------------------ */

/*
 * An event count ("doorbell"): a way to sleep until some condition held in
 * shared memory becomes true, without a system call on the notify side when
 * nobody sleeps, and without lost wake-ups.
 *
 * Waiter:   key = nshm_event_prepare(ev);    (announce: sets WAITERS)
 *           if (!condition())                (re-check AFTER announcing)
 *                   nshm_event_wait(ev, key, deadline);
 *           (loop: re-check condition(), prepare again, ...)
 * Notifier: make condition() true (any store, typically a release store),
 *           then nshm_event_notify(ev).
 *
 * Guarantee: if prepare happens before notify, the wait returns at once;
 * if notify happens before prepare, the waiter's re-check sees the
 * condition. Either way no wake-up is lost.
 *
 * The word is epoch << 1 | WAITERS. prepare sets WAITERS; a notify that
 * sees WAITERS bumps the epoch, clears the bit and wakes every sleeper;
 * a notify that does not see it is one fence, one load and one branch.
 * A waiter that dies (or times out) between prepare and wait leaves the bit
 * set: the next notify pays one wasted FUTEX_WAKE and clears it, so there is
 * no permanent leak (unlike a waiter count).
 */
struct nshm_event {
	NSHM_ATOMIC(uint32_t) word; /* epoch << 1 | NSHM_EVENT_WAITERS */
};

#define NSHM_EVENT_WAITERS 1u

/*
 * How a blocking call waits: nshm_event_await() and every ring's blocking
 * calls (nshm_ring_set_wait()) share this strategy, its defaults and one
 * implementation. Poll the condition @spins times with a CPU pause, then
 * @yields times with sched_yield(), then park on the futex (after the
 * prepare / re-check protocol above) in slices of at most @park_slice_ms.
 * After every slice that ended without a notify, @check (if set) is called
 * (nshm_event_await(): with its @arg; a ring: with the ring handle); a
 * negative return ends the wait with that value.
 * Zero-initialised fields mean: no spinning, no yielding, slices of
 * NSHM_WAIT_SLICE_MS_DEFAULT, no check. Pass NULL for the defaults below.
 */
struct nshm_wait_strategy {
	uint32_t spins;		/* busy polls before yielding (0: none) */
	uint32_t yields;	/* sched_yield() polls before parking (0: none) */
	uint32_t park_slice_ms; /* max sleep before check() runs (0: default) */
	uint32_t reserved;	/* 0 */
	int (*check)(void *arg); /* optional: < 0 aborts the wait */
};

/*
 * What a NULL strategy means: spin 4096 (~5-50 us: a hand-off that is
 * about to happen never pays a system call), yield 16, 20 ms slices (how
 * soon a ring waiter notices a dead peer).
 */
#define NSHM_WAIT_SPINS_DEFAULT 4096u
#define NSHM_WAIT_YIELDS_DEFAULT 16u
#define NSHM_WAIT_SLICE_MS_DEFAULT 20u

/** Initialise @p ev (epoch 0, no waiters). */
NSHM_API void nshm_event_init(struct nshm_event *ev);

/**
 * Announce a waiter (sets NSHM_EVENT_WAITERS) and return the key to pass to
 * nshm_event_wait(). Re-check your condition after this call.
 */
NSHM_API uint32_t nshm_event_prepare(struct nshm_event *ev);

/**
 * Sleep until a notify after the matching prepare, or @p deadline.
 * EINTR and spurious wake-ups are absorbed.
 *
 * @return 0 (notified, or the epoch had already moved: re-check your
 *         condition), -ETIMEDOUT (also at once for a past deadline),
 *         -EINVAL (NULL @p ev, malformed deadline, or a @p key that
 *         nshm_event_prepare() cannot have returned: WAITERS clear).
 */
NSHM_API int nshm_event_wait(struct nshm_event *ev, uint32_t key,
			     const struct timespec *deadline);

/** Out-of-line notify (FFI, dlsym, benchmarks): same as nshm_event_notify. */
NSHM_API void nshm_event_notify_fn(struct nshm_event *ev);

/** Slow path of nshm_event_notify(): bump the epoch and wake all. */
NSHM_API void nshm_event_notify_slow(struct nshm_event *ev);

/**
 * Wake everyone waiting on @p ev. Call it after the store that makes the
 * waiters' condition true. No system call unless a waiter announced itself.
 */
#if defined(__SANITIZE_THREAD__)
#define NSHM_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define NSHM_TSAN 1
#endif
#endif

static inline void nshm_event_notify(struct nshm_event *ev)
{
#ifndef NSHM_TSAN
	/*
	 * F1: pairs with F2 in nshm_event_prepare() (store-load / Dekker):
	 * either this load sees WAITERS, or the waiter's re-check after
	 * prepare sees the caller's store that made its condition true.
	 */
	atomic_thread_fence(memory_order_seq_cst);
	/* Relaxed: ordered by F1; the slow path re-reads with a CAS. */
	if (atomic_load_explicit(&ev->word, memory_order_relaxed) &
	    NSHM_EVENT_WAITERS)
		nshm_event_notify_slow(ev);
#else
	/*
	 * ThreadSanitizer does not model fences: use an acq_rel RMW on the
	 * word instead (R1T: pairs with A2T, the RMW in prepare). Both RMWs
	 * are on one location, so either ours reads the waiter's WAITERS, or
	 * the waiter's reads ours and acquires the caller's store.
	 */
	if (atomic_fetch_add_explicit(&ev->word, 0, memory_order_acq_rel) &
	    NSHM_EVENT_WAITERS)
		nshm_event_notify_slow(ev);
#endif
}

/**
 * Wait until @p ready(@p arg) returns true, following @p ws (NULL:
 * NSHM_WAIT_DEFAULT). ready() is called often (every spin) and must be
 * cheap and side-effect free; it must return true once the notifier's store
 * is visible (use acquire loads in it to see the data behind it).
 *
 * @return 0 when ready() returned true; -ETIMEDOUT once @p deadline passed
 *         (ready() is tried one last time first); the negative value
 *         @p ws->check returned; -EINVAL (NULL @p ev or @p ready, malformed
 *         deadline, nonzero reserved field).
 */
NSHM_API int nshm_event_await(struct nshm_event *ev, bool (*ready)(void *),
			      void *arg, const struct nshm_wait_strategy *ws,
			      const struct timespec *deadline);

/* ---- peers ------------------------------------------------------------ */

/*
 * Each read-write mapping made by nshm_seg_attach() is a participant of its
 * segment, recorded in the segment's header page (at most NSHM_PEER_MAX at
 * once) from attach to detach. A participant is identified by a 64-bit id:
 * generation << 32 | slot, so a reused slot is a new id. Read-only mappings
 * cannot write the table: they are observers, not participants.
 * @p area is any address nshm_seg_attach() returned for that segment.
 *
 * Death is detected by a token the participant holds for as long as its
 * mapping lives and that the kernel drops when the process dies, so it
 * survives pid reuse and pid namespaces and does not depend on which thread
 * attached. Nothing in shared memory can forge or release it:
 *   POSIX / file segments: an open-file-description lock (F_OFD_SETLK) on
 *     one byte per slot (at offset 2^40 + slot, beyond any data) of the
 *     segment's file, held through a descriptor reopened from
 *     /proc/self/fd (close-on-exec; replaced in a forked child).
 *   System V segments (no file): semaphore #slot of a semaphore set with the
 *     segment's key and mode, held at 1 with SEM_UNDO (the kernel undoes it
 *     when the process exits; a forked child does not inherit it; it does
 *     survive execve(), so a process that execs keeps its slots until it
 *     exits). nshm_seg_delete() removes the set with the segment once no
 *     mapping holds a token in it (else the next segment with that key
 *     reuses it).
 * pid and process start time are recorded for diagnostics only; a token
 * still held by a child forked a moment before its parent died is
 * overruled by the parent's vanished pid where the pid namespace is ours.
 * A peer that scribbles the table can make a participant look gone (its
 * slot freed or its generation bumped) but never make a dead one look
 * alive past its token, nor make any call crash or hang.
 */
typedef uint64_t nshm_peer_t;

#define NSHM_PEER_MAX 128u

/**
 * Id of the participant that this mapping is.
 * @return 0; -EINVAL (NULL, not an address attach returned); -EROFS (a
 *         read-only mapping is no participant).
 */
NSHM_API int nshm_peer_self(void *area, nshm_peer_t *id);

/**
 * Is participant @p id alive? No lock is taken; a live participant is never
 * reported dead.
 * @return 1 alive, 0 dead or gone (detached, reaped, slot reused), or
 *         -EINVAL (bad @p area or a slot index >= NSHM_PEER_MAX),
 *         -NSHM_ECORRUPT (the table entry in shared memory is corrupt),
 *         another -errno when the token cannot be probed (e.g. the SysV
 *         semaphore set was removed): "cannot tell", never "dead".
 */
NSHM_API int nshm_peer_alive(void *area, nshm_peer_t id);

/**
 * Reclaim the slots of dead participants (and of corrupt entries nobody
 * holds), under the segment's control lock.
 * @return how many were reclaimed, or -EINVAL, -EROFS (read-only mapping),
 *         -ETIMEDOUT (the control lock stayed busy for 5 s: a stopped or
 *         stuck holder; never taken from a live one), -NSHM_ECORRUPT or
 *         -EPROTO (the control block's header was overwritten).
 */
NSHM_API int nshm_peer_reap(void *area);

/* One participant, for tools. */
struct nshm_peer_info {
	nshm_peer_t id;
	int32_t pid;	      /* in the participant's pid namespace */
	int32_t alive;	      /* nshm_peer_alive(): 1, 0 or -errno */
	uint64_t start_ticks; /* low 32 bits of /proc/<pid>/stat starttime */
	uint64_t attach_ns;   /* 0: not recorded since control block v2 */
	bool self;	      /* this mapping */
	bool readonly;	      /* unused (observers are not listed): false */
};

/**
 * List the participants of the segment @p area belongs to.
 * @return how many there are (may exceed @p max; only @p max are written),
 *         or -EINVAL.
 */
NSHM_API int nshm_peer_list(void *area, struct nshm_peer_info *out,
			    unsigned int max);

#ifdef __cplusplus
}
#endif
#endif /* NSHM_SYNC_H */
