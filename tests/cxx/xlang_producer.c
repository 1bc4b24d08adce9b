/* SPDX-License-Identifier: MIT */
/*
 * The C side of test_xlang: creates ring A (NSHM_RING_DEFINE, struct
 * xl_tick) and fills it with push_wait, then attaches to ring B, which the
 * C++ consumer created (nshm::spsc<xl_line> with a seq field), and fills
 * it in place (reserve/commit). Exit 0 when everything was sent.
 *
 * usage: xlang_producer RING_A RING_B, or xlang_producer --layout (print
 * xl_layout() as C sees it)
 */
#include "xlang.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

NSHM_RING_DEFINE(xl_tick_ring, struct xl_tick)
NSHM_RING_DEFINE_SEQ(xl_line_ring, struct xl_line, ring_seq)

static int fail(const char *what, int rc)
{
	fprintf(stderr, "xlang_producer: %s: %s (%s)\n", what,
		nshm_strerror(rc), nshm_errdetail());
	return 1;
}

int main(int argc, char **argv)
{
	struct xl_tick_ring *a;
	struct xl_line_ring *b;
	struct timespec dl;
	int rc;

	if (argc == 2 && strcmp(argv[1], "--layout") == 0) {
		printf("%llu\n", (unsigned long long)xl_layout());
		return 0;
	}
	if (argc != 3)
		return 2;
	rc = xl_tick_ring_create(argv[1], XL_CAPACITY, NSHM_RING_PRODUCER, 0,
				 0600, &a);
	if (rc != 0)
		return fail("create A", rc);
	for (uint64_t i = 0; i < XL_COUNT; i++) {
		struct xl_tick t;

		memset(&t, 0, sizeof(t));
		t.seq = i;
		t.instrument = (uint32_t)(i % 977);
		t.qty = (uint32_t)i;
		t.bid = (double)i * 0.5;
		t.ask = t.bid + 1;
		t.check = i ^ XL_KEY;
		rc = xl_tick_ring_push_wait(a, &t, nshm_deadline_in(&dl, 10000000000ull));
		if (rc != 0)
			return fail("push A", rc);
	}
	rc = xl_line_ring_attach(argv[2], NSHM_RING_PRODUCER, 0, &b);
	if (rc != 0)
		return fail("attach B", rc);
	for (uint64_t i = 0; i < XL_COUNT; i++) {
		struct xl_line *l;

		while ((l = xl_line_ring_reserve(b)) == NULL) {
			rc = nshm_ring_wait_writable(xl_line_ring_ring(b),
						     nshm_deadline_in(&dl, 10000000000ull));
			if (rc != 0)
				return fail("wait B", rc);
		}
		l->id = i; /* not ring_seq: the ring's */
		for (int k = 0; k < 6; k++)
			l->words[k] = i * (uint64_t)(k + 1);
		xl_line_ring_commit(b);
	}
	if ((rc = xl_tick_ring_close(a)) != 0 || (rc = xl_line_ring_close(b)) != 0)
		return fail("close", rc);
	return 0;
}
