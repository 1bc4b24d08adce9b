/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target (issue 10): the MPMC consumer step and the recovery
 * step over arbitrary ring bytes. A real ring is created and attached once
 * (so the handles are the library's own, bound by handle_bind() to a
 * validated mapping); each input is then copied over the ring's shared
 * area from its control line on (ctl, both index lines, the role table,
 * every slot and seq word; input bytes past that overlay the config line,
 * which only attach and nshm_ring_check() read), and the consumer fast
 * path (pop, peek_n/release, pop_n), nshm_mpmc_recover() on both sides,
 * a blocking wait with a deadline already due, check and stats run on it.
 * An input whose first byte is even is XORed onto a live ring instead (a
 * few flipped bits of a valid state), odd replaces the bytes outright.
 * A crash, a sanitizer report, a slot pointer outside the slot array or a
 * wait that outlives its deadline by a second is a finding.
 *
 * Build and run: see tests/fuzz/README.md.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <nshm/nshm.h>

struct fm {
	uint64_t w[6]; /* 48 bytes + the seq word: a 64-byte slot */
};

static const struct nshm_ring_type fm_type = NSHM_RING_TYPE_INIT(struct fm, 1);

static struct nshm_ring *prod, *cons, *cons2;
static unsigned char *area, *pristine;
static size_t area_len;
static char name[64];

static void cleanup(void)
{
	nshm_ring_delete(name);
}

static void die(const char *what, int rc)
{
	fprintf(stderr, "fuzz_mpmc_consumer: %s: %d (%s)\n", what, rc,
		nshm_errdetail());
	abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct nshm_ring_params p = NSHM_RING_PARAMS_INIT;
	struct nshm_wait_strategy ws = { .spins = 1, .yields = 0,
					 .park_slice_ms = 1 };
	int rc;

	(void)argc;
	(void)argv;
	snprintf(name, sizeof(name), "nshmt-fuzz-mpmc-%ld", (long)getpid());
	p.kind = NSHM_RING_MPMC;
	p.type = &fm_type;
	p.capacity = 8;
	p.role = NSHM_RING_CONSUMER;
	p.max_producers = 2;
	p.max_consumers = 2;
	rc = nshm_ring_create_with(name, &p, &cons);
	if (rc != 0)
		die("create", rc);
	atexit(cleanup);
	if ((rc = nshm_ring_attach(name, NSHM_RING_MPMC, &fm_type,
				   NSHM_RING_PRODUCER, 0, &prod)) != 0)
		die("attach producer", rc);
	if ((rc = nshm_ring_attach(name, NSHM_RING_MPMC, &fm_type,
				   NSHM_RING_CONSUMER, 0, &cons2)) != 0)
		die("attach consumer", rc);
	nshm_ring_set_wait(cons, &ws);
	nshm_ring_set_wait(cons2, &ws);
	area = (unsigned char *)cons->sh;
	area_len = (size_t)cons->sh->config.area_size;
	pristine = malloc(area_len);
	if (pristine == NULL)
		abort();
	/* A ring with something in it: 5 pushed, 2 popped. */
	for (int i = 0; i < 5; i++) {
		struct fm m = { { (uint64_t)i } };

		nshm_mpmc_push(prod, &m);
	}
	for (int i = 0; i < 2; i++) {
		struct fm m;

		nshm_mpmc_pop(cons2, &m);
	}
	memcpy(pristine, area, area_len);
	return 0;
}

static void slot_ok(struct nshm_ring *r, const void *s)
{
	const unsigned char *p = s;

	if (p < r->slots ||
	    p >= r->slots + (size_t)nshm_ring_capacity(r) * r->stride ||
	    (size_t)(p - r->slots) % r->stride != 0)
		abort();
}

static void span_ok(struct nshm_ring *r, const struct nshm_ring_span *sp,
		    uint32_t n, uint32_t want)
{
	if (n > want)
		abort();
	for (uint32_t i = 0; i < n; i++)
		slot_ok(r, nshm_ring_span_at(sp, i));
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void rc_ok(int rc)
{
	if (rc < 0 && rc != -ETIMEDOUT && rc != -NSHM_ECORRUPT &&
	    rc != -NSHM_EPEERDEAD && rc != -EPIPE) {
		fprintf(stderr, "undocumented error %d (%s)\n", rc,
			nshm_errdetail());
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t body = area_len - 128, n1 = size < body ? size : body;
	struct nshm_ring_span sp;
	struct nshm_ring_stats st;
	struct timespec dl;
	struct fm m, buf[8];
	uint64_t t0;
	uint32_t k;
	void *s;

	memcpy(area, pristine, area_len);
	if (size != 0 && (data[0] & 1)) {
		/* Odd first byte: the rest replaces the bytes. */
		data++;
		size--;
		n1 = size < body ? size : body;
		memcpy(area + 128, data, n1);
		if (size > n1)
			memcpy(area, data + n1,
			       size - n1 < 128 ? size - n1 : 128);
	} else if (size != 0) {
		/* Even: the rest is XORed in, so small inputs are small
		 * changes to a live ring (zeros leave it as it was). */
		data++;
		size--;
		n1 = size < body ? size : body;
		for (size_t i = 0; i < n1; i++)
			area[128 + i] ^= data[i];
		for (size_t i = n1; i < size && i - n1 < 128; i++)
			area[i - n1] ^= data[i];
	}

	/* The consumer step, every form. */
	(void)nshm_mpmc_pop(cons, &m);
	s = nshm_mpmc_peek(cons);
	if (s != NULL) {
		slot_ok(cons, s);
		memcpy(&m, s, sizeof(m));
		nshm_mpmc_release(cons);
	}
	k = nshm_mpmc_peek_n(cons, 8, &sp);
	span_ok(cons, &sp, k, 8);
	for (uint32_t i = 0; i < k; i++)
		memcpy(&m, nshm_ring_span_at(&sp, i), sizeof(m));
	if (k != 0)
		nshm_mpmc_release(cons);
	if (nshm_mpmc_pop_n(cons2, buf, 8) > 8)
		abort();
	/* The recovery step, both sides. */
	rc_ok(nshm_mpmc_recover(cons));
	rc_ok(nshm_mpmc_recover(prod));
	/* The waiting engine, with a deadline already due. */
	t0 = now_ns();
	rc_ok(nshm_ring_wait_readable(cons, nshm_deadline_in(&dl, 0)));
	if (now_ns() - t0 > 1000000000u)
		abort();
	/* A producer step on what recovery left. */
	s = nshm_mpmc_reserve(prod);
	if (s != NULL) {
		slot_ok(prod, s);
		memset(s, 0x5a, sizeof(struct fm));
		nshm_mpmc_commit(prod);
	}
	(void)nshm_mpmc_pop(cons, &m);
	/* Control plane over the same bytes. */
	rc_ok(nshm_ring_check(cons));
	if (nshm_ring_stats(cons, &st) != 0 || st.count > 8)
		abort();
	if ((nshm_ring_error(cons) != 0 &&
	     nshm_ring_error(cons) != -NSHM_ECORRUPT) ||
	    (nshm_ring_error(prod) != 0 &&
	     nshm_ring_error(prod) != -NSHM_ECORRUPT))
		abort();
	nshm_ring_clear_error(cons);
	nshm_ring_clear_error(cons2);
	nshm_ring_clear_error(prod);
	return 0;
}
