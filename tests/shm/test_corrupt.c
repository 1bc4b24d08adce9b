/* SPDX-License-Identifier: MIT */
/*
 * Foreign, corrupt, truncated and hostile objects at a segment's name: each
 * is refused with its own error, never a crash, a hang or a SIGBUS, and
 * nshm_seg_delete() leaves what is not ours alone.
 */
#include <fcntl.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <nshm/shm.h>
#include "shm/seg_layout.h"
#include "shm/seg_test.h"
#include "test_util.h"

static void reseal(struct nshm_seg_hdr *h)
{
	h->checksum = t_crc32c(&h->magic, offsetof(struct nshm_seg_hdr, checksum) -
						offsetof(struct nshm_seg_hdr, magic));
}

/* Path of a POSIX or file name on disk. */
static const char *path_of(const char *name, char *buf, size_t len)
{
	if (strncmp(name, "file:", 5) == 0)
		snprintf(buf, len, "%s", name + 5);
	else
		snprintf(buf, len, "/dev/shm/%s", name);
	return buf;
}

static void write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static void make_segment(const char *name, size_t size)
{
	struct nshm_seg *seg;

	assert_int_equal(nshm_seg_open(name, size, NSHM_CREATE | NSHM_EXCL, 0,
				       &seg),
			 0);
	assert_int_equal(nshm_seg_close(seg), 0);
}

static void read_hdr(const char *path, struct nshm_seg_hdr *h)
{
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, h, sizeof(*h), 0), (ssize_t)sizeof(*h));
	close(fd);
}

static void write_hdr(const char *path, const struct nshm_seg_hdr *h)
{
	int fd = open(path, O_WRONLY);

	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, h, sizeof(*h), 0), (ssize_t)sizeof(*h));
	close(fd);
}

static int open_rc(const char *name)
{
	struct nshm_seg *seg = NULL;
	int rc = nshm_seg_open(name, 0, 0, 0, &seg);

	if (rc == 0)
		nshm_seg_close(seg);
	else
		assert_null(seg);
	return rc;
}

/* Write @h sealed with a valid checksum; opening must fail with @err. */
static void expect_forged(const char *name, const char *path,
			  struct nshm_seg_hdr *h, int err)
{
	reseal(h);
	write_hdr(path, h);
	assert_int_equal(open_rc(name), err);
}

static void test_foreign_files(void **state)
{
	const char *backend = BACKEND(state);
	unsigned char junk[8192];
	char path[512];
	const char *name;
	struct stat st;

	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (unsigned char)(i * 131 + 7);

	/* Random bytes: not ours; delete leaves it alone. */
	name = t_name_in(backend, "junk");
	write_file(path_of(name, path, sizeof(path)), junk, sizeof(junk));
	assert_int_equal(open_rc(name), -EBADMSG);
	assert_int_equal(nshm_seg_open(name, 10, NSHM_CREATE, 0,
				       &(struct nshm_seg *){ NULL }),
			 -EBADMSG);
	assert_int_equal(nshm_seg_delete(name), -EBADMSG);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, sizeof(junk));
	unlink(path);

	/* A few bytes. */
	name = t_name_in(backend, "tiny");
	write_file(path_of(name, path, sizeof(path)), "abc", 3);
	assert_int_equal(open_rc(name), -EBADMSG);
	/* Tiny debris is deletable: no creator writes less than a header. */
	unlink(path);

	/* Empty: not ours (after the short init wait). */
	name = t_name_in(backend, "empty");
	write_file(path_of(name, path, sizeof(path)), "", 0);
	assert_int_equal(open_rc(name), -EBADMSG);
	assert_int_equal(nshm_seg_delete(name), 0); /* debris: removable */

	/* Zero-filled, full size: a creator that never finished. */
	name = t_name_in(backend, "zeros");
	memset(junk, 0, sizeof(junk));
	write_file(path_of(name, path, sizeof(path)), junk, sizeof(junk));
	assert_int_equal(open_rc(name), -ETIMEDOUT);
	assert_non_null(strstr(nshm_errdetail(), "initialised"));
	unlink(path);
}

static void test_corrupt_headers(void **state)
{
	const char *backend = BACKEND(state);
	struct nshm_seg_hdr good, h;
	char path[512];
	const char *name = t_name_in(backend, "hdr");

	make_segment(name, 65536);
	path_of(name, path, sizeof(path));
	read_hdr(path, &good);
	assert_int_equal(open_rc(name), 0);

	/* Another layout version, properly sealed: -EPROTO. */
	h = good;
	h.layout = (h.layout & ~0xffu) | (NSHM_SEG_VERSION + 1);
	expect_forged(name, path, &h, -EPROTO);
	assert_non_null(strstr(nshm_errdetail(), "version"));

	/* A flipped byte: checksum mismatch. */
	h = good;
	h.name[0] ^= 1;
	write_hdr(path, &h);
	assert_int_equal(open_rc(name), -NSHM_ECORRUPT);
	assert_non_null(strstr(nshm_errdetail(), "checksum"));

	/* Forged, sealed, but impossible fields. */
	const uint64_t bad_user[] = { 0, good.map_size, UINT64_MAX,
				      (uint64_t)1 << 50 };
	for (size_t i = 0; i < 4; i++) {
		h = good;
		h.user_size = bad_user[i];
		expect_forged(name, path, &h, -NSHM_ECORRUPT);
	}
	const uint32_t bad_page[] = { 0, 3, 1024, 1u << 31 };
	for (size_t i = 0; i < 4; i++) {
		h = good;
		h.page_size = bad_page[i];
		expect_forged(name, path, &h, -NSHM_ECORRUPT);
	}
	h = good;
	h.hdr_size = 8192;
	expect_forged(name, path, &h, -NSHM_ECORRUPT);
	h = good;
	h.map_size += 1; /* not a page multiple */
	expect_forged(name, path, &h, -NSHM_ECORRUPT);
	h = good;
	h.backend = NSHM_BACKEND_SYSV; /* says it is another backend */
	expect_forged(name, path, &h, -NSHM_ECORRUPT);
	h = good;
	h.name_len = 4000;
	expect_forged(name, path, &h, -NSHM_ECORRUPT);
	h = good;
	memset(h.name, 'x', sizeof(h.name)); /* no terminator */
	expect_forged(name, path, &h, -NSHM_ECORRUPT);

	/* A header claiming more than the file holds: truncated. */
	h = good;
	h.map_size = good.map_size * 4;
	h.user_size = good.map_size * 2;
	expect_forged(name, path, &h, -NSHM_ETRUNCATED);

	/* The state word: garbage, poisoned. */
	h = good;
	atomic_store(&h.state, 77);
	write_hdr(path, &h);
	assert_int_equal(open_rc(name), -NSHM_ECORRUPT);
	h = good;
	atomic_store(&h.state, NSHM_SEG_POISONED);
	write_hdr(path, &h);
	assert_int_equal(open_rc(name), -ENOTRECOVERABLE);

	/* Our own corrupt segments can still be deleted. */
	write_hdr(path, &good);
	assert_int_equal(open_rc(name), 0);
	assert_int_equal(nshm_seg_delete(name), 0);
}

/* Another process shrinks the file: open and attach refuse, no SIGBUS. */
static void test_truncated(void **state)
{
	const char *backend = BACKEND(state);
	const char *name = t_name_in(backend, "trunc");
	struct nshm_seg *seg;
	char path[512];
	void *a;
	pid_t pid;

	make_segment(name, 1 << 20);
	path_of(name, path, sizeof(path));
	assert_int_equal(nshm_seg_open(name, 0, 0, 0, &seg), 0);

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(truncate(path, 8192) == 0 ? 0 : 1);
	assert_true(t_exited_ok(t_wait(pid, 5000)));

	assert_int_equal(nshm_seg_attach(seg, 0, &a), -NSHM_ETRUNCATED);
	assert_int_equal(open_rc(name), -NSHM_ETRUNCATED);
	assert_non_null(strstr(nshm_errdetail(), "8192"));
	/* Shorter than the header page itself, magic intact. */
	assert_int_equal(truncate(path, 100), 0);
	assert_int_equal(open_rc(name), -NSHM_ETRUNCATED);
	assert_int_equal(nshm_seg_close(seg), 0);
	assert_int_equal(nshm_seg_delete(name), 0);
}

/* Special files at the name: refused without blocking or following. */
static void test_special_files(void **state)
{
	const char *backend = BACKEND(state);
	const char *name, *target_name;
	char path[600], target[512];
	unsigned char before[4096], after[4096];
	int fd;

	/* A FIFO would block a plain open(2). */
	name = t_name_in(backend, "fifo");
	path_of(name, path, sizeof(path));
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(open_rc(name), -EBADMSG);
	assert_int_equal(nshm_seg_delete(name), -EBADMSG);
	unlink(path);

	/* A directory. */
	name = t_name_in(backend, "dir");
	path_of(name, path, sizeof(path));
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(open_rc(name), -EISDIR);
	assert_int_equal(nshm_seg_open(name, 10, NSHM_CREATE, 0,
				       &(struct nshm_seg *){ NULL }),
			 -EISDIR);
	rmdir(path);

	/* Symbolic links, dangling and to a victim file: never followed. */
	target_name = t_name_in(backend, "victim");
	path_of(target_name, target, sizeof(target));
	memset(before, 0x5a, sizeof(before));
	write_file(target, before, sizeof(before));
	name = t_name_in(backend, "link");
	path_of(name, path, sizeof(path));
	assert_int_equal(symlink(target, path), 0);
	assert_int_equal(open_rc(name), -ELOOP);
	assert_int_equal(nshm_seg_open(name, 10, NSHM_CREATE, 0,
				       &(struct nshm_seg *){ NULL }),
			 -ELOOP);
	assert_int_equal(nshm_seg_delete(name), -ELOOP);
	fd = open(target, O_RDONLY);
	assert_int_equal(read(fd, after, sizeof(after)), sizeof(after));
	close(fd);
	assert_memory_equal(before, after, sizeof(before)); /* untouched */
	unlink(path);
	assert_int_equal(symlink("/nonexistent/nshm-target", path), 0);
	assert_int_equal(open_rc(name), -ELOOP);
	assert_int_equal(nshm_seg_open(name, 10, NSHM_CREATE | NSHM_EXCL, 0,
				       &(struct nshm_seg *){ NULL }),
			 -EEXIST);
	unlink(path);
	unlink(target);

	/* A hard link to a segment file (file backend only refuses it). */
	if (strcmp(backend, "file") == 0) {
		name = t_name_in(backend, "orig");
		make_segment(name, 4096);
		path_of(name, target, sizeof(target));
		snprintf(path, sizeof(path), "%s.hard", target);
		assert_int_equal(link(target, path), 0);
		assert_int_equal(open_rc(name), -EPERM);
		unlink(path);
		assert_int_equal(open_rc(name), 0);
		assert_int_equal(nshm_seg_delete(name), 0);
	}
}

/* ---- System V -------------------------------------------------------------- */

static key_t sysv_key_of(const char *leaf)
{
	uint32_t h = 2166136261u;

	for (const char *p = "nshm-sysv:"; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	for (const char *p = leaf; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	return (key_t)(h ? h : 1);
}

static void test_sysv_foreign(void **state)
{
	const char *name = t_name_in("sysv", "foreign");
	key_t key = sysv_key_of(name + 5);
	unsigned char *p;
	int id;
	(void)state;

	/* Someone else's segment at our key. */
	id = shmget(key, 8192, IPC_CREAT | IPC_EXCL | 0600);
	assert_true(id >= 0);
	p = shmat(id, NULL, 0);
	assert_true(p != (void *)-1);
	memset(p, 0x77, 8192);
	assert_int_equal(open_rc(name), -EBADMSG);
	assert_int_equal(nshm_seg_delete(name), -EBADMSG);
	assert_int_equal(shmget(key, 0, 0), id); /* left alone */
	shmdt(p);
	shmctl(id, IPC_RMID, NULL);

	/* Too small to hold a header. */
	id = shmget(key, 100, IPC_CREAT | IPC_EXCL | 0600);
	assert_true(id >= 0);
	assert_int_equal(open_rc(name), -EBADMSG);
	assert_int_equal(nshm_seg_delete(name), -EBADMSG);
	shmctl(id, IPC_RMID, NULL);
}

/* Two names, one key: the header's name tells them apart. */
static void test_sysv_collision(void **state)
{
	const char *a = t_name_in("sysv", "colA");
	const char *b = t_name_in("sysv", "colB");
	struct nshm_seg *seg;
	void *area;
	unsigned char *p;
	int id;
	(void)state;

	assert_int_equal(nshm_seg_open(a, 4096, NSHM_CREATE, 0, &seg), 0);
	assert_int_equal(nshm_seg_attach(seg, 0, &area), 0);
	id = shmget(sysv_key_of(b + 5), 8192, IPC_CREAT | IPC_EXCL | 0600);
	assert_true(id >= 0);
	p = shmat(id, NULL, 0);
	assert_true(p != (void *)-1);
	memcpy(p, (unsigned char *)area - NSHM_SEG_HDR_SIZE, 4096);
	shmdt(p);

	assert_int_equal(open_rc(b), -NSHM_ECOLLISION);
	assert_non_null(strstr(nshm_errdetail(), a));
	assert_int_equal(nshm_seg_open(b, 10, NSHM_CREATE, 0,
				       &(struct nshm_seg *){ NULL }),
			 -NSHM_ECOLLISION);
	assert_int_equal(nshm_seg_delete(b), -NSHM_ECOLLISION);
	assert_int_equal(shmctl(id, IPC_RMID, NULL), 0);
	assert_int_equal(nshm_seg_detach(seg, area), 0);
	assert_int_equal(nshm_seg_close(seg), 0);
	assert_int_equal(nshm_seg_delete(a), 0);
}

/* A creator died before publishing: openers learn it at once. */
static void test_sysv_dead_creator(void **state)
{
	const char *name = t_name_in("sysv", "dead");
	key_t key = sysv_key_of(name + 5);
	struct nshm_seg *seg;
	uint64_t t0;
	int id;
	(void)state;

	/*
	 * What a creator leaves if killed between shmget and publication:
	 * made by a child that is gone (a live creator is waited for).
	 */
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(shmget(key, 8192, IPC_CREAT | IPC_EXCL | 0600) >= 0 ? 0 : 1);
	assert_true(t_exited_ok(t_wait(pid, 5000)));
	id = shmget(key, 0, 0);
	assert_true(id >= 0);
	nshm__seg_test_set(NSHM__SEG_KNOB_INIT_TIMEOUT_MS, 5000);
	t0 = (uint64_t)time(NULL);
	assert_int_equal(open_rc(name), -ETIMEDOUT);
	assert_true((uint64_t)time(NULL) - t0 < 3); /* no full wait */
	assert_non_null(strstr(nshm_errdetail(), "died"));
	/* With CREATE, the debris is replaced by a good segment. */
	assert_int_equal(nshm_seg_open(name, 100, NSHM_CREATE, 0, &seg), 0);
	assert_int_equal(nshm_seg_close(seg), 0);
	assert_int_equal(open_rc(name), 0);
	nshm__seg_test_set(NSHM__SEG_KNOB_INIT_TIMEOUT_MS, 100);
	assert_int_equal(nshm_seg_delete(name), 0);
}

static const char *file_backends[] = { "posix", "file" };

int main(void)
{
	const struct CMUnitTest tests[] = {
		{ "foreign/posix", test_foreign_files, NULL, NULL,
		  (void *)&file_backends[0] },
		{ "foreign/file", test_foreign_files, NULL, NULL,
		  (void *)&file_backends[1] },
		{ "corrupt/posix", test_corrupt_headers, NULL, NULL,
		  (void *)&file_backends[0] },
		{ "corrupt/file", test_corrupt_headers, NULL, NULL,
		  (void *)&file_backends[1] },
		{ "truncated/posix", test_truncated, NULL, NULL,
		  (void *)&file_backends[0] },
		{ "truncated/file", test_truncated, NULL, NULL,
		  (void *)&file_backends[1] },
		{ "special/posix", test_special_files, NULL, NULL,
		  (void *)&file_backends[0] },
		{ "special/file", test_special_files, NULL, NULL,
		  (void *)&file_backends[1] },
		cmocka_unit_test(test_sysv_foreign),
		cmocka_unit_test(test_sysv_collision),
		cmocka_unit_test(test_sysv_dead_creator),
	};

	/* Foreign empty files wait this long for a creator that never comes. */
	nshm__seg_test_set(NSHM__SEG_KNOB_INIT_TIMEOUT_MS, 100);
	return cmocka_run_group_tests_name("shm/corrupt", tests, NULL, NULL);
}
