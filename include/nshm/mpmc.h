/* SPDX-License-Identifier: MIT */
#ifndef NSHM_MPMC_H
#define NSHM_MPMC_H

/*
 * The MPMC ring (NSHM_RING_MPMC): bounded, typed, in a named segment; any
 * number of producer and consumer processes (and threads: one handle per
 * thread), up to the ring's max_producers / max_consumers (chosen at
 * create, at most NSHM_RING_ROLES_MAX together). MPSC and SPMC are uses of
 * it (max_consumers = 1 or max_producers = 1); the control plane is the
 * kind-neutral one of <nshm/ring.h> (create with nshm_ring_create_with(),
 * attach, close, stats, check, set_wait).
 *
 * Algorithm: per-slot sequence words that only producers write (Vyukov's
 * bounded MPMC queue without its consumer-side store; doc/ring.md): a
 * producer claims the slot at `enq` with one CAS when its cached horizon
 * says the slot's previous lap was taken by a consumer that is done with
 * it, writes it, and publishes with a release store of its seq. A
 * consumer waits on the seq of the slot at `deq`, copies the message out,
 * then takes it with one CAS on deq (or, to read in place, announces the
 * claim in its role entry, CASes, and clears the announcement when it
 * releases). Consumers tell producers how far they got through a cursor in
 * their own role entry, stored every few takes: so a slot line travels
 * only from producer to consumer, as in SPSC, and nobody polls a line that
 * is written per message. One CAS per operation on the side's own index
 * line, no CAS retry storm (a CAS fails only when another claimant of the
 * same side won, and the loser moves on to the next slot), no allocation,
 * no pointers in shared memory. Unlike DPDK's MP/MC ring no claimant ever
 * waits for another claimant to finish: a producer preempted between claim
 * and publish delays consumers only at its own slot (FIFO order), and
 * every other producer goes on.
 *
 * A dead claimant never wedges the ring. Before claiming, each producer
 * (and each in-place peek) records the index it is about to claim in its
 * own role-table entry (its "intent", on its own cache line); a copying
 * pop holds nothing while it copies. A waiter stuck behind a claimed but
 * unpublished (or unreleased) slot looks for a live claimant whose intent
 * covers it, proven through the sync layer's liveness (never a timeout
 * guess: a slow or stopped one keeps its slot). When there is none, the
 * slot is skipped (a dead producer's) or dropped from the horizon (a dead
 * consumer's), counted in nshm_ring_stats().skipped, and traffic goes on.
 * Loss is bounded to the messages the dead process held; never a
 * duplicate, never a torn message. The waiters do that recovery in their
 * blocking calls; callers that only use the non-blocking forms call
 * nshm_mpmc_recover() now and then.
 *
 * Which calls are all-or-nothing: push_n_all() and reserve_n_all() claim n
 * slots or none; push_n(), pop_n(), reserve_n() and peek_n() take what
 * fits / what is there (up to n, at least 1 unless full / empty).
 *
 * Errors: the same type and kind checks as SPSC at attach (-NSHM_ETYPE,
 * -NSHM_EKIND), -EBUSY when every entry of the role is held by a live
 * process; fast-path calls return NULL/false/0 and set nshm_ring_error()
 * (-NSHM_ECORRUPT for a seq word or index that is no legal value: nothing
 * out of bounds is ever touched; -EPERM for the wrong role; -NSHM_EFORKED);
 * blocking calls return -ETIMEDOUT, -EPIPE (every producer, or consumer,
 * that held the role closed and none is left), -NSHM_EPEERDEAD (the last
 * ones died), -NSHM_ECORRUPT, -EPERM, -NSHM_EFORKED, -EINVAL.
 */

#include <nshm/ring.h>
#include <nshm/bits/ring_mpmc.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Give up the slots of dead claimants that block this handle's side now
 * (a consumer: the slot at deq claimed by a dead producer; a producer: the
 * slot at enq still held by a dead consumer). The blocking calls do this by
 * themselves after each park slice.
 * @return how many slots were skipped or freed (>= 0), or -EPERM,
 *         -NSHM_EFORKED, -NSHM_ECORRUPT.
 */
NSHM_API int nshm_mpmc_recover(struct nshm_ring *r);

/* Out-of-line copies of the inline data plane (FFI, dlsym, benchmarks). */
NSHM_API bool nshm_mpmc_push_fn(struct nshm_ring *r, const void *elem);
NSHM_API bool nshm_mpmc_pop_fn(struct nshm_ring *r, void *elem);
NSHM_API uint32_t nshm_mpmc_push_n_fn(struct nshm_ring *r, const void *elems,
				      uint32_t n);
NSHM_API uint32_t nshm_mpmc_pop_n_fn(struct nshm_ring *r, void *elems,
				     uint32_t n);
NSHM_API int nshm_mpmc_push_wait_fn(struct nshm_ring *r, const void *elem,
				    const struct timespec *deadline);
NSHM_API int nshm_mpmc_pop_wait_fn(struct nshm_ring *r, void *elem,
				   const struct timespec *deadline);

/*
 * NSHM_MPMC_DEFINE(name, type): type-safe functions over the MPMC core for
 * elements of @p type (type version 1); NSHM_MPMC_DEFINE_VERSION with a
 * version.
 *
 *	NSHM_MPMC_DEFINE(job_q, struct job)
 *	struct job_q *q;
 *	job_q_create("jobs", 4096, 8, 8, NSHM_RING_PRODUCER, 0, 0, &q);
 *	job_q_push(q, &j);
 *
 * name_create(shm_name, capacity, max_producers, max_consumers, role,
 * flags, mode, &out) and name_attach(shm_name, role, flags, &out), then
 * name_push/_pop/_push_n/_pop_n/_push_wait/_pop_wait/_reserve/_commit/
 * _peek/_release/_close/_ring.
 */
#define NSHM_MPMC_DEFINE(name, type) NSHM_MPMC_DEFINE_VERSION(name, type, 1)

#define NSHM_MPMC_DEFINE_VERSION(name, elem, ver)                              \
	struct name;                                                           \
	NSHM_RING__FN const struct nshm_ring_type *name##_type(void)           \
	{                                                                      \
		static const struct nshm_ring_type t =                         \
			NSHM_RING_TYPE_INIT(elem, ver);                        \
		return &t;                                                     \
	}                                                                      \
	NSHM_RING__FN struct nshm_ring *name##_ring(struct name *h)            \
	{                                                                      \
		return (struct nshm_ring *)(void *)h;                          \
	}                                                                      \
	NSHM_RING__FN int name##_create(const char *shm_name,                  \
					uint32_t capacity, uint32_t max_prod,  \
					uint32_t max_cons,                     \
					enum nshm_ring_role role,              \
					unsigned int flags, unsigned int mode, \
					struct name **out)                     \
	{                                                                      \
		struct nshm_ring_params p = NSHM_RING_PARAMS_INIT;             \
		struct nshm_ring *r = NULL;                                    \
		int rc;                                                        \
		p.kind = NSHM_RING_MPMC;                                       \
		p.type = name##_type();                                        \
		p.capacity = capacity;                                         \
		p.role = role;                                                 \
		p.flags = flags;                                               \
		p.mode = mode;                                                 \
		p.max_producers = max_prod;                                    \
		p.max_consumers = max_cons;                                    \
		rc = nshm_ring_create_with(shm_name, &p, &r);                  \
		if (rc == 0)                                                   \
			*out = (struct name *)(void *)r;                       \
		return rc;                                                     \
	}                                                                      \
	NSHM_RING__FN int name##_attach(const char *shm_name,                  \
					enum nshm_ring_role role,              \
					unsigned int flags, struct name **out) \
	{                                                                      \
		struct nshm_ring *r = NULL;                                    \
		int rc = nshm_ring_attach(shm_name, NSHM_RING_MPMC,            \
					  name##_type(), role, flags, &r);     \
		if (rc == 0)                                                   \
			*out = (struct name *)(void *)r;                       \
		return rc;                                                     \
	}                                                                      \
	NSHM_RING__FN int name##_close(struct name *h)                         \
	{                                                                      \
		return nshm_ring_close(name##_ring(h));                        \
	}                                                                      \
	NSHM_RING__FN bool name##_push(struct name *h, const elem *v)          \
	{                                                                      \
		struct nshm_ring *r = name##_ring(h);                          \
		void *slot = nshm_mpmc_reserve(r);                             \
		if (slot == NULL)                                              \
			return false;                                          \
		memcpy(slot, v, sizeof(elem)); /* a constant: plain moves */   \
		nshm_mpmc_commit(r);                                           \
		return true;                                                   \
	}                                                                      \
	NSHM_RING__FN bool name##_pop(struct name *h, elem *v)                 \
	{                                                                      \
		/* Copy, then claim; a constant size: plain moves. */         \
		return nshm__mpmc_take(name##_ring(h), (unsigned char *)v, 1,  \
				       sizeof(elem)) != 0;                     \
	}                                                                      \
	NSHM_RING__FN uint32_t name##_push_n(struct name *h, const elem *v,    \
					     uint32_t n)                       \
	{                                                                      \
		return nshm_mpmc_push_n(name##_ring(h), v, n);                 \
	}                                                                      \
	NSHM_RING__FN uint32_t name##_pop_n(struct name *h, elem *v,           \
					    uint32_t n)                        \
	{                                                                      \
		return nshm_mpmc_pop_n(name##_ring(h), v, n);                  \
	}                                                                      \
	NSHM_RING__FN int name##_push_wait(struct name *h, const elem *v,      \
					   const struct timespec *deadline)    \
	{                                                                      \
		while (!name##_push(h, v)) {                                   \
			int rc = nshm_ring_wait_writable(name##_ring(h),       \
							 deadline);            \
			if (rc < 0)                                            \
				return rc;                                     \
		}                                                              \
		return 0;                                                      \
	}                                                                      \
	NSHM_RING__FN int name##_pop_wait(struct name *h, elem *v,             \
					  const struct timespec *deadline)     \
	{                                                                      \
		while (!name##_pop(h, v)) {                                    \
			int rc = nshm_ring_wait_readable(name##_ring(h),       \
							 deadline);            \
			if (rc < 0)                                            \
				return rc;                                     \
		}                                                              \
		return 0;                                                      \
	}                                                                      \
	NSHM_RING__FN elem *name##_reserve(struct name *h)                     \
	{                                                                      \
		return (elem *)nshm_mpmc_reserve(name##_ring(h));              \
	}                                                                      \
	NSHM_RING__FN void name##_commit(struct name *h)                       \
	{                                                                      \
		nshm_mpmc_commit(name##_ring(h));                              \
	}                                                                      \
	NSHM_RING__FN elem *name##_peek(struct name *h)                        \
	{                                                                      \
		return (elem *)nshm_mpmc_peek(name##_ring(h));                 \
	}                                                                      \
	NSHM_RING__FN void name##_release(struct name *h)                      \
	{                                                                      \
		nshm_mpmc_release(name##_ring(h));                             \
	}

#ifdef __cplusplus
}
#endif
#endif /* NSHM_MPMC_H */
