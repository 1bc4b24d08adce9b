/* SPDX-License-Identifier: MIT */
/*
 * Regression tests for the ring's promises under close, death, fork and
 * scribbling (issue 9). Every race is forced: the ring's test hook stops
 * a waiter at the exact point where the old code went wrong, and another
 * process acts while it is stopped; nothing is left to a lucky schedule.
 *
 *   no_loss_at_close     a producer pushes and closes between the waiter's
 *                        re-check and its peer check: everything is read,
 *                        then -EPIPE (old code: -EPIPE with data unread)
 *   producer_space       the same for a producer whose consumer frees a
 *                        slot and closes
 *   closed_not_dead      a holder closes between the waiter reading its id
 *                        and checking it: -EPIPE, never -NSHM_EPEERDEAD
 *   fork_keeps_role      a child's close/exit of an inherited handle does
 *                        not free the parent's role; the child's calls fail
 *                        with -NSHM_EFORKED and touch nothing
 *   scribbled_head       head scribbled out of bounds: push_n_wait returns
 *                        (pushes what is known free, then -NSHM_ECORRUPT),
 *                        never spins past its deadline
 *   stuck_short_waits    a stuck slot is reported to a loop of 100 ms waits
 *   observers            read-only, take no participant slot: 40 of them do
 *                        not lock out the producer and consumer, and a
 *                        store through an observer's mapping faults
 *   proof_of_death       a holder whose liveness cannot be told (a corrupt
 *                        participant entry) keeps its role: attach fails
 *                        with that error instead of taking over
 *   published_whole      a creator killed with the ring built but not yet
 *                        published leaves no name that is not a ring: the
 *                        next create succeeds and the ring works
 */
#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>

#include "ring_test.h"
#include "ring/ring_internal.h"
#include "shm/seg_layout.h"
#include "shm/seg_test.h"
#include "sync/ctl.h"

static const struct nshm_ring_type msg_type = NSHM_RING_TYPE_INIT(struct msg, 1);

/* A fast strategy: straight to parking, short slices. */
static const struct nshm_wait_strategy park_now = { .park_slice_ms = 5 };

/* ---- a hook that hands control to another process once ------------------ */

static int hook_point;	  /* which point to stop at */
static int hook_fired;	  /* stops so far */
static int hook_go[2];	  /* we write: "act now" */
static int hook_done[2];  /* they write: "done" */

static void hook_fn(struct nshm_ring *r, int point)
{
	char b = 'g';

	(void)r;
	if (point != hook_point || hook_fired++ != 0)
		return;
	assert_int_equal(write(hook_go[1], &b, 1), 1);
	assert_int_equal(read(hook_done[0], &b, 1), 1);
}

static void hook_arm(int point)
{
	assert_int_equal(pipe(hook_go), 0);
	assert_int_equal(pipe(hook_done), 0);
	hook_point = point;
	hook_fired = 0;
	nshm__ring_test_hook = hook_fn;
}

static void hook_disarm(void)
{
	nshm__ring_test_hook = NULL;
	close(hook_go[0]);
	close(hook_go[1]);
	close(hook_done[0]);
	close(hook_done[1]);
}

/* In the other process: wait for "act now", act, say "done". */
static void hook_wait_go(void)
{
	char b;

	nshm__ring_test_hook = NULL;
	if (read(hook_go[0], &b, 1) != 1)
		_exit(20);
}

static void hook_say_done(void)
{
	char b = 'd';

	if (write(hook_done[1], &b, 1) != 1)
		_exit(21);
}

/* ---- 1. no message lost when the producer closes ------------------------ */

static void test_no_loss_at_close(void **state)
{
	const char *n = t_name("noloss");
	struct nshm_ring *c = NULL;
	struct timespec dl;
	struct msg m;
	uint64_t got = 0;
	pid_t pid;
	int rc;

	(void)state;
	assert_int_equal(nshm_ring_create(n, NSHM_RING_SPSC, &msg_type, 16,
					  NSHM_RING_CONSUMER, 0, 0, &c),
			 0);
	assert_int_equal(nshm_ring_set_wait(c, &park_now), 0);
	hook_arm(NSHM__RING_HOOK_WAIT_RECHECKED);
	pid = fork();
	if (pid == 0) {
		struct nshm_ring *p;

		if (nshm_ring_attach(n, NSHM_RING_SPSC, &msg_type,
				     NSHM_RING_PRODUCER, 0, &p) != 0)
			_exit(10);
		hook_wait_go();
		for (uint64_t i = 0; i < 5; i++) {
			msg_fill(&m, i);
			if (!nshm_ring_push(p, &m))
				_exit(11);
		}
		if (nshm_ring_close(p) != 0)
			_exit(12);
		hook_say_done();
		_exit(0);
	}
	while ((rc = nshm_ring_pop_wait(c, &m, t_in_ms(&dl, 5000))) == 0) {
		assert_int_equal(msg_check(&m, got), 0);
		got++;
	}
	assert_int_equal(hook_fired >= 1, 1);
	assert_int_equal(got, 5);
	assert_int_equal(rc, -EPIPE);
	assert_true(t_exited_ok(t_wait(pid, 5000)));
	hook_disarm();
	assert_int_equal(nshm_ring_close(c), 0);
	nshm_ring_delete(n);
}

/* The producer's side: its consumer frees one slot and closes. */
static void test_producer_space(void **state)
{
	const char *n = t_name("space");
	struct nshm_ring *p = NULL;
	struct timespec dl;
	struct msg m;
	pid_t pid;

	(void)state;
	assert_int_equal(nshm_ring_create(n, NSHM_RING_SPSC, &msg_type, 4,
					  NSHM_RING_PRODUCER, 0, 0, &p),
			 0);
	assert_int_equal(nshm_ring_set_wait(p, &park_now), 0);
	for (uint64_t i = 0; i < 4; i++) {
		msg_fill(&m, i);
		assert_true(nshm_ring_push(p, &m));
	}
	hook_arm(NSHM__RING_HOOK_WAIT_RECHECKED);
	pid = fork();
	if (pid == 0) {
		struct nshm_ring *c;

		if (nshm_ring_attach(n, NSHM_RING_SPSC, &msg_type,
				     NSHM_RING_CONSUMER, 0, &c) != 0)
			_exit(10);
		hook_wait_go();
		if (!nshm_ring_pop(c, &m) || msg_check(&m, 0) != 0)
			_exit(11);
		if (nshm_ring_close(c) != 0)
			_exit(12);
		hook_say_done();
		_exit(0);
	}
	msg_fill(&m, 4);
	assert_int_equal(nshm_ring_push_wait(p, &m, t_in_ms(&dl, 5000)), 0);
	assert_int_equal(hook_fired >= 1, 1);
	/* Now full again, and nobody will free a slot: closed, not dead. */
	msg_fill(&m, 5);
	assert_int_equal(nshm_ring_push_wait(p, &m, t_in_ms(&dl, 5000)),
			 -EPIPE);
	assert_true(t_exited_ok(t_wait(pid, 5000)));
	hook_disarm();
	assert_int_equal(nshm_ring_close(p), 0);
	nshm_ring_delete(n);
}

/* ---- 7. a clean close is never reported as a death ---------------------- */

static void test_closed_not_dead(void **state)
{
	const char *n = t_name("clean");
	struct nshm_ring *c = NULL;
	struct timespec dl;
	struct msg m;
	pid_t pid;

	(void)state;
	assert_int_equal(nshm_ring_create(n, NSHM_RING_SPSC, &msg_type, 16,
					  NSHM_RING_CONSUMER, 0, 0, &c),
			 0);
	assert_int_equal(nshm_ring_set_wait(c, &park_now), 0);
	hook_arm(NSHM__RING_HOOK_PEER_ID_READ);
	pid = fork();
	if (pid == 0) {
		struct nshm_ring *p;

		if (nshm_ring_attach(n, NSHM_RING_SPSC, &msg_type,
				     NSHM_RING_PRODUCER, 0, &p) != 0)
			_exit(10);
		hook_wait_go();
		/* Close while the waiter holds our id, and leave for good. */
		if (nshm_ring_close(p) != 0)
			_exit(12);
		hook_say_done();
		_exit(0);
	}
	assert_int_equal(nshm_ring_pop_wait(c, &m, t_in_ms(&dl, 5000)),
			 -EPIPE);
	assert_int_equal(hook_fired >= 1, 1);
	assert_true(t_exited_ok(t_wait(pid, 5000)));
	hook_disarm();

	/* And unforced, in tight rounds: never EPEERDEAD, nothing unread. */
	for (int round = 0; round < 30; round++) {
		uint64_t got = 0;
		int rc, up[2];
		char b;

		assert_int_equal(pipe(up), 0);
		pid = fork();
		if (pid == 0) {
			struct nshm_ring *p;

			if (nshm_ring_attach(n, NSHM_RING_SPSC, &msg_type,
					     NSHM_RING_PRODUCER, 0, &p) != 0)
				_exit(10);
			if (write(up[1], "u", 1) != 1)
				_exit(13);
			usleep(2000); /* let the consumer park */
			for (uint64_t i = 0; i < 3; i++) {
				msg_fill(&m, nshm_ring_position(p));
				if (!nshm_ring_push(p, &m))
					_exit(11);
			}
			_exit(nshm_ring_close(p) == 0 ? 0 : 12);
		}
		/* Wait until it holds the role (the last one left CLOSED). */
		assert_int_equal(read(up[0], &b, 1), 1);
		close(up[0]);
		close(up[1]);
		while ((rc = nshm_ring_pop_wait(c, &m, t_in_ms(&dl, 5000))) ==
		       0)
			got++;
		assert_int_equal(rc, -EPIPE);
		assert_int_equal(got, 3);
		assert_true(t_exited_ok(t_wait(pid, 5000)));
	}
	assert_int_equal(nshm_ring_close(c), 0);
	nshm_ring_delete(n);
}

/* ---- 2. fork() never duplicates or frees a role ------------------------- */

static int child_misuse(struct nshm_ring *p, bool close_it)
{
	struct timespec dl;
	struct msg m;

	msg_fill(&m, 999);
	if (nshm_ring_push(p, &m))
		return 30; /* the child must not write into the ring */
	if (nshm_ring_error(p) != -NSHM_EFORKED)
		return 31;
	if (nshm_ring_reserve(p) != NULL)
		return 32;
	if (nshm_ring_push_wait(p, &m, t_in_ms(&dl, 100)) != -NSHM_EFORKED)
		return 33;
	if (close_it && nshm_ring_close(p) != 0)
		return 34;
	return 0;
}

static void test_fork_keeps_role(void **state)
{
	const char *n = t_name("fork");
	struct nshm_ring *p = NULL, *p2 = NULL, *c = NULL;
	struct msg m;
	uint64_t before;

	(void)state;
	t_ring_pair(n, &msg_type, 16, &p, &c);
	msg_fill(&m, 0);
	assert_true(nshm_ring_push(p, &m));
	before = nshm_ring_position(p);
	for (int close_it = 0; close_it < 2; close_it++) {
		pid_t pid = fork();

		if (pid == 0)
			_exit(child_misuse(p, close_it));
		assert_true(t_exited_ok(t_wait(pid, 5000)));
		/* The parent still holds the role: no second producer. */
		assert_int_equal(nshm_ring_attach(n, NSHM_RING_SPSC, &msg_type,
						  NSHM_RING_PRODUCER, 0, &p2),
				 -EBUSY);
		assert_null(p2);
	}
	/* Nothing the child did reached the ring; the parent goes on. */
	assert_int_equal(nshm_ring_position(p), before);
	msg_fill(&m, 1);
	assert_true(nshm_ring_push(p, &m));
	for (uint64_t i = 0; i < 2; i++) {
		assert_true(nshm_ring_pop(c, &m));
		assert_int_equal(msg_check(&m, i), 0);
	}
	assert_false(nshm_ring_pop(c, &m));
	assert_int_equal(nshm_ring_close(p), 0);
	assert_int_equal(nshm_ring_close(c), 0);
	nshm_ring_delete(n);
}

/* ---- 8. a scribbled head never turns a deadline into a spin ------------- */

static int scribbled_head_child(const char *n, uint64_t bad_head)
{
	struct nshm_ring *p = NULL, *c = NULL;
	struct nshm_ring_shared *sh;
	struct timespec dl;
	struct msg m[8];
	uint64_t t0;
	int rc, k;

	alarm(10); /* the old code spun here forever */
	if (nshm_ring_create(n, NSHM_RING_SPSC, &msg_type, 8,
			     NSHM_RING_PRODUCER, 0, 0, &p) != 0 ||
	    nshm_ring_attach(n, NSHM_RING_SPSC, &msg_type, NSHM_RING_CONSUMER,
			     0, &c) != 0)
		return 10;
	for (int i = 0; i < 8; i++)
		msg_fill(&m[i], (uint64_t)i);
	if (nshm_ring_push_n(p, m, 4) != 4) /* 4 known free afterwards */
		return 11;
	sh = t_scribbler(n);
	atomic_store(&sh->cons.index, bad_head);
	t0 = t_now_ns();
	/* Asks for 8: gets the 4 it knew were free, then the error. */
	k = nshm_ring_push_n_wait(p, m, 8, t_in_ms(&dl, 300));
	if (k != 4)
		return 12;
	rc = nshm_ring_push_n_wait(p, m, 8, t_in_ms(&dl, 300));
	if (rc != -NSHM_ECORRUPT)
		return 13;
	if (nshm_ring_push_wait(p, m, t_in_ms(&dl, 300)) != -NSHM_ECORRUPT)
		return 14;
	if (t_now_ns() - t0 > 2000000000ull)
		return 15;
	nshm_ring_close(p);
	nshm_ring_close(c);
	return 0;
}

static void test_scribbled_head(void **state)
{
	const uint64_t bad[] = { 100, UINT64_MAX - 3 }; /* ahead, behind */

	(void)state;
	for (unsigned i = 0; i < 2; i++) {
		const char *n = t_name("shead");
		pid_t pid = fork();
		int status;

		if (pid == 0)
			_exit(scribbled_head_child(n, bad[i]));
		status = t_wait(pid, 15000);
		if (!t_exited_ok(status))
			fail_msg("case %u: status %#x", i, status);
		nshm_ring_delete(n);
	}
}

/* ---- 9. a stuck slot is reported to a loop of short waits --------------- */

static void test_stuck_short_waits(void **state)
{
	const char *n = t_name("stuck");
	struct nshm_ring *p = NULL, *c = NULL;
	struct timespec dl;
	struct msg m;
	uint64_t t0;
	int rc, calls = 0;

	(void)state;
	t_ring_pair(n, &msg_type, 8, &p, &c);
	assert_int_equal(nshm_ring_set_wait(c, &park_now), 0);
	/* Tail says index 0 was committed; its seq word says otherwise. */
	atomic_store(&t_scribbler(n)->prod.index, 1);
	t0 = t_now_ns();
	do {
		rc = nshm_ring_pop_wait(c, &m, t_in_ms(&dl, 100));
		calls++;
	} while (rc == -ETIMEDOUT && t_now_ns() - t0 < 5000000000ull);
	assert_int_equal(rc, -NSHM_ECORRUPT);
	assert_true(calls >= 5); /* it took many short waits to tell */
	nshm_ring_close(p);
	nshm_ring_close(c);
	nshm_ring_delete(n);
}

/* ---- 10. observers observe ---------------------------------------------- */

static void segv_exit(int sig)
{
	(void)sig;
	_exit(42);
}

static void test_observers(void **state)
{
	const char *n = t_name("obs");
	struct nshm_ring *o[40], *p = NULL, *c = NULL;
	struct nshm_ring_stats st;
	struct msg m;
	int status;
	pid_t pid;

	(void)state;
	assert_int_equal(nshm_ring_create(n, NSHM_RING_SPSC, &msg_type, 8,
					  NSHM_RING_OBSERVER, 0, 0, &o[0]),
			 0);
	for (int i = 1; i < 40; i++)
		assert_int_equal(nshm_ring_attach(n, NSHM_RING_KIND_ANY, NULL,
						  NSHM_RING_OBSERVER, 0, &o[i]),
				 0);
	/* More observers than participant slots: the roles still fit. */
	assert_int_equal(nshm_ring_attach(n, NSHM_RING_SPSC, &msg_type,
					  NSHM_RING_PRODUCER, 0, &p),
			 0);
	assert_int_equal(nshm_ring_attach(n, NSHM_RING_SPSC, &msg_type,
					  NSHM_RING_CONSUMER, 0, &c),
			 0);
	msg_fill(&m, 0);
	assert_true(nshm_ring_push(p, &m));
	assert_int_equal(nshm_ring_stats(o[7], &st), 0);
	assert_int_equal(st.pushed, 1);
	assert_int_equal(st.producer_alive, 1);
	assert_int_equal(nshm_ring_check(o[7]), 0);
	/* Data calls on an observer fail without touching the ring. */
	assert_false(nshm_ring_push(o[3], &m));
	assert_int_equal(nshm_ring_error(o[3]), -EPERM);
	/* A store through an observer's mapping faults. */
	pid = fork();
	if (pid == 0) {
		struct sigaction sa = { .sa_handler = segv_exit };

		sigaction(SIGSEGV, &sa, NULL);
		atomic_store(&o[5]->sh->ctl.corrupt_seen, 7);
		_exit(0);
	}
	status = t_wait(pid, 5000);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 42);
	assert_int_equal(nshm_ring_stats(o[5], &st), 0);
	assert_int_equal(st.corrupt, 0);
	for (int i = 0; i < 40; i++)
		assert_int_equal(nshm_ring_close(o[i]), 0);
	assert_int_equal(nshm_ring_close(p), 0);
	assert_int_equal(nshm_ring_close(c), 0);
	nshm_ring_delete(n);
}

/* ---- 3. a role is taken over only on proof of death ---------------------- */

static void test_proof_of_death(void **state)
{
	const char *n = t_name("proof");
	struct nshm_ring *p = NULL, *p2 = NULL;
	struct nshm_ring_shared *sh;
	struct nshm__ctl *ctl;
	uint32_t slot, saved;

	(void)state;
	assert_int_equal(nshm_ring_create(n, NSHM_RING_SPSC, &msg_type, 8,
					  NSHM_RING_PRODUCER, 0, 0, &p),
			 0);
	sh = t_scribbler(n);
	ctl = nshm__ctl_of(nshm__seg_hdr(sh));
	slot = (uint32_t)atomic_load(
		&((struct nshm_ring_role_entry *)(void *)((unsigned char *)sh +
							  NSHM_RING_HDR_SIZE))
			 ->peer);
	assert_true(slot < NSHM_PEER_MAX);
	/* The holder's participant entry now says nothing sensible. */
	saved = atomic_load(&ctl->slot[slot].state);
	atomic_store(&ctl->slot[slot].state, 7);
	assert_int_equal(nshm_ring_attach(n, NSHM_RING_SPSC, &msg_type,
					  NSHM_RING_PRODUCER, 0, &p2),
			 -NSHM_ECORRUPT);
	assert_null(p2);
	assert_non_null(strstr(nshm_errdetail(), "cannot tell"));
	/* The live holder kept its role and still works. */
	atomic_store(&ctl->slot[slot].state, saved);
	assert_int_equal(nshm_ring_attach(n, NSHM_RING_SPSC, &msg_type,
					  NSHM_RING_PRODUCER, 0, &p2),
			 -EBUSY);
	assert_int_equal(nshm_ring_position(p), 0);
	assert_non_null(nshm_ring_reserve(p));
	assert_int_equal(nshm_ring_close(p), 0);
	nshm_ring_delete(n);
}

/* ---- 11. a ring is published whole -------------------------------------- */

static void die_at_publish(enum nshm__seg_point point, const char *name)
{
	(void)name;
	if (point == NSHM__SEG_AT_PUBLISH)
		raise(SIGKILL);
}

static void test_published_whole(void **state)
{
	const char *n = t_name_in(BACKEND(state), "whole");
	struct nshm_ring *p = NULL, *c = NULL;
	struct msg m;
	int status, rc;
	pid_t pid;

	pid = fork();
	if (pid == 0) {
		struct nshm_ring *r;

		nshm__seg_test_hook(die_at_publish);
		nshm_ring_create(n, NSHM_RING_SPSC, &msg_type, 16,
				 NSHM_RING_PRODUCER, 0, 0, &r);
		_exit(1); /* not reached: killed at the publication point */
	}
	status = t_wait(pid, 5000);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	/* Nothing that looks like a ring (POSIX, file: no name at all). */
	rc = nshm_ring_attach(n, NSHM_RING_SPSC, &msg_type, NSHM_RING_CONSUMER,
			      0, &c);
	if (strcmp(BACKEND(state), "sysv") != 0) {
		assert_int_equal(rc, -ENOENT);
	} else {
		/*
		 * SysV has no unnamed creation: the key exists, its state
		 * word says INIT and its creator is dead, which the segment
		 * layer reports (never as a ring) and delete removes.
		 */
		assert_int_equal(rc, -ETIMEDOUT);
		assert_non_null(strstr(nshm_errdetail(), "creator died"));
		assert_int_equal(nshm_ring_delete(n), 0);
	}
	/* The name is free for a new ring, which works. */
	assert_int_equal(nshm_ring_create(n, NSHM_RING_SPSC, &msg_type, 16,
					  NSHM_RING_PRODUCER, 0, 0, &p),
			 0);
	assert_int_equal(nshm_ring_attach(n, NSHM_RING_SPSC, &msg_type,
					  NSHM_RING_CONSUMER, 0, &c),
			 0);
	msg_fill(&m, 0);
	assert_true(nshm_ring_push(p, &m));
	assert_true(nshm_ring_pop(c, &m));
	assert_int_equal(msg_check(&m, 0), 0);
	assert_int_equal(nshm_ring_close(p), 0);
	assert_int_equal(nshm_ring_close(c), 0);
	nshm_ring_delete(n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_loss_at_close),
		cmocka_unit_test(test_producer_space),
		cmocka_unit_test(test_closed_not_dead),
		cmocka_unit_test(test_fork_keeps_role),
		cmocka_unit_test(test_scribbled_head),
		cmocka_unit_test(test_stuck_short_waits),
		cmocka_unit_test(test_observers),
		cmocka_unit_test(test_proof_of_death),
		PER_BACKEND(test_published_whole),
	};

	t_register_cleanup();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
