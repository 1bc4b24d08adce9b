/* SPDX-License-Identifier: MIT */
#ifndef NSHM_SYNC_CTL_H
#define NSHM_SYNC_CTL_H

/*
 * The sync layer's control block: bytes [1024, 4096) of every segment's
 * header page (struct nshm_seg_hdr.ctl). Never installed; frozen ABI once
 * released (guarded by static_asserts below and NSHM_CTL_VERSION).
 *
 *   magic     0 (the creator had no sync hooks: initialised lazily by the
 *             first attacher), NSHM_CTL_INITING, or NSHM_CTL_MAGIC.
 *   lock      the segment's robust control mutex. Every write to jr and
 *             slot[] happens under it.
 *   jr        the undo journal ("commit word"): before changing slot s the
 *             holder copies it to jr.before, sets jr.slot = s and stores
 *             jr.commit = ACTIVE; after the change it stores IDLE. A holder
 *             killed in between leaves ACTIVE: the next locker gets
 *             -EOWNERDEAD, rolls slot s back from jr.before, sets IDLE and
 *             marks the mutex consistent. The table is therefore always
 *             either before or after each update, never torn.
 *   slot[]    the participant table. state/gen are read without the lock
 *             by nshm_peer_alive(), so they are atomics.
 */

#include <assert.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>

#include <nshm/sync.h>

#include "shm/seg_layout.h"

#define NSHM_CTL_MAGIC 0x4c54434eu   /* "NCTL" little-endian */
#define NSHM_CTL_INITING 0x54494e49u /* "INIT": lazy init in progress */
#define NSHM_CTL_VERSION 1u

enum nshm__slot_state {
	NSHM_SLOT_FREE = 0,
	NSHM_SLOT_LIVE = 1,
};

/* How a participant proves it is alive (slot.kind). */
enum nshm__token_kind {
	NSHM_TOKEN_NONE = 0,
	NSHM_TOKEN_OFD = 1,   /* OFD write lock on byte NSHM_OFD_BASE + slot */
	NSHM_TOKEN_MUTEX = 2, /* slot.live held by the owner's keeper thread */
};

/* OFD lock bytes lie far beyond any data (locks past EOF are fine). */
#define NSHM_OFD_BASE ((int64_t)1 << 40)

enum nshm__jr_state {
	NSHM_JR_IDLE = 0,
	NSHM_JR_ACTIVE = 1,
};

enum nshm__jr_op {
	NSHM_JR_JOIN = 1,
	NSHM_JR_LEAVE = 2,
	NSHM_JR_REAP = 3,
};

/* The plain fields of a slot, as saved in the journal. */
struct nshm__peer_rec {
	uint32_t state;
	uint32_t gen;
	uint32_t pid;
	uint32_t kind;
	uint64_t start_ticks;
	uint64_t pidns;
	uint64_t attach_ns;
};

struct nshm__peer_slot {
	_Atomic(uint32_t) state; /* enum nshm__slot_state */
	_Atomic(uint32_t) gen;	 /* bumped at every join; never 0 when LIVE */
	uint32_t pid;		 /* diagnostics: pid in its own namespace */
	uint32_t kind;		 /* enum nshm__token_kind */
	uint64_t start_ticks;	 /* diagnostics: /proc/<pid>/stat field 22 */
	uint64_t pidns;		 /* inode of /proc/<pid>/ns/pid */
	uint64_t attach_ns;	 /* CLOCK_REALTIME at join */
	pthread_mutex_t live;	 /* TOKEN_MUTEX; initialised once, never again */
};

struct nshm__journal {
	_Atomic(uint32_t) commit; /* enum nshm__jr_state */
	uint32_t op;		  /* enum nshm__jr_op (diagnostics) */
	uint32_t slot;		  /* bounded by NSHM_PEER_MAX before use */
	uint32_t seq;		  /* committed updates */
	struct nshm__peer_rec before;
};

struct nshm__ctl {
	_Atomic(uint32_t) magic; /* futex word during lazy init */
	uint32_t version;	 /* NSHM_CTL_VERSION */
	uint32_t nslots;	 /* NSHM_PEER_MAX */
	uint32_t slot_size;	 /* sizeof(struct nshm__peer_slot) */
	uint64_t nonce;		 /* random: identifies this segment instance */
	_Atomic(uint32_t) poisoned; /* nonzero: a repair failed */
	uint32_t repairs;	 /* owner-death repairs (under lock) */
	uint32_t rollbacks;	 /* repairs that rolled an update back */
	uint32_t reaped;	 /* slots reclaimed from dead participants */
	alignas(64) struct nshm_mutex lock;
	alignas(64) struct nshm__journal jr;
	alignas(64) struct nshm__peer_slot slot[NSHM_PEER_MAX];
};

static_assert(sizeof(struct nshm__ctl) <= NSHM_SEG_CTL_SIZE,
	      "the control block must fit in the header page");
static_assert(offsetof(struct nshm__ctl, lock) == 64, "ctl layout is ABI");
static_assert(offsetof(struct nshm__ctl, jr) == 128, "ctl layout is ABI");
static_assert(offsetof(struct nshm__ctl, slot) == 192, "ctl layout is ABI");

static inline struct nshm__ctl *nshm__ctl_of(struct nshm_seg_hdr *hdr)
{
	return (struct nshm__ctl *)(void *)hdr->ctl;
}

#endif /* NSHM_SYNC_CTL_H */
