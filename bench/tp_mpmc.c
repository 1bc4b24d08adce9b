/* SPDX-License-Identifier: MIT */
/*
 * nshm-mpmc: nshm's MPMC ring (issue 10) through its public API only
 * (<nshm/mpmc.h>), with elements of exactly `size` bytes. The driver
 * creates the ring by name (observer role, NSHM_PREFAULT) with
 * max_producers = P and max_consumers = C; each child attaches by name in
 * its role after fork. Messages are copied in and out: nshm_mpmc_reserve +
 * memcpy (constant size) + nshm_mpmc_commit, and the copy-then-claim take
 * with a constant size, i.e. what the typed push/pop of NSHM_MPMC_DEFINE()
 * compile to for a fixed-size type.
 *   spin:  retry until a slot is there (busy poll);
 *   block: nshm_ring_wait_writable()/_readable() when full or empty, as
 *          nshm_mpmc_push_wait/pop_wait do, with the ring's default wait
 *          strategy (spin, yield, then park on the futex).
 * Latency: two rings (1 producer, 1 consumer each), ping-pong.
 * The message format, end of run and exactly-once check: mpmc_common.h.
 */
#include "bench.h"
#include "mpmc_common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <nshm/mpmc.h>

struct nm_state {
	struct mpmc_sync *ms;
	enum bench_mode mode;
	int nrings;
	char name[2][80];
	struct nshm_ring *owner[2]; /* the driver's handles (observer) */
	struct nshm_ring *r[2];	    /* a child's handles */
	struct nshm_ring_type type;
};

static void nm_teardown(void *st, const struct bench_params *p)
{
	struct nm_state *s = st;

	(void)p;
	for (int i = 0; i < s->nrings; i++) {
		nshm_ring_close(s->owner[i]);
		nshm_ring_delete(s->name[i]);
	}
	mpmc_sync_free(s->ms);
	free(s);
}

static int nm_setup(void **st, const struct bench_params *p, char *why,
		    size_t whylen)
{
	struct nm_state *s = calloc(1, sizeof(*s));
	bool tput = p->kind == KIND_TPUT;
	int ret;

	if (s == NULL)
		return -ENOMEM;
	s->mode = p->mode;
	s->type.name = "nshm-bench message";
	s->type.version = 1;
	s->type.size = (uint32_t)p->size;
	s->type.align = p->size % 8 == 0 ? 8 : 1;
	s->ms = mpmc_sync_new(p);
	if (s->ms == NULL) {
		free(s);
		return -ENOMEM;
	}
	for (int i = 0; i < (tput ? 1 : 2); i++) {
		struct nshm_ring_params rp = NSHM_RING_PARAMS_INIT;

		snprintf(s->name[i], sizeof(s->name[i]), "nshm-bench-%d-%d-m%c",
			 (int)getpid(), p->instance, 'a' + i);
		nshm_ring_delete(s->name[i]); /* left over from a crash */
		rp.kind = NSHM_RING_MPMC;
		rp.type = &s->type;
		rp.capacity = p->capacity;
		rp.role = NSHM_RING_OBSERVER;
		rp.flags = NSHM_PREFAULT;
		rp.mode = 0600;
		rp.max_producers = tput ? p->producers : 1;
		rp.max_consumers = tput ? p->consumers : 1;
		ret = nshm_ring_create_with(s->name[i], &rp, &s->owner[i]);
		if (ret < 0) {
			snprintf(why, whylen, "nshm_ring_create_with(%s): %s%s%s",
				 s->name[i], nshm_strerror(ret),
				 nshm_errdetail()[0] ? ": " : "",
				 nshm_errdetail());
			nm_teardown(s, p);
			return 1;
		}
		s->nrings++;
	}
	*st = s;
	return 0;
}

/*
 * Throughput: roles 0..P-1 produce into ring 0, the others consume.
 * Latency: ring 0 ping -> pong, ring 1 pong -> ping.
 */
static int nm_child_init(void *st, const struct bench_params *p, int role)
{
	struct nm_state *s = st;
	bool prod = p->kind == KIND_TPUT ? role < (int)p->producers : role == 0;
	int ret;

	ret = nshm_ring_attach(s->name[0], NSHM_RING_MPMC, &s->type,
			       prod ? NSHM_RING_PRODUCER : NSHM_RING_CONSUMER,
			       NSHM_PREFAULT, &s->r[0]);
	if (ret == 0 && p->kind == KIND_RTT)
		ret = nshm_ring_attach(s->name[1], NSHM_RING_MPMC, &s->type,
				       prod ? NSHM_RING_CONSUMER
					    : NSHM_RING_PRODUCER,
				       NSHM_PREFAULT, &s->r[1]);
	return ret;
}

static void nm_child_fini(void *st, const struct bench_params *p, int role)
{
	struct nm_state *s = st;

	(void)p;
	(void)role;
	for (int i = 0; i < 2; i++)
		if (s->r[i] != NULL)
			nshm_ring_close(s->r[i]);
}

static BENCH_ALWAYS_INLINE int nm_put(struct nm_state *s, int ring,
				      const unsigned char *buf, size_t size)
{
	struct nshm_ring *r = s->r[ring];
	void *slot;

	while ((slot = nshm_mpmc_reserve(r)) == NULL) {
		int rc = s->mode == MODE_BLOCK ? nshm_ring_wait_writable(r, NULL)
					       : nshm_ring_error(r);

		if (nshm_unlikely(rc < 0))
			return rc;
	}
	memcpy(slot, buf, size);
	nshm_mpmc_commit(r);
	return 0;
}

static BENCH_ALWAYS_INLINE int nm_get(struct nm_state *s, int ring,
				      unsigned char *buf, size_t size)
{
	struct nshm_ring *r = s->r[ring];

	/* What a typed pop compiles to: copy (constant size), then claim. */
	while (nshm__mpmc_take(r, buf, 1, size) == 0) {
		int rc = s->mode == MODE_BLOCK ? nshm_ring_wait_readable(r, NULL)
					       : nshm_ring_error(r);

		if (nshm_unlikely(rc < 0))
			return rc;
	}
	return 0;
}

MPMC_DEFINE_LOOPS(nm, struct nm_state, nm_put, nm_get)

static void nm_run(void *st, const struct bench_params *p, int role,
		   struct side_result *r, struct hdr_hist *h)
{
	struct nm_state *s = st;

	BENCH_SIZE_DISPATCH(p->size, nm_run_sz, s, s->ms, p, role, r, h);
}

const struct transport tp_nshm_mpmc = {
	.name = "nshm-mpmc",
	.desc = "nshm MPMC ring: copy in/out (reserve/commit, typed pop); "
		"spin: retry, block: wait_writable/readable",
	.modes = MODE_SPIN | MODE_BLOCK,
	.nshm = true,
	.max_producers = BENCH_MAX_PROCS - 1,
	.max_consumers = BENCH_MAX_PROCS - 1,
	.setup = nm_setup,
	.child_init = nm_child_init,
	.child_fini = nm_child_fini,
	.run = nm_run,
	.teardown = nm_teardown,
};
