/* SPDX-License-Identifier: MIT */
/*
 * nshm-records (issue 12): the records ring (<nshm/records.h>) carrying
 * messages of exactly `size` bytes as records of one type, against the
 * fixed-size SPSC ring at the same sizes (nshm-spsc). The ring gets as many
 * bytes as nshm-spsc's slots would hold at that size (capacity x (size + 8),
 * rounded up to a power of two, at least 4 records of the maximum), with
 * record_max = size. Copies in and out, as nshm-spsc does:
 * reserve + memcpy + commit, next + memcpy + release.
 *   spin:  retry until there is room / a record (busy poll).
 *   block: nshm_records_reserve_wait() / nshm_records_next_wait().
 * Latency uses two rings, one per direction.
 */
#include "bench.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <nshm/records.h>

struct rr_state {
	int nrings;
	char name[2][80];
	struct nshm_ring *owner[2]; /* the driver's handles (observer) */
	struct nshm_ring *r[2];	    /* a child's handles, one per ring */
};

static void rr_teardown(void *st, const struct bench_params *p)
{
	struct rr_state *s = st;

	(void)p;
	for (int i = 0; i < s->nrings; i++) {
		nshm_ring_close(s->owner[i]);
		nshm_ring_delete(s->name[i]);
	}
	free(s);
}

static int rr_setup(void **st, const struct bench_params *p, char *why,
		    size_t whylen)
{
	struct nshm_ring_params q = NSHM_RING_PARAMS_INIT;
	uint64_t want = (uint64_t)p->capacity * (p->size + 8), bytes = 128;
	struct rr_state *s;
	int ret;

	if (want < 4 * (p->size + 8) + 64)
		want = 4 * (p->size + 8) + 64;
	while (bytes < want)
		bytes <<= 1;
	if (bytes > NSHM_RING_CAPACITY_MAX) {
		snprintf(why, whylen, "needs a ring of %llu bytes",
			 (unsigned long long)bytes);
		return 1;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	q.capacity = (uint32_t)bytes;
	q.record_max = (uint32_t)p->size;
	q.role = NSHM_RING_OBSERVER;
	q.flags = NSHM_PREFAULT;
	q.mode = 0600;
	for (int i = 0; i < (p->kind == KIND_RTT ? 2 : 1); i++) {
		snprintf(s->name[i], sizeof(s->name[i]), "nshm-bench-%d-%d-%c",
			 (int)getpid(), p->instance, 'a' + i);
		nshm_ring_delete(s->name[i]); /* left over from a crash */
		ret = nshm_records_create(s->name[i], &q, NULL, &s->owner[i]);
		if (ret < 0) {
			snprintf(why, whylen, "nshm_records_create(%s): %s%s%s",
				 s->name[i], nshm_strerror(ret),
				 nshm_errdetail()[0] ? ": " : "",
				 nshm_errdetail());
			rr_teardown(s, p);
			return 1;
		}
		s->nrings++;
	}
	*st = s;
	return 0;
}

/* Ring 0: producer/ping -> consumer/pong; ring 1: pong -> ping. */
static int rr_child_init(void *st, const struct bench_params *p, int role)
{
	struct rr_state *s = st;
	enum nshm_ring_role r0, r1 = NSHM_RING_OBSERVER;
	int ret;

	r0 = role == 0 ? NSHM_RING_PRODUCER : NSHM_RING_CONSUMER;
	if (p->kind == KIND_RTT)
		r1 = role == 0 ? NSHM_RING_CONSUMER : NSHM_RING_PRODUCER;
	ret = nshm_records_attach(s->name[0], NULL, r0, NSHM_PREFAULT,
				  &s->r[0]);
	if (ret == 0 && p->kind == KIND_RTT)
		ret = nshm_records_attach(s->name[1], NULL, r1, NSHM_PREFAULT,
					  &s->r[1]);
	return ret;
}

static void rr_child_fini(void *st, const struct bench_params *p, int role)
{
	struct rr_state *s = st;

	(void)p;
	(void)role;
	for (int i = 0; i < 2; i++)
		if (s->r[i] != NULL)
			nshm_ring_close(s->r[i]);
}

static BENCH_ALWAYS_INLINE int rr_put(struct nshm_ring *r, enum bench_mode mode,
				      const unsigned char *buf, size_t size)
{
	void *w;

	while ((w = nshm_records_reserve(r, (uint32_t)size)) == NULL) {
		int rc = mode == MODE_BLOCK
				 ? nshm_records_reserve_wait(r, (uint32_t)size,
							     &w, NULL)
				 : nshm_ring_error(r);

		if (nshm_unlikely(rc < 0))
			return rc;
		if (w != NULL)
			break;
	}
	memcpy(w, buf, size);
	nshm_records_commit(r, 1);
	return 0;
}

static BENCH_ALWAYS_INLINE int rr_get(struct nshm_ring *r, enum bench_mode mode,
				      unsigned char *buf, size_t size)
{
	struct nshm_record rec = { NULL, 0, 0 };

	while (!nshm_records_next(r, &rec)) {
		int rc = mode == MODE_BLOCK ? nshm_records_next_wait(r, &rec,
								     NULL)
					    : nshm_ring_error(r);

		if (nshm_unlikely(rc < 0))
			return rc;
		if (mode == MODE_BLOCK)
			break;
	}
	if (nshm_unlikely(rec.len != size))
		return -EBADMSG;
	memcpy(buf, rec.data, size);
	nshm_records_release(r);
	return 0;
}

static BENCH_ALWAYS_INLINE void rr_run_sz(struct rr_state *s,
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
			ret = rr_put(s->r[0], p->mode, out, size);
			if (ret < 0)
				break;
			r->msgs++;
			if (last)
				break;
		}
		r->bytes = r->msgs * size;
	} else if (p->kind == KIND_TPUT) {
		for (;;) {
			ret = rr_get(s->r[0], p->mode, in, size);
			if (ret < 0 || consume_check(r, in, size, &expect))
				break;
		}
	} else if (role == 0) {
		for (uint64_t i = 0;; i++) {
			bool timed;
			uint64_t seq = rtt_begin(p, r, i, t1, &timed);

			msg_stamp(out, size, seq);
			t0 = bench_now();
			ret = rr_put(s->r[0], p->mode, out, size);
			if (ret == 0)
				ret = rr_get(s->r[1], p->mode, in, size);
			t1 = bench_now();
			if (ret < 0)
				break;
			rtt_account(p, r, h, in, size, i, timed, t0, t1);
			if (seq & MSG_LAST)
				break;
		}
	} else {
		for (;;) {
			ret = rr_get(s->r[0], p->mode, in, size);
			if (ret == 0)
				ret = rr_put(s->r[1], p->mode, in, size);
			if (ret < 0)
				break;
			r->msgs++;
			if (msg_seq(in) & MSG_LAST)
				break;
		}
	}
	if (ret < 0)
		side_fail(r, ret, "nshm records: %s", nshm_strerror(ret));
out:
	free(out);
	free(in);
}

static void rr_run(void *st, const struct bench_params *p, int role,
		   struct side_result *r, struct hdr_hist *h)
{
	BENCH_SIZE_DISPATCH(p->size, rr_run_sz, (struct rr_state *)st, p, role,
			    r, h);
}

const struct transport tp_nshm_records = {
	.name = "nshm-records",
	.desc = "nshm records ring (variable-size records, here all `size` "
		"bytes): copy in/out; spin: retry, block: reserve_wait/next_wait",
	.modes = MODE_SPIN | MODE_BLOCK,
	.nshm = true,
	.max_producers = 1,
	.max_consumers = 1,
	.setup = rr_setup,
	.child_init = rr_child_init,
	.child_fini = rr_child_fini,
	.run = rr_run,
	.teardown = rr_teardown,
};

/*
 * nshm-records-mix: a mixed-size stream through one records ring, as a
 * protocol would send it: 80 % 32-byte, 19 % 256-byte and 1 % 8 KiB
 * records (by sequence number: the same stream every run), in a 1 MiB
 * ring. Throughput only, reported in the 64-byte row (the case's size is
 * not used). The report's GB/s column is records/s x 64; the stream's
 * mean record is 156.2 bytes (0.8 x 32 + 0.19 x 256 + 0.01 x 8192), so
 * its payload rate is 2.44 x that column.
 */
static uint32_t mix_len(uint64_t seq)
{
	/* 37 is prime to 100: every 100 records hold exactly 80/19/1. */
	uint64_t k = seq * 37 % 100;

	return k < 80 ? 32u : k < 99 ? 256u : 8192u;
}

static int rm_setup(void **st, const struct bench_params *p, char *why,
		    size_t whylen)
{
	struct nshm_ring_params q = NSHM_RING_PARAMS_INIT;
	struct rr_state *s;
	int ret;

	if (p->kind != KIND_TPUT || p->size != 64) {
		snprintf(why, whylen, "a mixed stream: throughput, in the "
			 "64-byte row only");
		return 1;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	q.capacity = 1u << 20;
	q.record_max = 8192;
	q.role = NSHM_RING_OBSERVER;
	q.flags = NSHM_PREFAULT;
	q.mode = 0600;
	snprintf(s->name[0], sizeof(s->name[0]), "nshm-bench-%d-%d-m",
		 (int)getpid(), p->instance);
	nshm_ring_delete(s->name[0]);
	ret = nshm_records_create(s->name[0], &q, NULL, &s->owner[0]);
	if (ret < 0) {
		snprintf(why, whylen, "nshm_records_create: %s",
			 nshm_strerror(ret));
		free(s);
		return 1;
	}
	s->nrings = 1;
	*st = s;
	return 0;
}

static void rm_run(void *st, const struct bench_params *p, int role,
		   struct side_result *r, struct hdr_hist *h)
{
	struct rr_state *s = st;
	static unsigned char out[8192];
	uint64_t expect = 0, bytes = 0;
	int ret = 0;

	(void)h;
	if (role == 0) {
		msg_fill(out, sizeof(out));
		for (uint64_t seq = 0;; seq++) {
			bool last = send_is_last(p, seq);
			uint32_t len = mix_len(seq);
			void *w;

			while ((w = nshm_records_reserve(s->r[0], len)) == NULL) {
				ret = p->mode == MODE_BLOCK
					      ? nshm_records_reserve_wait(
							s->r[0], len, &w, NULL)
					      : nshm_ring_error(s->r[0]);
				if (ret < 0 || w != NULL)
					break;
			}
			if (ret < 0)
				break;
			msg_stamp(out, len, seq | (last ? MSG_LAST : 0));
			memcpy(w, out, len);
			nshm_records_commit(s->r[0], 1);
			r->msgs++;
			bytes += len;
			if (last)
				break;
		}
		r->bytes = bytes;
	} else {
		static unsigned char in[8192];

		for (;;) {
			struct nshm_record rec = { NULL, 0, 0 };
			bool last;

			while (!nshm_records_next(s->r[0], &rec)) {
				ret = p->mode == MODE_BLOCK
					      ? nshm_records_next_wait(s->r[0],
								       &rec,
								       NULL)
					      : nshm_ring_error(s->r[0]);
				if (ret < 0 || p->mode == MODE_BLOCK)
					break;
			}
			if (ret < 0)
				break;
			if (rec.len != mix_len(expect) || rec.len > sizeof(in)) {
				side_fail(r, -1, "record %llu: %u bytes",
					  (unsigned long long)expect, rec.len);
				break;
			}
			memcpy(in, rec.data, rec.len);
			nshm_records_release(s->r[0]);
			bytes += rec.len;
			last = consume_check(r, in, rec.len, &expect);
			if (last)
				break;
		}
		r->bytes = bytes;
	}
	if (ret < 0)
		side_fail(r, ret, "nshm records: %s", nshm_strerror(ret));
}

const struct transport tp_nshm_records_mix = {
	.name = "nshm-records-mix",
	.desc = "nshm records ring, a mixed stream (80 % 32 B, 19 % 256 B, "
		"1 % 8 KiB), throughput in the 64 B row",
	.modes = MODE_SPIN | MODE_BLOCK,
	.nshm = true, /* never anyone's "best alternative" */
	.max_producers = 1,
	.max_consumers = 1,
	.setup = rm_setup,
	.child_init = rr_child_init,
	.child_fini = rr_child_fini,
	.run = rm_run,
	.teardown = rr_teardown,
};
