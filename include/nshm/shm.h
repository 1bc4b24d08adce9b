/* SPDX-License-Identifier: MIT */
#ifndef NSHM_SHM_H
#define NSHM_SHM_H

/*
 * Named shared-memory segments, with NSPR's lifecycle.
 *
 *	nshm_seg_open()    handle for a name, creating the segment if asked
 *	nshm_seg_attach()  map it (again and again, also after a detach)
 *	nshm_seg_detach()  unmap one mapping
 *	nshm_seg_close()   free the handle; mappings and the segment stay
 *	nshm_seg_delete()  remove the name; existing mappings keep working
 *
 * Names pick the backend:
 *
 *	"ticks"  or "/ticks"     POSIX shared memory, /dev/shm/ticks
 *	"sysv:ticks"             System V shared memory; the key is a hash of
 *	                         the name, and the name is kept in the header
 *	                         so two names sharing a key are told apart
 *	"file:/mnt/huge/ticks"   a file at that path (hugetlbfs mounts,
 *	"file:data/ticks"        persistence on disk); relative to the cwd
 *
 * A POSIX or SysV name is 1..NSHM_NAME_MAX characters from [A-Za-z0-9._-],
 * not starting with '.', with at most one leading '/'. A file path has no
 * ".." component, no control characters, and does not end in '/'.
 *
 * Persistence: POSIX and SysV segments live until nshm_seg_delete() or a
 * reboot; file segments live on in their file system.
 *
 * Every segment starts with a 4 KiB header page (magic, layout version,
 * sizes, a checksum); the caller's area starts page-aligned after it, and
 * the address attach returns is that area. A segment is published complete
 * or not at all: a concurrent opener never sees a half-made header.
 *
 * Concurrency: a handle is used by one thread at a time; different handles,
 * in any process, are independent. nshm_seg_detach() with a NULL handle and
 * nshm_seg_delete() may be called from any thread.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <nshm/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Longest POSIX/SysV name, not counting a "sysv:" prefix or leading '/'. */
#define NSHM_NAME_MAX 200
/* Bytes before the caller's area: the header page. */
#define NSHM_SEG_HDR_SIZE 4096u
/* Mode used when nshm_seg_open() is given mode 0. */
#define NSHM_MODE_DEFAULT 0600u
/*
 * How long nshm_seg_open() waits for a segment that another process is
 * still creating (SysV, and files where O_TMPFILE is missing) before it
 * fails with -ETIMEDOUT. A fixed constant, not a setting.
 */
#define NSHM_SEG_INIT_TIMEOUT_MS 1000

/* Opaque: no inline code needs its fields. */
struct nshm_seg;

/* Flags for nshm_seg_open(). */
#define NSHM_CREATE 0x0001u	 /* create the segment if the name is free */
#define NSHM_EXCL 0x0002u	 /* with CREATE: fail with -EEXIST if it exists */
#define NSHM_PREFAULT 0x0010u	 /* touch every page at attach (also for attach) */
#define NSHM_HUGEPAGES 0x0020u	 /* back with huge pages, else normal pages */
#define NSHM_MLOCK 0x0040u	 /* mlock every mapping (also for attach) */
#define NSHM_ALLOW_OTHER_OWNER 0x0100u /* trust a segment another uid owns */
/* Flags for nshm_seg_attach(). */
#define NSHM_READONLY 0x0004u /* map PROT_READ: a write faults */

enum nshm_backend {
	NSHM_BACKEND_POSIX = 0,
	NSHM_BACKEND_SYSV = 1,
	NSHM_BACKEND_FILE = 2,
};

struct nshm_seg_info {
	enum nshm_backend backend;
	size_t size;	    /* the caller's area, as created */
	size_t map_size;    /* one whole mapping: header page + area, rounded */
	size_t page_size;   /* page size of the backing memory */
	bool huge;	    /* huge pages back it (hugetlb or THP advised) */
	bool created;	    /* this handle created the segment */
	uid_t owner;	    /* owning uid */
	unsigned int mode;  /* permission bits */
	pid_t creator_pid;  /* pid of the creator, in its pid namespace */
	unsigned int attached; /* live mappings made through this handle */
	char name[NSHM_NAME_MAX + 4096 + 8]; /* the name as given, prefix too */
};

/**
 * Open the segment @p name, creating it with CREATE.
 *
 * @param name  see "Names pick the backend" above.
 * @param size  bytes in the caller's area. Creating: must be > 0. Opening an
 *              existing segment: 0 means "whatever it has"; a larger size than
 *              it has fails, a smaller one is fine (attach maps all of it).
 * @param flags NSHM_CREATE, NSHM_EXCL, NSHM_PREFAULT, NSHM_HUGEPAGES,
 *              NSHM_MLOCK, NSHM_ALLOW_OTHER_OWNER.
 * @param mode  permission bits (<= 0777) for a new segment, applied exactly
 *              (not bent by umask); 0 means NSHM_MODE_DEFAULT (0600).
 * @param[out] out  the handle; written only on success.
 * @return 0, or -EINVAL, -NSHM_EBADNAME, -ENAMETOOLONG, -EEXIST, -ENOENT,
 *         -EACCES, -EPERM, -ELOOP, -EBADMSG, -EPROTO, -NSHM_ECORRUPT,
 *         -NSHM_ETRUNCATED, -NSHM_ECOLLISION, -ENOSPC, -EFBIG, -ENOMEM,
 *         -ETIMEDOUT (its creator did not publish it within
 *         NSHM_SEG_INIT_TIMEOUT_MS, or died before publishing: the detail
 *         says which), -ENOTRECOVERABLE (see nshm/common.h). Creating
 *         allocates all memory now, so a full /dev/shm is -ENOSPC here and
 *         never a SIGBUS later. A failed create leaves nothing behind.
 */
NSHM_API int nshm_seg_open(const char *name, size_t size, unsigned int flags,
			   unsigned int mode, struct nshm_seg **out);

/**
 * Map the segment; may be called any number of times, each call making a
 * new mapping of the whole segment at a new address.
 *
 * @param flags  NSHM_READONLY, NSHM_PREFAULT, NSHM_MLOCK (the last two also
 *               apply when given to nshm_seg_open()).
 * @param[out] addr  the caller's area (page-aligned); written only on success.
 * @return 0, or -EBADF (closed handle), -EINVAL (flags), -EACCES (the handle
 *         was opened read-only and READONLY is missing), -NSHM_ETRUNCATED
 *         (shrunk since open), -ENOMEM (address space, vm.max_map_count,
 *         RLIMIT_MEMLOCK with NSHM_MLOCK).
 */
NSHM_API int nshm_seg_attach(struct nshm_seg *seg, unsigned int flags,
			     void **addr);

/**
 * Unmap a mapping made by nshm_seg_attach().
 *
 * @param seg   the handle that made it, or NULL for any handle (also one
 *              that is closed already: NSPR's detach ignores the handle).
 * @param addr  the address attach returned.
 * @return 0, or -EINVAL when @p addr is not a live mapping of @p seg (NULL,
 *         interior, foreign or already detached: nothing is unmapped),
 *         -EBADF (closed handle), -EBUSY (this process holds a lock that
 *         lives in the mapping).
 */
NSHM_API int nshm_seg_detach(struct nshm_seg *seg, void *addr);

/**
 * Free the handle. Mappings it made stay valid (detach them with
 * nshm_seg_detach(NULL, addr)); the segment and its name stay.
 *
 * @return 0, or -EBADF when @p seg is not an open handle (double close).
 */
NSHM_API int nshm_seg_close(struct nshm_seg *seg);

/**
 * Remove the name. Mappings in every process keep working; a later open
 * with CREATE makes a new, zero-filled segment.
 *
 * @return 0, or -NSHM_EBADNAME, -ENAMETOOLONG, -ENOENT, -EACCES, -EPERM,
 *         -EBADMSG (the name holds something that is not an nshm segment:
 *         it is left alone).
 */
NSHM_API int nshm_seg_delete(const char *name);

/** @return the size of the caller's area, or 0 for a closed handle. */
NSHM_API size_t nshm_seg_size(const struct nshm_seg *seg);

/**
 * Describe an open segment.
 * @return 0, or -EBADF, -EINVAL (NULL @p info).
 */
NSHM_API int nshm_seg_stat(const struct nshm_seg *seg,
			   struct nshm_seg_info *info);

/**
 * Check a name without touching the system.
 * @return 0, -EINVAL (NULL), -NSHM_EBADNAME or -ENAMETOOLONG.
 */
NSHM_API int nshm_name_check(const char *name);

#ifdef __cplusplus
}
#endif
#endif /* NSHM_SHM_H */
