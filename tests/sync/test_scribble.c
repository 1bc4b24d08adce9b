/* SPDX-License-Identifier: MIT */
/*
 * Issue 9, "the control plane holds no pointers": a process scribbles
 * random bytes over the whole header page (segment header and control
 * block: journal, participant table, and, where the old code kept them,
 * the control mutex and the liveness mutexes) and over a user nshm_mutex,
 * while other processes open, attach, lock, unlock, detach and close, many
 * rounds. Required: 0 crashes, 0 wedges (every call returns within its
 * deadline plus slack), every anomaly a negative error code.
 *
 * The scribbler restores the segment header (bytes [0, 1024)) and the
 * control block's magic/version now and then, so that opens and attaches
 * keep getting through and the paths behind them are exercised too (a
 * permanently broken checksum would only test the first check).
 *
 * On the code before issue 9 this crashes (SIGSEGV in
 * pthread_mutex_unlock through a scribbled robust-list pointer) or wedges
 * ("control mutex busy" for 5 s per call, then the watchdog).
 */
#include <signal.h>
#include <sys/wait.h>

#include <nshm/shm.h>
#include <nshm/sync.h>

#include "sync/ctl.h"
#include "test_util.h"
#include "sync_test.h"

static inline void nshm_cpu_relax_test(void)
{
	__asm__ __volatile__("" ::: "memory");
}

#define WORKERS 3
#define RUN_MS 2500
#define LOCK_DL_NS (100ull * 1000000u)
#define LOCK_SLACK_NS (400ull * 1000000u)
/*
 * Control calls: nobody holds the control lock for long, and open waits at
 * most 1 s for a scribbled state word. (The old code's wedged control
 * mutex made every attach wait its full 5 s.)
 */
#define CTL_BOUND_NS (2ull * 1000000000u)

struct shared {
	struct nshm_mutex m;
	alignas(64) _Atomic(uint32_t) stop;
	_Atomic(uint32_t) bad_rc;     /* a positive or unknown return */
	_Atomic(uint32_t) too_slow;   /* a call past its bound */
	_Atomic(uint64_t) worst_ns;   /* slowest control call */
	_Atomic(uint64_t) worst_lock_ns;
	_Atomic(uint32_t) opens, attaches, locks, owner_dead, errors;
	_Atomic(uint32_t) writes;
	_Atomic(int32_t) last_bad;
};

static bool rc_ok(int rc)
{
	return rc <= 0 && rc > -(int)NSHM_ELAST;
}

static void note(struct shared *sh, int rc, uint64_t ns, uint64_t bound,
		 bool lock)
{
	uint64_t w;

	if (!rc_ok(rc)) {
		atomic_fetch_add(&sh->bad_rc, 1);
		atomic_store(&sh->last_bad, rc);
	}
	if (rc < 0)
		atomic_fetch_add(&sh->errors, 1);
	if (ns > bound)
		atomic_fetch_add(&sh->too_slow, 1);
	w = atomic_load(lock ? &sh->worst_lock_ns : &sh->worst_ns);
	while (ns > w && !atomic_compare_exchange_weak(
				 lock ? &sh->worst_lock_ns : &sh->worst_ns, &w,
				 ns))
		;
}

#define TIMED(sh, bound, lock, call)                                   \
	({                                                              \
		uint64_t t0_ = st_now_ns();                             \
		int rc_ = (call);                                       \
		note((sh), rc_, st_now_ns() - t0_, (bound), (lock));    \
		rc_;                                                    \
	})

/* nshm_peer_reap() returns a count: only its errors matter here. */
static int reap0(void *a)
{
	int rc = nshm_peer_reap(a);

	return rc > 0 ? 0 : rc;
}

static void worker(const char *name, struct shared *sh, unsigned int seed)
{
	while (!atomic_load(&sh->stop)) {
		struct nshm_seg *seg = NULL;
		struct shared *a = NULL;
		struct timespec dl;
		nshm_peer_t id;
		int rc;

		rc = TIMED(sh, CTL_BOUND_NS, false,
			   nshm_seg_open(name, 0, 0, 0, &seg));
		if (rc != 0)
			continue;
		atomic_fetch_add(&sh->opens, 1);
		rc = TIMED(sh, CTL_BOUND_NS, false,
			   nshm_seg_attach(seg, 0, (void **)&a));
		if (rc == 0) {
			atomic_fetch_add(&sh->attaches, 1);
			for (int k = 0; k < 4; k++) {
				rc = TIMED(sh, LOCK_DL_NS + LOCK_SLACK_NS, true,
					   nshm_mutex_lock(
						   &a->m, nshm_deadline_in(
								  &dl,
								  LOCK_DL_NS)));
				if (rc == 0 || rc == -EOWNERDEAD) {
					atomic_fetch_add(&sh->locks, 1);
					if (rc == -EOWNERDEAD) {
						atomic_fetch_add(
							&sh->owner_dead, 1);
						note(sh, nshm_mutex_consistent(
								 &a->m),
						     0, 1, true);
					}
					if (rand_r(&seed) % 64 == 0)
						_exit(0); /* die holding it */
					note(sh, nshm_mutex_unlock(&a->m), 0, 1,
					     true);
				} else if (rc == -ENOTRECOVERABLE) {
					/* A scribbled state: re-initialise. */
					nshm_mutex_init(&a->m);
				}
			}
			if (nshm_peer_self(a, &id) == 0) {
				rc = nshm_peer_alive(a, id);
				note(sh, rc > 0 ? 0 : rc, 0, 1, false);
			}
			note(sh, nshm_peer_list(a, NULL, 0) >= 0 ? 0 : -1, 0, 1,
			     false);
			TIMED(sh, CTL_BOUND_NS, false, reap0(a));
			rc = TIMED(sh, CTL_BOUND_NS, false,
				   nshm_seg_detach(seg, a));
		}
		TIMED(sh, CTL_BOUND_NS, false, nshm_seg_close(seg));
	}
	_exit(0);
}

/*
 * 10 ms cycles: restore the segment header and the control block's first
 * line, leave it alone for 4 ms (opens and attaches get through), then
 * scribble for 6 ms, one word every few microseconds, three quarters of
 * them into the control block.
 */
static void scribbler(struct shared *area_sh, unsigned char *page,
		      unsigned int seed)
{
	unsigned char saved_hdr[NSHM_SEG_CTL_OFFSET], saved_ctl[16];
	unsigned char *user = (unsigned char *)area_sh;

	memcpy(saved_hdr, page, sizeof(saved_hdr));
	memcpy(saved_ctl, page + NSHM_SEG_CTL_OFFSET, sizeof(saved_ctl));
	while (!atomic_load(&area_sh->stop)) {
		uint64_t t0 = st_now_ns();

		memcpy(page, saved_hdr, sizeof(saved_hdr));
		memcpy(page + NSHM_SEG_CTL_OFFSET, saved_ctl,
		       sizeof(saved_ctl));
		usleep(4000);
		while (st_now_ns() - t0 < 10000000u) {
			uint32_t r = (uint32_t)rand_r(&seed);
			uint32_t v = (uint32_t)rand_r(&seed);
			uint32_t off = (r % (NSHM_SEG_HDR_SIZE / 4)) * 4;
			_Atomic(uint32_t) *w;

			if ((r >> 20 & 3) != 0)
				off = NSHM_SEG_CTL_OFFSET +
				      off % NSHM_SEG_CTL_SIZE;
			switch (r >> 28) {
			case 0: v = 0; break;
			case 1: v = ~0u; break;
			case 2: v = NSHM_CTL_INITING; break;
			case 3: v &= 0xff; break;
			default: break;
			}
			if ((r >> 24 & 15) == 0) {
				/* The user lock's words, now and then. */
				w = (_Atomic(uint32_t) *)(void *)(user +
								  (v % 3) * 4);
				v = (uint32_t)rand_r(&seed);
				if (v & 1)
					v &= 0x07ffffffu; /* a plausible id */
			} else {
				w = (_Atomic(uint32_t) *)(void *)(page + off);
			}
			atomic_store_explicit(w, v, memory_order_relaxed);
			atomic_fetch_add_explicit(&area_sh->writes, 1,
						  memory_order_relaxed);
			for (int k = 0; k < 2000; k++)
				nshm_cpu_relax_test();
		}
	}
	_exit(0);
}

static void run(const char *backend)
{
	const char *name = t_name_in(backend, "scribble");
	struct nshm_seg *seg;
	struct shared *sh = st_segment(name, 4096, &seg);
	pid_t scr, w[WORKERS];
	unsigned int seed = (unsigned int)getpid();
	int crashes = 0, wedges = 0;

	unsigned char *page = (unsigned char *)nshm__seg_hdr(sh);
	unsigned char saved[NSHM_SEG_CTL_OFFSET + 16];
	uint64_t t_after;
	void *again = NULL;

	print_message("# %s: seed %u\n", backend, seed);
	assert_int_equal(nshm_mutex_init(&sh->m), 0);
	memcpy(saved, page, sizeof(saved));
	scr = fork();
	assert_true(scr >= 0);
	if (scr == 0)
		scribbler(sh, (unsigned char *)nshm__seg_hdr(sh), seed);
	for (int i = 0; i < WORKERS; i++) {
		w[i] = fork();
		assert_true(w[i] >= 0);
		if (w[i] == 0)
			worker(name, sh, seed + 1 + (unsigned int)i);
	}
	/* Workers that die holding the lock are replaced. */
	for (uint64_t t0 = st_now_ns(); st_now_ns() - t0 < RUN_MS * 1000000ull;) {
		for (int i = 0; i < WORKERS; i++) {
			int status;

			if (waitpid(w[i], &status, WNOHANG) != w[i])
				continue;
			if (WIFSIGNALED(status)) {
				crashes++;
				print_message("# worker killed by signal %d\n",
					      WTERMSIG(status));
			}
			w[i] = fork();
			assert_true(w[i] >= 0);
			if (w[i] == 0)
				worker(name, sh, seed + 100 +
						     (unsigned int)(t0 & 0xffff));
		}
		usleep(2000);
	}
	atomic_store(&sh->stop, 1);
	for (int i = 0; i < WORKERS; i++) {
		int status = t_wait(w[i], 10000);

		if (status == -1)
			wedges++;
		else if (WIFSIGNALED(status))
			crashes++;
	}
	if (t_wait(scr, 10000) == -1)
		wedges++;
	print_message("# %s: %u scribbles, %u opens, %u attaches, %u locks "
		      "(%u owner-dead), %u error returns, worst control call "
		      "%.1f ms, worst lock %.1f ms; %d crashes, %d wedges, "
		      "%u slow calls, %u bad codes (last %d)\n",
		      backend, atomic_load(&sh->writes),
		      atomic_load(&sh->opens), atomic_load(&sh->attaches),
		      atomic_load(&sh->locks), atomic_load(&sh->owner_dead),
		      atomic_load(&sh->errors), atomic_load(&sh->worst_ns) / 1e6,
		      atomic_load(&sh->worst_lock_ns) / 1e6, crashes, wedges,
		      atomic_load(&sh->too_slow), atomic_load(&sh->bad_rc),
		      atomic_load(&sh->last_bad));
	/*
	 * No permanent wedge: with the header and the control block's first
	 * line restored, the control plane works again at once (journal and
	 * table garbage is repaired or reaped, never followed).
	 */
	memcpy(page, saved, sizeof(saved));
	t_after = st_now_ns();
	assert_int_equal(nshm_seg_attach(seg, 0, &again), 0);
	assert_int_equal(nshm_seg_detach(seg, again), 0);
	t_after = st_now_ns() - t_after;
	print_message("# %s: attach+detach after the storm: %.1f ms\n",
		      backend, t_after / 1e6);
	assert_true(t_after < 1000000000u);
	assert_int_equal(crashes, 0);
	assert_int_equal(wedges, 0);
	assert_int_equal(atomic_load(&sh->too_slow), 0);
	assert_int_equal(atomic_load(&sh->bad_rc), 0);
	assert_true(atomic_load(&sh->attaches) > 0);
	assert_true(atomic_load(&sh->locks) > 0);
	/* Our own mapping may be unable to leave a scribbled table: fine. */
	nshm_seg_detach(seg, sh);
	nshm_seg_close(seg);
	nshm_seg_delete(name);
}

static void test_scribble_posix(void **state)
{
	(void)state;
	run("posix");
}

static void test_scribble_sysv(void **state)
{
	(void)state;
	run("sysv");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scribble_posix),
		cmocka_unit_test(test_scribble_sysv),
	};

	return cmocka_run_group_tests_name("sync/scribble", tests, NULL, NULL);
}
