/* SPDX-License-Identifier: MIT */
/*
 * The stress / crash / fuzz template of issue 10, compiled once per ring
 * kind (tests/ring/CMakeLists.txt: test_kind_spsc with -DT_KIND_SPSC=1,
 * test_kind_mpmc with -DT_KIND_MPMC=1; the adapter is kind_template.h).
 * Real processes (fork), unique names, watchdogs on every wait.
 *
 *  stress/{spin,blocking}  K_MAXP producer x K_MAXC consumer processes
 *        (MPMC: 4 x 4, oversubscribed on 2 cores on purpose), every message
 *        delivered exactly once, intact, per producer in order to each
 *        consumer; stats pushed == popped == total, skipped == 0.
 *  kill/producers  producers SIGKILLed at random points and restarted
 *        (taking over the dead entries) while consumers read: no hang, no
 *        duplicate, no torn message, and EXACTLY as many ring indices
 *        undelivered as the ring reports skipped (MPMC: each is the slot a
 *        dead producer had claimed; SPSC: 0 == 0, a successor resumes).
 *  kill/consumers-holding  consumers die holding a peeked, unread slot
 *        (they SIGKILL themselves there: the one point where the count is
 *        exact): undelivered == skipped == deaths (MPMC; SPSC: the
 *        successor reads it, 0 == 0).
 *  kill/mixed  producers and consumers SIGKILLed at random points: no hang,
 *        no duplicate, no torn message, and skipped <= undelivered <=
 *        skipped + consumer kills (a consumer killed between releasing a
 *        slot and recording it loses that message without the ring knowing:
 *        the only loss no ring can count), skipped <= kills, per-producer
 *        gaps <= producer kills.
 *  fuzz/scribble  a child scribbles random values over the header, the role
 *        table and the slots' seq words while this process calls every
 *        data-plane function on every handle: no crash, no out-of-bounds
 *        access (ASan builds), every slot pointer inside the slot array,
 *        only documented errors, and the corruption is reported.
 *
 * CI sizes take a few seconds per kind. Long runs:
 *   NSHM_TEST_SCALE=50 ctest --test-dir build -R test_kind_ --timeout 3000
 * (stress: 4 x 200k x 50 = 4 x 10^7 messages at scale 50 (10^7 at 12.5); kill campaigns:
 * 50x the rounds, thousands of kills).
 */
#include "kind_template.h"

/* ---- children ----------------------------------------------------------- */

/* Producer lane @p lane: push until stopped (@p total: a fixed count). */
static int producer(struct kbook *b, const char *name, uint32_t lane,
		    uint64_t total, int spin)
{
	struct nshm_ring *p;
	struct timespec dl;
	struct kmsg m;
	int rc;

	rc = k_attach(name, NSHM_RING_PRODUCER, &p);
	if (rc != 0) {
		fprintf(stderr, "producer %u attach: %s (%s)\n", lane,
			nshm_strerror(rc), nshm_errdetail());
		return 10;
	}
	if (k_set_mode(p, spin) != 0)
		return 11;
	for (uint64_t k = 0;; k++) {
		uint64_t n;
		bool sent = false;

		if (atomic_load(&b->stop))
			break;
		if (total != 0 && atomic_load(&b->lane_next[lane]) >= total)
			break;
		if (atomic_fetch_add(&b->issued, 1) >= K_IDX_BITS - 1024) {
			while (!atomic_load(&b->stop))
				usleep(1000); /* out of bookkeeping: idle */
			break;
		}
		/*
		 * Take our number first: a kill from here to the publish
		 * loses at most this one number of the lane (a gap), never
		 * makes two messages with it.
		 */
		n = atomic_fetch_add(&b->lane_next[lane], 1);
		while (!sent) {
			if (k % 2 == 0) {
				/* In place: the kill can land mid-fill. */
				struct kmsg *s = k_reserve(p);

				if (s != NULL) {
					if (atomic_load(&b->pdie_lane) ==
					    lane + 1) {
						/* Die holding the claim,
						 * half written. */
						atomic_store(&b->pdie_lane, 0);
						memset(s, 0x5a, 40);
						raise(SIGKILL);
					}
					kmsg_fill(s, (uint64_t)lane << 40 | n,
						  nshm_ring_position(p));
					k_commit(p);
					sent = true;
					continue;
				}
			} else {
				kmsg_fill(&m, (uint64_t)lane << 40 | n,
					  K_NOPOS);
				if (k_push(p, &m)) {
					sent = true;
					continue;
				}
			}
			if (nshm_ring_error(p) != 0) {
				fprintf(stderr, "producer %u: %s\n", lane,
					nshm_strerror(nshm_ring_error(p)));
				return 12;
			}
			rc = nshm_ring_wait_writable(p, t_in_ms(&dl, 100));
			/*
			 * Even when told to stop: the number is taken, so
			 * send it (consumers run until every producer left).
			 */
			if (rc == -ETIMEDOUT || rc == -NSHM_EPEERDEAD ||
			    rc == -EPIPE) {
				if (rc != -ETIMEDOUT)
					usleep(200); /* no consumer yet */
				continue;
			}
			if (rc != 0) {
				fprintf(stderr, "producer %u wait: %s (%s)\n",
					lane, nshm_strerror(rc),
					nshm_errdetail());
				return 13;
			}
		}
	}
	return nshm_ring_close(p) == 0 ? 0 : 14;
}

/*
 * Consumer lane @p lane: read and record until told to stop and the ring
 * is drained (@p total: until that many were delivered in all).
 */
static int consumer(struct kbook *b, const char *name, uint32_t lane,
		    uint64_t total, int spin)
{
	uint64_t last[K_LANES] = { 0 };
	struct nshm_ring *c;
	struct timespec dl;
	int rc;

	rc = k_attach(name, NSHM_RING_CONSUMER, &c);
	if (rc != 0) {
		fprintf(stderr, "consumer %u attach: %s (%s)\n", lane,
			nshm_strerror(rc), nshm_errdetail());
		return 20;
	}
	if (k_set_mode(c, spin) != 0)
		return 21;
	for (;;) {
		struct kmsg *s = k_peek(c);
		struct nshm_ring_stats st;

		if (s != NULL) {
			struct kmsg m = *s;
			uint64_t pos = nshm_ring_position(c);

			if (atomic_load(&b->die_lane) == lane + 1) {
				/* Die holding it, unread: it is lost. */
				atomic_store(&b->die_lane, 0);
				raise(SIGKILL);
			}
			k_release(c);
			kbook_record(b, &m, pos, last);
			if (total != 0 && atomic_load(&b->delivered) >= total)
				break;
			continue;
		}
		if (nshm_ring_error(c) != 0) {
			fprintf(stderr, "consumer %u: %s\n", lane,
				nshm_strerror(nshm_ring_error(c)));
			return 22;
		}
		if (total != 0 && atomic_load(&b->delivered) >= total)
			break;
		if (k_recover(c) < 0)
			return 23;
		/*
		 * Every producer has exited: drained once no index is left
		 * between deq and enq (a dead producer's claim in there was
		 * given up by the recovery above, and is read past next).
		 */
		if (atomic_load(&b->cstop) && nshm_ring_stats(c, &st) == 0 &&
		    st.count == 0)
			break;
		rc = nshm_ring_wait_readable(c, t_in_ms(&dl, 100));
		if (rc == -NSHM_EPEERDEAD || rc == -EPIPE)
			usleep(200); /* between producers: they come back */
		else if (rc != 0 && rc != -ETIMEDOUT) {
			fprintf(stderr, "consumer %u wait: %s (%s)\n", lane,
				nshm_strerror(rc), nshm_errdetail());
			return 24;
		}
	}
	return nshm_ring_close(c) == 0 ? 0 : 25;
}

static pid_t spawn(struct kbook *b, const char *name, int prod, uint32_t lane,
		   uint64_t total, int spin)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		k_rnd_state ^= (uint64_t)getpid() << 17;
		_exit(prod ? producer(b, name, lane, total, spin)
			   : consumer(b, name, lane, total, spin));
	}
	return pid;
}

/* Undelivered ring indices in [0, pushed), and index bits past it. */
static void kbook_count(struct kbook *b, uint64_t pushed, uint64_t *missing,
			uint64_t *beyond)
{
	*missing = 0;
	*beyond = 0;
	for (uint64_t i = 0; i < pushed && i < K_IDX_BITS; i++)
		*missing += !kbit_get(b->idx_seen, i);
	for (uint64_t i = pushed; i < pushed + 4096 && i < K_IDX_BITS; i++)
		*beyond += kbit_get(b->idx_seen, i);
}

/* Gaps in the lanes' sequences below what each lane handed out. */
static uint64_t kbook_gaps(struct kbook *b, uint32_t lanes)
{
	uint64_t gaps = 0;

	for (uint32_t l = 0; l < lanes; l++) {
		uint64_t n = atomic_load(&b->lane_next[l]);

		for (uint64_t i = 0; i < n && i < K_LANE_BITS; i++)
			gaps += !kbit_get(b->lane_seen[l], i);
	}
	return gaps;
}

static void kbook_assert_clean(struct kbook *b)
{
	if (b->dup || b->lane_dup || b->torn || b->misplaced || b->order)
		fprintf(stderr, "dup %llu lane_dup %llu torn %llu misplaced "
			"%llu order %llu\n", (unsigned long long)b->dup,
			(unsigned long long)b->lane_dup,
			(unsigned long long)b->torn,
			(unsigned long long)b->misplaced,
			(unsigned long long)b->order);
	assert_int_equal(b->dup, 0);
	assert_int_equal(b->lane_dup, 0);
	assert_int_equal(b->torn, 0);
	assert_int_equal(b->misplaced, 0);
	assert_int_equal(b->order, 0);
}

/* ---- stress ------------------------------------------------------------- */

static void run_stress(int spin)
{
	const char *name = t_name(K_TAG "-stress");
	uint64_t per = t_count(200000 / K_MAXP * 4);
	uint64_t total = per * K_MAXP, t0, missing, beyond;
	struct kbook *b = kbook_new();
	pid_t pp[K_MAXP], cp[K_MAXC];
	struct nshm_ring_stats st;
	struct nshm_ring *o = NULL;

	assert_int_equal(k_create(name, 1024, NSHM_RING_OBSERVER,
				  NSHM_PREFAULT, &o),
			 0);
	t0 = t_now_ns();
	for (uint32_t i = 0; i < K_MAXC; i++)
		cp[i] = spawn(b, name, 0, i, total, spin);
	for (uint32_t i = 0; i < K_MAXP; i++)
		pp[i] = spawn(b, name, 1, i, per, spin);
	for (uint32_t i = 0; i < K_MAXP; i++)
		assert_true(t_exited_ok(t_wait(pp[i], 60000)));
	for (uint32_t i = 0; i < K_MAXC; i++)
		assert_true(t_exited_ok(t_wait(cp[i], 60000)));
	assert_int_equal(nshm_ring_stats(o, &st), 0);
	kbook_count(b, st.pushed, &missing, &beyond);
	printf("# %s stress %s %ux%u: %llu msgs in %.2f s (%.2f M/s), "
	       "claim_retries %llu, parks %llu/%llu\n",
	       K_TAG, spin ? "spin" : "blocking", K_MAXP, K_MAXC,
	       (unsigned long long)total, (t_now_ns() - t0) / 1e9,
	       total / ((t_now_ns() - t0) / 1e3),
	       (unsigned long long)st.claim_retries,
	       (unsigned long long)st.producer_parks,
	       (unsigned long long)st.consumer_parks);
	kbook_assert_clean(b);
	assert_true(st.pushed == total);
	assert_true(st.popped == total);
	assert_true(b->delivered == total);
	assert_int_equal(missing, 0);
	assert_int_equal(beyond, 0);
	assert_int_equal(kbook_gaps(b, K_MAXP), 0);
	assert_int_equal(st.skipped, 0);
	assert_int_equal(st.producers, 0);
	assert_int_equal(st.consumers, 0);
	assert_int_equal(nshm_ring_close(o), 0);
	kbook_free(b);
}

static void test_stress_spin(void **state)
{
	(void)state;
	run_stress(1);
}

static void test_stress_blocking(void **state)
{
	(void)state;
	run_stress(0);
}

/* ---- kill campaigns ----------------------------------------------------- */

enum victims { PRODUCERS, CONSUMERS_HOLDING, MIXED };

static void run_kills(enum victims who, int rounds)
{
	const char *name = t_name(K_TAG "-kill");
	struct kbook *b = kbook_new();
	pid_t pp[K_MAXP], cp[K_MAXC];
	struct nshm_ring_stats st;
	struct nshm_ring *o = NULL;
	uint64_t kp = 0, kc = 0, missing, beyond, gaps, last = 0, t0;
	uint64_t held = 0; /* deaths holding a claimed slot, by design */
	int stalls = 0;

	assert_int_equal(k_create(name, 64, NSHM_RING_OBSERVER, 0, &o), 0);
	t0 = t_now_ns();
	for (uint32_t i = 0; i < K_MAXC; i++)
		cp[i] = spawn(b, name, 0, i, 0, 0);
	for (uint32_t i = 0; i < K_MAXP; i++)
		pp[i] = spawn(b, name, 1, i, 0, 0);
	for (int k = 0; k < rounds; k++) {
		int prod = who == PRODUCERS ||
			   (who == MIXED && (k_rnd() & 1));
		uint32_t lane = (uint32_t)(k_rnd() % (prod ? K_MAXP : K_MAXC));
		pid_t *slot = prod ? &pp[lane] : &cp[lane];
		int status;

		usleep((useconds_t)(k_rnd() % 15000));
		if (who == CONSUMERS_HOLDING || (who == PRODUCERS && k % 2)) {
			/*
			 * It dies by itself at its next peek (reserve),
			 * holding that slot.
			 */
			atomic_store(prod ? &b->pdie_lane : &b->die_lane,
				     lane + 1);
			status = t_wait(*slot, 10000);
			if (status == -1)
				fprintf(stderr, "lane %u never got a slot\n",
					lane);
			assert_true(status != -1);
			atomic_store(prod ? &b->pdie_lane : &b->die_lane, 0);
			held++;
		} else {
			kill(*slot, SIGKILL);
			status = t_wait(*slot, 10000);
		}
		if (!WIFSIGNALED(status))
			fprintf(stderr, "round %d: %s %u status 0x%x\n", k,
				prod ? "producer" : "consumer", lane, status);
		assert_true(WIFSIGNALED(status));
		*(prod ? &kp : &kc) += 1;
		*slot = spawn(b, name, prod, lane, 0, 0);
		/* Watchdog: the others keep the ring moving. */
		if (k % 10 == 9) {
			uint64_t now = atomic_load(&b->delivered);

			for (int w = 0; w < 5000 && now == last; w++) {
				usleep(1000);
				now = atomic_load(&b->delivered);
			}
			if (now == last)
				stalls++;
			last = now;
		}
	}
	atomic_store(&b->stop, 1);
	for (uint32_t i = 0; i < K_MAXP; i++)
		assert_true(t_exited_ok(t_wait(pp[i], 10000)));
	atomic_store(&b->cstop, 1);
	for (uint32_t i = 0; i < K_MAXC; i++)
		assert_true(t_exited_ok(t_wait(cp[i], 10000)));
	assert_int_equal(nshm_ring_stats(o, &st), 0);
	kbook_count(b, st.pushed, &missing, &beyond);
	gaps = kbook_gaps(b, K_MAXP);
	printf("# %s kill/%s: %d rounds in %.2f s, kills %llu producers + "
	       "%llu consumers, delivered %llu of %llu indices, undelivered "
	       "%llu, skipped %llu (%llu died holding one), lane gaps %llu, "
	       "attaches %u + %u\n",
	       K_TAG,
	       who == PRODUCERS ? "producers"
	       : who == MIXED	? "mixed"
				: "consumers-holding",
	       rounds, (t_now_ns() - t0) / 1e9, (unsigned long long)kp,
	       (unsigned long long)kc,
	       (unsigned long long)(st.pushed - missing),
	       (unsigned long long)st.pushed, (unsigned long long)missing,
	       (unsigned long long)st.skipped, (unsigned long long)held,
	       (unsigned long long)gaps,
	       st.producer_attaches, st.consumer_attaches);
	kbook_assert_clean(b);
	assert_int_equal(stalls, 0);
	assert_int_equal(beyond, 0);
	assert_true(st.pushed == st.popped);
	/* A process killed before its attach finished took no entry. */
	assert_true(st.producer_attaches <= K_MAXP + kp);
	assert_true(st.consumer_attaches <= K_MAXC + kc);
	assert_true(st.producer_attaches >= K_MAXP);
	assert_true(st.consumer_attaches >= K_MAXC);
	/*
	 * Each killed producer loses at most the one number it had taken;
	 * a consumer killed amid kbook_record() may have set the index bit
	 * but not the lane bit.
	 */
	assert_true(gaps <= kp + (who == MIXED ? kc : 0) +
				    (who == CONSUMERS_HOLDING ? missing : 0));
	switch (who) {
	case PRODUCERS:
	case CONSUMERS_HOLDING:
		/* Exact: every undelivered index is one the ring gave up. */
		assert_true(missing == st.skipped);
		/* At least the claims held at death (MPMC: a tomb each). */
		if (K_KIND == NSHM_RING_MPMC)
			assert_true(st.skipped >= held);
		if (who == CONSUMERS_HOLDING)
			assert_true(st.skipped ==
				    (K_KIND == NSHM_RING_MPMC ? kc : 0));
		else
			assert_true(st.skipped <= kp);
		break;
	case MIXED:
		assert_true(st.skipped <= missing);
		assert_true(missing <= st.skipped + kc);
		assert_true(st.skipped <= kp + kc);
		break;
	}
	if (K_KIND == NSHM_RING_SPSC)
		assert_int_equal(st.skipped, 0);
	assert_true(st.pushed > missing);
	assert_int_equal(nshm_ring_close(o), 0);
	kbook_free(b);
}

static int kill_rounds(int plain)
{
	double n = plain * t_scale();

	return n < 10 ? 10 : (int)n;
}

static void test_kill_producers(void **state)
{
	(void)state;
	run_kills(PRODUCERS, kill_rounds(60));
}

static void test_kill_consumers_holding(void **state)
{
	(void)state;
	run_kills(CONSUMERS_HOLDING, kill_rounds(40));
}

static void test_kill_mixed(void **state)
{
	(void)state;
	run_kills(MIXED, kill_rounds(80));
}

/* ---- fuzz: scribbled shared memory ---------------------------------------- */

/* Child: scribble the header, role table and seq words for @ms ms. */
static int scribbler(const char *name, uint64_t ms, uint64_t seed)
{
	struct nshm_seg *seg;
	unsigned char *area;
	void *a;
	uint64_t end = t_now_ns() + ms * 1000000u, slots_off, stride, seq_off;
	uint32_t cap, roles;

	k_rnd_state = seed;
	if (nshm_seg_open(name, 0, 0, 0, &seg) != 0 ||
	    nshm_seg_attach(seg, 0, &a) != 0)
		return 1;
	area = a;
	{
		struct nshm_ring_shared *sh = a;

		/* Read before anything is scribbled. */
		slots_off = sh->config.slots_off;
		stride = sh->config.slot_stride;
		seq_off = sh->config.seq_off;
		cap = sh->config.capacity;
		roles = sh->config.max_producers + sh->config.max_consumers;
	}
	while (t_now_ns() < end) {
		uint64_t r = k_rnd();
		struct nshm_ring_shared *sh = a;
		_Atomic(uint64_t) *w;
		uint64_t base;

		switch (r % 8) {
		case 0: /* any 64-bit word of the header */
			w = (_Atomic(uint64_t) *)(void *)(area +
							  ((r >> 8) % 64) * 8);
			atomic_store_explicit(w, k_rnd(), memory_order_relaxed);
			break;
		case 1: /* an index: near the other one, or anything */
			w = r & 256 ? &sh->prod.index : &sh->cons.index;
			base = atomic_load(r & 256 ? &sh->cons.index
						   : &sh->prod.index);
			atomic_store_explicit(w,
					      r & 512 ? k_rnd()
						      : base + (r >> 16) % 80 -
								16,
					      memory_order_relaxed);
			break;
		case 2: /* a role-table word */
			w = (_Atomic(uint64_t) *)(void *)(area + 512 +
							  ((r >> 8) %
							   (roles * 8)) *
								  8);
			atomic_store_explicit(w,
					      r & 256 ? k_rnd()
						      : (r >> 16) % 200,
					      memory_order_relaxed);
			break;
		case 3:
		case 4: { /* a slot's seq word: plausible or random */
			uint64_t head = atomic_load(&sh->cons.index);
			uint64_t v;

			w = (_Atomic(uint64_t) *)(void *)(area + slots_off +
							  ((r >> 8) % cap) *
								  stride +
							  seq_off);
			switch ((r >> 40) % 4) {
			case 0:
				v = head + (r >> 16) % 200 - 64;
				break;
			case 1:
				v = (head + (r >> 16) % 80) ^ NSHM_RING_TOMB;
				break;
			case 2:
				v = NSHM_RING_SEQ(head + (r >> 16) % 80);
				break;
			default:
				v = k_rnd();
				break;
			}
			atomic_store_explicit(w, v, memory_order_relaxed);
			break;
		}
		default:
			usleep(50);
			break;
		}
	}
	return 0;
}

static bool k_err_ok(int rc)
{
	return rc >= 0 || rc == -ETIMEDOUT || rc == -NSHM_ECORRUPT ||
	       rc == -NSHM_EPEERDEAD || rc == -EPIPE;
}

static void k_span_ok(struct nshm_ring *r, const struct nshm_ring_span *sp,
		      uint32_t n, uint32_t want)
{
	unsigned char *lo = r->slots;
	unsigned char *hi = lo + (size_t)nshm_ring_capacity(r) * r->stride;

	assert_true(n <= want);
	if (n == 0)
		return;
	assert_true(sp->n1 + sp->n2 == n);
	assert_true(sp->stride == r->stride);
	assert_true(sp->run1 >= lo);
	assert_true(sp->run1 + (size_t)sp->n1 * sp->stride <= hi);
	assert_true(sp->run2 == lo);
	assert_true((size_t)sp->n2 * sp->stride <= (size_t)(hi - lo));
}

static void k_slot_ok(struct nshm_ring *r, const void *s)
{
	const unsigned char *p = s;

	assert_true(p >= r->slots);
	assert_true(p < r->slots + (size_t)nshm_ring_capacity(r) * r->stride);
	assert_true((size_t)(p - r->slots) % r->stride == 0);
}

static void test_fuzz_scribble(void **state)
{
	const char *name = t_name(K_TAG "-fuzz");
	struct nshm_wait_strategy ws = { .spins = 16, .yields = 0,
					 .park_slice_ms = 1 };
	struct nshm_ring *h[K_MAXP + K_MAXC];
	uint32_t nh = K_MAXP + K_MAXC;
	uint64_t ms = (uint64_t)(1500 * t_scale()), end, ops = 0;
	uint64_t corrupt = 0, check_bad = 0;
	struct kmsg buf[40];
	struct timespec dl;
	int status;
	pid_t pid;

	(void)state;
	assert_int_equal(k_create(name, 32, NSHM_RING_PRODUCER, 0, &h[0]), 0);
	for (uint32_t i = 1; i < nh; i++)
		assert_int_equal(k_attach(name,
					  i < K_MAXP ? NSHM_RING_PRODUCER
						     : NSHM_RING_CONSUMER,
					  &h[i]),
				 0);
	for (uint32_t i = 0; i < nh; i++)
		assert_int_equal(nshm_ring_set_wait(h[i], &ws), 0);
	for (uint32_t i = 0; i < 40; i++)
		kmsg_fill(&buf[i], i, K_NOPOS);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(scribbler(name, ms, 0x1234567ull));

	end = t_now_ns() + ms * 1000000u;
	while (t_now_ns() < end) {
		uint64_t r = k_rnd();
		struct nshm_ring *p = h[(r >> 8) % K_MAXP];
		struct nshm_ring *c = h[K_MAXP + (r >> 12) % K_MAXC];
		struct nshm_ring_span sp;
		struct nshm_ring_stats st;
		uint32_t n, want = 1 + (uint32_t)(r >> 20) % 40;
		void *s;
		int rc = 0;

		ops++;
		switch (r % 12) {
		case 0:
			n = k_push_n(p, buf, want);
			assert_true(n <= want);
			break;
		case 1:
			n = k_reserve_n(p, want, &sp);
			k_span_ok(p, &sp, n, want);
			for (uint32_t i = 0; i < n; i++)
				memcpy(nshm_ring_span_at(&sp, i), &buf[i], 64);
			if (n != 0)
				k_commit_n(p, n);
			break;
		case 2:
			s = k_reserve(p);
			if (s != NULL) {
				k_slot_ok(p, s);
				memcpy(s, buf, 64);
				k_commit(p);
			}
			break;
		case 3:
			n = k_pop_n(c, buf, want);
			assert_true(n <= want);
			break;
		case 4:
			n = k_peek_n(c, want, &sp);
			k_span_ok(c, &sp, n, want);
			for (uint32_t i = 0; i < n; i++)
				(void)*(volatile unsigned char *)
					nshm_ring_span_at(&sp, i);
			if (n != 0)
				k_release_n(c, n);
			break;
		case 5:
			s = k_peek(c);
			if (s != NULL) {
				k_slot_ok(c, s);
				memcpy(&buf[39], s, 64);
				k_release(c);
			}
			break;
		case 6:
			rc = k_pop_wait(c, &buf[39], t_in_ms(&dl, 2));
			break;
		case 7:
			rc = k_push_wait(p, buf, t_in_ms(&dl, 2));
			break;
		case 8:
			rc = nshm_ring_check(r & 256 ? p : c);
			if (rc == -NSHM_ECORRUPT)
				check_bad++;
			else
				assert_int_equal(rc, 0);
			rc = 0;
			break;
		case 9:
			rc = k_recover(r & 256 ? p : c);
			break;
		case 10:
			(void)k_push(p, buf);
			(void)k_pop(c, &buf[39]);
			break;
		default:
			assert_int_equal(nshm_ring_stats(c, &st), 0);
			assert_true(st.count <= 32);
			break;
		}
		if (!k_err_ok(rc))
			fprintf(stderr, "unexpected %d: %s\n", rc,
				nshm_errdetail());
		assert_true(k_err_ok(rc));
		for (uint32_t i = 0; i < nh; i++) {
			int e = nshm_ring_error(h[i]);

			if (e != 0) {
				assert_int_equal(e, -NSHM_ECORRUPT);
				corrupt++;
				nshm_ring_clear_error(h[i]);
			}
		}
	}
	status = t_wait(pid, 5000);
	assert_true(t_exited_ok(status));
	printf("# %s fuzz %llu ms: %llu ops, corruption seen by the fast "
	       "path %llu times, by nshm_ring_check %llu\n",
	       K_TAG, (unsigned long long)ms, (unsigned long long)ops,
	       (unsigned long long)corrupt, (unsigned long long)check_bad);
	assert_true(corrupt > 0);
	assert_true(check_bad > 0);
	/* Handles close whatever the header holds. */
	for (uint32_t i = 0; i < nh; i++)
		assert_int_equal(nshm_ring_close(h[i]), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stress_spin),
		cmocka_unit_test(test_stress_blocking),
		cmocka_unit_test(test_kill_producers),
		cmocka_unit_test(test_kill_consumers_holding),
		cmocka_unit_test(test_kill_mixed),
		cmocka_unit_test(test_fuzz_scribble),
	};

	setvbuf(stdout, NULL, _IONBF, 0);
	return cmocka_run_group_tests_name("ring/kind/" K_TAG, tests, NULL,
					   NULL);
}
