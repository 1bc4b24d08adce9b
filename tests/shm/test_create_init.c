/* SPDX-License-Identifier: MIT */
/*
 * nshm__seg_create_init(): the caller's area is built before the name
 * appears (issue 9, item 11: a ring is published whole, as a segment is).
 * On every backend and on the O_EXCL fallback: a good init is published
 * with its work; a failed init leaves nothing; a creator SIGKILLed inside
 * init leaves no name, or what today's rules say openers see of a creator
 * that died (SysV: "died", replaced by a create; fallback: -ETIMEDOUT,
 * removed by delete).
 */
#include <nshm/shm.h>
#include <nshm/sync.h>
#include "shm/seg_layout.h"
#include "shm/seg_test.h"
#include "test_util.h"

enum { AREA = 3 * 4096 + 100, MARK = 0x5eed };

struct init_arg {
	int calls;
	int ret;	   /* what init returns */
	int zeroed;	   /* the area was zero-filled */
	int registered;	   /* the sync layer knows the mapping */
	size_t size;
	int park_fd;	   /* >= 0: say "in init" here, then wait forever */
};

static int init_fn(void *area, size_t size, void *argp)
{
	struct init_arg *a = argp;
	unsigned char *p = area;
	nshm_peer_t me;

	a->calls++;
	a->size = size;
	a->zeroed = 1;
	for (size_t i = 0; i < size; i++)
		a->zeroed &= p[i] == 0;
	a->registered = nshm_peer_self(area, &me) == 0;
	((uint32_t *)area)[0] = MARK;
	p[size - 1] = 0x77;
	if (a->park_fd >= 0) {
		char c = 1;

		if (write(a->park_fd, &c, 1) != 1)
			_exit(5);
		for (;;)
			pause(); /* SIGKILLed here */
	}
	return a->ret;
}

/* Backend name for t_name_in(), and whether to force the fallback. */
struct variant {
	const char *backend;
	bool fallback;
};

static const struct variant variants[] = {
	{ "posix", false }, { "sysv", false }, { "file", false },
	{ "posix", true },
};
#define VARIANT(state) ((const struct variant *)*(state))
#define PER_VARIANT(fn)                                                 \
	{ #fn "/posix", fn, NULL, teardown, (void *)&variants[0] },     \
		{ #fn "/sysv", fn, NULL, teardown, (void *)&variants[1] }, \
		{ #fn "/file", fn, NULL, teardown, (void *)&variants[2] }, \
		{ #fn "/fallback", fn, NULL, teardown,                  \
		  (void *)&variants[3] }

static const char *setup(void **state, const char *tag)
{
	const struct variant *v = VARIANT(state);

	nshm__seg_test_set(NSHM__SEG_KNOB_NO_TMPFILE, v->fallback);
	nshm__seg_test_set(NSHM__SEG_KNOB_INIT_TIMEOUT_MS, 200);
	return t_name_in(v->backend, tag);
}

static int teardown(void **state)
{
	(void)state;
	nshm__seg_test_set(NSHM__SEG_KNOB_NO_TMPFILE, 0);
	nshm__seg_test_set(NSHM__SEG_KNOB_INIT_TIMEOUT_MS, -1);
	return 0;
}

static int open_rc(const char *name)
{
	struct nshm_seg *seg;
	int rc = nshm_seg_open(name, 0, 0, 0, &seg);

	if (rc == 0)
		nshm_seg_close(seg);
	return rc;
}

/* Nothing at all at the name (SysV: shmget finds no key). */
static void assert_no_name(const char *name)
{
	assert_int_equal(open_rc(name), -ENOENT);
}

/* Published with init's work; the mapping and handle are ordinary. */
static void test_good_init(void **state)
{
	const char *name = setup(state, "ci-good");
	struct init_arg a = { .park_fd = -1 };
	struct nshm_seg_info info;
	struct nshm_seg *seg, *other;
	uint32_t *area, *view;

	assert_int_equal(nshm__seg_create_init(name, AREA, 0, 0640, init_fn,
					       &a, &seg, (void **)&area),
			 0);
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.size, AREA);
	assert_true(a.zeroed);
	assert_true(a.registered);
	assert_int_equal(area[0], MARK);
	assert_int_equal(nshm_seg_stat(seg, &info), 0);
	assert_true(info.created);
	assert_int_equal(info.attached, 1);
	assert_int_equal(info.size, AREA);
	assert_int_equal(info.mode, 0640);

	/* Another opener sees the work at once: it was there before the name. */
	assert_int_equal(nshm_seg_open(name, 0, 0, 0, &other), 0);
	assert_int_equal(nshm_seg_attach(other, NSHM_READONLY, (void **)&view),
			 0);
	assert_int_equal(view[0], MARK);
	assert_int_equal(((unsigned char *)view)[AREA - 1], 0x77);
	assert_int_equal(nshm_seg_detach(other, view), 0);
	assert_int_equal(nshm_seg_close(other), 0);

	/* Exclusive: a second one fails and does not run init. */
	a.calls = 0;
	assert_int_equal(nshm__seg_create_init(name, AREA, 0, 0, init_fn, &a,
					       &other, (void **)&view),
			 -EEXIST);
	assert_int_equal(a.calls, 0);
	assert_int_equal(area[0], MARK);

	assert_int_equal(nshm_seg_detach(seg, area), 0);
	assert_int_equal(nshm_seg_close(seg), 0);
	assert_int_equal(nshm_seg_delete(name), 0);
}

/* A failed init leaves no name, no mapping, and the name stays usable. */
static void test_failed_init(void **state)
{
	const char *name = setup(state, "ci-fail");
	struct init_arg a = { .park_fd = -1, .ret = -EDOM };
	struct nshm_seg *seg = NULL;
	void *area = NULL;

	assert_int_equal(nshm__seg_create_init(name, AREA, 0, 0, init_fn, &a,
					       &seg, &area),
			 -EDOM);
	assert_int_equal(a.calls, 1);
	assert_null(seg);
	assert_null(area);
	assert_non_null(strstr(nshm_errdetail(), "init"));
	assert_no_name(name);

	a.ret = 7; /* not an error code: refused as such */
	assert_int_equal(nshm__seg_create_init(name, AREA, 0, 0, init_fn, &a,
					       &seg, &area),
			 -EINVAL);
	assert_no_name(name);

	assert_int_equal(nshm__seg_create_init(name, 0, 0, 0, init_fn, &a,
					       &seg, &area),
			 -EINVAL);
	assert_int_equal(nshm__seg_create_init(name, AREA, 0, 0, NULL, &a,
					       &seg, &area),
			 -EINVAL);
	assert_no_name(name);

	a.ret = 0;
	assert_int_equal(nshm__seg_create_init(name, AREA, 0, 0, init_fn, &a,
					       &seg, &area),
			 0);
	assert_int_equal(nshm_seg_detach(seg, area), 0);
	assert_int_equal(nshm_seg_close(seg), 0);
	assert_int_equal(nshm_seg_delete(name), 0);
}

/*
 * A creator parked inside init, then SIGKILLed. While it is inside, the
 * name is absent (POSIX/file) or unpublished (SysV, fallback: openers wait
 * and time out). After the kill: the same, plus the rules for a dead
 * creator's debris; and the name can be created again.
 */
static void test_killed_in_init(void **state)
{
	const struct variant *v = VARIANT(state);
	const char *name = setup(state, "ci-kill");
	bool state_word = v->fallback || strcmp(v->backend, "sysv") == 0;
	struct nshm_seg *seg;
	void *area;
	int fds[2], rc;
	char c;
	pid_t pid;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct init_arg a = { .park_fd = fds[1] };

		close(fds[0]);
		nshm__seg_create_init(name, AREA, 0, 0, init_fn, &a, &seg,
				      &area);
		_exit(6); /* never: init parks */
	}
	close(fds[1]);
	assert_int_equal(read(fds[0], &c, 1), 1); /* inside init */
	close(fds[0]);

	/* Inside init: not visible, or visibly not yet published. */
	assert_int_equal(open_rc(name), state_word ? -ETIMEDOUT : -ENOENT);
	if (strcmp(v->backend, "sysv") == 0)
		assert_null(strstr(nshm_errdetail(), "died")); /* alive */

	kill(pid, SIGKILL);
	assert_true(WIFSIGNALED(t_wait(pid, 5000)));

	rc = open_rc(name);
	if (!state_word) {
		assert_int_equal(rc, -ENOENT); /* the unnamed file vanished */
	} else if (!v->fallback) {
		/* SysV: reported as a dead creator; a create replaces it. */
		assert_int_equal(rc, -ETIMEDOUT);
		assert_non_null(strstr(nshm_errdetail(), "died"));
	} else {
		/* Fallback: INIT for good; delete removes it. */
		assert_int_equal(rc, -ETIMEDOUT);
		assert_int_equal(nshm_seg_delete(name), 0);
	}
	{
		struct init_arg a = { .park_fd = -1 };

		assert_int_equal(nshm__seg_create_init(name, AREA, 0, 0,
						       init_fn, &a, &seg,
						       &area),
				 v->fallback || !state_word ? 0 : -EEXIST);
		if (!v->fallback && state_word) {
			/* EXCL does not replace debris; CREATE does. */
			assert_int_equal(nshm_seg_open(name, AREA,
						       NSHM_CREATE, 0, &seg),
					 0);
			assert_int_equal(nshm_seg_attach(seg, 0, &area), 0);
		}
	}
	assert_int_equal(nshm_seg_detach(seg, area), 0);
	assert_int_equal(nshm_seg_close(seg), 0);
	assert_int_equal(nshm_seg_delete(name), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		PER_VARIANT(test_good_init),
		PER_VARIANT(test_failed_init),
		PER_VARIANT(test_killed_in_init),
	};

	return cmocka_run_group_tests_name("shm/create_init", tests, NULL,
					   NULL);
}
