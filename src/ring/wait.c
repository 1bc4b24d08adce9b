/* SPDX-License-Identifier: MIT */
/*
 * The rings' blocking slow path: every kind's wait_readable/writable runs
 * the sync layer's one waiting engine (src/sync/wait.c) with these
 * callbacks; the kind supplies only its readiness test and its stuck-slot
 * or recovery step (struct ring_kind_ops).
 */
#include <errno.h>

#include "ring/core.h"
#include "sync/wait.h"

static int wait_ready(void *arg)
{
	struct nshm_ring *r = arg;

	return priv(r)->ops->ready(r);
}

/*
 * Before each park: is the other side still there? A closed or dead peer
 * ends the wait only once the ring is re-checked AFTER its state was read:
 * a producer that pushed and then closed made its seq stores visible
 * before CLOSED (RING-R6/A6), a dead one's are ordered by the kernel
 * dropping its liveness token (RING-C1), so nothing it committed is ever
 * left unread behind -EPIPE or -NSHM_EPEERDEAD. A kind with claimants
 * (MPMC) first gives up what dead ones hold, so what live ones committed
 * behind it is read too.
 */
static int wait_before_park(void *arg)
{
	struct nshm_ring *r = arg;
	const struct ring_kind_ops *ops = priv(r)->ops;
	int ret, ready;

	nshm__ring_test_point(r, NSHM__RING_HOOK_WAIT_RECHECKED);
	if (ops->ready_exact != NULL && (ready = ops->ready_exact(r)) != 0)
		return ready;
	ret = nshm__ring_peer_check(r);
	if (ret == 0)
		return 0;
	if (ops->recover != NULL && (ready = ops->recover(r)) < 0)
		return ready;
	ready = ops->ready(r);
	if (ready != 0)
		return ready;
	return ret;
}

static int wait_after_slice(void *arg)
{
	struct nshm_ring *r = arg;
	int ret;

	if ((ret = priv(r)->ops->unstick(r)) != 0)
		return ret;
	if (priv(r)->ws.check != NULL && (ret = priv(r)->ws.check(r)) < 0)
		return ret;
	return 0;
}

/* Counters: each side counts on its own line (slow path only). */
static struct nshm_ring_side *own_side(struct nshm_ring *r)
{
	return r->role == NSHM_RING_CONSUMER ? &r->sh->cons : &r->sh->prod;
}

static void wait_waiting(void *arg)
{
	/* Relaxed: statistics. */
	atomic_fetch_add_explicit(&own_side(arg)->waits, 1,
				  memory_order_relaxed);
}

static void wait_parking(void *arg)
{
	/* Relaxed: statistics. */
	atomic_fetch_add_explicit(&own_side(arg)->parks, 1,
				  memory_order_relaxed);
}

int nshm__ring_wait(struct nshm_ring *r, const struct timespec *deadline)
{
	struct ring_priv *p = priv(r);
	bool consumer = r->role == NSHM_RING_CONSUMER;
	struct nshm__waiter w = {
		/* We sleep on the other side's event word. */
		.ev = consumer ? &r->sh->prod.ev : &r->sh->cons.ev,
		.ready = wait_ready,
		.before_park = wait_before_park,
		.after_slice = wait_after_slice,
		.waiting = wait_waiting,
		.parking = wait_parking,
		.arg = r,
		.ws = &p->ws,
		.deadline = deadline,
		/* The notifier (nshm__ring_notify) fences only without it. */
		.mode = NSHM__WAIT_ASYM,
		.membarrier_ok = &p->membarrier_ok,
	};
	int ret;

	if (r->err == -NSHM_ECORRUPT)
		return nshm__err(-NSHM_ECORRUPT, "ring '%s' was found corrupt "
				 "earlier (nshm_ring_clear_error() to retry)",
				 p->name);
	ret = nshm__wait(&w);
	if (ret == -ETIMEDOUT) {
		/* Relaxed: statistics. */
		atomic_fetch_add_explicit(&own_side(r)->timeouts, 1,
					  memory_order_relaxed);
		return nshm__err(-ETIMEDOUT,
				 "ring '%s': still %s at the deadline",
				 p->name, consumer ? "empty" : "full");
	}
	return ret;
}

static int wait_common(struct nshm_ring *r, const struct timespec *deadline,
		       int want)
{
	nshm__err_clear();
	if (r == NULL)
		return nshm__err(-EINVAL, "ring handle is NULL");
	if (priv(r)->forked)
		return nshm__ring_forked_err(r);
	if ((int)r->role != want)
		return nshm__err(-EPERM, "%s wait on a %s handle of ring '%s'",
				 nshm__ring_role_name(want),
				 nshm__ring_role_name((int)r->role),
				 priv(r)->name);
	return nshm__ring_wait(r, deadline);
}

int nshm_ring_wait_writable(struct nshm_ring *r,
			    const struct timespec *deadline)
{
	return wait_common(r, deadline, NSHM_RING_PRODUCER);
}

int nshm_ring_wait_readable(struct nshm_ring *r,
			    const struct timespec *deadline)
{
	return wait_common(r, deadline, NSHM_RING_CONSUMER);
}
