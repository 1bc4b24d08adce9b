/* SPDX-License-Identifier: MIT */
/*
 * Futex wait/wake on 32-bit words in shared mappings, and deadlines.
 *
 * Every futex call here is a *shared* futex: the kernel keys it on the
 * backing page and offset, so a waiter in one process is found by a waker in
 * another, whatever address each mapped the segment at. FUTEX_PRIVATE_FLAG
 * would key on (mm, address) and silently lose cross-process wake-ups
 * (research notes, experiment F2).
 *
 * Deadlines are absolute CLOCK_MONOTONIC times passed to FUTEX_WAIT_BITSET
 * (absolute, monotonic by default), so retries after EINTR or a spurious
 * wake-up never stretch the total wait.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "sync/sync_internal.h"

static long sys_futex(_Atomic(uint32_t) *word, int op, uint32_t val,
		      const struct timespec *ts, uint32_t val3)
{
	return syscall(SYS_futex, word, op, val, ts, NULL, val3);
}

struct timespec *nshm_deadline_in(struct timespec *ts, uint64_t ns)
{
	uint64_t t;

	if (ts == NULL)
		return NULL;
	t = nshm__now_ns();
	/* Saturate instead of wrapping: "in 2^64 ns" means "never". */
	t = (ns > UINT64_MAX - t) ? UINT64_MAX / 2 : t + ns;
	ts->tv_sec = (time_t)(t / 1000000000u);
	ts->tv_nsec = (long)(t % 1000000000u);
	return ts;
}

int nshm__deadline_check(const struct timespec *deadline)
{
	if (deadline == NULL)
		return 0;
	if (deadline->tv_sec < 0 || deadline->tv_nsec < 0 ||
	    deadline->tv_nsec >= 1000000000L)
		return nshm__err(-EINVAL,
				 "deadline {%lld s, %ld ns} is not a valid "
				 "timespec",
				 (long long)deadline->tv_sec,
				 (long)deadline->tv_nsec);
	return 0;
}

bool nshm__deadline_passed(const struct timespec *deadline)
{
	return deadline != NULL && nshm__ns_until(deadline) == 0;
}

int nshm__futex_wait_raw(_Atomic(uint32_t) *word, uint32_t expected,
			 const struct timespec *deadline)
{
	if (sys_futex(word, FUTEX_WAIT_BITSET, expected, deadline,
		      FUTEX_BITSET_MATCH_ANY) == 0)
		return 0;
	return -errno;
}

int nshm__futex_wake_raw(_Atomic(uint32_t) *word, int n)
{
	long r = sys_futex(word, FUTEX_WAKE, (uint32_t)n, NULL, 0);

	return r < 0 ? -errno : (int)r;
}

int nshm_futex_wait(_Atomic(uint32_t) *word, uint32_t expected,
		    const struct timespec *deadline)
{
	int ret;

	if (word == NULL || ((uintptr_t)word & 3u) != 0)
		return nshm__err(-EINVAL, "futex word %p is NULL or not "
				 "4-byte aligned", (void *)word);
	ret = nshm__deadline_check(deadline);
	if (ret != 0)
		return ret;

	/*
	 * Relaxed: the kernel re-reads *word under its hash-bucket lock, and
	 * callers that need the data behind the word load it with acquire
	 * themselves after we return (the word is theirs, not ours).
	 */
	while (atomic_load_explicit(word, memory_order_relaxed) == expected) {
		if (nshm__deadline_passed(deadline))
			return -ETIMEDOUT; /* no syscall for a past deadline */
		ret = nshm__futex_wait_raw(word, expected, deadline);
		switch (ret) {
		case 0:	      /* woken, maybe spuriously: re-check the word */
		case -EAGAIN: /* the word changed before we slept */
		case -EINTR:  /* a signal; the deadline is absolute, retry */
			continue;
		case -ETIMEDOUT:
			return ret;
		default: /* -EFAULT (not mapped), -EINVAL, -ENOSYS */
			return nshm__err(ret, "FUTEX_WAIT_BITSET on %p failed",
					 (void *)word);
		}
	}
	return 0;
}

int nshm_futex_wake(_Atomic(uint32_t) *word, int n)
{
	int ret;

	if (word == NULL || ((uintptr_t)word & 3u) != 0)
		return nshm__err(-EINVAL, "futex word %p is NULL or not "
				 "4-byte aligned", (void *)word);
	if (n <= 0)
		return nshm__err(-EINVAL, "futex wake count %d must be > 0",
				 n);
	ret = nshm__futex_wake_raw(word, n);
	if (ret < 0)
		return nshm__err(ret, "FUTEX_WAKE on %p failed", (void *)word);
	return ret;
}
