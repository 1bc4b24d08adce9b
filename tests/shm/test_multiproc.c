/* SPDX-License-Identifier: MIT */
/*
 * Segments across real processes: create/open races (T4), creators killed
 * while creating, data visible across processes, delete while another
 * process is attached, read-only mappings in another process.
 */
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <nshm/shm.h>
#include "shm/seg_test.h"
#include "test_util.h"


/* Shared between the parent and its children (anonymous, not a segment). */
struct race_ctl {
	_Atomic(uint32_t) go;
	_Atomic(uint32_t) errors;
	_Atomic(uint32_t) created;
	_Atomic(int32_t) first_error;
};

enum { RACE_SIZE = 65536 };

static void race_child(struct race_ctl *ctl, const char *name, uint32_t round)
{
	_Atomic(uint32_t) *words;
	struct nshm_seg *seg;
	struct nshm_seg_info info;
	int rc;

	/* Start together: the more overlap, the better the test. */
	while (atomic_load_explicit(&ctl->go, memory_order_acquire) != round)
		sched_yield(); /* 8 children on 2 cores: let the others run */
	rc = nshm_seg_open(name, RACE_SIZE, NSHM_CREATE, 0600, &seg);
	if (rc == 0)
		rc = nshm_seg_stat(seg, &info);
	if (rc == 0 && info.size != RACE_SIZE)
		rc = -1000; /* a half-made header would show here */
	if (rc == 0 && info.created)
		atomic_fetch_add_explicit(&ctl->created, 1,
					  memory_order_relaxed);
	if (rc == 0)
		rc = nshm_seg_attach(seg, 0, (void **)&words);
	if (rc == 0) {
		/* Everyone counts in the same memory; the last word too. */
		atomic_fetch_add_explicit(&words[0], 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&words[RACE_SIZE / 4 - 1], 1,
					  memory_order_relaxed);
		rc = nshm_seg_detach(seg, (void *)words);
	}
	if (rc == 0)
		rc = nshm_seg_close(seg);
	if (rc != 0) {
		atomic_fetch_add_explicit(&ctl->errors, 1,
					  memory_order_relaxed);
		atomic_store_explicit(&ctl->first_error, rc,
				      memory_order_relaxed);
	}
	_exit(rc == 0 ? 0 : 1);
}

/* T4: K processes open-or-create one name, R rounds. */
static void create_open_race(const char *backend, bool fallback)
{
	const int K = 8;
	const int R = (int)(30 * t_scale());
	struct race_ctl *ctl;
	int signalled = 0, hung = 0;

	ctl = mmap(NULL, sizeof(*ctl), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(ctl != MAP_FAILED);
	const char *name = t_name_in(backend, "race");

	for (int r = 1; r <= R; r++) {
		_Atomic(uint32_t) *words;
		struct nshm_seg *seg;
		pid_t pids[8];

		atomic_store(&ctl->created, 0);
		for (int k = 0; k < K; k++) {
			pids[k] = fork();
			assert_true(pids[k] >= 0);
			if (pids[k] == 0)
				race_child(ctl, name, (uint32_t)r);
		}
		atomic_store_explicit(&ctl->go, (uint32_t)r,
				      memory_order_release);
		for (int k = 0; k < K; k++) {
			int st = t_wait(pids[k], 10000);

			if (st == -1)
				hung++;
			else if (WIFSIGNALED(st))
				signalled++; /* SIGBUS, SIGSEGV */
		}
		/* Exactly one creator; everyone used the same memory. */
		assert_int_equal(atomic_load(&ctl->created), 1);
		assert_int_equal(nshm_seg_open(name, 0, 0, 0, &seg), 0);
		assert_int_equal(nshm_seg_attach(seg, 0, (void **)&words), 0);
		assert_int_equal(atomic_load(&words[0]),
				 (uint32_t)K - atomic_load(&ctl->errors));
		assert_int_equal(atomic_load(&words[RACE_SIZE / 4 - 1]),
				 atomic_load(&words[0]));
		assert_int_equal(nshm_seg_detach(seg, (void *)words), 0);
		assert_int_equal(nshm_seg_close(seg), 0);
		assert_int_equal(nshm_seg_delete(name), 0);
		if (atomic_load(&ctl->errors) != 0)
			fail_msg("round %d: %u errors, first %d (%s)", r,
				 atomic_load(&ctl->errors),
				 atomic_load(&ctl->first_error),
				 nshm_strerror(atomic_load(&ctl->first_error)));
	}
	printf("# T4 %s%s: rounds=%d procs=%d half_init=0 sigbus=%d hung=%d errors=%u\n",
	       backend, fallback ? " (O_EXCL fallback)" : "",
	       R, K, signalled, hung, atomic_load(&ctl->errors));
	assert_int_equal(signalled, 0);
	assert_int_equal(hung, 0);
	munmap(ctl, sizeof(*ctl));
}

/*
 * A creator SIGKILLed at a random moment leaves either nothing or a
 * complete segment; never a half-made one that blocks the name. Only the
 * SysV backend and the O_EXCL fallback of the file backends can leave
 * debris: openers report it, and it never stops a new creation (SysV) or
 * nshm_seg_delete() (fallback).
 */
static void creator_killed(const char *backend, bool fallback)
{
	const int N = (int)(40 * t_scale());
	int nothing = 0, complete = 0, debris = 0;
	unsigned seed = (unsigned)getpid();

	const char *name = t_name_in(backend, "kill");

	for (int i = 0; i < N; i++) {
		struct nshm_seg *seg;
		pid_t pid;
		int rc;

		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			nshm_seg_open(name, 4 << 20, NSHM_CREATE | NSHM_EXCL,
				      0, &seg);
			pause();
			_exit(0);
		}
		usleep(rand_r(&seed) % 3000);
		kill(pid, SIGKILL);
		t_wait(pid, 5000);

		rc = nshm_seg_open(name, 0, 0, 0, &seg);
		if (rc == 0) {
			complete++;
			assert_int_equal(nshm_seg_size(seg), 4 << 20);
			assert_int_equal(nshm_seg_close(seg), 0);
		} else if (rc == -ENOENT) {
			nothing++;
		} else if (fallback) {
			/* Empty (killed before our magic) or still INIT. */
			if (rc != -EBADMSG && rc != -ETIMEDOUT)
				fail_msg("fallback debris: %d", rc);
			assert_int_equal(nshm_seg_delete(name), 0);
			debris++;
		} else {
			assert_string_equal(backend, "sysv");
			assert_int_equal(rc, -ETIMEDOUT);
			debris++;
		}
		/* Whatever was left, the name can be created again. */
		assert_int_equal(nshm_seg_open(name, 4096, NSHM_CREATE, 0, &seg),
				 0);
		assert_int_equal(nshm_seg_close(seg), 0);
		assert_int_equal(nshm_seg_delete(name), 0);
	}
	printf("# creator-killed %s%s: trials=%d nothing=%d complete=%d debris_reported=%d half_made_seen_as_good=0\n",
	       backend, fallback ? " (O_EXCL fallback)" : "", N, nothing,
	       complete, debris);
}

static void test_create_open_race(void **state)
{
	create_open_race(BACKEND(state), false);
}

static void test_creator_killed(void **state)
{
	creator_killed(BACKEND(state), false);
}

/* The same two on the O_EXCL fallback (no O_TMPFILE or no /proc). */
static void test_fallback_race_and_kill(void **state)
{
	(void)state;
	/* Children inherit the knob through fork(). */
	nshm__seg_test_set(NSHM__SEG_KNOB_NO_TMPFILE, 1);
	create_open_race("posix", true);
	creator_killed("posix", true);
	nshm__seg_test_set(NSHM__SEG_KNOB_NO_TMPFILE, 0);
}

/*
 * Issue 9, item 4: a SysV opener that reads INIT, then finds the creator
 * gone, must not take a creator that published and exited in between for
 * one that died mid-init. Forced: the creator parks just before it
 * publishes; the opener, at the moment it has read INIT, releases it and
 * reaps it, so the opener's liveness check runs after publish + exit.
 */
static int pub_go[2] = { -1, -1 }, pub_parked[2] = { -1, -1 };
static pid_t pub_creator;
static bool pub_released;

static void pub_creator_hook(enum nshm__seg_point point, const char *name)
{
	char c = 0;

	(void)name;
	if (point != NSHM__SEG_AT_PUBLISH)
		return;
	if (write(pub_parked[1], &c, 1) != 1 || read(pub_go[0], &c, 1) != 1)
		_exit(3);
}

static void pub_opener_hook(enum nshm__seg_point point, const char *name)
{
	char c = 0;

	(void)name;
	if (point != NSHM__SEG_AT_SYSV_INIT_SEEN || pub_released)
		return;
	pub_released = true;
	/* The creator publishes, writes its mark, detaches and exits. */
	if (write(pub_go[1], &c, 1) != 1)
		return;
	assert_true(t_exited_ok(t_wait(pub_creator, 5000)));
}

static void sysv_publish_then_exit(unsigned int open_flags)
{
	const char *name = t_name_in("sysv", "pubexit");
	struct nshm_seg_info info;
	struct nshm_seg *seg;
	uint32_t *w;
	char c;
	int rc;

	assert_int_equal(pipe(pub_go), 0);
	assert_int_equal(pipe(pub_parked), 0);
	pub_released = false;
	pub_creator = fork();
	assert_true(pub_creator >= 0);
	if (pub_creator == 0) {
		nshm__seg_test_hook(pub_creator_hook);
		if (nshm_seg_open(name, 4096, NSHM_CREATE | NSHM_EXCL, 0,
				  &seg) != 0)
			_exit(1);
		nshm__seg_test_hook(NULL);
		if (nshm_seg_attach(seg, 0, (void **)&w) != 0)
			_exit(2);
		w[0] = 0xc0ffee; /* what a deleted segment would lose */
		_exit(0); /* exit detaches: nobody is attached any more */
	}
	/* The creator has a complete header, state INIT, and waits. */
	assert_int_equal(read(pub_parked[0], &c, 1), 1);
	nshm__seg_test_hook(pub_opener_hook);
	/* A size: with CREATE and size 0, open only probes (no CREATE). */
	rc = nshm_seg_open(name, 4096, open_flags, 0, &seg);
	nshm__seg_test_hook(NULL);
	assert_true(pub_released); /* the interleaving did happen */
	if (rc != 0)
		fail_msg("open after publish+exit: %d (%s): %s", rc,
			 nshm_strerror(rc), nshm_errdetail());
	assert_int_equal(nshm_seg_stat(seg, &info), 0);
	assert_false(info.created); /* not deleted and made anew */
	assert_int_equal(info.creator_pid, pub_creator);
	assert_int_equal(nshm_seg_attach(seg, 0, (void **)&w), 0);
	assert_int_equal(w[0], 0xc0ffee);
	assert_int_equal(nshm_seg_detach(seg, w), 0);
	assert_int_equal(nshm_seg_close(seg), 0);
	assert_int_equal(nshm_seg_delete(name), 0);
	for (int i = 0; i < 2; i++) {
		close(pub_go[i]);
		close(pub_parked[i]);
	}
}

static void test_sysv_published_not_dead(void **state)
{
	(void)state;
	sysv_publish_then_exit(0);	     /* was: -ETIMEDOUT, "died" */
	sysv_publish_then_exit(NSHM_CREATE); /* was: deleted, made anew */
}

/* Data written by one process is read by another that opened by name. */
static void test_cross_process_data(void **state)
{
	const char *name = t_name_in(BACKEND(state), "data");
	struct nshm_seg *seg;
	uint32_t *w;
	pid_t pid;

	assert_int_equal(nshm_seg_open(name, 1 << 20, NSHM_CREATE, 0, &seg), 0);
	assert_int_equal(nshm_seg_attach(seg, 0, (void **)&w), 0);
	for (uint32_t i = 0; i < (1 << 18); i++)
		w[i] = i * 2654435761u;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct nshm_seg *s2;
		uint32_t *r;
		int ok = 1;

		/* A fresh open by name, as an unrelated process would. */
		if (nshm_seg_open(name, 0, 0, 0, &s2) != 0 ||
		    nshm_seg_attach(s2, 0, (void **)&r) != 0)
			_exit(2);
		for (uint32_t i = 0; i < (1 << 18); i++)
			ok &= r[i] == i * 2654435761u;
		for (uint32_t i = 0; i < (1 << 18); i++)
			r[i] = ~r[i];
		_exit(ok ? 0 : 1);
	}
	assert_true(t_exited_ok(t_wait(pid, 10000)));
	for (uint32_t i = 0; i < (1 << 18); i++)
		if (w[i] != ~(i * 2654435761u))
			fail_msg("word %u not written by the child", i);
	assert_int_equal(nshm_seg_detach(seg, w), 0);
	assert_int_equal(nshm_seg_close(seg), 0);
	assert_int_equal(nshm_seg_delete(name), 0);
}

/* Delete while another process is attached: it keeps working. */
static void test_delete_while_other_attached(void **state)
{
	const char *name = t_name_in(BACKEND(state), "delx");
	_Atomic(uint32_t) *w;
	struct nshm_seg *seg;
	pid_t pid;

	assert_int_equal(nshm_seg_open(name, 4096, NSHM_CREATE, 0, &seg), 0);
	assert_int_equal(nshm_seg_attach(seg, 0, (void **)&w), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct nshm_seg *s2;
		_Atomic(uint32_t) *r;

		if (nshm_seg_open(name, 0, 0, 0, &s2) != 0 ||
		    nshm_seg_attach(s2, 0, (void **)&r) != 0)
			_exit(2);
		atomic_store(&r[1], 1); /* attached */
		while (atomic_load(&r[0]) != 1) /* wait for the delete */
			usleep(100);
		atomic_store(&r[2], 0xfeed); /* still works */
		_exit(0);
	}
	while (atomic_load(&w[1]) != 1)
		usleep(100);
	assert_int_equal(nshm_seg_delete(name), 0);
	assert_int_equal(nshm_seg_open(name, 0, 0, 0,
				       &(struct nshm_seg *){ NULL }),
			 -ENOENT);
	atomic_store(&w[0], 1);
	assert_true(t_exited_ok(t_wait(pid, 10000)));
	assert_int_equal(atomic_load(&w[2]), 0xfeed);
	assert_int_equal(nshm_seg_detach(seg, (void *)w), 0);
	assert_int_equal(nshm_seg_close(seg), 0);
}

/* A read-only attach in another process faults on write. */
static void test_readonly_other_process(void **state)
{
	const char *name = t_name_in(BACKEND(state), "rox");
	struct nshm_seg *seg;
	unsigned char *w;
	int status;
	pid_t pid;

	assert_int_equal(nshm_seg_open(name, 4096, NSHM_CREATE, 0644, &seg),
			 0);
	assert_int_equal(nshm_seg_attach(seg, 0, (void **)&w), 0);
	w[0] = 5;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct nshm_seg *s2;
		volatile unsigned char *r;

		signal(SIGSEGV, SIG_DFL);
		if (nshm_seg_open(name, 0, 0, 0, &s2) != 0 ||
		    nshm_seg_attach(s2, NSHM_READONLY, (void **)&r) != 0)
			_exit(2);
		if (r[0] != 5)
			_exit(3);
		r[0] = 6; /* faults */
		_exit(0);
	}
	status = t_wait(pid, 5000);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGSEGV);
	assert_int_equal(w[0], 5);
	assert_int_equal(nshm_seg_detach(seg, w), 0);
	assert_int_equal(nshm_seg_close(seg), 0);
	assert_int_equal(nshm_seg_delete(name), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		PER_BACKEND(test_create_open_race),
		PER_BACKEND(test_creator_killed),
		cmocka_unit_test(test_fallback_race_and_kill),
		cmocka_unit_test(test_sysv_published_not_dead),
		PER_BACKEND(test_cross_process_data),
		PER_BACKEND(test_delete_while_other_attached),
		PER_BACKEND(test_readonly_other_process),
	};

	nshm__seg_test_set(NSHM__SEG_KNOB_INIT_TIMEOUT_MS, 2000);
	return cmocka_run_group_tests_name("shm/multiproc", tests, NULL, NULL);
}
