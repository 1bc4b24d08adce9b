/* SPDX-License-Identifier: MIT */
#ifndef NSHM_TEST_UTIL_H
#define NSHM_TEST_UTIL_H

/*
 * Helpers for every test program: names unique to this run that are deleted
 * at exit even when assertions fail or the program is killed by a signal it
 * can catch, and a fork helper with a watchdog so no test can hang.
 *
 * Include after <nshm/nshm.h> / <nshm/shm.h>. cmocka's headers must come after
 * <stdarg.h>, <stddef.h>, <setjmp.h>; this header includes them in that order.
 */

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <nshm/shm.h>

#define T_MAX_NAMES 256

static char t_names[T_MAX_NAMES][512];
static int t_nnames;
static pid_t t_owner_pid;
static char t_dir[256]; /* private directory for file-backed names */

static void t_cleanup(void)
{
	if (getpid() != t_owner_pid)
		return; /* a forked child: the parent cleans up */
	for (int i = 0; i < t_nnames; i++)
		nshm_seg_delete(t_names[i]);
	t_nnames = 0;
	if (t_dir[0] != '\0') {
		char cmd[300];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t_dir);
		if (system(cmd) != 0)
			fprintf(stderr, "cleanup: could not remove %s\n", t_dir);
		t_dir[0] = '\0';
	}
}

static void t_fatal_signal(int sig)
{
	t_cleanup();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void t_register_cleanup(void)
{
	if (t_owner_pid != 0)
		return;
	t_owner_pid = getpid();
	atexit(t_cleanup);
	signal(SIGTERM, t_fatal_signal);
	signal(SIGINT, t_fatal_signal);
	signal(SIGABRT, t_fatal_signal);
	signal(SIGSEGV, t_fatal_signal);
	signal(SIGBUS, t_fatal_signal);
}

/* Remember @name for deletion at exit; returns it. */
static inline const char *t_track(const char *name)
{
	t_register_cleanup();
	if (t_nnames >= T_MAX_NAMES) {
		fprintf(stderr, "test_util: more than %d names\n", T_MAX_NAMES);
		abort();
	}
	snprintf(t_names[t_nnames], sizeof(t_names[0]), "%s", name);
	return t_names[t_nnames++];
}

/* A fresh POSIX name unique to this process: "nshmt-<tag>-<pid>-<n>". */
static inline const char *t_name(const char *tag)
{
	static unsigned seq;
	char buf[128];

	snprintf(buf, sizeof(buf), "nshmt-%s-%ld-%u", tag, (long)getpid(),
		 seq++);
	return t_track(buf);
}

/* The same with a backend prefix: "sysv:" or "file:<private dir>/". */
static inline const char *t_name_in(const char *backend, const char *tag)
{
	static unsigned seq;
	char buf[512];

	if (strcmp(backend, "file") == 0) {
		if (t_dir[0] == '\0') {
			t_register_cleanup();
			snprintf(t_dir, sizeof(t_dir), "/tmp/nshmt-%ld-XXXXXX",
				 (long)getpid());
			if (mkdtemp(t_dir) == NULL)
				return NULL;
		}
		snprintf(buf, sizeof(buf), "file:%s/%s-%u", t_dir, tag, seq++);
	} else if (strcmp(backend, "sysv") == 0) {
		snprintf(buf, sizeof(buf), "sysv:nshmt-%s-%ld-%u", tag,
			 (long)getpid(), seq++);
	} else {
		snprintf(buf, sizeof(buf), "nshmt-%s-%ld-%u", tag,
			 (long)getpid(), seq++);
	}
	return t_track(buf);
}

/*
 * Wait for @pid at most @timeout_ms; SIGKILL it past that.
 * @return its wait status, or -1 if it had to be killed (a hang).
 */
static inline int t_wait(pid_t pid, int timeout_ms)
{
	int status;

	for (int waited = 0;; waited++) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return status;
		if (r < 0 && errno != EINTR)
			return -1;
		if (waited >= timeout_ms) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return -1;
		}
		usleep(1000);
	}
}

/* True when @status says the child exited with code 0. */
static inline int t_exited_ok(int status)
{
	return status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* CRC-32C, bit by bit: an oracle independent of the library's table. */
static inline uint32_t t_crc32c(const void *buf, size_t len)
{
	const unsigned char *p = buf;
	uint32_t crc = 0xffffffffu;

	while (len--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82f63b78u & -(crc & 1u));
	}
	return ~crc;
}

/*
 * Run a test once per backend: PER_BACKEND(fn) in the CMUnitTest table,
 * BACKEND(state) in the test for "posix", "sysv" or "file".
 */
static const char *const t_backends[] = { "posix", "sysv", "file" };
#define BACKEND(state) (*(const char *const *)*(state))
#define PER_BACKEND(fn)                                                 \
	{ #fn "/posix", fn, NULL, NULL, (void *)&t_backends[0] },       \
		{ #fn "/sysv", fn, NULL, NULL, (void *)&t_backends[1] }, \
		{ #fn "/file", fn, NULL, NULL, (void *)&t_backends[2] }

/* Environment knob for stress sizes: NSHM_TEST_SCALE (default 1). */
static inline double t_scale(void)
{
	const char *s = getenv("NSHM_TEST_SCALE");
	double v = s ? atof(s) : 1.0;

	return v > 0 ? v : 1.0;
}

#endif /* NSHM_TEST_UTIL_H */
