/* SPDX-License-Identifier: MIT */
#ifndef NSHM_RING_CORE_H
#define NSHM_RING_CORE_H

/*
 * The ring core's internal interface (src/ring). One create/attach
 * skeleton (core.c), one role table (roles.c), one waiting glue over the
 * sync layer's engine (wait.c); each kind (spsc.c, mpmc.c) adds only what
 * differs, behind struct ring_kind_ops: its geometry, its extra checks,
 * setting up its fast path when a role is taken (with the recovery of a
 * dead predecessor's in-flight state), its readiness and stuck-slot logic
 * for blocking calls, and its counters. Never installed.
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <nshm/ring.h>
#include <nshm/mpmc.h>

#include "internal.h"
#include "ring/ring_internal.h"

/* A committed slot whose seq word says otherwise this long: corrupt. */
#define RING_STUCK_NS (1000000000ull)

/* What the SPSC stuck-slot check saw of the slot the consumer waits for. */
struct stuck {
	uint64_t pos;	/* the index it is about */
	uint64_t since; /* when it was first seen committed, unpublished */
	uint64_t seq;	/* its seq word then */
};

struct ring_kind_ops;

/* Cold, process-local state behind nshm_ring.priv. */
struct ring_priv {
	struct nshm_seg *seg;
	void *area;		     /* what nshm_seg_attach() returned */
	nshm_peer_t self;	     /* our participant id (0: observer) */
	pid_t pid;		     /* the process that took the role */
	bool forked;		     /* inherited by a fork()ed child */
	bool membarrier_ok;	     /* the waiter's membarrier works */
	uint32_t entry;		     /* our role-table entry (a role holder) */
	struct stuck stuck;	     /* kept across blocking calls */
	struct nshm_wait_strategy ws;
	struct nshm_ring_config cfg; /* validated copy of the config line */
	const struct ring_kind_ops *ops;
	uint64_t kind_state[8];	     /* the kind's own local state */
	struct nshm_ring *next;	     /* every open handle of this process */
	char name[NSHM_NAME_MAX + 4096 + 8];
};

static inline struct ring_priv *priv(const struct nshm_ring *r)
{
	return (struct ring_priv *)r->priv;
}

/* The role table, right after the ring header (layout version 4). */
static inline struct nshm_ring_role_entry *role_table(const struct nshm_ring *r)
{
	return (struct nshm_ring_role_entry *)(void *)((unsigned char *)r->sh +
						 NSHM_RING_HDR_SIZE);
}

/* Producer entries are [0, np), consumer entries [np, np + nc). */
static inline void role_range(const struct nshm_ring *r, int role,
			      uint32_t *first, uint32_t *count)
{
	const struct nshm_ring_config *c = &priv(r)->cfg;

	*first = role == NSHM_RING_PRODUCER ? 0u : c->max_producers;
	*count = role == NSHM_RING_PRODUCER ? c->max_producers
					    : c->max_consumers;
}

struct ring_kind_ops {
	uint32_t kind;
	/* Slot stride for an element (layout of the kind's slots). */
	uint32_t (*stride)(uint32_t size, uint32_t align, bool elem_seq);
	/* Kind-specific checks of create's parameters; fills defaults. */
	int (*check_params)(struct nshm_ring_params *p);
	/* Write the kind's initial slot state into a new, zeroed ring. */
	void (*build)(struct nshm_ring_shared *sh,
		      const struct nshm_ring_config *c);
	/* Kind-specific checks of a config read from shared memory. */
	bool (*config_ok)(const struct nshm_ring_config *c);
	/* Set up the fast path once @role's entry is ours (recovery too). */
	int (*take)(struct nshm_ring *r, int role);
	/* Before giving the role back (a clean close). */
	void (*leave)(struct nshm_ring *r);
	/* Blocking calls: 1 ready, 0 not yet, < 0 error. */
	int (*ready)(struct nshm_ring *r);
	/*
	 * Optional: the same, once more, after the waiter announced itself
	 * and just before it parks, where a cheaper ready() may miss news
	 * (MPMC producers: consumers then publish no cursor, read deq).
	 */
	int (*ready_exact)(struct nshm_ring *r);
	/*
	 * Blocking calls, after a slice no notify ended: stuck-slot
	 * detection (SPSC), recovery of dead claimants' slots (MPMC).
	 * 0 or < 0.
	 */
	int (*unstick)(struct nshm_ring *r);
	/*
	 * Optional, before a blocking call gives up on a closed or dead peer:
	 * free what dead claimants hold (MPMC), so that what live ones
	 * committed after it is still read. 0 or < 0.
	 */
	int (*recover)(struct nshm_ring *r);
	/* nshm_ring_stats(): pushed/popped/count and the kind's counters. */
	void (*stats)(struct nshm_ring *r, struct nshm_ring_stats *st);
	/* nshm_ring_check(): the kind's index and slot checks. */
	int (*check)(struct nshm_ring *r, uint64_t head, uint64_t tail);
	/* Optional, create: record kind parameters in the config (CRC'd). */
	void (*fill_config)(struct nshm_ring_config *c,
			    const struct nshm_ring_params *p);
};

extern const struct ring_kind_ops nshm__spsc_ops;
extern const struct ring_kind_ops nshm__mpmc_ops;
extern const struct ring_kind_ops nshm__records_ops;
extern const struct ring_kind_ops nshm__bcast_ops;

/* handle.c */
const struct ring_kind_ops *nshm__ring_ops_of(uint32_t kind);
struct nshm_ring *nshm__ring_handle_new(const char *name);
void nshm__ring_handle_free(struct nshm_ring *r);
int nshm__ring_handle_bind(struct nshm_ring *r, struct nshm_seg *seg,
			   void *area, const struct nshm_ring_config *cfg,
			   bool writable);
void nshm__ring_handles_add(struct nshm_ring *r);
void nshm__ring_handles_del(struct nshm_ring *r);
const char *nshm__ring_role_name(int role);
const char *nshm__ring_kind_name(uint32_t kind);
void nshm__ring_test_point(struct nshm_ring *r, int point);
void nshm__ring_count_corrupt(struct nshm_ring *r);
int nshm__ring_forked_err(const struct nshm_ring *r);

/* core.c */
uint32_t nshm__ring_trailing_seq_off(uint32_t size);
/* ops.stats for kinds whose pushed/popped are their two indices. */
void nshm__ring_index_stats(struct nshm_ring *r, struct nshm_ring_stats *st);
uint32_t nshm__ring_slot_stride(uint32_t size, uint32_t align, bool elem_seq);
uint32_t nshm__ring_line_stride(uint32_t size, uint32_t align, bool elem_seq);

/* roles.c */
bool nshm__ring_peer_id_valid(uint64_t id);
int nshm__ring_holder_alive(struct nshm_ring *r, uint64_t id);
int nshm__ring_claim(struct nshm_ring *r, int role);
void nshm__ring_unclaim(struct nshm_ring *r, bool closed);
int nshm__ring_peer_check(struct nshm_ring *r);
int nshm__ring_intent_live(struct nshm_ring *r, int role, uint64_t pos);
void nshm__ring_role_stats(struct nshm_ring *r, struct nshm_ring_stats *st);

/* wait.c */
int nshm__ring_wait(struct nshm_ring *r, const struct timespec *deadline);

#endif /* NSHM_RING_CORE_H */
