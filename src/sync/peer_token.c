/* SPDX-License-Identifier: MIT */
/*
 * The kernel-held primitives under peer.c's participant table: who this
 * process is (pid, start time, pid namespace), a descriptor of its own
 * after fork, the liveness tokens (an OFD lock byte per slot on the
 * segment's file, or a SEM_UNDO semaphore per slot for SysV segments) and
 * the control lock (byte NSHM_OFD_CTL or semaphore NSHM_SEM_CTL). The
 * kernel releases each when its holder dies; nothing in shared memory can
 * forge or wedge one. The why of each choice: the comment atop peer.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "sync/peer_int.h"
#include "sync/sync_internal.h"

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

void nshm__peer_self_identity(struct self_id *id)
{
	id->pid = getpid();
	id->start_ticks = 0;
	read_start_ticks(id->pid, &id->start_ticks);
	id->pidns = read_pidns("/proc/self/ns/pid");
}

/*
 * Give @r->fd a fresh open file description of this process's own: in a
 * forked child the inherited one is the parent's (closing our reference to
 * it keeps a dead parent from looking alive while the child lives; the new
 * one holds no locks). dup3 onto the same number: other threads never see
 * the number closed.
 */
void nshm__peer_rec_own_fd(struct peer_rec *r)
{
	char path[64];
	int nfd;

	if (r->fd < 0)
		return;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", r->fd);
	nfd = open(path, (r->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (nfd >= 0 && dup3(nfd, r->fd, O_CLOEXEC) >= 0) {
		close(nfd);
	} else {
		if (nfd >= 0)
			close(nfd);
		close(r->fd);
		r->fd = -1;
	}
	r->fd_pid = getpid();
}

/* ---- tokens -------------------------------------------------------------- */

static int ofd_lock(int fd, int64_t off, short type)
{
	struct flock fl = {
		.l_type = type,
		.l_whence = SEEK_SET,
		.l_start = off,
		.l_len = 1,
	};

	return fcntl(fd, F_OFD_SETLK, &fl) == 0 ? 0 : -errno;
}

/* 1: another open file description holds the byte; 0: none; -errno. */
static int ofd_held(int fd, int64_t off)
{
	struct flock fl = {
		.l_type = F_WRLCK,
		.l_whence = SEEK_SET,
		.l_start = off,
		.l_len = 1,
	};

	if (fcntl(fd, F_OFD_GETLK, &fl) != 0)
		return -errno;
	return fl.l_type != F_UNLCK;
}

/* The segment's semaphore set (SysV): create it on first use. */
int nshm__peer_sem_set(struct peer_rec *r)
{
	struct shmid_ds ds;
	struct semid_ds sds;
	union {
		int val;
		struct semid_ds *buf;
	} arg;
	int id, flags;

	if (r->semid >= 0)
		return r->semid;
	if (shmctl(r->shmid, IPC_STAT, &ds) != 0)
		return nshm__err(-errno, "SysV segment %d: IPC_STAT for its "
				 "semaphore set", r->shmid);
	if (ds.shm_perm.__key == IPC_PRIVATE)
		return nshm__err(-EOPNOTSUPP, "SysV segment %d has no key",
				 r->shmid);
	flags = r->readonly ? 0 : IPC_CREAT | (int)(ds.shm_perm.mode & 0666);
	id = semget(ds.shm_perm.__key, (int)NSHM_SEM_NSEMS, flags);
	if (id < 0)
		return nshm__err(-errno, "semaphore set of SysV key 0x%08x "
				 "(the liveness tokens): %s",
				 (unsigned int)ds.shm_perm.__key,
				 strerrordesc_np(errno));
	arg.buf = &sds;
	if (semctl(id, 0, IPC_STAT, arg) != 0)
		return nshm__err(-errno, "semaphore set of SysV key 0x%08x",
				 (unsigned int)ds.shm_perm.__key);
	/* A set squatted by another user could fake every answer. */
	if (sds.sem_perm.uid != ds.shm_perm.uid &&
	    sds.sem_perm.cuid != ds.shm_perm.uid)
		return nshm__err(-EACCES, "semaphore set of SysV key 0x%08x "
				 "belongs to uid %u, the segment to uid %u: "
				 "refusing its liveness answers",
				 (unsigned int)ds.shm_perm.__key,
				 (unsigned int)sds.sem_perm.uid,
				 (unsigned int)ds.shm_perm.uid);
	r->semid = id;
	return id;
}

/* Take semaphore @n without waiting (wait-for-zero then +1, atomically). */
static int sem_take(struct peer_rec *r, unsigned short n,
		    const struct timespec *timeout)
{
	struct sembuf op[2] = {
		{ .sem_num = n, .sem_op = 0, .sem_flg = 0 },
		{ .sem_num = n, .sem_op = 1, .sem_flg = SEM_UNDO },
	};
	int id = nshm__peer_sem_set(r);

	if (id < 0)
		return id;
	if (timeout == NULL) {
		op[0].sem_flg |= IPC_NOWAIT;
		op[1].sem_flg |= IPC_NOWAIT;
	}
	return semtimedop(id, op, 2, timeout) == 0 ? 0 : -errno;
}

static int sem_give(struct peer_rec *r, unsigned short n)
{
	struct sembuf op = { .sem_num = n, .sem_op = -1,
			     .sem_flg = SEM_UNDO | IPC_NOWAIT };

	if (r->semid < 0)
		return -EINVAL;
	return semop(r->semid, &op, 1) == 0 ? 0 : -errno;
}

/* 1 held, 0 free, -errno. */
static int sem_held(struct peer_rec *r, unsigned short n)
{
	int id = nshm__peer_sem_set(r), v;

	if (id < 0)
		return id;
	v = semctl(id, n, GETVAL);
	if (v < 0)
		return -errno;
	return v > 0;
}

/*
 * A file-lock token can outlive its process for a moment: a child forked
 * just before the participant died holds the lock's description until its
 * atfork handler replaces it (or for good, if it was made by _Fork() or
 * clone()). Where the pid is ours to check (same pid namespace), a
 * vanished, exited or recycled pid settles it. (join_locked skips a slot
 * whose token a straggler still holds, so reaping is safe.)
 */
bool nshm__peer_pid_gone(const struct nshm__peer_slot *s)
{
	uint64_t ticks;
	uint32_t ns = s->pidns;
	int rc;

	if (ns == 0 || ns != (uint32_t)read_pidns("/proc/self/ns/pid"))
		return false;
	rc = read_start_ticks((pid_t)s->pid, &ticks);
	return rc == -ENOENT || rc == -ESRCH ||
	       (rc == 0 && (uint32_t)ticks != s->start);
}

/* The checker's own description (replaced if inherited across fork). */
int nshm__peer_rec_fd(struct peer_rec *r)
{
	if (r->fd >= 0 && r->fd_pid != getpid())
		nshm__peer_rec_own_fd(r);
	return r->fd;
}

/*
 * Is the holder of slot @i alive, judged by its token?
 * @return 1, 0, or a negative errno. @r is the checker's own record (never
 * the holder of slot @i).
 */
int nshm__peer_token_alive(struct peer_rec *r, uint32_t i)
{
	struct nshm__peer_slot *s = &r->ctl->slot[i];
	int rc;

	switch (r->kind) {
	case NSHM_TOKEN_OFD:
		if (nshm__peer_rec_fd(r) < 0)
			return nshm__err(-EBADF, "no descriptor left to probe "
					 "slot %u's file lock", i);
		rc = ofd_held(r->fd, NSHM_OFD_BASE + i);
		return rc == 1 && nshm__peer_pid_gone(s) ? 0 : rc;
	case NSHM_TOKEN_SEM:
		return sem_held(r, (unsigned short)i);
	default:
		return nshm__err(-EOPNOTSUPP, "segment without liveness "
				 "tokens");
	}
}

int nshm__peer_token_take(struct peer_rec *r, uint32_t i)
{
	if (r->kind == NSHM_TOKEN_OFD)
		return nshm__peer_rec_fd(r) < 0 ? -EBADF
				     : ofd_lock(r->fd, NSHM_OFD_BASE + i,
						F_WRLCK);
	return sem_take(r, (unsigned short)i, NULL);
}

void nshm__peer_token_drop(struct peer_rec *r, uint32_t i)
{
	if (r->kind == NSHM_TOKEN_OFD) {
		if (r->fd >= 0)
			ofd_lock(r->fd, NSHM_OFD_BASE + i, F_UNLCK);
	} else {
		sem_give(r, (unsigned short)i);
	}
}

/* ---- the control lock (kernel-held) ------------------------------------- */

int nshm__peer_ctl_lock_raw(struct peer_rec *r, uint64_t timeout_ns)
{
	uint64_t t0 = nshm__now_ns();
	long us = 20;
	int ret;

	if (r->readonly)
		return nshm__err(-EROFS, "a read-only mapping cannot take "
				 "the control lock");
	for (;;) {
		uint64_t el = nshm__now_ns() - t0;

		if (r->kind == NSHM_TOKEN_SEM) {
			uint64_t left = el >= timeout_ns ? 0 : timeout_ns - el;
			struct timespec ts = {
				.tv_sec = (time_t)(left / 1000000000u),
				.tv_nsec = (long)(left % 1000000000u),
			};

			ret = left == 0 ? sem_take(r, NSHM_SEM_CTL, NULL)
					: sem_take(r, NSHM_SEM_CTL, &ts);
			if (ret == -EINTR)
				continue;
		} else {
			ret = nshm__peer_rec_fd(r) < 0 ? -EBADF
					    : ofd_lock(r->fd, NSHM_OFD_CTL,
						       F_WRLCK);
		}
		if (ret == 0)
			return 0;
		if (ret != -EAGAIN && ret != -EACCES)
			return nshm__err(ret, "segment control lock: %s",
					 strerrordesc_np(-ret));
		if (nshm__now_ns() - t0 >= timeout_ns)
			return nshm__err(-ETIMEDOUT, "segment control lock busy "
					 "for %llu ms (a holder stopped or "
					 "stuck?)",
					 (unsigned long long)(timeout_ns /
							      1000000u));
		if (r->kind != NSHM_TOKEN_SEM) {
			struct timespec ts = { 0, us * 1000 };

			nanosleep(&ts, NULL);
			if (us < 1000)
				us *= 2;
		}
	}
}

void nshm__peer_ctl_unlock(struct peer_rec *r)
{
	if (r->kind == NSHM_TOKEN_SEM)
		sem_give(r, NSHM_SEM_CTL);
	else if (r->fd >= 0)
		ofd_lock(r->fd, NSHM_OFD_CTL, F_UNLCK);
}
