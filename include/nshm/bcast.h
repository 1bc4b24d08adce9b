/* SPDX-License-Identifier: MIT */
#ifndef NSHM_BCAST_H
#define NSHM_BCAST_H

/*
 * Broadcast (fan-out, NSHM_RING_BROADCAST): one writer publishes, every
 * reader sees every message, at its own pace. One ring kind, two policies
 * chosen at create (struct nshm_ring_params.policy):
 *
 *  NSHM_BCAST_LOSSY (market data): the writer never waits and never reads
 *    anything a reader writes; it overwrites the oldest message. Readers
 *    attach as NSHM_RING_SUBSCRIBER: a read-only mapping, no registration,
 *    no participant slot, any number of them; nothing a reader does, even
 *    a malicious one, can slow or disturb the writer or another reader. A
 *    reader that falls a whole capacity behind is told: its read returns
 *    -NSHM_ELAPPED with the exact number of messages it missed, and it
 *    goes on from the oldest message still there (received + missed ==
 *    published, exactly). Every slot has a sequence word used as a
 *    seqlock, so a message overwritten while it is read is never returned
 *    torn: the copying read retries or reports the lap.
 *
 *  NSHM_BCAST_BACKPRESSURE (nothing lost): readers attach as
 *    NSHM_RING_CONSUMER and register in the ring's role table
 *    (max_consumers entries, default 64, at most NSHM_RING_ROLES_MAX - 1;
 *    each reader's cursor on its own 64-byte entry). The writer runs at
 *    most a capacity ahead of the slowest live reader, then waits
 *    (nshm_bcast_publish_wait()) or is told full (nshm_bcast_publish()).
 *    A reader proven dead (nshm_peer_alive() == 0: never a timeout guess)
 *    is evicted automatically and counted (stats.evictions). With
 *    evict_ms != 0, a live reader that keeps the writer waiting longer
 *    than that is evicted too and told so on its next read
 *    (-NSHM_EEVICTED; nshm_bcast_rejoin() to read on). Subscribers may
 *    read a back-pressured ring too; they hold nothing back (lossy).
 *
 * Join (nshm_bcast_attach): from now (the next message published), from
 * the oldest message still in the ring, or (a back-pressured reader
 * restarted after a crash) from its own last position, found by the tag
 * it registered with. nshm_ring_attach(name, NSHM_RING_BROADCAST, type,
 * role, flags, &r) joins from now, untagged.
 *
 * Writer restart: a writer killed at any instant is replaced by the next
 * one that attaches as NSHM_RING_PRODUCER (proof of death); it goes on at
 * the first index not published (no index twice, no torn slot). Readers
 * see nothing but a pause: a blocking back-pressured read may return
 * -NSHM_EPEERDEAD while no writer lives (call it again to read on), a
 * subscriber's may too.
 *
 * Control plane: the ring calls of <nshm/ring.h> (nshm_ring_create_with
 * with kind NSHM_RING_BROADCAST, nshm_ring_close, nshm_ring_stats, ...).
 * Data plane (inline, <nshm/bits/ring_bcast.h>): nshm_bcast_reserve /
 * _commit / _publish / _publish_wait for the writer, nshm_bcast_read /
 * _read_wait / _read_begin / _read_end for readers. Element types with a
 * seq field (NSHM_RING_TYPE_SEQ_FIELD) are refused (-EOPNOTSUPP).
 *
 * Errors of the data plane: -NSHM_ELAPPED (overrun, *missed says how
 * many), -NSHM_EEVICTED, -NSHM_ECORRUPT (the ring's tail or a seq word is
 * no legal value: nothing out of bounds is ever touched), -EPERM (a
 * writer call on a reader handle or the reverse), -NSHM_EFORKED.
 */

#include <nshm/ring.h>
#include <nshm/bits/ring_bcast.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Where a reader starts (nshm_bcast_attach, nshm_bcast_rejoin). */
enum nshm_bcast_from {
	NSHM_BCAST_FROM_NOW = 0,    /* the next message published */
	NSHM_BCAST_FROM_OLDEST = 1, /* the oldest message still in the ring */
	/*
	 * Back-pressured readers: the cursor that the last reader
	 * registered with the same tag left (it died or closed); none
	 * found: from now (nshm_bcast_resumed() says which).
	 */
	NSHM_BCAST_FROM_LAST = 2,
};

/* Default reader entries of a back-pressured ring (max_consumers 0). */
#define NSHM_BCAST_READERS_DEFAULT 64u

/**
 * Attach to the broadcast ring @p name as @p role: NSHM_RING_PRODUCER
 * (the writer; a dead one's place is taken over), NSHM_RING_SUBSCRIBER (a
 * read-only, unregistered reader) or NSHM_RING_CONSUMER (a registered,
 * back-pressuring reader: back-pressured rings only), starting @p from.
 * @p tag (CONSUMER only, 0: none) names the reader for FROM_LAST.
 * @return 0, or the errors of nshm_ring_attach(), -EINVAL (bad @p from,
 *         a CONSUMER of a lossy ring, a tag on another role), -EBUSY
 *         (every reader entry held by a live reader).
 */
NSHM_API int nshm_bcast_attach(const char *name,
			       const struct nshm_ring_type *type,
			       enum nshm_ring_role role,
			       enum nshm_bcast_from from, uint32_t tag,
			       unsigned int flags, struct nshm_ring **out);

/**
 * Reader: move to @p from (NOW or OLDEST) and, if the writer evicted this
 * reader, register again (the -NSHM_EEVICTED state ends).
 * @return 0, -EINVAL, -EPERM (a writer handle), -NSHM_EFORKED.
 */
NSHM_API int nshm_bcast_rejoin(struct nshm_ring *r, enum nshm_bcast_from from);

/**
 * Writer: evict the readers that block it now and are proven dead, or
 * (evict_ms policy) have blocked it longer than evict_ms. The blocking
 * publish does this by itself while it waits; a writer that only uses
 * nshm_bcast_publish() calls it when that says full.
 * @return how many readers were evicted (>= 0), -EPERM, -NSHM_EFORKED.
 */
NSHM_API int nshm_bcast_recover(struct nshm_ring *r);

/**
 * Reader: 1 when the last attach with NSHM_BCAST_FROM_LAST found the
 * tag's old cursor and resumed from it, else 0.
 */
NSHM_API int nshm_bcast_resumed(const struct nshm_ring *r);

/* Out-of-line copies of the inline data plane (FFI, dlsym, benchmarks). */
NSHM_API void *nshm_bcast_reserve_fn(struct nshm_ring *r);
NSHM_API void nshm_bcast_commit_fn(struct nshm_ring *r);
NSHM_API bool nshm_bcast_publish_fn(struct nshm_ring *r, const void *msg);
NSHM_API int nshm_bcast_publish_wait_fn(struct nshm_ring *r, const void *msg,
					const struct timespec *deadline);
NSHM_API int nshm_bcast_read_fn(struct nshm_ring *r, void *out,
				uint64_t *missed);
NSHM_API int nshm_bcast_read_wait_fn(struct nshm_ring *r, void *out,
				     uint64_t *missed,
				     const struct timespec *deadline);
NSHM_API int nshm_bcast_read_begin_fn(struct nshm_ring *r, const void **msg,
				      uint64_t *missed);
NSHM_API int nshm_bcast_read_end_fn(struct nshm_ring *r, uint64_t *missed);

/*
 * NSHM_BCAST_DEFINE(name, type): type-safe functions over the broadcast
 * kind for elements of @p type (type version 1; NSHM_BCAST_DEFINE_VERSION
 * with a version).
 *
 *	NSHM_BCAST_DEFINE(md, struct tick)
 *	struct md *w, *rd;
 *	md_create("ticks", 4096, NSHM_BCAST_LOSSY, 0, 0, 0, 0, &w);
 *	md_attach("ticks", NSHM_RING_SUBSCRIBER, NSHM_BCAST_FROM_NOW, 0, 0,
 *		  &rd);
 *	md_publish(w, &t);
 *	rc = md_read(rd, &t, &missed);   1, 0, -NSHM_ELAPPED (missed), ...
 *
 * name_create(shm_name, capacity, policy, max_readers, evict_ms, flags,
 * mode, &out) makes the ring and returns the writer; name_attach(shm_name,
 * role, from, tag, flags, &out); then name_publish / _publish_wait /
 * _reserve / _commit, name_read / _read_wait / _read_begin / _read_end,
 * _close, _ring. Each returns what the nshm_bcast_ call it wraps does.
 */
#define NSHM_BCAST_DEFINE(name, type) NSHM_BCAST_DEFINE_VERSION(name, type, 1)

#define NSHM_BCAST_DEFINE_VERSION(name, elem, ver)                             \
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
					uint32_t capacity, uint32_t policy,    \
					uint32_t max_readers,                  \
					uint32_t evict_ms, unsigned int flags, \
					unsigned int mode, struct name **out)  \
	{                                                                      \
		struct nshm_ring_params p = NSHM_RING_PARAMS_INIT;             \
		struct nshm_ring *r = NULL;                                    \
		int rc;                                                        \
		p.kind = NSHM_RING_BROADCAST;                                  \
		p.type = name##_type();                                        \
		p.capacity = capacity;                                         \
		p.role = NSHM_RING_PRODUCER;                                   \
		p.flags = flags;                                               \
		p.mode = mode;                                                 \
		p.policy = policy;                                             \
		p.max_consumers = max_readers;                                 \
		p.evict_ms = evict_ms;                                         \
		rc = nshm_ring_create_with(shm_name, &p, &r);                  \
		if (rc == 0)                                                   \
			*out = (struct name *)(void *)r;                       \
		return rc;                                                     \
	}                                                                      \
	NSHM_RING__FN int name##_attach(const char *shm_name,                  \
					enum nshm_ring_role role,              \
					enum nshm_bcast_from from,             \
					uint32_t tag, unsigned int flags,      \
					struct name **out)                     \
	{                                                                      \
		struct nshm_ring *r = NULL;                                    \
		int rc = nshm_bcast_attach(shm_name, name##_type(), role,      \
					   from, tag, flags, &r);              \
		if (rc == 0)                                                   \
			*out = (struct name *)(void *)r;                       \
		return rc;                                                     \
	}                                                                      \
	NSHM_RING__FN int name##_close(struct name *h)                         \
	{                                                                      \
		return nshm_ring_close(name##_ring(h));                        \
	}                                                                      \
	NSHM_RING__FN bool name##_publish(struct name *h, const elem *v)       \
	{                                                                      \
		return nshm_bcast_publish(name##_ring(h), v);                  \
	}                                                                      \
	NSHM_RING__FN int name##_publish_wait(struct name *h, const elem *v,   \
					      const struct timespec *dl)       \
	{                                                                      \
		return nshm_bcast_publish_wait(name##_ring(h), v, dl);         \
	}                                                                      \
	NSHM_RING__FN elem *name##_reserve(struct name *h)                     \
	{                                                                      \
		return (elem *)nshm_bcast_reserve(name##_ring(h));             \
	}                                                                      \
	NSHM_RING__FN void name##_commit(struct name *h)                       \
	{                                                                      \
		nshm_bcast_commit(name##_ring(h));                             \
	}                                                                      \
	NSHM_RING__FN int name##_read(struct name *h, elem *v,                 \
				      uint64_t *missed)                        \
	{                                                                      \
		return nshm_bcast_read(name##_ring(h), v, missed);             \
	}                                                                      \
	NSHM_RING__FN int name##_read_wait(struct name *h, elem *v,            \
					   uint64_t *missed,                   \
					   const struct timespec *dl)          \
	{                                                                      \
		return nshm_bcast_read_wait(name##_ring(h), v, missed, dl);    \
	}                                                                      \
	NSHM_RING__FN int name##_read_begin(struct name *h, const elem **v,    \
					    uint64_t *missed)                  \
	{                                                                      \
		const void *p = NULL;                                          \
		int rc = nshm_bcast_read_begin(name##_ring(h), &p, missed);    \
		if (rc == 1)                                                   \
			*v = (const elem *)p;                                  \
		return rc;                                                     \
	}                                                                      \
	NSHM_RING__FN int name##_read_end(struct name *h, uint64_t *missed)    \
	{                                                                      \
		return nshm_bcast_read_end(name##_ring(h), missed);            \
	}

#ifdef __cplusplus
}
#endif
#endif /* NSHM_BCAST_H */
