/* SPDX-License-Identifier: MIT */
#ifndef NSHM_SYNC_CTL_H
#define NSHM_SYNC_CTL_H

/*
 * The sync layer's control block: bytes [1024, 4096) of every segment's
 * header page (struct nshm_seg_hdr.ctl). Never installed; frozen ABI once
 * released (guarded by static_asserts below and NSHM_CTL_VERSION).
 *
 * It holds no lock and no pointer: every byte of it may be scribbled by a
 * faulty peer, and every value read from it is bounded before use. The
 * control lock that serialises writers of jr and slot[] is held by the
 * kernel, outside shared memory (src/sync/peer.c):
 *   POSIX / file segments: an OFD write lock on file byte NSHM_OFD_CTL;
 *   System V segments: semaphore NSHM_SEM_CTL of the segment's semaphore
 *     set (key = the segment's key), taken with SEM_UNDO.
 * The kernel drops either when its holder dies, so the lock itself never
 * needs recovery; what a dead holder left half done is in the journal.
 *
 *   magic     0 (the creator had no sync hooks: initialised lazily by the
 *             first read-write attacher, under the control lock, so an
 *             initialiser that dies leaves the lock free and the next
 *             attacher starts over), NSHM_CTL_INITING (an initialisation
 *             in progress or abandoned by its dead initialiser), or
 *             NSHM_CTL_MAGIC.
 *   jr        the undo journal ("commit word"): before changing slot s the
 *             holder copies it to jr.before, sets jr.slot = s and stores
 *             jr.commit = ACTIVE; after the change it stores IDLE. A holder
 *             killed in between leaves ACTIVE: the next holder of the
 *             control lock rolls slot s back from jr.before. The table is
 *             therefore always either before or after each update.
 *   slot[]    the participant table. state/gen are read without the lock
 *             by nshm_peer_alive(), so they are atomics.
 */

#include <assert.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>

#include <nshm/sync.h>

#include "shm/seg_layout.h"

#define NSHM_CTL_MAGIC 0x4c54434eu   /* "NCTL" little-endian */
#define NSHM_CTL_INITING 0x54494e49u /* "INIT": lazy init under way */
#define NSHM_CTL_VERSION 2u	     /* 2: no pthread objects, 128 slots */

enum nshm__slot_state {
	NSHM_SLOT_FREE = 0,
	NSHM_SLOT_LIVE = 1,
};

/* How the participants of a segment prove they are alive. */
enum nshm__token_kind {
	NSHM_TOKEN_NONE = 0,
	NSHM_TOKEN_OFD = 1, /* OFD write lock on byte NSHM_OFD_BASE + slot */
	NSHM_TOKEN_SEM = 2, /* SysV: semaphore #slot held at 1 (SEM_UNDO) */
};

/* OFD lock bytes lie far beyond any data (locks past EOF are fine). */
#define NSHM_OFD_BASE ((int64_t)1 << 40)
/* The control lock's byte (beyond every slot byte). */
#define NSHM_OFD_CTL (NSHM_OFD_BASE + 65536)
/* SysV: the semaphore set has NSHM_PEER_MAX + 1 members; the last one is
 * the control lock. */
#define NSHM_SEM_CTL NSHM_PEER_MAX
#define NSHM_SEM_NSEMS (NSHM_PEER_MAX + 1)

enum nshm__jr_state {
	NSHM_JR_IDLE = 0,
	NSHM_JR_ACTIVE = 1,
};

enum nshm__jr_op {
	NSHM_JR_JOIN = 1,
	NSHM_JR_LEAVE = 2,
	NSHM_JR_REAP = 3,
};

/*
 * The plain fields of a slot, as saved in the journal. 20 bytes, so that
 * 128 slots fit the control block: diagnostics are kept to 32 bits each
 * (pid namespace inodes are 32-bit; start ticks and attach seconds wrap
 * after a long time and are only compared for equality / shown).
 */
struct nshm__peer_rec {
	uint32_t state;
	uint32_t gen;
	uint32_t pid;
	uint32_t pidns;	  /* inode of /proc/<pid>/ns/pid */
	uint32_t start;	  /* low 32 bits of /proc/<pid>/stat field 22 */
};

struct nshm__peer_slot {
	_Atomic(uint32_t) state; /* enum nshm__slot_state */
	_Atomic(uint32_t) gen;	 /* bumped at every join; never 0 when LIVE;
				    its low 20 bits are never 0 either */
	uint32_t pid;		 /* diagnostics: pid in its own namespace */
	uint32_t pidns;		 /* inode of /proc/<pid>/ns/pid */
	uint32_t start;		 /* low 32 bits of the start time (ticks) */
};

struct nshm__journal {
	_Atomic(uint32_t) commit; /* enum nshm__jr_state */
	uint32_t op;		  /* enum nshm__jr_op (diagnostics) */
	uint32_t slot;		  /* bounded by NSHM_PEER_MAX before use */
	uint32_t seq;		  /* committed updates */
	struct nshm__peer_rec before;
};

struct nshm__ctl {
	_Atomic(uint32_t) magic;
	uint32_t version;	 /* NSHM_CTL_VERSION */
	uint32_t nslots;	 /* NSHM_PEER_MAX */
	uint32_t slot_size;	 /* sizeof(struct nshm__peer_slot) */
	uint64_t nonce;		 /* random: identifies this initialisation */
	uint32_t kind;		 /* enum nshm__token_kind (diagnostics) */
	uint32_t repairs;	 /* journal repairs (under the lock) */
	uint32_t rollbacks;	 /* repairs that rolled an update back */
	uint32_t reaped;	 /* slots reclaimed from dead participants */
	uint32_t inits;		 /* lazy (re-)initialisations */
	alignas(64) struct nshm__journal jr;
	alignas(64) struct nshm__peer_slot slot[NSHM_PEER_MAX];
};

static_assert(sizeof(struct nshm__ctl) <= NSHM_SEG_CTL_SIZE,
	      "the control block must fit in the header page");
static_assert(sizeof(struct nshm__peer_slot) == 20, "ctl layout is ABI");
static_assert(offsetof(struct nshm__ctl, jr) == 64, "ctl layout is ABI");
static_assert(offsetof(struct nshm__ctl, slot) == 128, "ctl layout is ABI");
static_assert(NSHM_PEER_MAX <= 1024, "participant ids hold 10 slot bits");

static inline struct nshm__ctl *nshm__ctl_of(struct nshm_seg_hdr *hdr)
{
	return (struct nshm__ctl *)(void *)hdr->ctl;
}

#endif /* NSHM_SYNC_CTL_H */
