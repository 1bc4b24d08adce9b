/* SPDX-License-Identifier: MIT */
/*
 * Process-local ring handles: allocation and binding to a validated
 * mapping, the list of every open handle and what fork() does to them, the
 * kind table, the test hook, and the cold halves of every kind's inline
 * fast path (misuse, corruption, wake-up). Nothing here is shared memory
 * but what the cold halves count.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ring/core.h"

void (*nshm__ring_test_hook)(struct nshm_ring *r, int point);

void nshm__ring_test_point(struct nshm_ring *r, int point)
{
	void (*fn)(struct nshm_ring *, int) = nshm__ring_test_hook;

	if (nshm_unlikely(fn != NULL))
		fn(r, point);
}

const char *nshm__ring_role_name(int role)
{
	switch (role) {
	case NSHM_RING_PRODUCER:
		return "producer";
	case NSHM_RING_CONSUMER:
		return "consumer";
	case NSHM_RING_SUBSCRIBER:
		return "subscriber";
	default:
		return "observer";
	}
}

const char *nshm__ring_kind_name(uint32_t kind)
{
	switch (kind) {
	case NSHM_RING_SPSC:
		return "spsc";
	case NSHM_RING_MPMC:
		return "mpmc";
	case NSHM_RING_BROADCAST:
		return "broadcast";
	case NSHM_RING_RECORDS:
		return "records";
	default:
		return "unknown";
	}
}

const struct ring_kind_ops *nshm__ring_ops_of(uint32_t kind)
{
	switch (kind) {
	case NSHM_RING_SPSC:
		return &nshm__spsc_ops;
	case NSHM_RING_MPMC:
		return &nshm__mpmc_ops;
	case NSHM_RING_BROADCAST:
		return &nshm__bcast_ops;
	case NSHM_RING_RECORDS:
		return &nshm__records_ops;
	default:
		return NULL;
	}
}

/* ---- every handle of this process, for fork() -------------------------- */

static pthread_mutex_t handles_lock = PTHREAD_MUTEX_INITIALIZER;
static struct nshm_ring *handles;

void nshm__ring_handles_add(struct nshm_ring *r)
{
	pthread_mutex_lock(&handles_lock);
	priv(r)->next = handles;
	handles = r;
	pthread_mutex_unlock(&handles_lock);
}

void nshm__ring_handles_del(struct nshm_ring *r)
{
	pthread_mutex_lock(&handles_lock);
	for (struct nshm_ring **pp = &handles; *pp; pp = &priv(*pp)->next) {
		if (*pp == r) {
			*pp = priv(r)->next;
			break;
		}
	}
	pthread_mutex_unlock(&handles_lock);
}

static void atfork_prepare(void)
{
	pthread_mutex_lock(&handles_lock);
}

static void atfork_parent(void)
{
	pthread_mutex_unlock(&handles_lock);
}

/*
 * A child inherits its parent's handles, but not their roles: the role is
 * the parent's (its participant id, its liveness token), and the parent
 * goes on using it. Disarm the child's copies so that every data-plane
 * call falls into the misuse path (-NSHM_EFORKED, no shared store): the
 * fast path's capacity fields become 0, its index and event pointers the
 * handle's own sinks. nshm_ring_close() in the child only unmaps.
 */
static void atfork_child(void)
{
	for (struct nshm_ring *r = handles; r; r = priv(r)->next) {
		priv(r)->forked = true;
		r->pcap = 0;
		r->ccap = 0;
		r->tail_p = &r->sink;
		r->head_p = &r->sink;
		r->data_ev = &r->sink_ev;
		r->space_ev = &r->sink_ev;
	}
	pthread_mutex_unlock(&handles_lock);
}

__attribute__((constructor)) static void ring_ctor(void)
{
	pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

/* Bump the ring's corruption counter, unless we may not write (observer). */
void nshm__ring_count_corrupt(struct nshm_ring *r)
{
	if (r->role == NSHM_RING_PRODUCER || r->role == NSHM_RING_CONSUMER)
		/* Relaxed: a statistic. */
		atomic_fetch_add_explicit(&r->sh->ctl.corrupt_seen, 1,
					  memory_order_relaxed);
}

int nshm__ring_forked_err(const struct nshm_ring *r)
{
	return nshm__err(-NSHM_EFORKED, "ring '%s': this handle was "
			 "inherited across fork() from pid %ld; its %s role "
			 "stays with that process (close it here, or attach "
			 "anew)", priv(r)->name, (long)priv(r)->pid,
			 nshm__ring_role_name((int)r->role));
}

/* ---- the cold halves of the fast path --------------------------------- */

uint32_t nshm__ring_misuse(struct nshm_ring *r, int want_role)
{
	if (priv(r)->forked) {
		if (r->err == 0)
			r->err = -NSHM_EFORKED;
		nshm__ring_forked_err(r);
		return 0;
	}
	if (r->err == 0)
		r->err = -EPERM;
	nshm__err(-EPERM, "%s call on a %s handle of ring '%s'",
		  nshm__ring_role_name(want_role),
		  nshm__ring_role_name((int)r->role),
		  priv(r)->name);
	return 0;
}

uint32_t nshm__ring_corrupt(struct nshm_ring *r, uint64_t seen)
{
	r->err = -NSHM_ECORRUPT;
	nshm__ring_count_corrupt(r);
	if (r->role == NSHM_RING_PRODUCER)
		nshm__err(-NSHM_ECORRUPT,
			  "ring '%s': head %llu is not within %u of our "
			  "tail %llu",
			  priv(r)->name, (unsigned long long)seen, r->pcap,
			  (unsigned long long)r->ppos);
	else
		nshm__err(-NSHM_ECORRUPT,
			  "ring '%s': tail %llu is not within %u of our "
			  "head %llu",
			  priv(r)->name, (unsigned long long)seen, r->ccap,
			  (unsigned long long)r->cpos);
	return 0;
}

uint32_t nshm__ring_corrupt_seq(struct nshm_ring *r, uint64_t pos,
				uint64_t seq)
{
	r->err = -NSHM_ECORRUPT;
	nshm__ring_count_corrupt(r);
	nshm__err(-NSHM_ECORRUPT,
		  "ring '%s': slot %u holds seq 0x%016llx: neither index "
		  "%llu published (0x%016llx) nor not yet",
		  priv(r)->name, (unsigned)(pos & r->mask),
		  (unsigned long long)seq, (unsigned long long)pos,
		  (unsigned long long)nshm__ring_seq_pub(r, pos));
	return 0;
}

void nshm__ring_wake(struct nshm_ring *r, _Atomic(uint32_t) *ev)
{
	struct nshm_ring_side *own = r->role == NSHM_RING_PRODUCER
					     ? &r->sh->prod
					     : &r->sh->cons;

	if (ev == &r->sink_ev)
		return;
	/* Our caller already ordered (E1) and saw WAITERS. */
	nshm_event_notify_slow((struct nshm_event *)ev);
	/* Slow path; only this side writes its counters. */
	atomic_fetch_add_explicit(&own->wakeups, 1, memory_order_relaxed);
}

/* ---- handles ---------------------------------------------------------- */


struct nshm_ring *nshm__ring_handle_new(const char *name)
{
	struct nshm_ring *r;
	struct ring_priv *p;

	r = aligned_alloc(NSHM_LINE_PAIR, sizeof(*r) + NSHM_LINE_PAIR -
						  sizeof(*r) % NSHM_LINE_PAIR);
	if (r == NULL)
		return NULL;
	memset(r, 0, sizeof(*r));
	p = calloc(1, sizeof(*p));
	if (p == NULL) {
		free(r);
		return NULL;
	}
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->ws.spins = NSHM_WAIT_SPINS_DEFAULT;
	p->ws.yields = NSHM_WAIT_YIELDS_DEFAULT;
	p->membarrier_ok = true;
	r->priv = p;
	r->role = NSHM_RING_OBSERVER;
	r->tail_p = &r->sink;
	r->head_p = &r->sink;
	r->data_ev = &r->sink_ev;
	r->space_ev = &r->sink_ev;
	return r;
}

void nshm__ring_handle_free(struct nshm_ring *r)
{
	free(r->priv);
	free(r);
}

/* Point the handle at a validated mapping. */
int nshm__ring_handle_bind(struct nshm_ring *r, struct nshm_seg *seg,
			    void *area, const struct nshm_ring_config *cfg,
			    bool writable)
{
	struct ring_priv *p = priv(r);
	int ret;

	p->seg = seg;
	p->area = area;
	p->cfg = *cfg;
	r->sh = area;
	r->slots = (unsigned char *)area + cfg->slots_off;
	r->mask = cfg->capacity - 1;
	r->stride = cfg->slot_stride;
	r->esize = cfg->elem_size;
	r->seq_off = cfg->seq_off; /* validated (seq_off_ok()) */
	r->seq_key = cfg->seq_key;
	p->ops = nshm__ring_ops_of(cfg->kind);
	if (!writable)
		return 0; /* an observer: no participant, no id */
	ret = nshm_peer_self(area, &p->self);
	if (ret != 0)
		return nshm__err(ret, "ring '%s': no participant id for this "
				 "mapping", p->name);
	return 0;
}
