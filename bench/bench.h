/* SPDX-License-Identifier: MIT */
#ifndef NSHM_BENCH_H
#define NSHM_BENCH_H

/*
 * nshm-bench internals: the clock, the message format, the shared control
 * block and the transport interface. See doc/bench.md for the method.
 *
 * A measurement runs in separate processes forked from the driver: a
 * throughput run has P producers and C consumers (1 and 1 for SPSC), a
 * latency run has one "ping" and one "pong" process. Each child is pinned,
 * waits at a start barrier in shared memory, runs its side of the transport
 * and writes a struct side_result into the shared control block.
 */

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "hdr.h"

/* ---- clock ------------------------------------------------------------- */

/*
 * Timestamps are "ticks": TSC cycles when the TSC is invariant (x86-64,
 * constant_tsc and nonstop_tsc), calibrated against CLOCK_MONOTONIC at start;
 * otherwise nanoseconds from clock_gettime(CLOCK_MONOTONIC).
 */
struct bench_clock {
	bool tsc;	      /* ticks are TSC cycles */
	double ns_per_tick;   /* 1.0 for CLOCK_MONOTONIC */
	double overhead_ns;   /* median cost of one timestamp (back to back) */
	uint64_t quantum;     /* readings move in steps of this many ticks */
	char desc[240];	      /* for the report */
};

extern struct bench_clock bench_clk;

static inline uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
/*
 * rdtscp waits until every earlier instruction has executed (and earlier
 * loads are globally visible); the lfence keeps later instructions from
 * starting before the timestamp is taken. So a stamp after a spin loop
 * cannot be hoisted above the load that ended it.
 */
static inline uint64_t tsc_now(void)
{
	unsigned aux;
	uint64_t t = __rdtscp(&aux);

	_mm_lfence();
	return t;
}
#define BENCH_HAVE_TSC 1
#else
static inline uint64_t tsc_now(void)
{
	return 0;
}
#define BENCH_HAVE_TSC 0
#endif

static inline uint64_t bench_now(void)
{
	return bench_clk.tsc ? tsc_now() : mono_ns();
}

static inline double ticks_to_ns(double ticks)
{
	return ticks * bench_clk.ns_per_tick;
}

static inline uint64_t ns_to_ticks(uint64_t ns)
{
	return (uint64_t)((double)ns / bench_clk.ns_per_tick);
}

/* Pick and calibrate the clock. @p force_mono: never use the TSC. */
void bench_clock_init(bool force_mono, unsigned calib_ms);

/* A spin-wait hint for loops that are not part of a measured path. */
static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	_mm_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#endif
}

/* ---- messages ---------------------------------------------------------- */

/*
 * Every message is `size` bytes (>= 8). Bytes 0..7 hold the sequence number;
 * bit 63 marks the last message of a run (the sender decides when to stop:
 * message cap or time budget, whichever comes first). When size >= 16 the
 * last 8 bytes hold seq ^ MSG_KEY, a cheap check that the whole message,
 * not only its head, arrived. The bytes in between are a fixed pattern.
 */
#define MSG_LAST (UINT64_C(1) << 63)
#define MSG_KEY UINT64_C(0x9e3779b97f4a7c15)
#define MSG_MIN 8u
#define MSG_MAX (1u << 20)

static inline void msg_fill(unsigned char *buf, size_t size)
{
	for (size_t i = 0; i < size; i++)
		buf[i] = (unsigned char)(i * 31u + 7u);
}

static inline void msg_stamp(unsigned char *buf, size_t size, uint64_t seq)
{
	memcpy(buf, &seq, 8);
	if (size >= 16) {
		uint64_t t = (seq & ~MSG_LAST) ^ MSG_KEY;

		memcpy(buf + size - 8, &t, 8);
	}
}

static inline uint64_t msg_seq(const unsigned char *buf)
{
	uint64_t s;

	memcpy(&s, buf, 8);
	return s;
}

/* True when the message's tail word matches its sequence number. */
static inline bool msg_tail_ok(const unsigned char *buf, size_t size,
			       uint64_t seq)
{
	uint64_t t;

	if (size < 16)
		return true;
	memcpy(&t, buf + size - 8, 8);
	return t == ((seq & ~MSG_LAST) ^ MSG_KEY);
}

/* ---- cases, parameters and results ------------------------------------- */

enum bench_mode {
	MODE_SPIN = 1u << 0,  /* busy-poll the transport */
	MODE_BLOCK = 1u << 1, /* let the transport sleep (futex, kernel) */
};

enum bench_kind {
	KIND_TPUT, /* streaming: producers -> consumers */
	KIND_RTT,  /* ping-pong: ping -> pong -> ping */
};

#define BENCH_MAX_PROCS 16

struct bench_params {
	enum bench_kind kind;
	enum bench_mode mode;
	size_t size;	     /* message bytes */
	unsigned producers;  /* KIND_TPUT; 1 for KIND_RTT */
	unsigned consumers;  /* KIND_TPUT; 1 for KIND_RTT */
	uint64_t msgs;	     /* KIND_TPUT: at most this many messages */
	uint64_t iters;	     /* KIND_RTT: at most this many timed round trips */
	uint64_t warmup;     /* KIND_RTT: untimed round trips before them */
	uint64_t budget;     /* ticks a run may take (message cap aside) */
	uint64_t budget_ms;  /* the same in ms, for the driver's watchdog */
	uint64_t deadline;   /* ticks: stop sending at this time; set in the
				child right after the start barrier */
	uint64_t warm_deadline; /* KIND_RTT: warm-up ends by this tick */
	unsigned capacity;   /* ring slots (ring transports) */
	unsigned mq_depth;   /* POSIX mq: queue depth wanted */
	int instance;	     /* unique per setup, for names */
};

/* What one child reports. Plain data: it lives in shared memory. */
struct side_result {
	int err;	  /* 0, or a negative errno / -1 for "see msg" */
	char msg[200];	  /* first problem, human readable */
	uint64_t msgs;	  /* messages sent or received */
	uint64_t bad;	  /* messages that failed verification */
	uint64_t t_first; /* consumer: tick at the first message */
	uint64_t t_last;  /* consumer: tick at the last message */
	uint64_t bytes;	  /* payload bytes moved */
	uint64_t warm;	  /* ping: warm-up round trips done */
	uint64_t timed;	  /* ping: round trips recorded */
	uint64_t cpu_ns;  /* neighbour roles: CPU time used while running */
	uint64_t wall_ns; /* neighbour roles: wall time of that run */
	bool done;
};

/* Shared control block, one per driver, MAP_SHARED|MAP_ANONYMOUS. */
struct bench_ctl {
	_Atomic(uint32_t) arrived; /* start barrier */
	uint32_t nprocs;
	struct side_result res[BENCH_MAX_PROCS];
	struct hdr_hist hist; /* the ping side's round-trip times, in ticks */
};

/*
 * A transport. All functions but setup/teardown run in a child process.
 * Roles: KIND_TPUT: 0..P-1 producers, P..P+C-1 consumers;
 *        KIND_RTT:  0 ping, 1 pong.
 *
 * setup() runs in the driver before fork; it returns 0, a negative errno,
 * or 1 to skip this case (with the reason written into @p why).
 * child_init() runs in each child after fork and pinning, before the start
 * barrier (attach by name there if the transport wants to).
 * run() is the measured body of one role. It must verify what it receives
 * and fill @p r; the ping role records every timed round trip into @p h.
 */
struct transport {
	const char *name;  /* as given to --transports */
	const char *desc;  /* one line for --help and doc */
	unsigned modes;	   /* OR of bench_mode */
	bool nshm;	   /* an nshm ring: gets ratios */
	bool baseline;	   /* the hardware floor */
	bool ring_floor;   /* hw-ring: a ring hand-off's floor; latency only */
	bool is_floor;	   /* mpmc-floor: a floor of its own kind, never a
			      "best alternative" (report_mpmc.c) */
	unsigned max_producers, max_consumers;
	int (*setup)(void **st, const struct bench_params *p, char *why,
		     size_t whylen);
	int (*child_init)(void *st, const struct bench_params *p, int role);
	void (*run)(void *st, const struct bench_params *p, int role,
		    struct side_result *r, struct hdr_hist *h);
	/* Optional, after run(), untimed: detach what child_init attached. */
	void (*child_fini)(void *st, const struct bench_params *p, int role);
	void (*teardown)(void *st, const struct bench_params *p);
};

struct placement;

/*
 * Fork @p nprocs roles of @p tp (its child_init/run/child_fini; setup and
 * teardown are the caller's), wait for them (a watchdog kills a run that
 * hangs after 2 x budget + 10 s) and leave their results in
 * bench_results(). Role i pins to CPU slot cpu_of_role[i] of @p where
 * (NULL: the run's placement; NULL map: slot i). @return 0, or -1 with
 * @p err set (a role failed, died or hung). nshm_bench.c.
 */
int bench_run_roles(const struct transport *tp, void *st,
		    const struct bench_params *p, unsigned nprocs,
		    const struct placement *where, const int *cpu_of_role,
		    char *err, size_t errlen);
/* The control block the last run's children reported into. */
const struct bench_ctl *bench_results(void);

/* Helpers shared by the transports (bench_common.c). */
void side_fail(struct side_result *r, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Wait at the start barrier; every child calls it exactly once. */
void bench_barrier(struct bench_ctl *ctl);
/* Shared anonymous memory (visible to children forked later), zeroed and
 * prefaulted. NULL on failure. */
void *bench_shared_alloc(size_t size);
void bench_shared_free(void *p, size_t size);

/*
 * Receiver-side bookkeeping for one message, identical for every
 * transport: verify the sequence number and the tail word, take the
 * first/last timestamps. @return true when this was the last message.
 */
static inline bool consume_check(struct side_result *r,
				 const unsigned char *buf, size_t size,
				 uint64_t *expect)
{
	uint64_t s = msg_seq(buf);
	bool last = (s & MSG_LAST) != 0;

	if ((s & ~MSG_LAST) != *expect || !msg_tail_ok(buf, size, s)) {
		if (r->bad++ == 0)
			side_fail(r, -1,
				  "message %llu: got seq %llu%s, tail %s",
				  (unsigned long long)*expect,
				  (unsigned long long)(s & ~MSG_LAST),
				  last ? " (last)" : "",
				  msg_tail_ok(buf, size, s) ? "ok" : "corrupt");
		*expect = (s & ~MSG_LAST);
	}
	if (*expect == 0)
		r->t_first = bench_now();
	(*expect)++;
	r->msgs++;
	if (last) {
		r->t_last = bench_now();
		r->bytes = r->msgs * size;
	}
	return last;
}

/*
 * Sender-side: should message @p seq be the last? Checks the clock every
 * 64 messages only.
 */
static inline bool send_is_last(const struct bench_params *p, uint64_t seq)
{
	if (seq + 1 >= p->msgs)
		return true;
	return (seq & 63) == 63 && bench_now() >= p->deadline;
}

/*
 * Ping-side helpers, identical for every transport. A round trip is a
 * warm-up (not recorded) until p->warmup of them are done or a quarter of
 * the time budget has passed; after that every round trip is recorded, and
 * the last one is the one that reaches p->iters or starts after the
 * deadline. @return the sequence word to send (MSG_LAST on the last).
 */
static inline uint64_t rtt_begin(const struct bench_params *p,
				 struct side_result *r, uint64_t i,
				 uint64_t t_prev, bool *timed)
{
	bool last;

	*timed = r->warm >= p->warmup || (i > 0 && t_prev >= p->warm_deadline);
	last = *timed && (r->timed + 1 >= p->iters || t_prev >= p->deadline);
	return i | (last ? MSG_LAST : 0);
}

/* Verify the echo of round trip @p i and record its time if timed. */
static inline void rtt_account(const struct bench_params *p,
			       struct side_result *r, struct hdr_hist *h,
			       const unsigned char *in, size_t size, uint64_t i,
			       bool timed, uint64_t t0, uint64_t t1)
{
	uint64_t s = msg_seq(in) & ~MSG_LAST;

	(void)p;
	if (s != i || !msg_tail_ok(in, size, s)) {
		if (r->bad++ == 0)
			side_fail(r, -1, "round trip %llu: echo has seq %llu, tail %s",
				  (unsigned long long)i, (unsigned long long)s,
				  msg_tail_ok(in, size, s) ? "ok" : "corrupt");
	}
	if (timed) {
		hdr_record(h, t1 - t0);
		r->timed++;
	} else {
		r->warm++;
	}
	r->msgs++;
}

/*
 * Message sizes for which the shared-memory transports get a copy of their
 * loops with the size as a compile-time constant, so memcpy becomes inline
 * moves, as it does for an application with a fixed message type (and as
 * the typed NSHM_RING_DEFINE() API does with sizeof(type)). Other sizes
 * run the same loops with the size as a variable.
 */
#define BENCH_ALWAYS_INLINE inline __attribute__((always_inline))

/* Call fn(args..., size), with size a constant when it is 8, 64, 256,
 * 1024, 4096 or 65536. fn must be BENCH_ALWAYS_INLINE. */
#define BENCH_SIZE_DISPATCH(size, fn, ...)                                 \
	do {                                                               \
		switch (size) {                                            \
		case 8: fn(__VA_ARGS__, 8); break;                         \
		case 64: fn(__VA_ARGS__, 64); break;                       \
		case 256: fn(__VA_ARGS__, 256); break;                     \
		case 1024: fn(__VA_ARGS__, 1024); break;                   \
		case 4096: fn(__VA_ARGS__, 4096); break;                   \
		case 65536: fn(__VA_ARGS__, 65536); break;                 \
		default: fn(__VA_ARGS__, (size)); break;                   \
		}                                                          \
	} while (0)

/* The transports (each in its own file). */
extern const struct transport tp_hw;
extern const struct transport tp_hw_ring;
extern const struct transport tp_pipe;
extern const struct transport tp_unix;
extern const struct transport tp_mq;
#ifdef NSHM_BENCH_HAVE_RING
extern const struct transport tp_nshm_spsc;
extern const struct transport tp_nshm_spsc_seq;
#endif
#ifdef NSHM_BENCH_HAVE_CXX
extern const struct transport tp_nshm_spsc_cxx; /* tp_cxx.cc, nshm.hpp */
#endif
/* Many producers / consumers (issue 10; mpmc_common.h, doc/bench.md). */
extern const struct transport tp_mpmc_floor; /* tp_mpmc_floor.c */
#ifdef NSHM_BENCH_HAVE_MPMC
extern const struct transport tp_nshm_mpmc; /* tp_mpmc.c */
#endif
#ifdef NSHM_BENCH_HAVE_CK
extern const struct transport tp_ck_mpmc; /* tp_ck.c, libck */
#endif
#ifdef NSHM_BENCH_HAVE_RECORDS
extern const struct transport tp_nshm_records; /* tp_records.c */
extern const struct transport tp_nshm_records_mix;
#endif
#ifdef NSHM_BENCH_HAVE_BCAST
/* Fan-out (issue 11; tp_bcast.c). */
extern const struct transport tp_nshm_bcast;
extern const struct transport tp_nshm_mcast;
extern const struct transport tp_bcast_floor;
#endif

/* POSIX mq limits: raise what root may, and put things back at exit. */
void mq_restore_limits(void);

#endif /* NSHM_BENCH_H */
