/* SPDX-License-Identifier: MIT */
#ifndef NSHM_BENCH_MPMC_COMMON_H
#define NSHM_BENCH_MPMC_COMMON_H

/*
 * What every many-producer / many-consumer transport of nshm-bench shares
 * (nshm-mpmc, mpmc-floor, ck-mpmc; doc/bench.md "MPMC"): the message word,
 * the end-of-run protocol, the exactly-once check, and the four loops
 * (producer, consumer, ping, pong) generated per transport by
 * MPMC_DEFINE_LOOPS() around the transport's own put/get.
 *
 * Message word (bytes 0..7): producer id << 48 | that producer's sequence
 * number; the tail word is word ^ MSG_KEY (msg_stamp()). A throughput run
 * with P producers gives each at most ceil(msgs / P) messages.
 *
 * End of a run: a producer that is done stores how many it sent and counts
 * itself in prod_done; the last one (every message of every producer is
 * then published) pushes one "pill" (word MPMC_PILL) per consumer. Pills
 * follow every message in the ring's order, so a consumer that takes one
 * has seen the last of its messages and stops: each of the C consumers
 * takes exactly one. Its t_last is the time it took its pill.
 *
 * Verification, per consumer: a producer's messages arrive in increasing
 * order (a producer claims its slots in order, a consumer claims in order);
 * with one consumer they must be exactly 0, 1, 2, ... of each producer.
 * With several consumers each keeps a private bitmap of what it got (per
 * producer, sequential, in its own memory, ~1 ns a message) and ORs it into
 * a shared one after the run (a bit already set is a duplicate); the last
 * consumer to finish checks that every producer's count of bits equals
 * what it sent. So every message is delivered exactly once, or the case
 * fails with what went wrong.
 */

#include "bench.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#define MPMC_PID_SHIFT 48
#define MPMC_SEQ_MASK ((UINT64_C(1) << MPMC_PID_SHIFT) - 1)
#define MPMC_PILL (~MSG_LAST) /* a stop message: no producer has this id */
#define nshm_bench_unlikely(x) __builtin_expect(!!(x), 0)

/* Shared by every role of one run (bench_shared_alloc(), before fork). */
struct mpmc_sync {
	_Alignas(128) _Atomic(uint32_t) prod_done; /* producers finished */
	_Alignas(128) _Atomic(uint32_t) cons_done; /* consumers finished */
	_Alignas(128) uint64_t sent[BENCH_MAX_PROCS]; /* per producer */
	uint64_t per;	  /* sequence numbers per producer: 0..per-1 */
	uint64_t words;	  /* bitmap words per producer (C > 1) */
	unsigned P, C;
	size_t len;	  /* of this mapping */
	_Atomic(uint64_t) bits[]; /* P x words, when C > 1 */
};

/* In the driver, in setup(). NULL on failure. */
static inline struct mpmc_sync *mpmc_sync_new(const struct bench_params *p)
{
	unsigned P = p->kind == KIND_TPUT ? p->producers : 1;
	unsigned C = p->kind == KIND_TPUT ? p->consumers : 1;
	uint64_t per = (p->msgs + P - 1) / P;
	uint64_t words = (per + 63) / 64;
	size_t len = sizeof(struct mpmc_sync) +
		     (C > 1 ? (size_t)(P * words) * sizeof(uint64_t) : 0);
	struct mpmc_sync *ms;

	if (P == 0 || C == 0 || P + C > BENCH_MAX_PROCS)
		return NULL;
	ms = bench_shared_alloc(len);
	if (ms == NULL)
		return NULL;
	ms->per = per;
	ms->words = words;
	ms->P = P;
	ms->C = C;
	ms->len = len;
	return ms;
}

static inline void mpmc_sync_free(struct mpmc_sync *ms)
{
	if (ms != NULL)
		bench_shared_free(ms, ms->len);
}

/* A consumer's private bookkeeping. */
struct mpmc_rx {
	uint64_t next[BENCH_MAX_PROCS]; /* per producer: next seq expected */
	uint64_t *bm;			/* C > 1: P x words bits */
};

static inline int mpmc_rx_init(struct mpmc_rx *rx, const struct mpmc_sync *ms)
{
	memset(rx->next, 0, sizeof(rx->next));
	rx->bm = NULL;
	if (ms->C > 1) {
		size_t n = (size_t)(ms->P * ms->words) * sizeof(uint64_t);

		rx->bm = malloc(n);
		if (rx->bm == NULL)
			return -ENOMEM;
		memset(rx->bm, 0, n); /* fault it in before the run */
	}
	return 0;
}

/* One message: verify and account. Pills are handled by the caller. */
static BENCH_ALWAYS_INLINE void mpmc_rx_check(struct mpmc_rx *rx,
					      const struct mpmc_sync *ms,
					      struct side_result *r,
					      const unsigned char *buf,
					      size_t size, uint64_t w)
{
	uint64_t pid = w >> MPMC_PID_SHIFT, s = w & MPMC_SEQ_MASK;

	if (nshm_bench_unlikely(pid >= ms->P || s >= ms->per ||
				(ms->C == 1 ? s != rx->next[pid]
					    : s < rx->next[pid]) ||
				!msg_tail_ok(buf, size, w))) {
		if (r->bad++ == 0)
			side_fail(r, -1,
				  "message of producer %llu: seq %llu, "
				  "expected %s%llu, tail %s",
				  (unsigned long long)pid,
				  (unsigned long long)s,
				  ms->C == 1 ? "" : "> ",
				  pid < ms->P ? (unsigned long long)
							rx->next[pid] : 0ull,
				  msg_tail_ok(buf, size, w) ? "ok"
							    : "corrupt");
		if (pid >= ms->P || s >= ms->per)
			return;
	}
	rx->next[pid] = s + 1;
	if (ms->C > 1)
		rx->bm[pid * ms->words + s / 64] |= UINT64_C(1) << (s % 64);
	if (r->msgs++ == 0)
		r->t_first = bench_now();
}

/*
 * After the run (untimed): merge the bitmap, and the last consumer checks
 * that every message of every producer arrived exactly once.
 */
static inline void mpmc_rx_finish(struct mpmc_rx *rx, struct mpmc_sync *ms,
				  struct side_result *r)
{
	uint64_t dup = 0;

	if (ms->C > 1) {
		for (uint64_t i = 0; i < ms->P * ms->words; i++) {
			uint64_t old;

			if (rx->bm[i] == 0)
				continue;
			/* Relaxed: the acq_rel count below orders it. */
			old = atomic_fetch_or_explicit(&ms->bits[i], rx->bm[i],
						       memory_order_relaxed);
			dup += (uint64_t)__builtin_popcountll(old & rx->bm[i]);
		}
		if (dup != 0)
			side_fail(r, -1, "%llu messages were delivered to two "
				  "consumers", (unsigned long long)dup);
		free(rx->bm);
		rx->bm = NULL;
	}
	/*
	 * MP1: pairs with MP1 of the other consumers: the last one sees every
	 * bitmap merged. The producers' sent[] counts are visible through
	 * MP2 and the pill this consumer took.
	 */
	if (atomic_fetch_add_explicit(&ms->cons_done, 1, memory_order_acq_rel) !=
	    ms->C - 1)
		return;
	for (unsigned p = 0; p < ms->P; p++) {
		uint64_t got = 0;

		if (ms->C == 1) {
			got = rx->next[p];
		} else {
			for (uint64_t i = 0; i < ms->words; i++)
				got += (uint64_t)__builtin_popcountll(
					atomic_load_explicit(
						&ms->bits[p * ms->words + i],
						memory_order_relaxed));
		}
		if (got != ms->sent[p]) {
			side_fail(r, -1, "producer %u sent %llu messages, "
				  "%llu distinct arrived", p,
				  (unsigned long long)ms->sent[p],
				  (unsigned long long)got);
			break;
		}
	}
}

/*
 * MPMC_DEFINE_LOOPS(pfx, ctx_t, PUT, GET) defines
 * pfx_run_sz(ctx_t *ctx, struct mpmc_sync *ms, p, role, r, h, size), the
 * body of every role, for a transport whose
 *   int PUT(ctx_t *ctx, int ring, const unsigned char *buf, size_t size)
 *   int GET(ctx_t *ctx, int ring, unsigned char *buf, size_t size)
 * copy one message into / out of ring 0 or 1 (waiting as the mode says;
 * 0 or a negative errno). Throughput: roles 0..P-1 produce into ring 0,
 * P..P+C-1 consume from it. Latency: role 0 (ping) puts into ring 0 and
 * gets from ring 1, role 1 (pong) echoes. PUT and GET should be
 * BENCH_ALWAYS_INLINE, and so is the generated body, so that with a
 * constant size every copy is inline moves (BENCH_SIZE_DISPATCH).
 */
#define MPMC_DEFINE_LOOPS(pfx, ctx_t, PUT, GET)                                \
	static BENCH_ALWAYS_INLINE void pfx##_run_sz(                          \
		ctx_t *ctx, struct mpmc_sync *ms,                              \
		const struct bench_params *p, int role,                        \
		struct side_result *r, struct hdr_hist *h, size_t size)        \
	{                                                                      \
		unsigned char *out = malloc(size), *in = malloc(size);         \
		uint64_t t0, t1 = 0;                                           \
		int ret = 0;                                                   \
                                                                               \
		if (out == NULL || in == NULL) {                               \
			side_fail(r, -ENOMEM, "out of memory");                \
			goto out;                                              \
		}                                                              \
		msg_fill(out, size);                                           \
		if (p->kind == KIND_TPUT && role < (int)ms->P) {               \
			uint64_t id = (uint64_t)role << MPMC_PID_SHIFT;        \
                                                                               \
			for (uint64_t seq = 0;; seq++) {                       \
				bool last = seq + 1 >= ms->per ||              \
					    ((seq & 63) == 63 &&               \
					     bench_now() >= p->deadline);      \
                                                                               \
				msg_stamp(out, size, id | seq);                \
				ret = PUT(ctx, 0, out, size);                  \
				if (ret < 0)                                   \
					break;                                 \
				r->msgs++;                                     \
				if (last)                                      \
					break;                                 \
			}                                                      \
			r->bytes = r->msgs * size;                             \
			ms->sent[role] = r->msgs;                              \
			/* MP2: pairs with MP2 in the last producer: its     \
			 * pills follow every message of ours; sent[] is     \
			 * visible to whoever takes a pill. */               \
			if (atomic_fetch_add_explicit(&ms->prod_done, 1,       \
						      memory_order_acq_rel) == \
			    ms->P - 1) {                                       \
				msg_stamp(out, size, MPMC_PILL);               \
				for (unsigned c = 0; c < ms->C; c++) {         \
					int rc = PUT(ctx, 0, out, size);       \
					if (rc < 0) {                          \
						ret = ret ? ret : rc;          \
						break;                         \
					}                                      \
				}                                              \
			}                                                      \
		} else if (p->kind == KIND_TPUT) {                             \
			struct mpmc_rx rx;                                     \
                                                                               \
			ret = mpmc_rx_init(&rx, ms);                           \
			for (; ret == 0;) {                                    \
				uint64_t w;                                    \
                                                                               \
				ret = GET(ctx, 0, in, size);                   \
				if (ret < 0)                                   \
					break;                                 \
				w = msg_seq(in);                               \
				if (nshm_bench_unlikely(w == MPMC_PILL)) {     \
					r->t_last = bench_now();               \
					/* none but the pill: no t_first */   \
					if (r->msgs == 0)                      \
						r->t_first = r->t_last;        \
					break;                                 \
				}                                              \
				mpmc_rx_check(&rx, ms, r, in, size, w);        \
			}                                                      \
			r->bytes = r->msgs * size;                             \
			if (ret == 0)                                          \
				mpmc_rx_finish(&rx, ms, r);                    \
		} else if (role == 0) {                                        \
			for (uint64_t i = 0;; i++) {                           \
				bool timed;                                    \
				uint64_t seq = rtt_begin(p, r, i, t1, &timed); \
                                                                               \
				msg_stamp(out, size, seq);                     \
				t0 = bench_now();                              \
				ret = PUT(ctx, 0, out, size);                  \
				if (ret == 0)                                  \
					ret = GET(ctx, 1, in, size);           \
				t1 = bench_now();                              \
				if (ret < 0)                                   \
					break;                                 \
				rtt_account(p, r, h, in, size, i, timed, t0,   \
					    t1);                               \
				if (seq & MSG_LAST)                            \
					break;                                 \
			}                                                      \
		} else {                                                       \
			for (;;) {                                             \
				ret = GET(ctx, 0, in, size);                   \
				if (ret == 0)                                  \
					ret = PUT(ctx, 1, in, size);           \
				if (ret < 0)                                   \
					break;                                 \
				r->msgs++;                                     \
				if (msg_seq(in) & MSG_LAST)                    \
					break;                                 \
			}                                                      \
		}                                                              \
		if (ret < 0)                                                   \
			side_fail(r, ret, "%s", strerror(-ret));               \
	out:                                                                   \
		free(out);                                                     \
		free(in);                                                      \
	}

#endif /* NSHM_BENCH_MPMC_COMMON_H */
