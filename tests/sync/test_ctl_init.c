/* SPDX-License-Identifier: MIT */
/*
 * Issue 9, item 5: a first attacher that dies during the control block's
 * lazy initialisation must not leave the segment unusable. The lazy init
 * runs under the kernel-held control lock, so a dead initialiser leaves
 * INITING and a free lock, and the next attacher starts over.
 *
 * The race is forced, on every backend:
 *  - abandoned: the control block is zeroed and marked INITING by a
 *    process that then dies (exactly what a dead initialiser leaves);
 *  - killed: a child stops itself inside the real initialisation (test
 *    hook nshm__sync_test_ctl_init, holding the control lock), and is
 *    SIGKILLed there.
 * Then every later attach must succeed promptly (well under the old 2 s
 * wait-and-fail).
 */
#include <signal.h>
#include <sys/wait.h>

#include <nshm/shm.h>
#include <nshm/sync.h>

#include "sync/ctl.h"
#include "test_util.h"
#include "sync_test.h"

/* Weak: the test also runs against a library without the hook. */
extern void (*nshm__sync_test_ctl_init)(void) __attribute__((weak));

struct fix {
	const char *name;
	struct nshm_seg *seg;
	void *area;
	struct nshm__ctl *ctl;
};

static int setup(void **state, const char *backend)
{
	static struct fix f;

	f.name = t_name_in(backend, "ctlinit");
	f.area = st_segment(f.name, 4096, &f.seg);
	f.ctl = nshm__ctl_of(nshm__seg_hdr(f.area));
	*state = &f;
	return 0;
}

static int setup_posix(void **state)
{
	return setup(state, "posix");
}

static int setup_sysv(void **state)
{
	return setup(state, "sysv");
}

static int setup_file(void **state)
{
	return setup(state, "file");
}

static int teardown(void **state)
{
	struct fix *f = *state;

	st_drop(f->seg, f->area);
	nshm_seg_delete(f->name);
	return 0;
}

/* A control block as a segment made without the sync hooks has it. */
static void zero_ctl(struct fix *f)
{
	memset((void *)f->ctl, 0, NSHM_SEG_CTL_SIZE);
}

/* Attach (and detach) @n times in a fresh process; each must be quick. */
static void attach_promptly(struct fix *f, int n)
{
	for (int i = 0; i < n; i++) {
		uint64_t t0 = st_now_ns(), el;
		pid_t pid = st_fork();
		int status;

		assert_true(pid >= 0);
		if (pid == 0) {
			struct nshm_seg *seg;
			void *a = NULL;
			nshm_peer_t id;

			if (nshm_seg_open(f->name, 0, 0, 0, &seg) != 0)
				_exit(2);
			if (nshm_seg_attach(seg, 0, &a) != 0)
				_exit(3);
			if (nshm_peer_self(a, &id) != 0 ||
			    nshm_peer_alive(a, id) != 1)
				_exit(4);
			if (nshm_seg_detach(seg, a) != 0)
				_exit(5);
			_exit(nshm_seg_close(seg) == 0 ? 0 : 6);
		}
		status = t_wait(pid, 5000);
		el = st_now_ns() - t0;
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
		assert_true(el < 500000000u); /* the old code: 2 s, then fail */
	}
	assert_int_equal(atomic_load_explicit(&f->ctl->magic,
					      memory_order_relaxed),
			 NSHM_CTL_MAGIC);
}

static void test_abandoned_init(void **state)
{
	struct fix *f = *state;
	pid_t pid = st_fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		zero_ctl(f);
		atomic_store_explicit(&f->ctl->magic, NSHM_CTL_INITING,
				      memory_order_relaxed);
		raise(SIGKILL);
	}
	assert_true(WIFSIGNALED(t_wait(pid, 5000)));
	attach_promptly(f, 5);
}

static void stop_inside_init(void)
{
	raise(SIGSTOP);
}

static void test_initialiser_killed(void **state)
{
	struct fix *f = *state;
	int status;
	pid_t pid;

	zero_ctl(f);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct nshm_seg *seg;
		void *a = NULL;

		if (&nshm__sync_test_ctl_init != NULL) {
			nshm__sync_test_ctl_init = stop_inside_init;
		} else {
			/* Old library: leave what a dead initialiser leaves. */
			atomic_store_explicit(&f->ctl->magic, NSHM_CTL_INITING,
					      memory_order_relaxed);
			raise(SIGSTOP);
		}
		if (nshm_seg_open(f->name, 0, 0, 0, &seg) != 0)
			_exit(2);
		nshm_seg_attach(seg, 0, &a);
		_exit(3); /* not reached: stopped, then killed, inside */
	}
	assert_int_equal(waitpid(pid, &status, WUNTRACED), pid);
	assert_true(WIFSTOPPED(status));
	/* Stopped mid-init: alive, so nobody may take over yet. */
	assert_int_equal(atomic_load_explicit(&f->ctl->magic,
					      memory_order_relaxed),
			 NSHM_CTL_INITING);
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	attach_promptly(f, 5);
	if (&nshm__sync_test_ctl_init != NULL)
		assert_true(f->ctl->inits >= 1);
}

#define T(fn, s) cmocka_unit_test_setup_teardown(fn, s, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_abandoned_init, setup_posix),
		T(test_initialiser_killed, setup_posix),
		T(test_abandoned_init, setup_sysv),
		T(test_initialiser_killed, setup_sysv),
		T(test_abandoned_init, setup_file),
		T(test_initialiser_killed, setup_file),
	};

	return cmocka_run_group_tests_name("sync/ctl_init", tests, NULL, NULL);
}
