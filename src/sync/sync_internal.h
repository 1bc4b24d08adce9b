/* SPDX-License-Identifier: MIT */
#ifndef NSHM_SYNC_INTERNAL_H
#define NSHM_SYNC_INTERNAL_H

/*
 * Internal interface of the sync layer (src/sync). Never installed. Tests
 * include it (and ctl.h) to inspect the control block.
 */

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <nshm/sync.h>

/* -EINVAL for a malformed timespec, 0 otherwise (NULL is fine). */
int nshm__deadline_check(const struct timespec *deadline);

/* True when @deadline (non-NULL) is not in the future. */
bool nshm__deadline_passed(const struct timespec *deadline);

/* Raw shared futex calls (never FUTEX_PRIVATE_FLAG). -errno on failure. */
int nshm__futex_wait_raw(_Atomic(uint32_t) *word, uint32_t expected,
			 const struct timespec *deadline);
int nshm__futex_wake_raw(_Atomic(uint32_t) *word, int n);

/*
 * Does this process hold (through nshm_mutex_lock) any nshm_mutex whose
 * address lies in [lo, hi)? Used to refuse a detach that would unmap a
 * held lock (research notes R5 and glibc BZ #14485).
 */
bool nshm__mutex_held_in(const void *lo, const void *hi);

/* Does the calling thread hold @m through nshm_mutex_lock()? */
bool nshm__mutex_held_by_me(const struct nshm_mutex *m);

/* nshm_cpu_relax() and friends: the helpers the inline ring path uses. */
#define NSHM_INSIDE_RING_H
#include <nshm/bits/compiler.h>
#undef NSHM_INSIDE_RING_H

#endif /* NSHM_SYNC_INTERNAL_H */
