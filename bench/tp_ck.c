/* SPDX-License-Identifier: MIT */
/*
 * ck-mpmc: Concurrency Kit's ck_ring (Debian libck-dev, 0.7.1) in its MPMC
 * form, as what a user would pick instead of nshm's MPMC ring. ck_ring
 * keeps no pointer in struct ck_ring (the buffer is passed to every call),
 * so the control block and the buffer both live in plain shared memory
 * (MAP_SHARED|MAP_ANONYMOUS before fork); 128-byte aligned.
 *
 * Messages are stored by value, `size` bytes a slot: the calls are the
 * bodies of CK_RING_PROTOTYPE's typed ck_ring_enqueue_mpmc_<name>() /
 * ck_ring_dequeue_mpmc_<name>() (_ck_ring_enqueue_mp, _ck_ring_dequeue_mc
 * with the element size), with the size a constant where
 * BENCH_SIZE_DISPATCH makes it one. Algorithm (ck_ring.h): producers CAS
 * p_head, copy, then wait until p_tail reaches their slot and store p_tail
 * (in-order publication, like DPDK's default MP mode); consumers copy and
 * CAS c_head. A ring of N slots holds N - 1 messages. Spin only: ck has no
 * blocking form.
 */
#include "bench.h"
#include "mpmc_common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <ck_ring.h>

struct ckr {
	_Alignas(128) struct ck_ring ring;
	_Alignas(128) unsigned char buf[];
};

struct ck_state {
	struct mpmc_sync *ms;
	struct ckr *r[2];
	size_t len;
};

static void ckt_teardown(void *st, const struct bench_params *p)
{
	struct ck_state *s = st;

	(void)p;
	for (int i = 0; i < 2; i++)
		bench_shared_free(s->r[i], s->len);
	mpmc_sync_free(s->ms);
	free(s);
}

static int ckt_setup(void **st, const struct bench_params *p, char *why,
		     size_t whylen)
{
	struct ck_state *s = calloc(1, sizeof(*s));

	(void)why;
	(void)whylen;
	if (s == NULL)
		return -ENOMEM;
	s->len = sizeof(struct ckr) + (size_t)p->capacity * p->size;
	s->ms = mpmc_sync_new(p);
	if (s->ms == NULL) {
		free(s);
		return -ENOMEM;
	}
	for (int i = 0; i < (p->kind == KIND_RTT ? 2 : 1); i++) {
		s->r[i] = bench_shared_alloc(s->len);
		if (s->r[i] == NULL) {
			ckt_teardown(s, p);
			return -ENOMEM;
		}
		ck_ring_init(&s->r[i]->ring, p->capacity);
	}
	*st = s;
	return 0;
}

static BENCH_ALWAYS_INLINE int ckt_put(struct ck_state *s, int ring,
				       const unsigned char *buf, size_t size)
{
	struct ckr *r = s->r[ring];

	while (!_ck_ring_enqueue_mp(&r->ring, r->buf, buf, (unsigned)size,
				    NULL))
		; /* full: retry at once, as the other spinners do */
	return 0;
}

static BENCH_ALWAYS_INLINE int ckt_get(struct ck_state *s, int ring,
				       unsigned char *buf, size_t size)
{
	struct ckr *r = s->r[ring];

	while (!_ck_ring_dequeue_mc(&r->ring, r->buf, buf, (unsigned)size))
		; /* empty: retry at once */
	return 0;
}

MPMC_DEFINE_LOOPS(ckt, struct ck_state, ckt_put, ckt_get)

static void ckt_run(void *st, const struct bench_params *p, int role,
		    struct side_result *r, struct hdr_hist *h)
{
	struct ck_state *s = st;

	BENCH_SIZE_DISPATCH(p->size, ckt_run_sz, s, s->ms, p, role, r, h);
}

const struct transport tp_ck_mpmc = {
	.name = "ck-mpmc",
	.desc = "Concurrency Kit ck_ring MPMC (libck) in plain shared memory, "
		"by value; spin",
	.modes = MODE_SPIN,
	.max_producers = BENCH_MAX_PROCS - 1,
	.max_consumers = BENCH_MAX_PROCS - 1,
	.setup = ckt_setup,
	.run = ckt_run,
	.teardown = ckt_teardown,
};
