/* SPDX-License-Identifier: MIT */
#ifndef NSHM_BITS_RING_LAYOUT_H
#define NSHM_BITS_RING_LAYOUT_H

/*
 * Internal to nshm's public headers: do not include directly.
 *
 * The in-segment ring header: frozen ABI. Never reorder, only use reserved
 * space, and bump NSHM_RING_VERSION for anything else. The header sits at
 * offset 0 of the caller's area of the ring's own segment (page-aligned);
 * the slots follow at config.slots_off. See doc/ring.md for the picture and
 * the table of memory-order pairs.
 *
 * Indices are free-running uint64_t: tail counts every slot ever reserved
 * for publication, head every slot ever released, a slot is
 * slots[idx & mask], the ring holds tail - head elements
 * (0 <= tail - head <= capacity) and never wraps in practice (2^64); all
 * comparisons still go through unsigned differences, so seeding the indices
 * near 2^64 (the wrap test does) changes nothing. Because indices never
 * wrap, pushed == tail and popped == head: the counters cost the fast path
 * nothing.
 *
 * Lines (128 bytes each, so the adjacent-line prefetcher does not couple
 * them):
 *   0   config    immutable after the creator publishes ctl.state = READY
 *   128 ctl       control plane: init state, kind-neutral counters
 *   256 prod      the producers' line: tail (MPMC: enq, the index they
 *                 claim with a CAS) + rare-event counters; data_ev is the
 *                 word a consumer parks on. SPSC: nobody polls this line
 *                 on the fast path (the consumer polls slots).
 *   384 cons      the consumers' line: head (MPMC: deq) + its counters;
 *                 space_ev is the word a producer parks on
 *   512 roles     the role table (layout version 4): one 64-byte entry per
 *                 possible holder, producers first, then consumers
 *                 (config.max_producers + config.max_consumers entries;
 *                 SPSC: 1 + 1). An entry names its holder's participant
 *                 id, its state and, for MPMC, the indices it is claiming
 *                 (its intent), on a line nobody else writes.
 *   ...           slots at config.slots_off (aligned to max(128, element
 *                 alignment))
 *
 * Slot (layout version 3), config.slot_stride bytes, in one of two forms:
 *  - trailing seq (the default): [payload | pad to 8 | seq]. The payload
 *    sits at offset 0, so it has the slot's alignment (the element's); the
 *    64-bit sequence word follows it at round_up(size, 8) and is written
 *    last (Vyukov/Aeron): a message of up to 56 bytes and its seq share one
 *    64-byte line, so a hand-off is one line transfer. Strides up to 64 are
 *    powers of two (16, 32, 64), so such a slot never straddles lines.
 *  - element seq (config.flags & NSHM_RING_CFG_ELEM_SEQ, from a type with
 *    NSHM_RING_TYPE_SEQ_FIELD): the element has a uint64_t field of its own
 *    at config.seq_off that the ring owns and uses as the slot's sequence
 *    word; the slot is the element alone (stride = size, rounded as above),
 *    so a 64-byte element is one line per hand-off instead of two.
 *
 * seq of the slot of index pos: NSHM_RING_SEQ(pos) ^ config.seq_key once the
 * element at pos is published; before that, the value of the previous lap,
 * or 0 in a slot never written (trailing seq), or anything at all (element
 * seq: the producer may be writing the field's bytes). NSHM_RING_SEQ(pos) =
 * pos | 2^63: bit 63 keeps a published value nonzero even at pos = 2^64 - 1
 * (pos + 1 would be 0 there, i.e. look like a never-written slot), and two
 * indices less than 2^63 apart never share a value. seq_key is 0 for a
 * trailing seq (nobody else writes that word) and random, bit 63 clear, for
 * an element seq: an element copied whole from another ring (or this one)
 * carries that ring's published value in its field, which then does not
 * match here, so copying it into a reserved slot never publishes the slot
 * early. With a trailing seq any other value is corruption.
 */
#if !defined(NSHM_INSIDE_RING_H)
#error "include <nshm/ring.h> instead of <nshm/bits/ring_layout.h>"
#endif

#include <nshm/bits/atomic.h>
#include <stdint.h>
#include <nshm/sync.h>
#include <nshm/bits/compiler.h>

#define NSHM_RING_MAGIC 0x474e5252u /* "RRNG" read as little-endian */
/* 2: per-slot seq; 3: element seq, key; 4: role table, MPMC */
#define NSHM_RING_VERSION 4u
#define NSHM_RING_TYPE_NAME_MAX 47 /* bytes of the type name kept */
#define NSHM_RING_HDR_SIZE 512u

/* The published value of a slot's sequence word for index @p pos. */
#define NSHM_RING_SEQ_PUB (1ull << 63)
#define NSHM_RING_SEQ(pos) ((uint64_t)(pos) | NSHM_RING_SEQ_PUB)

/* config.flags */
#define NSHM_RING_CFG_ELEM_SEQ 1u /* the seq word is a field of the element */

enum nshm_ring_state {
	NSHM_RING_INIT = 0,  /* creator still writing the header */
	NSHM_RING_READY = 1, /* config valid; attach may proceed */
};

/* Who holds a role-table entry: nshm_ring_role.state. */
enum nshm_ring_role_state {
	NSHM_ROLE_NEVER = 0,  /* nobody has attached in this entry yet */
	NSHM_ROLE_ACTIVE = 1, /* peer names the holder (alive or dead) */
	NSHM_ROLE_CLOSED = 2, /* the last holder closed cleanly */
};

/* Entries in the role table, producers and consumers together. */
#define NSHM_RING_ROLES_MAX 128u

/*
 * MPMC: a slot given up for a dead producer (never published) holds
 * (pos + 1) ^ NSHM_RING_TOMB, 2^63 away from every legal value of its
 * index, so it can never be mistaken for one (see bits/ring_mpmc.h).
 */
#define NSHM_RING_TOMB (1ull << 63)

struct nshm_ring_config {
	uint32_t magic;		/*   0: NSHM_RING_MAGIC */
	uint32_t version;	/*   4: NSHM_RING_VERSION */
	uint32_t kind;		/*   8: enum nshm_ring_kind */
	uint32_t flags;		/*  12: NSHM_RING_CFG_* */
	uint32_t capacity;	/*  16: power of two */
	uint32_t elem_size;	/*  20: element (payload) size, bytes */
	uint32_t elem_align;	/*  24: power of two */
	uint32_t type_version;	/*  28: the user's version of the type */
	uint64_t type_fp;	/*  32: nshm_ring_type_fingerprint() */
	uint64_t slots_off;	/*  40: from the ring header to slot 0 */
	uint64_t area_size;	/*  48: header + slots, bytes */
	char type_name[NSHM_RING_TYPE_NAME_MAX + 1]; /* 56: NUL padded */
	uint32_t seq_off;	/* 104: the seq word's offset in a slot */
	uint16_t max_producers;	/* 108: producer entries of the role table */
	uint16_t max_consumers;	/* 110: consumer entries, after them */
	uint64_t seq_key;	/* 112: XORed into published seqs (above) */
	uint32_t slot_stride;	/* 120: payload + seq, rounded (see above) */
	uint32_t crc;		/* 124: CRC-32C of bytes [0, 124) */
};

struct nshm_ring_ctl {
	NSHM_ATOMIC(uint32_t) state;	   /*   0: enum nshm_ring_state */
	uint32_t reserved0;		   /*   4 */
	NSHM_ATOMIC(uint64_t) corrupt_seen; /*  8: bound checks that failed */
	/* MPMC: slots skipped or freed for a dead claimant (recovery). */
	NSHM_ATOMIC(uint64_t) skipped;	   /*  16 */
	unsigned char reserved[NSHM_LINE_PAIR - 24];
};

/*
 * One role-table entry, 64 bytes: its holder writes it (intent on every
 * MPMC claim that spans time, cursor every few takes, the rest at
 * attach/close); others read it to tell a live
 * holder from a dead one (roles.c). Shared memory: every value is checked
 * before it is believed.
 */
struct nshm_ring_role_entry {
	NSHM_ATOMIC(uint64_t) peer;	/*  0: holder's nshm_peer_t, 0 = none */
	NSHM_ATOMIC(uint32_t) state;	/*  8: enum nshm_ring_role_state */
	NSHM_ATOMIC(uint32_t) pid;	/* 12: diagnostics only */
	/*
	 * MPMC: the first index this holder is claiming or holds claimed,
	 * and how many from there (intent_n 0: none). Stored before the
	 * claim's CAS, cleared (intent_n, release) after the slots are
	 * published or released: a live holder's claimed slots are always
	 * covered.
	 */
	NSHM_ATOMIC(uint64_t) intent;	/* 16 */
	NSHM_ATOMIC(uint32_t) intent_n;	/* 24 */
	NSHM_ATOMIC(uint32_t) attaches;	/* 28: holders so far, take-overs too */
	NSHM_ATOMIC(uint64_t) retries;	/* 32: MPMC claim CASes lost */
	NSHM_ATOMIC(uint64_t) recovered; /* 40: dead claimants' slots it gave up */
	/*
	 * MPMC consumers (bits/ring_mpmc.h): an index every index below
	 * which was taken (stored every few takes; producers read it to
	 * refill). SPSC consumer (bits/ring_spsc.h): its exact position,
	 * stored at every release (head follows every few). BROADCAST, back-pressured readers (bits/ring_bcast.h): the
	 * next index this reader will read (the writer may overwrite below it),
	 * its registration token (0: not registered; bit 31: evicted), and
	 * the tag a restarted reader names to resume from its cursor.
	 */
	NSHM_ATOMIC(uint64_t) cursor;	/* 48 */
	NSHM_ATOMIC(uint32_t) held;	/* 56 */
	NSHM_ATOMIC(uint32_t) tag;	/* 60 */
};

struct nshm_ring_side {
	/*
	 * tail (producer line) or head (consumer line); free-running. The
	 * producer stores tail before the seq words of a commit, so tail is
	 * never behind a published slot (tail >= head always holds).
	 */
	NSHM_ATOMIC(uint64_t) index;	/*   0 */
	/* The *other* side parks on this word; this side notifies it. */
	struct nshm_event ev;		/*   8 */
	uint32_t reserved0;		/*  12 */
	NSHM_ATOMIC(uint64_t) waits;	/*  16: blocking call found it full/empty */
	NSHM_ATOMIC(uint64_t) parks;	/*  24: futex sleeps of this side */
	NSHM_ATOMIC(uint64_t) wakeups;	/*  32: wake-ups this side sent */
	NSHM_ATOMIC(uint64_t) timeouts;	/*  40: blocking calls that timed out */
	unsigned char reserved[NSHM_LINE_PAIR - 48];
};

struct nshm_ring_shared {
	struct nshm_ring_config config NSHM_ALIGNED(NSHM_LINE_PAIR);
	struct nshm_ring_ctl ctl NSHM_ALIGNED(NSHM_LINE_PAIR);
	struct nshm_ring_side prod NSHM_ALIGNED(NSHM_LINE_PAIR);
	struct nshm_ring_side cons NSHM_ALIGNED(NSHM_LINE_PAIR);
};

NSHM_STATIC_ASSERT(ATOMIC_LLONG_LOCK_FREE == 2,
		   "64-bit ring indices must be lock-free across processes");
NSHM_STATIC_ASSERT(sizeof(NSHM_ATOMIC(uint64_t)) == 8, "plain 64-bit index");
NSHM_STATIC_ASSERT(sizeof(struct nshm_event) == 4, "event is one word");
NSHM_STATIC_ASSERT(sizeof(struct nshm_ring_config) == 128,
		   "ring config is ABI: bump NSHM_RING_VERSION");
NSHM_STATIC_ASSERT(offsetof(struct nshm_ring_config, seq_key) == 112,
		   "ring config is ABI");
NSHM_STATIC_ASSERT(offsetof(struct nshm_ring_config, slot_stride) == 120,
		   "ring config is ABI");
NSHM_STATIC_ASSERT(offsetof(struct nshm_ring_config, crc) == 124,
		   "ring config is ABI");
NSHM_STATIC_ASSERT(sizeof(struct nshm_ring_ctl) == 128, "ring ctl is ABI");
NSHM_STATIC_ASSERT(sizeof(struct nshm_ring_role_entry) == 64, "role entry is ABI");
NSHM_STATIC_ASSERT(offsetof(struct nshm_ring_role_entry, cursor) == 48,
		   "role entry is ABI");
NSHM_STATIC_ASSERT(offsetof(struct nshm_ring_config, max_producers) == 108,
		   "ring config is ABI");
NSHM_STATIC_ASSERT(sizeof(struct nshm_ring_side) == 128, "ring side is ABI");
NSHM_STATIC_ASSERT(offsetof(struct nshm_ring_shared, ctl) == 128, "ABI");
NSHM_STATIC_ASSERT(offsetof(struct nshm_ring_shared, prod) == 256, "ABI");
NSHM_STATIC_ASSERT(offsetof(struct nshm_ring_shared, cons) == 384, "ABI");
NSHM_STATIC_ASSERT(sizeof(struct nshm_ring_shared) == NSHM_RING_HDR_SIZE,
		   "ring header is ABI");

#endif /* NSHM_BITS_RING_LAYOUT_H */
