/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target (issue 12): the records reader over arbitrary ring
 * bytes. Two real records rings (1 KiB, records of up to 256 bytes; one
 * producer, and four: the MPSC claims, the consumer's zeroing and the
 * recovery of dead claims; bit 1 of the first byte picks one) are created
 * and attached once, and hold a few records; each input is then
 * laid over the ring's shared area from its control line on (ctl, both
 * index lines, the role table, every header word and payload; bytes past
 * that overlay the config line, which only attach and nshm_ring_check()
 * read), the handles' local state is put back as it was, and the consumer
 * reads every way it can (next in place several times, release, pop into a
 * short and a long buffer, a blocking read with a deadline already due),
 * then a producer step, check and stats. An even first byte XORs the rest
 * onto the live ring (small changes of a valid state), an odd one replaces
 * the bytes. A crash, a sanitizer report, a record pointer or length
 * outside the ring, an undocumented error or a wait that outlives its
 * deadline by a second is a finding.
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

#define CAP 1024u

/* Two rings: one producer (zero-next), four producers (MPSC claims). */
struct setup {
	struct nshm_ring *prod, *cons;
	struct nshm_ring prod0, cons0; /* their local state to restore */
	unsigned char *area, *pristine;
	size_t area_len;
	char name[64];
};
static struct setup su[2];

static void cleanup(void)
{
	nshm_ring_delete(su[0].name);
	nshm_ring_delete(su[1].name);
}

static void die(const char *what, int rc)
{
	fprintf(stderr, "fuzz_records_reader: %s: %d (%s)\n", what, rc,
		nshm_errdetail());
	abort();
}

static void setup_one(struct setup *x, uint32_t np)
{
	struct nshm_ring_params p = NSHM_RING_PARAMS_INIT;
	struct nshm_wait_strategy ws = { .spins = 1, .yields = 0,
					 .park_slice_ms = 1 };
	struct nshm_ring *prod, *cons;
	struct nshm_record rec;
	unsigned char buf[256];
	int rc;

	snprintf(x->name, sizeof(x->name), "nshmt-fuzz-rec%u-%ld", np,
		 (long)getpid());
	p.capacity = CAP;
	p.record_max = 256;
	p.max_producers = np;
	p.role = NSHM_RING_CONSUMER;
	if ((rc = nshm_records_create(x->name, &p, NULL, &cons)) != 0)
		die("create", rc);
	if ((rc = nshm_records_attach(x->name, NULL, NSHM_RING_PRODUCER, 0,
				      &prod)) != 0)
		die("attach producer", rc);
	nshm_ring_set_wait(cons, &ws);
	nshm_ring_set_wait(prod, &ws);
	x->area = (unsigned char *)cons->sh;
	x->area_len = (size_t)cons->sh->config.area_size;
	x->pristine = malloc(x->area_len);
	if (x->pristine == NULL)
		abort();
	/* Some history: 9 records of 0 .. 200 bytes, 3 of them read. */
	memset(buf, 0xa5, sizeof(buf));
	for (uint32_t i = 0; i < 9; i++)
		if (nshm_records_push(prod, i, buf, i * 25) != 0)
			die("push", -1);
	for (int i = 0; i < 3; i++)
		if (!nshm_records_next(cons, &rec))
			die("next", nshm_ring_error(cons));
	nshm_records_release(cons);
	memcpy(x->pristine, x->area, x->area_len);
	x->prod = prod;
	x->cons = cons;
	x->prod0 = *prod;
	x->cons0 = *cons;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	atexit(cleanup);
	setup_one(&su[0], 1);
	setup_one(&su[1], 4);
	return 0;
}

static void rec_ok(struct nshm_ring *r, const struct nshm_record *rec)
{
	const unsigned char *d = rec->data;

	if (d < r->slots || d > r->slots + CAP || rec->len > CAP ||
	    d + rec->len > r->slots + CAP || rec->len > nshm_records_max(r) ||
	    rec->type > 0xffffu)
		abort();
}

static void rc_ok(int rc)
{
	if (rc < 0 && rc != -ETIMEDOUT && rc != -NSHM_ECORRUPT &&
	    rc != -NSHM_EPEERDEAD && rc != -EPIPE && rc != -EAGAIN &&
	    rc != -EMSGSIZE) {
		fprintf(stderr, "undocumented error %d (%s)\n", rc,
			nshm_errdetail());
		abort();
	}
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct setup *x = &su[size != 0 && (data[0] & 2) ? 1 : 0];
	struct nshm_ring *prod = x->prod, *cons = x->cons;
	unsigned char *area = x->area;
	size_t area_len = x->area_len, body = area_len - 128, n1;
	static unsigned char big[CAP], small[16];
	struct nshm_ring_stats st;
	struct nshm_record rec;
	struct timespec dl;
	uint32_t len, type;
	uint64_t t0;
	void *w;

	memcpy(area, x->pristine, area_len);
	*prod = x->prod0;
	*cons = x->cons0;
	if (size != 0) {
		int replace = data[0] & 1;

		data++;
		size--;
		n1 = size < body ? size : body;
		for (size_t i = 0; i < n1; i++)
			area[128 + i] = replace ? data[i]
						: area[128 + i] ^ data[i];
		for (size_t i = n1; i < size && i - n1 < 128; i++)
			area[i - n1] = replace ? data[i]
					       : area[i - n1] ^ data[i];
	}

	/* Reads in place, a batch of them, then one release. */
	for (int i = 0; i < 12 && nshm_records_next(cons, &rec); i++) {
		rec_ok(cons, &rec);
		if (rec.len != 0)
			memcpy(big, rec.data, rec.len);
	}
	nshm_records_release(cons);
	/* Copies out: too short (the size needed), then long enough. */
	rc_ok(nshm_records_pop(cons, small, sizeof(small), &len, &type));
	rc_ok(nshm_records_pop(cons, big, sizeof(big), &len, &type));
	/* MPSC: the recovery of claims no live producer holds. */
	rc_ok(nshm_records_recover(cons));
	/* The waiting engine, with a deadline already due. */
	t0 = now_ns();
	rc_ok(nshm_records_next_wait(cons, &rec, nshm_deadline_in(&dl, 0)));
	if (now_ns() - t0 > 1000000000u)
		abort();
	/* A producer step on whatever head says. */
	w = nshm_records_reserve(prod, 100);
	if (w != NULL) {
		if ((unsigned char *)w < prod->slots ||
		    (unsigned char *)w + 100 > prod->slots + CAP)
			abort();
		memset(w, 0x5a, 100);
		nshm_records_commit(prod, 1);
	}
	rc_ok(nshm_records_pop(cons, big, sizeof(big), &len, &type));
	/* Control plane over the same bytes. */
	rc_ok(nshm_ring_check(cons));
	rc_ok(nshm_ring_check(prod));
	if (nshm_ring_stats(cons, &st) != 0 || st.count > CAP)
		abort();
	if ((nshm_ring_error(cons) != 0 &&
	     nshm_ring_error(cons) != -NSHM_ECORRUPT) ||
	    (nshm_ring_error(prod) != 0 &&
	     nshm_ring_error(prod) != -NSHM_ECORRUPT))
		abort();
	return 0;
}
