/* SPDX-License-Identifier: MIT */
/*
 * Peer liveness on every backend: registration at attach, removal at
 * detach, SIGKILLed participants reported dead and reaped, live ones never
 * reported dead (also when the attaching thread exited, or a forked child
 * outlives a dead parent), corrupt table entries, and control-plane
 * updates killed half-way (deterministic and at random points).
 */
#include <pthread.h>
#include <signal.h>
#include <sys/ipc.h>
#include <sys/sem.h>

#include <nshm/shm.h>
#include <nshm/sync.h>

#include "sync/ctl.h"
#include "test_util.h"
#include "sync_test.h"

struct shared {
	_Atomic(uint32_t) ready;
	_Atomic(uint32_t) go;
	_Atomic(uint64_t) id;
	struct nshm_mutex user_lock;
};

struct fix {
	const char *backend;
	const char *name;
	struct nshm_seg *seg;
	void *area;
	struct shared *sh;
	struct nshm__ctl *ctl;
};

static struct fix fixes[3];

static int setup_backend(void **state, int i, const char *backend)
{
	struct fix *f = &fixes[i];

	f->backend = backend;
	f->name = t_name_in(backend, "peer");
	f->area = st_segment(f->name, 4096, &f->seg);
	f->sh = f->area;
	f->ctl = nshm__ctl_of(nshm__seg_hdr(f->area));
	*state = f;
	return 0;
}

static int setup_posix(void **state)
{
	return setup_backend(state, 0, "posix");
}

static int setup_sysv(void **state)
{
	return setup_backend(state, 1, "sysv");
}

static int setup_file(void **state)
{
	return setup_backend(state, 2, "file");
}

static int teardown(void **state)
{
	struct fix *f = *state;
	pid_t straggler = (pid_t)atomic_load_explicit(&f->sh->go,
						      memory_order_relaxed);

	/* A grandchild left by a failed assertion would hold ctest's pipe. */
	if (straggler > 1)
		kill(straggler, SIGKILL);
	st_drop(f->seg, f->area);
	return 0;
}

static int count_live(struct fix *f)
{
	struct nshm_peer_info info[NSHM_PEER_MAX];

	return nshm_peer_list(f->area, info, NSHM_PEER_MAX);
}

static void test_self_and_bad_input(void **state)
{
	struct fix *f = *state;
	struct nshm_peer_info info[4];
	nshm_peer_t id, id2;
	void *ro = NULL, *second = NULL;
	int local;

	assert_int_equal(nshm_peer_self(f->area, &id), 0);
	assert_int_equal(nshm_peer_alive(f->area, id), 1);
	assert_int_equal(nshm_peer_self(NULL, &id), -EINVAL);
	assert_int_equal(nshm_peer_self(f->area, NULL), -EINVAL);
	assert_int_equal(nshm_peer_self((char *)f->area + 64, &id), -EINVAL);
	assert_int_equal(nshm_peer_alive(NULL, id), -EINVAL);
	assert_int_equal(nshm_peer_alive(f->area, (uint64_t)1 << 32 | 999),
			 -EINVAL); /* slot out of range */
	assert_int_equal(nshm_peer_alive(f->area, 0), -EINVAL); /* gen 0 */
	assert_int_equal(nshm_peer_reap(NULL), -EINVAL);
	assert_int_equal(nshm_peer_list(f->area, NULL, 3), -EINVAL);
	/* An old generation of our own slot is "gone", not alive. */
	assert_int_equal(nshm_peer_alive(f->area, id + ((uint64_t)1 << 32)),
			 0);

	/* A second read-write mapping is a second participant. */
	assert_int_equal(nshm_seg_attach(f->seg, 0, &second), 0);
	assert_int_equal(nshm_peer_self(second, &id2), 0);
	assert_true(id2 != id);
	assert_int_equal(nshm_peer_alive(f->area, id2), 1);
	assert_int_equal(nshm_peer_alive(second, id), 1);
	assert_int_equal(nshm_peer_list(f->area, info, 4), 2);
	local = (info[0].self ? 1 : 0) + (info[1].self ? 1 : 0);
	assert_int_equal(local, 1);
	assert_int_equal(info[0].pid, getpid());
	assert_int_equal(info[0].alive, 1);
	assert_true(info[0].start_ticks > 0);
	/* A read-only mapping observes but is no participant. */
	assert_int_equal(nshm_seg_attach(f->seg, NSHM_READONLY, &ro), 0);
	assert_int_equal(nshm_peer_self(ro, &id), -EROFS);
	assert_int_equal(nshm_peer_reap(ro), -EROFS);
	assert_int_equal(nshm_peer_alive(ro, id2), 1);
	assert_int_equal(nshm_seg_detach(f->seg, ro), 0);
	/* Detach removes the participant. */
	assert_int_equal(nshm_seg_detach(f->seg, second), 0);
	assert_int_equal(nshm_peer_alive(f->area, id2), 0);
	assert_int_equal(count_live(f), 1);
	assert_int_equal(nshm_peer_reap(f->area), 0); /* nothing dead */
}

struct attach_args {
	const char *name;
	struct nshm_seg *seg;
};

static void *attach_thread(void *p)
{
	struct attach_args *a = p;

	return st_attach(a->name, &a->seg);
}

/* Child: attach by name, publish our id, then wait to be killed. */
static void child_participant(const char *name, bool from_thread)
{
	struct attach_args a = { .name = name };
	struct shared *sh;
	nshm_peer_t id;

	if (from_thread) {
		/* Attach from a thread that then exits: must stay alive. */
		pthread_t th;
		void *rv = NULL;

		if (pthread_create(&th, NULL, attach_thread, &a) != 0 ||
		    pthread_join(th, &rv) != 0 || rv == NULL)
			_exit(2);
		sh = rv;
	} else {
		sh = st_attach(name, &a.seg);
		if (sh == NULL)
			_exit(2);
	}
	if (nshm_peer_self(sh, &id) != 0)
		_exit(3);
	atomic_store_explicit(&sh->id, id, memory_order_relaxed);
	/* Release: pairs with st_wait_eq()'s acquire (id is visible). */
	atomic_store_explicit(&sh->ready, 1, memory_order_release);
	for (;;)
		pause();
}

static void kill_and_check(struct fix *f, bool from_thread)
{
	nshm_peer_t id;
	uint32_t reaped0 = f->ctl->reaped;
	pid_t pid;

	atomic_store_explicit(&f->sh->ready, 0, memory_order_relaxed);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		child_participant(f->name, from_thread);
	assert_int_equal(st_wait_eq(&f->sh->ready, 1, 5000), 0);
	id = atomic_load_explicit(&f->sh->id, memory_order_relaxed);
	/* Alive, asked many times, and not reaped. */
	for (int i = 0; i < 200; i++)
		assert_int_equal(nshm_peer_alive(f->area, id), 1);
	assert_int_equal(nshm_peer_reap(f->area), 0);
	assert_int_equal(count_live(f), 2);
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	assert_int_equal(nshm_peer_alive(f->area, id), 0);
	assert_int_equal(count_live(f), 2); /* dead but not yet reaped */
	assert_int_equal(nshm_peer_reap(f->area), 1);
	assert_int_equal(count_live(f), 1);
	assert_int_equal(nshm_peer_alive(f->area, id), 0);
	assert_int_equal(f->ctl->reaped, reaped0 + 1);
}

static void test_sigkill_reported_and_reaped(void **state)
{
	kill_and_check(*state, false);
}

static void test_attach_thread_exit_stays_alive(void **state)
{
	kill_and_check(*state, true);
}

/* A child that outlives its dead parent must not keep the parent alive. */
static void test_forked_child_does_not_keep_parent_alive(void **state)
{
	struct fix *f = *state;
	nshm_peer_t id;
	pid_t mid;

	atomic_store_explicit(&f->sh->ready, 0, memory_order_relaxed);
	atomic_store_explicit(&f->sh->go, 0, memory_order_relaxed);
	mid = fork();
	assert_true(mid >= 0);
	if (mid == 0) {
		struct nshm_seg *seg;
		struct shared *sh = st_attach(f->name, &seg);
		nshm_peer_t me;
		pid_t grandchild;

		if (sh == NULL || nshm_peer_self(sh, &me) != 0)
			_exit(2);
		grandchild = fork(); /* inherits the mapping and the fd */
		if (grandchild == 0) {
			for (;;)
				pause(); /* lives on; killed by the parent */
		}
		atomic_store_explicit(&sh->id, me, memory_order_relaxed);
		atomic_store_explicit(&sh->go, (uint32_t)grandchild,
				      memory_order_relaxed);
		/* Release: pairs with st_wait_eq()'s acquire. */
		atomic_store_explicit(&sh->ready, 1, memory_order_release);
		for (;;)
			pause();
	}
	assert_int_equal(st_wait_eq(&f->sh->ready, 1, 5000), 0);
	id = atomic_load_explicit(&f->sh->id, memory_order_relaxed);
	assert_int_equal(nshm_peer_alive(f->area, id), 1);
	kill(mid, SIGKILL);
	assert_int_equal(waitpid(mid, NULL, 0), mid);
	/* The grandchild still maps the segment, yet its parent is dead. */
	assert_int_equal(nshm_peer_alive(f->area, id), 0);
	assert_int_equal(nshm_peer_reap(f->area), 1);
	kill((pid_t)atomic_load_explicit(&f->sh->go, memory_order_relaxed),
	     SIGKILL);
	/* Killed: teardown must not kill a recycled pid. */
	atomic_store_explicit(&f->sh->go, 0, memory_order_relaxed);
}

static void test_corrupt_entry(void **state)
{
	struct fix *f = *state;
	nshm_peer_t self;
	uint32_t s = NSHM_PEER_MAX - 1;

	assert_int_equal(nshm_peer_self(f->area, &self), 0);
	/* Scribble an entry nobody owns. */
	atomic_store_explicit(&f->ctl->slot[s].state, 0xdeadbeefu,
			      memory_order_relaxed);
	atomic_store_explicit(&f->ctl->slot[s].gen, 7, memory_order_relaxed);
	assert_int_equal(nshm_peer_alive(f->area, (uint64_t)7 << 32 | s),
			 -NSHM_ECORRUPT);
	assert_int_equal(nshm_peer_list(f->area, NULL, 0), 1);
	/* Reap frees it: nobody holds its token. */
	assert_int_equal(nshm_peer_reap(f->area), 1);
	assert_int_equal(nshm_peer_alive(f->area, (uint64_t)7 << 32 | s), 0);
	/* A LIVE entry whose token nobody holds: dead, reaped, ours kept. */
	atomic_store_explicit(&f->ctl->slot[s].state, NSHM_SLOT_LIVE,
			      memory_order_relaxed);
	assert_int_equal(nshm_peer_alive(f->area, (uint64_t)8 << 32 | s), 0);
	assert_int_equal(nshm_peer_alive(f->area, (uint64_t)7 << 32 | s), 0);
	assert_int_equal(nshm_peer_reap(f->area), 1);
	assert_int_equal(nshm_peer_alive(f->area, self), 1);
}

/*
 * A holder killed in the middle of a participant-table update: simulate
 * exactly what join_locked() does up to a point, die, and check that the
 * next holder of the control lock rolls the slot back and the table works
 * on. (The control lock is the kernel's: it was freed by the death; only
 * the journal tells what was left half done.)
 */
static void test_killed_mid_update_rolls_back(void **state)
{
	struct fix *f = *state;
	struct nshm__ctl *c = f->ctl;
	uint32_t s = 5, rollbacks = c->rollbacks, repairs = c->repairs;
	uint32_t slot_gen = atomic_load_explicit(&c->slot[s].gen,
						 memory_order_relaxed);
	pid_t pid;

	assert_int_equal(atomic_load_explicit(&c->slot[s].state,
					      memory_order_relaxed),
			 NSHM_SLOT_FREE);
	pid = st_fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* jr_begin(): undo record, then ACTIVE. */
		c->jr.before.state = NSHM_SLOT_FREE;
		c->jr.before.gen = slot_gen;
		c->jr.slot = s;
		c->jr.op = NSHM_JR_JOIN;
		atomic_store_explicit(&c->jr.commit, NSHM_JR_ACTIVE,
				      memory_order_release);
		/* Half of the slot written ... */
		c->slot[s].pid = 4242;
		atomic_store_explicit(&c->slot[s].gen, slot_gen + 1,
				      memory_order_relaxed);
		atomic_store_explicit(&c->slot[s].state, NSHM_SLOT_LIVE,
				      memory_order_relaxed);
		/* ... and killed before the commit. */
		raise(SIGKILL);
	}
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	/* Any control-plane call repairs first. */
	assert_int_equal(nshm_peer_reap(f->area), 0);
	assert_int_equal(atomic_load_explicit(&c->slot[s].state,
					      memory_order_relaxed),
			 NSHM_SLOT_FREE);
	assert_int_equal(atomic_load_explicit(&c->slot[s].gen,
					      memory_order_relaxed),
			 slot_gen);
	assert_int_equal(atomic_load_explicit(&c->jr.commit,
					      memory_order_relaxed),
			 NSHM_JR_IDLE);
	assert_int_equal(c->rollbacks, rollbacks + 1);
	assert_int_equal(c->repairs, repairs + 1);
	assert_int_equal(count_live(f), 1);
}

/*
 * A journal naming a slot out of range is not trusted (no wild write) and
 * does not poison the segment either: it is reset, and the table, checked
 * slot by slot against the kernel's tokens, works on.
 */
static void test_corrupt_journal_is_reset(void **state)
{
	struct fix *f = *state;
	struct nshm__ctl *c = f->ctl;
	uint32_t repairs = c->repairs;
	void *second = NULL;
	nshm_peer_t self;
	pid_t pid = st_fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		c->jr.slot = 100000; /* bound it, or it is a wild write */
		atomic_store_explicit(&c->jr.commit, NSHM_JR_ACTIVE,
				      memory_order_release);
		raise(SIGKILL);
	}
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	assert_int_equal(nshm_peer_reap(f->area), 0);
	assert_int_equal(c->repairs, repairs + 1);
	/* A garbage commit word: reset too. */
	atomic_store_explicit(&c->jr.commit, 0x12345678u,
			      memory_order_relaxed);
	assert_int_equal(nshm_peer_reap(f->area), 0);
	assert_int_equal(atomic_load_explicit(&c->jr.commit,
					      memory_order_relaxed),
			 NSHM_JR_IDLE);
	assert_int_equal(nshm_peer_self(f->area, &self), 0);
	assert_int_equal(nshm_peer_alive(f->area, self), 1);
	/* The control plane works on: attach and detach. */
	assert_int_equal(nshm_seg_attach(f->seg, 0, &second), 0);
	assert_int_equal(count_live(f), 2);
	assert_int_equal(nshm_seg_detach(f->seg, second), 0);
	assert_int_equal(count_live(f), 1);
}

/* Children attach/detach in a loop and are SIGKILLed at random moments. */
static void test_random_kills_during_updates(void **state)
{
	struct fix *f = *state;
	struct nshm__ctl *c = f->ctl;
	unsigned int trials = (unsigned int)(300 * t_scale());
	uint32_t repairs0 = c->repairs, rollbacks0 = c->rollbacks;
	unsigned int seed = (unsigned int)getpid();
	uint64_t t0 = st_now_ns();

	print_message("# seed %u\n", seed);
	for (unsigned int t = 0; t < trials; t++) {
		pid_t pid = fork();

		assert_true(pid >= 0);
		if (pid == 0) {
			struct nshm_seg *seg;

			if (nshm_seg_open(f->name, 0, 0, 0, &seg) != 0)
				_exit(2);
			for (;;) {
				void *a;

				if (nshm_seg_attach(seg, 0, &a) != 0)
					_exit(3);
				if (nshm_seg_detach(seg, a) != 0)
					_exit(4);
			}
		}
		usleep((unsigned int)(rand_r(&seed) % 3000));
		kill(pid, SIGKILL);
		assert_int_equal(waitpid(pid, NULL, 0), pid);
		/* Whatever state it died in: repair and reap restore it. */
		assert_true(nshm_peer_reap(f->area) >= 0);
		assert_int_equal(atomic_load_explicit(&c->jr.commit,
						      memory_order_relaxed),
				 NSHM_JR_IDLE);
		assert_int_equal(count_live(f), 1);
	}
	print_message("# random kills: %u trials, %u journal repairs "
		      "(%u rolled back a half-done update), table intact "
		      "after each, %.1f ms/trial\n",
		      trials, c->repairs - repairs0, c->rollbacks - rollbacks0,
		      (st_now_ns() - t0) / 1e6 / trials);
}

/* The SysV key of "sysv:<leaf>" (as src/shm/name.c derives it). */
static key_t sysv_key_of(const char *leaf)
{
	uint32_t h = 2166136261u;

	for (const char *p = "nshm-sysv:"; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	for (const char *p = leaf; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	return (key_t)(h ? h : 1);
}

/*
 * SysV tokens are semaphores of a set keyed like the segment: made by the
 * first attacher, held by participants only, removed with the segment.
 */
static void test_sysv_semaphores(void **state)
{
	const char *name = t_name_in("sysv", "sems");
	key_t key = sysv_key_of(name + 5);
	struct nshm_seg *seg;
	void *a = NULL, *b = NULL;
	nshm_peer_t ida;
	int id;

	(void)state;
	a = st_segment(name, 4096, &seg);
	id = semget(key, 0, 0);
	assert_true(id >= 0);
	assert_int_equal(nshm_peer_self(a, &ida), 0);
	assert_int_equal(semctl(id, (int)(uint32_t)ida, GETVAL), 1);
	assert_int_equal(semctl(id, (int)NSHM_PEER_MAX, GETVAL), 0); /* ctl */
	/* A deleted segment's mappings keep their tokens: the set stays. */
	assert_int_equal(nshm_seg_attach(seg, 0, &b), 0);
	assert_int_equal(nshm_seg_delete(name), 0);
	assert_true(semget(key, 0, 0) >= 0);
	assert_int_equal(nshm_seg_detach(seg, b), 0);
	assert_int_equal(nshm_peer_alive(a, ida), 1);
	assert_int_equal(nshm_seg_detach(seg, a), 0);
	assert_int_equal(semctl(id, (int)(uint32_t)ida, GETVAL), 0);
	assert_int_equal(nshm_seg_close(seg), 0);
	/* Deleting a segment nobody maps removes its set. */
	a = st_segment(name, 4096, &seg);
	st_drop(seg, a);
	assert_true(semget(key, 0, 0) >= 0);
	assert_int_equal(nshm_seg_delete(name), 0);
	assert_int_equal(semget(key, 0, 0), -1);
	assert_int_equal(errno, ENOENT);
}

#define T(fn, s) cmocka_unit_test_setup_teardown(fn, s, teardown)
#define ALL(s)                                                          \
	T(test_self_and_bad_input, s),                                  \
		T(test_sigkill_reported_and_reaped, s),                 \
		T(test_attach_thread_exit_stays_alive, s),              \
		T(test_forked_child_does_not_keep_parent_alive, s),     \
		T(test_corrupt_entry, s),                               \
		T(test_killed_mid_update_rolls_back, s),                \
		T(test_corrupt_journal_is_reset, s)

int main(void)
{
	const struct CMUnitTest tests[] = {
		ALL(setup_posix),
		ALL(setup_sysv),
		ALL(setup_file),
		T(test_random_kills_during_updates, setup_posix),
		cmocka_unit_test(test_sysv_semaphores),
	};

	return cmocka_run_group_tests_name("sync/peer", tests, NULL, NULL);
}
