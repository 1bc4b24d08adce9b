/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "shm/registry.h"

static struct cds_lfht *handles, *mappings;
static pthread_once_t reg_once = PTHREAD_ONCE_INIT;

/*
 * liburcu-bp asks for these around fork() when the child goes on without
 * exec: the child's reader registry and grace-period lock are reset, so a
 * detach in the child cannot wait on a parent thread that does not exist
 * there. (They take two mutexes; cheap, unlike call_rcu's handlers.)
 */
static void reg_init_once(void)
{
	/* Fixed-size tables: no resize threads, fine for thousands of entries. */
	handles = cds_lfht_new(64, 64, 64, 0, NULL);
	mappings = cds_lfht_new(64, 64, 64, 0, NULL);
	pthread_atfork(urcu_bp_before_fork, urcu_bp_after_fork_parent,
		       urcu_bp_after_fork_child);
}

int nshm__reg_init(void)
{
	pthread_once(&reg_once, reg_init_once);
	return handles && mappings ? 0 : -ENOMEM;
}

static unsigned long ptr_hash(const void *p)
{
	uint64_t x = (uint64_t)(uintptr_t)p;

	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	return (unsigned long)x;
}

static int handle_match(struct cds_lfht_node *node, const void *key)
{
	return caa_container_of(node, struct nshm__handle_node, node)->key ==
	       key;
}

static int map_match(struct cds_lfht_node *node, const void *key)
{
	return caa_container_of(node, struct nshm__mapping, node)->area ==
	       key;
}

void nshm__reg_add_handle(struct nshm__handle_node *h, const void *key)
{
	h->key = key;
	cds_lfht_node_init(&h->node);
	rcu_read_lock();
	cds_lfht_add(handles, ptr_hash(key), &h->node);
	rcu_read_unlock();
}

static struct cds_lfht_node *lookup(struct cds_lfht *t, const void *key,
				    int (*match)(struct cds_lfht_node *,
						 const void *))
{
	struct cds_lfht_iter it;

	cds_lfht_lookup(t, ptr_hash(key), match, key, &it);
	return cds_lfht_iter_get_node(&it);
}

bool nshm__reg_handle_live(const void *key)
{
	return key != NULL && lookup(handles, key, handle_match) != NULL;
}

int nshm__reg_del_handle(const void *key, struct nshm__handle_node **h)
{
	struct cds_lfht_node *node;
	int ret = -EBADF;

	if (key == NULL)
		return -EBADF;
	rcu_read_lock();
	node = lookup(handles, key, handle_match);
	/* cds_lfht_del succeeds for exactly one of two racing closers. */
	if (node != NULL && cds_lfht_del(handles, node) == 0) {
		*h = caa_container_of(node, struct nshm__handle_node, node);
		ret = 0;
	}
	rcu_read_unlock();
	return ret;
}

void nshm__reg_add_map(struct nshm__mapping *m)
{
	cds_lfht_node_init(&m->node);
	rcu_read_lock();
	cds_lfht_add(mappings, ptr_hash(m->area), &m->node);
	rcu_read_unlock();
}

struct nshm__mapping *nshm__reg_find_map(void *area)
{
	struct cds_lfht_node *node;

	if (area == NULL || mappings == NULL)
		return NULL;
	node = lookup(mappings, area, map_match);
	return node ? caa_container_of(node, struct nshm__mapping, node) : NULL;
}

int nshm__reg_del_map(struct nshm__mapping *m)
{
	return cds_lfht_del(mappings, &m->node) == 0 ? 0 : -EINVAL;
}

struct nshm__mapping *nshm__reg_readd_map(struct nshm__mapping *m)
{
	struct nshm__mapping *fresh = malloc(sizeof(*fresh));

	if (fresh != NULL) {
		*fresh = *m; /* the node is initialised afresh by the add */
		nshm__reg_add_map(fresh);
	}
	nshm__reg_wait_readers(); /* nobody can still see m's node */
	if (fresh == NULL) {
		nshm__reg_add_map(m);
		return m;
	}
	free(m);
	return fresh;
}

void nshm__reg_wait_readers(void)
{
	/*
	 * A grace period here rather than call_rcu(): its worker thread
	 * makes every later fork() of the application pay ~12 ms (liburcu's
	 * fork handlers poll it with 1 ms sleeps), while detach and close
	 * are cold paths that can afford to wait. It also lets TSan see the
	 * free that follows (liburcu is not instrumented).
	 */
	synchronize_rcu();
}

unsigned int nshm__reg_count_maps(uint64_t owner)
{
	struct cds_lfht_iter it;
	struct cds_lfht_node *node;
	unsigned int n = 0;

	/*
	 * Not cds_lfht_for_each_entry(): it applies container_of to the
	 * final NULL, which UBSan rightly reports.
	 */
	cds_lfht_first(mappings, &it);
	while ((node = cds_lfht_iter_get_node(&it)) != NULL) {
		n += caa_container_of(node, struct nshm__mapping, node)->owner ==
		     owner;
		cds_lfht_next(mappings, &it);
	}
	return n;
}
