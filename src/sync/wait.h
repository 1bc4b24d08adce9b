/* SPDX-License-Identifier: MIT */
#ifndef NSHM_SYNC_WAIT_H
#define NSHM_SYNC_WAIT_H

/*
 * The waiting engine (src/sync/wait.c): the one implementation of
 * spin, yield, then park on an event count with deadlines and liveness
 * re-checks. nshm_event_await() and every ring's blocking calls are thin
 * callers of nshm__wait(); the strategy (struct nshm_wait_strategy) and its
 * defaults mean the same in both.
 *
 * Barriers. An event notifier must order the store that makes the
 * condition true before its load of the event word (store->load, pair
 * SYNC-F1/F2). nshm_event_notify() pays a seq_cst fence for that
 * (NSHM__WAIT_FENCED). The rings' notifiers pay only a compiler fence, and
 * the waiter makes up for it with membarrier(GLOBAL_EXPEDITED), which runs
 * a full barrier on every CPU that runs a registered process
 * (NSHM__WAIT_ASYM). That barrier interrupts every such CPU, so the engine
 * takes it off the common path: after announcing itself it first parks for
 * one short slice (NSHM__WAIT_PREBARRIER_NS) with no barrier at all. A
 * notify that comes while it sleeps (the common case: the publisher's
 * store is long visible when it looks at the word) wakes it with no IPI
 * anywhere. Only when that slice runs out does the waiter issue the
 * barrier, re-check, and sleep on in normal slices. The one race the
 * barrier closes, a publisher whose store still sat in its store buffer
 * while it loaded the word, therefore costs at most one short slice of
 * latency and is never lost; and a waiter sends at most one IPI per park
 * that outlasts that slice.
 */

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <nshm/sync.h>

/* The barrier-free first slice of an asymmetric park (see above). */
#define NSHM__WAIT_PREBARRIER_NS (1000000ull) /* 1 ms */
/* Where membarrier is unusable, no slice of an ASYM park is longer. */
#define NSHM__WAIT_NOMB_SLICE_NS (1000000ull)

enum nshm__wait_mode {
	NSHM__WAIT_FENCED = 0, /* the notifier fences (nshm_event_notify) */
	NSHM__WAIT_ASYM = 1,   /* the notifier does not: membarrier here */
};

struct nshm__waiter {
	struct nshm_event *ev; /* what the other side notifies */
	/* 1 ready, 0 not yet, < 0 stop with that error. Called often. */
	int (*ready)(void *arg);
	/*
	 * Optional, after announcing and re-checking, before each park:
	 * 0 park, 1 ready after all, < 0 stop (a dead or closed peer).
	 */
	int (*before_park)(void *arg);
	/* Optional, after a slice that no notify ended: 0 or < 0 to stop. */
	int (*after_slice)(void *arg);
	/* Optional, once, when spinning and yielding did not do it. */
	void (*waiting)(void *arg);
	/* Optional, before each futex sleep (counters). */
	void (*parking)(void *arg);
	void *arg;
	const struct nshm_wait_strategy *ws; /* NULL: the defaults */
	const struct timespec *deadline;     /* NULL: none */
	enum nshm__wait_mode mode;
	/* ASYM: cleared by the engine if membarrier fails; starts true. */
	bool *membarrier_ok;
};

/*
 * Wait as @w says. @return 0 when ready() said so (also through
 * before_park), -ETIMEDOUT at the deadline (ready() tried last), the
 * negative value a callback returned, -EINVAL (bad deadline or strategy),
 * or a futex error.
 */
int nshm__wait(const struct nshm__waiter *w);

/* Register this process for the waiters' membarrier (see above). */
bool nshm__membarrier_register(void);

#endif /* NSHM_SYNC_WAIT_H */
