/* SPDX-License-Identifier: MIT */
#ifndef NSHM_SPSC_H
#define NSHM_SPSC_H

/*
 * The single-producer single-consumer ring (NSHM_RING_SPSC): its typed
 * API. The untyped data plane is nshm_ring_reserve/commit/peek/release/
 * push/pop and their burst and blocking forms (bits/ring_spsc.h); the
 * nshm_spsc_* names below are the same functions under the kind's name.
 * The control plane is the kind-neutral one of <nshm/ring.h>, which
 * includes this header, so programs written for <nshm/ring.h> keep
 * building unchanged.
 */

#include <nshm/ring.h>

#define nshm_spsc_reserve nshm_ring_reserve
#define nshm_spsc_commit nshm_ring_commit
#define nshm_spsc_reserve_n nshm_ring_reserve_n
#define nshm_spsc_commit_n nshm_ring_commit_n
#define nshm_spsc_peek nshm_ring_peek
#define nshm_spsc_release nshm_ring_release
#define nshm_spsc_peek_n nshm_ring_peek_n
#define nshm_spsc_release_n nshm_ring_release_n
#define nshm_spsc_push nshm_ring_push
#define nshm_spsc_pop nshm_ring_pop
#define nshm_spsc_push_n nshm_ring_push_n
#define nshm_spsc_pop_n nshm_ring_pop_n
#define nshm_spsc_push_wait nshm_ring_push_wait
#define nshm_spsc_pop_wait nshm_ring_pop_wait
#define nshm_spsc_push_n_wait nshm_ring_push_n_wait
#define nshm_spsc_pop_n_wait nshm_ring_pop_n_wait

/*
 * NSHM_RING_DEFINE(name, type): type-safe static inline functions over the
 * untyped core, for elements of @p type (type version 1).
 * NSHM_RING_DEFINE_VERSION(name, type, ver): the same with a version; bump
 * it whenever the meaning of @p type changes without its size changing.
 *
 *	NSHM_RING_DEFINE(tick_ring, struct tick)
 *	struct tick_ring *q;
 *	tick_ring_create("ticks", 4096, NSHM_RING_PRODUCER, 0, 0, &q);
 *	tick_ring_push(q, &t);
 *
 * The handle type `struct name` is incomplete: it is a struct nshm_ring in
 * disguise; name_ring() gives the untyped handle for stats and the like.
 * Copies use sizeof(type), a constant, so they compile to plain moves.
 */
#define NSHM_RING_DEFINE(name, type) NSHM_RING_DEFINE_VERSION(name, type, 1)

#define NSHM_RING_DEFINE_VERSION(name, type, ver)                              \
	NSHM_RING__DEFINE(name, type, NSHM_RING_TYPE_INIT(type, ver),          \
			  sizeof(type))

/*
 * NSHM_RING_DEFINE_SEQ(name, type, field): the same functions for a type
 * whose uint64_t member @p field the ring owns as its sequence word (see
 * struct nshm_ring_type: one line per 64-byte element instead of two).
 * NSHM_RING_DEFINE_SEQ_VERSION(name, type, field, ver) with a version.
 *
 *	struct tick { uint64_t ring_seq; uint64_t id; double px[6]; };
 *	NSHM_RING_DEFINE_SEQ(tick_ring, struct tick, ring_seq)
 */
#define NSHM_RING_DEFINE_SEQ(name, type, field)                                \
	NSHM_RING_DEFINE_SEQ_VERSION(name, type, field, 1)

#define NSHM_RING_DEFINE_SEQ_VERSION(name, type, field, ver)                   \
	NSHM_STATIC_ASSERT(sizeof(((type *)0)->field) == 8 &&                  \
				   offsetof(type, field) % 8 == 0 &&           \
				   NSHM_ALIGNOF(type) >= 8,                    \
			   "the seq field must be an aligned 8-byte member");  \
	NSHM_RING__DEFINE(name, type,                                          \
			  NSHM_RING_TYPE_INIT_SEQ(type, ver, field),           \
			  offsetof(type, field))


/* @p skip: offset of the ring's seq field in @p type, sizeof(type): none. */
#define NSHM_RING__DEFINE(name, type, type_init, skip)                         \
	struct name;                                                           \
	struct name##_span {                                                   \
		struct nshm_ring_span s;                                       \
	};                                                                     \
	NSHM_RING__FN uint32_t name##_span_len(const struct name##_span *sp)   \
	{                                                                      \
		return sp->s.n1 + sp->s.n2;                                    \
	}                                                                      \
	NSHM_RING__FN type *name##_span_at(const struct name##_span *sp,       \
					   uint32_t i)                         \
	{                                                                      \
		return (type *)nshm_ring_span_at(&sp->s, i);                   \
	}                                                                      \
	NSHM_RING__FN const struct nshm_ring_type *name##_type(void)           \
	{                                                                      \
		static const struct nshm_ring_type t = type_init;              \
		return &t;                                                     \
	}                                                                      \
	NSHM_RING__FN struct nshm_ring *name##_ring(struct name *h)            \
	{                                                                      \
		return (struct nshm_ring *)(void *)h;                          \
	}                                                                      \
	NSHM_RING__FN int name##_create(const char *shm_name,                  \
					uint32_t capacity,                     \
					enum nshm_ring_role role,              \
					unsigned int flags, unsigned int mode, \
					struct name **out)                     \
	{                                                                      \
		struct nshm_ring *r = NULL;                                    \
		int rc = nshm_ring_create(shm_name, NSHM_RING_SPSC,            \
					  name##_type(), capacity, role,       \
					  flags, mode, &r);                    \
		if (rc == 0)                                                   \
			*out = (struct name *)(void *)r;                       \
		return rc;                                                     \
	}                                                                      \
	NSHM_RING__FN int name##_attach(const char *shm_name,                  \
					enum nshm_ring_role role,              \
					unsigned int flags, struct name **out) \
	{                                                                      \
		struct nshm_ring *r = NULL;                                    \
		int rc = nshm_ring_attach(shm_name, NSHM_RING_SPSC,            \
					  name##_type(), role, flags, &r);     \
		if (rc == 0)                                                   \
			*out = (struct name *)(void *)r;                       \
		return rc;                                                     \
	}                                                                      \
	NSHM_RING__FN int name##_close(struct name *h)                         \
	{                                                                      \
		return nshm_ring_close(name##_ring(h));                        \
	}                                                                      \
	NSHM_RING__FN type *name##_reserve(struct name *h)                     \
	{                                                                      \
		return (type *)nshm_ring_reserve(name##_ring(h));              \
	}                                                                      \
	NSHM_RING__FN void name##_commit(struct name *h)                       \
	{                                                                      \
		nshm_ring_commit(name##_ring(h));                              \
	}                                                                      \
	NSHM_RING__FN type *name##_peek(struct name *h)                        \
	{                                                                      \
		return (type *)nshm_ring_peek(name##_ring(h));                 \
	}                                                                      \
	NSHM_RING__FN void name##_release(struct name *h)                      \
	{                                                                      \
		nshm_ring_release(name##_ring(h));                             \
	}                                                                      \
	NSHM_RING__FN uint32_t name##_reserve_n(struct name *h, uint32_t n,    \
						struct name##_span *sp)        \
	{                                                                      \
		return nshm_ring_reserve_n(name##_ring(h), n, &sp->s);         \
	}                                                                      \
	NSHM_RING__FN void name##_commit_n(struct name *h, uint32_t n)         \
	{                                                                      \
		nshm_ring_commit_n(name##_ring(h), n);                         \
	}                                                                      \
	NSHM_RING__FN uint32_t name##_peek_n(struct name *h, uint32_t n,       \
					     struct name##_span *sp)           \
	{                                                                      \
		return nshm_ring_peek_n(name##_ring(h), n, &sp->s);            \
	}                                                                      \
	NSHM_RING__FN void name##_release_n(struct name *h, uint32_t n)        \
	{                                                                      \
		nshm_ring_release_n(name##_ring(h), n);                        \
	}                                                                      \
	NSHM_RING__FN bool name##_push(struct name *h, const type *v)          \
	{                                                                      \
		struct nshm_ring *r = name##_ring(h);                          \
		void *slot = nshm_ring_reserve(r);                             \
		if (slot == NULL)                                              \
			return false;                                          \
		nshm__copy_skip(slot, v, sizeof(type), skip);                  \
		nshm_ring_commit(r);                                           \
		return true;                                                   \
	}                                                                      \
	NSHM_RING__FN bool name##_pop(struct name *h, type *v)                 \
	{                                                                      \
		struct nshm_ring *r = name##_ring(h);                          \
		const void *slot = nshm_ring_peek(r);                          \
		if (slot == NULL)                                              \
			return false;                                          \
		memcpy(v, slot, sizeof(type));                                 \
		nshm_ring_release(r);                                          \
		return true;                                                   \
	}                                                                      \
	NSHM_RING__FN uint32_t name##_push_n(struct name *h, const type *v,    \
					     uint32_t n)                       \
	{                                                                      \
		struct name##_span s;                                          \
		n = name##_reserve_n(h, n, &s);                                \
		for (uint32_t i = 0; i < n; i++)                               \
			nshm__copy_skip(name##_span_at(&s, i), v + i,          \
					sizeof(type), skip);                   \
		if (n != 0)                                                    \
			nshm_ring_commit_n(name##_ring(h), n);                 \
		return n;                                                      \
	}                                                                      \
	NSHM_RING__FN uint32_t name##_pop_n(struct name *h, type *v,           \
					    uint32_t n)                        \
	{                                                                      \
		struct name##_span s;                                          \
		n = name##_peek_n(h, n, &s);                                   \
		for (uint32_t i = 0; i < n; i++)                               \
			memcpy(v + i, name##_span_at(&s, i), sizeof(type));    \
		if (n != 0)                                                    \
			nshm_ring_release_n(name##_ring(h), n);                \
		return n;                                                      \
	}                                                                      \
	NSHM_RING__FN int name##_push_wait(struct name *h, const type *v,      \
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
	NSHM_RING__FN int name##_pop_wait(struct name *h, type *v,             \
					  const struct timespec *deadline)     \
	{                                                                      \
		while (!name##_pop(h, v)) {                                    \
			int rc = nshm_ring_wait_readable(name##_ring(h),       \
							 deadline);            \
			if (rc < 0)                                            \
				return rc;                                     \
		}                                                              \
		return 0;                                                      \
	}

#endif /* NSHM_SPSC_H */
