/* SPDX-License-Identifier: MIT */
/*
 * Peer liveness: the participant table in every segment's control block,
 * the segment-layer hooks that fill it, and its crash repair.
 *
 * Every read-write mapping is a participant from attach to detach. It owns
 * one slot of the table (src/sync/ctl.h) and holds a liveness token that the
 * kernel releases when the process dies, however it dies:
 *
 *  - POSIX shm and file segments (the hook gets a descriptor): an OFD lock
 *    (F_OFD_SETLK, F_WRLCK) on byte NSHM_OFD_BASE + slot of the segment's
 *    file, taken through a descriptor we reopen from /proc/self/fd/N, so
 *    the lock belongs to an open file description of our own (falling back
 *    to a dup of the handle's descriptor without /proc). It is close-on-exec
 *    and closed in forked children, so neither an exec'd image nor a child
 *    keeps a dead parent "alive". OFD locks belong to the description, not
 *    to a thread or a pid: the thread that attached may exit, pids may be
 *    reused, checkers may sit in another pid namespace; none of that
 *    matters. A checker asks with F_OFD_GETLK on its own descriptor.
 *
 *  - System V segments (no file, hook fd == -1): a robust mutex per slot
 *    (slot.live), locked by a per-process "keeper" thread that sleeps until
 *    the process ends. Robust mutexes are owned by threads, so a token taken
 *    by the attaching thread would read "dead" once that thread exited; the
 *    keeper lives as long as the process. The kernel marks the mutex
 *    OWNER_DIED when the process dies (also across pid namespaces, research
 *    notes R9); a checker's trylock then returns EOWNERDEAD (dead) instead
 *    of EBUSY (alive). Each slot mutex is initialised once at segment init
 *    and never again; a checker that gets it repairs and releases it at
 *    once. Limits: the kernel recovers at most 2048 robust locks per thread
 *    (R8), so a process should not keep more than ~2000 SysV mappings; a
 *    read-only (observer) mapping cannot trylock, and falls back to pid +
 *    start time, which only works in the same pid namespace.
 *
 * pid, /proc/<pid>/stat start time and the pid-namespace inode are recorded
 * for diagnostics (nshm_peer_list) and that fallback; kill(pid, 0) is never
 * used: pid reuse and namespaces defeat it.
 *
 * The process-local side is a record per mapping (the hook "cookie").
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "shm/seg_layout.h"
#include "sync/ctl.h"
#include "sync/sync_internal.h"

#define REC_MAGIC 0x50454552u /* "PEER" */
#define NO_SLOT UINT32_MAX
#define CTL_LOCK_TIMEOUT_NS (5ull * 1000000000u)
#define KEEPER_LOCK_TIMEOUT_NS (1000000000ull)

/* One mapping of one segment in this process. */
struct peer_rec {
	uint32_t magic;
	uint32_t slot;	/* NO_SLOT: read-only observer (or failed join) */
	uint32_t gen;
	uint32_t kind;	/* enum nshm__token_kind of our own token */
	struct nshm_seg_hdr *hdr;
	struct nshm__ctl *ctl;
	size_t map_size;
	uint64_t nonce; /* ctl->nonce at attach */
	pid_t owner;	/* getpid() at attach; differs in a forked child */
	int fd;		/* private descriptor (token + checks), or -1 */
	bool readonly;
	struct peer_rec *next;
};

static pthread_mutex_t recs_lock = PTHREAD_MUTEX_INITIALIZER;
static struct peer_rec *recs;

/* ---- process identity ---------------------------------------------------- */

struct self_id {
	pid_t pid;
	uint64_t start_ticks;
	uint64_t pidns;
};

static int read_start_ticks(pid_t pid, uint64_t *out)
{
	char path[64], buf[1024], *p;
	unsigned long long v = 0;
	ssize_t n;
	int fd, field;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	/* comm may hold spaces and ')': fields restart after the last ')'. */
	p = strrchr(buf, ')');
	if (p == NULL)
		return -EIO;
	/* After ") " comes field 3 (state); starttime is field 22. */
	if (p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X'))
		return -ESRCH; /* exited, not yet (or never to be) reaped */
	for (field = 2; field < 22 && *p != '\0'; p++)
		if (*p == ' ')
			field++;
	if (field != 22 || sscanf(p, "%llu", &v) != 1)
		return -EIO;
	*out = v;
	return 0;
}

static uint64_t read_pidns(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (uint64_t)st.st_ino : 0;
}

static void self_identity(struct self_id *id)
{
	id->pid = getpid();
	id->start_ticks = 0;
	read_start_ticks(id->pid, &id->start_ticks);
	id->pidns = read_pidns("/proc/self/ns/pid");
}

/* ---- the keeper thread (System V tokens) --------------------------------- */

enum keeper_op { KEEP_LOCK = 1, KEEP_UNLOCK = 2 };

static struct {
	pthread_mutex_t call; /* one request at a time */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pid_t pid;	      /* process the keeper runs in (0: none) */
	pthread_mutex_t *req; /* request */
	int op;
	int result;
	bool pending;
	bool done;
} keeper = {
	.call = PTHREAD_MUTEX_INITIALIZER,
	.mu = PTHREAD_MUTEX_INITIALIZER,
	.cv = PTHREAD_COND_INITIALIZER,
};

static void *keeper_main(void *unused)
{
	(void)unused;
	pthread_mutex_lock(&keeper.mu);
	for (;;) {
		struct timespec dl;
		int rc;

		while (!keeper.pending)
			pthread_cond_wait(&keeper.cv, &keeper.mu);
		if (keeper.op == KEEP_LOCK) {
			nshm_deadline_in(&dl, KEEPER_LOCK_TIMEOUT_NS);
			rc = pthread_mutex_clocklock(keeper.req,
						     CLOCK_MONOTONIC, &dl);
			if (rc == EOWNERDEAD) /* a checker died in trylock */
				rc = pthread_mutex_consistent(keeper.req);
		} else {
			rc = pthread_mutex_unlock(keeper.req);
		}
		keeper.result = -rc;
		keeper.pending = false;
		keeper.done = true;
		pthread_cond_broadcast(&keeper.cv);
	}
	return NULL;
}

/* Called with keeper.call held. */
static int keeper_start(void)
{
	pthread_attr_t attr;
	sigset_t all, old;
	pthread_t th;
	int rc;

	if (keeper.pid == getpid())
		return 0;
	rc = pthread_attr_init(&attr);
	if (rc != 0)
		return -rc;
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	/* The keeper never runs the application's signal handlers. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&th, &attr, keeper_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (rc != 0)
		return nshm__err(-rc, "cannot start the liveness keeper "
				 "thread for System V participants");
	keeper.pid = getpid();
	return 0;
}

static int keeper_do(pthread_mutex_t *m, int op)
{
	int ret;

	pthread_mutex_lock(&keeper.call);
	ret = keeper_start();
	if (ret == 0) {
		pthread_mutex_lock(&keeper.mu);
		keeper.req = m;
		keeper.op = op;
		keeper.done = false;
		keeper.pending = true;
		pthread_cond_broadcast(&keeper.cv);
		while (!keeper.done)
			pthread_cond_wait(&keeper.cv, &keeper.mu);
		ret = keeper.result;
		pthread_mutex_unlock(&keeper.mu);
	}
	pthread_mutex_unlock(&keeper.call);
	return ret;
}

/* ---- fork handling ------------------------------------------------------- */

static void atfork_prepare(void)
{
	pthread_mutex_lock(&keeper.call);
	pthread_mutex_lock(&recs_lock);
}

static void atfork_parent(void)
{
	pthread_mutex_unlock(&recs_lock);
	pthread_mutex_unlock(&keeper.call);
}

static void atfork_child(void)
{
	/*
	 * The child inherits our mappings but is no participant: drop its
	 * copies of our token descriptors (closing a copy does not release
	 * the parent's OFD locks; it keeps a dead parent from looking alive
	 * while the child lives). Records stay, owned by the parent's pid,
	 * so a detach in the child leaves the shared table alone.
	 */
	for (struct peer_rec *r = recs; r != NULL; r = r->next) {
		if (r->fd >= 0)
			close(r->fd);
		r->fd = -1;
	}
	pthread_mutex_init(&keeper.mu, NULL);
	pthread_cond_init(&keeper.cv, NULL);
	keeper.pid = 0; /* threads do not survive fork */
	keeper.pending = false;
	pthread_mutex_unlock(&recs_lock);
	pthread_mutex_unlock(&keeper.call);
}

/* ---- tokens -------------------------------------------------------------- */

static int ofd_lock(int fd, uint32_t slot, short type)
{
	struct flock fl = {
		.l_type = type,
		.l_whence = SEEK_SET,
		.l_start = NSHM_OFD_BASE + slot,
		.l_len = 1,
	};

	return fcntl(fd, F_OFD_SETLK, &fl) == 0 ? 0 : -errno;
}

/* 1: somebody else's open file description holds the byte; 0: nobody. */
static int ofd_held(int fd, uint32_t slot)
{
	struct flock fl = {
		.l_type = F_WRLCK,
		.l_whence = SEEK_SET,
		.l_start = NSHM_OFD_BASE + slot,
		.l_len = 1,
	};

	if (fcntl(fd, F_OFD_GETLK, &fl) != 0)
		return -errno;
	return fl.l_type != F_UNLCK;
}

/* Does a record of this process own (slot, gen) of this segment? */
static bool is_ours(uint64_t nonce, uint32_t slot, uint32_t gen)
{
	bool found = false;
	pid_t me = getpid();

	pthread_mutex_lock(&recs_lock);
	for (struct peer_rec *r = recs; r != NULL && !found; r = r->next)
		found = r->owner == me && r->nonce == nonce &&
			r->slot == slot && r->gen == gen;
	pthread_mutex_unlock(&recs_lock);
	return found;
}

/* pid + start time, same pid namespace only: 1 alive, 0 dead, <0 unknown. */
static int pid_alive(const struct nshm__peer_slot *s)
{
	uint64_t ns = read_pidns("/proc/self/ns/pid"), ticks;
	int ret;

	if (ns == 0 || s->pidns != ns)
		return nshm__err(-EOPNOTSUPP, "peer pid %u lives in another "
				 "pid namespace: a read-only mapping cannot "
				 "check it", s->pid);
	ret = read_start_ticks((pid_t)s->pid, &ticks);
	if (ret == -ENOENT || ret == -ESRCH)
		return 0;
	if (ret < 0)
		return ret;
	return ticks == s->start_ticks;
}

/*
 * A file-lock token can outlive its process for a moment: a child forked
 * just before the participant died holds the lock's descriptor until its
 * atfork handler closes it. Where the pid is ours to check (same pid
 * namespace), a vanished, exited or recycled pid settles it. (join_locked
 * skips a slot whose token a straggler still holds, so reaping is safe.)
 */
static bool pid_gone(const struct nshm__peer_slot *s)
{
	uint64_t ticks;
	int rc;

	if (s->pidns == 0 || s->pidns != read_pidns("/proc/self/ns/pid"))
		return false;
	rc = read_start_ticks((pid_t)s->pid, &ticks);
	return rc == -ENOENT || rc == -ESRCH ||
	       (rc == 0 && ticks != s->start_ticks);
}

/*
 * Is the holder of slot @i alive, judged by its token?
 * @return 1, 0, or a negative errno. @r is the checker's own record.
 */
static int token_alive(struct peer_rec *r, uint32_t i, uint32_t kind)
{
	struct nshm__peer_slot *s = &r->ctl->slot[i];
	int rc;

	switch (kind) {
	case NSHM_TOKEN_OFD:
		if (r->fd < 0)
			return nshm__err(-NSHM_ECORRUPT, "slot %u: file-lock "
					 "token in a segment without a file",
					 i);
		rc = ofd_held(r->fd, i);
		return rc == 1 && pid_gone(s) ? 0 : rc;
	case NSHM_TOKEN_MUTEX:
		if (r->readonly)
			return pid_alive(s);
		rc = pthread_mutex_trylock(&s->live);
		if (rc == EBUSY)
			return 1;
		if (rc == EOWNERDEAD) {
			/* Clean it for the next joiner; its owner is gone. */
			pthread_mutex_consistent(&s->live);
			rc = 0;
		}
		if (rc == 0) {
			pthread_mutex_unlock(&s->live);
			return 0;
		}
		return nshm__err(-NSHM_ECORRUPT, "slot %u: liveness mutex "
				 "unusable (error %d)", i, rc);
	default:
		return nshm__err(-NSHM_ECORRUPT, "slot %u: unknown token kind "
				 "%u", i, kind);
	}
}

static int token_take(struct peer_rec *r, uint32_t i)
{
	if (r->kind == NSHM_TOKEN_OFD)
		return ofd_lock(r->fd, i, F_WRLCK);
	return keeper_do(&r->ctl->slot[i].live, KEEP_LOCK);
}

static void token_drop(struct peer_rec *r, uint32_t i)
{
	if (r->kind == NSHM_TOKEN_OFD) {
		if (r->fd >= 0) {
			/* A dup shares its description with siblings. */
			ofd_lock(r->fd, i, F_UNLCK);
			close(r->fd);
			r->fd = -1;
		}
	} else {
		keeper_do(&r->ctl->slot[i].live, KEEP_UNLOCK);
	}
}

/* ---- control block: init, lock, journal, repair ------------------------- */

static int ctl_init_fields(struct nshm__ctl *c)
{
	pthread_mutexattr_t attr;
	uint64_t nonce = 0;
	int rc;

	memset((unsigned char *)c + sizeof(c->magic), 0,
	       sizeof(*c) - sizeof(c->magic));
	c->version = NSHM_CTL_VERSION;
	c->nslots = NSHM_PEER_MAX;
	c->slot_size = sizeof(struct nshm__peer_slot);
	if (getrandom(&nonce, sizeof(nonce), GRND_NONBLOCK) !=
	    (ssize_t)sizeof(nonce))
		nonce = nshm__now_ns() ^ ((uint64_t)getpid() << 32);
	c->nonce = nonce | 1u;
	rc = nshm_mutex_init(&c->lock);
	if (rc != 0)
		return rc;
	rc = pthread_mutexattr_init(&attr);
	if (rc != 0)
		return -rc;
	pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
	for (uint32_t i = 0; i < NSHM_PEER_MAX && rc == 0; i++)
		rc = pthread_mutex_init(&c->slot[i].live, &attr);
	pthread_mutexattr_destroy(&attr);
	return -rc;
}

static int hook_init(struct nshm_seg_hdr *hdr)
{
	struct nshm__ctl *c = nshm__ctl_of(hdr);
	int ret = ctl_init_fields(c);

	if (ret != 0)
		return ret;
	/*
	 * Relaxed: the segment layer publishes the whole header with its
	 * release store of hdr->state (R0 in doc/memory-model.md).
	 */
	atomic_store_explicit(&c->magic, NSHM_CTL_MAGIC, memory_order_relaxed);
	return 0;
}

/*
 * Make sure the control block is initialised. A segment created by a
 * process without the sync hooks (a static link that never uses peers) has
 * a zero control block: the first attacher initialises it.
 */
static int ctl_ready(struct nshm__ctl *c)
{
	/* A4: pairs with R4 below (or the creator's publication, R0). */
	uint32_t m = atomic_load_explicit(&c->magic, memory_order_acquire);
	uint64_t t0;
	int ret;

	if (nshm_likely(m == NSHM_CTL_MAGIC))
		goto check;
	if (m == 0) {
		/* Relaxed on failure: we then wait with acquire (A4). */
		if (atomic_compare_exchange_strong_explicit(
			    &c->magic, &m, NSHM_CTL_INITING,
			    memory_order_relaxed, memory_order_relaxed)) {
			ret = ctl_init_fields(c);
			if (ret != 0) {
				/* Relaxed: nothing was published. */
				atomic_store_explicit(&c->magic, 0,
						      memory_order_relaxed);
				nshm__futex_wake_raw(&c->magic, INT32_MAX);
				return ret;
			}
			/* R4: pairs with A4: the fields above are complete. */
			atomic_store_explicit(&c->magic, NSHM_CTL_MAGIC,
					      memory_order_release);
			nshm__futex_wake_raw(&c->magic, INT32_MAX);
			goto check;
		}
	}
	t0 = nshm__now_ns();
	while (m == NSHM_CTL_INITING || m == 0) {
		struct timespec dl;

		if (nshm__now_ns() - t0 > 2000000000ull)
			return nshm__err(-ETIMEDOUT, "segment control block: "
					 "initialisation did not finish in 2 s");
		nshm__futex_wait_raw(&c->magic, m,
				     nshm_deadline_in(&dl, 10000000u));
		/* A4: as above. */
		m = atomic_load_explicit(&c->magic, memory_order_acquire);
		if (m == 0)
			return ctl_ready(c); /* the initialiser gave up */
	}
	if (m != NSHM_CTL_MAGIC)
		return nshm__err(-NSHM_ECORRUPT, "segment control block: bad "
				 "magic %#x", m);
check:
	if (c->version != NSHM_CTL_VERSION || c->nslots != NSHM_PEER_MAX ||
	    c->slot_size != sizeof(struct nshm__peer_slot))
		return nshm__err(-EPROTO, "segment control block: version %u, "
				 "%u slots of %u bytes; expected %u, %u of %zu",
				 c->version, c->nslots, c->slot_size,
				 NSHM_CTL_VERSION, NSHM_PEER_MAX,
				 sizeof(struct nshm__peer_slot));
	return 0;
}

static void rec_load(struct nshm__peer_rec *d,
		     const struct nshm__peer_slot *s)
{
	/* Relaxed: the control mutex orders every write to the slot. */
	d->state = atomic_load_explicit(&s->state, memory_order_relaxed);
	d->gen = atomic_load_explicit(&s->gen, memory_order_relaxed);
	d->pid = s->pid;
	d->kind = s->kind;
	d->start_ticks = s->start_ticks;
	d->pidns = s->pidns;
	d->attach_ns = s->attach_ns;
}

static void rec_store(struct nshm__peer_slot *s,
		      const struct nshm__peer_rec *d)
{
	s->pid = d->pid;
	s->kind = d->kind;
	s->start_ticks = d->start_ticks;
	s->pidns = d->pidns;
	s->attach_ns = d->attach_ns;
	/*
	 * R5: pairs with A5 in nshm_peer_alive(): a lock-free reader that
	 * sees this gen/state sees the fields above.
	 */
	atomic_store_explicit(&s->gen, d->gen, memory_order_release);
	atomic_store_explicit(&s->state, d->state, memory_order_release);
}

/* Start a journaled update of slot @i (ctl lock held). */
static void jr_begin(struct nshm__ctl *c, uint32_t op, uint32_t i)
{
	rec_load(&c->jr.before, &c->slot[i]);
	c->jr.op = op;
	c->jr.slot = i;
	/*
	 * R6: pairs with A6 in ctl_repair() (the next locker after our
	 * death): the undo record above is complete before ACTIVE.
	 */
	atomic_store_explicit(&c->jr.commit, NSHM_JR_ACTIVE,
			      memory_order_release);
}

static void jr_commit(struct nshm__ctl *c)
{
	c->jr.seq++;
	/* R6: as in jr_begin(): the slot update is complete before IDLE. */
	atomic_store_explicit(&c->jr.commit, NSHM_JR_IDLE,
			      memory_order_release);
}

/*
 * The previous holder of the control mutex died. Roll back an update it
 * left half done; free entries whose state is not a valid value.
 * @return 0, or -NSHM_ECORRUPT when the journal itself is unusable.
 */
static int ctl_repair(struct nshm__ctl *c)
{
	/* A6: pairs with R6 in jr_begin()/jr_commit(). */
	uint32_t jc = atomic_load_explicit(&c->jr.commit, memory_order_acquire);

	if (jc == NSHM_JR_ACTIVE) {
		uint32_t i = c->jr.slot;

		if (i >= NSHM_PEER_MAX)
			return nshm__err(-NSHM_ECORRUPT, "control journal "
					 "names slot %u (max %u)", i,
					 NSHM_PEER_MAX);
		rec_store(&c->slot[i], &c->jr.before);
		c->rollbacks++;
	} else if (jc != NSHM_JR_IDLE) {
		return nshm__err(-NSHM_ECORRUPT, "control journal commit "
				 "word is %#x", jc);
	}
	for (uint32_t i = 0; i < NSHM_PEER_MAX; i++) {
		/* Relaxed: we hold the control mutex. */
		uint32_t st = atomic_load_explicit(&c->slot[i].state,
						   memory_order_relaxed);

		if (st != NSHM_SLOT_FREE && st != NSHM_SLOT_LIVE)
			atomic_store_explicit(&c->slot[i].state,
					      NSHM_SLOT_FREE,
					      memory_order_relaxed);
	}
	/* Relaxed: ordered by the control mutex, like every slot write. */
	atomic_store_explicit(&c->jr.commit, NSHM_JR_IDLE,
			      memory_order_relaxed);
	c->repairs++;
	return 0;
}

static int ctl_lock(struct nshm__ctl *c)
{
	struct timespec dl;
	int ret;

	/* Relaxed: a hint; the mutex itself reports ENOTRECOVERABLE. */
	if (atomic_load_explicit(&c->poisoned, memory_order_relaxed))
		return nshm__err(-ENOTRECOVERABLE, "segment control block is "
				 "poisoned: delete and recreate the segment");
	ret = nshm_mutex_lock(&c->lock,
			      nshm_deadline_in(&dl, CTL_LOCK_TIMEOUT_NS));
	if (nshm_likely(ret == 0))
		return 0;
	if (ret == -ETIMEDOUT)
		return nshm__err(ret, "segment control mutex busy for 5 s "
				 "(a holder stopped or stuck?)");
	if (ret != -EOWNERDEAD)
		return ret;
	ret = ctl_repair(c);
	if (ret == 0)
		ret = nshm_mutex_consistent(&c->lock);
	if (ret != 0) {
		/* Unrepairable: poison, and leave the mutex unrecoverable. */
		atomic_store_explicit(&c->poisoned, 1, memory_order_relaxed);
		nshm_mutex_unlock(&c->lock);
		return nshm__err(-ENOTRECOVERABLE, "segment control block "
				 "could not be repaired after its holder died");
	}
	return 0;
}

static void ctl_unlock(struct nshm__ctl *c)
{
	nshm_mutex_unlock(&c->lock);
}

/* Free slot @i (ctl lock held). */
static void slot_free_locked(struct nshm__ctl *c, uint32_t i, uint32_t op)
{
	struct nshm__peer_rec d;

	jr_begin(c, op, i);
	rec_load(&d, &c->slot[i]);
	d.state = NSHM_SLOT_FREE;
	d.pid = 0;
	d.start_ticks = 0;
	d.pidns = 0;
	d.attach_ns = 0;
	rec_store(&c->slot[i], &d);
	jr_commit(c);
}

/* Reclaim dead participants' slots (ctl lock held). @return how many. */
static int reap_locked(struct peer_rec *r)
{
	struct nshm__ctl *c = r->ctl;
	int n = 0;

	for (uint32_t i = 0; i < NSHM_PEER_MAX; i++) {
		struct nshm__peer_slot *s = &c->slot[i];
		/* Relaxed: we hold the control mutex. */
		uint32_t st = atomic_load_explicit(&s->state,
						   memory_order_relaxed);
		uint32_t gen = atomic_load_explicit(&s->gen,
						    memory_order_relaxed);
		uint32_t kind = s->kind;
		int alive;

		if (st == NSHM_SLOT_FREE)
			continue;
		if (st == NSHM_SLOT_LIVE && is_ours(c->nonce, i, gen))
			continue;
		/*
		 * A corrupt entry (bad state or kind) is freed only if nobody
		 * holds its token, judged by our own kind of token.
		 */
		if (st != NSHM_SLOT_LIVE || (kind != NSHM_TOKEN_OFD &&
					     kind != NSHM_TOKEN_MUTEX))
			kind = r->kind;
		alive = token_alive(r, i, kind);
		if (alive != 0)
			continue; /* alive, or unknown: never reap on doubt */
		slot_free_locked(c, i, NSHM_JR_REAP);
		c->reaped++;
		n++;
	}
	return n;
}

static int join_locked(struct peer_rec *r, const struct self_id *me)
{
	struct nshm__ctl *c = r->ctl;
	struct timespec now;

	for (uint32_t i = 0; i < NSHM_PEER_MAX; i++) {
		struct nshm__peer_rec d;

		/* Relaxed: we hold the control mutex. */
		if (atomic_load_explicit(&c->slot[i].state,
					 memory_order_relaxed) !=
		    NSHM_SLOT_FREE)
			continue;
		/* Token first: a death before the journal changes nothing. */
		if (token_take(r, i) != 0)
			continue; /* still held by a straggler: skip */
		jr_begin(c, NSHM_JR_JOIN, i);
		rec_load(&d, &c->slot[i]);
		clock_gettime(CLOCK_REALTIME, &now);
		d.state = NSHM_SLOT_LIVE;
		d.gen = d.gen + 1 == 0 ? 1 : d.gen + 1;
		d.pid = (uint32_t)me->pid;
		d.kind = r->kind;
		d.start_ticks = me->start_ticks;
		d.pidns = me->pidns;
		d.attach_ns = (uint64_t)now.tv_sec * 1000000000u +
			      (uint64_t)now.tv_nsec;
		rec_store(&c->slot[i], &d);
		jr_commit(c);
		r->slot = i;
		r->gen = d.gen;
		return 0;
	}
	return -EUSERS;
}

/* ---- records ------------------------------------------------------------- */

static struct peer_rec *rec_of_cookie(uint64_t cookie)
{
	struct peer_rec *r = (struct peer_rec *)(uintptr_t)cookie;

	return (r != NULL && r->magic == REC_MAGIC) ? r : NULL;
}

static void rec_link(struct peer_rec *r)
{
	pthread_mutex_lock(&recs_lock);
	r->next = recs;
	recs = r;
	pthread_mutex_unlock(&recs_lock);
}

static void rec_unlink_free(struct peer_rec *r)
{
	pthread_mutex_lock(&recs_lock);
	for (struct peer_rec **pp = &recs; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	}
	pthread_mutex_unlock(&recs_lock);
	r->magic = 0;
	free(r);
}

/* A descriptor with an open file description of our own (see top). */
static int private_fd(int fd, bool readonly)
{
	char path[64];
	int flags, nfd;

	flags = fcntl(fd, F_GETFL);
	if (flags < 0)
		return -errno;
	if ((flags & O_ACCMODE) == O_RDONLY)
		readonly = true;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	nfd = open(path, (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (nfd >= 0)
		return nfd;
	/* No /proc (or a mode we may not reopen with): share the handle's. */
	nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	return nfd >= 0 ? nfd : -errno;
}

static int hook_attached(struct nshm_seg_hdr *hdr, int fd, bool readonly,
			 uint64_t *cookie)
{
	struct nshm__ctl *c = nshm__ctl_of(hdr);
	struct peer_rec *r;
	struct self_id me;
	int ret;

	if (readonly) {
		/* A4: pairs with R4 in ctl_ready() (or R0 at creation). */
		if (atomic_load_explicit(&c->magic, memory_order_acquire) !=
		    NSHM_CTL_MAGIC)
			goto observer_ok; /* nothing to read yet */
	} else {
		ret = ctl_ready(c);
		if (ret != 0)
			return ret;
	}
observer_ok:
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return -ENOMEM;
	r->magic = REC_MAGIC;
	r->slot = NO_SLOT;
	r->hdr = hdr;
	r->ctl = c;
	r->map_size = hdr->map_size > NSHM_SEG_HDR_SIZE ? hdr->map_size
							: NSHM_SEG_HDR_SIZE;
	r->nonce = c->nonce;
	r->owner = getpid();
	r->readonly = readonly;
	r->fd = -1;
	r->kind = fd >= 0 ? NSHM_TOKEN_OFD : NSHM_TOKEN_MUTEX;
	if (fd >= 0) {
		ret = private_fd(fd, readonly);
		if (ret < 0) {
			ret = nshm__err(ret, "cannot get a private descriptor "
					"for the liveness lock");
			goto err_free;
		}
		r->fd = ret;
	}
	if (!readonly) {
		self_identity(&me);
		ret = ctl_lock(c);
		if (ret != 0)
			goto err_close;
		ret = join_locked(r, &me);
		if (ret == -EUSERS && reap_locked(r) > 0)
			ret = join_locked(r, &me);
		ctl_unlock(c);
		if (ret != 0) {
			ret = nshm__err(ret, "the segment's participant table "
					"is full (%u live mappings); detach "
					"some", NSHM_PEER_MAX);
			goto err_close;
		}
	}
	rec_link(r);
	*cookie = (uint64_t)(uintptr_t)r;
	return 0;

err_close:
	if (r->fd >= 0)
		close(r->fd);
err_free:
	r->magic = 0;
	free(r);
	return ret;
}

static int hook_detaching(struct nshm_seg_hdr *hdr, uint64_t cookie)
{
	struct peer_rec *r = rec_of_cookie(cookie);
	struct nshm__ctl *c;

	if (nshm__mutex_held_in(hdr, (unsigned char *)hdr +
					     (r ? r->map_size
						: NSHM_SEG_HDR_SIZE)))
		return nshm__err(-EBUSY, "this process holds a mutex inside "
				 "the mapping at %p: unlock it before "
				 "detaching", (void *)hdr);
	if (r == NULL)
		return 0;
	c = r->ctl;
	if (r->slot != NO_SLOT && r->owner == getpid()) {
		if (ctl_lock(c) == 0) {
			uint32_t i = r->slot;
			/* Relaxed: we hold the control mutex. */
			uint32_t st = atomic_load_explicit(
				&c->slot[i].state, memory_order_relaxed);
			uint32_t gen = atomic_load_explicit(
				&c->slot[i].gen, memory_order_relaxed);

			if (st == NSHM_SLOT_LIVE && gen == r->gen)
				slot_free_locked(c, i, NSHM_JR_LEAVE);
			token_drop(r, i);
			ctl_unlock(c);
		} else {
			/* Poisoned or stuck: drop the token, reap frees it. */
			token_drop(r, r->slot);
		}
	}
	if (r->fd >= 0)
		close(r->fd);
	rec_unlink_free(r);
	return 0;
}

static const struct nshm__seg_hooks sync_hooks = {
	.init = hook_init,
	.attached = hook_attached,
	.detaching = hook_detaching,
};

__attribute__((constructor)) static void sync_peer_ctor(void)
{
	pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
	nshm__seg_set_hooks(&sync_hooks);
}

/* ---- public API ---------------------------------------------------------- */

static int rec_of_area(void *area, struct peer_rec **out)
{
	uint64_t cookie;
	bool ro;
	struct peer_rec *r;

	if (area == NULL || nshm__seg_mapping(area, &cookie, &ro) != 0)
		return nshm__err(-EINVAL, "%p is not an address "
				 "nshm_seg_attach() returned", area);
	r = rec_of_cookie(cookie);
	if (r == NULL)
		return nshm__err(-EINVAL, "%p: mapping made without the sync "
				 "layer's hooks", area);
	*out = r;
	return 0;
}

int nshm_peer_self(void *area, nshm_peer_t *id)
{
	struct peer_rec *r;
	int ret;

	nshm__err_clear();
	if (id == NULL)
		return nshm__err(-EINVAL, "id is NULL");
	ret = rec_of_area(area, &r);
	if (ret != 0)
		return ret;
	if (r->slot == NO_SLOT || r->owner != getpid())
		return nshm__err(-EROFS, "a read-only (or inherited) mapping "
				 "is not a participant");
	*id = (uint64_t)r->gen << 32 | r->slot;
	return 0;
}

/* Liveness of (slot, gen) without the control mutex. */
static int alive_nolock(struct peer_rec *r, uint32_t i, uint32_t gen)
{
	struct nshm__peer_slot *s = &r->ctl->slot[i];
	uint32_t st, g, kind;
	int ret;

	/* A5: pairs with R5 in rec_store(). */
	g = atomic_load_explicit(&s->gen, memory_order_acquire);
	st = atomic_load_explicit(&s->state, memory_order_acquire);
	if (st != NSHM_SLOT_FREE && st != NSHM_SLOT_LIVE)
		return nshm__err(-NSHM_ECORRUPT, "participant slot %u: state "
				 "%#x", i, st);
	if (st != NSHM_SLOT_LIVE || g != gen)
		return 0; /* detached, reaped, or reused by a newer peer */
	if (is_ours(r->nonce, i, gen))
		return 1;
	kind = s->kind;
	ret = token_alive(r, i, kind);
	if (ret <= 0)
		return ret; /* dead (0) or could not tell (-errno) */
	/* Still the same participant? Else it left while we looked. */
	/* A5: as above. */
	if (atomic_load_explicit(&s->state, memory_order_acquire) !=
		    NSHM_SLOT_LIVE ||
	    atomic_load_explicit(&s->gen, memory_order_acquire) != gen)
		return 0;
	return 1;
}

int nshm_peer_alive(void *area, nshm_peer_t id)
{
	struct peer_rec *r;
	uint32_t i = (uint32_t)id, gen = (uint32_t)(id >> 32);
	int ret;

	nshm__err_clear();
	ret = rec_of_area(area, &r);
	if (ret != 0)
		return ret;
	if (i >= NSHM_PEER_MAX || gen == 0)
		return nshm__err(-EINVAL, "peer id %#" PRIx64 ": slot %u or "
				 "generation 0 out of range", id, i);
	if (atomic_load_explicit(&r->ctl->magic, memory_order_acquire) !=
	    NSHM_CTL_MAGIC) /* A4 */
		return 0;
	return alive_nolock(r, i, gen);
}

int nshm_peer_reap(void *area)
{
	struct peer_rec *r;
	int ret;

	nshm__err_clear();
	ret = rec_of_area(area, &r);
	if (ret != 0)
		return ret;
	if (r->readonly)
		return nshm__err(-EROFS, "reaping needs a read-write mapping");
	ret = ctl_lock(r->ctl);
	if (ret != 0)
		return ret;
	ret = reap_locked(r);
	ctl_unlock(r->ctl);
	return ret;
}

int nshm_peer_list(void *area, struct nshm_peer_info *out, unsigned int max)
{
	struct peer_rec *r;
	unsigned int n = 0;
	int ret;

	nshm__err_clear();
	if (out == NULL && max != 0)
		return nshm__err(-EINVAL, "out is NULL");
	ret = rec_of_area(area, &r);
	if (ret != 0)
		return ret;
	/* A4: as in ctl_ready(). */
	if (atomic_load_explicit(&r->ctl->magic, memory_order_acquire) !=
	    NSHM_CTL_MAGIC)
		return 0;
	for (uint32_t i = 0; i < NSHM_PEER_MAX; i++) {
		struct nshm__peer_slot *s = &r->ctl->slot[i];
		/* A5: pairs with R5 in rec_store(). */
		uint32_t g = atomic_load_explicit(&s->gen,
						  memory_order_acquire);
		uint32_t st = atomic_load_explicit(&s->state,
						   memory_order_acquire);

		if (st != NSHM_SLOT_LIVE)
			continue;
		if (n < max) {
			struct nshm_peer_info *p = &out[n];

			memset(p, 0, sizeof(*p));
			p->id = (uint64_t)g << 32 | i;
			p->pid = (int32_t)s->pid;
			p->start_ticks = s->start_ticks;
			p->attach_ns = s->attach_ns;
			p->self = r->slot == i && r->gen == g &&
				  r->owner == getpid();
			p->alive = alive_nolock(r, i, g);
		}
		n++;
	}
	return (int)n;
}
