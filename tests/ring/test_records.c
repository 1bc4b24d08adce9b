/* SPDX-License-Identifier: MIT */
/*
 * The records ring (issue 12): variable-size typed records on the ring
 * core. API and errors, zero-length and maximum-size records, padding at
 * the wrap, batches, alignment, typed protocols and their fingerprint,
 * corrupt headers, a producer killed at every step of a commit (take-over
 * resumes at the published end), a killed consumer (its unreleased records
 * go to the next one), cross-process streams of random lengths with every
 * byte checked, and a scribbling peer while a reader runs.
 */
#include <nshm/nshm.h>
#include <nshm/records.h>
#include "ring_test.h"

/* ---- record contents: a function of the record's sequence number ------ */

static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* Length of record @s: random in 0..max, with 0 and max often. */
static uint32_t rec_len(uint64_t s, uint32_t max)
{
	uint64_t h = mix(s);

	if ((h & 63) == 0)
		return max;
	if ((h & 63) == 1)
		return 0;
	return (uint32_t)((h >> 8) % ((uint64_t)max + 1));
}

static uint32_t rec_type(uint64_t s)
{
	return (uint32_t)(mix(s ^ 0x5555) & 0xffff);
}

static void rec_fill(void *p, uint64_t s, uint32_t len)
{
	unsigned char *b = p;
	uint64_t w = mix(s * 3 + 1);
	uint32_t i = 0;

	if (len >= 8) {
		memcpy(b, &s, 8);
		i = 8;
	}
	for (; i + 8 <= len; i += 8) {
		uint64_t v = w + i;

		memcpy(b + i, &v, 8);
	}
	for (; i < len; i++)
		b[i] = (unsigned char)(w >> (i & 7) * 8);
}

/* 0 fine, 1 bad. */
static int rec_bad(const void *p, uint64_t s, uint32_t len)
{
	const unsigned char *b = p;
	uint64_t w = mix(s * 3 + 1);
	uint32_t i = 0;

	if (len >= 8) {
		uint64_t v;

		memcpy(&v, b, 8);
		if (v != s)
			return 1;
		i = 8;
	}
	for (; i + 8 <= len; i += 8) {
		uint64_t v;

		memcpy(&v, b + i, 8);
		if (v != w + i)
			return 1;
	}
	for (; i < len; i++)
		if (b[i] != (unsigned char)(w >> (i & 7) * 8))
			return 1;
	return 0;
}

static struct nshm_ring_params rparams(uint32_t bytes, uint32_t max,
				       uint32_t align, int role)
{
	struct nshm_ring_params p = NSHM_RING_PARAMS_INIT;

	p.capacity = bytes;
	p.record_max = max;
	p.record_align = align;
	p.role = (uint32_t)role;
	return p;
}

static void pair(const char *n, uint32_t bytes, uint32_t max, uint32_t align,
		 struct nshm_ring **p, struct nshm_ring **c)
{
	struct nshm_ring_params q = rparams(bytes, max, align,
					    NSHM_RING_PRODUCER);

	assert_int_equal(nshm_records_create(n, &q, NULL, p), 0);
	assert_int_equal(nshm_records_attach(n, NULL, NSHM_RING_CONSUMER, 0, c),
			 0);
}

static void quick_wait(struct nshm_ring *r)
{
	struct nshm_wait_strategy ws = { .spins = 64, .yields = 4,
					 .park_slice_ms = 5 };

	assert_int_equal(nshm_ring_set_wait(r, &ws), 0);
}

/* ---- API, errors, limits ---------------------------------------------- */

static void test_params(void **state)
{
	struct nshm_ring_params q;
	struct nshm_ring *r = NULL;
	const char *n = t_name("rec-par");

	(void)state;
	q = rparams(4096, 0, 12, NSHM_RING_PRODUCER);
	assert_int_equal(nshm_records_create(n, &q, NULL, &r), -EINVAL);
	q = rparams(4096, 0, 128, NSHM_RING_PRODUCER);
	assert_int_equal(nshm_records_create(n, &q, NULL, &r), -EINVAL);
	q = rparams(64, 0, 0, NSHM_RING_PRODUCER);
	assert_int_equal(nshm_records_create(n, &q, NULL, &r), -EINVAL);
	q = rparams(4096, 4096, 0, NSHM_RING_PRODUCER);
	assert_int_equal(nshm_records_create(n, &q, NULL, &r), -EINVAL);
	assert_non_null(strstr(nshm_errdetail(), "at most"));
	q = rparams(4096, 0, 0, NSHM_RING_PRODUCER);
	q.max_producers = 128;
	assert_int_equal(nshm_records_create(n, &q, NULL, &r), -EINVAL);
	q.max_producers = 1;
	q.max_consumers = 2;
	assert_int_equal(nshm_records_create(n, &q, NULL, &r), -EINVAL);
	q = rparams(1000, 0, 0, NSHM_RING_PRODUCER);
	assert_int_equal(nshm_records_create(n, &q, NULL, &r), -EINVAL);
	{
		/* The kind's type is the protocol: size 1, align 1. */
		static const struct nshm_ring_type t =
			NSHM_RING_TYPE_INIT(uint64_t, 1);

		q = rparams(4096, 0, 0, NSHM_RING_PRODUCER);
		q.kind = NSHM_RING_RECORDS;
		q.type = &t;
		assert_int_equal(nshm_ring_create_with(n, &q, &r), -EINVAL);
	}
	/* Largest record_max: (4096 - 8) / 2 rounded down to 8, less 8. */
	q = rparams(4096, 2032, 0, NSHM_RING_PRODUCER);
	assert_int_equal(nshm_records_create(n, &q, NULL, &r), 0);
	assert_int_equal(nshm_records_max(r), 2032);
	assert_int_equal(nshm_ring_close(r), 0);
	assert_int_equal(nshm_ring_delete(n), 0);
	/* Default: a quarter of the capacity. */
	q = rparams(4096, 0, 0, NSHM_RING_PRODUCER);
	assert_int_equal(nshm_records_create(n, &q, NULL, &r), 0);
	assert_int_equal(nshm_records_max(r), 1024);
	/* Another kind's attach is refused, and this one as another kind. */
	{
		struct nshm_ring *o = NULL;

		assert_int_equal(nshm_ring_attach(n, NSHM_RING_SPSC,
						  msg_ring_type(),
						  NSHM_RING_CONSUMER, 0, &o),
				 -NSHM_EKIND);
	}
	assert_int_equal(nshm_ring_close(r), 0);
}

static void test_basic(void **state)
{
	const char *n = t_name("rec-basic");
	struct nshm_ring *p, *c;
	struct nshm_record rec = { NULL, 0, 0 };
	unsigned char buf[2048];
	uint32_t len = 0, type = 0;
	void *w;

	(void)state;
	pair(n, 4096, 1000, 0, &p, &c);
	/* Empty. */
	assert_false(nshm_records_next(c, &rec));
	assert_int_equal(nshm_ring_error(c), 0);
	assert_int_equal(nshm_records_pop(c, buf, sizeof(buf), &len, &type),
			 -EAGAIN);
	/* Zero-length, small, maximum. */
	assert_int_equal(nshm_records_push(p, 7, NULL, 0), 0);
	rec_fill(buf, 1, 13);
	assert_int_equal(nshm_records_push(p, 65535, buf, 13), 0);
	w = nshm_records_reserve(p, 1000);
	assert_non_null(w);
	assert_int_equal((uintptr_t)w % 8, 0);
	rec_fill(w, 2, 1000);
	nshm_records_commit(p, 3);
	/* Too long: -EMSGSIZE, nothing reserved. */
	assert_null(nshm_records_reserve(p, 1001));
	assert_int_equal(nshm_ring_error(p), -EMSGSIZE);
	nshm_ring_clear_error(p);
	assert_int_equal(nshm_records_push(p, 1, buf, 1001), -EMSGSIZE);
	assert_int_equal(nshm_records_push(p, 65536, buf, 1), -EINVAL);

	assert_true(nshm_records_next(c, &rec));
	assert_int_equal(rec.len, 0);
	assert_int_equal(rec.type, 7);
	assert_true(nshm_records_next(c, &rec));
	assert_int_equal(rec.len, 13);
	assert_int_equal(rec.type, 65535);
	assert_int_equal(rec_bad(rec.data, 1, 13), 0);
	nshm_records_release(c);
	/* A buffer too small: the size needed, the record stays. */
	assert_int_equal(nshm_records_pop(c, buf, 999, &len, &type), -EMSGSIZE);
	assert_int_equal(len, 1000);
	assert_int_equal(type, 3);
	len = 0;
	assert_int_equal(nshm_records_pop(c, buf, 1000, &len, &type), 0);
	assert_int_equal(len, 1000);
	assert_int_equal(rec_bad(buf, 2, 1000), 0);
	assert_false(nshm_records_next(c, &rec));

	/* Commit shorter than reserved; misuse. */
	w = nshm_records_reserve(p, 100);
	assert_non_null(w);
	rec_fill(w, 9, 40);
	nshm_records_commit_len(p, 9, 101); /* longer: refused */
	assert_int_equal(nshm_ring_error(p), -EINVAL);
	nshm_ring_clear_error(p);
	nshm_records_commit_len(p, 9, 40);
	assert_int_equal(nshm_ring_error(p), 0);
	nshm_records_commit(p, 1); /* nothing reserved */
	assert_int_equal(nshm_ring_error(p), -EINVAL);
	nshm_ring_clear_error(p);
	assert_true(nshm_records_next(c, &rec));
	assert_int_equal(rec.len, 40);
	assert_int_equal(rec_bad(rec.data, 9, 40), 0);
	nshm_records_release(c);
	/* Wrong role calls touch nothing. */
	assert_null(nshm_records_reserve(c, 8));
	assert_int_equal(nshm_ring_error(c), -EPERM);
	assert_false(nshm_records_next(p, &rec));
	assert_int_equal(nshm_ring_error(p), -EPERM);
	nshm_records_release(p);
	nshm_records_commit(c, 1);
	assert_int_equal(nshm_ring_check(p), 0);
	assert_int_equal(nshm_ring_check(c), 0);
	{
		struct nshm_ring_stats st;

		assert_int_equal(nshm_ring_stats(c, &st), 0);
		assert_int_equal(st.kind, NSHM_RING_RECORDS);
		assert_int_equal(st.capacity, 4096);
		assert_int_equal(st.count, 0);
		assert_true(st.pushed > 1000);
	}
	assert_int_equal(nshm_ring_close(p), 0);
	/* Drained and closed: -EPIPE. */
	{
		struct timespec ts;

		assert_int_equal(nshm_records_next_wait(c, &rec,
							t_in_ms(&ts, 1000)),
				 -EPIPE);
	}
	assert_int_equal(nshm_ring_close(c), 0);
}

/* Small ring, random lengths, in one process: every wrap and padding. */
static void wrap_run(uint32_t bytes, uint32_t max, uint32_t align, int batch)
{
	const char *n = t_name("rec-wrap");
	struct nshm_ring *p, *c;
	uint64_t sent = 0, got = 0, pads = 0;
	const uint64_t total = 20000;

	pair(n, bytes, max, align, &p, &c);
	while (got < total) {
		/* Fill what fits (batches of up to @batch, one publish). */
		for (int k = 0; sent < total; k++) {
			uint32_t len = rec_len(sent, max);
			void *w = nshm_records_reserve(p, len);

			if (w == NULL)
				break;
			assert_int_equal((uintptr_t)w % align, 0);
			assert_true((unsigned char *)w + len <=
				    p->slots + bytes);
			if ((((uintptr_t)w - (uintptr_t)p->slots) % bytes) ==
			    align)
				pads++;
			rec_fill(w, sent, len);
			if (batch > 1 && (k + 1) % batch != 0)
				nshm_records_seal(p, rec_type(sent));
			else
				nshm_records_commit(p, rec_type(sent));
			sent++;
		}
		nshm_records_publish(p);
		assert_int_equal(nshm_ring_error(p), 0);
		/* Read a few in place, then release them at once. */
		for (int k = 0; k < 1 + (int)(got % 5) && got < sent; k++) {
			struct nshm_record rec = { NULL, 0, 0 };

			assert_true(nshm_records_next(c, &rec));
			assert_int_equal(rec.len, rec_len(got, max));
			assert_int_equal(rec.type, rec_type(got));
			assert_int_equal(rec_bad(rec.data, got, rec.len), 0);
			assert_int_equal((uintptr_t)rec.data % align, 0);
			got++;
		}
		nshm_records_release(c);
	}
	assert_true(pads > 10); /* the lap start was reached many times */
	assert_int_equal(nshm_ring_error(c), 0);
	assert_int_equal(nshm_ring_check(c), 0);
	nshm_ring_close(p);
	nshm_ring_close(c);
}

static void test_wrap(void **state)
{
	(void)state;
	wrap_run(256, 56, 8, 1);
	wrap_run(1024, 248, 8, 1);
	wrap_run(1024, 248, 8, 4);
	wrap_run(4096, 1000, 64, 3);
	wrap_run(512, 100, 16, 1);
	wrap_run(128, 48, 8, 2);
}

/* A batch is seen whole or not at all; abort leaves nothing behind. */
static void test_batch(void **state)
{
	const char *n = t_name("rec-batch");
	struct nshm_ring *p, *c;
	struct nshm_record rec = { NULL, 0, 0 };
	struct nshm_record in[8];
	unsigned char data[8][64];
	uint32_t k;
	void *w;

	(void)state;
	pair(n, 1024, 200, 0, &p, &c);
	for (int i = 0; i < 3; i++) {
		w = nshm_records_reserve(p, 16);
		assert_non_null(w);
		rec_fill(w, (uint64_t)i, 16);
		nshm_records_seal(p, (uint32_t)i);
		assert_false(nshm_records_next(c, &rec)); /* not yet */
	}
	nshm_records_abort(p);
	assert_false(nshm_records_next(c, &rec));
	for (int i = 0; i < 3; i++) {
		w = nshm_records_reserve(p, 24);
		assert_non_null(w);
		rec_fill(w, (uint64_t)i + 10, 24);
		nshm_records_seal(p, (uint32_t)i + 10);
	}
	assert_false(nshm_records_next(c, &rec));
	nshm_records_publish(p);
	for (int i = 0; i < 3; i++) {
		assert_true(nshm_records_next(c, &rec));
		assert_int_equal(rec.type, (uint32_t)i + 10);
		assert_int_equal(rec_bad(rec.data, (uint64_t)i + 10, 24), 0);
	}
	assert_false(nshm_records_next(c, &rec));
	nshm_records_release(c);
	/* push_n: as many as fit, one publish. */
	for (int i = 0; i < 8; i++) {
		rec_fill(data[i], (uint64_t)i + 100, 64);
		in[i].data = data[i];
		in[i].len = 64;
		in[i].type = (uint32_t)i;
	}
	assert_int_equal(nshm_records_push_n(p, in, 8), 8);
	k = nshm_records_push_n(p, in, 8); /* until full */
	assert_true(k > 0 && k < 8);
	for (uint32_t i = 0; i < 8 + k; i++) {
		assert_true(nshm_records_next(c, &rec));
		assert_int_equal(rec_bad(rec.data, (uint64_t)(i % 8) + 100, 64),
				 0);
	}
	nshm_records_release(c);
	nshm_ring_close(p);
	nshm_ring_close(c);
}

/* ---- typed protocols --------------------------------------------------- */

struct quote {
	uint64_t id;
	double bid, ask;
};
struct trade {
	uint64_t id;
	double px;
	uint32_t qty;
};
struct trade2 {
	uint64_t id;
	double px;
	uint64_t qty;
};

#define FEED_V1(X, P)                   \
	X(P, quote, 1, struct quote, 1) \
	X(P, trade, 2, struct trade, 1)
NSHM_RECORDS_PROTO(feed, "feed", 1, FEED_V1)

/* The same protocol name and version, one type changed. */
#define FEED_V1B(X, P)                  \
	X(P, quote, 1, struct quote, 1) \
	X(P, trade, 2, struct trade2, 1)
NSHM_RECORDS_PROTO(feedb, "feed", 1, FEED_V1B)

static void test_proto(void **state)
{
	const char *n = t_name("rec-proto");
	struct nshm_ring *p, *c, *x = NULL;
	struct nshm_record rec = { NULL, 0, 0 };
	struct quote q = { 1, 1.5, 1.75 };
	struct trade *t;
	int quotes = 0, trades = 0;

	(void)state;
	assert_int_equal(feed_quote, 1);
	assert_int_equal(feed_trade, 2);
	assert_int_not_equal(nshm_records_fingerprint(feed_proto()),
			     nshm_records_fingerprint(feedb_proto()));
	assert_int_equal(feed_create(n, 4096, NSHM_RING_PRODUCER, &p), 0);
	/* A reader of another version of the protocol: a clear error. */
	assert_int_equal(feedb_attach(n, NSHM_RING_CONSUMER, 0, &x),
			 -NSHM_ETYPE);
	assert_non_null(strstr(nshm_errdetail(), "record protocol 'feed#"));
	assert_non_null(strstr(nshm_errdetail(), "type's id, C type, size"));
	/* Untyped attach is another protocol too. */
	assert_int_equal(nshm_records_attach(n, NULL, NSHM_RING_CONSUMER, 0,
					     &x),
			 -NSHM_ETYPE);
	assert_int_equal(feed_attach(n, NSHM_RING_CONSUMER, 0, &c), 0);

	assert_int_equal(feed_push_quote(p, &q), 0);
	t = feed_reserve_trade(p);
	assert_non_null(t);
	t->id = 2;
	t->px = 99.5;
	t->qty = 7;
	feed_commit_trade(p);
	while (nshm_records_next(c, &rec)) {
		switch (rec.type) {
		case feed_quote:
			assert_non_null(feed_as_quote(&rec));
			assert_null(feed_as_trade(&rec));
			assert_true(feed_as_quote(&rec)->ask == 1.75);
			quotes++;
			break;
		case feed_trade:
			assert_non_null(feed_as_trade(&rec));
			assert_int_equal(feed_as_trade(&rec)->qty, 7);
			trades++;
			break;
		default:
			fail();
		}
	}
	nshm_records_release(c);
	assert_int_equal(quotes, 1);
	assert_int_equal(trades, 1);
	nshm_ring_close(p);
	nshm_ring_close(c);
}

/* ---- corrupt headers ------------------------------------------------- */

static void test_corrupt(void **state)
{
	const char *n = t_name("rec-corrupt");
	struct nshm_ring *p, *c;
	struct nshm_ring_shared *sh;
	struct nshm_record rec = { NULL, 0, 0 };
	NSHM_ATOMIC(uint64_t) * h;
	static unsigned char big[1000];
	const uint64_t bad[] = {
		NSHM_REC_HDR(1025, 1, NSHM_REC_ST_REC),	 /* > max */
		NSHM_REC_HDR(8, 1, 0x77),		 /* unknown state */
		NSHM_REC_HDR(8, 1, NSHM_REC_ST_REC) | 1ull << 56, /* owner */
		NSHM_REC_HDR(100, 0, NSHM_REC_ST_PAD),	 /* pad not to the end */
		0xffffffffffffffffull,
		NSHM_REC_HDR(0xffffffffu, 1, NSHM_REC_ST_REC),
	};

	(void)state;
	pair(n, 4096, 1024, 0, &p, &c);
	sh = t_scribbler(n);
	h = (NSHM_ATOMIC(uint64_t) *)(void *)((unsigned char *)sh +
					      sh->config.slots_off);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		atomic_store(h, bad[i]);
		assert_false(nshm_records_next(c, &rec));
		assert_int_equal(nshm_ring_error(c), -NSHM_ECORRUPT);
		assert_non_null(strstr(nshm_errdetail(), "record header"));
		nshm_ring_clear_error(c);
	}
	{
		struct timespec ts;

		atomic_store(h, bad[0]);
		assert_int_equal(nshm_records_next_wait(c, &rec,
							t_in_ms(&ts, 500)),
				 -NSHM_ECORRUPT);
		nshm_ring_clear_error(c);
	}
	/* A record near the end of the ring that would run past it. */
	atomic_store(h, 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(nshm_records_push(p, 1, big, 1000), 0);
	for (int i = 0; i < 4; i++)
		assert_true(nshm_records_next(c, &rec));
	nshm_records_release(c);
	/* The consumer is at byte 4 * 1008: 100 bytes would run past 4096. */
	atomic_store((NSHM_ATOMIC(uint64_t) *)(void *)((unsigned char *)h +
						       4032),
		     NSHM_REC_HDR(100, 1, NSHM_REC_ST_REC));
	assert_false(nshm_records_next(c, &rec));
	assert_int_equal(nshm_ring_error(c), -NSHM_ECORRUPT);
	nshm_ring_clear_error(c);
	{
		struct nshm_ring_stats st;

		assert_int_equal(nshm_ring_stats(c, &st), 0);
		assert_true(st.corrupt >= 7);
	}
	nshm_ring_close(p);
	nshm_ring_close(c);
}

/* ---- cross-process ----------------------------------------------------- */

static int produce(const char *n, uint64_t first, uint64_t count,
		   uint32_t max, int batch)
{
	struct nshm_ring *p;
	struct timespec ts;

	if (nshm_records_attach(n, NULL, NSHM_RING_PRODUCER, 0, &p) != 0)
		return 10;
	for (uint64_t s = first; s < first + count; s++) {
		uint32_t len = rec_len(s, max);
		void *w = nshm_records_reserve(p, len);

		if (w == NULL) {
			nshm_records_publish(p);
			if (nshm_records_reserve_wait(p, len, &w,
						      t_in_ms(&ts, 20000)) != 0)
				return 11;
		}
		rec_fill(w, s, len);
		if (batch > 1 && (s % (uint64_t)batch) != 0)
			nshm_records_seal(p, rec_type(s));
		else
			nshm_records_commit(p, rec_type(s));
	}
	nshm_records_publish(p);
	return nshm_ring_error(p) != 0 ? 12 : nshm_ring_close(p) != 0 ? 13 : 0;
}

static void xproc_run(uint32_t bytes, uint32_t max, uint32_t align, int batch,
		      uint64_t count)
{
	const char *n = t_name("rec-xproc");
	struct nshm_ring_params q = rparams(bytes, max, align,
					    NSHM_RING_CONSUMER);
	struct nshm_ring *c;
	struct nshm_record rec = { NULL, 0, 0 };
	struct timespec ts;
	uint64_t got = 0, bytes_in = 0, t0;
	pid_t pid;
	int ret;

	assert_int_equal(nshm_records_create(n, &q, NULL, &c), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(produce(n, 0, count, max, batch));
	t0 = t_now_ns();
	for (;;) {
		/* Release before waiting: the producer may need the room. */
		if (!nshm_records_next(c, &rec)) {
			nshm_records_release(c);
			ret = nshm_records_next_wait(c, &rec,
						     t_in_ms(&ts, 20000));
			if (ret != 0)
				break;
		}
		if (rec.len != rec_len(got, max) ||
		    rec.type != rec_type(got) ||
		    rec_bad(rec.data, got, rec.len)) {
			fprintf(stderr, "record %llu: len %u type %u bad\n",
				(unsigned long long)got, rec.len, rec.type);
			fail();
		}
		bytes_in += rec.len;
		got++;
		if ((got & 7) == 0)
			nshm_records_release(c);
	}
	nshm_records_release(c);
	assert_int_equal(ret, -EPIPE);
	assert_int_equal(got, count);
	assert_true(t_exited_ok(t_wait(pid, 30000)));
	fprintf(stderr, "  %llu records (%llu payload bytes, max %u, align "
		"%u, batch %d) in %.2f s\n", (unsigned long long)got,
		(unsigned long long)bytes_in, max, align, batch,
		(double)(t_now_ns() - t0) / 1e9);
	nshm_ring_close(c);
}

static void test_xproc(void **state)
{
	(void)state;
	/* 3.35 million records; NSHM_TEST_SCALE=3 for 10^7. */
	xproc_run(1u << 16, 256, 8, 1, t_count(3000000));
	xproc_run(1u << 14, 1000, 8, 4, t_count(300000));
	xproc_run(1u << 20, 65536, 64, 1, t_count(20000));
	xproc_run(256, 56, 8, 1, t_count(30000));
}


/* ---- many producers (MPSC) ---------------------------------------------- */

static void mp_create(const char *n, uint32_t bytes, uint32_t max,
		      uint32_t np, struct nshm_ring **c)
{
	struct nshm_ring_params q = rparams(bytes, max, 8, NSHM_RING_CONSUMER);

	q.max_producers = np;
	assert_int_equal(nshm_records_create(n, &q, NULL, c), 0);
	quick_wait(*c);
}

/*
 * Three producer handles in one process, claims interleaved and committed
 * out of order, some shrunk, some dropped: the consumer sees claim order,
 * skips what was dropped, and every wrap and padding case comes by.
 */
static void test_mpsc_interleaved(void **state)
{
	const char *n = t_name("rec-mp-il");
	struct nshm_ring *c, *p[3];
	uint64_t want = 0, seq = 0, x = 99;
	/* per claim, in claim order: seq, len written, dropped? */
	static uint64_t order[64];
	static uint32_t olen[64];
	static int odrop[64];
	int head = 0, tail = 0;

	(void)state;
	mp_create(n, 512, 100, 3, &c);
	for (int i = 0; i < 3; i++)
		assert_int_equal(nshm_records_attach(n, NULL,
						     NSHM_RING_PRODUCER, 0,
						     &p[i]),
				 0);
	for (int round = 0; round < 20000; round++) {
		void *w[3] = { NULL, NULL, NULL };
		int idx[3] = { -1, -1, -1 };
		struct nshm_record rec;

		/* Each producer claims (in a random order)... */
		for (int k = 0; k < 3; k++) {
			int i = (int)((x = mix(x)) % 3);
			uint32_t len = rec_len(seq, 100);

			if (w[i] != NULL)
				continue;
			w[i] = nshm_records_reserve(p[i], len);
			if (w[i] == NULL)
				continue;
			idx[i] = tail;
			order[tail % 64] = seq;
			olen[tail % 64] = len;
			odrop[tail % 64] = 0;
			tail++;
			rec_fill(w[i], seq, len);
			seq++;
		}
		/* ...and commits, shrinks or drops, in another order. */
		for (int k = 2; k >= 0; k--) {
			int i = (int)((k + round) % 3);
			int j = idx[i];

			if (w[i] == NULL)
				continue;
			x = mix(x);
			if ((x & 15) == 0) {
				nshm_records_abort(p[i]);
				odrop[j % 64] = 1;
			} else if ((x & 15) == 1 && olen[j % 64] > 3) {
				olen[j % 64] -= 3;
				rec_fill(w[i], order[j % 64], olen[j % 64]);
				nshm_records_commit_len(p[i], rec_type(order[j % 64]),
							olen[j % 64]);
			} else {
				nshm_records_commit(p[i],
						    rec_type(order[j % 64]));
			}
			assert_int_equal(nshm_ring_error(p[i]), 0);
		}
		/* The consumer reads everything published. */
		while (nshm_records_next(c, &rec)) {
			while (odrop[head % 64])
				head++;
			assert_true(head < tail);
			assert_int_equal(rec.len, olen[head % 64]);
			assert_int_equal(rec.type, rec_type(order[head % 64]));
			assert_int_equal(rec_bad(rec.data, order[head % 64],
						 rec.len),
					 0);
			head++;
			want++;
		}
		assert_int_equal(nshm_ring_error(c), 0);
		nshm_records_release(c);
		while (head < tail && odrop[head % 64])
			head++;
		assert_int_equal(head, tail); /* everything was read */
	}
	assert_true(want > 30000);
	for (int i = 0; i < 3; i++)
		nshm_ring_close(p[i]);
	nshm_ring_close(c);
}

/* Producer @id of @np: @count records, type = id, payload starts with seq. */
static int mp_produce(const char *n, uint32_t id, uint64_t count, uint32_t max,
		      uint32_t die_every)
{
	struct nshm_ring *p;
	struct timespec ts;

	if (nshm_records_attach(n, NULL, NSHM_RING_PRODUCER, 0, &p) != 0)
		return 10;
	for (uint64_t s = 0; s < count; s++) {
		uint64_t key = s << 8 | id;
		uint32_t len = rec_len(key, max);
		void *w;

		if (len < 8)
			len = 8;
		if (nshm_records_reserve_wait(p, len, &w,
					      t_in_ms(&ts, 20000)) != 0)
			return 11;
		rec_fill(w, key, len);
		/* die_every: now and then die inside the claim, half written */
		if (die_every != 0 && mix(key ^ 0xdead) % die_every == 0) {
			memset(w, 0, len / 2);
			raise(SIGKILL);
		}
		nshm_records_commit(p, id);
	}
	return nshm_ring_close(p) != 0 ? 13 : 0;
}

/* Four producer processes: per-producer order, every byte, exact count. */
static void test_mpsc_xproc(void **state)
{
	const char *n = t_name("rec-mp-x");
	const uint32_t np = 4, max = 300;
	const uint64_t count = t_count(200000);
	struct nshm_ring *c;
	struct nshm_record rec;
	struct timespec ts;
	uint64_t next[4] = { 0, 0, 0, 0 }, got = 0, t0 = t_now_ns();
	pid_t pid[4];
	int ret;

	(void)state;
	mp_create(n, 1u << 16, max, np, &c);
	for (uint32_t i = 0; i < np; i++) {
		pid[i] = fork();
		assert_true(pid[i] >= 0);
		if (pid[i] == 0)
			_exit(mp_produce(n, i, count, max, 0));
	}
	for (;;) {
		uint64_t key;

		if (!nshm_records_next(c, &rec)) {
			if (nshm_ring_error(c) != 0) {
				fprintf(stderr, "  after %llu: %s\n",
					(unsigned long long)got,
					nshm_errdetail());
				fail();
			}
			nshm_records_release(c);
			ret = nshm_records_next_wait(c, &rec,
						     t_in_ms(&ts, 20000));
			if (ret != 0)
				break;
		}
		assert_true(rec.type < np && rec.len >= 8);
		memcpy(&key, rec.data, 8);
		assert_int_equal(key, next[rec.type] << 8 | rec.type);
		if (rec.len != (rec_len(key, max) < 8 ? 8 : rec_len(key, max)) ||
		    rec_bad(rec.data, key, rec.len))
			fail();
		next[rec.type]++;
		got++;
	}
	if (ret != -EPIPE)
		fprintf(stderr, "  after %llu: %s\n", (unsigned long long)got,
			nshm_errdetail());
	assert_int_equal(ret, -EPIPE);
	assert_int_equal(got, count * np);
	for (uint32_t i = 0; i < np; i++)
		assert_true(t_exited_ok(t_wait(pid[i], 30000)));
	fprintf(stderr, "  MPSC: %llu records from %u producers in %.2f s\n",
		(unsigned long long)got, np, (double)(t_now_ns() - t0) / 1e9);
	nshm_ring_close(c);
}

/*
 * Producers killed between claim and commit, after their pending header
 * (a reserve, then SIGKILL) and before it (the claim CAS done by hand, as a
 * kill right after it), while others go on: the consumer skips exactly
 * those two claims (counted), delivers everything else, and a producer
 * stopped (SIGSTOP) between reserve and commit is waited for, not skipped.
 */
static void test_mpsc_killed(void **state)
{
	const char *n = t_name("rec-mp-kill");
	struct nshm_ring *c, *p;
	struct nshm_record rec;
	struct nshm_ring_stats st;
	struct timespec ts;
	uint64_t v;
	pid_t k1, k2, stopped;
	int status;

	(void)state;
	mp_create(n, 4096, 200, 4, &c);
	assert_int_equal(nshm_records_attach(n, NULL, NSHM_RING_PRODUCER, 0,
					     &p),
			 0);
	v = 1;
	assert_int_equal(nshm_records_push(p, 1, &v, 8), 0);
	k1 = fork();
	assert_true(k1 >= 0);
	if (k1 == 0) {
		struct nshm_ring *q;
		void *w;

		if (nshm_records_attach(n, NULL, NSHM_RING_PRODUCER, 0, &q) != 0)
			_exit(1);
		w = nshm_records_reserve(q, 100);
		if (w == NULL)
			_exit(2);
		memset(w, 0xee, 50); /* half written */
		raise(SIGKILL);
		_exit(3);
	}
	assert_int_equal(t_wait(k1, 10000) & 0x7f, SIGKILL);
	v = 2;
	assert_int_equal(nshm_records_push(p, 1, &v, 8), 0);
	k2 = fork();
	assert_true(k2 >= 0);
	if (k2 == 0) {
		struct nshm_ring *q;
		uint64_t t;

		if (nshm_records_attach(n, NULL, NSHM_RING_PRODUCER, 0, &q) != 0)
			_exit(1);
		/* What reserve does up to its CAS, then death. */
		t = atomic_load(q->tail_p);
		atomic_store(&q->me->intent, t);
		atomic_store(&q->me->intent_n, 64);
		atomic_store(q->tail_p, t + 64);
		raise(SIGKILL);
		_exit(3);
	}
	assert_int_equal(t_wait(k2, 10000) & 0x7f, SIGKILL);
	v = 3;
	assert_int_equal(nshm_records_push(p, 1, &v, 8), 0);
	stopped = fork();
	assert_true(stopped >= 0);
	if (stopped == 0) {
		struct nshm_ring *q;
		void *w;

		if (nshm_records_attach(n, NULL, NSHM_RING_PRODUCER, 0, &q) != 0)
			_exit(1);
		w = nshm_records_reserve(q, 8);
		if (w == NULL)
			_exit(2);
		v = 4;
		memcpy(w, &v, 8);
		raise(SIGSTOP); /* slow, not dead */
		nshm_records_commit(q, 2);
		_exit(nshm_ring_close(q) == 0 ? 0 : 4);
	}
	assert_int_equal(waitpid(stopped, &status, WUNTRACED), stopped);
	assert_true(WIFSTOPPED(status));
	v = 5;
	assert_int_equal(nshm_records_push(p, 1, &v, 8), 0);

	for (uint64_t want = 1; want <= 3; want++) {
		assert_int_equal(nshm_records_next_wait(c, &rec,
							t_in_ms(&ts, 5000)),
				 0);
		memcpy(&v, rec.data, 8);
		assert_int_equal(v, want);
		nshm_records_release(c);
	}
	/* The stopped producer's record is next: waited for, never lost. */
	assert_int_equal(nshm_records_next_wait(c, &rec, t_in_ms(&ts, 300)),
			 -ETIMEDOUT);
	assert_int_equal(nshm_ring_stats(c, &st), 0);
	assert_int_equal(st.skipped, 2);
	kill(stopped, SIGCONT);
	assert_true(t_exited_ok(t_wait(stopped, 10000)));
	for (uint64_t want = 4; want <= 5; want++) {
		assert_int_equal(nshm_records_next_wait(c, &rec,
							t_in_ms(&ts, 5000)),
				 0);
		memcpy(&v, rec.data, 8);
		assert_int_equal(v, want);
		assert_int_equal(rec.type, want == 4 ? 2 : 1);
		nshm_records_release(c);
	}
	assert_false(nshm_records_next(c, &rec));
	assert_int_equal(nshm_ring_error(c), 0);
	assert_int_equal(nshm_ring_stats(c, &st), 0);
	assert_int_equal(st.skipped, 2);
	nshm_ring_close(c);
	/*
	 * A consumer killed inside a release (bytes zeroed, head not yet
	 * stored): the next one finishes that release instead of reading
	 * half-zeroed records again.
	 */
	for (uint64_t i = 10; i < 13; i++)
		assert_int_equal(nshm_records_push(p, 1, &i, 8), 0);
	k1 = fork();
	assert_true(k1 >= 0);
	if (k1 == 0) {
		struct nshm_ring *cc;

		if (nshm_records_attach(n, NULL, NSHM_RING_CONSUMER, 0, &cc) !=
		    0)
			_exit(1);
		for (int i = 0; i < 2; i++)
			if (!nshm_records_next(cc, &rec))
				_exit(2);
		nshm__rec_mp_zero(cc); /* what release does before head */
		raise(SIGKILL);
		_exit(3);
	}
	assert_int_equal(t_wait(k1, 10000) & 0x7f, SIGKILL);
	assert_int_equal(nshm_records_attach(n, NULL, NSHM_RING_CONSUMER, 0,
					     &c),
			 0);
	assert_true(nshm_records_next(c, &rec));
	memcpy(&v, rec.data, 8);
	assert_int_equal(v, 12);
	assert_false(nshm_records_next(c, &rec));
	assert_int_equal(nshm_ring_error(c), 0);
	assert_int_equal(nshm_ring_stats(c, &st), 0);
	assert_int_equal(st.skipped, 2); /* released, not given up */
	nshm_records_release(c);
	nshm_ring_close(p);
	nshm_ring_close(c);
}

/*
 * Producers killed at random instants while others stream (and new ones
 * take their entries): the consumer never stalls and never errs, every
 * record it gets is whole and in its producer's order, and the claims the
 * dead left are skipped and counted.
 */
static void test_mpsc_kill_stream(void **state)
{
	const char *n = t_name("rec-mp-ks");
	const uint32_t np = 3, max = 300;
	struct nshm_ring *c;
	struct nshm_ring_stats st;
	pid_t pid[3];
	uint32_t gen[3] = { 0, 0, 0 };
	uint64_t last[3][64], got = 0, kills = 0, x = 7, t0 = t_now_ns();
	uint64_t next_kill = t0 + 20000000ull, iter = 0;

	(void)state;
	memset(last, 0, sizeof(last));
	mp_create(n, 1u << 14, max, np, &c);
	for (uint32_t i = 0; i < np; i++) {
		pid[i] = fork();
		assert_true(pid[i] >= 0);
		if (pid[i] == 0)
			_exit(mp_produce(n, i, 1u << 30, max, 20000));
	}
	while (t_now_ns() - t0 < 1500000000ull) {
		struct nshm_record rec = { NULL, 0, 0 };
		struct timespec ts;
		uint64_t key;
		int ret;

		for (uint32_t i = 0; (iter++ & 255) == 0 && i < np; i++) {
			int status;

			if (gen[i] >= 63)
				continue; /* enough generations: let it run */
			/* Killed at random (or by itself, inside a claim)? */
			if (t_now_ns() >= next_kill) {
				next_kill = t_now_ns() + 20000000ull +
					    ((x = mix(x)) & 0xfffff) * 10;
				kill(pid[i], SIGKILL);
			}
			if (waitpid(pid[i], &status, WNOHANG) != pid[i])
				continue;
			assert_true(WIFSIGNALED(status));
			kills++;
			gen[i]++;
			pid[i] = fork();
			assert_true(pid[i] >= 0);
			if (pid[i] == 0)
				_exit(mp_produce(n, i + np * gen[i], 1u << 30,
						 max, 20000));
		}
		if (!nshm_records_next(c, &rec)) {
			nshm_records_release(c);
			ret = nshm_records_next_wait(c, &rec,
						     t_in_ms(&ts, 20));
			/* all three dead at once: restart them first */
			if (ret == -ETIMEDOUT || ret == -NSHM_EPEERDEAD) {
				iter = 0;
				continue;
			}
			assert_int_equal(ret, 0);
		}
		/* type = producer id + np * generation (< 64 generations) */
		assert_true(rec.len >= 8);
		memcpy(&key, rec.data, 8);
		assert_int_equal(key & 0xff, rec.type & 0xff);
		{
			uint32_t id = rec.type % np, g = rec.type / np;
			uint32_t want = rec_len(key, max) < 8 ? 8
							      : rec_len(key, max);

			assert_true(g < 64);
			assert_int_equal(rec.len, want);
			assert_int_equal(rec_bad(rec.data, key, rec.len), 0);
			/* in order within one producer's generation */
			assert_int_equal(key >> 8, last[id][g]);
			last[id][g]++;
		}
		got++;
	}
	for (uint32_t i = 0; i < np; i++) {
		kill(pid[i], SIGKILL);
		t_wait(pid[i], 10000);
	}
	assert_int_equal(nshm_ring_stats(c, &st), 0);
	fprintf(stderr, "  MPSC kills: %llu records, %llu kills, %llu claims "
		"skipped\n", (unsigned long long)got,
		(unsigned long long)kills, (unsigned long long)st.skipped);
	assert_true(kills > 0 && got > 1000 && st.skipped > 0);
	assert_int_equal(nshm_ring_error(c), 0);
	nshm_ring_close(c);
}

/* ---- death ------------------------------------------------------------ */

/*
 * A producer killed at each step of a commit: before it, with the tail
 * stored but not the header, with a batch sealed but unpublished, right
 * after it. Every published record is delivered exactly once, the consumer
 * is told -NSHM_EPEERDEAD once drained, and a new producer resumes at the
 * published end.
 */
static void test_killed_producer(void **state)
{
	(void)state;
	for (int step = 0; step < 4; step++) {
		const char *n = t_name("rec-kill-p");
		struct nshm_ring_params q = rparams(4096, 500, 8,
						    NSHM_RING_CONSUMER);
		struct nshm_ring *c, *p2;
		struct nshm_record rec = { NULL, 0, 0 };
		struct timespec ts;
		uint64_t got = 0;
		pid_t pid;
		int ret;

		assert_int_equal(nshm_records_create(n, &q, NULL, &c), 0);
		quick_wait(c);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			struct nshm_ring *p;
			void *w;

			if (nshm_records_attach(n, NULL, NSHM_RING_PRODUCER, 0,
						&p) != 0)
				_exit(1);
			for (uint64_t s = 0; s < 5; s++)
				if (nshm_records_push(p, rec_type(s), NULL,
						      0) != 0)
					_exit(2);
			w = nshm_records_reserve(p, 100);
			rec_fill(w, 5, 100);
			if (step == 1)
				/* Tail stored, header not: as a kill there. */
				atomic_store(p->tail_p, p->ppos + 112);
			if (step == 2) {
				nshm_records_seal(p, 5);
				w = nshm_records_reserve(p, 10);
				nshm_records_seal(p, 6);
			}
			if (step == 3)
				nshm_records_commit(p, 5);
			raise(SIGKILL);
			_exit(3);
		}
		assert_int_equal(t_wait(pid, 10000) & 0x7f, SIGKILL);
		while ((ret = nshm_records_next_wait(c, &rec,
						     t_in_ms(&ts, 5000))) == 0)
			got++;
		assert_int_equal(ret, -NSHM_EPEERDEAD);
		assert_int_equal(got, step == 3 ? 6 : 5);
		nshm_records_release(c);
		/* A new producer takes over at the published end. */
		assert_int_equal(nshm_records_attach(n, NULL,
						     NSHM_RING_PRODUCER, 0,
						     &p2),
				 0);
		assert_int_equal(nshm_ring_position(p2),
				 step == 3 ? 5 * 8 + 112 : 5 * 8);
		assert_int_equal(nshm_records_push(p2, 77, NULL, 0), 0);
		assert_true(nshm_records_next(c, &rec));
		assert_int_equal(rec.type, 77);
		assert_false(nshm_records_next(c, &rec));
		assert_int_equal(nshm_ring_error(c), 0);
		assert_int_equal(nshm_ring_check(p2), 0);
		nshm_ring_close(p2);
		nshm_ring_close(c);
	}
}

/* Random kills mid-stream: what was delivered is exact and in order. */
static void test_killed_producer_stream(void **state)
{
	const char *n = t_name("rec-kill-ps");
	struct nshm_ring_params q = rparams(1u << 14, 512, 8,
					    NSHM_RING_CONSUMER);
	struct nshm_ring *c;
	uint64_t next = 0;

	(void)state;
	assert_int_equal(nshm_records_create(n, &q, NULL, &c), 0);
	quick_wait(c);
	for (int round = 0; round < 6; round++) {
		struct nshm_record rec = { NULL, 0, 0 };
		struct timespec ts;
		uint64_t first = next;
		pid_t pid = fork();
		int ret;

		assert_true(pid >= 0);
		if (pid == 0)
			_exit(produce(n, first, 1u << 30, 512, 1 + round % 3));
		usleep(20000 + 5000 * (unsigned)round);
		kill(pid, SIGKILL);
		assert_int_equal(t_wait(pid, 10000) & 0x7f, SIGKILL);
		while ((ret = nshm_records_next_wait(c, &rec,
						     t_in_ms(&ts, 5000))) ==
		       0) {
			assert_int_equal(rec.len, rec_len(next, 512));
			assert_int_equal(rec.type, rec_type(next));
			assert_int_equal(rec_bad(rec.data, next, rec.len), 0);
			next++;
			nshm_records_release(c);
		}
		assert_int_equal(ret, -NSHM_EPEERDEAD);
		assert_true(next > first);
	}
	nshm_ring_close(c);
}

/*
 * A consumer killed holding records it read but never released: the next
 * consumer gets them again (at-least-once for those), then the rest; a
 * producer blocked on the full ring is told the consumer died.
 */
static void test_killed_consumer(void **state)
{
	const char *n = t_name("rec-kill-c");
	struct nshm_ring_params q = rparams(1024, 200, 8, NSHM_RING_PRODUCER);
	struct nshm_ring *p, *c;
	struct nshm_record rec = { NULL, 0, 0 };
	struct timespec ts;
	uint64_t s = 0;
	pid_t pid;
	void *w;

	(void)state;
	assert_int_equal(nshm_records_create(n, &q, NULL, &p), 0);
	quick_wait(p);
	while (nshm_records_push(p, rec_type(s), &s, 8) == 0)
		s++;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct nshm_ring *cc;

		if (nshm_records_attach(n, NULL, NSHM_RING_CONSUMER, 0,
					&cc) != 0)
			_exit(1);
		for (int i = 0; i < 10; i++)
			if (!nshm_records_next(cc, &rec))
				_exit(2);
		nshm_records_release(cc); /* 0..9 consumed */
		for (int i = 0; i < 5; i++)
			if (!nshm_records_next(cc, &rec))
				_exit(3);
		raise(SIGKILL); /* 10..14 read, not released */
		_exit(4);
	}
	assert_int_equal(t_wait(pid, 10000) & 0x7f, SIGKILL);
	/* Room for 10 records, then the dead consumer is reported. */
	for (int i = 0; i < 10; i++, s++)
		assert_int_equal(nshm_records_push_wait(p, rec_type(s), &s, 8,
							t_in_ms(&ts, 2000)),
				 0);
	assert_int_equal(nshm_records_reserve_wait(p, 8, &w,
						   t_in_ms(&ts, 2000)),
			 -NSHM_EPEERDEAD);
	assert_int_equal(nshm_records_attach(n, NULL, NSHM_RING_CONSUMER, 0,
					     &c),
			 0);
	for (uint64_t want = 10; want < s; want++) {
		uint64_t v;

		assert_true(nshm_records_next(c, &rec));
		assert_int_equal(rec.len, 8);
		memcpy(&v, rec.data, 8);
		assert_int_equal(v, want);
		nshm_records_release(c);
	}
	assert_false(nshm_records_next(c, &rec));
	nshm_ring_close(p);
	nshm_ring_close(c);
}

/*
 * A peer scribbling random bytes over the ring (headers, indices) while a
 * reader runs: the reader never crashes or reads outside the ring (ASan),
 * reports -NSHM_ECORRUPT, and goes on after clearing the error.
 */
static void test_scribbler(void **state)
{
	const char *n = t_name("rec-scribble");
	struct nshm_ring *p = NULL, *c;
	struct nshm_ring_shared *sh;
	unsigned char *slots;
	uint64_t errors = 0, reads = 0, x = 12345, t0;
	pid_t pid;

	(void)state;
	{
		struct nshm_ring_params q = rparams(4096, 512, 8,
						    NSHM_RING_CONSUMER);

		assert_int_equal(nshm_records_create(n, &q, NULL, &c), 0);
	}
	quick_wait(c);
	sh = t_scribbler(n);
	slots = (unsigned char *)sh + sh->config.slots_off;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* Producer and scribbler in one: records, then garbage. */
		if (nshm_records_attach(n, NULL, NSHM_RING_PRODUCER, 0, &p) !=
		    0)
			_exit(1);
		for (uint64_t s = 0;; s++) {
			uint32_t len = rec_len(s, 512);
			void *w = nshm_records_reserve(p, len);

			if (w != NULL) {
				rec_fill(w, s, len);
				nshm_records_commit(p, rec_type(s));
			} else {
				nshm_ring_clear_error(p);
				p->phead = atomic_load(&sh->cons.index);
				p->ppos = p->cpos = p->phead;
			}
			x = mix(x);
			if ((x & 3) == 0)
				memcpy(slots + (x >> 8) % (4096 - 8), &x, 8);
			if ((x & 0xff) == 1)
				atomic_store(&sh->prod.index, mix(x));
		}
	}
	t0 = t_now_ns();
	while (t_now_ns() - t0 < 1000000000ull) {
		struct nshm_record rec = { NULL, 0, 0 };
		struct timespec ts;
		int ret = nshm_records_next_wait(c, &rec, t_in_ms(&ts, 20));

		if (ret == 0) {
			const unsigned char *d = rec.data;

			assert_true(d >= c->slots &&
				    d + rec.len <= c->slots + 4096);
			reads++;
			if ((reads & 3) == 0)
				nshm_records_release(c);
			continue;
		}
		if (ret == -NSHM_ECORRUPT) {
			errors++;
			nshm_ring_clear_error(c);
			/* Skip to where the producer is. */
			nshm_records_release(c);
			c->cready = c->cpos = atomic_load(&sh->prod.index) &
					      ~7ull;
			atomic_store(&sh->cons.index, c->cpos);
			continue;
		}
		assert_true(ret == -ETIMEDOUT);
	}
	kill(pid, SIGKILL);
	t_wait(pid, 5000);
	fprintf(stderr, "  scribbler: %llu reads, %llu corruptions reported\n",
		(unsigned long long)reads, (unsigned long long)errors);
	assert_true(errors > 0);
	nshm_ring_close(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_params),
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_wrap),
		cmocka_unit_test(test_batch),
		cmocka_unit_test(test_proto),
		cmocka_unit_test(test_corrupt),
		cmocka_unit_test(test_xproc),
		cmocka_unit_test(test_mpsc_interleaved),
		cmocka_unit_test(test_mpsc_xproc),
		cmocka_unit_test(test_mpsc_killed),
		cmocka_unit_test(test_mpsc_kill_stream),
		cmocka_unit_test(test_killed_producer),
		cmocka_unit_test(test_killed_producer_stream),
		cmocka_unit_test(test_killed_consumer),
		cmocka_unit_test(test_scribbler),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
