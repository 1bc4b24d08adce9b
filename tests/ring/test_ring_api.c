/* SPDX-License-Identifier: MIT */
/*
 * Ring control plane and single-process data plane: argument checks (one
 * specific error each), type/kind/version/corruption checks at attach,
 * roles and take-over, zero-copy spans across the wrap, index wrap near
 * 2^32 and 2^64, counters, corruption reporting, timeouts and -EPIPE.
 */
#include "ring_test.h"

struct other {
	uint32_t a, b;
};
NSHM_RING_DEFINE(other_ring, struct other)
NSHM_RING_DEFINE_VERSION(msg2_ring, struct msg, 2)

static const struct nshm_ring_type msg_type = NSHM_RING_TYPE_INIT(struct msg, 1);

static void test_bad_create_args(void **state)
{
	struct nshm_ring *r = NULL;
	const char *n = t_name("args");
	struct nshm_ring_type t = msg_type;

	(void)state;
#define CREATE(name, kind, type, cap, role, flags) \
	nshm_ring_create(name, kind, type, cap, role, flags, 0, &r)
	assert_int_equal(CREATE(NULL, NSHM_RING_SPSC, &t, 8, 0, 0), -EINVAL);
	assert_int_equal(nshm_ring_create(n, NSHM_RING_SPSC, &t, 8, 0, 0, 0,
					  NULL),
			 -EINVAL);
	assert_int_equal(CREATE(n, NSHM_RING_SPSC, NULL, 8, 0, 0), -EINVAL);
	assert_int_equal(CREATE(n, NSHM_RING_SPSC, &t, 0, 0, 0), -EINVAL);
	assert_non_null(strstr(nshm_errdetail(), "power of two"));
	assert_int_equal(CREATE(n, NSHM_RING_SPSC, &t, 3, 0, 0), -EINVAL);
	assert_int_equal(CREATE(n, NSHM_RING_SPSC, &t, 1000, 0, 0), -EINVAL);
	assert_int_equal(CREATE(n, NSHM_RING_SPSC, &t,
				NSHM_RING_CAPACITY_MAX * 2u, 0, 0),
			 -EINVAL);
	assert_non_null(strstr(nshm_errdetail(), "CAPACITY_MAX"));
	assert_int_equal(CREATE(n, (enum nshm_ring_kind)9, &t, 8, 0, 0),
			 -EINVAL);
	assert_int_equal(CREATE(n, NSHM_RING_KIND_ANY, &t, 8, 0, 0), -EINVAL);
	/* RECORDS is built (tests/ring/test_records.c): its type is size 1. */
	assert_int_equal(CREATE(n, NSHM_RING_RECORDS, &t, 8, 0, 0), -EINVAL);
	/* BROADCAST is built: tests/ring/test_bcast.c. */
	assert_int_equal(CREATE(n, NSHM_RING_SPSC, &t, 8,
				(enum nshm_ring_role)7, 0),
			 -EINVAL);
	assert_non_null(strstr(nshm_errdetail(), "role"));
	assert_int_equal(CREATE(n, NSHM_RING_SPSC, &t, 8, 0, 0x80000000u),
			 -EINVAL);
	assert_non_null(strstr(nshm_errdetail(), "flags"));
	assert_int_equal(CREATE(n, NSHM_RING_SPSC, &t, 8, 0, NSHM_READONLY),
			 -EINVAL);

	t.size = 0;
	assert_int_equal(CREATE(n, NSHM_RING_SPSC, &t, 8, 0, 0), -EINVAL);
	assert_non_null(strstr(nshm_errdetail(), "size is 0"));
	t.size = NSHM_RING_ELEM_MAX + 8;
	assert_int_equal(CREATE(n, NSHM_RING_SPSC, &t, 8, 0, 0), -EINVAL);
	assert_non_null(strstr(nshm_errdetail(), "ELEM_MAX"));
	t.size = 12;
	t.align = 8;
	assert_int_equal(CREATE(n, NSHM_RING_SPSC, &t, 8, 0, 0), -EINVAL);
	assert_non_null(strstr(nshm_errdetail(), "multiple"));
	t.size = 24;
	t.align = 3;
	assert_int_equal(CREATE(n, NSHM_RING_SPSC, &t, 8, 0, 0), -EINVAL);
	t.align = 8192;
	t.size = 8192;
	assert_int_equal(CREATE(n, NSHM_RING_SPSC, &t, 8, 0, 0), -EINVAL);
	assert_non_null(strstr(nshm_errdetail(), "alignment"));
	t.align = 8;
	t.size = NSHM_RING_ELEM_MAX;
	assert_int_equal(CREATE(n, NSHM_RING_SPSC, &t, 1u << 20, 0, 0),
			 -EFBIG);
	/* A bad segment name is the segment layer's error. */
	assert_int_equal(CREATE("bad/name", NSHM_RING_SPSC, &msg_type, 8, 0, 0),
			 -NSHM_EBADNAME);
#undef CREATE
	assert_null(r); /* out-param untouched on failure */
	/* Nothing was created along the way. */
	assert_int_equal(nshm_ring_attach(n, NSHM_RING_SPSC, &msg_type,
					  NSHM_RING_CONSUMER, 0, &r),
			 -ENOENT);
}

static void test_bad_attach_args(void **state)
{
	struct nshm_ring *c = NULL, *r = NULL;
	const char *n = t_name("aargs");

	(void)state;
	assert_int_equal(nshm_ring_create(n, NSHM_RING_SPSC, &msg_type, 8,
					  NSHM_RING_OBSERVER, 0, 0, &c),
			 0);
	assert_int_equal(nshm_ring_attach(NULL, NSHM_RING_SPSC, &msg_type,
					  NSHM_RING_CONSUMER, 0, &r),
			 -EINVAL);
	assert_int_equal(nshm_ring_attach(n, NSHM_RING_SPSC, &msg_type,
					  NSHM_RING_CONSUMER, 0, NULL),
			 -EINVAL);
	/* Producers and consumers must say what they expect. */
	assert_int_equal(nshm_ring_attach(n, NSHM_RING_SPSC, NULL,
					  NSHM_RING_CONSUMER, 0, &r),
			 -EINVAL);
	assert_int_equal(nshm_ring_attach(n, NSHM_RING_KIND_ANY, &msg_type,
					  NSHM_RING_PRODUCER, 0, &r),
			 -EINVAL);
	assert_int_equal(nshm_ring_attach(n, NSHM_RING_SPSC, &msg_type,
					  (enum nshm_ring_role)3, 0, &r),
			 -EINVAL);
	assert_int_equal(nshm_ring_attach(n, NSHM_RING_SPSC, &msg_type,
					  NSHM_RING_CONSUMER, NSHM_HUGEPAGES,
					  &r),
			 -EINVAL);
	assert_int_equal(nshm_ring_attach(n, (enum nshm_ring_kind)77,
					  &msg_type, NSHM_RING_CONSUMER, 0, &r),
			 -EINVAL);
	assert_null(r);
	/* An observer may attach to anything that is a ring. */
	assert_int_equal(nshm_ring_attach(n, NSHM_RING_KIND_ANY, NULL,
					  NSHM_RING_OBSERVER, 0, &r),
			 0);
	assert_int_equal(nshm_ring_close(r), 0);
	assert_int_equal(nshm_ring_close(c), 0);
	assert_int_equal(nshm_ring_close(NULL), 0);
	/* EXCL: the name exists. */
	assert_int_equal(nshm_ring_create(n, NSHM_RING_SPSC, &msg_type, 8,
					  NSHM_RING_OBSERVER, 0, 0, &c),
			 -EEXIST);
	assert_int_equal(nshm_ring_delete(n), 0);
	assert_int_equal(nshm_ring_delete(NULL), -EINVAL);
}

static void test_wrong_type_and_kind(void **state)
{
	const char *n = t_name("type");
	struct msg_ring *p = NULL;
	struct other_ring *o = NULL;
	struct msg2_ring *m2 = NULL;
	struct nshm_ring *r = NULL;
	struct nshm_ring_type t = msg_type;
	struct nshm_seg *seg;
	void *area;

	(void)state;
	assert_int_equal(msg_ring_create(n, 64, NSHM_RING_PRODUCER, 0, 0, &p),
			 0);
	/* Another type: size, name and fingerprint differ. */
	assert_int_equal(other_ring_attach(n, NSHM_RING_CONSUMER, 0, &o),
			 -NSHM_ETYPE);
	assert_non_null(strstr(nshm_errdetail(), "'struct msg' v1 (64 bytes"));
	assert_non_null(strstr(nshm_errdetail(), "'struct other' v1 (8 bytes"));
	/* Same type, other version. */
	assert_int_equal(msg2_ring_attach(n, NSHM_RING_CONSUMER, 0, &m2),
			 -NSHM_ETYPE);
	assert_non_null(strstr(nshm_errdetail(), "v2"));
	/* Same size, other name. */
	t.name = "struct msg_v9";
	assert_int_equal(nshm_ring_attach(n, NSHM_RING_SPSC, &t,
					  NSHM_RING_CONSUMER, 0, &r),
			 -NSHM_ETYPE);
	/* Same name, other alignment. */
	t = msg_type;
	t.align = 64;
	assert_int_equal(nshm_ring_attach(n, NSHM_RING_SPSC, &t,
					  NSHM_RING_CONSUMER, 0, &r),
			 -NSHM_ETYPE);
	/* Another kind. */
	assert_int_equal(nshm_ring_attach(n, NSHM_RING_MPMC, &msg_type,
					  NSHM_RING_CONSUMER, 0, &r),
			 -NSHM_EKIND);
	assert_non_null(strstr(nshm_errdetail(), "spsc ring, attached as mpmc"));
	assert_null(o);
	assert_null(m2);
	assert_null(r);
	assert_int_equal(msg_ring_close(p), 0);

	/* A segment that is not a ring at all. */
	n = t_name("plain");
	assert_int_equal(nshm_seg_open(n, 8192, NSHM_CREATE | NSHM_EXCL, 0,
				       &seg),
			 0);
	assert_int_equal(nshm_seg_attach(seg, 0, &area), 0);
	memset(area, 0x5a, 8192);
	assert_int_equal(nshm_ring_attach(n, NSHM_RING_SPSC, &msg_type,
					  NSHM_RING_CONSUMER, 0, &r),
			 -NSHM_ECORRUPT); /* init word is neither INIT nor READY */
	memset(area, 0, 8192);
	((struct nshm_ring_shared *)area)->ctl.state = NSHM_RING_READY;
	assert_int_equal(nshm_ring_attach(n, NSHM_RING_SPSC, &msg_type,
					  NSHM_RING_CONSUMER, 0, &r),
			 -NSHM_EKIND);
	assert_non_null(strstr(nshm_errdetail(), "not a ring"));
	assert_int_equal(nshm_seg_detach(seg, area), 0);
	assert_int_equal(nshm_seg_close(seg), 0);
}

static void test_corrupt_header_at_attach(void **state)
{
	const char *n = t_name("hdr");
	struct nshm_ring *c = NULL, *r = NULL;
	struct nshm_ring_shared *sh;
	struct nshm_ring_config saved;

	(void)state;
	assert_int_equal(nshm_ring_create(n, NSHM_RING_SPSC, &msg_type, 16,
					  NSHM_RING_OBSERVER, 0, 0, &c),
			 0);
	sh = t_scribbler(n);
	saved = sh->config;

	sh->config.capacity = 1u << 20; /* checksum now wrong */
	assert_int_equal(nshm_ring_attach(n, NSHM_RING_SPSC, &msg_type,
					  NSHM_RING_CONSUMER, 0, &r),
			 -NSHM_ECORRUPT);
	assert_non_null(strstr(nshm_errdetail(), "checksum"));
	assert_int_equal(nshm_ring_check(c), -NSHM_ECORRUPT);
	/* A forged checksum does not help an inconsistent config... */
	refresh_crc(sh);
	assert_int_equal(nshm_ring_attach(n, NSHM_RING_SPSC, &msg_type,
					  NSHM_RING_CONSUMER, 0, &r),
			 -NSHM_ECORRUPT);
	/* ...nor one that claims more slots than the segment has. */
	sh->config.area_size = sh->config.slots_off +
			       (uint64_t)sh->config.capacity *
				       sh->config.slot_stride;
	refresh_crc(sh);
	assert_int_equal(nshm_ring_attach(n, NSHM_RING_SPSC, &msg_type,
					  NSHM_RING_CONSUMER, 0, &r),
			 -NSHM_ETRUNCATED);
	/* Another layout version. */
	sh->config = saved;
	sh->config.version = 99;
	refresh_crc(sh);
	assert_int_equal(nshm_ring_attach(n, NSHM_RING_SPSC, &msg_type,
					  NSHM_RING_CONSUMER, 0, &r),
			 -EPROTO);
	/* Indices further apart than the capacity. */
	sh->config = saved;
	atomic_store(&sh->prod.index, 100);
	atomic_store(&sh->cons.index, 50);
	assert_int_equal(nshm_ring_attach(n, NSHM_RING_SPSC, &msg_type,
					  NSHM_RING_CONSUMER, 0, &r),
			 -NSHM_ECORRUPT);
	assert_int_equal(nshm_ring_attach(n, NSHM_RING_SPSC, &msg_type,
					  NSHM_RING_PRODUCER, 0, &r),
			 -NSHM_ECORRUPT);
	assert_null(r);
	/* Repaired: attach works and the claim was not leaked. */
	atomic_store(&sh->cons.index, 90);
	assert_int_equal(nshm_ring_attach(n, NSHM_RING_SPSC, &msg_type,
					  NSHM_RING_CONSUMER, 0, &r),
			 0);
	assert_int_equal(nshm_ring_check(r), 0);
	assert_int_equal(nshm_ring_position(r), 90);
	assert_int_equal(nshm_ring_close(r), 0);
	assert_int_equal(nshm_ring_close(c), 0);
}

static void test_roles(void **state)
{
	const char *n = t_name("roles");
	struct msg_ring *p = NULL, *c = NULL, *x = NULL;
	struct nshm_ring *pr, *cr;
	struct timespec dl;
	struct msg m;

	(void)state;
	assert_int_equal(msg_ring_create(n, 8, NSHM_RING_PRODUCER, 0, 0, &p), 0);
	assert_int_equal(msg_ring_attach(n, NSHM_RING_PRODUCER, 0, &x), -EBUSY);
	assert_non_null(strstr(nshm_errdetail(), "live producer"));
	assert_int_equal(msg_ring_attach(n, NSHM_RING_CONSUMER, 0, &c), 0);
	assert_int_equal(msg_ring_attach(n, NSHM_RING_CONSUMER, 0, &x), -EBUSY);
	assert_null(x);
	pr = msg_ring_ring(p);
	cr = msg_ring_ring(c);

	/* Wrong-role calls fail without touching the ring. */
	assert_null(nshm_ring_peek(pr));
	assert_int_equal(nshm_ring_error(pr), -EPERM);
	assert_false(msg_ring_pop(p, &m));
	nshm_ring_clear_error(pr);
	assert_null(nshm_ring_reserve(cr));
	assert_int_equal(nshm_ring_error(cr), -EPERM);
	msg_fill(&m, 1);
	assert_false(msg_ring_push(c, &m));
	nshm_ring_commit(cr); /* misuse: must not move the shared tail */
	nshm_ring_release(pr); /* misuse: must not move the shared head */
	assert_int_equal(atomic_load(&cr->sh->prod.index), 0);
	assert_int_equal(atomic_load(&cr->sh->cons.index), 0);
	nshm_ring_clear_error(cr);
	assert_int_equal(nshm_ring_wait_readable(pr, NULL), -EPERM);
	assert_int_equal(nshm_ring_wait_writable(cr, NULL), -EPERM);
	assert_int_equal(nshm_ring_wait_readable(NULL, NULL), -EINVAL);
	dl.tv_sec = 0;
	dl.tv_nsec = 2000000000L;
	assert_int_equal(nshm_ring_wait_readable(cr, &dl), -EINVAL);

	/* Close frees the role for the next process. */
	assert_int_equal(msg_ring_close(p), 0);
	assert_int_equal(msg_ring_attach(n, NSHM_RING_PRODUCER, 0, &p), 0);
	msg_fill(&m, 0);
	assert_true(msg_ring_push(p, &m));
	assert_int_equal(msg_ring_close(p), 0);
	/* The consumer drains, then learns the producer is gone. */
	assert_int_equal(msg_ring_pop_wait(c, &m, t_in_ms(&dl, 1000)), 0);
	assert_int_equal(msg_check(&m, 0), 0);
	assert_int_equal(msg_ring_pop_wait(c, &m, t_in_ms(&dl, 1000)), -EPIPE);
	assert_int_equal(msg_ring_close(c), 0);
}

static void test_push_pop_full_empty(void **state)
{
	const char *n = t_name("fifo");
	struct msg_ring *p = NULL, *c = NULL;
	struct nshm_ring_stats st;
	struct msg m;

	(void)state;
	assert_int_equal(msg_ring_create(n, 16, NSHM_RING_CONSUMER, 0, 0, &c),
			 0);
	assert_int_equal(msg_ring_attach(n, NSHM_RING_PRODUCER, 0, &p), 0);
	assert_int_equal(nshm_ring_capacity(msg_ring_ring(p)), 16);
	assert_int_equal(nshm_ring_elem_size(msg_ring_ring(c)), 64);
	assert_false(msg_ring_pop(c, &m));
	assert_int_equal(nshm_ring_error(msg_ring_ring(c)), 0);
	for (uint64_t round = 0; round < 5; round++) {
		for (uint64_t i = 0; i < 16; i++) {
			msg_fill(&m, round * 16 + i);
			assert_true(msg_ring_push(p, &m));
		}
		msg_fill(&m, 999);
		assert_false(msg_ring_push(p, &m)); /* full */
		assert_null(msg_ring_reserve(p));
		for (uint64_t i = 0; i < 16; i++) {
			assert_true(msg_ring_pop(c, &m));
			assert_int_equal(msg_check(&m, round * 16 + i), 0);
		}
		assert_false(msg_ring_pop(c, &m)); /* empty */
		assert_null(msg_ring_peek(c));
	}
	assert_int_equal(nshm_ring_position(msg_ring_ring(p)), 80);
	assert_int_equal(nshm_ring_position(msg_ring_ring(c)), 80);
	assert_int_equal(nshm_ring_stats(msg_ring_ring(c), &st), 0);
	assert_int_equal(st.pushed, 80);
	assert_int_equal(st.popped, 80);
	assert_int_equal(st.count, 0);
	assert_int_equal(st.capacity, 16);
	assert_int_equal(st.elem_size, 64);
	assert_int_equal(st.producer_pid, getpid());
	assert_int_equal(st.producer_alive, 1);
	assert_int_equal(st.consumer_alive, 1);
	assert_int_equal(st.kind, NSHM_RING_SPSC);
	assert_string_equal(st.type_name, "struct msg");
	assert_int_equal(st.corrupt, 0);
	assert_int_equal(nshm_ring_check(msg_ring_ring(p)), 0);
	assert_int_equal(nshm_ring_check(msg_ring_ring(c)), 0);
	assert_int_equal(nshm_ring_stats(NULL, &st), -EINVAL);
	assert_int_equal(msg_ring_close(p), 0);
	assert_int_equal(msg_ring_close(c), 0);
}

/* Slot i of a mapping: slots are strided (payload, then the seq word). */
static struct msg *slot_at(struct nshm_ring *r, uint64_t i)
{
	return (struct msg *)(void *)(r->slots + (size_t)i * r->stride);
}

/* reserve_n / peek_n give two strided runs when the burst wraps. */
static void test_zero_copy_spans(void **state)
{
	const char *n = t_name("zc");
	struct msg_ring *p = NULL, *c = NULL;
	struct nshm_ring *pr, *cr;
	struct msg_ring_span sp;
	struct msg m;

	(void)state;
	assert_int_equal(msg_ring_create(n, 8, NSHM_RING_PRODUCER, 0, 0, &p), 0);
	assert_int_equal(msg_ring_attach(n, NSHM_RING_CONSUMER, 0, &c), 0);
	/* Each handle has its own mapping, at its own address. */
	pr = msg_ring_ring(p);
	cr = msg_ring_ring(c);
	/* 64-byte payload + seq right after it: 72 bytes (2 lines). */
	assert_int_equal(pr->stride, 72);
	assert_int_equal(pr->seq_off, 64);
	assert_int_equal(pr->sh->config.slot_stride, 72);
	for (uint64_t i = 0; i < 5; i++) {
		struct msg *s = msg_ring_reserve(p);

		assert_ptr_equal(s, slot_at(pr, i));
		msg_fill(s, i);
		msg_ring_commit(p);
	}
	for (uint64_t i = 0; i < 5; i++) {
		const struct msg *s = msg_ring_peek(c);

		assert_ptr_equal(s, slot_at(cr, i));
		assert_int_equal(msg_check(s, i), 0);
		msg_ring_release(c);
	}
	/* Burst of 6 from index 5: 3 slots at the end, 3 at the start. */
	assert_int_equal(msg_ring_reserve_n(p, 6, &sp), 6);
	assert_int_equal(msg_ring_span_len(&sp), 6);
	assert_ptr_equal(sp.s.run1, slot_at(pr, 5));
	assert_int_equal(sp.s.n1, 3);
	assert_ptr_equal(sp.s.run2, slot_at(pr, 0));
	assert_int_equal(sp.s.n2, 3);
	assert_int_equal(sp.s.stride, 72);
	for (uint32_t i = 0; i < 6; i++) {
		assert_ptr_equal(msg_ring_span_at(&sp, i),
				 slot_at(pr, (5 + i) % 8));
		msg_fill(msg_ring_span_at(&sp, i), 5 + i);
	}
	/* Nothing visible before the commit. */
	assert_null(msg_ring_peek(c));
	msg_ring_commit_n(p, 6);
	/* Asking for more than is free gives what is free. */
	assert_int_equal(msg_ring_reserve_n(p, 100, &sp), 2);
	assert_int_equal(sp.s.n1 + sp.s.n2, 2);
	assert_int_equal(msg_ring_reserve_n(p, 0, &sp), 0);

	assert_int_equal(msg_ring_peek_n(c, 100, &sp), 6);
	assert_ptr_equal(sp.s.run1, slot_at(cr, 5));
	assert_ptr_equal(sp.s.run2, slot_at(cr, 0));
	assert_int_equal(sp.s.n1, 3);
	assert_int_equal(sp.s.n2, 3);
	for (uint32_t i = 0; i < 6; i++)
		assert_int_equal(msg_check(msg_ring_span_at(&sp, i), 5 + i), 0);
	msg_ring_release_n(c, 4); /* partial release is fine */
	assert_true(msg_ring_pop(c, &m));
	assert_int_equal(msg_check(&m, 9), 0);
	assert_true(msg_ring_pop(c, &m));
	assert_int_equal(msg_check(&m, 10), 0);
	assert_false(msg_ring_pop(c, &m));

	/* Copying bursts wrap too. */
	{
		struct msg in[7], out[8];

		for (int i = 0; i < 7; i++)
			msg_fill(&in[i], 11 + (uint64_t)i);
		assert_int_equal(msg_ring_push_n(p, in, 7), 7);
		assert_int_equal(msg_ring_push_n(p, in, 7), 1); /* 1 left */
		assert_int_equal(msg_ring_pop_n(c, out, 8), 8);
		for (int i = 0; i < 7; i++)
			assert_int_equal(msg_check(&out[i], 11 + (uint64_t)i), 0);
		assert_int_equal(msg_check(&out[7], 11), 0);
		assert_int_equal(msg_ring_pop_n(c, out, 8), 0);
	}
	/* The untyped copies go through the seq words too. */
	{
		struct msg in[3], out[3];

		for (int i = 0; i < 3; i++)
			msg_fill(&in[i], 20 + (uint64_t)i);
		assert_int_equal(nshm_ring_push_n(pr, in, 3), 3);
		assert_int_equal(nshm_ring_pop_n(cr, out, 3), 3);
		for (int i = 0; i < 3; i++)
			assert_int_equal(msg_check(&out[i], 20 + (uint64_t)i), 0);
	}
	assert_int_equal(msg_ring_close(p), 0);
	assert_int_equal(msg_ring_close(c), 0);
}

/* Slot strides of layout version 2, by element size and alignment. */
static void test_slot_stride(void **state)
{
	static const struct {
		uint32_t size, align, stride;
	} cases[] = {
		{ 1, 1, 16 },	  { 8, 8, 16 },	     { 12, 4, 32 },
		{ 24, 8, 32 },	  { 56, 8, 64 },     { 57, 1, 72 },
		{ 64, 8, 72 },	  { 100, 4, 112 },   { 120, 8, 128 },
		{ 256, 8, 264 },  { 448, 8, 512 },   { 440, 8, 448 },
		{ 1024, 8, 1088 }, { 4096, 8, 4160 }, { 64, 64, 128 },
		{ 32, 32, 64 },	  { 4096, 4096, 8192 },
	};

	(void)state;
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		const char *n = t_name("stride");
		struct nshm_ring_type t = { "stride", 1, cases[k].size,
					    cases[k].align };
		struct nshm_ring *p = NULL, *c = NULL;
		unsigned char in[4096], out[4096];

		t_ring_pair(n, &t, 4, &p, &c);
		if (p->stride != cases[k].stride)
			fprintf(stderr, "size %u align %u: stride %u\n",
				cases[k].size, cases[k].align, p->stride);
		assert_int_equal(p->stride, cases[k].stride);
		assert_int_equal(p->seq_off, (cases[k].size + 7) / 8 * 8);
		assert_int_equal(((uintptr_t)p->slots) % cases[k].align, 0);
		for (int i = 0; i < 6; i++) {
			memset(in, i + 1, cases[k].size);
			assert_true(nshm_ring_push(p, in));
			assert_true(nshm_ring_pop(c, out));
			assert_memory_equal(in, out, cases[k].size);
		}
		assert_int_equal(nshm_ring_close(p), 0);
		assert_int_equal(nshm_ring_close(c), 0);
		nshm_ring_delete(n);
	}
}

/* Free-running indices seeded near 2^32 and 2^64. */
static void run_wrap(uint64_t start)
{
	const char *n = t_name("wrap");
	struct nshm_ring *o = NULL, *p = NULL, *c = NULL;
	struct nshm_ring_stats st;
	struct msg m, burst[5];
	uint64_t seq = 0, got = 0;

	assert_int_equal(nshm_ring_create(n, NSHM_RING_SPSC, &msg_type, 8,
					  NSHM_RING_OBSERVER, 0, 0, &o),
			 0);
	atomic_store(&t_scribbler(n)->prod.index, start);
	atomic_store(&t_scribbler(n)->cons.index, start);
	assert_int_equal(nshm_ring_attach(n, NSHM_RING_SPSC, &msg_type,
					  NSHM_RING_PRODUCER, 0, &p),
			 0);
	assert_int_equal(nshm_ring_attach(n, NSHM_RING_SPSC, &msg_type,
					  NSHM_RING_CONSUMER, 0, &c),
			 0);
	assert_true(nshm_ring_position(p) == start);
	for (int round = 0; round < 40; round++) {
		int k = round % 3 == 0 ? 8 : 5;

		for (int i = 0; i < k; i++) {
			msg_fill(&m, seq++);
			assert_true(nshm_ring_push(p, &m));
		}
		if (k == 8) {
			assert_false(nshm_ring_push(p, &m));
			for (int i = 0; i < k; i++) {
				assert_true(nshm_ring_pop(c, &m));
				assert_int_equal(msg_check(&m, got++), 0);
			}
		} else {
			assert_int_equal(nshm_ring_pop_n(c, burst, 5), 5);
			for (int i = 0; i < 5; i++)
				assert_int_equal(msg_check(&burst[i], got++),
						 0);
		}
		assert_false(nshm_ring_pop(c, &m));
		assert_int_equal(nshm_ring_error(c), 0);
		assert_int_equal(nshm_ring_error(p), 0);
	}
	assert_true(nshm_ring_position(c) == start + seq);
	assert_int_equal(nshm_ring_stats(o, &st), 0);
	assert_true(st.pushed == start + seq);
	assert_true(st.popped == start + seq);
	assert_int_equal(st.count, 0);
	assert_int_equal(nshm_ring_close(p), 0);
	assert_int_equal(nshm_ring_close(c), 0);
	assert_int_equal(nshm_ring_close(o), 0);
}

static void test_wrap_2_32(void **state)
{
	(void)state;
	run_wrap((1ull << 32) - 13);
}

static void test_wrap_2_64(void **state)
{
	(void)state;
	run_wrap(UINT64_MAX - 12);
}

/* Scribbled indices: the fast path reports, never trusts. */
static void test_corrupt_indices(void **state)
{
	const char *n = t_name("cidx");
	struct nshm_ring *p = NULL, *c = NULL;
	struct nshm_ring_shared *sh;
	struct nshm_ring_stats st;
	_Atomic(uint64_t) *seqw;
	struct timespec dl;
	struct msg m;

	(void)state;
	t_ring_pair(n, &msg_type, 8, &p, &c);
	sh = c->sh;
	msg_fill(&m, 0);
	assert_true(nshm_ring_push(p, &m));
	assert_true(nshm_ring_push(p, &m));
	assert_true(nshm_ring_pop(c, &m));

	/*
	 * The consumer polls slot seq words, not tail. A seq that is no
	 * value of its index (here: index 2 + 1000 published) is refused.
	 */
	seqw = (_Atomic(uint64_t) *)(void *)((unsigned char *)slot_at(c, 2) +
					     c->seq_off);
	atomic_store(seqw, NSHM_RING_SEQ(1002));
	assert_true(nshm_ring_pop(c, &m)); /* index 1: published */
	assert_null(nshm_ring_peek(c));
	assert_int_equal(nshm_ring_error(c), -NSHM_ECORRUPT);
	assert_non_null(strstr(nshm_errdetail(), "seq"));
	assert_int_equal(nshm_ring_pop_wait(c, &m, t_in_ms(&dl, 100)),
			 -NSHM_ECORRUPT);
	assert_int_equal(nshm_ring_check(c), -NSHM_ECORRUPT);
	nshm_ring_clear_error(c);
	/* Previous lap (index 2 - 8) and never-written (0): just empty. */
	atomic_store(seqw, NSHM_RING_SEQ(2 - 8));
	assert_null(nshm_ring_peek(c));
	atomic_store(seqw, 0);
	assert_null(nshm_ring_peek(c));
	assert_int_equal(nshm_ring_error(c), 0);
	assert_int_equal(nshm_ring_check(c), 0);

	/* Tail far beyond head: nshm_ring_check() refuses it. */
	atomic_store(&sh->prod.index, 1u << 20);
	assert_int_equal(nshm_ring_check(c), -NSHM_ECORRUPT);
	assert_int_equal(nshm_ring_check(p), -NSHM_ECORRUPT); /* tail moved */
	/* Tail behind head (negative distance) is as bad. */
	atomic_store(&sh->prod.index, 0);
	assert_int_equal(nshm_ring_check(c), -NSHM_ECORRUPT);
	/* Head beyond the producer's tail: the producer refuses it. */
	atomic_store(&sh->prod.index, 2);
	atomic_store(&sh->cons.index, 1000);
	for (int i = 0; i < 8; i++)
		(void)nshm_ring_push(p, &m);
	assert_int_equal(nshm_ring_error(p), -NSHM_ECORRUPT);
	assert_int_equal(nshm_ring_push_wait(p, &m, t_in_ms(&dl, 50)),
			 -NSHM_ECORRUPT);
	assert_int_equal(nshm_ring_stats(c, &st), 0);
	assert_true(st.corrupt >= 4);
	/* Repair, clear, and the ring works again. */
	atomic_store(&sh->prod.index, nshm_ring_position(p));
	atomic_store(&sh->cons.index, nshm_ring_position(c));
	nshm_ring_clear_error(c);
	nshm_ring_clear_error(p);
	assert_int_equal(nshm_ring_check(c), 0);
	assert_int_equal(nshm_ring_check(p), 0);
	while (nshm_ring_pop(c, &m)) /* what was pushed meanwhile */
		;
	assert_int_equal(nshm_ring_error(c), 0);
	msg_fill(&m, 42);
	assert_true(nshm_ring_push(p, &m));
	assert_true(nshm_ring_pop(c, &m));
	assert_int_equal(msg_check(&m, 42), 0);
	assert_int_equal(nshm_ring_close(p), 0);
	assert_int_equal(nshm_ring_close(c), 0);
}

/*
 * A committed slot whose seq word was overwritten with a "not yet" value
 * (the previous lap's): the fast path must take it for empty, but a
 * blocking pop does not wait forever: once the producer's tail has said
 * "committed" for a second with the word unchanged, -NSHM_ECORRUPT. A
 * tail beyond the capacity is refused at the first park slice.
 */
static void test_stuck_slot(void **state)
{
	const char *n = t_name("stuck");
	struct nshm_ring *p = NULL, *c = NULL;
	_Atomic(uint64_t) *seqw;
	struct timespec dl;
	struct msg m;
	uint64_t t0, ms;

	(void)state;
	t_ring_pair(n, &msg_type, 8, &p, &c);
	msg_fill(&m, 0);
	assert_true(nshm_ring_push(p, &m));
	seqw = (_Atomic(uint64_t) *)(void *)((unsigned char *)slot_at(c, 0) +
					     c->seq_off);
	atomic_store(seqw, NSHM_RING_SEQ(0 - 8));
	assert_null(nshm_ring_peek(c));
	assert_int_equal(nshm_ring_error(c), 0);
	t0 = t_now_ns();
	assert_int_equal(nshm_ring_pop_wait(c, &m, t_in_ms(&dl, 10000)),
			 -NSHM_ECORRUPT);
	ms = (t_now_ns() - t0) / 1000000u;
	assert_true(ms >= 900 && ms < 9000);
	assert_non_null(strstr(nshm_errdetail(), "was committed"));
	/* Repaired: the message is there. */
	atomic_store(seqw, NSHM_RING_SEQ(0));
	nshm_ring_clear_error(c);
	assert_true(nshm_ring_pop(c, &m));
	assert_int_equal(msg_check(&m, 0), 0);
	/* A tail 100 ahead of an 8-slot ring: at once, not after a second. */
	atomic_store(&c->sh->prod.index, 101);
	t0 = t_now_ns();
	assert_int_equal(nshm_ring_pop_wait(c, &m, t_in_ms(&dl, 10000)),
			 -NSHM_ECORRUPT);
	assert_true((t_now_ns() - t0) / 1000000u < 900);
	assert_non_null(strstr(nshm_errdetail(), "not within 8"));
	assert_int_equal(nshm_ring_close(p), 0);
	assert_int_equal(nshm_ring_close(c), 0);
}

static void test_timeout_and_counters(void **state)
{
	const char *n = t_name("tmo");
	struct msg_ring *p = NULL, *c = NULL;
	struct nshm_ring_stats st;
	struct nshm_wait_strategy ws = { .spins = 10, .yields = 1 };
	struct timespec dl;
	struct msg m;
	uint64_t t0, dt;

	(void)state;
	assert_int_equal(msg_ring_create(n, 4, NSHM_RING_CONSUMER, 0, 0, &c),
			 0);
	assert_int_equal(msg_ring_attach(n, NSHM_RING_PRODUCER, 0, &p), 0);
	assert_int_equal(nshm_ring_set_wait(msg_ring_ring(c), &ws), 0);
	assert_int_equal(nshm_ring_set_wait(msg_ring_ring(p), NULL), 0);
	ws.reserved = 1;
	assert_int_equal(nshm_ring_set_wait(msg_ring_ring(p), &ws), -EINVAL);
	assert_int_equal(nshm_ring_set_wait(NULL, NULL), -EINVAL);

	t0 = t_now_ns();
	assert_int_equal(msg_ring_pop_wait(c, &m, t_in_ms(&dl, 30)),
			 -ETIMEDOUT);
	dt = t_now_ns() - t0;
	assert_true(dt >= 29000000u && dt < 2000000000u);
	/* A past deadline polls once. */
	assert_int_equal(msg_ring_pop_wait(c, &m, t_in_ms(&dl, 0)), -ETIMEDOUT);
	for (int i = 0; i < 4; i++) {
		msg_fill(&m, (uint64_t)i);
		assert_int_equal(msg_ring_push_wait(p, &m, NULL), 0);
	}
	assert_int_equal(msg_ring_push_wait(p, &m, t_in_ms(&dl, 20)),
			 -ETIMEDOUT);
	assert_int_equal(msg_ring_pop_wait(c, &m, NULL), 0);
	assert_int_equal(msg_check(&m, 0), 0);
	assert_int_equal(nshm_ring_stats(msg_ring_ring(p), &st), 0);
	assert_int_equal(st.empty_waits, 2);
	assert_int_equal(st.full_waits, 1);
	assert_int_equal(st.timeouts, 3);
	assert_true(st.consumer_parks >= 1);
	assert_int_equal(st.pushed, 4);
	assert_int_equal(st.popped, 1);
	assert_int_equal(st.count, 3);
	assert_int_equal(msg_ring_close(p), 0);
	assert_int_equal(msg_ring_close(c), 0);
}

/* Runtime element sizes (the benchmark's 8 .. 65536 bytes). */
static void test_runtime_sizes(void **state)
{
	static const uint32_t sizes[] = { 1, 8, 24, 4096, 65536 };
	unsigned char *in, *out;

	(void)state;
	in = malloc(65536 * 3);
	out = malloc(65536 * 3);
	assert_non_null(in);
	assert_non_null(out);
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		struct nshm_ring_type t = { "bytes", 1, sizes[k], 1 };
		const char *n = t_name("rt");
		struct nshm_ring *p = NULL, *c = NULL;

		assert_int_equal(nshm_ring_create(n, NSHM_RING_SPSC, &t, 4,
						  NSHM_RING_PRODUCER,
						  NSHM_PREFAULT, 0, &p),
				 0);
		assert_int_equal(nshm_ring_attach(n, NSHM_RING_SPSC, &t,
						  NSHM_RING_CONSUMER, 0, &c),
				 0);
		for (int round = 0; round < 5; round++) {
			for (size_t i = 0; i < (size_t)sizes[k] * 3; i++)
				in[i] = (unsigned char)(i * 7 + (size_t)round);
			assert_int_equal(nshm_ring_push_n(p, in, 3), 3);
			memset(out, 0, (size_t)sizes[k] * 3);
			assert_true(nshm_ring_pop(c, out));
			assert_int_equal(nshm_ring_pop_n(c, out + sizes[k], 5),
					 2);
			assert_memory_equal(in, out, (size_t)sizes[k] * 3);
		}
		assert_int_equal(nshm_ring_close(p), 0);
		assert_int_equal(nshm_ring_close(c), 0);
	}
	free(in);
	free(out);
}

/* Capacity 1 and the _fn copies. */
static void test_capacity_one_and_fn(void **state)
{
	const char *n = t_name("one");
	struct nshm_ring *p = NULL, *c = NULL;
	struct nshm_ring_span sp;
	struct msg m;
	void *s;

	(void)state;
	assert_int_equal(nshm_ring_create(n, NSHM_RING_SPSC, &msg_type, 1,
					  NSHM_RING_PRODUCER, 0, 0600, &p),
			 0);
	assert_int_equal(nshm_ring_attach(n, NSHM_RING_SPSC, &msg_type,
					  NSHM_RING_CONSUMER, 0, &c),
			 0);
	assert_int_equal(nshm_ring_capacity_fn(p), 1);
	assert_int_equal(nshm_ring_elem_size_fn(c), 64);
	for (uint64_t i = 0; i < 10; i++) {
		msg_fill(&m, i);
		assert_true(nshm_ring_push_fn(p, &m));
		assert_false(nshm_ring_push_fn(p, &m));
		assert_null(nshm_ring_reserve_fn(p));
		assert_true(nshm_ring_pop_fn(c, &m));
		assert_int_equal(msg_check(&m, i), 0);
		assert_null(nshm_ring_peek_fn(c));
	}
	s = nshm_ring_reserve_fn(p);
	assert_non_null(s);
	msg_fill(s, 10);
	nshm_ring_commit_fn(p);
	s = nshm_ring_peek_fn(c);
	assert_non_null(s);
	assert_int_equal(msg_check(s, 10), 0);
	nshm_ring_release_fn(c);
	assert_int_equal(nshm_ring_reserve_n_fn(p, 4, &sp), 1);
	msg_fill(nshm_ring_span_at_fn(&sp, 0), 11);
	nshm_ring_commit_n_fn(p, 1);
	assert_int_equal(nshm_ring_peek_n_fn(c, 4, &sp), 1);
	nshm_ring_release_n_fn(c, 1);
	msg_fill(&m, 12);
	assert_int_equal(nshm_ring_push_n_fn(p, &m, 3), 1);
	assert_int_equal(nshm_ring_pop_n_fn(c, &m, 3), 1);
	assert_int_equal(nshm_ring_push_wait_fn(p, &m, NULL), 0);
	assert_int_equal(nshm_ring_pop_wait_fn(c, &m, NULL), 0);
	assert_int_equal(nshm_ring_push_n_wait_fn(p, &m, 1, NULL), 1);
	assert_int_equal(nshm_ring_pop_n_wait_fn(c, &m, 1, NULL), 1);
	assert_int_equal(msg_check(&m, 12), 0);
	assert_int_equal(nshm_ring_position_fn(c), 15);
	assert_int_equal(nshm_ring_error_fn(c), 0);
	assert_true(nshm_ring_type_fingerprint(&msg_type) != 0);
	assert_int_equal(nshm_ring_type_fingerprint(NULL), 0);
	assert_int_equal(nshm_ring_close(p), 0);
	assert_int_equal(nshm_ring_close(c), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_create_args),
		cmocka_unit_test(test_bad_attach_args),
		cmocka_unit_test(test_wrong_type_and_kind),
		cmocka_unit_test(test_corrupt_header_at_attach),
		cmocka_unit_test(test_roles),
		cmocka_unit_test(test_push_pop_full_empty),
		cmocka_unit_test(test_zero_copy_spans),
		cmocka_unit_test(test_slot_stride),
		cmocka_unit_test(test_wrap_2_32),
		cmocka_unit_test(test_wrap_2_64),
		cmocka_unit_test(test_corrupt_indices),
		cmocka_unit_test(test_stuck_slot),
		cmocka_unit_test(test_timeout_and_counters),
		cmocka_unit_test(test_runtime_sizes),
		cmocka_unit_test(test_capacity_one_and_fn),
	};

	return cmocka_run_group_tests_name("ring/api", tests, NULL, NULL);
}
