/* SPDX-License-Identifier: MIT */
/*
 * The MPMC ring with producers and consumers as threads of one process,
 * one handle (and mapping) each: its memory-order pairs (RING-M1..M10 in
 * bits/ring_mpmc.h: the payload before the seq, a consumer's copy or
 * reads before the producers' horizon lets them refill, cursors and
 * intents) and the park/notify protocol under ThreadSanitizer (label
 * `thread`). Consumers mix the copy-then-claim pop and pop_n with the
 * in-place peek/release and peek_n; producers mix push, push_n and
 * reserve/commit, spinning and blocking; a small ring makes both sides
 * wait and wrap often. Every message arrives exactly once and intact.
 */
#include <pthread.h>
#include <sched.h>

#include <nshm/mpmc.h>

#include "ring_test.h"

#define NP 3
#define NC 3
#define CAP 8u

static const struct nshm_ring_type msg_type = NSHM_RING_TYPE_INIT(struct msg, 1);

struct shared {
	const char *name;
	uint64_t per;			/* messages per producer */
	int blocking;
	_Atomic(uint64_t) got;		/* messages taken, all consumers */
	_Atomic(uint32_t) seen[NP][1u << 14]; /* deliveries per message */
	_Atomic(int) bad;
};

struct role {
	struct shared *s;
	int id;
	int rc;
};

/* Producer id in bits 48.., its sequence number below. */
static uint64_t tag(int id, uint64_t seq)
{
	return (uint64_t)id << 48 | seq;
}

static void account(struct shared *s, const struct msg *m)
{
	uint64_t id = m->seq >> 48, seq = m->seq & ((1ull << 48) - 1);

	if (msg_check(m, m->seq) != 0 || id >= NP || seq >= s->per) {
		atomic_store(&s->bad, 1);
		return;
	}
	atomic_fetch_add(&s->seen[id][seq], 1);
	atomic_fetch_add(&s->got, 1);
}

static void *producer(void *arg)
{
	struct role *ro = arg;
	struct shared *s = ro->s;
	struct nshm_ring *r;
	struct timespec dl;
	struct msg b[4];

	if (nshm_ring_attach(s->name, NSHM_RING_MPMC, &msg_type,
			     NSHM_RING_PRODUCER, 0, &r) != 0) {
		ro->rc = 1;
		return NULL;
	}
	for (uint64_t seq = 0; seq < s->per && ro->rc == 0;) {
		uint32_t k = 1;
		bool ok;

		msg_fill(&b[0], tag(ro->id, seq));
		switch (seq % 3) {
		case 0:
			ok = s->blocking ? nshm_mpmc_push_wait(
						   r, &b[0], t_in_ms(&dl, 10000)) == 0
					 : nshm_mpmc_push(r, &b[0]);
			break;
		case 1: {
			struct msg *slot = nshm_mpmc_reserve(r);

			ok = slot != NULL;
			if (ok) {
				*slot = b[0];
				nshm_mpmc_commit(r);
			}
			break;
		}
		default:
			k = seq + 4 <= s->per ? 4 : (uint32_t)(s->per - seq);
			for (uint32_t i = 1; i < k; i++)
				msg_fill(&b[i], tag(ro->id, seq + i));
			k = nshm_mpmc_push_n(r, b, k);
			ok = k != 0;
			break;
		}
		if (ok)
			seq += k;
		else if (nshm_ring_error(r) != 0)
			ro->rc = 2;
		else if (s->blocking &&
			 nshm_ring_wait_writable(r, t_in_ms(&dl, 10000)) != 0)
			ro->rc = 3;
		else
			sched_yield(); /* TSan: keep it fair */
	}
	nshm_ring_close(r);
	return NULL;
}

static void *consumer(void *arg)
{
	struct role *ro = arg;
	struct shared *s = ro->s;
	uint64_t total = NP * s->per;
	struct nshm_ring *r;
	struct timespec dl;
	struct msg b[4];

	if (nshm_ring_attach(s->name, NSHM_RING_MPMC, &msg_type,
			     NSHM_RING_CONSUMER, 0, &r) != 0) {
		ro->rc = 1;
		return NULL;
	}
	for (uint64_t i = 0; atomic_load(&s->got) < total && ro->rc == 0;
	     i++) {
		uint32_t k = 0;

		switch (i % 4) {
		case 0:
			k = nshm_mpmc_pop(r, &b[0]);
			break;
		case 1:
			k = nshm_mpmc_pop_n(r, b, 4);
			break;
		case 2: {
			const struct msg *m = nshm_mpmc_peek(r);

			if (m != NULL) {
				b[0] = *m;
				nshm_mpmc_release(r);
				k = 1;
			}
			break;
		}
		default: {
			struct nshm_ring_span sp;

			k = nshm_mpmc_peek_n(r, 4, &sp);
			for (uint32_t j = 0; j < k; j++)
				memcpy(&b[j],
				       j < sp.n1 ? sp.run1 + (size_t)j * sp.stride
						 : sp.run2 + (size_t)(j - sp.n1) *
								     sp.stride,
				       sizeof(b[j]));
			if (k != 0)
				nshm_mpmc_release(r);
			break;
		}
		}
		for (uint32_t j = 0; j < k; j++)
			account(s, &b[j]);
		if (k != 0)
			continue;
		if (nshm_ring_error(r) != 0)
			ro->rc = 2;
		else if (s->blocking)
			(void)nshm_ring_wait_readable(r, t_in_ms(&dl, 20));
		else
			sched_yield();
	}
	nshm_ring_close(r);
	return NULL;
}

static void run(int blocking)
{
	const char *n = t_name(blocking ? "mtb" : "mts");
	static struct shared s;
	struct nshm_ring_params p = NSHM_RING_PARAMS_INIT;
	struct role pr[NP], cr[NC];
	pthread_t pt[NP], ct[NC];
	struct nshm_ring_stats st;
	struct nshm_ring *o;
	uint64_t twice = 0, never = 0;

	memset(&s, 0, sizeof(s));
	s.name = n;
	s.per = t_count(1u << 14) < (1u << 14) ? t_count(1u << 14) : 1u << 14;
	s.blocking = blocking;
	p.kind = NSHM_RING_MPMC;
	p.type = &msg_type;
	p.capacity = CAP;
	p.role = NSHM_RING_OBSERVER;
	p.max_producers = NP;
	p.max_consumers = NC;
	assert_int_equal(nshm_ring_create_with(n, &p, &o), 0);
	for (int i = 0; i < NC; i++) {
		cr[i] = (struct role){ .s = &s, .id = i };
		assert_int_equal(pthread_create(&ct[i], NULL, consumer, &cr[i]),
				 0);
	}
	for (int i = 0; i < NP; i++) {
		pr[i] = (struct role){ .s = &s, .id = i };
		assert_int_equal(pthread_create(&pt[i], NULL, producer, &pr[i]),
				 0);
	}
	for (int i = 0; i < NP; i++)
		assert_int_equal(pthread_join(pt[i], NULL), 0);
	for (int i = 0; i < NC; i++)
		assert_int_equal(pthread_join(ct[i], NULL), 0);
	for (int i = 0; i < NP; i++)
		for (uint64_t q = 0; q < s.per; q++) {
			uint32_t k = atomic_load(&s.seen[i][q]);

			twice += k > 1;
			never += k == 0;
		}
	assert_int_equal(nshm_ring_stats(o, &st), 0);
	printf("# %s: %d x %llu messages through %u slots: twice %llu, never "
	       "%llu, claim retries %llu\n",
	       blocking ? "blocking" : "spin", NP, (unsigned long long)s.per,
	       CAP, (unsigned long long)twice, (unsigned long long)never,
	       (unsigned long long)st.claim_retries);
	for (int i = 0; i < NP; i++)
		assert_int_equal(pr[i].rc, 0);
	for (int i = 0; i < NC; i++)
		assert_int_equal(cr[i].rc, 0);
	assert_int_equal(atomic_load(&s.bad), 0);
	assert_int_equal(twice, 0);
	assert_int_equal(never, 0);
	assert_true(st.pushed == NP * s.per);
	assert_true(st.popped == NP * s.per);
	assert_int_equal(st.skipped, 0);
	assert_int_equal(nshm_ring_close(o), 0);
}

static void test_spin(void **state)
{
	(void)state;
	run(0);
}

static void test_blocking(void **state)
{
	(void)state;
	run(1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spin),
		cmocka_unit_test(test_blocking),
	};

	return cmocka_run_group_tests_name("ring/mpmc_thread", tests, NULL,
					   NULL);
}
