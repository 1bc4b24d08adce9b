/* SPDX-License-Identifier: MIT */
/*
 * The NSPR lifecycle on every backend: open, attach (again and again, also
 * after detach), detach, close (handle only), delete (name only), and every
 * kind of bad argument on the way.
 */
#include <sys/mman.h>
#include <sys/shm.h>
#include <nshm/shm.h>
#include "test_util.h"


static void test_create_attach_write_reattach(void **state)
{
	const char *name = t_name_in(BACKEND(state), "life");
	struct nshm_seg *seg = NULL;
	struct nshm_seg_info info;
	unsigned char *a, *b;

	assert_int_equal(nshm_seg_open(name, 10000, NSHM_CREATE | NSHM_EXCL,
				       0600, &seg),
			 0);
	assert_non_null(seg);
	assert_int_equal(nshm_seg_size(seg), 10000);
	assert_int_equal(nshm_seg_stat(seg, &info), 0);
	assert_true(info.created);
	assert_int_equal(info.size, 10000);
	assert_true(info.map_size >= 10000 + NSHM_SEG_HDR_SIZE);
	assert_int_equal(info.mode, 0600);
	assert_int_equal(info.owner, geteuid());
	assert_int_equal(info.creator_pid, getpid());
	assert_int_equal(info.attached, 0);

	assert_int_equal(nshm_seg_attach(seg, 0, (void **)&a), 0);
	assert_int_equal((uintptr_t)a % 4096, 0); /* page aligned area */
	for (size_t i = 0; i < 10000; i++)
		assert_int_equal(a[i], 0); /* zero filled */
	memset(a, 0xab, 10000);

	/* A second attach is a new mapping of the same memory. */
	assert_int_equal(nshm_seg_attach(seg, 0, (void **)&b), 0);
	assert_ptr_not_equal(a, b);
	assert_int_equal(b[9999], 0xab);
	b[0] = 0x11;
	assert_int_equal(a[0], 0x11);
	assert_int_equal(nshm_seg_stat(seg, &info), 0);
	assert_int_equal(info.attached, 2);

	/* Detach one; the other keeps working; re-attach keeps the data. */
	assert_int_equal(nshm_seg_detach(seg, a), 0);
	assert_int_equal(b[1], 0xab);
	assert_int_equal(nshm_seg_attach(seg, 0, (void **)&a), 0);
	assert_int_equal(a[0], 0x11);
	assert_int_equal(nshm_seg_detach(seg, a), 0);
	assert_int_equal(nshm_seg_detach(seg, b), 0);
	assert_int_equal(nshm_seg_stat(seg, &info), 0);
	assert_int_equal(info.attached, 0);
	assert_int_equal(nshm_seg_close(seg), 0);

	/* Reopen: the data persists until delete. */
	assert_int_equal(nshm_seg_open(name, 0, 0, 0, &seg), 0);
	assert_int_equal(nshm_seg_size(seg), 10000);
	assert_int_equal(nshm_seg_stat(seg, &info), 0);
	assert_false(info.created);
	assert_int_equal(nshm_seg_attach(seg, NSHM_READONLY, (void **)&a), 0);
	assert_int_equal(a[0], 0x11);
	assert_int_equal(a[5000], 0xab);
	assert_int_equal(nshm_seg_detach(seg, a), 0);
	assert_int_equal(nshm_seg_close(seg), 0);
	assert_int_equal(nshm_seg_delete(name), 0);
	assert_int_equal(nshm_seg_delete(name), -ENOENT);
}

static void test_close_keeps_mappings(void **state)
{
	const char *name = t_name_in(BACKEND(state), "close");
	struct nshm_seg *seg;
	unsigned char *a;

	assert_int_equal(nshm_seg_open(name, 4096, NSHM_CREATE, 0, &seg), 0);
	assert_int_equal(nshm_seg_attach(seg, 0, (void **)&a), 0);
	assert_int_equal(nshm_seg_close(seg), 0);
	a[100] = 42; /* still mapped, still writable */
	assert_int_equal(a[100], 42);
	/* Double close of the freed handle is an error, not a crash. */
	assert_int_equal(nshm_seg_close(seg), -EBADF);
	/* Calls on the closed handle are refused. */
	assert_int_equal(nshm_seg_attach(seg, 0, (void **)&a), -EBADF);
	assert_int_equal(nshm_seg_detach(seg, a), -EBADF);
	assert_int_equal(nshm_seg_size(seg), 0);
	/* NSPR's detach ignores the handle: NULL detaches any mapping. */
	assert_int_equal(nshm_seg_detach(NULL, a), 0);
	assert_int_equal(nshm_seg_detach(NULL, a), -EINVAL);
	assert_int_equal(nshm_seg_delete(name), 0);
}

static void test_delete_while_attached(void **state)
{
	const char *name = t_name_in(BACKEND(state), "del");
	struct nshm_seg *seg, *again;
	unsigned char *a, *b;

	assert_int_equal(nshm_seg_open(name, 8192, NSHM_CREATE, 0, &seg), 0);
	assert_int_equal(nshm_seg_attach(seg, 0, (void **)&a), 0);
	a[0] = 7;
	assert_int_equal(nshm_seg_delete(name), 0);
	/* The name is gone at once... */
	assert_int_equal(nshm_seg_open(name, 0, 0, 0, &again), -ENOENT);
	/* ...the mapping keeps working... */
	a[1] = 8;
	assert_int_equal(a[0] + a[1], 15);
	/* ...and a new segment under the name is a new, zeroed one. */
	assert_int_equal(nshm_seg_open(name, 8192, NSHM_CREATE | NSHM_EXCL, 0,
				       &again),
			 0);
	assert_int_equal(nshm_seg_attach(again, 0, (void **)&b), 0);
	assert_int_equal(b[0], 0);
	assert_int_equal(nshm_seg_detach(again, b), 0);
	assert_int_equal(nshm_seg_close(again), 0);
	assert_int_equal(nshm_seg_detach(seg, a), 0);
	assert_int_equal(nshm_seg_close(seg), 0);
	assert_int_equal(nshm_seg_delete(name), 0);
}

static void test_open_semantics(void **state)
{
	const char *name = t_name_in(BACKEND(state), "sem");
	struct nshm_seg *seg = NULL, *other = NULL;
	unsigned char *a;

	/* Missing without CREATE. */
	assert_int_equal(nshm_seg_open(name, 100, 0, 0, &seg), -ENOENT);
	assert_null(seg);
	/* Size 0 to create: an error, and nothing left behind. */
	assert_int_equal(nshm_seg_open(name, 0, NSHM_CREATE, 0, &seg), -EINVAL);
	assert_null(seg);
	assert_int_equal(nshm_seg_delete(name), -ENOENT);

	assert_int_equal(nshm_seg_open(name, 5000, NSHM_CREATE, 0, &seg), 0);
	/* EXCL on an existing name. */
	assert_int_equal(nshm_seg_open(name, 5000, NSHM_CREATE | NSHM_EXCL, 0,
				       &other),
			 -EEXIST);
	assert_null(other);
	/* Size 0 with CREATE|EXCL on an existing name is still EEXIST. */
	assert_int_equal(nshm_seg_open(name, 0, NSHM_CREATE | NSHM_EXCL, 0,
				       &other),
			 -EEXIST);
	/* CREATE without EXCL opens what exists (size 0 or smaller: fine). */
	assert_int_equal(nshm_seg_open(name, 0, NSHM_CREATE, 0, &other), 0);
	assert_int_equal(nshm_seg_size(other), 5000);
	assert_int_equal(nshm_seg_close(other), 0);
	assert_int_equal(nshm_seg_open(name, 100, 0, 0, &other), 0);
	assert_int_equal(nshm_seg_size(other), 5000);
	/* Attach maps the whole segment even when opened smaller. */
	assert_int_equal(nshm_seg_attach(other, 0, (void **)&a), 0);
	a[4999] = 1;
	assert_int_equal(nshm_seg_detach(other, a), 0);
	assert_int_equal(nshm_seg_close(other), 0);
	/* Larger than it is: refused, with the sizes in the detail. */
	assert_int_equal(nshm_seg_open(name, 5001, 0, 0, &other), -EINVAL);
	assert_non_null(strstr(nshm_errdetail(), "5000"));
	assert_int_equal(nshm_seg_open(name, 5001, NSHM_CREATE, 0, &other),
			 -EINVAL);
	assert_int_equal(nshm_seg_close(seg), 0);
	assert_int_equal(nshm_seg_delete(name), 0);
}

static void test_bad_arguments(void **state)
{
	const char *name = t_name_in(BACKEND(state), "args");
	struct nshm_seg *seg = NULL;
	struct nshm_seg_info info;
	unsigned char *a, *b;
	int local;

	assert_int_equal(nshm_seg_open(name, 100, NSHM_CREATE, 0, NULL),
			 -EINVAL);
	assert_int_equal(nshm_seg_open(name, 100, NSHM_CREATE | 0x8000, 0, &seg),
			 -EINVAL);
	assert_int_equal(nshm_seg_open(name, 100, NSHM_CREATE | NSHM_READONLY,
				       0, &seg),
			 -EINVAL); /* an attach flag */
	assert_int_equal(nshm_seg_open(name, 100, NSHM_EXCL, 0, &seg), -EINVAL);
	assert_int_equal(nshm_seg_open(name, 100, NSHM_CREATE, 01000, &seg),
			 -EINVAL);
	assert_int_equal(nshm_seg_open(name, 100, NSHM_CREATE, 04755, &seg),
			 -EINVAL);
	assert_int_equal(nshm_seg_open(name, (size_t)1 << 60, NSHM_CREATE, 0,
				       &seg),
			 -EFBIG);
	assert_int_equal(nshm_seg_open(name, SIZE_MAX, NSHM_CREATE, 0, &seg),
			 -EFBIG);
	assert_null(seg);
	assert_int_equal(nshm_seg_delete(name), -ENOENT); /* nothing made */

	assert_int_equal(nshm_seg_open(name, 100, NSHM_CREATE, 0, &seg), 0);
	assert_int_equal(nshm_seg_attach(seg, 0x8000, (void **)&a), -EINVAL);
	assert_int_equal(nshm_seg_attach(seg, NSHM_CREATE, (void **)&a),
			 -EINVAL);
	assert_int_equal(nshm_seg_attach(seg, 0, NULL), -EINVAL);
	assert_int_equal(nshm_seg_attach(NULL, 0, (void **)&a), -EBADF);
	assert_int_equal(nshm_seg_attach((struct nshm_seg *)&local, 0,
					 (void **)&a),
			 -EBADF);
	assert_int_equal(nshm_seg_stat(seg, NULL), -EINVAL);
	assert_int_equal(nshm_seg_stat(NULL, &info), -EBADF);

	assert_int_equal(nshm_seg_attach(seg, 0, (void **)&a), 0);
	/* Detach of anything that is not a live mapping of this handle. */
	assert_int_equal(nshm_seg_detach(seg, NULL), -EINVAL);
	assert_int_equal(nshm_seg_detach(seg, a + 1), -EINVAL);
	assert_int_equal(nshm_seg_detach(seg, a + 4096), -EINVAL);
	assert_int_equal(nshm_seg_detach(seg, a - NSHM_SEG_HDR_SIZE), -EINVAL);
	assert_int_equal(nshm_seg_detach(seg, &local), -EINVAL);
	b = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(b != MAP_FAILED);
	assert_int_equal(nshm_seg_detach(seg, b), -EINVAL); /* foreign map */
	assert_int_equal(nshm_seg_detach(NULL, b), -EINVAL);
	munmap(b, 4096);
	a[0] = 1; /* the failed detaches unmapped nothing */
	assert_int_equal(nshm_seg_detach(seg, a), 0);
	assert_int_equal(nshm_seg_detach(seg, a), -EINVAL); /* twice */
	assert_int_equal(nshm_seg_close(seg), 0);
	assert_int_equal(nshm_seg_close(seg), -EBADF);
	assert_int_equal(nshm_seg_close(NULL), -EBADF);
	assert_int_equal(nshm_seg_delete(name), 0);
}

/* A mapping of one handle is not detached through another handle. */
static void test_detach_wrong_handle(void **state)
{
	const char *name = t_name_in(BACKEND(state), "wrong");
	struct nshm_seg *s1, *s2;
	void *a;

	assert_int_equal(nshm_seg_open(name, 100, NSHM_CREATE, 0, &s1), 0);
	assert_int_equal(nshm_seg_open(name, 0, 0, 0, &s2), 0);
	assert_int_equal(nshm_seg_attach(s1, 0, &a), 0);
	assert_int_equal(nshm_seg_detach(s2, a), -EINVAL);
	assert_int_equal(nshm_seg_detach(s1, a), 0);
	assert_int_equal(nshm_seg_close(s1), 0);
	assert_int_equal(nshm_seg_close(s2), 0);
	assert_int_equal(nshm_seg_delete(name), 0);
}

/* A read-only attach really is read-only: a write faults. */
static void test_readonly_faults(void **state)
{
	const char *name = t_name_in(BACKEND(state), "ro");
	struct nshm_seg *seg;
	volatile unsigned char *ro;
	unsigned char *rw;
	int status;
	pid_t pid;

	assert_int_equal(nshm_seg_open(name, 4096, NSHM_CREATE, 0, &seg), 0);
	assert_int_equal(nshm_seg_attach(seg, 0, (void **)&rw), 0);
	assert_int_equal(nshm_seg_attach(seg, NSHM_READONLY, (void **)&ro), 0);
	rw[10] = 99;
	assert_int_equal(ro[10], 99); /* reads see writes of the other map */

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		signal(SIGSEGV, SIG_DFL);
		ro[10] = 1; /* must fault */
		_exit(0);
	}
	status = t_wait(pid, 5000);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGSEGV);
	assert_int_equal(rw[10], 99);
	assert_int_equal(nshm_seg_detach(seg, (void *)ro), 0);
	assert_int_equal(nshm_seg_detach(seg, rw), 0);
	assert_int_equal(nshm_seg_close(seg), 0);
	assert_int_equal(nshm_seg_delete(name), 0);
}

/* T14: the mode is exactly what was asked, whatever the umask. */
static void test_mode_exact(void **state)
{
	const mode_t umasks[] = { 0, 022, 077 };
	const unsigned modes[] = { 0600, 0660, 0644, 0640, 0400 };

	for (size_t u = 0; u < 3; u++) {
		mode_t old = umask(umasks[u]);

		for (size_t m = 0; m < 5; m++) {
			const char *name = t_name_in(BACKEND(state), "mode");
			struct nshm_seg *seg;
			struct nshm_seg_info info;

			assert_int_equal(nshm_seg_open(name, 64, NSHM_CREATE,
						       modes[m], &seg),
					 0);
			assert_int_equal(nshm_seg_close(seg), 0);
			assert_int_equal(nshm_seg_open(name, 0, 0, 0, &seg), 0);
			assert_int_equal(nshm_seg_stat(seg, &info), 0);
			if (info.mode != modes[m])
				fail_msg("umask %03o mode %03o: got %03o",
					 umasks[u], modes[m], info.mode);
			assert_int_equal(nshm_seg_close(seg), 0);
			assert_int_equal(nshm_seg_delete(name), 0);
		}
		umask(old);
	}
	/* mode 0 means the default, 0600 */
	{
		const char *name = t_name_in(BACKEND(state), "mode0");
		struct nshm_seg *seg;
		struct nshm_seg_info info;

		assert_int_equal(nshm_seg_open(name, 64, NSHM_CREATE, 0, &seg),
				 0);
		assert_int_equal(nshm_seg_stat(seg, &info), 0);
		assert_int_equal(info.mode, NSHM_MODE_DEFAULT);
		assert_int_equal(nshm_seg_close(seg), 0);
		assert_int_equal(nshm_seg_delete(name), 0);
	}
}

/* Options: prefault, mlock, huge pages with fallback. */
static void test_options(void **state)
{
	const char *name = t_name_in(BACKEND(state), "opt");
	struct nshm_seg *seg;
	struct nshm_seg_info info;
	unsigned char *a;

	assert_int_equal(nshm_seg_open(name, 1 << 20,
				       NSHM_CREATE | NSHM_PREFAULT |
					       NSHM_HUGEPAGES | NSHM_MLOCK,
				       0, &seg),
			 0);
	assert_int_equal(nshm_seg_stat(seg, &info), 0);
	/* Huge or not, the area is usable and sized as asked. */
	assert_int_equal(info.size, 1 << 20);
	if (info.huge)
		assert_int_equal(info.map_size % (2u << 20), 0);
	assert_int_equal(nshm_seg_attach(seg, NSHM_PREFAULT, (void **)&a), 0);
	memset(a, 1, 1 << 20);
	assert_int_equal(nshm_seg_detach(seg, a), 0);
	assert_int_equal(nshm_seg_attach(seg, NSHM_READONLY | NSHM_PREFAULT,
					 (void **)&a),
			 0);
	assert_int_equal(a[(1 << 20) - 1], 1);
	assert_int_equal(nshm_seg_detach(seg, a), 0);
	assert_int_equal(nshm_seg_close(seg), 0);
	assert_int_equal(nshm_seg_delete(name), 0);
}

static void test_strerror(void **state)
{
	(void)state;
	for (int e = NSHM_EBASE + 1; e < NSHM_ELAST; e++) {
		assert_non_null(nshm_strerror(-e));
		assert_true(strlen(nshm_strerror(-e)) > 5);
		assert_string_equal(nshm_strerror(e), nshm_strerror(-e));
	}
	assert_string_equal(nshm_strerror(0), "success");
	assert_non_null(strstr(nshm_strerror(-EBADMSG), "not an nshm"));
	assert_non_null(strstr(nshm_strerror(-EPROTO), "version"));
	assert_non_null(strstr(nshm_strerror(-ENOENT), "No such file"));
	assert_non_null(nshm_strerror(-99999));
	assert_non_null(nshm_strerror(-NSHM_EBASE));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		PER_BACKEND(test_create_attach_write_reattach),
		PER_BACKEND(test_close_keeps_mappings),
		PER_BACKEND(test_delete_while_attached),
		PER_BACKEND(test_open_semantics),
		PER_BACKEND(test_bad_arguments),
		PER_BACKEND(test_detach_wrong_handle),
		PER_BACKEND(test_readonly_faults),
		PER_BACKEND(test_mode_exact),
		PER_BACKEND(test_options),
		cmocka_unit_test(test_strerror),
	};

	return cmocka_run_group_tests_name("shm/lifecycle", tests, NULL, NULL);
}
