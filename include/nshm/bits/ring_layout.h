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
 *   128 ctl       control plane: init state, who is producer/consumer
 *   256 prod      written by the producer: tail + its rare-event counters;
 *                 data_ev is the word a consumer parks on. Nobody polls
 *                 this line on the fast path: the consumer polls slots.
 *   384 cons      written by the consumer: head + its counters; space_ev
 *                 is the word a producer parks on
 *   512 ...       slots (aligned to max(128, element alignment))
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
#define NSHM_RING_VERSION 3u /* 2: per-slot seq; 3: element seq, key */
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

/* Who holds a role: ctl.producer_state / ctl.consumer_state. */
enum nshm_ring_role_state {
	NSHM_ROLE_NEVER = 0,  /* nobody has attached in this role yet */
	NSHM_ROLE_ACTIVE = 1, /* *_peer names the holder (alive or dead) */
	NSHM_ROLE_CLOSED = 2, /* the last holder closed cleanly */
};

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
	uint32_t reserved0;	/* 108: 0 */
	uint64_t seq_key;	/* 112: XORed into published seqs (above) */
	uint32_t slot_stride;	/* 120: payload + seq, rounded (see above) */
	uint32_t crc;		/* 124: CRC-32C of bytes [0, 124) */
};

struct nshm_ring_ctl {
	NSHM_ATOMIC(uint32_t) state;	   /*   0: enum nshm_ring_state; futex */
	NSHM_ATOMIC(uint32_t) producer_state;  /*   4: enum nshm_ring_role_state */
	NSHM_ATOMIC(uint32_t) consumer_state;  /*   8 */
	NSHM_ATOMIC(uint32_t) producer_pid;	   /*  12: diagnostics only */
	NSHM_ATOMIC(uint32_t) consumer_pid;	   /*  16 */
	NSHM_ATOMIC(uint32_t) producer_attaches; /* 20: incl. take-overs */
	NSHM_ATOMIC(uint32_t) consumer_attaches; /* 24 */
	uint32_t reserved0;		   /*  28 */
	NSHM_ATOMIC(uint64_t) producer_peer;   /*  32: nshm_peer_t, 0 = none */
	NSHM_ATOMIC(uint64_t) consumer_peer;   /*  40 */
	NSHM_ATOMIC(uint64_t) corrupt_seen;	   /*  48: bound checks that failed */
	unsigned char reserved[NSHM_LINE_PAIR - 56];
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
NSHM_STATIC_ASSERT(sizeof(struct nshm_ring_side) == 128, "ring side is ABI");
NSHM_STATIC_ASSERT(offsetof(struct nshm_ring_shared, ctl) == 128, "ABI");
NSHM_STATIC_ASSERT(offsetof(struct nshm_ring_shared, prod) == 256, "ABI");
NSHM_STATIC_ASSERT(offsetof(struct nshm_ring_shared, cons) == 384, "ABI");
NSHM_STATIC_ASSERT(sizeof(struct nshm_ring_shared) == NSHM_RING_HDR_SIZE,
		   "ring header is ABI");

#endif /* NSHM_BITS_RING_LAYOUT_H */
