/* SPDX-License-Identifier: MIT */
/* T12: every malformed name is refused before any system call. */
#include <limits.h>
#include <nshm/shm.h>
#include "test_util.h"

struct bad {
	const char *name;
	int err;
};

static void test_bad_names(void **state)
{
	static char too_long[NSHM_NAME_MAX + 2], too_long_sysv[300],
		long_path[PATH_MAX + 16], long_leaf[NAME_MAX + 16];
	struct nshm_seg *seg = NULL;
	(void)state;

	memset(too_long, 'a', sizeof(too_long) - 1);
	snprintf(too_long_sysv, sizeof(too_long_sysv), "sysv:%s", too_long);
	memcpy(long_path, "file:/tmp/", 10);
	memset(long_path + 10, 'p', sizeof(long_path) - 11);
	memcpy(long_leaf, "file:/tmp/", 10);
	memset(long_leaf + 10, 'q', sizeof(long_leaf) - 11);

	const struct bad bad[] = {
		{ "", -NSHM_EBADNAME },
		{ "/", -NSHM_EBADNAME },
		{ "//x", -NSHM_EBADNAME },
		{ "/a/b", -NSHM_EBADNAME },
		{ "a/b", -NSHM_EBADNAME },
		{ "..", -NSHM_EBADNAME },
		{ "/..", -NSHM_EBADNAME },
		{ ".", -NSHM_EBADNAME },
		{ "/.", -NSHM_EBADNAME },
		{ ".hidden", -NSHM_EBADNAME },
		{ "-x", -NSHM_EBADNAME },
		{ "a\nb", -NSHM_EBADNAME },
		{ "a\tb", -NSHM_EBADNAME },
		{ "a\x7f", -NSHM_EBADNAME },
		{ "a b", -NSHM_EBADNAME },
		{ "a:b", -NSHM_EBADNAME },
		{ "posix:x", -NSHM_EBADNAME },
		{ "caf\xc3\xa9", -NSHM_EBADNAME },
		{ "a*", -NSHM_EBADNAME },
		{ "$(rm)", -NSHM_EBADNAME },
		{ too_long, -ENAMETOOLONG },
		{ "sysv:", -NSHM_EBADNAME },
		{ "sysv:/", -NSHM_EBADNAME },
		{ "sysv:a/b", -NSHM_EBADNAME },
		{ "sysv:..", -NSHM_EBADNAME },
		{ too_long_sysv, -ENAMETOOLONG },
		{ "file:", -NSHM_EBADNAME },
		{ "file:/tmp/", -NSHM_EBADNAME },
		{ "file:/tmp/.", -NSHM_EBADNAME },
		{ "file:/tmp/../etc/passwd", -NSHM_EBADNAME },
		{ "file:..", -NSHM_EBADNAME },
		{ "file:a/../b", -NSHM_EBADNAME },
		{ "file:/tmp/a\nb", -NSHM_EBADNAME },
		{ "file:/tmp/\x01", -NSHM_EBADNAME },
		{ long_path, -ENAMETOOLONG },
		{ long_leaf, -ENAMETOOLONG },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = nshm_name_check(bad[i].name);

		if (rc != bad[i].err)
			fail_msg("name #%zu \"%.40s\": got %d, want %d", i,
				 bad[i].name, rc, bad[i].err);
		assert_true(nshm_errdetail()[0] != '\0');
		/* open and delete refuse it the same way, creating nothing */
		assert_int_equal(nshm_seg_open(bad[i].name, 4096,
					       NSHM_CREATE, 0600, &seg),
				 bad[i].err);
		assert_null(seg);
		assert_int_equal(nshm_seg_delete(bad[i].name), bad[i].err);
	}
	assert_int_equal(nshm_name_check(NULL), -EINVAL);
	assert_int_equal(nshm_seg_open(NULL, 1, NSHM_CREATE, 0, &seg), -EINVAL);
	assert_int_equal(nshm_seg_delete(NULL), -EINVAL);
}

static void test_good_names(void **state)
{
	char max[NSHM_NAME_MAX + 1];
	const char *good[] = { "x", "/x", "ticks", "a.b-c_d", "A9", "x..y",
			       "sysv:x", "sysv:/x", "file:/tmp/x",
			       "file:rel/x", "file:x", "file:/tmp/a b",
			       "file:/tmp/.hidden", max };
	(void)state;

	memset(max, 'm', sizeof(max) - 1);
	max[sizeof(max) - 1] = '\0';
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (nshm_name_check(good[i]) != 0)
			fail_msg("good name \"%.40s\" refused: %s", good[i],
				 nshm_errdetail());
}

/* A name with and without its leading '/' is one segment. */
static void test_slash_is_same_segment(void **state)
{
	const char *n = t_name("slash");
	char slashed[600];
	struct nshm_seg *a, *b;
	struct nshm_seg_info info;
	(void)state;

	snprintf(slashed, sizeof(slashed), "/%s", n);
	assert_int_equal(nshm_seg_open(n, 100, NSHM_CREATE | NSHM_EXCL, 0, &a),
			 0);
	assert_int_equal(nshm_seg_open(slashed, 0, 0, 0, &b), 0);
	assert_int_equal(nshm_seg_stat(b, &info), 0);
	assert_string_equal(info.name, n);
	assert_int_equal(nshm_seg_close(a), 0);
	assert_int_equal(nshm_seg_close(b), 0);
	assert_int_equal(nshm_seg_delete(slashed), 0);
	assert_int_equal(nshm_seg_delete(n), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_names),
		cmocka_unit_test(test_good_names),
		cmocka_unit_test(test_slash_is_same_segment),
	};

	return cmocka_run_group_tests_name("shm/names", tests, NULL, NULL);
}
