/* SPDX-License-Identifier: MIT */
/*
 * The nshm rings, through their public API only (<nshm/ring.h>).
 *
 * nshm-spsc: NSHM_RING_SPSC with elements of exactly `size` bytes. The
 * driver creates the ring(s) by name (observer role, NSHM_PREFAULT); each
 * child attaches by name in its role after fork, as two unrelated programs
 * would. Messages are copied in and out (reserve + memcpy + commit,
 * peek + memcpy + release: what push/pop and the typed API do), like the
 * hardware baseline's memcpy in and out.
 *   spin:  retry until a slot is there (busy poll).
 *   block: nshm_ring_wait_writable()/nshm_ring_wait_readable() when full or
 *          empty, as push_wait/pop_wait do, with the ring's default wait
 *          strategy (spin, yield, then park on the futex).
 * Latency uses two rings, one per direction.
 *
 * nshm-spsc-seq: the same with the element's bytes 8..15 declared as the
 * ring's seq field (NSHM_RING_TYPE_SEQ_FIELD): no word is added after the
 * element, so a 64-byte message is one cache line, as in the mailbox
 * baseline (whose flag is the message's own first word). Copies skip the
 * field, as push does. Sizes from 24 bytes: bytes 0..7 and the last 8 are
 * the benchmark's own sequence and check words.
 *
 * To add a ring kind (mpmc, broadcast, records) as it lands: write its
 * setup/child_init/run here after the SPSC one, give it a struct transport
 * with .nshm = true, list it in all_transports[] (nshm_bench.c) and in the
 * extern list of bench.h, and add its issue's target to targets[]
 * (bench_report.c).
 */
#include "bench.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <nshm/ring.h>

struct nr_state {
	int nrings;
	bool seq_field; /* nshm-spsc-seq */
	char name[2][80];
	struct nshm_ring *owner[2]; /* the driver's handles (observer) */
	struct nshm_ring *r[2];	    /* a child's handles, one per ring */
	struct nshm_ring_type type;
};

static void nr_teardown(void *st, const struct bench_params *p)
{
	struct nr_state *s = st;

	(void)p;
	for (int i = 0; i < s->nrings; i++) {
		nshm_ring_close(s->owner[i]);
		nshm_ring_delete(s->name[i]);
	}
	free(s);
}

#define NR_SEQ_FIELD 8 /* offset of the ring's seq field (nshm-spsc-seq) */

static int nr_setup_kind(void **st, const struct bench_params *p, char *why,
			 size_t whylen, bool seq_field)
{
	struct nr_state *s;
	int ret;

	if (seq_field && (p->size < NR_SEQ_FIELD + 16 || p->size % 8 != 0)) {
		snprintf(why, whylen, "needs a multiple of 8 bytes >= %d (the "
			 "benchmark's seq and check words and the ring's)",
			 NR_SEQ_FIELD + 16);
		return 1;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	s->seq_field = seq_field;
	s->type.name = "nshm-bench message";
	s->type.version = 1;
	s->type.size = (uint32_t)p->size;
	s->type.align = p->size % 8 == 0 ? 8 : 1;
	if (seq_field) {
		s->type.flags = NSHM_RING_TYPE_SEQ_FIELD;
		s->type.seq_offset = NR_SEQ_FIELD;
	}
	for (int i = 0; i < (p->kind == KIND_RTT ? 2 : 1); i++) {
		snprintf(s->name[i], sizeof(s->name[i]), "nshm-bench-%d-%d-%c",
			 (int)getpid(), p->instance, 'a' + i);
		nshm_ring_delete(s->name[i]); /* left over from a crash */
		ret = nshm_ring_create(s->name[i], NSHM_RING_SPSC, &s->type,
				       p->capacity, NSHM_RING_OBSERVER,
				       NSHM_PREFAULT, 0600, &s->owner[i]);
		if (ret < 0) {
			snprintf(why, whylen, "nshm_ring_create(%s): %s%s%s",
				 s->name[i], nshm_strerror(ret),
				 nshm_errdetail()[0] ? ": " : "",
				 nshm_errdetail());
			nr_teardown(s, p);
			return 1;
		}
		s->nrings++;
	}
	*st = s;
	return 0;
}

static int nr_setup(void **st, const struct bench_params *p, char *why,
		    size_t whylen)
{
	return nr_setup_kind(st, p, why, whylen, false);
}

static int nr_setup_seq(void **st, const struct bench_params *p, char *why,
			size_t whylen)
{
	return nr_setup_kind(st, p, why, whylen, true);
}

/* Ring 0: producer/ping -> consumer/pong; ring 1: pong -> ping. */
static int nr_child_init(void *st, const struct bench_params *p, int role)
{
	struct nr_state *s = st;
	enum nshm_ring_role r0, r1 = NSHM_RING_OBSERVER;
	int ret;

	r0 = role == 0 ? NSHM_RING_PRODUCER : NSHM_RING_CONSUMER;
	if (p->kind == KIND_RTT)
		r1 = role == 0 ? NSHM_RING_CONSUMER : NSHM_RING_PRODUCER;
	ret = nshm_ring_attach(s->name[0], NSHM_RING_SPSC, &s->type, r0,
			       NSHM_PREFAULT, &s->r[0]);
	if (ret == 0 && p->kind == KIND_RTT)
		ret = nshm_ring_attach(s->name[1], NSHM_RING_SPSC, &s->type,
				       r1, NSHM_PREFAULT, &s->r[1]);
	return ret;
}

static void nr_child_fini(void *st, const struct bench_params *p, int role)
{
	struct nr_state *s = st;

	(void)p;
	(void)role;
	for (int i = 0; i < 2; i++)
		if (s->r[i] != NULL)
			nshm_ring_close(s->r[i]);
}

/*
 * Copy one message in / out, as the mode says. @return 0 or -errno.
 * This is nshm_ring_push()/nshm_ring_push_wait() (and pop) spelled out with
 * a constant size, exactly as the typed NSHM_RING_DEFINE() functions do it
 * with sizeof(type): reserve, memcpy, commit; wait_writable() when full.
 */
static BENCH_ALWAYS_INLINE int nr_put(struct nshm_ring *r, enum bench_mode mode,
				      const unsigned char *buf, size_t size,
				      bool seq_field)
{
	void *slot;

	while ((slot = nshm_ring_reserve(r)) == NULL) {
		int rc = mode == MODE_BLOCK ? nshm_ring_wait_writable(r, NULL) :
					      nshm_ring_error(r);

		if (nshm_unlikely(rc < 0))
			return rc;
	}
	if (seq_field && size >= NR_SEQ_FIELD + 16) { /* push skips it */
		memcpy(slot, buf, NR_SEQ_FIELD);
		memcpy((unsigned char *)slot + NR_SEQ_FIELD + 8,
		       buf + NR_SEQ_FIELD + 8, size - NR_SEQ_FIELD - 8);
	} else {
		memcpy(slot, buf, size);
	}
	nshm_ring_commit(r);
	return 0;
}

static BENCH_ALWAYS_INLINE int nr_get(struct nshm_ring *r, enum bench_mode mode,
				      unsigned char *buf, size_t size)
{
	const void *slot;

	while ((slot = nshm_ring_peek(r)) == NULL) {
		int rc = mode == MODE_BLOCK ? nshm_ring_wait_readable(r, NULL) :
					      nshm_ring_error(r);

		if (nshm_unlikely(rc < 0))
			return rc;
	}
	memcpy(buf, slot, size);
	nshm_ring_release(r);
	return 0;
}

static BENCH_ALWAYS_INLINE void nr_run_sz(struct nr_state *s,
					  const struct bench_params *p,
					  int role, struct side_result *r,
					  struct hdr_hist *h, size_t size)
{
	unsigned char *out = malloc(size), *in = malloc(size);
	uint64_t expect = 0, t0, t1 = 0;
	int ret = 0;

	if (out == NULL || in == NULL) {
		side_fail(r, -ENOMEM, "out of memory");
		goto out;
	}
	msg_fill(out, size);
	if (p->kind == KIND_TPUT && role == 0) {
		for (uint64_t seq = 0;; seq++) {
			bool last = send_is_last(p, seq);

			msg_stamp(out, size, seq | (last ? MSG_LAST : 0));
			ret = nr_put(s->r[0], p->mode, out, size, s->seq_field);
			if (ret < 0)
				break;
			r->msgs++;
			if (last)
				break;
		}
		r->bytes = r->msgs * size;
	} else if (p->kind == KIND_TPUT) {
		for (;;) {
			ret = nr_get(s->r[0], p->mode, in, size);
			if (ret < 0 || consume_check(r, in, size, &expect))
				break;
		}
	} else if (role == 0) {
		for (uint64_t i = 0;; i++) {
			bool timed;
			uint64_t seq = rtt_begin(p, r, i, t1, &timed);

			msg_stamp(out, size, seq);
			t0 = bench_now();
			ret = nr_put(s->r[0], p->mode, out, size, s->seq_field);
			if (ret == 0)
				ret = nr_get(s->r[1], p->mode, in, size);
			t1 = bench_now();
			if (ret < 0)
				break;
			rtt_account(p, r, h, in, size, i, timed, t0, t1);
			if (seq & MSG_LAST)
				break;
		}
	} else {
		for (;;) {
			ret = nr_get(s->r[0], p->mode, in, size);
			if (ret == 0)
				ret = nr_put(s->r[1], p->mode, in, size,
					     s->seq_field);
			if (ret < 0)
				break;
			r->msgs++;
			if (msg_seq(in) & MSG_LAST)
				break;
		}
	}
	if (ret < 0)
		side_fail(r, ret, "nshm ring: %s", nshm_strerror(ret));
out:
	free(out);
	free(in);
}

static void nr_run(void *st, const struct bench_params *p, int role,
		   struct side_result *r, struct hdr_hist *h)
{
	BENCH_SIZE_DISPATCH(p->size, nr_run_sz, (struct nr_state *)st, p, role,
			    r, h);
}

const struct transport tp_nshm_spsc = {
	.name = "nshm-spsc",
	.desc = "nshm SPSC ring: copy in/out (push/pop); spin: retry, "
		"block: push_wait/pop_wait",
	.modes = MODE_SPIN | MODE_BLOCK,
	.nshm = true,
	.max_producers = 1,
	.max_consumers = 1,
	.setup = nr_setup,
	.child_init = nr_child_init,
	.child_fini = nr_child_fini,
	.run = nr_run,
	.teardown = nr_teardown,
};

const struct transport tp_nshm_spsc_seq = {
	.name = "nshm-spsc-seq",
	.desc = "nshm SPSC ring, the message's bytes 8..15 as the ring's seq "
		"field (no word added: 64 B = one line); as nshm-spsc",
	.modes = MODE_SPIN | MODE_BLOCK,
	.nshm = true,
	.max_producers = 1,
	.max_consumers = 1,
	.setup = nr_setup_seq,
	.child_init = nr_child_init,
	.child_fini = nr_child_fini,
	.run = nr_run,
	.teardown = nr_teardown,
};
