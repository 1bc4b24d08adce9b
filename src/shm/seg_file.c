/* SPDX-License-Identifier: MIT */
/*
 * Named segments, POSIX shm and file backends (seg.c has the lifecycle
 * this serves). A new segment is an unnamed file (O_TMPFILE) in the target
 * directory: its mode fixed (fchmod), every byte allocated
 * (posix_fallocate), the header written, then linked under its name;
 * linkat() fails with EEXIST if the name was taken meanwhile, which makes
 * creation exclusive. Without O_TMPFILE or /proc: O_CREAT|O_EXCL and the
 * header's state word, which openers wait on for READY. Opening reads the
 * header with pread(), never through a mapping (no SIGBUS from a short
 * file).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "internal.h"
#include "shm/seg_int.h"

static int open_dir(const struct nshm_seg *seg)
{
	int dfd = open(seg->nm.dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);

	if (dfd >= 0)
		return dfd;
	if (errno == ENOENT && seg->nm.backend == NSHM_BACKEND_POSIX)
		return nshm__err(-ENOENT,
				 "%s is not mounted: POSIX shared memory needs a tmpfs there (mount -t tmpfs tmpfs /dev/shm)",
				 NSHM_POSIX_DIR);
	return nshm__err(-errno, "directory \"%s\": %s", seg->nm.dir,
			 strerrordesc_np(errno));
}

/* Page size and hugeness for a new file segment in @dfd. */
static void file_geometry(struct nshm_seg *seg, int dfd)
{
	struct statfs sf;

	seg->page_size = NSHM_SEG_HDR_SIZE;
	seg->huge = false;
	if (fstatfs(dfd, &sf) == 0 && sf.f_type == HUGETLBFS_MAGIC) {
		/* hugetlbfs: every mapping is in units of its page size. */
		seg->page_size = (size_t)sf.f_bsize;
		seg->huge = true;
	} else if ((seg->flags & NSHM_HUGEPAGES) && sf.f_type == TMPFS_MAGIC) {
		/*
		 * tmpfs can use transparent huge pages when the system
		 * allows it for shmem; size the segment so it can.
		 */
		char mode[128] = "";
		FILE *f = fopen(
			"/sys/kernel/mm/transparent_hugepage/shmem_enabled",
			"re");

		if (f != NULL) {
			if (fgets(mode, sizeof(mode), f) == NULL)
				mode[0] = '\0';
			fclose(f);
		}
		if (strstr(mode, "[always]") || strstr(mode, "[advise]") ||
		    strstr(mode, "[within_size]") || strstr(mode, "[force]"))
			seg->huge = true;
	}
	seg->map_size = nshm__seg_round_up(NSHM_SEG_HDR_SIZE + seg->user_size,
				 seg->huge ? (seg->page_size > HUGE_2M
						      ? seg->page_size
						      : HUGE_2M)
					   : seg->page_size);
}

/*
 * Size, mode and header of a new file. @named: the O_EXCL fallback, where
 * the file has its name already and the state word is the publication
 * (left INIT here when nshm__seg_create_init() has an init to run first).
 */
static int file_prepare(struct nshm_seg *seg, int fd, bool named)
{
	struct nshm_seg_hdr *h;
	int ret;

	if (fchmod(fd, (mode_t)seg->mode) != 0)
		return nshm__err(-errno, "fchmod: %s", strerrordesc_np(errno));
	ret = posix_fallocate(fd, 0, (off_t)seg->map_size);
	if (ret == EOPNOTSUPP || ret == EINVAL)
		ret = ftruncate(fd, (off_t)seg->map_size) == 0 ? 0 : errno;
	if (ret == ENOSPC || ret == EFBIG)
		return nshm__seg_no_space(ret, seg);
	if (ret != 0)
		return nshm__err(-ret, "allocating %zu bytes: %s",
				 seg->map_size, strerrordesc_np(ret));

	h = mmap(NULL, seg->page_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		 0);
	if (h == MAP_FAILED)
		return nshm__seg_no_map(errno, seg->page_size);
	ret = nshm__seg_hdr_fill(h, seg);
	/* With an init to run, the fallback publishes after it. */
	if (ret == 0 && !(named && seg->init != NULL)) {
		if (named)
			nshm__seg_test_point(NSHM__SEG_AT_PUBLISH, seg);
		nshm__seg_hdr_publish(h);
	}
	munmap(h, seg->page_size);
	return ret;
}

/*
 * An O_TMPFILE descriptor keeps its "#inode (deleted)" name in
 * /proc/<pid>/maps even after linkat(). Swap it for one opened by the name,
 * if that is still the same file, so tools see who maps which segment.
 */
static int reopen_by_name(int fd, int dfd, const char *leaf)
{
	struct stat a, b;
	int nfd = openat(dfd, leaf, O_RDWR | O_NOFOLLOW | O_CLOEXEC);

	if (nfd < 0)
		return fd;
	if (fstat(fd, &a) == 0 && fstat(nfd, &b) == 0 && a.st_ino == b.st_ino &&
	    a.st_dev == b.st_dev) {
		close(fd);
		return nfd;
	}
	close(nfd);
	return fd;
}

/*
 * Create the file atomically. @return 0 (created; seg->fd set), -EEXIST, or
 * another error. Nothing is left behind on failure.
 */
int nshm__seg_file_create(struct nshm_seg *seg, int dfd)
{
	char proc[64];
	int fd, ret;

	file_geometry(seg, dfd);
	/* Spare an init whose work the link would discard. */
	if (seg->init != NULL &&
	    fstatat(dfd, seg->nm.leaf, &(struct stat){ 0 },
		    AT_SYMLINK_NOFOLLOW) == 0)
		return -EEXIST;
	/* The tests take the fallback with NSHM__SEG_KNOB_NO_TMPFILE. */
	if (nshm__seg_knob(NSHM__SEG_KNOB_NO_TMPFILE) != 0) {
		fd = -1;
		errno = EOPNOTSUPP;
	} else {
		fd = openat(dfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC,
			    (mode_t)seg->mode);
	}
	if (fd >= 0) {
		ret = file_prepare(seg, fd, false);
		if (ret == 0) {
			seg->fd = fd; /* for nshm__seg_init_area()'s mapping */
			ret = nshm__seg_init_area(seg);
			seg->fd = -1;
		}
		if (ret < 0) {
			close(fd); /* unnamed: vanishes */
			return ret;
		}
		/*
		 * Publication by name (SEG-P0, no atomic): every store to
		 * the file, header and init's area, comes before linkat();
		 * an opener reaches the file only through the name, after
		 * it (the directory's lock orders linkat() and its
		 * openat()), and reads it through the kernel or a new
		 * mapping of the same pages.
		 */
		nshm__seg_test_point(NSHM__SEG_AT_PUBLISH, seg);
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
		if (linkat(AT_FDCWD, proc, dfd, seg->nm.leaf,
			   AT_SYMLINK_FOLLOW) == 0) {
			seg->fd = reopen_by_name(fd, dfd, seg->nm.leaf);
			return 0;
		}
		ret = errno;
		nshm__seg_init_undo(seg);
		close(fd);
		if (ret == EEXIST)
			return -EEXIST;
		if (ret != ENOENT && ret != EXDEV && ret != EPERM)
			return nshm__err(-ret, "linking \"%s\": %s",
					 seg->nm.canon, strerrordesc_np(ret));
		/* No /proc: fall back below. */
	} else if (errno != EOPNOTSUPP && errno != EISDIR &&
		   errno != EINVAL) {
		if (errno == EACCES || errno == EROFS)
			return nshm__err(-errno,
					 "cannot create in \"%s\": %s",
					 seg->nm.dir, strerrordesc_np(errno));
		return nshm__err(-errno, "creating \"%s\": %s", seg->nm.canon,
				 strerrordesc_np(errno));
	}

	/* Fallback: exclusive create; openers wait for state READY. */
	fd = openat(dfd, seg->nm.leaf,
		    O_CREAT | O_EXCL | O_RDWR | O_NOFOLLOW | O_CLOEXEC,
		    (mode_t)seg->mode);
	if (fd < 0) {
		if (errno == EEXIST)
			return -EEXIST;
		return nshm__err(-errno, "creating \"%s\": %s", seg->nm.canon,
				 strerrordesc_np(errno));
	}
	/*
	 * Our magic goes in first, so that what a creator killed from here
	 * on leaves behind is recognisably ours: openers report it and
	 * nshm_seg_delete() removes it.
	 */
	{
		const uint32_t first[2] = { NSHM_SEG_INIT, NSHM_SEG_MAGIC };

		/* hugetlbfs has no write(2) (EINVAL): it just goes without. */
		if (pwrite(fd, first, sizeof(first), 0) < 0 && errno != EINVAL)
			ret = nshm__err(-errno, "writing \"%s\": %s",
					seg->nm.canon, strerrordesc_np(errno));
		else
			ret = file_prepare(seg, fd, true);
	}
	seg->fd = fd;
	if (ret == 0 && seg->init != NULL) {
		ret = nshm__seg_init_area(seg);
		if (ret == 0) {
			nshm__seg_test_point(NSHM__SEG_AT_PUBLISH, seg);
			nshm__seg_hdr_publish(nshm__seg_init_hdr(seg));
		}
	}
	if (ret < 0) {
		seg->fd = -1;
		unlinkat(dfd, seg->nm.leaf, 0);
		close(fd);
		return ret;
	}
	return 0;
}

/*
 * Read the header of an existing file, waiting (until @deadline_ns) for a
 * creator that is still writing it. @return 0 and *h, or an error.
 */
int nshm__seg_file_read_hdr(struct nshm_seg *seg, struct nshm_seg_hdr *h,
			    struct stat *st, uint64_t deadline_ns)
{
	uint32_t state;
	ssize_t n;

	for (;;) {
		if (fstat(seg->fd, st) != 0)
			return nshm__err(-errno, "fstat: %s",
					 strerrordesc_np(errno));
		if (!S_ISREG(st->st_mode))
			return nshm__err(-EBADMSG,
					 "\"%s\" is not a regular file: not an nshm segment",
					 seg->nm.canon);
		memset(h, 0, sizeof(*h));
		n = pread(seg->fd, h, sizeof(*h), 0);
		if (n < 0)
			return nshm__err(-errno, "reading \"%s\": %s",
					 seg->nm.canon, strerrordesc_np(errno));
		/* A plain copy: the atomic is only read from our own buffer. */
		memcpy(&state, h, sizeof(state));
		/* Creators size the file in one step: 1..7 bytes is foreign. */
		if (n > 0 && n < 8)
			return nshm__err(-EBADMSG,
					 "\"%s\" is %zd bytes: not an nshm segment",
					 seg->nm.canon, n);
		if (n >= 8 && h->magic != NSHM_SEG_MAGIC &&
		    (h->magic != 0 || state != NSHM_SEG_INIT))
			return nshm__err(-EBADMSG,
					 "\"%s\" is not an nshm segment",
					 seg->nm.canon);
		if (n >= 8 && h->magic == NSHM_SEG_MAGIC) {
			if (state == NSHM_SEG_READY) {
				/*
				 * SEG-A0 (file): READY was seen; read again
				 * so that every field is read after it;
				 * pairs with SEG-R0 in nshm__seg_hdr_publish(). The
				 * kernel's copy in pread() is no acquire
				 * load, so a fence orders the two reads (a
				 * syscall is not a barrier on every CPU).
				 */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpragmas"
#pragma GCC diagnostic ignored "-Wtsan" /* TSan does not model fences */
#endif
				atomic_thread_fence(memory_order_acquire);
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
				n = pread(seg->fd, h, sizeof(*h), 0);
				/*
				 * And the size again: the fstat above may
				 * predate the creator's sizing (READY came in
				 * between), and a stale size would make the
				 * caller's check call a good file truncated.
				 */
				if (n == (ssize_t)sizeof(*h) &&
				    fstat(seg->fd, st) == 0)
					return 0;
				return nshm__err(-NSHM_ETRUNCATED,
						 "\"%s\" is shorter than its header",
						 seg->nm.canon);
			}
			if (state == NSHM_SEG_POISONED)
				return nshm__err(-ENOTRECOVERABLE,
						 "\"%s\" was poisoned: delete and recreate it",
						 seg->nm.canon);
			if (state != NSHM_SEG_INIT)
				return nshm__err(-NSHM_ECORRUPT,
						 "\"%s\": state word %u is not a state",
						 seg->nm.canon, state);
			/* INIT, short or not: a creator at work (or dead). */
		}
		/* Empty, zero-filled or INIT: a creator may be at work. */
		if (nshm__now_ns() >= deadline_ns)
			break;
		nshm__seg_sleep_us(500);
	}
	if (st->st_size == 0)
		return nshm__err(-EBADMSG,
				 "\"%s\" is an empty file: not an nshm segment (or its creator died while creating it)",
				 seg->nm.canon);
	return nshm__err(-ETIMEDOUT,
			 "\"%s\" was not initialised in time (its creator may have died: delete it)",
			 seg->nm.canon);
}

static int file_open_existing(struct nshm_seg *seg, int dfd, size_t want)
{
	struct nshm_seg_hdr h;
	struct stat st;
	int ret;

	seg->writable = true;
	seg->fd = openat(dfd, seg->nm.leaf,
			 O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (seg->fd < 0 && errno == EACCES) {
		seg->writable = false; /* read-only attaches still possible */
		seg->fd = openat(dfd, seg->nm.leaf,
				 O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY |
					 O_CLOEXEC);
	}
	if (seg->fd < 0) {
		switch (errno) {
		case ENOENT:
			return nshm__err(-ENOENT, "no segment \"%s\"",
					 seg->nm.canon);
		case ELOOP:
			return nshm__err(-ELOOP,
					 "\"%s\" is a symbolic link: refused",
					 seg->nm.canon);
		case EACCES:
			return nshm__err(-EACCES,
					 "\"%s\": permission denied by its mode",
					 seg->nm.canon);
		default:
			return nshm__err(-errno, "opening \"%s\": %s",
					 seg->nm.canon, strerrordesc_np(errno));
		}
	}
	ret = nshm__seg_file_read_hdr(seg, &h, &st, nshm__now_ns() + nshm__seg_init_timeout_ns());
	if (ret < 0)
		return ret;
	ret = nshm__seg_owner_check(seg, st.st_uid);
	if (ret < 0)
		return ret;
	if (seg->nm.backend == NSHM_BACKEND_FILE && st.st_nlink != 1)
		return nshm__err(st.st_nlink == 0 ? -ENOENT : -EPERM,
				 st.st_nlink == 0 ? "\"%s\" was deleted meanwhile"
						  : "\"%s\" has other hard links: refused",
				 seg->nm.canon);
	ret = nshm__seg_hdr_check(&h, seg, (uint64_t)st.st_size);
	if (ret < 0)
		return ret;
	seg->owner = st.st_uid;
	seg->mode = st.st_mode & 0777;
	return nshm__seg_hdr_adopt(seg, &h, want);
}

int nshm__seg_file_open(struct nshm_seg *seg, size_t want)
{
	int dfd, ret = -ENOENT;

	dfd = open_dir(seg);
	if (dfd < 0)
		return dfd;
	/* Create, or open what exists; retry if it vanishes in between. */
	for (int tries = 0; tries < 8; tries++) {
		if (seg->flags & NSHM_CREATE) {
			ret = nshm__seg_file_create(seg, dfd);
			if (ret == 0) {
				seg->created = true;
				seg->writable = true;
				seg->owner = geteuid();
				seg->creator_pid = getpid();
				break;
			}
			if (ret != -EEXIST)
				break;
			if (seg->flags & NSHM_EXCL) {
				ret = nshm__err(-EEXIST, "\"%s\" exists",
						seg->nm.canon);
				break;
			}
		}
		nshm__err_clear();
		ret = file_open_existing(seg, dfd, want);
		if (ret != -ENOENT || !(seg->flags & NSHM_CREATE))
			break;
		if (seg->fd >= 0) {
			close(seg->fd);
			seg->fd = -1;
		}
	}
	close(dfd);
	return ret;
}

int nshm__seg_file_delete(struct nshm_seg *tmp)
{
	uint32_t magic = 0;
	struct stat st;
	int dfd, fd, ret = 0;

	dfd = open_dir(tmp);
	if (dfd < 0)
		return dfd;
	fd = openat(dfd, tmp->nm.leaf,
		    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		ret = errno == ENOENT  ? nshm__err(-ENOENT, "no segment \"%s\"",
						   tmp->nm.canon)
		      : errno == ELOOP ? nshm__err(-ELOOP,
						   "\"%s\" is a symbolic link: left alone",
						   tmp->nm.canon)
				       : nshm__err(-errno, "\"%s\": %s",
						   tmp->nm.canon,
						   strerrordesc_np(errno));
		goto out;
	}
	/*
	 * Only remove what is ours: a regular file whose magic is nshm's. An
	 * empty or tiny file can only be debris of a creator that died.
	 */
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    (st.st_size >= 8 &&
	     (pread(fd, &magic, sizeof(magic), 4) != sizeof(magic) ||
	      magic != NSHM_SEG_MAGIC))) {
		ret = nshm__err(-EBADMSG,
				"\"%s\" is not an nshm segment: left alone",
				tmp->nm.canon);
	} else if (unlinkat(dfd, tmp->nm.leaf, 0) != 0) {
		ret = nshm__err(-errno, "removing \"%s\": %s", tmp->nm.canon,
				strerrordesc_np(errno));
	}
	close(fd);
out:
	close(dfd);
	return ret;
}
