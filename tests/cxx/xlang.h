/* SPDX-License-Identifier: MIT */
#ifndef NSHM_TEST_XLANG_H
#define NSHM_TEST_XLANG_H

/*
 * The element types a C producer (xlang_producer.c) and a C++ consumer
 * (test_xlang.cc) share, included by both. The asserts hold in both
 * languages: the same layout on both sides of the ring.
 */
#include <nshm/ring.h>
#include <stddef.h>
#include <stdint.h>

struct xl_tick {
	uint64_t seq;
	uint32_t instrument, qty;
	double bid, ask;
	uint64_t check; /* seq ^ XL_KEY: the whole element arrived */
};

/* A 64-byte element whose ring_seq is the ring's sequence word. */
struct xl_line {
	uint64_t id;
	uint64_t ring_seq;
	uint64_t words[6]; /* words[i] = id * (i + 1) */
};

#define XL_KEY 0x9e3779b97f4a7c15ull
#define XL_COUNT 100000u /* per ring */
#define XL_CAPACITY 256u

NSHM_STATIC_ASSERT(sizeof(struct xl_tick) == 40 &&
			   offsetof(struct xl_tick, bid) == 16 &&
			   offsetof(struct xl_tick, check) == 32,
		   "xl_tick layout");
NSHM_STATIC_ASSERT(sizeof(struct xl_line) == 64 &&
			   offsetof(struct xl_line, ring_seq) == 8,
		   "xl_line layout");
NSHM_STATIC_ASSERT(sizeof(struct nshm_event) == 4 &&
			   sizeof(struct nshm_mutex) % 64 == 0,
		   "shared layout");

/*
 * The layout of the public structs as this language sees it: sizes and
 * alignments (the headers' own asserts pin the offsets), folded into one
 * number. The C producer prints its value (--layout), the C++ test
 * compares: a struct whose atomics changed size or place in one language
 * (the handle is allocated by the C library and read by C++ inline code)
 * fails the test.
 */
#define XL_MIX(h, v) (((h) ^ (uint64_t)(v)) * 0x100000001b3ull)
static inline uint64_t xl_layout(void)
{
	uint64_t h = 0xcbf29ce484222325ull;
	const size_t v[] = {
		sizeof(struct nshm_ring), NSHM_ALIGNOF(struct nshm_ring),
		sizeof(struct nshm_ring_shared),
		NSHM_ALIGNOF(struct nshm_ring_shared),
		sizeof(struct nshm_ring_span), sizeof(struct nshm_ring_stats),
		sizeof(struct nshm_ring_type), sizeof(struct nshm_wait_strategy),
		sizeof(struct nshm_mutex), NSHM_ALIGNOF(struct nshm_mutex),
		sizeof(struct nshm_event), sizeof(struct nshm_seg_info),
		sizeof(struct nshm_peer_info),
		sizeof(NSHM_ATOMIC(uint64_t)), NSHM_ALIGNOF(NSHM_ATOMIC(uint64_t)),
		sizeof(NSHM_ATOMIC(uint32_t)), NSHM_ALIGNOF(NSHM_ATOMIC(uint32_t)),
	};

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		h = XL_MIX(h, v[i]);
	return h;
}

#endif /* NSHM_TEST_XLANG_H */
