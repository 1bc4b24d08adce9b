/* SPDX-License-Identifier: MIT */
/*
 * Peer liveness: the participant table in every segment's control block,
 * the segment-layer hooks that fill it, the kernel-held control lock, and
 * crash repair. Also the owner ids of struct nshm_mutex (src/sync/mutex.c).
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
 *    and replaced by a fresh description in forked children, so neither an
 *    exec'd image nor a child keeps a dead parent "alive". OFD locks belong
 *    to the description, not to a thread or a pid: the thread that attached
 *    may exit, pids may be reused, checkers may sit in another pid
 *    namespace; none of that matters. A checker asks with F_OFD_GETLK on
 *    its own description (which never conflicts with itself: a mapping's
 *    own slot is recognised from process-local data, never probed).
 *
 *  - System V segments (no file; the hook gets the shmid): semaphore #slot
 *    of a set with the segment's key, raised to 1 with SEM_UNDO. The kernel
 *    undoes it when the process exits; fork() does not inherit it; every
 *    thread shares it. Taking it is "wait for zero, then +1" in one atomic
 *    semop, so the kernel arbitrates between joiners; a checker reads it
 *    with GETVAL. The set is created (IPC_CREAT, the segment's mode) by the
 *    first attacher and removed by nshm_seg_delete() (the sysv_removed
 *    hook). Its initial value is 0 = free, so there is no init race.
 *
 * The control lock (writers of the table and journal) is kernel-held too:
 * the OFD byte NSHM_OFD_CTL, or semaphore NSHM_SEM_CTL. Nothing in shared
 * memory can forge, steal or wedge it; a holder that dies releases it, and
 * the next holder repairs what the journal says was half done. The lazy
 * initialisation of a zero control block happens under it as well, so an
 * initialiser that dies mid-way leaves INITING and a free lock: the next
 * attacher simply starts over (issue 9, item 5).
 *
 * pid, /proc/<pid>/stat start time and the pid-namespace inode are recorded
 * for diagnostics (nshm_peer_list) and for one tie-breaker (nshm__peer_pid_gone());
 * kill(pid, 0) is never used: pid reuse and namespaces defeat it.
 *
 * The process-local side is a record per mapping (the hook "cookie"), plus
 * a table of (address range -> owner id) that nshm_mutex_lock() searches on
 * its fast path. That table lives in memory a forked child sees zeroed
 * (MADV_WIPEONFORK): a child never locks with its parent's id; its first
 * lock in an inherited mapping joins the table as a participant of its own
 * ("lazy" record, left when the child detaches that mapping or exits).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "shm/seg_layout.h"
#include "sync/ctl.h"
#include "sync/peer_int.h"
#include "sync/sync_internal.h"

#define REC_MAGIC 0x50454552u /* "PEER" */
#define MAPS_MAX 256u

void (*nshm__sync_test_ctl_init)(void);


static pthread_mutex_t recs_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t lazy_lock = PTHREAD_MUTEX_INITIALIZER;
static struct peer_rec *recs;

/*
 * Address range -> lock owner id, for nshm__peer_lock_id(). Written under
 * recs_lock, read without it. Zeroed in a forked child (MADV_WIPEONFORK,
 * and the atfork child handler where that is missing).
 */
struct map_ent {
	_Atomic(uintptr_t) lo; /* 0: free */
	_Atomic(uintptr_t) hi;
	_Atomic(uint32_t) id;
	uint32_t pad;
};

struct proc_maps {
	_Atomic(uint32_t) n; /* entries ever used (a scan bound) */
	struct map_ent e[MAPS_MAX];
};

static struct proc_maps *maps;
static struct proc_maps maps_fallback;
static pthread_once_t maps_once = PTHREAD_ONCE_INIT;

static void maps_init(void)
{
	void *p = mmap(NULL, sizeof(struct proc_maps), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p != MAP_FAILED) {
		madvise(p, sizeof(struct proc_maps), MADV_WIPEONFORK);
		maps = p;
	} else {
		maps = &maps_fallback;
	}
}

static struct proc_maps *maps_get(void)
{
	pthread_once(&maps_once, maps_init);
	return maps;
}

/* Called with recs_lock held. */
static void maps_add(uintptr_t lo, uintptr_t hi, uint32_t id)
{
	struct proc_maps *pm = maps_get();
	/* Relaxed: writers hold recs_lock. */
	uint32_t n = atomic_load_explicit(&pm->n, memory_order_relaxed);

	for (uint32_t k = 0; k < MAPS_MAX; k++) {
		struct map_ent *e = &pm->e[k];

		/* Relaxed: writers hold recs_lock. */
		if (atomic_load_explicit(&e->lo, memory_order_relaxed) != 0)
			continue;
		atomic_store_explicit(&e->hi, hi, memory_order_relaxed);
		atomic_store_explicit(&e->id, id, memory_order_relaxed);
		/*
		 * SYNC-R12: pairs with SYNC-A12 in nshm__peer_lock_id(): a
		 * reader that sees lo sees hi and id. (Process-local.)
		 */
		atomic_store_explicit(&e->lo, lo, memory_order_release);
		if (k + 1 > n)
			/* SYNC-R12 as above: the entry is complete first. */
			atomic_store_explicit(&pm->n, k + 1,
					      memory_order_release);
		return;
	}
	/* Full: lookups fall back to the record list (slow, still right). */
}

/* Called with recs_lock held. */
static void maps_del(uintptr_t lo)
{
	struct proc_maps *pm = maps_get();

	for (uint32_t k = 0; k < MAPS_MAX; k++)
		/* Relaxed: writers hold recs_lock. */
		if (atomic_load_explicit(&pm->e[k].lo, memory_order_relaxed) ==
		    lo) {
			/*
			 * Relaxed: a lookup racing a detach of the mapping it
			 * looks up is the caller's bug (it locks memory being
			 * unmapped); it finds the entry or not, both safe.
			 */
			atomic_store_explicit(&pm->e[k].lo, 0,
					      memory_order_relaxed);
			return;
		}
}

static uint32_t rec_id(const struct peer_rec *r)
{
	return r->slot << NSHM__ID_SLOT_SHIFT | (r->gen & NSHM__ID_GEN_MASK);
}

/* ---- fork handling ------------------------------------------------------- */

static void atfork_prepare(void)
{
	pthread_mutex_lock(&lazy_lock);
	pthread_mutex_lock(&recs_lock);
}

static void atfork_parent(void)
{
	pthread_mutex_unlock(&recs_lock);
	pthread_mutex_unlock(&lazy_lock);
}

static void atfork_child(void)
{
	/*
	 * The child inherits our mappings but is no participant of them.
	 * Records stay, owned by the parent's pid, so a detach in the child
	 * leaves the parent's slots alone.
	 */
	for (struct peer_rec *r = recs; r != NULL; r = r->next)
		nshm__peer_rec_own_fd(r);
	if (maps != NULL && maps == &maps_fallback)
		memset(maps, 0, sizeof(*maps));
	pthread_mutex_unlock(&recs_lock);
	pthread_mutex_unlock(&lazy_lock);
}

/* ---- control block: init, journal, repair -------------------------------- */

static void ctl_init_fields(struct nshm__ctl *c, uint32_t kind)
{
	uint64_t nonce = 0;
	uint32_t inits = c->inits;

	memset((unsigned char *)c + sizeof(c->magic), 0,
	       sizeof(*c) - sizeof(c->magic));
	c->version = NSHM_CTL_VERSION;
	c->nslots = NSHM_PEER_MAX;
	c->slot_size = sizeof(struct nshm__peer_slot);
	c->kind = kind;
	c->inits = inits;
	if (getrandom(&nonce, sizeof(nonce), GRND_NONBLOCK) !=
	    (ssize_t)sizeof(nonce))
		nonce = nshm__now_ns() ^ ((uint64_t)getpid() << 32);
	c->nonce = nonce | 1u;
}

static int hook_init(struct nshm_seg_hdr *hdr)
{
	struct nshm__ctl *c = nshm__ctl_of(hdr);

	ctl_init_fields(c, hdr->backend == NSHM_BACKEND_SYSV ? NSHM_TOKEN_SEM
							      : NSHM_TOKEN_OFD);
	/*
	 * Relaxed: nobody can see the segment yet; the segment layer
	 * publishes the whole header page with its release store of
	 * hdr->state (hdr_publish() in src/shm/seg.c).
	 */
	atomic_store_explicit(&c->magic, NSHM_CTL_MAGIC, memory_order_relaxed);
	return 0;
}

static int ctl_check(struct nshm__ctl *c)
{
	if (c->version != NSHM_CTL_VERSION || c->nslots != NSHM_PEER_MAX ||
	    c->slot_size != sizeof(struct nshm__peer_slot))
		return nshm__err(-EPROTO, "segment control block: version %u, "
				 "%u slots of %u bytes; expected %u, %u of %zu",
				 c->version, c->nslots, c->slot_size,
				 NSHM_CTL_VERSION, NSHM_PEER_MAX,
				 sizeof(struct nshm__peer_slot));
	return 0;
}

/*
 * Make sure the control block is initialised. A segment created by a
 * process without the sync hooks (a static link that never uses peers) has
 * a zero control block: the first read-write attacher initialises it,
 * under the control lock. INITING under a lock we now hold means that the
 * initialiser died: start over.
 */
static int ctl_ready(struct peer_rec *r)
{
	struct nshm__ctl *c = r->ctl;
	/* SYNC-A13: pairs with SYNC-R13 below (or the creator's publication). */
	uint32_t m = atomic_load_explicit(&c->magic, memory_order_acquire);
	void (*hook)(void);
	int ret;

	if (nshm_likely(m == NSHM_CTL_MAGIC))
		return ctl_check(c);
	if (m != 0 && m != NSHM_CTL_INITING)
		return nshm__err(-NSHM_ECORRUPT, "segment control block: bad "
				 "magic %#x", m);
	ret = nshm__peer_ctl_lock_raw(r, CTL_LOCK_TIMEOUT_NS);
	if (ret != 0)
		return ret;
	/*
	 * Relaxed: the control lock orders us after its previous holder
	 * (the kernel's lock is a full barrier on both sides).
	 */
	m = atomic_load_explicit(&c->magic, memory_order_relaxed);
	if (m == 0 || m == NSHM_CTL_INITING) {
		/* Relaxed: a marker for tools; the lock excludes others. */
		atomic_store_explicit(&c->magic, NSHM_CTL_INITING,
				      memory_order_relaxed);
		hook = nshm__sync_test_ctl_init;
		if (hook != NULL)
			hook();
		ctl_init_fields(c, r->kind);
		c->inits++;
		/*
		 * SYNC-R13: pairs with SYNC-A13: lock-free readers that see
		 * MAGIC see the fields above.
		 */
		atomic_store_explicit(&c->magic, NSHM_CTL_MAGIC,
				      memory_order_release);
		m = NSHM_CTL_MAGIC;
	}
	nshm__peer_ctl_unlock(r);
	if (m != NSHM_CTL_MAGIC)
		return nshm__err(-NSHM_ECORRUPT, "segment control block: bad "
				 "magic %#x", m);
	return ctl_check(c);
}

static void rec_load(struct nshm__peer_rec *d,
		     const struct nshm__peer_slot *s)
{
	/* Relaxed: the control lock orders every write to the slot. */
	d->state = atomic_load_explicit(&s->state, memory_order_relaxed);
	d->gen = atomic_load_explicit(&s->gen, memory_order_relaxed);
	d->pid = s->pid;
	d->pidns = s->pidns;
	d->start = s->start;
}

static void rec_store(struct nshm__peer_slot *s,
		      const struct nshm__peer_rec *d)
{
	s->pid = d->pid;
	s->pidns = d->pidns;
	s->start = d->start;
	/*
	 * SYNC-R14: pairs with SYNC-A14 in alive_core(): a lock-free reader
	 * that sees this gen/state sees the fields above.
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
	 * Relaxed: the only reader is the next holder of the control lock
	 * (ctl_repair()), and a holder that dies mid-update is ordered
	 * before it by the kernel releasing its lock at exit (exit_mm runs
	 * before exit_files / exit_sem), not by any store of ours. A holder
	 * that lives orders it with the release inside the unlock syscall.
	 */
	atomic_store_explicit(&c->jr.commit, NSHM_JR_ACTIVE,
			      memory_order_relaxed);
}

static void jr_commit(struct nshm__ctl *c)
{
	c->jr.seq++;
	/* Relaxed: as in jr_begin(). */
	atomic_store_explicit(&c->jr.commit, NSHM_JR_IDLE,
			      memory_order_relaxed);
}

/*
 * Run by every holder of the control lock: roll back an update that a dead
 * holder left half done, and sanitise what a scribbler may have written.
 * Never fails: a journal that is itself garbage is reset (the table is
 * then checked slot by slot by the reaper, which trusts only tokens).
 */
static void ctl_repair(struct nshm__ctl *c)
{
	/* Relaxed: the control lock orders it (see jr_begin()). */
	uint32_t jc = atomic_load_explicit(&c->jr.commit, memory_order_relaxed);

	if (nshm_likely(jc == NSHM_JR_IDLE))
		return;
	if (jc == NSHM_JR_ACTIVE && c->jr.slot < NSHM_PEER_MAX) {
		rec_store(&c->slot[c->jr.slot], &c->jr.before);
		c->rollbacks++;
	}
	for (uint32_t i = 0; i < NSHM_PEER_MAX; i++) {
		/* Relaxed: we hold the control lock. */
		uint32_t st = atomic_load_explicit(&c->slot[i].state,
						   memory_order_relaxed);

		if (st != NSHM_SLOT_FREE && st != NSHM_SLOT_LIVE)
			atomic_store_explicit(&c->slot[i].state,
					      NSHM_SLOT_FREE,
					      memory_order_relaxed);
	}
	/* Relaxed: as in jr_begin(). */
	atomic_store_explicit(&c->jr.commit, NSHM_JR_IDLE,
			      memory_order_relaxed);
	c->repairs++;
}

static int ctl_lock(struct peer_rec *r)
{
	int ret = nshm__peer_ctl_lock_raw(r, CTL_LOCK_TIMEOUT_NS);

	if (ret != 0)
		return ret;
	ctl_repair(r->ctl);
	return 0;
}

/* Free slot @i (ctl lock held). */
static void slot_free_locked(struct nshm__ctl *c, uint32_t i, uint32_t op)
{
	struct nshm__peer_rec d;

	jr_begin(c, op, i);
	rec_load(&d, &c->slot[i]);
	d.state = NSHM_SLOT_FREE;
	d.pid = 0;
	d.pidns = 0;
	d.start = 0;
	rec_store(&c->slot[i], &d);
	jr_commit(c);
}

/* Is slot @i with generation @gen the checker @r itself? */
static bool is_self(const struct peer_rec *r, uint32_t i, uint32_t gen)
{
	return r->slot == i && r->gen == gen && r->owner == getpid();
}

/* Reclaim dead participants' slots (ctl lock held). @return how many. */
static int reap_locked(struct peer_rec *r)
{
	struct nshm__ctl *c = r->ctl;
	int n = 0;

	for (uint32_t i = 0; i < NSHM_PEER_MAX; i++) {
		/* Relaxed: we hold the control lock. */
		uint32_t st = atomic_load_explicit(&c->slot[i].state,
						   memory_order_relaxed);
		uint32_t gen = atomic_load_explicit(&c->slot[i].gen,
						    memory_order_relaxed);

		if (st == NSHM_SLOT_FREE || is_self(r, i, gen))
			continue;
		/* A corrupt entry is freed only if nobody holds its token. */
		if (nshm__peer_token_alive(r, i) != 0)
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

	for (uint32_t i = 0; i < NSHM_PEER_MAX; i++) {
		struct nshm__peer_rec d;

		/* Relaxed: we hold the control lock. */
		if (atomic_load_explicit(&c->slot[i].state,
					 memory_order_relaxed) !=
		    NSHM_SLOT_FREE)
			continue;
		/* Token first: a death before the journal changes nothing. */
		if (nshm__peer_token_take(r, i) != 0)
			continue; /* still held by a straggler: skip */
		jr_begin(c, NSHM_JR_JOIN, i);
		rec_load(&d, &c->slot[i]);
		d.state = NSHM_SLOT_LIVE;
		do
			d.gen++;
		while (d.gen == 0 || (d.gen & NSHM__ID_GEN_MASK) == 0);
		d.pid = (uint32_t)me->pid;
		d.pidns = (uint32_t)me->pidns;
		d.start = (uint32_t)me->start_ticks;
		rec_store(&c->slot[i], &d);
		jr_commit(c);
		r->slot = i;
		r->gen = d.gen;
		return 0;
	}
	return -EUSERS;
}

/* Join the table as a new participant (takes the control lock). */
static int rec_join(struct peer_rec *r)
{
	struct self_id me;
	int ret;

	nshm__peer_self_identity(&me);
	ret = ctl_lock(r);
	if (ret != 0)
		return ret;
	ret = join_locked(r, &me);
	if (ret == -EUSERS && reap_locked(r) > 0)
		ret = join_locked(r, &me);
	nshm__peer_ctl_unlock(r);
	if (ret != 0)
		return nshm__err(ret, "the segment's participant table is "
				 "full (%u live mappings); detach some",
				 NSHM_PEER_MAX);
	return 0;
}

/* Leave the table (our slot and token), taking the control lock. */
static void rec_leave(struct peer_rec *r)
{
	struct nshm__ctl *c = r->ctl;
	uint32_t i = r->slot;

	if (i == NO_SLOT)
		return;
	if (ctl_lock(r) == 0) {
		/* Relaxed: we hold the control lock. */
		uint32_t st = atomic_load_explicit(&c->slot[i].state,
						   memory_order_relaxed);
		uint32_t gen = atomic_load_explicit(&c->slot[i].gen,
						    memory_order_relaxed);

		if (st == NSHM_SLOT_LIVE && gen == r->gen)
			slot_free_locked(c, i, NSHM_JR_LEAVE);
		nshm__peer_token_drop(r, i);
		nshm__peer_ctl_unlock(r);
	} else {
		/* Stuck holder: drop the token, a reaper frees the slot. */
		nshm__peer_token_drop(r, i);
	}
	r->slot = NO_SLOT;
}

/* ---- records ------------------------------------------------------------- */

static struct peer_rec *rec_of_cookie(uint64_t cookie)
{
	struct peer_rec *r = (struct peer_rec *)(uintptr_t)cookie;

	return (r != NULL && r->magic == REC_MAGIC) ? r : NULL;
}

/* Called with recs_lock held. */
static void rec_link_locked(struct peer_rec *r)
{
	r->next = recs;
	recs = r;
	if (!r->readonly && r->slot != NO_SLOT)
		maps_add((uintptr_t)r->hdr, (uintptr_t)r->hdr + r->map_size,
			 rec_id(r));
}

/* Called with recs_lock held. */
static void rec_unlink_locked(struct peer_rec *r)
{
	for (struct peer_rec **pp = &recs; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	}
	if (!r->readonly && r->owner == getpid())
		maps_del((uintptr_t)r->hdr);
}

static void rec_free(struct peer_rec *r)
{
	if (r->fd >= 0)
		close(r->fd); /* also drops any OFD lock left on it */
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

static struct peer_rec *rec_new(struct nshm_seg_hdr *hdr, size_t map_size,
				uint32_t kind, bool readonly)
{
	struct peer_rec *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	r->magic = REC_MAGIC;
	r->slot = NO_SLOT;
	r->hdr = hdr;
	r->ctl = nshm__ctl_of(hdr);
	r->map_size = map_size;
	r->kind = kind;
	r->owner = getpid();
	r->fd_pid = r->owner;
	r->readonly = readonly;
	r->fd = -1;
	r->semid = -1;
	r->shmid = -1;
	return r;
}

static int hook_attached(struct nshm_seg_hdr *hdr, size_t len, int fd,
			 int shmid, bool readonly, uint64_t *cookie)
{
	struct peer_rec *r = NULL;
	int ret;

	/* @len is the segment layer's, never hdr->map_size (shared). */
	if (len < NSHM_SEG_HDR_SIZE)
		len = NSHM_SEG_HDR_SIZE;
	r = rec_new(hdr, len, fd >= 0 ? NSHM_TOKEN_OFD : NSHM_TOKEN_SEM,
		    readonly);
	if (r == NULL)
		return -ENOMEM;
	if (fd >= 0) {
		ret = private_fd(fd, readonly);
		if (ret < 0) {
			ret = nshm__err(ret, "cannot get a private descriptor "
					"for the liveness lock");
			goto err;
		}
		r->fd = ret;
	} else if (shmid >= 0) {
		r->shmid = shmid;
		ret = nshm__peer_sem_set(r);
		if (ret < 0 && !readonly)
			goto err;
		/* An observer may look before any participant made it. */
		nshm__err_clear();
	} else {
		ret = nshm__err(-EOPNOTSUPP, "segment with neither a file "
				"nor a SysV id: no liveness token");
		goto err;
	}
	if (!readonly) {
		ret = ctl_ready(r);
		if (ret == 0)
			ret = rec_join(r);
		if (ret != 0)
			goto err;
	}
	pthread_mutex_lock(&recs_lock);
	rec_link_locked(r);
	pthread_mutex_unlock(&recs_lock);
	*cookie = (uint64_t)(uintptr_t)r;
	return 0;

err:
	rec_free(r);
	return ret;
}

static int hook_detaching(struct nshm_seg_hdr *hdr, uint64_t cookie)
{
	struct peer_rec *r = rec_of_cookie(cookie), *lz;
	pid_t me = getpid();

	if (nshm__mutex_held_in(hdr, (unsigned char *)hdr +
					     (r ? r->map_size
						: NSHM_SEG_HDR_SIZE)))
		return nshm__err(-EBUSY, "this process holds a mutex inside "
				 "the mapping at %p: unlock it before "
				 "detaching", (void *)hdr);
	if (r == NULL)
		return 0;
	/* A forked child's own participant for this inherited mapping. */
	do {
		pthread_mutex_lock(&recs_lock);
		for (lz = recs; lz != NULL; lz = lz->next)
			if (lz->lazy && lz->hdr == hdr && lz->owner == me)
				break;
		if (lz != NULL)
			rec_unlink_locked(lz);
		pthread_mutex_unlock(&recs_lock);
		if (lz != NULL) {
			rec_leave(lz);
			rec_free(lz);
		}
	} while (lz != NULL);
	/* Unlinked first: no lock of ours uses this id from now on. */
	pthread_mutex_lock(&recs_lock);
	rec_unlink_locked(r);
	pthread_mutex_unlock(&recs_lock);
	if (r->owner == me)
		rec_leave(r);
	rec_free(r);
	return 0;
}

/*
 * SysV: the segment was removed; remove its semaphore set too, unless a
 * participant still holds a token in it (its mapping lives on, as a
 * deleted segment's do, and keeps its liveness answers). A set left then
 * is reused by the next segment with that key: tokens still held there
 * only make joiners skip those slots.
 */
static void hook_sysv_removed(int key, unsigned int uid)
{
	unsigned short vals[NSHM_SEM_NSEMS];
	struct semid_ds sds;
	union {
		int val;
		struct semid_ds *buf;
		unsigned short *array;
	} arg = { .buf = &sds };
	int id = semget((key_t)key, 0, 0);

	if (id < 0 || semctl(id, 0, IPC_STAT, arg) != 0)
		return;
	if (sds.sem_perm.uid != uid && sds.sem_perm.cuid != uid)
		return; /* not the set our participants made */
	if (sds.sem_nsems != NSHM_SEM_NSEMS)
		return;
	arg.array = vals;
	if (semctl(id, 0, GETALL, arg) != 0)
		return;
	for (unsigned int i = 0; i < NSHM_SEM_NSEMS; i++)
		if (vals[i] != 0)
			return;
	semctl(id, 0, IPC_RMID);
}

static const struct nshm__seg_hooks sync_hooks = {
	.init = hook_init,
	.attached = hook_attached,
	.detaching = hook_detaching,
	.sysv_removed = hook_sysv_removed,
};

__attribute__((constructor)) static void sync_peer_ctor(void)
{
	pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
	nshm__seg_set_hooks(&sync_hooks);
}

/* ---- owner ids for struct nshm_mutex -------------------------------------- */

/* This process's record for the mapping that contains @a (recs_lock held). */
static struct peer_rec *rec_covering_locked(uintptr_t a, bool own_rw)
{
	pid_t me = getpid();

	for (struct peer_rec *r = recs; r != NULL; r = r->next) {
		if (a < (uintptr_t)r->hdr ||
		    a - (uintptr_t)r->hdr >= r->map_size)
			continue;
		if (!own_rw)
			return r;
		if (r->owner == me && !r->readonly && r->slot != NO_SLOT)
			return r;
	}
	return NULL;
}

/*
 * First lock in a mapping this process did not attach itself (a forked
 * child): join the table as a participant of our own.
 */
static int lazy_join(uintptr_t a, uint32_t *id)
{
	struct peer_rec *r, *inh;
	int ret;

	pthread_mutex_lock(&lazy_lock);
	pthread_mutex_lock(&recs_lock);
	r = rec_covering_locked(a, true);
	if (r != NULL) {
		/* Joined meanwhile (or the fast table was full). */
		*id = rec_id(r);
		pthread_mutex_unlock(&recs_lock);
		pthread_mutex_unlock(&lazy_lock);
		return 0;
	}
	inh = rec_covering_locked(a, false);
	if (inh == NULL || inh->readonly) {
		pthread_mutex_unlock(&recs_lock);
		pthread_mutex_unlock(&lazy_lock);
		return nshm__err(-EINVAL, "%p is not inside a read-write "
				 "mapping made by nshm_seg_attach()",
				 (const void *)a);
	}
	r = rec_new(inh->hdr, inh->map_size, inh->kind, false);
	if (r != NULL) {
		r->lazy = true;
		r->shmid = inh->shmid;
		r->semid = inh->semid;
		if (inh->fd >= 0) {
			nshm__peer_rec_fd(inh);
			r->fd = inh->fd >= 0 ? private_fd(inh->fd, false) : -1;
		}
	}
	pthread_mutex_unlock(&recs_lock);
	if (r == NULL) {
		pthread_mutex_unlock(&lazy_lock);
		return -ENOMEM;
	}
	ret = r->kind == NSHM_TOKEN_OFD && r->fd < 0
		      ? nshm__err(-EBADF, "no descriptor for the inherited "
				  "mapping's liveness lock")
		      : ctl_ready(r);
	if (ret == 0)
		ret = rec_join(r);
	if (ret != 0) {
		if (r->fd < 0)
			r->fd = -1;
		rec_free(r);
		pthread_mutex_unlock(&lazy_lock);
		return ret;
	}
	pthread_mutex_lock(&recs_lock);
	rec_link_locked(r);
	pthread_mutex_unlock(&recs_lock);
	pthread_mutex_unlock(&lazy_lock);
	*id = rec_id(r);
	return 0;
}

int nshm__peer_lock_id(const void *addr, uint32_t *id)
{
	struct proc_maps *pm = maps_get();
	uintptr_t a = (uintptr_t)addr;
	/* SYNC-A12: pairs with SYNC-R12 in maps_add(). */
	uint32_t n = atomic_load_explicit(&pm->n, memory_order_acquire);

	for (uint32_t k = 0; k < n && k < MAPS_MAX; k++) {
		/* SYNC-A12: as above. */
		uintptr_t lo = atomic_load_explicit(&pm->e[k].lo,
						    memory_order_acquire);

		/* Relaxed: ordered by SYNC-A12. */
		if (lo != 0 && a >= lo &&
		    a < atomic_load_explicit(&pm->e[k].hi,
					     memory_order_relaxed)) {
			*id = atomic_load_explicit(&pm->e[k].id,
						   memory_order_relaxed);
			return 0;
		}
	}
	return lazy_join(a, id);
}

/* Liveness of (slot, gen) without the control lock; @mask: gen bits known. */
static int alive_core(struct peer_rec *r, uint32_t i, uint32_t gen,
		      uint32_t mask)
{
	struct nshm__peer_slot *s = &r->ctl->slot[i];
	uint32_t st, g;
	int ret;

	/* SYNC-A14: pairs with SYNC-R14 in rec_store(). */
	g = atomic_load_explicit(&s->gen, memory_order_acquire);
	st = atomic_load_explicit(&s->state, memory_order_acquire);
	if (st != NSHM_SLOT_FREE && st != NSHM_SLOT_LIVE)
		return nshm__err(-NSHM_ECORRUPT, "participant slot %u: state "
				 "%#x", i, st);
	if (st != NSHM_SLOT_LIVE || (g & mask) != gen)
		return 0; /* detached, reaped, or reused by a newer peer */
	if (is_self(r, i, g))
		return 1;
	ret = nshm__peer_token_alive(r, i);
	if (ret <= 0)
		return ret; /* dead (0) or could not tell (-errno) */
	/* Still the same participant? Else it left while we looked. */
	/* SYNC-A14: as above. */
	if (atomic_load_explicit(&s->state, memory_order_acquire) !=
		    NSHM_SLOT_LIVE ||
	    (atomic_load_explicit(&s->gen, memory_order_acquire) & mask) !=
		    gen)
		return 0;
	return 1;
}

int nshm__peer_id_alive(const void *addr, uint32_t id)
{
	uint32_t i = id >> NSHM__ID_SLOT_SHIFT;
	struct peer_rec *r = NULL;
	int ret;

	if (i >= NSHM_PEER_MAX)
		return 0; /* not an id anyone can hold */
	pthread_mutex_lock(&recs_lock);
	r = rec_covering_locked((uintptr_t)addr, true);
	ret = r != NULL ? alive_core(r, i, id & NSHM__ID_GEN_MASK,
				     NSHM__ID_GEN_MASK)
			: nshm__err(-EINVAL, "%p: no mapping of ours to probe "
				    "from", addr);
	pthread_mutex_unlock(&recs_lock);
	return ret;
}

/* ---- public API ---------------------------------------------------------- */

static int rec_of_area(void *area, struct peer_rec **out)
{
	uint64_t cookie;
	bool ro;
	struct peer_rec *r = NULL;

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
	struct peer_rec *r = NULL;
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

int nshm_peer_alive(void *area, nshm_peer_t id)
{
	struct peer_rec *r = NULL;
	uint32_t i = (uint32_t)id, gen = (uint32_t)(id >> 32);
	int ret;

	nshm__err_clear();
	ret = rec_of_area(area, &r);
	if (ret != 0)
		return ret;
	if (i >= NSHM_PEER_MAX || gen == 0)
		return nshm__err(-EINVAL, "peer id %#" PRIx64 ": slot %u or "
				 "generation 0 out of range", id, i);
	/* SYNC-A13: pairs with SYNC-R13 in ctl_ready(). */
	if (atomic_load_explicit(&r->ctl->magic, memory_order_acquire) !=
	    NSHM_CTL_MAGIC)
		return 0;
	return alive_core(r, i, gen, UINT32_MAX);
}

int nshm_peer_reap(void *area)
{
	struct peer_rec *r = NULL;
	int ret;

	nshm__err_clear();
	ret = rec_of_area(area, &r);
	if (ret != 0)
		return ret;
	if (r->readonly)
		return nshm__err(-EROFS, "reaping needs a read-write mapping");
	ret = ctl_ready(r);
	if (ret != 0)
		return ret;
	ret = ctl_lock(r);
	if (ret != 0)
		return ret;
	ret = reap_locked(r);
	nshm__peer_ctl_unlock(r);
	return ret;
}

int nshm_peer_list(void *area, struct nshm_peer_info *out, unsigned int max)
{
	struct peer_rec *r = NULL;
	unsigned int n = 0;
	int ret;

	nshm__err_clear();
	if (out == NULL && max != 0)
		return nshm__err(-EINVAL, "out is NULL");
	ret = rec_of_area(area, &r);
	if (ret != 0)
		return ret;
	/* SYNC-A13: as in ctl_ready(). */
	if (atomic_load_explicit(&r->ctl->magic, memory_order_acquire) !=
	    NSHM_CTL_MAGIC)
		return 0;
	for (uint32_t i = 0; i < NSHM_PEER_MAX; i++) {
		struct nshm__peer_slot *s = &r->ctl->slot[i];
		/* SYNC-A14: pairs with SYNC-R14 in rec_store(). */
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
			p->start_ticks = s->start;
			p->attach_ns = 0;
			p->self = is_self(r, i, g);
			p->alive = alive_core(r, i, g, UINT32_MAX);
		}
		n++;
	}
	return (int)n;
}
