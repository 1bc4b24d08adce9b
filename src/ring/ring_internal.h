/* SPDX-License-Identifier: MIT */
#ifndef NSHM_RING_INTERNAL_H
#define NSHM_RING_INTERNAL_H

/* Internal to the ring layer and its tests. Never installed. */

#include <nshm/ring.h>

/*
 * Test hook: when set, the ring's slow paths call it at the points below,
 * so a test can force an interleaving (stop here, let the peer act, go
 * on) instead of hoping for one. NULL in production: one load and a branch
 * on slow paths only.
 */
enum nshm__ring_hook_point {
	/* A blocking call re-checked the ring (not ready), before it looks
	 * at the peer's liveness and state. */
	NSHM__RING_HOOK_WAIT_RECHECKED = 1,
	/* peer_check() read a holder's id, before it asks whether that
	 * holder is alive. */
	NSHM__RING_HOOK_PEER_ID_READ = 2,
};

NSHM_API extern void (*nshm__ring_test_hook)(struct nshm_ring *r, int point);

#endif /* NSHM_RING_INTERNAL_H */
