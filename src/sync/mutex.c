/* SPDX-License-Identifier: MIT */
/*
 * Robust, process-shared mutex with no pointers in shared memory
 * (struct nshm_mutex).
 *
 * The shared state is three 32-bit words (include/nshm/sync.h):
 *
 *   word   0 = free; else the owner's participant id (bits 0..29: slot <<
 *          20 | 20 bits of generation, src/sync/sync_internal.h) or
 *          NSHM__LOCK_ABANDONED, plus NSHM__LOCK_WAITERS (bit 31) while
 *          somebody may sleep on it. A futex word.
 *   state  CONSISTENT, INCONSISTENT (an owner died: repair pending) or
 *          NOTRECOVERABLE (unlocked unrepaired).
 *   generation  bumped by every nshm_mutex_consistent().
 *
 * The owner id is the participant id of the read-write mapping the lock
 * lives in, as this process attached it (src/sync/peer.c): every thread of
 * a process shares it. Death is proved through that participant's liveness
 * token (an OFD lock byte or a SEM_UNDO semaphore the kernel drops when the
 * process dies), never by a timeout: a waiter probes the owner before its
 * first sleep and after every sleep slice, and takes the lock over with
 * -EOWNERDEAD only on a "dead" answer (0), never on "cannot tell" (< 0).
 *
 * A thread that exits holding locks cannot be seen from outside (its
 * process lives on): its thread-exit destructor marks each such word
 * ABANDONED, which the next locker takes over with -EOWNERDEAD.
 *
 * Process-local bookkeeping, never in shared memory:
 *   - a thread-local list of held locks: relock by the same thread is
 *     -EDEADLK, unlock by a thread that does not hold it -EPERM, an unlock
 *     after -EOWNERDEAD without consistent() is reported;
 *   - a process-wide table of held addresses, so that a detach that would
 *     unmap a held lock is refused (-EBUSY).
 * Room in both is reserved *before* the lock is taken: a lock is never
 * returned (least of all with -EOWNERDEAD) without being recorded, so it can
 * always be made consistent and unlocked (issue 9, item 6).
 *
 * Both live in memory that a forked child sees zeroed (MADV_WIPEONFORK, and
 * an atfork handler where that is missing): a child holds none of its
 * parent's locks, even when it was made with _Fork() or clone() that run no
 * atfork handlers.
 *
 * What a scribbling peer can do to a lock word is listed in sync.h; in
 * short: never crash anyone (no pointers, ids are bounded before use, the
 * only system calls are futex calls on the word itself), never make a call
 * wait past its deadline.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "internal.h"
#include "sync/sync_internal.h"

#define HELD_TLS_MAX 16	      /* locks one thread may hold at once */
#define HELD_TABLE_BITS 10    /* process-wide: 1024 entries */
#define HELD_TABLE_SIZE (1u << HELD_TABLE_BITS)

/* Sleep slice between owner liveness probes. */
#define SLICE_NS (10ull * 1000000u)
#define SPINS 64

enum mutex_state {
	ST_CONSISTENT = 0,
	ST_INCONSISTENT = 1,
	ST_NOTRECOVERABLE = 2,
};

struct held {
	struct nshm_mutex *m;
	uint32_t id;	  /* the owner id we stored in m->word */
	bool owner_dead;  /* returned -EOWNERDEAD, not yet consistent */
};

struct held_tls {
	unsigned int n;
	uint32_t inc;	   /* proc->inc when n was last valid */
	bool registered;   /* thread-exit destructor armed */
	struct held h[HELD_TLS_MAX];
};

/*
 * initial-exec: the default global-dynamic model costs a __tls_get_addr
 * call on every lock and unlock of a shared library.
 */
static _Thread_local struct held_tls held_me
	__attribute__((tls_model("initial-exec")));

/*
 * Process-local state a forked child must see empty: the table of held
 * addresses (keys are mutex addresses, 0 = free; open addressing), and the
 * process incarnation that invalidates inherited thread-local lists.
 */
struct proc_local {
	_Atomic(uint32_t) inc;	   /* 0: not set up in this process yet */
	_Atomic(uintptr_t) table[HELD_TABLE_SIZE];
};

static struct proc_local *proc;
static struct proc_local proc_fallback; /* if mmap fails */
static _Atomic(uint32_t) inc_counter;	/* copied into children: monotonic */
static pthread_once_t held_once = PTHREAD_ONCE_INIT;
static pthread_key_t held_key;

static void held_thread_exit(void *unused);

static void held_atfork_child(void)
{
	/* Where MADV_WIPEONFORK works this is already zero. */
	memset(proc, 0, sizeof(*proc));
}

static void held_init(void)
{
	void *p = mmap(NULL, sizeof(struct proc_local),
		       PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);

	if (p != MAP_FAILED) {
		madvise(p, sizeof(struct proc_local), MADV_WIPEONFORK);
		proc = p;
	} else {
		proc = &proc_fallback;
	}
	pthread_key_create(&held_key, held_thread_exit);
	pthread_atfork(NULL, NULL, held_atfork_child);
}

/*
 * The process incarnation, set up on first use in each process (a forked
 * child finds 0). Unique along a fork chain: inc_counter is inherited, so a
 * child's new value exceeds every value its parent's threads hold.
 */
static uint32_t proc_inc(void)
{
	uint32_t v;

	pthread_once(&held_once, held_init);
	/* Relaxed: a process-local value; only its identity matters. */
	v = atomic_load_explicit(&proc->inc, memory_order_relaxed);
	if (nshm_likely(v != 0))
		return v;
	/* Relaxed: monotonic counter, uniqueness is all we need. */
	v = atomic_fetch_add_explicit(&inc_counter, 1,
				      memory_order_relaxed) + 1;
	if (v == 0)
		v = 1;
	{
		uint32_t zero = 0;

		/* Relaxed: as above; a racing thread's value wins. */
		if (!atomic_compare_exchange_strong_explicit(
			    &proc->inc, &zero, v, memory_order_relaxed,
			    memory_order_relaxed))
			v = zero;
	}
	return v;
}

/* This thread's list, emptied if it was inherited across fork(). */
static struct held_tls *held_tls(void)
{
	uint32_t inc = proc_inc();

	if (nshm_unlikely(held_me.inc != inc)) {
		held_me.n = 0;
		held_me.inc = inc;
	}
	return &held_me;
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
		_Atomic(uintptr_t) *e = &proc->table[(h + i) % HELD_TABLE_SIZE];
		uintptr_t expect = 0;

		/*
		 * Relaxed: process-local bookkeeping; the lock orders the
		 * protected data, and a holder's key is published to its
		 * siblings by the release half of its CAS (SYNC-R15).
		 */
		if (atomic_compare_exchange_strong_explicit(
			    e, &expect, key, memory_order_relaxed,
			    memory_order_relaxed))
			return true;
	}
	return false;
}

/*
 * Keys: the mutex address while a thread holds it or is about to CAS for
 * it, address | KEY_TRYING while it spins, probes or sleeps (nshm_mutex is
 * 64-byte aligned). So a thread that holds a lock is always visible as the
 * plain address, from before its CAS until after its release; lock_slow()
 * relies on that. Several threads of a process may wait on one mutex:
 * identical keys, each changed or removed by exactly one CAS.
 */
#define KEY_TRYING ((uintptr_t)1)

/* Replace one entry equal to @key by @to (0: delete). */
static bool held_table_swap(uintptr_t key, uintptr_t to)
{
	unsigned int h = held_hash(key & ~KEY_TRYING);

	for (unsigned int i = 0; i < HELD_TABLE_SIZE; i++) {
		_Atomic(uintptr_t) *e = &proc->table[(h + i) % HELD_TABLE_SIZE];
		uintptr_t expect = key;

		/* Relaxed: see held_table_add(). */
		if (atomic_compare_exchange_strong_explicit(
			    e, &expect, to, memory_order_relaxed,
			    memory_order_relaxed))
			return true;
	}
	return false;
}

static void held_table_del(uintptr_t key)
{
	held_table_swap(key, 0);
}

/* Does any thread of this process hold @m (past its CAS)? */
static bool held_table_has(uintptr_t key)
{
	for (unsigned int i = 0; i < HELD_TABLE_SIZE; i++)
		/* Relaxed: see held_table_add(). */
		if (atomic_load_explicit(&proc->table[i],
					 memory_order_relaxed) == key)
			return true;
	return false;
}

bool nshm__mutex_held_in(const void *lo, const void *hi)
{
	pthread_once(&held_once, held_init);
	for (unsigned int i = 0; i < HELD_TABLE_SIZE; i++) {
		/* Relaxed: see held_table_add(). */
		uintptr_t k = atomic_load_explicit(&proc->table[i],
						   memory_order_relaxed) &
			      ~KEY_TRYING;

		if (k != 0 && k >= (uintptr_t)lo && k < (uintptr_t)hi)
			return true;
	}
	return false;
}

static int held_find(struct held_tls *t, const struct nshm_mutex *m)
{
	for (unsigned int i = 0; i < t->n; i++)
		if (t->h[i].m == m)
			return (int)i;
	return -1;
}

bool nshm__mutex_held_by_me(const struct nshm_mutex *m)
{
	return held_find(held_tls(), m) >= 0;
}

/*
 * Reserve room for one more held lock before taking it: a place in this
 * thread's list and @m's key in the process table (inserted now, so that
 * a detach of the mapping we are locking in is refused meanwhile too).
 * false: this thread (HELD_TLS_MAX) or the process (HELD_TABLE_SIZE)
 * holds too many.
 */
static bool held_reserve(struct held_tls *t, struct nshm_mutex *m)
{
	if (t->n >= HELD_TLS_MAX || !held_table_add((uintptr_t)m))
		return false;
	if (nshm_unlikely(!t->registered)) {
		/* Any non-NULL value arms the destructor. */
		pthread_setspecific(held_key, &held_me);
		t->registered = true;
	}
	return true;
}

/* Give the reservation back; @waiting: it is in its KEY_TRYING form. */
static void held_unreserve(struct nshm_mutex *m, bool waiting)
{
	held_table_del((uintptr_t)m | (waiting ? KEY_TRYING : 0));
}

/* Switch our reservation between "about to CAS" and "waiting". */
static void held_mark(struct nshm_mutex *m, bool *waiting, bool to_waiting)
{
	if (*waiting == to_waiting)
		return;
	if (to_waiting)
		held_table_swap((uintptr_t)m, (uintptr_t)m | KEY_TRYING);
	else
		held_table_swap((uintptr_t)m | KEY_TRYING, (uintptr_t)m);
	*waiting = to_waiting;
}

/* Record a lock taken after held_reserve(): cannot fail. */
static void held_commit(struct held_tls *t, struct nshm_mutex *m, uint32_t id,
			bool owner_dead)
{
	t->h[t->n].m = m;
	t->h[t->n].id = id;
	t->h[t->n].owner_dead = owner_dead;
	t->n++;
}

static void held_drop(struct held_tls *t, int i)
{
	struct nshm_mutex *m = t->h[i].m;

	t->h[i] = t->h[--t->n];
	held_table_del((uintptr_t)m);
}

/* ---- the shared word ------------------------------------------------------ */

static bool id_valid(uint32_t o)
{
	return o != 0 && (o & NSHM__LOCK_ABANDONED) == 0 &&
	       (o >> NSHM__ID_SLOT_SHIFT) < NSHM_PEER_MAX &&
	       (o & NSHM__ID_GEN_MASK) != 0;
}

/*
 * Release the word we own as @id: to 0, or (@abandon) to ABANDONED with
 * WAITERS kept. false: it no longer names us (taken over: changed nothing).
 */
static bool word_release(struct nshm_mutex *m, uint32_t id, bool abandon)
{
	/* Relaxed: the CAS below re-reads it. */
	uint32_t v = atomic_load_explicit(&m->word, memory_order_relaxed);
	uint32_t to;

	for (;;) {
		if ((v & NSHM__LOCK_OWNER) != id)
			return false;
		to = abandon ? NSHM__LOCK_ABANDONED | (v & NSHM__LOCK_WAITERS)
			     : 0;
		/*
		 * SYNC-R10: pairs with SYNC-A10 in the next locker's CAS: our
		 * critical section happens before its own. Relaxed on failure:
		 * only WAITERS can have changed; we retry.
		 */
		if (atomic_compare_exchange_weak_explicit(
			    &m->word, &v, to, memory_order_release,
			    memory_order_relaxed))
			break;
	}
	if (v & NSHM__LOCK_WAITERS)
		nshm__futex_wake_raw(&m->word, 1);
	return true;
}

/*
 * A thread exits holding locks: its process lives, so no liveness token
 * will ever say so. Mark each word ABANDONED (keeping WAITERS) for the next
 * locker, who takes it over with -EOWNERDEAD.
 */
static void held_thread_exit(void *unused)
{
	struct held_tls *t = &held_me;

	(void)unused;
	if (proc == NULL || t->inc != atomic_load_explicit(
					      &proc->inc, memory_order_relaxed))
		return; /* inherited list: those were the parent's */
	while (t->n > 0) {
		struct held *h = &t->h[t->n - 1];

		/* SYNC-R10 in word_release(): our stores come first. */
		word_release(h->m, h->id, true);
		held_drop(t, (int)t->n - 1);
	}
}

int nshm_mutex_init(struct nshm_mutex *m)
{
	nshm__err_clear();
	if (m == NULL || ((uintptr_t)m & 63u) != 0)
		return nshm__err(-EINVAL, "mutex %p is NULL or not 64-byte "
				 "aligned", (void *)m);
	/* Relaxed: nobody else can see @m before the caller publishes it. */
	atomic_store_explicit(&m->word, 0, memory_order_relaxed);
	atomic_store_explicit(&m->state, ST_CONSISTENT, memory_order_relaxed);
	atomic_store_explicit(&m->generation, 0, memory_order_relaxed);
	memset(m->reserved, 0, sizeof(m->reserved));
	return 0;
}

/* After the word became ours: what does the state say? */
static int acquired(struct nshm_mutex *m, struct held_tls *t, uint32_t id,
		    bool took_over)
{
	/* Relaxed: read under the lock we now hold (SYNC-A10 ordered it). */
	uint32_t st = atomic_load_explicit(&m->state, memory_order_relaxed);

	if (nshm_unlikely(st == ST_NOTRECOVERABLE)) {
		word_release(m, id, false);
		held_unreserve(m, false);
		return nshm__err(-ENOTRECOVERABLE, "mutex %p is not "
				 "recoverable: an owner died and the next one "
				 "unlocked without repairing; re-initialise it",
				 (void *)m);
	}
	if (nshm_unlikely(took_over || st != ST_CONSISTENT)) {
		/*
		 * Relaxed: under the lock. Any state other than CONSISTENT
		 * (a repair that never finished, or a scribbled value) means
		 * "repair first": -EOWNERDEAD again, never a silent success.
		 */
		atomic_store_explicit(&m->state, ST_INCONSISTENT,
				      memory_order_relaxed);
		held_commit(t, m, id, true);
		return -EOWNERDEAD;
	}
	held_commit(t, m, id, false);
	return 0;
}

/*
 * The contended path. @id: ours. Returns like nshm_mutex_lock(); the
 * reservation is released on failure.
 */
static int lock_slow(struct nshm_mutex *m, struct held_tls *t, uint32_t id,
		     const struct timespec *deadline, bool try_only)
{
	uint32_t sleep_bit = 0; /* WAITERS once we slept: others may too */
	bool probe = true;	/* probe the owner before the next sleep */
	uint32_t probed = 0;	/* the owner value last found alive */
	int spins = try_only ? 0 : SPINS;
	int forged = 0;		/* checks that found our id unheld */
	bool waiting = false;	/* our table key is in its waiting form */

	for (;;) {
		/* Relaxed: the CASes below acquire. */
		uint32_t v = atomic_load_explicit(&m->word,
						  memory_order_relaxed);
		uint32_t o = v & NSHM__LOCK_OWNER;
		struct timespec slice;
		uint64_t left;
		int alive, ret;

		if (o == 0) {
			held_mark(m, &waiting, false); /* visible before */
			/* SYNC-A10 and SYNC-R15, as in lock_common(). */
			if (atomic_compare_exchange_strong_explicit(
				    &m->word, &v, id | (v & NSHM__LOCK_WAITERS) |
							  sleep_bit,
				    memory_order_acq_rel, memory_order_relaxed))
				return acquired(m, t, id, false);
			continue;
		}
		if (o != id && !id_valid(o)) {
			held_mark(m, &waiting, false);
			/*
			 * Garbage or ABANDONED: no owner to ask. SYNC-A11
			 * (below), and SYNC-R15 as in lock_common().
			 */
			if (atomic_compare_exchange_strong_explicit(
				    &m->word, &v, id | (v & NSHM__LOCK_WAITERS),
				    memory_order_acq_rel, memory_order_relaxed))
				return acquired(m, t, id, true);
			continue;
		}
		held_mark(m, &waiting, true);
		if (spins > 0) {
			/* Short critical sections end before a probe pays. */
			spins--;
			nshm_cpu_relax();
			continue;
		}
		if (o != id && (probe || o != probed)) {
			/*
			 * A foreign owner, before we sleep on it (and after
			 * every slice slept): taken over only on proof of
			 * death from its liveness token; "cannot tell" (< 0)
			 * waits like "alive".
			 */
			alive = nshm__peer_id_alive(m, o);
			probe = false;
			if (alive == 0) {
				held_mark(m, &waiting, false);
				/*
				 * SYNC-A11: the dead owner's stores were
				 * ordered by the kernel dropping its token
				 * (process exit: exit_mm before exit_files and
				 * exit_sem), not by a release of its own; a
				 * thread that exited holding it released
				 * through SYNC-R10 in held_thread_exit(), which
				 * this acquire pairs with. (Release half:
				 * SYNC-R15.)
				 */
				if (atomic_compare_exchange_strong_explicit(
					    &m->word, &v,
					    id | (v & NSHM__LOCK_WAITERS),
					    memory_order_acq_rel,
					    memory_order_relaxed))
					return acquired(m, t, id, true);
				continue;
			}
			probed = o; /* alive, or cannot tell: wait */
		} else if (o == id && probe) {
			/*
			 * Our own id: a sibling thread holds it, and then the
			 * process table shows its key in the plain form (set
			 * before its CAS, dropped after its release). If it
			 * does not, at three checks in a row, each after a
			 * whole slice without a wake-up, the word was forged:
			 * an error, never a silent wait forever and never a
			 * steal.
			 */
			probe = false;
			/*
			 * SYNC-A15: pairs with SYNC-R15 (the holder's CAS
			 * releases its key): if the word still names us, the
			 * key of whoever put it there is visible. (An unlock's
			 * key removal may be seen before its release of the
			 * word: that needs three checks in a row to matter and
			 * then costs an error, never a steal.)
			 */
			if ((atomic_load_explicit(&m->word,
						  memory_order_acquire) &
			     NSHM__LOCK_OWNER) != id)
				forged = 0;
			else
				forged = held_table_has((uintptr_t)m) ||
						 held_table_has((uintptr_t)m)
					 ? 0
					 : forged + 1;
			if (forged >= 3) {
				held_unreserve(m, waiting);
				return nshm__err(-NSHM_ECORRUPT,
						 "mutex %p names this process as its "
						 "owner, but no thread of it holds it "
						 "(its word was overwritten)",
						 (void *)m);
			}
		}
		if (try_only || nshm__deadline_passed(deadline)) {
			held_unreserve(m, waiting);
			return try_only ? -EBUSY : -ETIMEDOUT;
		}
		if (!(v & NSHM__LOCK_WAITERS)) {
			/* Relaxed: only announces a sleeper; re-checked. */
			if (!atomic_compare_exchange_strong_explicit(
				    &m->word, &v, v | NSHM__LOCK_WAITERS,
				    memory_order_relaxed, memory_order_relaxed))
				continue;
			v |= NSHM__LOCK_WAITERS;
		}
		left = nshm__ns_until(deadline);
		nshm_deadline_in(&slice, left < SLICE_NS ? left : SLICE_NS);
		ret = nshm__futex_wait_raw(&m->word, v, &slice);
		sleep_bit = NSHM__LOCK_WAITERS;
		if (ret == -ETIMEDOUT) {
			probe = true; /* a whole slice: look at the owner */
		} else if (ret != 0 && ret != -EAGAIN && ret != -EINTR) {
			held_unreserve(m, waiting);
			return nshm__err(ret, "FUTEX_WAIT on mutex %p failed",
					 (void *)m);
		}
	}
}

static int lock_common(struct nshm_mutex *m, const struct timespec *deadline,
		       bool try_only)
{
	struct held_tls *t;
	uint32_t id, zero = 0;
	int ret;

	if (nshm_unlikely(m == NULL || ((uintptr_t)m & 63u) != 0))
		return nshm__err(-EINVAL, "mutex %p is NULL or not 64-byte "
				 "aligned", (void *)m);
	t = held_tls();
	if (nshm_unlikely(held_find(t, m) >= 0))
		return nshm__err(-EDEADLK, "this thread already holds mutex %p",
				 (void *)m);
	ret = nshm__peer_lock_id(m, &id);
	if (nshm_unlikely(ret != 0))
		return ret;
	if (nshm_unlikely(!held_reserve(t, m)))
		return nshm__err(-ENOLCK, "this thread holds %d nshm mutexes "
				 "(or the process %u): the limit; nothing was "
				 "locked", HELD_TLS_MAX, HELD_TABLE_SIZE);
	/*
	 * SYNC-A10: pairs with SYNC-R10 of the last unlock. Its release half
	 * is SYNC-R15: our table key (held_reserve()) is visible to a sibling
	 * that sees our id in the word (SYNC-A15 in lock_slow()).
	 */
	if (nshm_likely(atomic_compare_exchange_strong_explicit(
		    &m->word, &zero, id, memory_order_acq_rel,
		    memory_order_relaxed)))
		return acquired(m, t, id, false);
	return lock_slow(m, t, id, deadline, try_only);
}

int nshm_mutex_lock(struct nshm_mutex *m, const struct timespec *deadline)
{
	int ret = nshm__deadline_check(deadline);

	if (ret != 0)
		return ret;
	return lock_common(m, deadline, false);
}

int nshm_mutex_trylock(struct nshm_mutex *m)
{
	return lock_common(m, NULL, true);
}

int nshm_mutex_consistent(struct nshm_mutex *m)
{
	struct held_tls *t;
	int i;

	if (m == NULL)
		return nshm__err(-EINVAL, "mutex is NULL");
	t = held_tls();
	i = held_find(t, m);
	if (i < 0 || !t->h[i].owner_dead)
		return nshm__err(-EINVAL, "mutex %p is not held by this thread "
				 "after -EOWNERDEAD", (void *)m);
	/* Relaxed: under the lock; the unlock's SYNC-R10 publishes it. */
	atomic_store_explicit(&m->state, ST_CONSISTENT, memory_order_relaxed);
	t->h[i].owner_dead = false;
	/* Relaxed: a statistic, read under the mutex or by tests. */
	atomic_fetch_add_explicit(&m->generation, 1, memory_order_relaxed);
	return 0;
}

int nshm_mutex_unlock(struct nshm_mutex *m)
{
	struct held_tls *t;
	bool unrepaired, ours;
	uint32_t id;
	int i;

	if (nshm_unlikely(m == NULL))
		return nshm__err(-EINVAL, "mutex is NULL");
	t = held_tls();
	i = held_find(t, m);
	if (nshm_unlikely(i < 0))
		return nshm__err(-EPERM, "mutex %p is not held by this thread",
				 (void *)m);
	unrepaired = t->h[i].owner_dead;
	id = t->h[i].id;
	if (nshm_unlikely(unrepaired))
		/* Relaxed: under the lock; SYNC-R10 below publishes it. */
		atomic_store_explicit(&m->state, ST_NOTRECOVERABLE,
				      memory_order_relaxed);
	/*
	 * Release, then drop the bookkeeping: a sibling thread that finds
	 * our id in the word must find us in the table too (lock_slow()).
	 */
	ours = word_release(m, id, false);
	held_drop(t, i);
	if (nshm_unlikely(!ours))
		return nshm__err(-NSHM_ECORRUPT,
				 "mutex %p was taken from this thread while "
				 "held (its word was overwritten): the data "
				 "it protects may have had two writers",
				 (void *)m);
	if (nshm_unlikely(unrepaired))
		return nshm__err(-ENOTRECOVERABLE,
				 "mutex %p was unlocked after -EOWNERDEAD "
				 "without nshm_mutex_consistent(): it is now "
				 "unrecoverable for every process",
				 (void *)m);
	return 0;
}
