/* SPDX-License-Identifier: MIT */
/*
 * Fuzz-style robustness: a child process scribbles random values over the
 * whole ring header (config, control line, both indices, both event words)
 * and over the slots' sequence words (plausible and random values)
 * while this process keeps producing and consuming through the ring with
 * every call of the API. Nothing may read or write out of bounds (run it
 * under ASan: build-ring-asan), every slot pointer handed out must lie in
 * the slot array, every error must be one of the documented ones, and the
 * corruption must be reported (-NSHM_ECORRUPT from the fast path's error
 * flag, the blocking calls and nshm_ring_check()).
 */
#include "ring_test.h"

static uint64_t rnd_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

/*
 * struct msg: 64 bytes; with a trailing seq at 64, stride 72; built with
 * T_SEQ_FIELD, its ring_seq field (at 48) is the seq word, stride 64.
 */
#if T_SEQ_FIELD
#define T_STRIDE 64u
#define T_SEQ_OFF 48u
#else
#define T_STRIDE 72u
#define T_SEQ_OFF 64u
#endif
#define T_CAP 32u

/* Child: scribble for @ms milliseconds. */
static int scribbler(const char *name, uint64_t ms, uint64_t seed)
{
	struct nshm_seg *seg;
	struct nshm_ring_shared *sh;
	void *area;
	uint64_t end = t_now_ns() + ms * 1000000u, slots_off;

	rnd_state = seed;
	if (nshm_seg_open(name, 0, 0, 0, &seg) != 0 ||
	    nshm_seg_attach(seg, 0, &area) != 0)
		return 1;
	sh = area;
	slots_off = sh->config.slots_off; /* before anything is scribbled */
	while (t_now_ns() < end) {
		_Atomic(uint32_t) *w = (_Atomic(uint32_t) *)(void *)sh;
		uint64_t r = rnd();
		uint64_t head;

		switch (r % 10) {
		case 0: /* any word of the header, any value */
			atomic_store_explicit(&w[(r >> 8) % 128],
					      (uint32_t)(r >> 32),
					      memory_order_relaxed);
			break;
		case 1: /* tail: near head (plausible) or anywhere */
			head = atomic_load_explicit(&sh->cons.index,
						    memory_order_relaxed);
			atomic_store_explicit(&sh->prod.index,
					      r & 1 ? head + (r >> 40) % 40
						    : rnd(),
					      memory_order_relaxed);
			break;
		case 2: /* head: anywhere */
			atomic_store_explicit(&sh->cons.index,
					      r & 1 ? rnd() : rnd() % 64,
					      memory_order_relaxed);
			break;
		case 3: /* event words, WAITERS set or not */
			atomic_store_explicit(r & 1 ? &sh->prod.ev.word
						    : &sh->cons.ev.word,
					      (uint32_t)(r >> 32),
					      memory_order_relaxed);
			break;
		case 4: { /* role table: peer ids, states, intents */
			struct nshm_ring_role_entry *e =
				(struct nshm_ring_role_entry *)(void *)((
					unsigned char *)sh + NSHM_RING_HDR_SIZE);

			atomic_store_explicit(&e[r & 1].peer,
					      r & 2 ? 0 : rnd(),
					      memory_order_relaxed);
			atomic_store_explicit(&e[(r >> 2) & 1].state,
					      (uint32_t)(r >> 40) % 4,
					      memory_order_relaxed);
			atomic_store_explicit(&e[(r >> 3) & 1].intent, rnd(),
					      memory_order_relaxed);
			break;
		}
		case 5:
		case 6: { /* a slot's seq word: near the live indices, or any */
			uint32_t k = (uint32_t)(r >> 8) % T_CAP;
			_Atomic(uint64_t) *sq =
				(_Atomic(uint64_t) *)(void *)((unsigned char *)sh +
							      slots_off +
							      k * T_STRIDE +
							      T_SEQ_OFF);

			head = atomic_load_explicit(&sh->cons.index,
						    memory_order_relaxed);
			switch ((r >> 16) % 4) {
			case 0: /* published, for a nearby index */
				atomic_store_explicit(
					sq, NSHM_RING_SEQ(head + (r >> 24) % 64) ^
						    sh->config.seq_key,
					memory_order_relaxed);
				break;
			case 1:
				atomic_store_explicit(sq, 0,
						      memory_order_relaxed);
				break;
			case 2: /* the unpublished bit pattern */
				atomic_store_explicit(sq, head + (r >> 24) % 64,
						      memory_order_relaxed);
				break;
			default:
				atomic_store_explicit(sq, rnd(),
						      memory_order_relaxed);
				break;
			}
			break;
		}
		default:
			usleep(50);
			break;
		}
	}
	return 0;
}

static bool err_ok(int rc)
{
	return rc == 0 || rc == -ETIMEDOUT || rc == -NSHM_ECORRUPT ||
	       rc == -NSHM_EPEERDEAD || rc == -EPIPE;
}

static void check_span(struct nshm_ring *r, const struct nshm_ring_span *sp,
		       uint32_t n)
{
	unsigned char *lo = r->slots;
	unsigned char *hi = lo + (size_t)nshm_ring_capacity(r) * T_STRIDE;

	if (n == 0)
		return;
	assert_true(sp->n1 + sp->n2 == n);
	assert_true(n <= T_CAP);
	assert_true(sp->stride == T_STRIDE);
	assert_true(sp->run1 >= lo);
	assert_true(sp->run1 + (size_t)sp->n1 * T_STRIDE <= hi);
	assert_true(sp->run2 == lo);
	assert_true((size_t)sp->n2 * T_STRIDE <= (size_t)(hi - lo));
}

static void test_scribble_header(void **state)
{
	const char *name = t_name("fuzz");
	struct nshm_ring *p = NULL, *c = NULL;
	const struct nshm_ring_type t = *msg_ring_type();
	struct nshm_wait_strategy ws = { .spins = 16, .yields = 0,
					 .park_slice_ms = 1 };
	uint64_t ms = (uint64_t)(1500 * t_scale()), end, ops = 0;
	uint64_t corrupt_fast = 0, corrupt_wait = 0, corrupt_check = 0;
	uint64_t other_err = 0;
	struct msg buf[16];
	struct timespec dl;
	int status;
	pid_t pid;

	(void)state;
	assert_int_equal(nshm_ring_create(name, NSHM_RING_SPSC, &t, T_CAP,
					  NSHM_RING_PRODUCER, 0, 0, &p),
			 0);
	assert_int_equal(nshm_ring_attach(name, NSHM_RING_SPSC, &t,
					  NSHM_RING_CONSUMER, 0, &c),
			 0);
	nshm_ring_set_wait(p, &ws);
	nshm_ring_set_wait(c, &ws);
	assert_int_equal(p->stride, T_STRIDE);
	assert_int_equal(p->seq_off, T_SEQ_OFF);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(scribbler(name, ms, 0x1234567ull));

	end = t_now_ns() + ms * 1000000u;
	while (t_now_ns() < end) {
		struct nshm_ring_span sp;
		struct nshm_ring_stats st;
		uint64_t r = rnd();
		uint32_t n;
		void *s;
		int rc = 0;

		ops++;
		switch (r % 10) {
		case 0:
			n = nshm_ring_push_n(p, buf, 1 + (uint32_t)(r >> 8) % 16);
			assert_true(n <= 16);
			break;
		case 1:
			n = nshm_ring_reserve_n(p, 40, &sp);
			check_span(p, &sp, n);
			if (n)
				nshm_ring_commit_n(p, n);
			break;
		case 2:
			s = nshm_ring_reserve(p);
			if (s) {
				assert_true((unsigned char *)s >= p->slots);
				assert_true((unsigned char *)s <
					    p->slots + T_CAP * T_STRIDE);
				memset(s, 0xab, 64);
				nshm_ring_commit(p);
			}
			break;
		case 3:
			n = nshm_ring_pop_n(c, buf, 16);
			assert_true(n <= 16);
			break;
		case 4:
			n = nshm_ring_peek_n(c, 40, &sp);
			check_span(c, &sp, n);
			for (uint32_t i = 0; i < n; i++)
				(void)*(volatile unsigned char *)
					nshm_ring_span_at(&sp, i);
			if (n)
				nshm_ring_release_n(c, n);
			break;
		case 5:
			s = nshm_ring_peek(c);
			if (s) {
				assert_true((unsigned char *)s >= c->slots);
				assert_true((unsigned char *)s <
					    c->slots + T_CAP * T_STRIDE);
				memcpy(buf, s, 64);
				nshm_ring_release(c);
			}
			break;
		case 6:
			rc = nshm_ring_pop_wait(c, buf, t_in_ms(&dl, 2));
			break;
		case 7:
			rc = nshm_ring_push_wait(p, buf, t_in_ms(&dl, 2));
			break;
		case 8:
			rc = nshm_ring_check(r & 256 ? p : c);
			if (rc == -NSHM_ECORRUPT)
				corrupt_check++;
			else
				assert_int_equal(rc, 0);
			rc = 0;
			break;
		default:
			assert_int_equal(nshm_ring_stats(c, &st), 0);
			assert_true(st.count <= 32);
			break;
		}
		if (rc == -NSHM_ECORRUPT)
			corrupt_wait++;
		else if (rc != 0 && rc != -ETIMEDOUT)
			other_err++;
		if (!err_ok(rc))
			fprintf(stderr, "unexpected %d: %s\n", rc,
				nshm_errdetail());
		assert_true(err_ok(rc));
		if (nshm_ring_error(p) || nshm_ring_error(c)) {
			assert_true(nshm_ring_error(p) == 0 ||
				    nshm_ring_error(p) == -NSHM_ECORRUPT);
			assert_true(nshm_ring_error(c) == 0 ||
				    nshm_ring_error(c) == -NSHM_ECORRUPT);
			corrupt_fast++;
			nshm_ring_clear_error(p);
			nshm_ring_clear_error(c);
		}
	}
	status = t_wait(pid, 5000);
	assert_true(t_exited_ok(status));
	printf("# fuzz %llu ms: %llu ops, corruption reported by fast path "
	       "%llu, blocking calls %llu, check %llu; peer-dead/EPIPE %llu\n",
	       (unsigned long long)ms, (unsigned long long)ops,
	       (unsigned long long)corrupt_fast,
	       (unsigned long long)corrupt_wait,
	       (unsigned long long)corrupt_check,
	       (unsigned long long)other_err);
	assert_true(corrupt_fast > 0);
	assert_true(corrupt_check > 0);
	/* Handles still close cleanly whatever the header holds. */
	assert_int_equal(nshm_ring_close(p), 0);
	assert_int_equal(nshm_ring_close(c), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scribble_header),
	};

	setvbuf(stdout, NULL, _IONBF, 0);
	return cmocka_run_group_tests_name("ring/fuzz", tests, NULL, NULL);
}
