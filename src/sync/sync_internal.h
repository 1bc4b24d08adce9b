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
 * Does this process hold (or is it taking, through nshm_mutex_lock) any
 * nshm_mutex whose address lies in [lo, hi)? Used to refuse a detach that
 * would unmap a held lock: its word would go on naming this live process,
 * and nobody could ever unlock it.
 */
bool nshm__mutex_held_in(const void *lo, const void *hi);

/* Does the calling thread hold @m through nshm_mutex_lock()? */
bool nshm__mutex_held_by_me(const struct nshm_mutex *m);

/*
 * Participant ids as lock owners (struct nshm_mutex.word): slot << 20 |
 * the low 20 bits of the slot's generation (never 0), so 0 means free.
 * Bit 30 marks a lock whose owner thread exited holding it; bit 31 says
 * that somebody may sleep on the word.
 */
#define NSHM__ID_SLOT_SHIFT 20
#define NSHM__ID_GEN_MASK 0xfffffu
#define NSHM__LOCK_ABANDONED 0x40000000u
#define NSHM__LOCK_WAITERS 0x80000000u
#define NSHM__LOCK_OWNER 0x7fffffffu

/*
 * The owner id this process uses for a lock at @addr: the participant id of
 * the read-write mapping that contains it (joining the table first in a
 * forked child that inherited the mapping). 0 or -EINVAL (not inside a
 * read-write nshm mapping of this process), -EUSERS, -errno.
 */
int nshm__peer_lock_id(const void *addr, uint32_t *id);

/*
 * Is the participant with lock owner id @id alive? @addr: an address in
 * a mapping of the same segment. 1 alive, 0 dead (proved: its token is
 * gone, or its slot moved on), or -errno: cannot tell (never dead).
 */
int nshm__peer_id_alive(const void *addr, uint32_t id);

/*
 * Test hook: called by the lazy control-block initialisation while it
 * holds the control lock, after marking the block INITING. NULL in
 * production: costs one load.
 */
extern void (*nshm__sync_test_ctl_init)(void);

/* nshm_cpu_relax() and friends: the helpers the inline ring path uses. */
#define NSHM_INSIDE_RING_H
#include <nshm/bits/compiler.h>
#undef NSHM_INSIDE_RING_H

#endif /* NSHM_SYNC_INTERNAL_H */
