/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target (issue 11): the broadcast reader step over arbitrary
 * ring bytes. A back-pressured broadcast ring is created once with its
 * writer, a registered reader (CONSUMER) and a read-only SUBSCRIBER; each
 * input starts from the same live state (both readers rejoined at the
 * tail) and is then XORed onto (first byte even) or copied over (odd)
 * the shared area from its control line on (ctl, tail, the role table,
 * every slot and seq word; bytes past that overlay the config line). Then
 * both readers run every read form (copying, in place, blocking with a
 * deadline already due), the writer publishes (its rescan reads the
 * scribbled cursors and tokens) and evicts, and check and stats run. A
 * crash, a sanitizer report, an undocumented error, a pointer outside
 * the slots or a wait that outlives its deadline by a second is a
 * finding.
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
	uint64_t w[7]; /* 56 bytes + the seq word: a 64-byte slot */
};

static const struct nshm_ring_type fm_type = NSHM_RING_TYPE_INIT(struct fm, 1);

static struct nshm_ring *wr, *cons, *sub;
static unsigned char *area, *pristine;
static size_t area_len;
static char name[64];

static void cleanup(void)
{
	nshm_ring_delete(name);
}

static void die(const char *what, int rc)
{
	fprintf(stderr, "fuzz_bcast_reader: %s: %d (%s)\n", what, rc,
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
	snprintf(name, sizeof(name), "nshmt-fuzz-bcast-%ld", (long)getpid());
	p.kind = NSHM_RING_BROADCAST;
	p.type = &fm_type;
	p.capacity = 8;
	p.role = NSHM_RING_PRODUCER;
	p.policy = NSHM_BCAST_BACKPRESSURE;
	p.max_consumers = 3;
	p.evict_ms = 1;
	rc = nshm_ring_create_with(name, &p, &wr);
	if (rc != 0)
		die("create", rc);
	atexit(cleanup);
	if ((rc = nshm_bcast_attach(name, &fm_type, NSHM_RING_CONSUMER,
				    NSHM_BCAST_FROM_NOW, 5, 0, &cons)) != 0)
		die("attach reader", rc);
	if ((rc = nshm_bcast_attach(name, &fm_type, NSHM_RING_SUBSCRIBER,
				    NSHM_BCAST_FROM_NOW, 0, 0, &sub)) != 0)
		die("attach subscriber", rc);
	nshm_ring_set_wait(cons, &ws);
	nshm_ring_set_wait(sub, &ws);
	nshm_ring_set_wait(wr, &ws);
	area = (unsigned char *)cons->sh;
	area_len = (size_t)cons->sh->config.area_size;
	pristine = malloc(area_len);
	if (pristine == NULL)
		abort();
	/* Something in it: 6 published, the reader read 2. */
	for (int i = 0; i < 6; i++) {
		struct fm m = { { (uint64_t)i } };

		nshm_bcast_publish(wr, &m);
	}
	for (int i = 0; i < 2; i++) {
		struct fm m;
		uint64_t missed;

		nshm_bcast_read(cons, &m, &missed);
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

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void rc_ok(int rc)
{
	if (rc < 0 && rc != -ETIMEDOUT && rc != -NSHM_ECORRUPT &&
	    rc != -NSHM_EPEERDEAD && rc != -EPIPE && rc != -NSHM_ELAPPED &&
	    rc != -NSHM_EEVICTED) {
		fprintf(stderr, "undocumented error %d (%s)\n", rc,
			nshm_errdetail());
		abort();
	}
}

static void reader_steps(struct nshm_ring *r)
{
	struct timespec dl;
	struct fm m;
	const void *in;
	uint64_t missed, t0;
	int rc;

	for (int i = 0; i < 3; i++) {
		rc = nshm_bcast_read(r, &m, &missed);
		rc_ok(rc);
		if (rc == -NSHM_ELAPPED && missed == 0)
			abort(); /* a lap always misses at least one */
	}
	rc = nshm_bcast_read_begin(r, &in, &missed);
	rc_ok(rc);
	if (rc == 1) {
		slot_ok(r, in);
		memcpy(&m, in, sizeof(m));
		rc_ok(nshm_bcast_read_end(r, &missed));
	}
	t0 = now_ns();
	rc_ok(nshm_bcast_read_wait(r, &m, &missed, nshm_deadline_in(&dl, 0)));
	if (now_ns() - t0 > 1000000000u)
		abort();
	rc_ok(nshm_ring_check(r));
	if (nshm_ring_error(r) != 0 && nshm_ring_error(r) != -NSHM_ECORRUPT)
		abort();
	nshm_ring_clear_error(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t body = area_len - 128, n1;
	struct nshm_ring_stats st;
	struct timespec dl;
	struct fm m = { { 0 } };
	uint64_t t0;
	void *s;

	memcpy(area, pristine, area_len);
	/* The same starting point for every input. */
	if (nshm_bcast_rejoin(cons, NSHM_BCAST_FROM_NOW) != 0 ||
	    nshm_bcast_rejoin(sub, NSHM_BCAST_FROM_OLDEST) != 0)
		abort();
	if (size != 0 && (data[0] & 1)) {
		data++;
		size--;
		n1 = size < body ? size : body;
		memcpy(area + 128, data, n1);
		if (size > n1)
			memcpy(area, data + n1,
			       size - n1 < 128 ? size - n1 : 128);
	} else if (size != 0) {
		data++;
		size--;
		n1 = size < body ? size : body;
		for (size_t i = 0; i < n1; i++)
			area[128 + i] ^= data[i];
		for (size_t i = n1; i < size && i - n1 < 128; i++)
			area[i - n1] ^= data[i];
	}

	reader_steps(cons);
	reader_steps(sub);
	/* The writer: a rescan over scribbled cursors, eviction, a wait. */
	s = nshm_bcast_reserve(wr);
	if (s != NULL) {
		slot_ok(wr, s);
		memset(s, 0x5a, sizeof(struct fm));
		nshm_bcast_commit(wr);
	}
	rc_ok(nshm_bcast_recover(wr));
	t0 = now_ns();
	rc_ok(nshm_bcast_publish_wait(wr, &m, nshm_deadline_in(&dl, 0)));
	if (now_ns() - t0 > 1000000000u)
		abort();
	reader_steps(cons);
	if (nshm_ring_stats(cons, &st) != 0 || st.count > 8)
		abort();
	if (nshm_ring_stats(wr, &st) != 0)
		abort();
	nshm_ring_clear_error(wr);
	return 0;
}
