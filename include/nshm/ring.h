/* SPDX-License-Identifier: MIT */
#ifndef NSHM_RING_H
#define NSHM_RING_H

/*
 * Typed rings in named shared memory. This release has the single-producer
 * single-consumer ring (NSHM_RING_SPSC); the other kinds are reserved.
 *
 * A ring is its own segment. One process creates it by name, any process
 * attaches to it by name, as the producer or the consumer (or as an
 * observer, which may only read the counters: it maps the ring read-only,
 * takes no participant slot, and so any number of observers can neither
 * disturb the ring nor lock its producer and consumer out). Attach validates the ring
 * header once and copies capacity, mask and element size into the handle;
 * after that messages move with no system call, no lock and no value read
 * from shared memory used as a size or an offset.
 *
 *	nshm_ring_create()   make the segment and the ring, optionally take a role
 *	nshm_ring_attach()   open an existing ring by name and take a role
 *	nshm_ring_close()    give the role back, unmap, free the handle
 *	nshm_ring_delete()   remove the name (mappings keep working)
 *
 * Data plane (inline, <nshm/bits/ring_spsc.h>): reserve/commit and
 * peek/release in place, bursts of them (reserve_n/peek_n give one or two
 * strided runs, nshm_ring_span_at() indexes them; commit_n publishes the
 * burst with one tail store and one seq store per slot, release_n hands it
 * back with one head store), copying push/pop and push_n/pop_n, and blocking forms
 * (push_wait/pop_wait, push_n_wait/pop_n_wait) that spin, yield, then park
 * on an event count in the ring until a deadline. Every inline function
 * also exists out of line as <name>_fn for FFI, dlsym and benchmarks.
 *
 * Typed: NSHM_RING_DEFINE(tick_ring, struct tick) generates tick_ring_create,
 * _attach, _push, _pop, _reserve, _commit, _peek, _release, _reserve_n,
 * _commit_n, _peek_n, _release_n, _span_at, _span_len, _push_n, _pop_n,
 * _push_wait, _pop_wait, _close, _ring, taking a `struct tick_ring *` and `struct tick` pointers,
 * so element types cannot be mixed up at compile time, and recording the
 * type in the ring so they cannot be mixed up across processes either:
 * the header keeps a fingerprint of (type name, version, size, alignment);
 * attaching with another one fails with -NSHM_ETYPE, with another ring kind
 * with -NSHM_EKIND, and nshm_errdetail() says what was expected and found.
 * NSHM_RING_DEFINE_SEQ(tick_ring, struct tick, field) does the same for a
 * type whose uint64_t `field` the ring may use as its sequence word (see
 * struct nshm_ring_type): a 64-byte element then moves in one cache line.
 *
 * Roles. A ring has at most one live producer and one live consumer. A
 * second one gets -EBUSY; if the holder is proven dead (nshm_peer_alive()
 * says 0: SIGKILL, crash) the newcomer takes over and resumes from the
 * indices in the ring. When liveness cannot tell (a negative answer, e.g. a
 * corrupt participant entry), nobody takes over: attach fails with that
 * error, since a live holder must never lose its role. A producer killed at any instant never exposes a partial
 * element: each slot's sequence word is stored, with release order, after
 * the slot is written, and a restarted producer resumes after the last
 * slot whose seq says published (no gap, no duplicate). A consumer killed between peek and release leaves that element
 * to its successor (at-least-once for the element being read).
 *
 * Waiting. Non-blocking calls return NULL/false/0 when full or empty. The
 * blocking forms follow the handle's struct nshm_wait_strategy (spins, then
 * sched_yield()s, then park), and a side sleeps on the other side's event
 * word; the publisher notices sleepers with one load of a word on the line
 * it just wrote, so nobody makes a system call while the other side is
 * awake. No wake-up is lost (doc/ring.md, pair E1/E2). While parked the
 * waiter re-checks the other side's liveness every few tens of ms:
 * -NSHM_EPEERDEAD when it died (and the ring is empty/full), -EPIPE when it
 * closed cleanly, -ETIMEDOUT at the deadline.
 *
 * Corruption. Shared memory is untrusted input. Indices read from it are
 * bounded (0 <= tail - head <= capacity, checked by each side against its
 * own authoritative local index) and a slot's sequence word must be one of
 * its three legal values; a failed check makes the fast-path call
 * behave as full/empty, sets nshm_ring_error(r) = -NSHM_ECORRUPT, counts it
 * in the ring, and makes the blocking calls return -NSHM_ECORRUPT; nothing
 * out of bounds is ever read or written. nshm_ring_check() re-validates the
 * whole header on demand (checksum of the immutable part, index bounds).
 *
 * Counters (nshm_ring_stats(), any role, also an observer): pushed and
 * popped are the (published) tail and head indices themselves (free-running 64-bit:
 * exact and free); full/empty waits, parks, wake-ups and timeouts are
 * counted only on the blocking slow path, each by the side that owns the
 * 128-byte line they live on. The fast path never writes a counter.
 *
 * Threads: one thread at a time per handle.
 *
 * fork(): a role belongs to the process that took it. A child inherits
 * the parent's handles but not their roles: every data-plane call on an
 * inherited handle fails (NULL/false/0 with nshm_ring_error() ==
 * -NSHM_EFORKED, blocking calls return -NSHM_EFORKED) without touching
 * shared memory, and nshm_ring_close() in the child only unmaps, so the
 * parent keeps producing or consuming undisturbed. A child that wants a
 * role attaches anew (after the parent gave it up).
 *
 * Closing and draining. A blocking read never returns -EPIPE or
 * -NSHM_EPEERDEAD while anything committed is unread: the peer's state is
 * read first, the ring re-checked after, so `while (pop_wait(...) == 0)`
 * drains everything the producer committed before it closed or died (and
 * likewise a producer waiting for room gets the room a closing consumer
 * freed). -EPIPE means the peer closed cleanly, -NSHM_EPEERDEAD that it
 * died; a clean close is never reported as a death.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <nshm/common.h>
#include <nshm/shm.h>
#include <nshm/sync.h>

#define NSHM_INSIDE_RING_H 1
#include <nshm/bits/compiler.h>

#ifdef __cplusplus
extern "C" {
#endif

enum nshm_ring_kind {
	NSHM_RING_KIND_ANY = 0, /* attach as observer: accept any kind */
	NSHM_RING_SPSC = 1,
	NSHM_RING_MPMC = 2,	 /* <nshm/mpmc.h> */
	NSHM_RING_BROADCAST = 3, /* reserved */
	NSHM_RING_RECORDS = 4,	 /* <nshm/records.h> */
};

enum nshm_ring_role {
	NSHM_RING_OBSERVER = 0, /* counters only; no data calls */
	NSHM_RING_PRODUCER = 1,
	NSHM_RING_CONSUMER = 2,
	/* A lossy broadcast reader: read-only mapping, no role entry. */
	NSHM_RING_SUBSCRIBER = 3,
};

/*
 * What the elements are. NSHM_RING_TYPE_INIT(T, version) fills one in,
 * NSHM_RING_TYPE_INIT_SEQ(T, version, field) one with a seq field.
 *
 * Seq field (flags = NSHM_RING_TYPE_SEQ_FIELD): the element has a uint64_t
 * at seq_offset (a multiple of 8; the element aligned to 8 or more) that
 * the ring owns and uses as the slot's sequence word, instead of adding a
 * word of its own after each element. A slot is then the element alone: a
 * 64-byte element moves in one cache line per hand-off instead of two
 * (nshm-bench: nshm-spsc-seq against nshm-spsc). The field's value belongs
 * to the ring and means nothing to you: push/push_n do not copy it, and
 * code that fills a reserved slot in place must not write it (a consumer
 * is reading it); a popped or peeked element holds an opaque value there.
 * nshm_ring_position() gives a message's index if you want one.
 */
struct nshm_ring_type {
	const char *name; /* e.g. "struct tick"; NULL is "" (raw bytes) */
	uint32_t version; /* bump when the layout of the type changes */
	uint32_t size;	  /* sizeof: 1 .. NSHM_RING_ELEM_MAX, multiple of align */
	uint32_t align;	  /* alignof: power of two <= 4096 */
	uint32_t flags;	  /* 0 or NSHM_RING_TYPE_SEQ_FIELD */
	uint32_t seq_offset; /* the seq field's offsetof (with the flag) */
};

#define NSHM_RING_TYPE_SEQ_FIELD 1u

/*
 * A burst of slots from reserve_n/peek_n: one run, or two when the burst
 * wraps (run1[0..n1) then run2[0..n2)). Slots are padded and, unless the
 * type has a seq field, end with the ring's sequence word, so a run is
 * strided, NOT an array of elements: element i of the burst is
 * nshm_ring_span_at(sp, i), i.e.
 * run1 + i * stride for i < n1, then run2 + (i - n1) * stride. (Version 1
 * had contiguous p1/p2 arrays; the fields were renamed so that such code
 * fails to compile instead of writing over sequence words.)
 */
struct nshm_ring_span {
	unsigned char *run1;
	uint32_t n1;
	uint32_t n2;
	unsigned char *run2;
	uint32_t stride; /* bytes from one element to the next in a run */
	uint32_t reserved;
};

/** Element @p i (0 .. n1 + n2 - 1) of the burst @p sp. */
static inline void *nshm_ring_span_at(const struct nshm_ring_span *sp,
				      uint32_t i)
{
	return i < sp->n1 ? sp->run1 + (size_t)i * sp->stride
			  : sp->run2 + (size_t)(i - sp->n1) * sp->stride;
}

#define NSHM_RING_CAPACITY_MAX (1u << 30)
#define NSHM_RING_ELEM_MAX (1u << 24)	 /* 16 MiB per element */
#define NSHM_RING_BYTES_MAX (1ull << 40) /* slots in one ring */
#define NSHM_RING_ALIGN_MAX 4096u

/* Flags for create and attach (segment flags, see nshm/shm.h). */
#define NSHM_RING_CREATE_FLAGS (NSHM_HUGEPAGES | NSHM_PREFAULT | NSHM_MLOCK)
#define NSHM_RING_ATTACH_FLAGS \
	(NSHM_PREFAULT | NSHM_MLOCK | NSHM_ALLOW_OTHER_OWNER)

#ifdef __cplusplus
}
#endif

#include <nshm/bits/ring_layout.h>
#include <nshm/bits/ring_core.h>
#include <nshm/bits/ring_spsc.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- control plane (src/ring/core.c) ---------------------------------- */

/*
 * Everything a ring is made of, for nshm_ring_create_with() (the way to
 * create every kind; nshm_ring_create() is a shorthand for SPSC). Start
 * from NSHM_RING_PARAMS_INIT, so fields added later keep their defaults.
 */
struct nshm_ring_params {
	uint32_t size;		  /* sizeof(struct nshm_ring_params) */
	uint32_t kind;		  /* enum nshm_ring_kind */
	const struct nshm_ring_type *type; /* the element type */
	uint32_t capacity;	  /* slots: a power of two */
	uint32_t role;		  /* enum nshm_ring_role of the handle */
	unsigned int flags;	  /* NSHM_HUGEPAGES, NSHM_PREFAULT, NSHM_MLOCK */
	unsigned int mode;	  /* permission bits, 0 for 0600 */
	/*
	 * MPMC: role-table entries for producers and consumers (0: 8 each);
	 * together at most NSHM_RING_ROLES_MAX. SPSC: 0 or 1.
	 */
	uint32_t max_producers;
	uint32_t max_consumers;
	/* BROADCAST: enum nshm_bcast_policy (0: lossy). */
	uint32_t policy;
	/*
	 * BROADCAST, back-pressured: evict a live reader that keeps the
	 * writer waiting longer than this (0: never, the writer waits).
	 */
	uint32_t evict_ms;
	/* RECORDS: largest record payload, bytes (0: a quarter of capacity). */
	uint32_t record_max;
	/* RECORDS: payload alignment, 8 (0) .. 64, a power of two. */
	uint32_t record_align;
	uint32_t reserved[4];	  /* 0 */
};

#define NSHM_RING_PARAMS_INIT                                                  \
	{ (uint32_t)sizeof(struct nshm_ring_params), 0u, NULL, 0u, 0u, 0u, 0u, \
	  0u, 0u, 0u, 0u, 0u, 0u, { 0u, 0u, 0u, 0u } }

/* struct nshm_ring_params.policy for NSHM_RING_BROADCAST. */
enum nshm_bcast_policy {
	NSHM_BCAST_LOSSY = 0,	     /* the writer never waits; laps reported */
	NSHM_BCAST_BACKPRESSURE = 1, /* nothing lost; the writer waits */
};

/* What max_producers / max_consumers 0 mean for MPMC. */
#define NSHM_RING_MPMC_ROLES_DEFAULT 8u

/**
 * Create the ring @p name of any kind as @p p says (a new segment; fails
 * if the name exists), optionally taking a role in it. The ring is
 * published whole: its name appears only once it is valid.
 *
 * @return 0, or -EINVAL (NULL argument, @p p->size or a reserved field
 *         wrong, unknown kind/role/flag, capacity 0, not a power of two or
 *         too big, element type invalid, role-table sizes out of range for
 *         the kind), -EFBIG, -EOPNOTSUPP (a kind not built yet, or a type
 *         with a seq field on MPMC), or any error of the segment layer
 *         (-EEXIST, -ENOSPC, -NSHM_EBADNAME, -EUSERS...). A failed create
 *         leaves no name behind.
 */
NSHM_API int nshm_ring_create_with(const char *name,
				   const struct nshm_ring_params *p,
				   struct nshm_ring **out);

/** 64-bit FNV-1a of (name, version, size, align): what the ring records. */
NSHM_API uint64_t nshm_ring_type_fingerprint(const struct nshm_ring_type *t);

/**
 * Create the ring @p name (a new segment; fails if the name exists) and
 * optionally take a role in it.
 *
 * @param kind      NSHM_RING_SPSC (others: -EOPNOTSUPP for now).
 * @param type      element type; see struct nshm_ring_type.
 * @param capacity  slots: a power of two, 1 .. NSHM_RING_CAPACITY_MAX.
 * @param role      role of the returned handle (OBSERVER: none).
 * @param flags     NSHM_HUGEPAGES, NSHM_PREFAULT, NSHM_MLOCK.
 * @param mode      permission bits, 0 for 0600.
 * @param[out] out  the handle; written only on success.
 * @return 0, or -EINVAL (NULL argument, unknown kind/role/flag, capacity 0,
 *         not a power of two or too big, element size 0 or too big or not a
 *         multiple of align, align not a power of two or too big), -EFBIG
 *         (capacity * size beyond NSHM_RING_BYTES_MAX), -EOPNOTSUPP, or any
 *         error of nshm_seg_open()/nshm_seg_attach() (-EEXIST, -ENOSPC,
 *         -NSHM_EBADNAME...). A failed create leaves no name behind.
 *         With @p role OBSERVER the handle keeps a read-only mapping.
 */
NSHM_API int nshm_ring_create(const char *name, enum nshm_ring_kind kind,
			      const struct nshm_ring_type *type,
			      uint32_t capacity, enum nshm_ring_role role,
			      unsigned int flags, unsigned int mode,
			      struct nshm_ring **out);

/**
 * Attach to the existing ring @p name in @p role.
 *
 * @param kind  the kind expected (NSHM_RING_KIND_ANY: observers only).
 * @param type  the element type expected (NULL: observers only).
 * @param flags NSHM_PREFAULT, NSHM_MLOCK, NSHM_ALLOW_OTHER_OWNER.
 * @return 0, or -EINVAL, -ENOENT, -NSHM_EKIND (not a ring, or another
 *         kind), -NSHM_ETYPE (another element type/size/alignment/version),
 *         -EPROTO (another ring layout version), -NSHM_ECORRUPT (header
 *         checksum or fields, or indices out of bounds), -NSHM_ETRUNCATED,
 *         -ETIMEDOUT (the creator never finished the header), -EBUSY (the
 *         role is held by a live process), the negative answer of
 *         nshm_peer_alive() when it cannot tell whether the holder lives
 *         (-NSHM_ECORRUPT, -EOPNOTSUPP: the role is not taken over),
 *         -EUSERS (the segment's participant table is full; observers
 *         take no entry), or a segment-layer error.
 */
NSHM_API int nshm_ring_attach(const char *name, enum nshm_ring_kind kind,
			      const struct nshm_ring_type *type,
			      enum nshm_ring_role role, unsigned int flags,
			      struct nshm_ring **out);

/**
 * Give the role back (a waiting peer then gets -EPIPE once the ring is
 * drained/full), unmap, free the handle. NULL is a no-op. On a handle
 * inherited across fork() it only unmaps (the role stays the parent's).
 * @return 0, or a negative error from detaching (the handle is freed).
 */
NSHM_API int nshm_ring_close(struct nshm_ring *r);

/** Remove the ring's name. @return as nshm_seg_delete(). */
NSHM_API int nshm_ring_delete(const char *name);

/**
 * How this handle's blocking calls wait: @p ws->spins busy polls, then
 * @p ws->yields sched_yield() polls, then park in slices of
 * @p ws->park_slice_ms (0: NSHM_WAIT_SLICE_MS_DEFAULT), re-checking the
 * peer's liveness between slices and calling @p ws->check(r) (if set; < 0
 * ends the wait with that value). NULL: the defaults of nshm/sync.h
 * (NSHM_WAIT_SPINS_DEFAULT...), the same as for nshm_event_await().
 * @return 0 or -EINVAL (NULL handle, nonzero reserved field).
 */
NSHM_API int nshm_ring_set_wait(struct nshm_ring *r,
				const struct nshm_wait_strategy *ws);

/*
 * nshm_ring_wait_writable() (producer) / nshm_ring_wait_readable()
 * (consumer), declared in bits/ring_spsc.h: return 0 once at least one
 * slot is free / filled, else -ETIMEDOUT, -NSHM_EPEERDEAD, -EPIPE,
 * -NSHM_ECORRUPT, -EPERM (wrong role), -NSHM_EFORKED (a handle inherited
 * across fork()), -EINVAL (bad deadline).
 */

struct nshm_ring_stats {
	/* (MPMC: pushed/popped are the claim indices enq/deq.) */
	uint64_t pushed;	   /* tail index: elements ever published */
	uint64_t popped;	   /* head index: elements ever popped */
	uint64_t count;		   /* in the ring now (pushed - popped) */
	uint64_t full_waits;	   /* blocking pushes that found it full */
	uint64_t empty_waits;	   /* blocking pops that found it empty */
	uint64_t producer_parks;   /* futex sleeps of the producer */
	uint64_t consumer_parks;   /* futex sleeps of the consumer */
	uint64_t producer_wakeups; /* wake-ups sent to a sleeping consumer */
	uint64_t consumer_wakeups; /* wake-ups sent to a sleeping producer */
	uint64_t timeouts;	   /* blocking calls that hit their deadline */
	uint64_t corrupt;	   /* index bound checks that failed */
	uint32_t capacity;
	uint32_t elem_size;
	uint32_t producer_pid; /* last producer's pid (0: never) */
	uint32_t consumer_pid;
	int producer_alive; /* 1 alive, 0 dead or closed, -1 never attached */
	int consumer_alive;
	uint32_t producer_attaches; /* including take-overs */
	uint32_t consumer_attaches;
	uint32_t kind;
	uint32_t type_version;
	uint64_t type_fp;
	char type_name[NSHM_RING_TYPE_NAME_MAX + 1];
	/* Role table (every kind; SPSC: 1 + 1 entries). */
	uint32_t max_producers;
	uint32_t max_consumers;
	uint32_t producers;	 /* entries held by a live process now */
	uint32_t consumers;
	/* MPMC. */
	uint64_t skipped;	 /* slots given up for a dead claimant */
	uint64_t claim_retries;	 /* claim CASes lost to another claimant */
	/* BROADCAST (<nshm/bcast.h>). */
	uint64_t laps;		 /* this reader handle: times it was overrun */
	uint64_t missed;	 /* this reader handle: messages it lost */
	uint64_t evictions;	 /* readers the writer evicted (dead or slow) */
};

/**
 * Snapshot the ring's counters (the indices are exact; the rest are
 * relaxed reads). @return 0 or -EINVAL.
 */
#if defined(__cplusplus) && defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push /* g++ -Wshadow: "hides constructor" of the */
#pragma GCC diagnostic ignored "-Wshadow" /* struct of the same name */
#endif
NSHM_API int nshm_ring_stats(struct nshm_ring *r, struct nshm_ring_stats *st);
#if defined(__cplusplus) && defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

/* One entry of a ring's role table, for tools (nshm_ring_roles()). */
struct nshm_ring_role_info {
	uint32_t index;	    /* entry number in the table */
	uint32_t role;	    /* NSHM_RING_PRODUCER or NSHM_RING_CONSUMER */
	uint32_t state;	    /* enum nshm_ring_role_state */
	int32_t alive;	    /* holder: 1 alive, 0 dead or none, < 0 -errno */
	uint32_t pid;	    /* last holder's pid (diagnostics) */
	uint32_t attaches;  /* holders so far, take-overs included */
	uint64_t retries;   /* MPMC: claim races lost */
	uint64_t recovered; /* MPMC: dead claimants' slots this entry gave up */
	uint32_t claimed;   /* MPMC: slots claimed right now (intent) */
	uint32_t reader;    /* broadcast: 1 a registered reader, 0 not */
	uint64_t position;  /* MPMC: first index claimed; broadcast: cursor */
	uint64_t lag;	    /* broadcast reader: published - cursor */
};

/**
 * Snapshot the role table: every entry that ever had a holder, producers
 * first, each with its holder's liveness and counters (what `nshm watch`
 * shows per producer, consumer or registered reader). Lossy broadcast
 * subscribers hold no entry and are not listed. Any role may call it,
 * observers too.
 * @return how many entries there are (may exceed @p max; only @p max are
 *         written), or -EINVAL.
 */
NSHM_API int nshm_ring_roles(struct nshm_ring *r,
			     struct nshm_ring_role_info *out, unsigned int max);

/**
 * Re-validate the shared header now: checksum of the immutable part against
 * what attach saw, index bounds, and this handle's own index.
 * @return 0 or -NSHM_ECORRUPT (nshm_errdetail() names the field).
 */
NSHM_API int nshm_ring_check(struct nshm_ring *r);

/* Out-of-line copies of the inline data plane (STYLE B.5). */
NSHM_API void *nshm_ring_reserve_fn(struct nshm_ring *r);
NSHM_API void nshm_ring_commit_fn(struct nshm_ring *r);
NSHM_API uint32_t nshm_ring_reserve_n_fn(struct nshm_ring *r, uint32_t n,
					 struct nshm_ring_span *sp);
NSHM_API void nshm_ring_commit_n_fn(struct nshm_ring *r, uint32_t n);
NSHM_API void *nshm_ring_peek_fn(struct nshm_ring *r);
NSHM_API void nshm_ring_release_fn(struct nshm_ring *r);
NSHM_API uint32_t nshm_ring_peek_n_fn(struct nshm_ring *r, uint32_t n,
				      struct nshm_ring_span *sp);
NSHM_API void nshm_ring_release_n_fn(struct nshm_ring *r, uint32_t n);
NSHM_API bool nshm_ring_push_fn(struct nshm_ring *r, const void *elem);
NSHM_API bool nshm_ring_pop_fn(struct nshm_ring *r, void *elem);
NSHM_API uint32_t nshm_ring_push_n_fn(struct nshm_ring *r, const void *elems,
				      uint32_t n);
NSHM_API uint32_t nshm_ring_pop_n_fn(struct nshm_ring *r, void *elems,
				     uint32_t n);
NSHM_API int nshm_ring_push_wait_fn(struct nshm_ring *r, const void *elem,
				    const struct timespec *deadline);
NSHM_API int nshm_ring_pop_wait_fn(struct nshm_ring *r, void *elem,
				   const struct timespec *deadline);
NSHM_API int nshm_ring_push_n_wait_fn(struct nshm_ring *r, const void *elems,
				      uint32_t n,
				      const struct timespec *deadline);
NSHM_API int nshm_ring_pop_n_wait_fn(struct nshm_ring *r, void *elems,
				     uint32_t n,
				     const struct timespec *deadline);
NSHM_API uint32_t nshm_ring_capacity_fn(const struct nshm_ring *r);
NSHM_API uint32_t nshm_ring_elem_size_fn(const struct nshm_ring *r);
NSHM_API uint64_t nshm_ring_position_fn(const struct nshm_ring *r);
NSHM_API int nshm_ring_error_fn(const struct nshm_ring *r);
NSHM_API void *nshm_ring_span_at_fn(const struct nshm_ring_span *sp,
				    uint32_t i);

/* ---- typed rings ------------------------------------------------------ */

/* struct nshm_ring_type for T at @p ver (an lvalue; C and C++). */
#define NSHM_RING_TYPE_INIT(T, ver)                                            \
	{ #T, (uint32_t)(ver), (uint32_t)sizeof(T), (uint32_t)NSHM_ALIGNOF(T), \
	  0u, 0u }

/* The same for a T whose uint64_t member @p field is the ring's seq word. */
#define NSHM_RING_TYPE_INIT_SEQ(T, ver, field)                                 \
	{ #T, (uint32_t)(ver), (uint32_t)sizeof(T), (uint32_t)NSHM_ALIGNOF(T), \
	  NSHM_RING_TYPE_SEQ_FIELD, (uint32_t)offsetof(T, field) }

/* Generated functions: a program may call only some of them, warning-free. */
#define NSHM_RING__FN static inline NSHM_MAYBE_UNUSED

#ifdef __cplusplus
}
#endif
/* The SPSC ring's typed API (NSHM_RING_DEFINE...): every user of ring.h. */
#include <nshm/spsc.h>

#endif /* NSHM_RING_H */
