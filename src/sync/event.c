/* SPDX-License-Identifier: MIT */
/*
 * Event count ("doorbell") on a shared 32-bit word: epoch << 1 | WAITERS.
 *
 * Waiters announce themselves with a RMW that sets WAITERS (prepare), then
 * re-check their condition, then sleep on the futex while the word still
 * equals the value prepare saw (wait). A notifier first makes the condition
 * true, then (F1 fence + load, inline in <nshm/sync.h>) looks at WAITERS and
 * only if it is set bumps the epoch, clears the bit and wakes all sleepers.
 *
 * The bit clears itself: a waiter that dies or times out between prepare
 * and wait costs the next notify one FUTEX_WAKE that finds nobody, and is
 * then forgotten. A waiter count (folly's EventCount) would leak +1 forever
 * in that case and make every later notify pay a system call.
 *
 * Memory-order pairs (see doc/sync.md):
 *   F1/F2  notify's seq_cst fence / prepare's seq_cst fence: Dekker
 *          store-load ordering, so the notifier sees WAITERS or the waiter's
 *          re-check sees the condition.
 *   R3/A3  notify_slow's release CAS / wait's acquire load of the word:
 *          everything the notifier wrote before notifying is visible to a
 *          waiter that returns from wait because the epoch moved.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>

#include "internal.h"
#include "sync/sync_internal.h"
#include "sync/wait.h"

void nshm_event_init(struct nshm_event *ev)
{
	if (ev == NULL)
		return;
	/* Relaxed: the event is not shared before its owner publishes it. */
	atomic_store_explicit(&ev->word, 0, memory_order_relaxed);
}

uint32_t nshm_event_prepare(struct nshm_event *ev)
{
	uint32_t old;

#ifndef NSHM_TSAN
	/*
	 * Relaxed RMW: the ordering against the caller's re-check comes from
	 * F2 just below; atomicity alone keeps the bit and the epoch intact.
	 */
	old = atomic_fetch_or_explicit(&ev->word, NSHM_EVENT_WAITERS,
				       memory_order_relaxed);
	/*
	 * F2: pairs with F1 in nshm_event_notify(). Our WAITERS store is
	 * ordered before the caller's re-check of its condition.
	 */
	atomic_thread_fence(memory_order_seq_cst);
#else
	/* A2T: pairs with R1T in nshm_event_notify() (TSan build). */
	old = atomic_fetch_or_explicit(&ev->word, NSHM_EVENT_WAITERS,
				       memory_order_acq_rel);
#endif
	return old | NSHM_EVENT_WAITERS;
}

void nshm_event_notify_slow(struct nshm_event *ev)
{
	/* Relaxed: the CAS below validates it. */
	uint32_t old = atomic_load_explicit(&ev->word, memory_order_relaxed);

	do {
		/*
		 * Another notifier cleared the bit after our F1: it bumped
		 * the epoch, so every waiter that prepared before it returns
		 * from wait and re-checks (and sees our store, F1/F2).
		 */
		if (!(old & NSHM_EVENT_WAITERS))
			return;
		/*
		 * R3: pairs with A3 in nshm_event_wait(). (old | 1) + 1 is
		 * (epoch + 1) << 1: next epoch, WAITERS clear.
		 */
	} while (!atomic_compare_exchange_weak_explicit(
		&ev->word, &old, old + 1, memory_order_release,
		memory_order_relaxed));
	/* Wake all: the bit was cleared for every waiter at once. */
	nshm__futex_wake_raw(&ev->word, INT_MAX);
}

void nshm_event_notify_fn(struct nshm_event *ev)
{
	nshm_event_notify(ev);
}

int nshm_event_wait(struct nshm_event *ev, uint32_t key,
		    const struct timespec *deadline)
{
	int ret;

	if (ev == NULL)
		return nshm__err(-EINVAL, "event is NULL");
	if (!(key & NSHM_EVENT_WAITERS))
		return nshm__err(-EINVAL, "event key %#x was not returned by "
				 "nshm_event_prepare() (WAITERS bit clear)",
				 key);
	ret = nshm__deadline_check(deadline);
	if (ret != 0)
		return ret;

	/* A3: pairs with R3 in nshm_event_notify_slow(). */
	while (atomic_load_explicit(&ev->word, memory_order_acquire) == key) {
		if (nshm__deadline_passed(deadline))
			return -ETIMEDOUT;
		ret = nshm__futex_wait_raw(&ev->word, key, deadline);
		switch (ret) {
		case 0:	      /* woken (or spurious): re-check the word */
		case -EAGAIN: /* the epoch moved before we slept */
		case -EINTR:  /* a signal; the deadline is absolute */
			continue;
		case -ETIMEDOUT:
			return ret;
		default:
			return nshm__err(ret, "FUTEX_WAIT_BITSET on event %p "
					 "failed", (void *)ev);
		}
	}
	return 0;
}

/* nshm_event_await() through the waiting engine (wait.c). */
struct await_arg {
	bool (*ready)(void *);
	int (*check)(void *);
	void *arg;
};

static int await_ready(void *p)
{
	const struct await_arg *a = p;

	return a->ready(a->arg) ? 1 : 0;
}

static int await_check(void *p)
{
	const struct await_arg *a = p;
	int ret = a->check(a->arg);

	return ret < 0 ? ret : 0;
}

int nshm_event_await(struct nshm_event *ev, bool (*ready)(void *), void *arg,
		     const struct nshm_wait_strategy *ws,
		     const struct timespec *deadline)
{
	struct await_arg a = { ready, ws ? ws->check : NULL, arg };
	struct nshm__waiter w = {
		.ev = ev,
		.ready = await_ready,
		.after_slice = a.check ? await_check : NULL,
		.arg = &a,
		.ws = ws,
		.deadline = deadline,
		.mode = NSHM__WAIT_FENCED, /* nshm_event_notify() fences */
	};

	if (ev == NULL || ready == NULL)
		return nshm__err(-EINVAL, "event or ready() is NULL");
	return nshm__wait(&w);
}
