/* SPDX-License-Identifier: MIT */
#ifndef NSHM_SYNC_PEER_INT_H
#define NSHM_SYNC_PEER_INT_H

/*
 * Internal to src/sync/: the per-mapping record of peer.c, and the
 * kernel-held primitives under it (peer_token.c): process identity, the
 * liveness tokens (OFD lock bytes, SysV semaphores) and the control lock.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "shm/seg_layout.h"
#include "sync/ctl.h"

#define NO_SLOT UINT32_MAX
#define CTL_LOCK_TIMEOUT_NS (5ull * 1000000000u)

/* One mapping of one segment in this process. */
struct peer_rec {
	uint32_t magic;
	uint32_t slot;	/* NO_SLOT: read-only observer (or failed join) */
	uint32_t gen;
	uint32_t kind;	/* enum nshm__token_kind of this segment */
	struct nshm_seg_hdr *hdr;
	struct nshm__ctl *ctl;
	size_t map_size;
	pid_t owner;	/* getpid() at attach; differs in a forked child */
	pid_t fd_pid;	/* process whose own description fd is */
	int fd;		/* OFD: private descriptor (token + checks), or -1 */
	int semid;	/* SEM: the segment's semaphore set, or -1 */
	int shmid;	/* SEM: the segment (for its key and mode) */
	bool readonly;
	bool lazy;	/* joined by a forked child on its first lock */
	struct peer_rec *next;
};

struct self_id {
	pid_t pid;
	uint64_t start_ticks;
	uint64_t pidns;
};

/* peer_token.c */
void nshm__peer_self_identity(struct self_id *id);
void nshm__peer_rec_own_fd(struct peer_rec *r);
int nshm__peer_sem_set(struct peer_rec *r);
bool nshm__peer_pid_gone(const struct nshm__peer_slot *s);
int nshm__peer_rec_fd(struct peer_rec *r);
int nshm__peer_token_alive(struct peer_rec *r, uint32_t i);
int nshm__peer_token_take(struct peer_rec *r, uint32_t i);
void nshm__peer_token_drop(struct peer_rec *r, uint32_t i);
int nshm__peer_ctl_lock_raw(struct peer_rec *r, uint64_t timeout_ns);
void nshm__peer_ctl_unlock(struct peer_rec *r);

#endif /* NSHM_SYNC_PEER_INT_H */
