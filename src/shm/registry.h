/* SPDX-License-Identifier: MIT */
#ifndef NSHM_SHM_REGISTRY_H
#define NSHM_SHM_REGISTRY_H

/*
 * Process-local tables of open handles and live mappings. They let every
 * call check a handle or an address before touching it (a double close, a
 * foreign address or a detached one are errors, never a use-after-free),
 * and let the higher layers map an address back to its segment.
 *
 * Lock-free hash tables from liburcu; an unlinked entry is freed only after
 * a grace period, so a concurrent lookup never reads freed memory.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <urcu-bp.h>
#include <urcu/rculfhash.h>

struct nshm__mapping {
	void *area;	/* what attach returned (key) */
	void *base;	/* start of the mapping: the header page */
	size_t len;	/* bytes mapped (munmap) */
	uint64_t owner; /* serial of the handle that made it */
	uint64_t cookie; /* from the sync layer's attached hook */
	int backend;
	bool readonly;
	struct cds_lfht_node node;
};

/* Entry for an open handle; embedded in struct nshm_seg. */
struct nshm__handle_node {
	const void *key;
	struct cds_lfht_node node;
};

int nshm__reg_init(void);

/* Handles. */
void nshm__reg_add_handle(struct nshm__handle_node *h, const void *key);
/* @return true while @key is an open handle. Call under rcu_read_lock(). */
bool nshm__reg_handle_live(const void *key);
/* Unlink the handle; @return 0, or -EBADF if it was not open. */
int nshm__reg_del_handle(const void *key, struct nshm__handle_node **h);

/* Mappings. */
void nshm__reg_add_map(struct nshm__mapping *m);
/* Look up @area. Call under rcu_read_lock(); valid until the unlock. */
struct nshm__mapping *nshm__reg_find_map(void *area);
/* Unlink @m; @return 0, or -EINVAL if another thread unlinked it first. */
int nshm__reg_del_map(struct nshm__mapping *m);
/*
 * Put back a mapping that was unlinked but stays (a refused detach). A
 * lookup that began before the unlink may still hold @m's node, so the node
 * is not re-added (liburcu forbids reusing it before a grace period): a copy
 * goes in at once, and @m is freed after a grace period. Without memory
 * for the copy, @m itself goes back, after the grace period.
 * Call outside rcu_read_lock(). @return the entry now in the table.
 */
struct nshm__mapping *nshm__reg_readd_map(struct nshm__mapping *m);
/* How many live mappings @owner made. Call under rcu_read_lock(). */
unsigned int nshm__reg_count_maps(uint64_t owner);

/* Wait until no lookup can still see an unlinked entry; then free it. */
void nshm__reg_wait_readers(void);

#endif
