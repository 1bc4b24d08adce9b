/* SPDX-License-Identifier: MIT */
#ifndef NSHM_SYNC_TEST_H
#define NSHM_SYNC_TEST_H

/* Helpers shared by the sync tests. Include after test_util.h. */

#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include <nshm/shm.h>
#include <nshm/sync.h>

static inline uint64_t st_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * fork() without the atfork handlers (glibc's _Fork). For children that
 * only touch shared memory and exit: liburcu's call_rcu atfork handlers
 * (installed by the segment registry) cost ~12 ms per fork once a
 * call_rcu worker exists, which would dominate loops of thousands of trials.
 */
static inline pid_t st_fork(void)
{
	return _Fork();
}

/* Create + attach a fresh segment of @size bytes; fails the test if not. */
static inline void *st_segment(const char *name, size_t size,
			       struct nshm_seg **seg)
{
	void *area = NULL;

	assert_int_equal(nshm_seg_open(name, size, NSHM_CREATE | NSHM_EXCL,
				       0600, seg), 0);
	assert_int_equal(nshm_seg_attach(*seg, 0, &area), 0);
	return area;
}

/* Open an existing segment by name and attach it (child side). */
static inline void *st_attach(const char *name, struct nshm_seg **seg)
{
	void *area = NULL;

	if (nshm_seg_open(name, 0, 0, 0, seg) != 0)
		return NULL;
	if (nshm_seg_attach(*seg, 0, &area) != 0)
		return NULL;
	return area;
}

static inline void st_drop(struct nshm_seg *seg, void *area)
{
	assert_int_equal(nshm_seg_detach(seg, area), 0);
	assert_int_equal(nshm_seg_close(seg), 0);
}

/* Spin-wait (with sleeps) until *@w == @v or @ms pass. */
static inline int st_wait_eq(_Atomic(uint32_t) *w, uint32_t v, int ms)
{
	for (int i = 0; i < ms * 10; i++) {
		/* Acquire: pairs with the child's release store. */
		if (atomic_load_explicit(w, memory_order_acquire) == v)
			return 0;
		usleep(100);
	}
	return -1;
}

/* Futex-wait until *@w == @v (at most @ms); fails the test on timeout. */
static inline void st_futex_wait_eq(_Atomic(uint32_t) *w, uint32_t v, int ms)
{
	struct timespec dl;
	uint32_t cur;

	nshm_deadline_in(&dl, (uint64_t)ms * 1000000u);
	/* Acquire: pairs with the other side's release store. */
	while ((cur = atomic_load_explicit(w, memory_order_acquire)) != v)
		assert_int_equal(nshm_futex_wait(w, cur, &dl), 0);
}

#endif
