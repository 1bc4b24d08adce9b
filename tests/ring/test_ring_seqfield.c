/* SPDX-License-Identifier: MIT */
/*
 * Rings whose sequence word is a field of the element (NSHM_RING_TYPE_SEQ_
 * FIELD, layout version 3): slot strides, argument checks (one specific
 * error each), type mismatches at attach, a corrupt config, and the two
 * promises of the key: an element copied whole from another ring into a
 * reserved slot does not publish it, and whatever the producer writes into
 * the field before commit is "not yet", never corruption. The cross-process,
 * crash and thread tests run on this layout too (the *_seq tests).
 */
#include "ring_test.h"

/* 64 bytes, the ring's field in the middle: one line per slot. */
struct tick {
	uint64_t id;
	double px[3];
	uint64_t ring_seq;
	uint32_t qty[6];
};
_Static_assert(sizeof(struct tick) == 64, "one cache line");
NSHM_RING_DEFINE_SEQ(tick_ring, struct tick, ring_seq)
/* The same struct without a seq field, and with it at another offset. */
NSHM_RING_DEFINE(tick_plain_ring, struct tick)
NSHM_RING_DEFINE_SEQ(tick_id_ring, struct tick, id)

static void tick_fill(struct tick *t, uint64_t i)
{
	t->id = i;
	for (int k = 0; k < 3; k++)
		t->px[k] = (double)i + k * 0.25;
	for (int k = 0; k < 6; k++)
		t->qty[k] = (uint32_t)(i * 7 + (uint64_t)k);
}

static void tick_check(const struct tick *t, uint64_t i)
{
	assert_int_equal(t->id, i);
	for (int k = 0; k < 3; k++)
		assert_true(t->px[k] == (double)i + k * 0.25);
	for (int k = 0; k < 6; k++)
		assert_int_equal(t->qty[k], (uint32_t)(i * 7 + (uint64_t)k));
}

static void test_layout_and_paths(void **state)
{
	const char *n = t_name("sqf");
	struct tick_ring *p = NULL, *c = NULL;
	struct tick_ring_span sp;
	struct tick t, burst[5];
	uint64_t seq = 0, got = 0;

	(void)state;
	assert_int_equal(tick_ring_create(n, 8, NSHM_RING_PRODUCER, 0, 0, &p),
			 0);
	assert_int_equal(tick_ring_attach(n, NSHM_RING_CONSUMER, 0, &c), 0);
	assert_int_equal(tick_ring_ring(p)->stride, 64);
	assert_int_equal(tick_ring_ring(p)->seq_off,
			 offsetof(struct tick, ring_seq));
	assert_true(tick_ring_ring(p)->seq_key != 0);
	assert_true((tick_ring_ring(p)->seq_key >> 63) == 0);
	assert_true(tick_ring_ring(c)->seq_key == tick_ring_ring(p)->seq_key);
	for (int round = 0; round < 50; round++) {
		switch (round % 3) {
		case 0: /* copying push/pop, to full */
			for (int i = 0; i < 8; i++) {
				tick_fill(&t, seq++);
				assert_true(tick_ring_push(p, &t));
			}
			assert_false(tick_ring_push(p, &t));
			for (int i = 0; i < 8; i++) {
				assert_true(tick_ring_pop(c, &t));
				tick_check(&t, got++);
			}
			break;
		case 1: /* bursts */
			for (int i = 0; i < 5; i++)
				tick_fill(&burst[i], seq++);
			assert_int_equal(tick_ring_push_n(p, burst, 5), 5);
			memset(burst, 0, sizeof(burst));
			assert_int_equal(tick_ring_pop_n(c, burst, 5), 5);
			for (int i = 0; i < 5; i++)
				tick_check(&burst[i], got++);
			break;
		default: { /* in place, every field but the ring's */
			uint32_t k = tick_ring_reserve_n(p, 6, &sp);

			assert_int_equal(k, 6);
			for (uint32_t i = 0; i < k; i++)
				tick_fill(tick_ring_span_at(&sp, i), seq++);
			tick_ring_commit_n(p, k);
			assert_int_equal(tick_ring_peek_n(c, 6, &sp), 6);
			for (uint32_t i = 0; i < 6; i++)
				tick_check(tick_ring_span_at(&sp, i), got++);
			tick_ring_release_n(c, 6);
		}
		}
		assert_false(tick_ring_pop(c, &t));
		assert_int_equal(nshm_ring_error(tick_ring_ring(c)), 0);
	}
	assert_int_equal(nshm_ring_check(tick_ring_ring(c)), 0);
	assert_int_equal(tick_ring_close(p), 0);
	assert_int_equal(tick_ring_close(c), 0);
	nshm_ring_delete(n);
}

static void test_strides(void **state)
{
	static const struct {
		uint32_t size, off, stride;
	} cases[] = {
		{ 8, 0, 16 },	  { 16, 8, 16 },     { 24, 0, 32 },
		{ 64, 56, 64 },	  { 72, 0, 72 },     { 256, 8, 256 },
		{ 1024, 8, 1024 }, { 4096, 4088, 4096 },
	};

	(void)state;
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		const char *n = t_name("sqstride");
		struct nshm_ring_type t = { "raw", 1, cases[k].size, 8,
					    NSHM_RING_TYPE_SEQ_FIELD,
					    cases[k].off };
		struct nshm_ring *p = NULL, *c = NULL;
		unsigned char in[4096], out[4096];

		t_ring_pair(n, &t, 4, &p, &c);
		assert_int_equal(p->stride, cases[k].stride);
		assert_int_equal(p->seq_off, cases[k].off);
		for (int i = 0; i < 6; i++) {
			memset(in, i + 1, cases[k].size);
			assert_true(nshm_ring_push(p, in));
			assert_true(nshm_ring_pop(c, out));
			/* Every byte but the ring's field came through. */
			assert_memory_equal(in, out, cases[k].off);
			assert_memory_equal(in + cases[k].off + 8,
					    out + cases[k].off + 8,
					    cases[k].size - cases[k].off - 8);
		}
		assert_int_equal(nshm_ring_close(p), 0);
		assert_int_equal(nshm_ring_close(c), 0);
		nshm_ring_delete(n);
	}
}

static void test_bad_seq_types(void **state)
{
	static const struct {
		uint32_t size, align, flags, off;
		const char *why;
	} bad[] = {
		{ 64, 8, 2, 0, "unknown element type flags" },
		{ 64, 8, 0, 8, "no NSHM_RING_TYPE_SEQ_FIELD flag" },
		{ 64, 8, 1, 4, "multiple of 8" },   /* misaligned field */
		{ 64, 8, 1, 60, "multiple of 8" },  /* past the end */
		{ 64, 8, 1, 64, "multiple of 8" },  /* outside */
		{ 64, 4, 1, 0, "aligned to 8" },    /* element align 4 */
		{ 4, 4, 1, 0, "aligned to 8" },     /* too small */
	};

	(void)state;
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		const char *n = t_name("sqbad");
		struct nshm_ring_type t = { "bad", 1, bad[k].size,
					    bad[k].align, bad[k].flags,
					    bad[k].off };
		struct nshm_ring *r = NULL;

		assert_int_equal(nshm_ring_create(n, NSHM_RING_SPSC, &t, 4,
						  NSHM_RING_PRODUCER, 0, 0,
						  &r),
				 -EINVAL);
		if (strstr(nshm_errdetail(), bad[k].why) == NULL)
			fail_msg("case %zu: '%s'", k, nshm_errdetail());
		assert_null(r);
		/* Nothing was created. */
		assert_int_equal(nshm_ring_delete(n), -ENOENT);
	}
}

static void test_type_mismatch(void **state)
{
	const char *n = t_name("sqtype"), *m = t_name("sqtype2");
	struct tick_ring *p = NULL;
	struct tick_plain_ring *q = NULL, *pp = NULL;
	struct tick_id_ring *o = NULL;
	struct tick_ring *x = NULL;

	(void)state;
	assert_int_equal(tick_ring_create(n, 8, NSHM_RING_PRODUCER, 0, 0, &p),
			 0);
	/* Same struct, no seq field: the ring's word would be in the data. */
	assert_int_equal(tick_plain_ring_attach(n, NSHM_RING_CONSUMER, 0, &q),
			 -NSHM_ETYPE);
	assert_non_null(strstr(nshm_errdetail(), "seq field at 32"));
	assert_non_null(strstr(nshm_errdetail(), "no seq field"));
	/* Same struct, the field elsewhere. */
	assert_int_equal(tick_id_ring_attach(n, NSHM_RING_CONSUMER, 0, &o),
			 -NSHM_ETYPE);
	assert_non_null(strstr(nshm_errdetail(), "seq field at 0"));
	assert_null(q);
	assert_null(o);
	/* And the other way round: a plain ring, attached with a field. */
	assert_int_equal(tick_plain_ring_create(m, 8, NSHM_RING_PRODUCER, 0, 0,
						&pp),
			 0);
	assert_int_equal(tick_ring_attach(m, NSHM_RING_CONSUMER, 0, &x),
			 -NSHM_ETYPE);
	assert_null(x);
	assert_int_equal(tick_plain_ring_close(pp), 0);
	assert_int_equal(tick_ring_close(p), 0);
}

/* A config whose seq fields do not add up (checksum made right). */
static void test_corrupt_seq_config(void **state)
{
	const char *n = t_name("sqcfg");
	struct tick_ring *o = NULL, *c = NULL;
	struct nshm_ring_shared *sh;
	struct nshm_ring_config saved;
	enum { OFF_MISALIGNED, OFF_OUTSIDE, KEY_BIT63, NO_FLAG, BAD_FLAG,
	       RESERVED, NCASES };

	(void)state;
	assert_int_equal(tick_ring_create(n, 8, NSHM_RING_OBSERVER, 0, 0, &o),
			 0);
	sh = t_scribbler(n);
	saved = sh->config;
	for (int k = 0; k < NCASES; k++) {
		sh->config = saved;
		switch (k) {
		case OFF_MISALIGNED: sh->config.seq_off = 36; break;
		case OFF_OUTSIDE: sh->config.seq_off = 64; break;
		case KEY_BIT63: sh->config.seq_key |= 1ull << 63; break;
		case NO_FLAG: sh->config.flags = 0; break;
		case BAD_FLAG: sh->config.flags |= 4; break;
		default: sh->config.max_producers = 2; break;
		}
		refresh_crc(sh);
		assert_int_equal(tick_ring_attach(n, NSHM_RING_CONSUMER, 0, &c),
				 -NSHM_ECORRUPT);
		assert_null(c);
	}
	sh->config = saved;
	assert_int_equal(tick_ring_attach(n, NSHM_RING_CONSUMER, 0, &c), 0);
	assert_int_equal(tick_ring_close(c), 0);
	assert_int_equal(tick_ring_close(o), 0);
}

/*
 * The key: ring Y's slot for index i, filled with an element popped in
 * place from ring X at the same index (field and all), or with any bytes in
 * the field, is not published until commit, and is not corruption either.
 */
static void test_key_no_early_publish(void **state)
{
	const char *nx = t_name("sqx"), *ny = t_name("sqy");
	struct tick_ring *xp = NULL, *xc = NULL, *yp = NULL, *yc = NULL;
	struct tick t, *in, *out;

	(void)state;
	assert_int_equal(tick_ring_create(nx, 4, NSHM_RING_PRODUCER, 0, 0,
					  &xp),
			 0);
	assert_int_equal(tick_ring_attach(nx, NSHM_RING_CONSUMER, 0, &xc), 0);
	assert_int_equal(tick_ring_create(ny, 4, NSHM_RING_PRODUCER, 0, 0,
					  &yp),
			 0);
	assert_int_equal(tick_ring_attach(ny, NSHM_RING_CONSUMER, 0, &yc), 0);
	assert_true(tick_ring_ring(xp)->seq_key !=
		    tick_ring_ring(yp)->seq_key);
	for (uint64_t i = 0; i < 10; i++) {
		tick_fill(&t, i);
		assert_true(tick_ring_push(xp, &t));
		in = tick_ring_peek(xc);
		assert_non_null(in);
		out = tick_ring_reserve(yp);
		assert_non_null(out);
		memcpy(out, in, sizeof(*out)); /* X's published seq too */
		assert_null(tick_ring_peek(yc));
		/* Whatever the producer leaves in the field: not yet. */
		out->ring_seq = NSHM_RING_SEQ(i);
		assert_null(tick_ring_peek(yc));
		out->ring_seq = ~(uint64_t)0;
		assert_null(tick_ring_peek(yc));
		assert_int_equal(nshm_ring_error(tick_ring_ring(yc)), 0);
		tick_ring_release(xc);
		tick_ring_commit(yp);
		assert_true(tick_ring_pop(yc, &t));
		tick_check(&t, i);
	}
	assert_int_equal(tick_ring_close(xp), 0);
	assert_int_equal(tick_ring_close(xc), 0);
	assert_int_equal(tick_ring_close(yp), 0);
	assert_int_equal(tick_ring_close(yc), 0);
}

/*
 * With an element seq any value reads as "not yet", so a committed slot
 * whose field was scribbled would look empty forever: the blocking pop
 * gives -NSHM_ECORRUPT once tail has said "committed" for a second.
 */
static void test_scribbled_field_no_hang(void **state)
{
	const char *n = t_name("sqstuck");
	struct tick_ring *p = NULL, *c = NULL;
	struct timespec dl;
	struct tick t, *slot;

	(void)state;
	assert_int_equal(tick_ring_create(n, 4, NSHM_RING_PRODUCER, 0, 0, &p),
			 0);
	assert_int_equal(tick_ring_attach(n, NSHM_RING_CONSUMER, 0, &c), 0);
	tick_fill(&t, 7);
	assert_true(tick_ring_push(p, &t));
	slot = (struct tick *)(void *)tick_ring_ring(c)->slots;
	slot->ring_seq = 0x5a5a5a5a5a5a5a5aull;
	assert_null(tick_ring_peek(c));
	assert_int_equal(nshm_ring_error(tick_ring_ring(c)), 0);
	assert_int_equal(tick_ring_pop_wait(c, &t, nshm_deadline_in(&dl,
						10000000000ull)),
			 -NSHM_ECORRUPT);
	assert_non_null(strstr(nshm_errdetail(), "0x5a5a5a5a5a5a5a5a"));
	assert_int_equal(tick_ring_close(p), 0);
	assert_int_equal(tick_ring_close(c), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layout_and_paths),
		cmocka_unit_test(test_strides),
		cmocka_unit_test(test_bad_seq_types),
		cmocka_unit_test(test_type_mismatch),
		cmocka_unit_test(test_corrupt_seq_config),
		cmocka_unit_test(test_key_no_early_publish),
		cmocka_unit_test(test_scribbled_field_no_hang),
	};

	return cmocka_run_group_tests_name("ring/seqfield", tests, NULL, NULL);
}
