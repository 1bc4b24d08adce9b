/* SPDX-License-Identifier: MIT */
#ifndef NSHM_RECORDS_H
#define NSHM_RECORDS_H

/*
 * The records ring (NSHM_RING_RECORDS): a byte ring in a named segment
 * whose records carry a length (0 .. record_max bytes) and a user type id
 * (0 .. 65535), so one ring carries a whole protocol. Zero-copy both ways:
 * reserve a record, write it in place, commit it with its type; read a
 * record in place (pointer, length, type), release it. Batches: seal
 * several records and publish them with one store; read several, release
 * them with one store. Payloads are aligned to the ring's record_align
 * (8 by default, up to 64). Records never straddle the end of the ring
 * (padding records, as in Aeron's ring buffers). Layout and memory-order
 * pairs: <nshm/bits/ring_records.h>, doc/ring.md ("Records").
 *
 * Create with nshm_records_create() (or nshm_ring_create_with(), kind
 * NSHM_RING_RECORDS, capacity in bytes, record_max, record_align), attach
 * with nshm_records_attach(); close, stats, check, set_wait are the ring
 * core's (<nshm/ring.h>). One consumer; one producer (max_producers 0 or
 * 1) or many (max_producers up to 127: MPSC). With many producers a
 * producer killed between reserve and commit costs only its own record: the
 * consumer finds, through the role table and proof of death (never a
 * timeout), that no live producer holds the claim, skips it and counts it
 * in nshm_ring_stats().skipped; a slow or stopped live producer never loses
 * its record. Batches (seal/publish) are one producer's: with many
 * producers a seal publishes at once.
 *
 * Protocols. A ring records the protocol it carries: a name, a version
 * and the set of record types (id, C type name, size, version), hashed
 * into a fingerprint at create; attaching with another set is
 * -NSHM_ETYPE, and nshm_errdetail() names both protocols. Declare a set
 * once with NSHM_RECORDS_PROTO() (below) to get type ids, typed reserve /
 * commit / push and typed views of records read.
 *
 * Safety: a reader checks every header word it reads from shared memory
 * (state, length against record_max, the record inside the ring and
 * within one ring of what it released, padding that ends the lap): a
 * corrupt header is -NSHM_ECORRUPT (nshm_ring_error(), sticky), never a
 * read outside the ring. A record longer than a copy-out buffer is
 * -EMSGSIZE with the length needed, never truncated.
 */

#include <nshm/ring.h>
#include <nshm/bits/ring_records.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One record type of a protocol. */
struct nshm_record_type {
	uint32_t id;	  /* 0 .. 65535, unique in the set */
	const char *name; /* the C type, e.g. "struct quote" */
	uint32_t size;	  /* sizeof */
	uint32_t version; /* bump when the type's layout changes */
};

/* A protocol: what a records ring carries. */
struct nshm_records_proto {
	const char *name; /* e.g. "feed"; NULL: "" */
	uint32_t version;
	uint32_t count;	  /* entries of types */
	const struct nshm_record_type *types;
};

/**
 * 64-bit FNV-1a of the protocol: name, version, then each type's id,
 * name, size and version in order. NULL: that of the empty protocol.
 */
NSHM_API uint64_t nshm_records_fingerprint(const struct nshm_records_proto *p);

/**
 * Create the records ring @p name: @p p as for nshm_ring_create_with()
 * (kind and type are set here: start from NSHM_RING_PARAMS_INIT and give
 * capacity, in bytes, a power of two >= 128; record_max, 0 for a quarter
 * of the capacity; record_align 8 (0) .. 64; role, flags, mode), carrying
 * @p proto (NULL: untyped records).
 * @return 0, or -EINVAL (NULL name/params/out, a protocol with a type id
 *         above 65535 or twice, record_align not a power of two in 8..64,
 *         capacity below 128, record_max above what fits: two records of
 *         the maximum and a header word must fit in the ring;
 *         max_producers above 127; max_consumers above 1), or any error
 *         of nshm_ring_create_with().
 */
NSHM_API int nshm_records_create(const char *name,
				 const struct nshm_ring_params *p,
				 const struct nshm_records_proto *proto,
				 struct nshm_ring **out);

/**
 * Attach to the records ring @p name in @p role, speaking @p proto (NULL:
 * untyped records; an observer passes NULL for any protocol).
 * @return 0, or the errors of nshm_ring_attach(); -NSHM_ETYPE when the
 *         ring carries another protocol (name, version or type set), with
 *         both protocols in nshm_errdetail().
 */
NSHM_API int nshm_records_attach(const char *name,
				 const struct nshm_records_proto *proto,
				 enum nshm_ring_role role, unsigned int flags,
				 struct nshm_ring **out);

/**
 * Producer: nshm_records_reserve(), waiting for room until @p deadline
 * (absolute CLOCK_MONOTONIC; NULL: forever). @p *out gets the payload.
 * @return 0, -EMSGSIZE (@p len above nshm_records_max()), -ETIMEDOUT,
 *         -EPIPE (the consumer closed), -NSHM_EPEERDEAD (it died),
 *         -NSHM_ECORRUPT, -EPERM, -NSHM_EFORKED, -EINVAL.
 */
NSHM_API int nshm_records_reserve_wait(struct nshm_ring *r, uint32_t len,
				       void **out,
				       const struct timespec *deadline);

/** Producer: nshm_records_push(), waiting for room (as reserve_wait). */
NSHM_API int nshm_records_push_wait(struct nshm_ring *r, uint32_t type,
				    const void *data, uint32_t len,
				    const struct timespec *deadline);

/**
 * Consumer: nshm_records_next(), waiting for a record until @p deadline.
 * @return 0, -ETIMEDOUT, -EPIPE (the producer closed and everything it
 *         published was read), -NSHM_EPEERDEAD (it died, likewise),
 *         -NSHM_ECORRUPT, -EPERM, -NSHM_EFORKED, -EINVAL.
 */
NSHM_API int nshm_records_next_wait(struct nshm_ring *r,
				    struct nshm_record *rec,
				    const struct timespec *deadline);

/**
 * Consumer: nshm_records_pop(), waiting for a record (errors of
 * nshm_records_next_wait(), and -EMSGSIZE with *@p len the size needed).
 */
NSHM_API int nshm_records_pop_wait(struct nshm_ring *r, void *buf, size_t cap,
				   uint32_t *len, uint32_t *type,
				   const struct timespec *deadline);

/**
 * Consumer, many producers: give up the claims of dead producers that
 * block the next record now (the blocking reads do this by themselves
 * after each park slice). @return how many (>= 0; 0 with one producer),
 * or -EINVAL, -EPERM (not a records consumer), -NSHM_EFORKED,
 * -NSHM_ECORRUPT.
 */
NSHM_API int nshm_records_recover(struct nshm_ring *r);

/* Out-of-line copies of the inline data plane (FFI, dlsym, benchmarks). */
NSHM_API void *nshm_records_reserve_fn(struct nshm_ring *r, uint32_t len);
NSHM_API void nshm_records_commit_len_fn(struct nshm_ring *r, uint32_t type,
					 uint32_t len);
NSHM_API bool nshm_records_next_fn(struct nshm_ring *r,
				   struct nshm_record *rec);
NSHM_API void nshm_records_release_fn(struct nshm_ring *r);
NSHM_API int nshm_records_push_fn(struct nshm_ring *r, uint32_t type,
				  const void *data, uint32_t len);
NSHM_API int nshm_records_pop_fn(struct nshm_ring *r, void *buf, size_t cap,
				 uint32_t *len, uint32_t *type);

/*
 * NSHM_RECORDS_PROTO(proto, "name", version, LIST): declare a protocol once.
 * LIST(X, P) lists its record types as X(P, tag, id, C type, version):
 *
 *	struct quote { uint64_t id; double bid, ask; };
 *	struct trade { uint64_t id; double px; uint32_t qty; };
 *	#define FEED_TYPES(X, P)                  \
 *		X(P, quote, 1, struct quote, 1)   \
 *		X(P, trade, 2, struct trade, 1)
 *	NSHM_RECORDS_PROTO(feed, "feed", 1, FEED_TYPES)
 *
 * generates the ids (feed_quote = 1, feed_trade = 2), feed_proto() (the
 * struct nshm_records_proto), feed_create(shm_name, bytes, role, &r),
 * feed_attach(shm_name, role, flags, &r), and per type
 * feed_reserve_quote(r) (a struct quote * to fill in place),
 * feed_commit_quote(r), feed_push_quote(r, &q) (as nshm_records_push) and
 * feed_as_quote(&rec): a typed pointer to a record read, or NULL unless
 * its id is feed_quote and it holds at least sizeof(struct quote) bytes
 * (a type may be followed by variable data):
 *
 *	while (nshm_records_next(r, &rec)) {
 *		switch (rec.type) {
 *		case feed_quote: on_quote(feed_as_quote(&rec)); break;
 *		case feed_trade: on_trade(feed_as_trade(&rec)); break;
 *		}
 *	}
 *	nshm_records_release(r);
 *
 * A reader built against another list (an id, a type's name, size or
 * version changed) gets -NSHM_ETYPE from feed_attach().
 */
#define NSHM__REC_ENUM(P, tag, id, T, ver) P##_##tag = (id),
#define NSHM__REC_ROW(P, tag, id, T, ver) \
	{ (uint32_t)(id), #T, (uint32_t)sizeof(T), (uint32_t)(ver) },
#define NSHM__REC_FNS(P, tag, id, T, ver)                                     \
	NSHM_RING__FN T *P##_reserve_##tag(struct nshm_ring *r)               \
	{                                                                     \
		return (T *)nshm_records_reserve(r, (uint32_t)sizeof(T));     \
	}                                                                     \
	NSHM_RING__FN void P##_commit_##tag(struct nshm_ring *r)              \
	{                                                                     \
		nshm_records_commit_len(r, (uint32_t)(id),                    \
					(uint32_t)sizeof(T));                 \
	}                                                                     \
	NSHM_RING__FN int P##_push_##tag(struct nshm_ring *r, const T *v)     \
	{                                                                     \
		return nshm_records_push(r, (uint32_t)(id), v,                \
					 (uint32_t)sizeof(T));                \
	}                                                                     \
	NSHM_RING__FN const T *P##_as_##tag(const struct nshm_record *rec)    \
	{                                                                     \
		return rec->type == (uint32_t)(id) && rec->len >= sizeof(T)   \
			       ? (const T *)rec->data                         \
			       : NULL;                                        \
	}

#define NSHM_RECORDS_PROTO(P, pname, ver, LIST)                               \
	enum { LIST(NSHM__REC_ENUM, P) };                                     \
	NSHM_RING__FN const struct nshm_records_proto *P##_proto(void)        \
	{                                                                     \
		static const struct nshm_record_type t[] = {                  \
			LIST(NSHM__REC_ROW, P)                                \
		};                                                            \
		static const struct nshm_records_proto p = {                  \
			pname, (uint32_t)(ver),                               \
			(uint32_t)(sizeof(t) / sizeof(t[0])), t               \
		};                                                            \
		return &p;                                                    \
	}                                                                     \
	NSHM_RING__FN int P##_create(const char *shm_name, uint32_t bytes,    \
				     enum nshm_ring_role role,                \
				     struct nshm_ring **out)                  \
	{                                                                     \
		struct nshm_ring_params prm = NSHM_RING_PARAMS_INIT;          \
		prm.capacity = bytes;                                         \
		prm.role = (uint32_t)role;                                    \
		return nshm_records_create(shm_name, &prm, P##_proto(), out); \
	}                                                                     \
	NSHM_RING__FN int P##_attach(const char *shm_name,                    \
				     enum nshm_ring_role role,                \
				     unsigned int flags,                      \
				     struct nshm_ring **out)                  \
	{                                                                     \
		return nshm_records_attach(shm_name, P##_proto(), role,       \
					   flags, out);                       \
	}                                                                     \
	LIST(NSHM__REC_FNS, P)

#ifdef __cplusplus
}
#endif
#endif /* NSHM_RECORDS_H */
