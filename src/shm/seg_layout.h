/* SPDX-License-Identifier: MIT */
#ifndef NSHM_SEG_LAYOUT_H
#define NSHM_SEG_LAYOUT_H

/*
 * The header page at offset 0 of every nshm segment, and the internal
 * interface the higher layers (sync, ring) use to reach it. Never installed.
 */

#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <nshm/shm.h>

#define NSHM_SEG_MAGIC 0x4d48534eu /* "NSHM" read as little-endian */
#define NSHM_SEG_VERSION 1u

/*
 * Like LMDB's MDB_LOCK_FORMAT: the version folded with the sizes we cannot
 * see inside, so a build with another header or pointer size is refused
 * (-EPROTO) instead of misreading the header. sizeof(pthread_mutex_t) is
 * folded in from when the control block held a glibc mutex; it stays so
 * the word does not change. The control block, which holds no pthread
 * object now, carries its own magic and version (src/sync/ctl.h).
 */
#define NSHM_SEG_LAYOUT                                   \
	((uint32_t)NSHM_SEG_VERSION |                     \
	 (uint32_t)(sizeof(pthread_mutex_t) / 4) << 8 |   \
	 (uint32_t)(NSHM_SEG_HDR_SIZE / 1024) << 16 |     \
	 (uint32_t)(sizeof(void *) / 4) << 24)

enum nshm_seg_state {
	NSHM_SEG_INIT = 0,     /* creator still filling the header (zero fill) */
	NSHM_SEG_READY = 1,    /* header valid */
	NSHM_SEG_POISONED = 2, /* unrecoverable: delete and recreate */
};

/*
 * Bytes [NSHM_SEG_CTL_OFFSET, NSHM_SEG_HDR_SIZE) belong to the sync layer,
 * and so do byte-range locks at file offsets 2^40 + slot (participant
 * liveness tokens, src/sync/peer.c): the segment layer never locks there.
 */
#define NSHM_SEG_CTL_OFFSET 1024u
#define NSHM_SEG_CTL_SIZE (NSHM_SEG_HDR_SIZE - NSHM_SEG_CTL_OFFSET)
#define NSHM_SEG_NAME_BYTES 256u

/*
 * ABI: never reorder, only append below `checksum`'s range by bumping
 * NSHM_SEG_VERSION. Every field but `state` and `ctl` is written once by the
 * creator before it publishes state = READY and never changes after.
 */
struct nshm_seg_hdr {
	_Atomic(uint32_t) state; /*  0: enum nshm_seg_state; futex word */
	uint32_t magic;		 /*  4: NSHM_SEG_MAGIC */
	uint32_t layout;	 /*  8: NSHM_SEG_LAYOUT */
	uint32_t hdr_size;	 /* 12: NSHM_SEG_HDR_SIZE */
	uint64_t map_size;	 /* 16: bytes of one whole mapping */
	uint64_t user_size;	 /* 24: caller's area, as asked at create */
	uint32_t page_size;	 /* 32: page size of the backing */
	uint32_t backend;	 /* 36: enum nshm_backend */
	uint32_t flags;		 /* 40: NSHM_HUGEPAGES if huge pages back it */
	uint32_t creator_pid;	 /* 44: diagnostics only */
	uint32_t creator_uid;	 /* 48 */
	uint32_t name_len;	 /* 52 */
	uint64_t created_ns;	 /* 56: CLOCK_REALTIME at creation */
	char name[NSHM_SEG_NAME_BYTES]; /* 64: canonical name, NUL padded */
	uint32_t checksum;	 /* 320: CRC-32C of bytes [4, 320) */
	uint32_t reserved0;	 /* 324 */
	unsigned char reserved[NSHM_SEG_CTL_OFFSET - 328];
	/* 1024: the sync layer's control block (its lock, the participants) */
	_Alignas(64) unsigned char ctl[NSHM_SEG_CTL_SIZE];
};

static_assert(ATOMIC_INT_LOCK_FREE == 2,
	      "lock-based atomics do not work across processes");
static_assert(sizeof(_Atomic(uint32_t)) == sizeof(uint32_t),
	      "futex words must be plain 32-bit");
static_assert(offsetof(struct nshm_seg_hdr, checksum) == 320,
	      "segment header is ABI: bump NSHM_SEG_VERSION");
static_assert(offsetof(struct nshm_seg_hdr, ctl) == NSHM_SEG_CTL_OFFSET,
	      "control block offset is ABI");
static_assert(sizeof(struct nshm_seg_hdr) == NSHM_SEG_HDR_SIZE,
	      "the header is exactly one page");

/* The header page of a mapping, from the address attach returned. */
static inline struct nshm_seg_hdr *nshm__seg_hdr(void *area)
{
	return (struct nshm_seg_hdr *)((unsigned char *)area -
				       NSHM_SEG_HDR_SIZE);
}

/*
 * Hooks the sync layer installs (from a constructor) so that every mapping
 * becomes a participant, and no mapping is removed under a held lock,
 * without the segment layer depending on the sync layer.
 */
struct nshm__seg_hooks {
	/* Creator, before publication: initialise hdr->ctl. */
	int (*init)(struct nshm_seg_hdr *hdr);
	/*
	 * After a mapping of @len bytes (from @hdr) is made. @fd is the
	 * handle's descriptor (-1 for SysV), @shmid the SysV id (-1
	 * otherwise). Fill *cookie; a negative return undoes the attach.
	 */
	int (*attached)(struct nshm_seg_hdr *hdr, size_t len, int fd,
			int shmid, bool readonly, uint64_t *cookie);
	/* Before a mapping goes. -EBUSY refuses the detach. */
	int (*detaching)(struct nshm_seg_hdr *hdr, uint64_t cookie);
	/*
	 * nshm_seg_delete() removed the SysV segment with @key, owned by
	 * @uid: the sync layer removes its semaphore set (liveness tokens).
	 */
	void (*sysv_removed)(int key, unsigned int uid);
};

void nshm__seg_set_hooks(const struct nshm__seg_hooks *hooks);

/*
 * Look up the live mapping whose caller's area is @area.
 * @return 0 and *cookie (the value the attached hook gave), or -EINVAL.
 */
int nshm__seg_mapping(void *area, uint64_t *cookie, bool *readonly);

/**
 * Create the segment @p name and build the caller's area before the name
 * appears: the higher layers' way to publish an object whole (a ring is
 * published as a segment is). It creates the segment exclusively, maps it
 * read-write, runs @p init on the caller's area, and only then publishes
 * it: linkat() for POSIX and file segments, the header's state word for
 * SysV and for the O_EXCL fallback (where O_TMPFILE or /proc is missing).
 *
 * @param name, size, mode  as for nshm_seg_open(); @p size must be > 0.
 * @param flags  nshm_seg_open()'s flags; NSHM_CREATE | NSHM_EXCL are
 *               implied. NSHM_PREFAULT and NSHM_MLOCK apply to the mapping.
 * @param init   called once with the area (zero-filled, page-aligned,
 *               @p size bytes as asked, the mapping already registered and
 *               a participant, so the sync layer works on it) and @p arg.
 *               Returns 0, or a negative error code (with nshm__err() for
 *               details), which nshm__seg_create_init() returns after
 *               removing everything it made. It must not leave a lock in
 *               the area held when it fails (the mapping could not be
 *               detached). It may run and be discarded when the name turns
 *               out to be taken (POSIX/file: the link fails after init),
 *               so it must have no effect outside the area.
 * @param[out] seg_out   the open handle (close it with nshm_seg_close()).
 * @param[out] area_out  the read-write mapping of the area (detach it
 *               with nshm_seg_detach()); both written only on success.
 * @return 0, or what nshm_seg_open() or nshm_seg_attach() return when
 *         creating (-EEXIST when the name exists, init not run or its
 *         work discarded), or init's error; -EINVAL for NULL @p init,
 *         @p seg_out, @p area_out or size 0, or when init returns > 0.
 *
 * What others see meanwhile is what they see of any segment being
 * created: POSIX/file: no name (-ENOENT) until it is complete; SysV and the
 * fallback: a name whose state is INIT (openers wait up to
 * NSHM_SEG_INIT_TIMEOUT_MS, then -ETIMEDOUT). A creator killed inside init
 * leaves no name (POSIX/file), or a SysV segment that openers report as
 * "creator died" and a create replaces, or a fallback file that openers
 * report (-ETIMEDOUT) and nshm_seg_delete() removes. A failed init leaves
 * no name on any backend.
 */
NSHM_API int nshm__seg_create_init(const char *name, size_t size,
				   unsigned int flags, unsigned int mode,
				   int (*init)(void *area, size_t size,
					       void *arg),
				   void *arg, struct nshm_seg **seg_out,
				   void **area_out);

#endif /* NSHM_SEG_LAYOUT_H */
