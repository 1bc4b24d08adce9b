/* SPDX-License-Identifier: MIT */
/*
 * The waiting engine: spin, yield, then park on an event count, with
 * deadlines, callbacks for liveness re-checks, and the deferred membarrier
 * of asymmetric waits (see wait.h for the protocol and why).
 */
#include <errno.h>
#include <linux/membarrier.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"
#include "sync/sync_internal.h"
#include "sync/wait.h"

static long sys_membarrier(int cmd)
{
	return syscall(__NR_membarrier, cmd, 0, 0);
}

/*
 * Registration belongs to the mm: a fork()ed child is not registered, so
 * the rings call this at every attach (one cheap system call).
 */
bool nshm__membarrier_register(void)
{
	return sys_membarrier(MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED) == 0;
}

static const struct nshm_wait_strategy wait_default = {
	.spins = NSHM_WAIT_SPINS_DEFAULT,
	.yields = NSHM_WAIT_YIELDS_DEFAULT,
	.park_slice_ms = NSHM_WAIT_SLICE_MS_DEFAULT,
};

static int call_ready(const struct nshm__waiter *w)
{
	return w->ready(w->arg);
}

/* Where an announcement (prepare) stands against the notifier's fence. */
enum barrier_state {
	BARRIER_FREE, /* ASYM, first slice of an announcement: no barrier */
	BARRIER_DUE,  /* ASYM, that slice ran out: issue it before parking */
	FENCED,	      /* made visible (or the notifier fences: FENCED mode) */
};

int nshm__wait(const struct nshm__waiter *w)
{
	const struct nshm_wait_strategy *ws = w->ws ? w->ws : &wait_default;
	bool asym = w->mode == NSHM__WAIT_ASYM;
	enum barrier_state bs = asym ? BARRIER_FREE : FENCED;
	uint64_t slice_ns;
	int ret;

	ret = nshm__deadline_check(w->deadline);
	if (ret != 0)
		return ret;
	if (ws->reserved != 0)
		return nshm__err(-EINVAL, "wait strategy: reserved field "
				 "must be 0");
	slice_ns = (uint64_t)(ws->park_slice_ms ? ws->park_slice_ms
						: NSHM_WAIT_SLICE_MS_DEFAULT) *
		   1000000u;

	if ((ret = call_ready(w)) != 0)
		return ret < 0 ? ret : 0;
	for (uint32_t i = 0; i < ws->spins; i++) {
		/* Every iteration: a pause is ~36 ns on some parts. */
		nshm_cpu_relax();
		if ((ret = call_ready(w)) != 0)
			return ret < 0 ? ret : 0;
	}
	for (uint32_t i = 0; i < ws->yields; i++) {
		sched_yield();
		if ((ret = call_ready(w)) != 0)
			return ret < 0 ? ret : 0;
	}
	if (w->waiting)
		w->waiting(w->arg);

	for (;;) {
		struct timespec slice;
		uint64_t left, step;
		uint32_t key;

		/* Sets WAITERS, then a seq_cst fence (SYNC-F2, event.c). */
		key = nshm_event_prepare(w->ev);
		/*
		 * SYNC-E2 (asymmetric waits only, once per announcement that
		 * outlived its barrier-free first slice): pairs with the
		 * notifier's compiler-fenced store, then event-word load
		 * (RING-E1 in bits/ring_spsc.h). The barrier runs a full
		 * fence on every CPU running a registered notifier: a store
		 * it made before loading the word is visible to the re-check
		 * below, or its load comes after our WAITERS RMW and sees it.
		 */
		if (bs == BARRIER_DUE) {
			if (*w->membarrier_ok &&
			    sys_membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED) != 0)
				*w->membarrier_ok = false;
			bs = FENCED;
		}
		if ((ret = call_ready(w)) != 0)
			return ret < 0 ? ret : 0;
		if (w->before_park && (ret = w->before_park(w->arg)) != 0)
			return ret < 0 ? ret : 0;
		left = nshm__ns_until(w->deadline);
		if (left == 0)
			return -ETIMEDOUT;
		step = slice_ns;
		if (asym && (bs == BARRIER_FREE || !*w->membarrier_ok) &&
		    step > NSHM__WAIT_PREBARRIER_NS)
			step = NSHM__WAIT_PREBARRIER_NS;
		nshm_deadline_in(&slice, left < step ? left : step);
		if (w->parking)
			w->parking(w->arg);
		ret = nshm_event_wait(w->ev, key, &slice);
		if (ret == 0) {
			/* Notified: a new announcement, barrier-free again. */
			if (asym)
				bs = BARRIER_FREE;
			continue;
		}
		if (ret != -ETIMEDOUT)
			return ret;
		if (bs == BARRIER_FREE) {
			/* The barrier-free slice ran out: barrier, re-check. */
			bs = BARRIER_DUE;
			continue;
		}
		if (w->after_slice && (ret = w->after_slice(w->arg)) < 0)
			return ret;
	}
}
