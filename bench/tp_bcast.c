/* SPDX-License-Identifier: MIT */
/*
 * Fan-out (issue 11): one writer, C readers that each get every message.
 *   nshm-bcast   nshm's broadcast ring, lossy (<nshm/bcast.h>): readers
 *                are read-only subscribers; the writer never waits. Spin
 *                only (a subscriber cannot park: it polls).
 *   nshm-mcast   the same ring back-pressured: readers register; the
 *                writer waits for the slowest (spin: retry; block:
 *                publish_wait / read_wait).
 *   bcast-floor  a hand-written seqlock broadcast with nshm-bcast's slot
 *                layout (payload, then an 8-byte seq; BUSY, fence,
 *                payload, PUBLISHED, tail) in shared anonymous memory:
 *                what the lossy protocol costs with no API, no checks.
 * Throughput: P = 1, C readers (--pc 1x1,1x2,1x4). The driver counts
 * sent == received; here every reader receives every message, so reader 0
 * reports received + missed as its count and the others 0, while every
 * reader's first and last timestamps count: the rate is the writer's, as
 * the slowest reader saw it end. Lossy readers that are overrun report
 * laps and messages missed on stderr (one line per reader).
 * Latency: two rings, ping -> pong -> ping, one reader each.
 */
#include "bench.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <nshm/bcast.h>

enum bc_kind { BC_LOSSY, BC_BP, BC_FLOOR };

/* The floor's ring: tail on its own line pair, then the slots. */
struct fl_ring {
	_Atomic(uint64_t) tail __attribute__((aligned(128)));
	unsigned char pad[120];
	unsigned char slots[];
};

struct bc_state {
	enum bc_kind kind;
	enum bench_mode mode;
	char name[2][80];
	struct nshm_ring *owner[2]; /* the driver's handles (observer) */
	struct nshm_ring *r[2];	    /* a child's handles */
	struct fl_ring *fl[2];	    /* floor: shared anonymous memory */
	size_t fl_len;
	uint32_t stride, mask;
	struct nshm_ring_type type;
};

static void bc_teardown(void *st, const struct bench_params *p)
{
	struct bc_state *s = st;

	(void)p;
	for (int i = 0; i < 2; i++) {
		if (s->owner[i] != NULL) {
			nshm_ring_close(s->owner[i]);
			nshm_ring_delete(s->name[i]);
		}
		if (s->fl[i] != NULL)
			bench_shared_free(s->fl[i], s->fl_len);
	}
	free(s);
}

static int bc_setup_kind(void **st, const struct bench_params *p, char *why,
			 size_t whylen, enum bc_kind kind)
{
	struct bc_state *s = calloc(1, sizeof(*s));
	int rings = p->kind == KIND_TPUT ? 1 : 2;

	if (s == NULL)
		return -ENOMEM;
	s->kind = kind;
	s->mode = p->mode;
	s->type.name = "nshm-bench message";
	s->type.version = 1;
	s->type.size = (uint32_t)p->size;
	s->type.align = p->size % 8 == 0 ? 8 : 1;
	/* As nshm's broadcast slots: payload, pad to 8, seq, whole lines. */
	s->stride = (uint32_t)(((p->size + 7) / 8 * 8 + 8 + 63) / 64 * 64);
	s->mask = p->capacity - 1;
	for (int i = 0; i < rings; i++) {
		struct nshm_ring_params rp = NSHM_RING_PARAMS_INIT;
		int ret;

		if (kind == BC_FLOOR) {
			s->fl_len = sizeof(struct fl_ring) +
				    (size_t)p->capacity * s->stride;
			s->fl[i] = bench_shared_alloc(s->fl_len);
			if (s->fl[i] == NULL) {
				bc_teardown(s, p);
				return -ENOMEM;
			}
			continue;
		}
		snprintf(s->name[i], sizeof(s->name[i]), "nshm-bench-%d-%d-b%c",
			 (int)getpid(), p->instance, 'a' + i);
		nshm_ring_delete(s->name[i]); /* left over from a crash */
		rp.kind = NSHM_RING_BROADCAST;
		rp.type = &s->type;
		rp.capacity = p->capacity;
		rp.role = NSHM_RING_OBSERVER;
		rp.flags = NSHM_PREFAULT;
		rp.mode = 0600;
		rp.policy = kind == BC_BP ? NSHM_BCAST_BACKPRESSURE
					  : NSHM_BCAST_LOSSY;
		rp.max_consumers = kind == BC_BP ? BENCH_MAX_PROCS : 0;
		ret = nshm_ring_create_with(s->name[i], &rp, &s->owner[i]);
		if (ret < 0) {
			snprintf(why, whylen, "nshm_ring_create_with(%s): %s%s%s",
				 s->name[i], nshm_strerror(ret),
				 nshm_errdetail()[0] ? ": " : "",
				 nshm_errdetail());
			bc_teardown(s, p);
			return 1;
		}
	}
	*st = s;
	return 0;
}

static int bc_setup_lossy(void **st, const struct bench_params *p, char *why,
			  size_t whylen)
{
	return bc_setup_kind(st, p, why, whylen, BC_LOSSY);
}

static int bc_setup_bp(void **st, const struct bench_params *p, char *why,
		       size_t whylen)
{
	return bc_setup_kind(st, p, why, whylen, BC_BP);
}

static int bc_setup_floor(void **st, const struct bench_params *p, char *why,
			  size_t whylen)
{
	return bc_setup_kind(st, p, why, whylen, BC_FLOOR);
}

/* Throughput: role 0 writes ring 0. Latency: ring 0 ping->pong, 1 back. */
static int bc_child_init(void *st, const struct bench_params *p, int role)
{
	struct bc_state *s = st;
	int reader = s->kind == BC_BP ? NSHM_RING_CONSUMER
				      : NSHM_RING_SUBSCRIBER;
	int ret = 0;

	if (s->kind == BC_FLOOR)
		return 0;
	for (int i = 0; i < (p->kind == KIND_TPUT ? 1 : 2) && ret == 0; i++) {
		/* TPUT: 0 writes; RTT: ping writes ring 0, pong ring 1. */
		bool writes = p->kind == KIND_TPUT ? role == 0 : role == i;

		ret = nshm_bcast_attach(s->name[i], &s->type,
					writes ? NSHM_RING_PRODUCER : reader,
					NSHM_BCAST_FROM_NOW, 0, NSHM_PREFAULT,
					&s->r[i]);
	}
	return ret;
}

static void bc_child_fini(void *st, const struct bench_params *p, int role)
{
	struct bc_state *s = st;

	(void)p;
	(void)role;
	for (int i = 0; i < 2; i++)
		if (s->r[i] != NULL)
			nshm_ring_close(s->r[i]);
}

/* ---- the floor: the lossy protocol, by hand ---------------------------- */

static BENCH_ALWAYS_INLINE void fl_put(struct bc_state *s, int ring,
				       uint64_t *pos, const unsigned char *buf,
				       size_t size)
{
	struct fl_ring *f = s->fl[ring];
	uint64_t n = (*pos)++;
	unsigned char *slot = f->slots + (size_t)(n & s->mask) * s->stride;
	_Atomic(uint64_t) *seq =
		(_Atomic(uint64_t) *)(void *)(slot + (size + 7) / 8 * 8);

	atomic_store_explicit(seq, n & ~(UINT64_C(1) << 63),
			      memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	memcpy(slot, buf, size);
	atomic_store_explicit(seq, n | UINT64_C(1) << 63, memory_order_release);
	atomic_store_explicit(&f->tail, n + 1, memory_order_release);
}

/* 1 copied, 0 nothing yet, -1 overrun (*pos moved, *missed added). */
static BENCH_ALWAYS_INLINE int fl_get(struct bc_state *s, int ring,
				      uint64_t *pos, unsigned char *buf,
				      size_t size, uint64_t *missed)
{
	struct fl_ring *f = s->fl[ring];
	uint64_t c = *pos, t, want = c | UINT64_C(1) << 63;
	unsigned char *slot = f->slots + (size_t)(c & s->mask) * s->stride;
	_Atomic(uint64_t) *seq =
		(_Atomic(uint64_t) *)(void *)(slot + (size + 7) / 8 * 8);

	if (atomic_load_explicit(seq, memory_order_acquire) == want) {
		memcpy(buf, slot, size);
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit(seq, memory_order_relaxed) == want) {
			*pos = c + 1;
			return 1;
		}
	}
	{
		/* Not reached yet (being written, or the previous lap's). */
		uint64_t v = atomic_load_explicit(seq, memory_order_relaxed);

		if (v == (c & ~(UINT64_C(1) << 63)) ||
		    (c > s->mask ? v == ((c - s->mask - 1) | UINT64_C(1) << 63)
				 : v == 0)) {
			/* The payload's lines come with the seq's. */
			for (size_t o = 0; o < size && o < 256; o += 64)
				__builtin_prefetch(slot + o, 0, 3);
			return 0;
		}
	}
	t = atomic_load_explicit(&f->tail, memory_order_acquire);
	if (t - c > s->mask && t - c < (UINT64_C(1) << 62)) {
		uint64_t to = t - s->mask - 1 + (s->mask + 8) / 8;

		*missed += to - c;
		*pos = to;
		return -1;
	}
	return 0;
}

/* ---- nshm -------------------------------------------------------------- */

static BENCH_ALWAYS_INLINE int bc_put(struct bc_state *s, int ring,
				      uint64_t *pos, const unsigned char *buf,
				      size_t size)
{
	struct nshm_ring *r = s->r[ring];
	void *slot;

	if (s->kind == BC_FLOOR) {
		fl_put(s, ring, pos, buf, size);
		return 0;
	}
	while ((slot = nshm_bcast_reserve(r)) == NULL) {
		int rc = s->mode == MODE_BLOCK ? nshm_ring_wait_writable(r, NULL)
					       : nshm_ring_error(r);

		if (nshm_unlikely(rc < 0))
			return rc;
	}
	memcpy(slot, buf, size);
	nshm_bcast_commit(r);
	return 0;
}

/* 1 copied, -1 overrun (*missed added), < -1 an error. Waits otherwise. */
static BENCH_ALWAYS_INLINE int bc_get(struct bc_state *s, int ring,
				      uint64_t *pos, unsigned char *buf,
				      size_t size, uint64_t *missed)
{
	struct nshm_ring *r = s->r[ring];

	for (;;) {
		uint64_t m = 0;
		int rc;

		if (s->kind == BC_FLOOR) {
			rc = fl_get(s, ring, pos, buf, size, missed);
			if (rc != 0)
				return rc;
			cpu_relax();
			continue;
		}
		rc = s->mode == MODE_BLOCK
			     ? nshm_bcast_read_wait(r, buf, &m, NULL)
			     : nshm_bcast_read(r, buf, &m);
		if (nshm_likely(rc == 1))
			return 1;
		if (rc == -NSHM_ELAPPED) {
			*missed += m;
			return -1;
		}
		if (rc != 0)
			return rc < -1 ? rc : -EIO;
	}
}

static BENCH_ALWAYS_INLINE void bc_run_sz(struct bc_state *s,
					  const struct bench_params *p,
					  int role, struct side_result *r,
					  struct hdr_hist *h, size_t size)
{
	unsigned char *out = malloc(size), *in = malloc(size);
	uint64_t pos[2] = { 0, 0 }, t0, t1 = 0, missed = 0, laps = 0;
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
			ret = bc_put(s, 0, &pos[0], out, size);
			if (ret < 0)
				break;
			r->msgs++;
			if (last)
				break;
		}
		r->bytes = r->msgs * size;
	} else if (p->kind == KIND_TPUT) {
		uint64_t expect = 0, got = 0;

		for (;;) {
			uint64_t sq;

			ret = bc_get(s, 0, &pos[0], in, size, &missed);
			if (ret == -1) {
				laps++;
				expect = s->kind == BC_FLOOR
						 ? pos[0]
						 : nshm_ring_position(s->r[0]);
				ret = 0;
				continue;
			}
			if (ret < 0)
				break;
			sq = msg_seq(in);
			if ((sq & ~MSG_LAST) != expect ||
			    !msg_tail_ok(in, size, sq)) {
				if (r->bad++ == 0)
					side_fail(r, -1, "message %llu: got "
						  "seq %llu",
						  (unsigned long long)expect,
						  (unsigned long long)(sq &
								       ~MSG_LAST));
				expect = sq & ~MSG_LAST;
			}
			if (got++ == 0)
				r->t_first = bench_now();
			expect++;
			if (sq & MSG_LAST) {
				r->t_last = bench_now();
				break;
			}
		}
		/* Every reader got every message: count them once. */
		r->msgs = role == 1 ? got + missed : 0;
		r->bytes = r->msgs * size;
		if (laps != 0 || missed != 0)
			fprintf(stderr, "%s reader %d: received %llu, missed "
				"%llu in %llu laps\n",
				s->kind == BC_FLOOR ? "bcast-floor"
						    : "nshm-bcast",
				role, (unsigned long long)got,
				(unsigned long long)missed,
				(unsigned long long)laps);
	} else if (role == 0) {
		for (uint64_t i = 0;; i++) {
			bool timed;
			uint64_t seq = rtt_begin(p, r, i, t1, &timed);

			msg_stamp(out, size, seq);
			t0 = bench_now();
			ret = bc_put(s, 0, &pos[0], out, size);
			while (ret == 0 &&
			       (ret = bc_get(s, 1, &pos[1], in, size,
					     &missed)) == -1)
				ret = 0; /* an overrun cannot happen here */
			t1 = bench_now();
			if (ret < 0)
				break;
			ret = 0;
			rtt_account(p, r, h, in, size, i, timed, t0, t1);
			if (seq & MSG_LAST)
				break;
		}
	} else {
		for (;;) {
			while ((ret = bc_get(s, 0, &pos[0], in, size,
					     &missed)) == -1)
				;
			if (ret == 1)
				ret = bc_put(s, 1, &pos[1], in, size);
			if (ret < 0)
				break;
			ret = 0;
			r->msgs++;
			if (msg_seq(in) & MSG_LAST)
				break;
		}
	}
	if (ret < 0)
		side_fail(r, ret, "broadcast: %s", nshm_strerror(ret));
out:
	free(out);
	free(in);
}

static void bc_run(void *st, const struct bench_params *p, int role,
		   struct side_result *r, struct hdr_hist *h)
{
	BENCH_SIZE_DISPATCH(p->size, bc_run_sz, (struct bc_state *)st, p, role,
			    r, h);
}

const struct transport tp_nshm_bcast = {
	.name = "nshm-bcast",
	.desc = "nshm broadcast ring, lossy: read-only subscribers, the "
		"writer never waits; spin only",
	.modes = MODE_SPIN,
	.nshm = true,
	.max_producers = 1,
	.max_consumers = 4,
	.setup = bc_setup_lossy,
	.child_init = bc_child_init,
	.child_fini = bc_child_fini,
	.run = bc_run,
	.teardown = bc_teardown,
};

const struct transport tp_nshm_mcast = {
	.name = "nshm-mcast",
	.desc = "nshm broadcast ring, back-pressured: registered readers, "
		"the writer waits for the slowest; spin: retry, block: wait",
	.modes = MODE_SPIN | MODE_BLOCK,
	.nshm = true,
	.max_producers = 1,
	.max_consumers = 4,
	.setup = bc_setup_bp,
	.child_init = bc_child_init,
	.child_fini = bc_child_fini,
	.run = bc_run,
	.teardown = bc_teardown,
};

const struct transport tp_bcast_floor = {
	.name = "bcast-floor",
	.desc = "hand-written seqlock broadcast, nshm-bcast's slot layout, "
		"no API (the lossy floor); spin only",
	.modes = MODE_SPIN,
	.is_floor = true,
	.max_producers = 1,
	.max_consumers = 4,
	.setup = bc_setup_floor,
	.child_init = bc_child_init,
	.child_fini = bc_child_fini,
	.run = bc_run,
	.teardown = bc_teardown,
};
