/* SPDX-License-Identifier: MIT */
/*
 * System limits and permissions: each failure names the limit and how to
 * raise it, and leaves nothing behind. These cases change users, mount
 * namespaces, IPC namespaces and rlimits, so each runs in a forked child;
 * they need root (CI runs as root) and skip otherwise.
 */
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <nshm/shm.h>
#include "test_util.h"

#define NOBODY 65534

/* Child exit codes. */
enum { C_OK = 0, C_FAIL = 1, C_SKIP = 77 };

static int child_result(pid_t pid)
{
	int st = t_wait(pid, 20000);

	if (st == -1)
		fail_msg("child hung");
	if (WIFSIGNALED(st))
		fail_msg("child killed by signal %d", WTERMSIG(st));
	return WEXITSTATUS(st);
}

#define CHECK(cond)                                                         \
	do {                                                                \
		if (!(cond)) {                                              \
			fprintf(stderr, "%s:%d: %s failed (detail: %s)\n", \
				__FILE__, __LINE__, #cond, nshm_errdetail()); \
			_exit(C_FAIL);                                      \
		}                                                           \
	} while (0)

static void need_root(void)
{
	if (geteuid() != 0)
		skip();
}

/* A private mount namespace with a small tmpfs at @dir. */
static int small_tmpfs(const char *dir, const char *size)
{
	char opts[64];

	if (unshare(CLONE_NEWNS) != 0 ||
	    mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
		return -1;
	snprintf(opts, sizeof(opts), "size=%s,mode=1777", size);
	return mount("tmpfs", dir, "tmpfs", 0, opts);
}

/* /dev/shm full (as in a 64 MiB container): -ENOSPC at open, not SIGBUS. */
static void test_dev_shm_full(void **state)
{
	const char *name = t_name("full");
	pid_t pid;
	(void)state;

	need_root();
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct nshm_seg *seg = NULL;
		void *a;
		int rc;

		if (small_tmpfs("/dev/shm", "1m") != 0)
			_exit(C_SKIP);
		rc = nshm_seg_open(name, 4 << 20, NSHM_CREATE, 0, &seg);
		CHECK(rc == -ENOSPC && seg == NULL);
		CHECK(strstr(nshm_errdetail(), "/dev/shm") != NULL);
		CHECK(strstr(nshm_errdetail(), "shm-size") != NULL);
		/* Nothing left behind, and smaller segments still fit. */
		CHECK(nshm_seg_delete(name) == -ENOENT);
		CHECK(nshm_seg_open(name, 256 << 10, NSHM_CREATE, 0, &seg) == 0);
		CHECK(nshm_seg_attach(seg, 0, &a) == 0);
		memset(a, 1, 256 << 10); /* every page is really there */
		CHECK(nshm_seg_detach(seg, a) == 0);
		CHECK(nshm_seg_close(seg) == 0);
		CHECK(nshm_seg_delete(name) == 0);
		_exit(C_OK);
	}
	switch (child_result(pid)) {
	case C_SKIP:
		skip();
		break;
	case C_OK:
		break;
	default:
		fail_msg("see stderr");
	}
}

/* A full file system under a file-backed segment. */
static void test_file_fs_full(void **state)
{
	char dir[] = "/tmp/nshmt-fsfull-XXXXXX";
	pid_t pid;
	(void)state;

	need_root();
	assert_non_null(mkdtemp(dir));
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char name[128];
		struct nshm_seg *seg = NULL;

		if (small_tmpfs(dir, "1m") != 0)
			_exit(C_SKIP);
		snprintf(name, sizeof(name), "file:%s/seg", dir);
		CHECK(nshm_seg_open(name, 8 << 20, NSHM_CREATE, 0, &seg) ==
		      -ENOSPC);
		CHECK(strstr(nshm_errdetail(), dir) != NULL);
		CHECK(access(name + 5, F_OK) != 0); /* no stray file */
		_exit(C_OK);
	}
	assert_int_equal(child_result(pid), C_OK);
	rmdir(dir);
}

static int write_proc(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY);
	int ok;

	if (fd < 0)
		return -1;
	ok = write(fd, val, strlen(val)) == (ssize_t)strlen(val);
	close(fd);
	return ok ? 0 : -1;
}

/* SysV shmmax and shmmni, in a private IPC namespace. */
static void test_sysv_limits(void **state)
{
	pid_t pid;
	(void)state;

	need_root();
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct nshm_seg *a, *b = NULL;

		if (unshare(CLONE_NEWIPC) != 0)
			_exit(C_SKIP);
		CHECK(write_proc("/proc/sys/kernel/shmmax", "65536") == 0);
		CHECK(nshm_seg_open("sysv:lim-big", 1 << 20, NSHM_CREATE, 0,
				    &b) == -EFBIG);
		CHECK(strstr(nshm_errdetail(), "shmmax") != NULL);
		CHECK(write_proc("/proc/sys/kernel/shmmni", "1") == 0);
		CHECK(nshm_seg_open("sysv:lim-1", 4096, NSHM_CREATE, 0, &a) ==
		      0);
		CHECK(nshm_seg_open("sysv:lim-2", 4096, NSHM_CREATE, 0, &b) ==
		      -ENOSPC);
		CHECK(strstr(nshm_errdetail(), "shmmni") != NULL);
		CHECK(b == NULL);
		CHECK(nshm_seg_close(a) == 0);
		CHECK(nshm_seg_delete("sysv:lim-1") == 0);
		_exit(C_OK);
	}
	assert_int_equal(child_result(pid), C_OK);
}

/* As another user: mode denial, foreign owner refused unless trusted. */
static void test_other_user(void **state)
{
	const char *kinds[] = { "posix", "sysv" };
	(void)state;

	need_root();
	for (int k = 0; k < 2; k++) {
		const char *secret = t_name_in(kinds[k], "secret");
		const char *shared = t_name_in(kinds[k], "shared");
		struct nshm_seg *s1, *s2;
		unsigned char *p;
		pid_t pid;

		assert_int_equal(nshm_seg_open(secret, 4096, NSHM_CREATE, 0600,
					       &s1),
				 0);
		assert_int_equal(nshm_seg_open(shared, 4096, NSHM_CREATE, 0644,
					       &s2),
				 0);
		assert_int_equal(nshm_seg_attach(s2, 0, (void **)&p), 0);
		p[0] = 42;
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			struct nshm_seg *s = NULL;
			volatile unsigned char *r;

			CHECK(setgid(NOBODY) == 0 && setuid(NOBODY) == 0);
			CHECK(nshm_seg_open(secret, 0, 0, 0, &s) == -EACCES);
			CHECK(nshm_seg_open(secret, 0, NSHM_ALLOW_OTHER_OWNER,
					    0, &s) == -EACCES);
			/* Readable, but not ours: refused by default... */
			CHECK(nshm_seg_open(shared, 0, 0, 0, &s) == -EPERM);
			CHECK(strstr(nshm_errdetail(), "NSHM_ALLOW_OTHER_OWNER"));
			/* ...trusted on request, read-only as its mode says. */
			CHECK(nshm_seg_open(shared, 0, NSHM_ALLOW_OTHER_OWNER,
					    0, &s) == 0);
			CHECK(nshm_seg_attach(s, 0, (void **)&r) == -EACCES);
			CHECK(nshm_seg_attach(s, NSHM_READONLY, (void **)&r) ==
			      0);
			CHECK(r[0] == 42);
			/* Not the owner: cannot delete it. */
			CHECK(nshm_seg_delete(shared) == -EPERM ||
			      nshm_seg_delete(shared) == -EACCES);
			_exit(C_OK);
		}
		assert_int_equal(child_result(pid), C_OK);
		assert_int_equal(p[0], 42);
		assert_int_equal(nshm_seg_detach(s2, p), 0);
		assert_int_equal(nshm_seg_close(s1), 0);
		assert_int_equal(nshm_seg_close(s2), 0);
		assert_int_equal(nshm_seg_delete(secret), 0);
		assert_int_equal(nshm_seg_delete(shared), 0);
	}
}

/* NSHM_MLOCK beyond RLIMIT_MEMLOCK (root ignores the limit: be nobody). */
static void test_mlock_limit(void **state)
{
	const char *name = t_name("mlock");
	pid_t pid;
	(void)state;

#if defined(__SANITIZE_ADDRESS__)
	skip(); /* ASan's mlock() interceptor does nothing and returns 0 */
#endif
	need_root();
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct rlimit rl = { 64 << 10, 64 << 10 };
		struct nshm_seg *seg;
		void *a = NULL;

		CHECK(setrlimit(RLIMIT_MEMLOCK, &rl) == 0);
		CHECK(setgid(NOBODY) == 0 && setuid(NOBODY) == 0);
		CHECK(nshm_seg_open(name, 1 << 20, NSHM_CREATE | NSHM_MLOCK, 0,
				    &seg) == 0);
		CHECK(nshm_seg_attach(seg, 0, &a) == -ENOMEM);
		CHECK(a == NULL);
		CHECK(strstr(nshm_errdetail(), "RLIMIT_MEMLOCK") != NULL);
		CHECK(strstr(nshm_errdetail(), "ulimit -l") != NULL);
		/* Without mlock the same segment maps fine. */
		CHECK(nshm_seg_close(seg) == 0);
		CHECK(nshm_seg_open(name, 0, 0, 0, &seg) == 0);
		CHECK(nshm_seg_attach(seg, 0, &a) == 0);
		CHECK(nshm_seg_detach(seg, a) == 0);
		CHECK(nshm_seg_close(seg) == 0);
		CHECK(nshm_seg_delete(name) == 0);
		_exit(C_OK);
	}
	assert_int_equal(child_result(pid), C_OK);
}

/* Out of address space for another mapping: the error says which limits. */
static void test_map_limit(void **state)
{
	const char *name = t_name("aslimit");
	struct nshm_seg *seg;
	pid_t pid;
	(void)state;

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
	skip(); /* sanitizers reserve terabytes of address space */
#endif
	assert_int_equal(nshm_seg_open(name, 64 << 20, NSHM_CREATE, 0, &seg),
			 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct rlimit rl = { 0, 0 };
		void *a = NULL;
		FILE *f = fopen("/proc/self/statm", "r");
		unsigned long pages = 0;

		CHECK(f && fscanf(f, "%lu", &pages) == 1);
		fclose(f);
		rl.rlim_cur = rl.rlim_max = pages * 4096 + (16 << 20);
		CHECK(setrlimit(RLIMIT_AS, &rl) == 0);
		CHECK(nshm_seg_attach(seg, 0, &a) == -ENOMEM);
		CHECK(strstr(nshm_errdetail(), "max_map_count") != NULL);
		_exit(C_OK);
	}
	assert_int_equal(child_result(pid), C_OK);
	assert_int_equal(nshm_seg_close(seg), 0);
	assert_int_equal(nshm_seg_delete(name), 0);
}

/*
 * Huge pages: with a pool, SysV and hugetlbfs segments get them; without,
 * the same open falls back to normal pages (test_lifecycle covers that).
 */
static void test_huge_pages(void **state)
{
	const char *pool = "/proc/sys/vm/nr_hugepages";
	unsigned long before = 0, now = 0;
	char buf[32];
	FILE *f;
	(void)state;

	need_root();
	f = fopen(pool, "r");
	assert_non_null(f);
	assert_int_equal(fscanf(f, "%lu", &before), 1);
	fclose(f);
	snprintf(buf, sizeof(buf), "%lu", before + 4);
	if (write_proc(pool, buf) != 0)
		skip();
	f = fopen(pool, "r");
	assert_int_equal(fscanf(f, "%lu", &now), 1);
	fclose(f);
	if (now < before + 2) {
		snprintf(buf, sizeof(buf), "%lu", before);
		write_proc(pool, buf);
		skip(); /* no memory for huge pages here */
	}

	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		const char *sysv = "sysv:nshmt-huge";
		char dir[] = "/tmp/nshmt-huge-XXXXXX", name[128];
		struct nshm_seg *seg;
		struct nshm_seg_info info;
		unsigned char *a;

		nshm_seg_delete(sysv);
		CHECK(nshm_seg_open(sysv, 1 << 20, NSHM_CREATE | NSHM_HUGEPAGES,
				    0, &seg) == 0);
		CHECK(nshm_seg_stat(seg, &info) == 0);
		CHECK(info.huge && info.page_size == (2u << 20));
		CHECK(nshm_seg_attach(seg, 0, (void **)&a) == 0);
		memset(a, 3, 1 << 20);
		CHECK(nshm_seg_detach(seg, a) == 0);
		CHECK(nshm_seg_close(seg) == 0);
		CHECK(nshm_seg_delete(sysv) == 0);

		/* A file segment on a hugetlbfs mount. */
		CHECK(mkdtemp(dir) != NULL);
		if (unshare(CLONE_NEWNS) != 0 ||
		    mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
		    mount("hugetlbfs", dir, "hugetlbfs", 0, "mode=0700") != 0) {
			rmdir(dir);
			_exit(C_OK); /* no hugetlbfs: the SysV part passed */
		}
		snprintf(name, sizeof(name), "file:%s/seg", dir);
		CHECK(nshm_seg_open(name, 100000, NSHM_CREATE, 0, &seg) == 0);
		CHECK(nshm_seg_stat(seg, &info) == 0);
		CHECK(info.huge && info.page_size == (2u << 20) &&
		      info.map_size == (2u << 20));
		CHECK(nshm_seg_attach(seg, 0, (void **)&a) == 0);
		a[99999] = 1;
		CHECK(nshm_seg_detach(seg, a) == 0);
		CHECK(nshm_seg_close(seg) == 0);
		CHECK(nshm_seg_open(name, 0, 0, 0, &seg) == 0); /* reopen */
		CHECK(nshm_seg_close(seg) == 0);
		CHECK(nshm_seg_delete(name) == 0);
		umount(dir);
		rmdir(dir);
		_exit(C_OK);
	}
	int rc = child_result(pid);

	snprintf(buf, sizeof(buf), "%lu", before);
	write_proc(pool, buf);
	assert_int_equal(rc, C_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dev_shm_full),
		cmocka_unit_test(test_file_fs_full),
		cmocka_unit_test(test_sysv_limits),
		cmocka_unit_test(test_other_user),
		cmocka_unit_test(test_mlock_limit),
		cmocka_unit_test(test_map_limit),
		cmocka_unit_test(test_huge_pages),
	};

	return cmocka_run_group_tests_name("shm/limits", tests, NULL, NULL);
}
