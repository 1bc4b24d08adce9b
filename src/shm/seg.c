/* SPDX-License-Identifier: MIT */
/*
 * Named segments: the NSPR lifecycle over three backends.
 *
 * Publication. A segment becomes visible under its name only once its
 * header is complete:
 *  - POSIX and file backends create an unnamed file (O_TMPFILE) in the
 *    target directory, fix its mode (fchmod: umask does not apply), allocate
 *    every byte (posix_fallocate: a full /dev/shm is -ENOSPC now, never a
 *    SIGBUS later), write the header, then link it under the name. linkat()
 *    fails with EEXIST if the name was taken meanwhile, which makes creation
 *    exclusive. Where O_TMPFILE or /proc is missing, the fallback is
 *    O_CREAT|O_EXCL plus the state word: openers wait for READY.
 *  - SysV segments are created exclusively by shmget(IPC_EXCL) and are
 *    zero-filled, so the state word reads INIT until the creator publishes;
 *    openers futex-wait on it with a deadline. A creator that is gone is
 *    taken for dead mid-init only if the state still reads INIT after that
 *    was found (it may have published and exited meanwhile).
 *  - nshm__seg_create_init() runs the caller's init on the mapped area
 *    before any of these publications, so higher layers publish whole.
 *
 * Validation. Opening an existing name reads the header with pread() (no
 * mapping, so a short or shrinking file cannot raise SIGBUS) and checks the
 * file type, owner, magic, layout version, checksum, every size field and
 * the file size, in that order, each failure with its own error code.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <linux/magic.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "shm/name.h"
#include "shm/registry.h"
#include "shm/seg_int.h"
#include "shm/seg_layout.h"
#include "shm/seg_test.h"

#define HANDLE_MAGIC 0x6e73686d5345474full /* "nshmSEGO" */
/* Larger than any machine's memory; keeps size arithmetic from wrapping. */
#define SIZE_LIMIT ((size_t)1 << 46)

#define OPEN_FLAGS                                                  \
	(NSHM_CREATE | NSHM_EXCL | NSHM_PREFAULT | NSHM_HUGEPAGES | \
	 NSHM_MLOCK | NSHM_ALLOW_OTHER_OWNER)
#define ATTACH_FLAGS (NSHM_READONLY | NSHM_PREFAULT | NSHM_MLOCK)

static int seg_attach(struct nshm_seg *seg, unsigned int flags,
		      struct nshm__mapping **out);
static int mapping_detach(struct nshm__mapping *m);

static _Atomic(const struct nshm__seg_hooks *) seg_hooks;
static _Atomic(uint64_t) next_serial = 1;

void nshm__seg_set_hooks(const struct nshm__seg_hooks *hooks)
{
	/* SEG-R2: pairs with SEG-A2 in nshm__seg_get_hooks(): the table is complete. */
	atomic_store_explicit(&seg_hooks, hooks, memory_order_release);
}

const struct nshm__seg_hooks *nshm__seg_get_hooks(void)
{
	/* SEG-A2: pairs with SEG-R2 in nshm__seg_set_hooks(). */
	return atomic_load_explicit(&seg_hooks, memory_order_acquire);
}

size_t nshm__seg_round_up(size_t x, size_t to)
{
	return (x + to - 1) / to * to;
}

/* ---- test hooks (src/shm/seg_test.h) ----------------------------------- */

static _Atomic(long) test_knob[NSHM__SEG_KNOB_COUNT] = {
	[NSHM__SEG_KNOB_INIT_TIMEOUT_MS] = -1,
};
static _Atomic(nshm__seg_test_fn *) test_fn;

long nshm__seg_test_set(int knob, long value)
{
	if (knob < 0 || knob >= NSHM__SEG_KNOB_COUNT)
		return LONG_MIN;
	/* Relaxed: a process-local setting, set before the code it steers. */
	return atomic_exchange_explicit(&test_knob[knob], value,
					memory_order_relaxed);
}

void nshm__seg_test_hook(nshm__seg_test_fn *fn)
{
	/* Relaxed: as for the knobs; the function itself is code. */
	atomic_store_explicit(&test_fn, fn, memory_order_relaxed);
}

static long knob(enum nshm__seg_knob k)
{
	return atomic_load_explicit(&test_knob[k], memory_order_relaxed);
}

void nshm__seg_test_point(enum nshm__seg_point point,
			  const struct nshm_seg *seg)
{
	nshm__seg_test_fn *fn =
		atomic_load_explicit(&test_fn, memory_order_relaxed);

	if (nshm_unlikely(fn != NULL))
		fn(point, seg->nm.canon);
}

/* ---- small helpers ------------------------------------------------------ */

uint64_t nshm__seg_init_timeout_ns(void)
{
	long ms = knob(NSHM__SEG_KNOB_INIT_TIMEOUT_MS);

	if (ms < 0)
		ms = NSHM_SEG_INIT_TIMEOUT_MS;
	return (uint64_t)ms * 1000000u;
}

static void sleep_us(long us)
{
	struct timespec ts = { .tv_sec = 0, .tv_nsec = us * 1000 };

	nanosleep(&ts, NULL);
}

unsigned long long nshm__seg_read_proc_ull(const char *path)
{
	unsigned long long v = 0;
	FILE *f = fopen(path, "re");

	if (f != NULL) {
		if (fscanf(f, "%llu", &v) != 1)
			v = 0;
		fclose(f);
	}
	return v;
}

static bool is_pow2(uint64_t x)
{
	return x != 0 && (x & (x - 1)) == 0;
}

static uint32_t hdr_checksum(const struct nshm_seg_hdr *h)
{
	const unsigned char *p = (const unsigned char *)h;

	return nshm__crc32c(p + offsetof(struct nshm_seg_hdr, magic),
			    offsetof(struct nshm_seg_hdr, checksum) -
				    offsetof(struct nshm_seg_hdr, magic));
}

/* Fill a fresh header (state stays INIT; the caller publishes). */
int nshm__seg_hdr_fill(struct nshm_seg_hdr *h, const struct nshm_seg *seg)
{
	const struct nshm__seg_hooks *hooks = nshm__seg_get_hooks();
	struct timespec now;
	size_t len = strlen(seg->nm.canon);

	clock_gettime(CLOCK_REALTIME, &now);
	h->magic = NSHM_SEG_MAGIC;
	h->layout = NSHM_SEG_LAYOUT;
	h->hdr_size = NSHM_SEG_HDR_SIZE;
	h->map_size = seg->map_size;
	h->user_size = seg->user_size;
	h->page_size = (uint32_t)seg->page_size;
	h->backend = (uint32_t)seg->nm.backend;
	h->flags = seg->huge ? NSHM_HUGEPAGES : 0;
	h->creator_pid = (uint32_t)getpid();
	h->creator_uid = (uint32_t)geteuid();
	if (len >= sizeof(h->name))
		len = sizeof(h->name) - 1; /* long file paths: informational */
	h->name_len = (uint32_t)len;
	memcpy(h->name, seg->nm.canon, len);
	h->created_ns = (uint64_t)now.tv_sec * 1000000000u +
			(uint64_t)now.tv_nsec;
	h->checksum = hdr_checksum(h);
	return hooks && hooks->init ? hooks->init(h) : 0;
}

void nshm__seg_hdr_publish(struct nshm_seg_hdr *h)
{
	/*
	 * SEG-R0: pairs with SEG-A0 in sysv_wait_ready(), file_read_hdr()
	 * and nshm__seg_sysv_delete() (and SEG-A1, through the kernel): every header
	 * field written before, and for nshm__seg_create_init() the caller's
	 * area too, is visible to whoever sees READY. (O_TMPFILE segments
	 * are published by their name instead: see file_create().)
	 */
	atomic_store_explicit(&h->state, NSHM_SEG_READY, memory_order_release);
	/* Shared futex (no PRIVATE flag): waiters are other processes. */
	syscall(SYS_futex, &h->state, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/*
 * Check a header copy. @have is the backing object's size in bytes.
 * @return 0 or the error for what is wrong, with details.
 */
int nshm__seg_hdr_check(const struct nshm_seg_hdr *h,
			const struct nshm_seg *seg, uint64_t have)
{
	const char *nm = seg->nm.canon;

	if (h->magic != NSHM_SEG_MAGIC)
		return nshm__err(-EBADMSG,
				 "\"%s\" is not an nshm segment (magic %08x)",
				 nm, h->magic);
	if (h->layout != NSHM_SEG_LAYOUT)
		return nshm__err(-EPROTO,
				 "\"%s\" has layout %08x (version %u); this build reads layout %08x (version %u)",
				 nm, h->layout, h->layout & 0xffu,
				 NSHM_SEG_LAYOUT, NSHM_SEG_VERSION);
	if (h->checksum != hdr_checksum(h))
		return nshm__err(-NSHM_ECORRUPT,
				 "\"%s\": header checksum %08x, computed %08x",
				 nm, h->checksum, hdr_checksum(h));
	/* The checksum can be forged too: bound every field we will use. */
	if (h->hdr_size != NSHM_SEG_HDR_SIZE || !is_pow2(h->page_size) ||
	    h->page_size < NSHM_SEG_HDR_SIZE || h->page_size > (1u << 30) ||
	    h->user_size == 0 || h->user_size > SIZE_LIMIT ||
	    h->map_size > SIZE_LIMIT + (1u << 30) ||
	    h->map_size % h->page_size != 0 ||
	    h->map_size < NSHM_SEG_HDR_SIZE + h->user_size ||
	    h->backend != (uint32_t)seg->nm.backend ||
	    h->name_len >= sizeof(h->name) || h->name[h->name_len] != '\0')
		return nshm__err(-NSHM_ECORRUPT,
				 "\"%s\": header fields out of range (map %llu, user %llu, page %u, backend %u)",
				 nm, (unsigned long long)h->map_size,
				 (unsigned long long)h->user_size, h->page_size,
				 h->backend);
	if (seg->nm.backend == NSHM_BACKEND_SYSV &&
	    strcmp(h->name, seg->nm.canon) != 0)
		return nshm__err(-NSHM_ECOLLISION,
				 "SysV key 0x%08x of \"%s\" is used by \"%s\"",
				 seg->nm.sysv_key, nm, h->name);
	if (have < h->map_size)
		return nshm__err(-NSHM_ETRUNCATED,
				 "\"%s\" is %llu bytes but its header says %llu",
				 nm, (unsigned long long)have,
				 (unsigned long long)h->map_size);
	return 0;
}

/* Take what a validated header says into the handle. */
int nshm__seg_hdr_adopt(struct nshm_seg *seg, const struct nshm_seg_hdr *h,
			size_t want)
{
	if (want > h->user_size)
		return nshm__err(-EINVAL,
				 "\"%s\" exists with %llu bytes; %zu were asked for",
				 seg->nm.canon,
				 (unsigned long long)h->user_size, want);
	seg->user_size = h->user_size;
	seg->map_size = h->map_size;
	seg->page_size = h->page_size;
	seg->huge = (h->flags & NSHM_HUGEPAGES) != 0;
	seg->creator_pid = (pid_t)h->creator_pid;
	return 0;
}

/* Is this owner acceptable? */
int nshm__seg_owner_check(const struct nshm_seg *seg, uid_t uid)
{
	if (uid == geteuid() || (seg->flags & NSHM_ALLOW_OTHER_OWNER))
		return 0;
	return nshm__err(-EPERM,
			 "\"%s\" is owned by uid %u, not by you (uid %u); pass NSHM_ALLOW_OTHER_OWNER to trust it",
			 seg->nm.canon, (unsigned)uid, (unsigned)geteuid());
}

/* Details for an allocation that hit the space of @dir. */
static int no_space(int err, const struct nshm_seg *seg)
{
	struct statvfs sv;
	unsigned long long avail = 0, total = 0;
	bool is_shm = seg->nm.backend == NSHM_BACKEND_POSIX;

	if (statvfs(seg->nm.dir, &sv) == 0) {
		avail = (unsigned long long)sv.f_bavail * sv.f_frsize;
		total = (unsigned long long)sv.f_blocks * sv.f_frsize;
	}
	if (err == EFBIG)
		return nshm__err(-EFBIG,
				 "%zu bytes exceed the file size limit (ulimit -f, or the file system's maximum)",
				 seg->map_size);
	return nshm__err(-ENOSPC,
			 "\"%s\" needs %zu KiB but %s has %llu KiB free of %llu KiB; %s",
			 seg->nm.canon, seg->map_size >> 10, seg->nm.dir,
			 avail >> 10, total >> 10,
			 is_shm ? "raise it with 'mount -o remount,size=2G /dev/shm' (docker: --shm-size=2g)"
				: "free space there or choose another directory");
}

/* Map ENOMEM from mmap/shmat to the limit most likely behind it. */
int nshm__seg_no_map(int err, size_t len)
{
	if (err != ENOMEM)
		return nshm__err(-err, "mapping %zu bytes failed: %s", len,
				 strerrordesc_np(err));
	return nshm__err(-ENOMEM,
			 "cannot map %zu bytes: out of address space or vm.max_map_count (%llu) mappings; raise it with 'sysctl vm.max_map_count=262144' or detach unused mappings",
			 len, nshm__seg_read_proc_ull("/proc/sys/vm/max_map_count"));
}

/* ---- building the caller's area before publication ---------------------- */

/*
 * nshm__seg_create_init(): map the new, not yet published segment
 * read-write and run the caller's init on its area. A failure undoes the
 * mapping; the caller then makes sure no name is left.
 */
int nshm__seg_init_area(struct nshm_seg *seg)
{
	struct seg_init *in = seg->init;
	int ret;

	if (in == NULL)
		return 0;
	ret = seg_attach(seg, in->attach_flags, &in->m);
	if (ret < 0)
		return ret;
	nshm__err_clear();
	ret = in->fn(in->m->area, seg->user_size, in->arg);
	if (ret > 0)
		ret = nshm__err(-EINVAL, "init of \"%s\" returned %d, not 0 or a negative error",
				seg->nm.canon, ret);
	else if (ret < 0 && nshm_errdetail()[0] == '\0')
		ret = nshm__err(ret, "init of \"%s\" failed: %s", seg->nm.canon,
				nshm_strerror(ret));
	if (ret < 0) {
		char why[512];

		snprintf(why, sizeof(why), "%s", nshm_errdetail());
		/* Refused only if init left a lock held: then it stays mapped. */
		mapping_detach(in->m);
		in->m = NULL;
		nshm__err(ret, "%s", why);
	}
	return ret;
}

/* Undo nshm__seg_init_area() after a publication that failed. */
static void init_undo(struct nshm_seg *seg)
{
	if (seg->init != NULL && seg->init->m != NULL) {
		mapping_detach(seg->init->m);
		seg->init->m = NULL;
	}
}

/* The header of the segment seg is creating, through init's mapping. */
struct nshm_seg_hdr *nshm__seg_init_hdr(const struct nshm_seg *seg)
{
	return nshm__seg_hdr(seg->init->m->area);
}

/* ---- POSIX and file backends --------------------------------------------- */

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
		return no_space(ret, seg);
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
static int file_create(struct nshm_seg *seg, int dfd)
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
	if (knob(NSHM__SEG_KNOB_NO_TMPFILE) != 0) {
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
		init_undo(seg);
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
static int file_read_hdr(struct nshm_seg *seg, struct nshm_seg_hdr *h,
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
		sleep_us(500);
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
	ret = file_read_hdr(seg, &h, &st, nshm__now_ns() + nshm__seg_init_timeout_ns());
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

static int file_open(struct nshm_seg *seg, size_t want)
{
	int dfd, ret = -ENOENT;

	dfd = open_dir(seg);
	if (dfd < 0)
		return dfd;
	/* Create, or open what exists; retry if it vanishes in between. */
	for (int tries = 0; tries < 8; tries++) {
		if (seg->flags & NSHM_CREATE) {
			ret = file_create(seg, dfd);
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

/* ---- public API ------------------------------------------------------------ */

/* @return the handle if it is open, else NULL (never dereferences junk). */
static struct nshm_seg *handle_get(const struct nshm_seg *seg)
{
	bool live;

	if (seg == NULL || nshm__reg_init() != 0)
		return NULL;
	rcu_read_lock();
	live = nshm__reg_handle_live(seg);
	rcu_read_unlock();
	return live ? (struct nshm_seg *)seg : NULL;
}

static int seg_open(const char *name, size_t size, unsigned int flags,
		    unsigned int mode, struct seg_init *init,
		    struct nshm_seg **out)
{
	struct nshm_seg *seg;
	int ret;

	if (out == NULL)
		return nshm__err(-EINVAL, "out is NULL");
	if (flags & ~OPEN_FLAGS)
		return nshm__err(-EINVAL, "unknown open flags 0x%x",
				 flags & ~OPEN_FLAGS);
	if ((flags & NSHM_EXCL) && !(flags & NSHM_CREATE))
		return nshm__err(-EINVAL, "NSHM_EXCL needs NSHM_CREATE");
	if (mode & ~0777u)
		return nshm__err(-EINVAL, "mode 0%o has bits outside 0777", mode);
	if (size > SIZE_LIMIT)
		return nshm__err(-EFBIG, "size %zu is larger than any machine",
				 size);
	if (nshm__reg_init() != 0)
		return -ENOMEM;

	seg = calloc(1, sizeof(*seg));
	if (seg == NULL)
		return -ENOMEM;
	ret = nshm__name_parse(name, &seg->nm);
	if (ret < 0)
		goto err_free;
	if ((flags & NSHM_CREATE) && size == 0) {
		/* Only an error if we would have to create it. */
		struct nshm_seg *probe;

		ret = nshm_seg_open(name, 0, flags & ~(NSHM_CREATE | NSHM_EXCL),
				    mode, &probe);
		if (ret == 0 && (flags & NSHM_EXCL)) {
			nshm_seg_close(probe);
			ret = nshm__err(-EEXIST, "\"%s\" exists", seg->nm.canon);
		} else if (ret == 0) {
			free(seg);
			*out = probe;
			return 0;
		} else if (ret == -ENOENT) {
			ret = nshm__err(-EINVAL,
					"size 0: a new segment needs a size");
		}
		goto err_free;
	}
	seg->magic = HANDLE_MAGIC;
	seg->serial = atomic_fetch_add_explicit(&next_serial, 1,
						memory_order_relaxed); /* unique id only */
	seg->fd = -1;
	seg->shmid = -1;
	seg->flags = flags;
	seg->mode = mode ? mode : NSHM_MODE_DEFAULT;
	seg->user_size = size;
	seg->init = init;

	if (seg->nm.backend == NSHM_BACKEND_SYSV)
		ret = nshm__seg_sysv_open(seg, size);
	else
		ret = file_open(seg, size);
	seg->init = NULL;
	if (ret < 0)
		goto err_close;

	nshm__reg_add_handle(&seg->reg, seg);
	*out = seg;
	return 0;

err_close:
	if (seg->fd >= 0)
		close(seg->fd);
err_free:
	free(seg);
	return ret;
}

int nshm_seg_open(const char *name, size_t size, unsigned int flags,
		  unsigned int mode, struct nshm_seg **out)
{
	nshm__err_clear();
	return seg_open(name, size, flags, mode, NULL, out);
}

int nshm__seg_create_init(const char *name, size_t size, unsigned int flags,
			  unsigned int mode,
			  int (*init)(void *area, size_t size, void *arg),
			  void *arg, struct nshm_seg **seg_out,
			  void **area_out)
{
	struct seg_init in = { .fn = init, .arg = arg };
	struct nshm_seg *seg = NULL;
	int ret;

	nshm__err_clear();
	if (init == NULL || seg_out == NULL || area_out == NULL)
		return nshm__err(-EINVAL, "init, seg_out or area_out is NULL");
	if (size == 0)
		return nshm__err(-EINVAL, "size 0: a new segment needs a size");
	in.attach_flags = flags & (NSHM_PREFAULT | NSHM_MLOCK);
	ret = seg_open(name, size, flags | NSHM_CREATE | NSHM_EXCL, mode, &in,
		       &seg);
	if (ret < 0)
		return ret;
	*seg_out = seg;
	*area_out = in.m->area;
	return 0;
}

static int map_segment(struct nshm_seg *seg, bool ro, unsigned int flags,
		       void **base)
{
	int prot = ro ? PROT_READ : PROT_READ | PROT_WRITE;
	struct stat st;
	void *p;

	if (seg->nm.backend == NSHM_BACKEND_SYSV) {
		p = shmat(seg->shmid, NULL, ro ? SHM_RDONLY : 0);
		if (p == (void *)-1) {
			if (errno == EINVAL || errno == EIDRM)
				return nshm__err(-ENOENT,
						 "\"%s\" was deleted and nothing maps it any more",
						 seg->nm.canon);
			return errno == ENOMEM ? nshm__seg_no_map(errno, seg->map_size)
					       : nshm__seg_sysv_error(errno, seg);
		}
	} else {
		if (fstat(seg->fd, &st) != 0)
			return nshm__err(-errno, "fstat: %s",
					 strerrordesc_np(errno));
		if ((uint64_t)st.st_size < seg->map_size)
			return nshm__err(-NSHM_ETRUNCATED,
					 "\"%s\" was truncated to %lld bytes (needs %zu)",
					 seg->nm.canon, (long long)st.st_size,
					 seg->map_size);
		p = mmap(NULL, seg->map_size, prot, MAP_SHARED, seg->fd, 0);
		if (p == MAP_FAILED)
			return nshm__seg_no_map(errno, seg->map_size);
		if (seg->huge && seg->page_size == NSHM_SEG_HDR_SIZE)
			madvise(p, seg->map_size, MADV_HUGEPAGE); /* THP */
	}
	if (flags & NSHM_MLOCK) {
		if (mlock(p, seg->map_size) != 0) {
			struct rlimit rl = { 0, 0 };
			int err = errno;

			getrlimit(RLIMIT_MEMLOCK, &rl);
			if (seg->nm.backend == NSHM_BACKEND_SYSV)
				shmdt(p);
			else
				munmap(p, seg->map_size);
			return nshm__err(-ENOMEM,
					 "mlock of %zu KiB failed (%s): RLIMIT_MEMLOCK is %llu KiB; raise it with 'ulimit -l' or memlock in /etc/security/limits.conf",
					 seg->map_size >> 10,
					 strerrordesc_np(err),
					 rl.rlim_cur == RLIM_INFINITY
						 ? ~0ull
						 : (unsigned long long)rl.rlim_cur >> 10);
		}
	}
	if (flags & NSHM_PREFAULT) {
		/* Populate page tables without changing a byte of content. */
		if (madvise(p, seg->map_size,
			    ro ? MADV_POPULATE_READ : MADV_POPULATE_WRITE) != 0) {
			volatile const unsigned char *q = p;

			for (size_t off = 0; off < seg->map_size;
			     off += seg->page_size)
				(void)q[off];
		}
	}
	*base = p;
	return 0;
}

static void unmap_segment(int backend, void *base, size_t len)
{
	if (backend == NSHM_BACKEND_SYSV)
		shmdt(base);
	else
		munmap(base, len);
}

/* Map @seg, run the attached hook, register the mapping (flags checked). */
static int seg_attach(struct nshm_seg *seg, unsigned int flags,
		      struct nshm__mapping **out)
{
	const struct nshm__seg_hooks *hooks = nshm__seg_get_hooks();
	struct nshm__mapping *m;
	struct nshm_seg_hdr *h;
	bool ro = flags & NSHM_READONLY;
	void *base = NULL;
	int ret;

	flags |= seg->flags & (NSHM_PREFAULT | NSHM_MLOCK);

	m = calloc(1, sizeof(*m));
	if (m == NULL)
		return -ENOMEM;
	ret = map_segment(seg, ro, flags, &base);
	if (ret < 0)
		goto err_free;
	h = base;
	/* The same object we validated at open? (SEG-A0 was done at open.) */
	if (h->magic != NSHM_SEG_MAGIC || h->layout != NSHM_SEG_LAYOUT ||
	    h->map_size != seg->map_size) {
		ret = nshm__err(-NSHM_ECORRUPT,
				"\"%s\": header changed since open",
				seg->nm.canon);
		goto err_unmap;
	}
	m->area = (unsigned char *)base + NSHM_SEG_HDR_SIZE;
	m->base = base;
	m->len = seg->map_size;
	m->owner = seg->serial;
	m->backend = seg->nm.backend;
	m->readonly = ro;
	if (hooks && hooks->attached) {
		ret = hooks->attached(h, m->len, seg->fd, seg->shmid, ro,
				       &m->cookie);
		if (ret < 0)
			goto err_unmap;
	}
	nshm__reg_add_map(m);
	*out = m;
	return 0;

err_unmap:
	unmap_segment(seg->nm.backend, base, seg->map_size);
err_free:
	free(m);
	return ret;
}

int nshm_seg_attach(struct nshm_seg *seg, unsigned int flags, void **addr)
{
	struct nshm__mapping *m;
	int ret;

	nshm__err_clear();
	seg = handle_get(seg);
	if (seg == NULL)
		return nshm__err(-EBADF, "not an open segment handle");
	if (addr == NULL)
		return nshm__err(-EINVAL, "addr is NULL");
	if (flags & ~ATTACH_FLAGS)
		return nshm__err(-EINVAL, "unknown attach flags 0x%x",
				 flags & ~ATTACH_FLAGS);
	if (!(flags & NSHM_READONLY) && !seg->writable)
		return nshm__err(-EACCES,
				 "\"%s\" is read-only for you: attach with NSHM_READONLY",
				 seg->nm.canon);
	ret = seg_attach(seg, flags, &m);
	if (ret == 0)
		*addr = m->area;
	return ret;
}

/*
 * Unmap @m, already unlinked from the table (so no other thread can detach
 * it), unless the detaching hook refuses: then it goes back.
 */
static int mapping_release(struct nshm__mapping *m)
{
	const struct nshm__seg_hooks *hooks = nshm__seg_get_hooks();
	int ret;

	if (hooks && hooks->detaching) {
		ret = hooks->detaching(m->base, m->cookie);
		if (ret < 0) {
			/* Refused: the mapping stays, in a fresh node. */
			nshm__reg_readd_map(m);
			return ret;
		}
	}
	unmap_segment(m->backend, m->base, m->len);
	nshm__reg_wait_readers();
	free(m);
	return 0;
}

/* Unlink and unmap a mapping this file holds a pointer to. */
static int mapping_detach(struct nshm__mapping *m)
{
	int ret;

	rcu_read_lock();
	ret = nshm__reg_del_map(m);
	rcu_read_unlock();
	return ret == 0 ? mapping_release(m) : ret;
}

int nshm_seg_detach(struct nshm_seg *seg, void *addr)
{
	struct nshm__mapping *m;

	nshm__err_clear();
	if (seg != NULL && handle_get(seg) == NULL)
		return nshm__err(-EBADF, "not an open segment handle");
	if (nshm__reg_init() != 0)
		return -ENOMEM;
	rcu_read_lock();
	m = nshm__reg_find_map(addr);
	if (m == NULL || (seg != NULL && m->owner != seg->serial) ||
	    nshm__reg_del_map(m) != 0) {
		rcu_read_unlock();
		return nshm__err(-EINVAL,
				 "%p is not a live mapping%s", addr,
				 seg ? " of this handle" : "");
	}
	rcu_read_unlock();
	return mapping_release(m);
}

int nshm_seg_close(struct nshm_seg *seg)
{
	struct nshm__handle_node *h;

	nshm__err_clear();
	if (nshm__reg_init() != 0 || nshm__reg_del_handle(seg, &h) != 0)
		return nshm__err(-EBADF, "not an open segment handle");
	if (seg->fd >= 0)
		close(seg->fd);
	seg->magic = 0;
	nshm__reg_wait_readers();
	free(seg);
	return 0;
}

size_t nshm_seg_size(const struct nshm_seg *seg)
{
	seg = handle_get(seg);
	return seg ? seg->user_size : 0;
}

int nshm_seg_stat(const struct nshm_seg *seg, struct nshm_seg_info *info)
{
	nshm__err_clear();
	seg = handle_get(seg);
	if (seg == NULL)
		return nshm__err(-EBADF, "not an open segment handle");
	if (info == NULL)
		return nshm__err(-EINVAL, "info is NULL");
	memset(info, 0, sizeof(*info));
	info->backend = seg->nm.backend;
	info->size = seg->user_size;
	info->map_size = seg->map_size;
	info->page_size = seg->page_size;
	info->huge = seg->huge;
	info->created = seg->created;
	info->owner = seg->owner;
	info->mode = seg->mode;
	info->creator_pid = seg->creator_pid;
	rcu_read_lock();
	info->attached = nshm__reg_count_maps(seg->serial);
	rcu_read_unlock();
	snprintf(info->name, sizeof(info->name), "%s", seg->nm.canon);
	return 0;
}

int nshm__seg_mapping(void *area, uint64_t *cookie, bool *readonly)
{
	struct nshm__mapping *m;
	int ret = -EINVAL;

	if (nshm__reg_init() != 0)
		return -ENOMEM;
	rcu_read_lock();
	m = nshm__reg_find_map(area);
	if (m != NULL) {
		if (cookie)
			*cookie = m->cookie;
		if (readonly)
			*readonly = m->readonly;
		ret = 0;
	}
	rcu_read_unlock();
	return ret;
}

/* ---- delete ------------------------------------------------------------- */

static int file_delete(struct nshm_seg *tmp)
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

int nshm_seg_delete(const char *name)
{
	struct nshm_seg tmp;
	int ret;

	nshm__err_clear();
	memset(&tmp, 0, sizeof(tmp));
	ret = nshm__name_parse(name, &tmp.nm);
	if (ret < 0)
		return ret;
	if (tmp.nm.backend == NSHM_BACKEND_SYSV)
		return nshm__seg_sysv_delete(&tmp);
	return file_delete(&tmp);
}
