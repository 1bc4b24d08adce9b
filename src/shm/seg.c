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

long nshm__seg_knob(enum nshm__seg_knob k)
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
	long ms = nshm__seg_knob(NSHM__SEG_KNOB_INIT_TIMEOUT_MS);

	if (ms < 0)
		ms = NSHM_SEG_INIT_TIMEOUT_MS;
	return (uint64_t)ms * 1000000u;
}

void nshm__seg_sleep_us(long us)
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
	 * SEG-R0: pairs with SEG-A0 in sysv_wait_ready(), nshm__seg_file_read_hdr()
	 * and nshm__seg_sysv_delete() (and SEG-A1, through the kernel): every header
	 * field written before, and for nshm__seg_create_init() the caller's
	 * area too, is visible to whoever sees READY. (O_TMPFILE segments
	 * are published by their name instead: see nshm__seg_file_create().)
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
int nshm__seg_no_space(int err, const struct nshm_seg *seg)
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
void nshm__seg_init_undo(struct nshm_seg *seg)
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
		ret = nshm__seg_file_open(seg, size);
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
	return nshm__seg_file_delete(&tmp);
}
