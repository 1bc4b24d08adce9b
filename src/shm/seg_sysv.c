/* SPDX-License-Identifier: MIT */
/*
 * Named segments, System V backend (seg.c has the lifecycle this serves).
 * shmget(IPC_EXCL) creates exclusively and zero-fills, so the header's
 * state word reads INIT until the creator publishes; openers futex-wait on
 * it with a deadline, and take a creator for dead mid-init only if the
 * state still reads INIT after finding it gone (it may have published and
 * exited meanwhile).
 */
#include <errno.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"
#include "shm/seg_int.h"

int nshm__seg_sysv_error(int err, const struct nshm_seg *seg)
{
	switch (err) {
	case EINVAL:
		return nshm__err(-EFBIG,
				 "%zu bytes is outside SysV limits: kernel.shmmax is %llu (raise with 'sysctl kernel.shmmax=...')",
				 seg->map_size,
				 nshm__seg_read_proc_ull("/proc/sys/kernel/shmmax"));
	case ENOSPC:
		return nshm__err(-ENOSPC,
				 "SysV limits reached: kernel.shmmni is %llu segments, kernel.shmall %llu pages (raise with sysctl, or delete unused segments: ipcs -m)",
				 nshm__seg_read_proc_ull("/proc/sys/kernel/shmmni"),
				 nshm__seg_read_proc_ull("/proc/sys/kernel/shmall"));
	case ENOMEM:
		return nshm__err(-ENOMEM, "no memory for a %zu-byte segment",
				 seg->map_size);
	case EACCES:
		return nshm__err(-EACCES, "\"%s\": permission denied by its mode",
				 seg->nm.canon);
	case ENOENT:
		return nshm__err(-ENOENT, "no segment \"%s\"", seg->nm.canon);
	default:
		return nshm__err(-err, "\"%s\": %s", seg->nm.canon,
				 strerrordesc_np(err));
	}
}

static int sysv_create(struct nshm_seg *seg)
{
	int shmflg = IPC_CREAT | IPC_EXCL | (int)seg->mode;
	struct nshm_seg_hdr *h;
	int id = -1, ret;

	seg->page_size = NSHM_SEG_HDR_SIZE;
	seg->huge = false;
	if (seg->flags & NSHM_HUGEPAGES) {
		seg->huge = true;
		seg->map_size =
			nshm__seg_round_up(NSHM_SEG_HDR_SIZE + seg->user_size, HUGE_2M);
		id = shmget((key_t)seg->nm.sysv_key, seg->map_size,
			    shmflg | SHM_HUGETLB);
		if (id < 0 && errno == EEXIST)
			return -EEXIST;
		/* No huge pages to be had (empty pool, no rights): fall back. */
		seg->huge = id >= 0;
	}
	if (id < 0) {
		seg->map_size = nshm__seg_round_up(NSHM_SEG_HDR_SIZE + seg->user_size,
					 seg->page_size);
		id = shmget((key_t)seg->nm.sysv_key, seg->map_size, shmflg);
		if (id < 0)
			return errno == EEXIST ? -EEXIST : nshm__seg_sysv_error(errno, seg);
	}
	if (seg->huge)
		seg->page_size = HUGE_2M;

	h = shmat(id, NULL, 0);
	if (h == (void *)-1) {
		ret = nshm__seg_no_map(errno, seg->map_size);
		goto err_rm;
	}
	/*
	 * Allocate every page now, like posix_fallocate does for files, so
	 * that a shortage is an error here rather than an OOM kill later.
	 */
	if (madvise(h, seg->map_size, MADV_POPULATE_WRITE) != 0 &&
	    errno != EINVAL) {
		ret = nshm__err(-ENOMEM,
				"cannot allocate %zu bytes for \"%s\": %s",
				seg->map_size, seg->nm.canon,
				strerrordesc_np(errno));
		shmdt(h);
		goto err_rm;
	}
	ret = nshm__seg_hdr_fill(h, seg);
	if (ret < 0) {
		shmdt(h);
		goto err_rm;
	}
	if (seg->init == NULL) {
		nshm__seg_test_point(NSHM__SEG_AT_PUBLISH, seg);
		nshm__seg_hdr_publish(h);
		shmdt(h);
		seg->shmid = id;
		return 0;
	}
	/*
	 * Build the caller's area first. Openers meanwhile see INIT and wait;
	 * if we die, the kernel detaches init's mapping and they see a dead
	 * creator (sysv_creator_gone()).
	 */
	shmdt(h);
	seg->shmid = id;
	ret = nshm__seg_init_area(seg);
	if (ret < 0) {
		seg->shmid = -1;
		goto err_rm;
	}
	nshm__seg_test_point(NSHM__SEG_AT_PUBLISH, seg);
	nshm__seg_hdr_publish(nshm__seg_init_hdr(seg));
	return 0;

err_rm:
	shmctl(id, IPC_RMID, NULL);
	return ret;
}

/*
 * Is the creator of SysV segment @id gone? It stays attached while it
 * initialises, from just after shmget(): if we are the only one attached
 * and the creating pid is gone, it is not initialising any more. (The
 * attached count alone is not enough: we may look between its shmget() and
 * its shmat().) Gone is not the same as dead mid-init: a creator that
 * published, detached and exited is gone too, so callers must re-read the
 * state word after a true answer.
 */
static bool sysv_creator_gone(int id)
{
	struct shmid_ds ds;

	return shmctl(id, IPC_STAT, &ds) == 0 && ds.shm_nattch <= 1 &&
	       kill(ds.shm_cpid, 0) != 0 && errno == ESRCH;
}

/*
 * Wait until the creator published the header. @return 0, or -ETIMEDOUT,
 * or -EOWNERDEAD when the creator is gone and the header still unpublished.
 */
static int sysv_wait_ready(const struct nshm_seg *seg, struct nshm_seg_hdr *h,
			   int id, uint64_t deadline)
{
	uint32_t s;

	/* SEG-A0 (SysV): pairs with SEG-R0 in nshm__seg_hdr_publish(). */
	while ((s = atomic_load_explicit(&h->state, memory_order_acquire)) ==
	       NSHM_SEG_INIT) {
		uint64_t now = nshm__now_ns();
		struct timespec slice = { 0, 2000000 }; /* 2 ms, then recheck */

		nshm__seg_test_point(NSHM__SEG_AT_SYSV_INIT_SEEN, seg);
		if (sysv_creator_gone(id)) {
			/*
			 * SEG-A1: the INIT we read may predate a publication
			 * by a creator that has since detached and exited.
			 * Its detach (shmdt or exit) dropped shm_nattch under
			 * the segment's kernel lock after its SEG-R0 store,
			 * and our IPC_STAT that saw the drop took that lock:
			 * so this load pairs with SEG-R0 through the kernel,
			 * and sees READY if it was ever published. Still
			 * INIT now means it died before publishing.
			 */
			s = atomic_load_explicit(&h->state,
						 memory_order_acquire);
			if (s != NSHM_SEG_INIT)
				break;
			return -EOWNERDEAD;
		}
		if (now >= deadline)
			return -ETIMEDOUT;
		syscall(SYS_futex, &h->state, FUTEX_WAIT, NSHM_SEG_INIT,
			&slice, NULL, 0);
	}
	return 0;
}

/*
 * Open the existing SysV segment of seg's key. @return 0, or an error;
 * -EOWNERDEAD (creator died before publishing) with its id in *dead_id.
 */
static int sysv_open_existing(struct nshm_seg *seg, size_t want, int *dead_id)
{
	struct nshm_seg_hdr copy, *h;
	struct shmid_ds ds;
	int id, ret;

	id = shmget((key_t)seg->nm.sysv_key, 0, 0);
	if (id < 0)
		return nshm__seg_sysv_error(errno, seg);
	if (shmctl(id, IPC_STAT, &ds) != 0)
		return nshm__seg_sysv_error(errno, seg);
	ret = nshm__seg_owner_check(seg, ds.shm_perm.uid);
	if (ret < 0)
		return ret;
	if (ds.shm_segsz < NSHM_SEG_HDR_SIZE)
		return nshm__err(-EBADMSG,
				 "SysV segment 0x%08x (%zu bytes) is not an nshm segment",
				 seg->nm.sysv_key, (size_t)ds.shm_segsz);
	h = shmat(id, NULL, SHM_RDONLY);
	if (h == (void *)-1)
		return nshm__seg_sysv_error(errno, seg);
	ret = sysv_wait_ready(seg, h, id, nshm__now_ns() + nshm__seg_init_timeout_ns());
	memcpy(&copy, h, sizeof(copy));
	shmdt(h);
	if (ret == -EOWNERDEAD) {
		*dead_id = id;
		return nshm__err(-EOWNERDEAD,
				 "\"%s\": its creator died before publishing it",
				 seg->nm.canon);
	}
	if (ret == -ETIMEDOUT)
		return nshm__err(-ETIMEDOUT, "\"%s\" was not initialised in time",
				 seg->nm.canon);
	/* Relaxed: our own copy, read after SEG-A0. */
	if (atomic_load_explicit(&copy.state, memory_order_relaxed) ==
	    NSHM_SEG_POISONED)
		return nshm__err(-ENOTRECOVERABLE,
				 "\"%s\" was poisoned: delete and recreate it",
				 seg->nm.canon);
	ret = nshm__seg_hdr_check(&copy, seg, ds.shm_segsz);
	if (ret < 0)
		return ret;
	seg->shmid = id;
	seg->owner = ds.shm_perm.uid;
	seg->mode = ds.shm_perm.mode & 0777;
	/* Write access is decided by shmat() at attach time. */
	seg->writable = true;
	return nshm__seg_hdr_adopt(seg, &copy, want);
}

int nshm__seg_sysv_open(struct nshm_seg *seg, size_t want)
{
	int ret = -ENOENT, dead_id = -1;

	for (int tries = 0; tries < 8; tries++) {
		if (seg->flags & NSHM_CREATE) {
			ret = sysv_create(seg);
			if (ret == 0) {
				seg->created = true;
				seg->writable = true;
				seg->owner = geteuid();
				seg->creator_pid = getpid();
				return 0;
			}
			if (ret != -EEXIST)
				return ret;
			if (seg->flags & NSHM_EXCL)
				return nshm__err(-EEXIST, "\"%s\" exists",
						 seg->nm.canon);
		}
		nshm__err_clear();
		ret = sysv_open_existing(seg, want, &dead_id);
		if (ret == -EOWNERDEAD && (seg->flags & NSHM_CREATE)) {
			/*
			 * A half-made segment of a dead creator: replace it.
			 * Remove that very id, not whatever the key names by
			 * now: another opener may have replaced it already.
			 */
			shmctl(dead_id, IPC_RMID, NULL);
			continue;
		}
		if (ret == -EOWNERDEAD)
			ret = nshm__err(-ETIMEDOUT,
					"\"%s\": its creator died before publishing it; delete it",
					seg->nm.canon);
		if (ret != -ENOENT || !(seg->flags & NSHM_CREATE))
			return ret;
	}
	return ret;
}

int nshm__seg_sysv_delete(struct nshm_seg *tmp)
{
	struct nshm_seg_hdr *h;
	struct shmid_ds ds;
	int id, ret = 0;

	id = shmget((key_t)tmp->nm.sysv_key, 0, 0);
	if (id < 0)
		return nshm__seg_sysv_error(errno, tmp);
	if (shmctl(id, IPC_STAT, &ds) != 0)
		return nshm__seg_sysv_error(errno, tmp);
	if (ds.shm_segsz >= NSHM_SEG_HDR_SIZE) {
		h = shmat(id, NULL, SHM_RDONLY);
		if (h == (void *)-1)
			return nshm__seg_sysv_error(errno, tmp);
		/*
		 * INIT: a creator died half-way (or is still at work, and
		 * deleting the name is what was asked); that is ours to
		 * remove. SEG-A0 (delete): pairs with SEG-R0, so the magic
		 * and name read below are the creator's.
		 */
		if (atomic_load_explicit(&h->state, memory_order_acquire) !=
		    NSHM_SEG_INIT) {
			if (h->magic != NSHM_SEG_MAGIC)
				ret = nshm__err(-EBADMSG,
						"SysV key 0x%08x holds a segment that is not nshm's: left alone",
						tmp->nm.sysv_key);
			else if (h->name_len >= sizeof(h->name) ||
				 strncmp(h->name, tmp->nm.canon,
					 sizeof(h->name)) != 0)
				ret = nshm__err(-NSHM_ECOLLISION,
						"SysV key 0x%08x of \"%s\" belongs to another name: left alone",
						tmp->nm.sysv_key, tmp->nm.canon);
		}
		shmdt(h);
	} else {
		ret = nshm__err(-EBADMSG,
				"SysV key 0x%08x holds a segment that is not nshm's: left alone",
				tmp->nm.sysv_key);
	}
	if (ret == 0 && shmctl(id, IPC_RMID, NULL) != 0)
		ret = nshm__seg_sysv_error(errno, tmp);
	if (ret == 0 && nshm__seg_get_hooks() && nshm__seg_get_hooks()->sysv_removed)
		nshm__seg_get_hooks()->sysv_removed((int)tmp->nm.sysv_key,
					  (unsigned int)ds.shm_perm.uid);
	return ret;
}
