/* SPDX-License-Identifier: MIT */
/*
 * nshm-demo: a market-data feed over a named, typed SPSC ring.
 *
 * The parent creates the ring "nshm-demo-<pid>" (element: struct tick),
 * starts a producer process and a consumer process pinned to two cores
 * (hwloc; shared cache preferred), and reports:
 *   - throughput: N ticks as fast as the producer can write them in place;
 *   - latency: L more ticks paced one every G ns, each stamped with
 *     CLOCK_MONOTONIC at write time and compared with the time it is read;
 *   - the ring's counters (pushed, popped, waits, parks, wake-ups).
 * The consumer verifies every sequence number and payload; any error makes
 * the exit status non-zero.
 *
 *   nshm-demo [-n COUNT] [-l LATENCY_COUNT] [-g GAP_NS] [-m spin|block]
 *             [-c CAPACITY]
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <nshm/nshm.h>

#ifdef NSHM_HAVE_HWLOC
#include <hwloc.h>
#endif

/* One market-data tick: 48 bytes. */
struct tick {
	uint64_t seq;	     /* 0, 1, 2, ... : checked by the consumer */
	uint32_t instrument; /* instrument id */
	uint32_t qty;
	double bid;
	double ask;
	uint64_t ts_ns; /* CLOCK_MONOTONIC when the producer wrote it */
	uint64_t check; /* seq ^ instrument ^ qty mixed: torn-write detector */
};

NSHM_RING_DEFINE(tick_ring, struct tick)

/* ---- a small log-linear latency histogram ------------------------------ */

#define H_LINEAR 1024
#define H_SUB 64
#define H_BUCKETS (H_LINEAR + 34 * H_SUB)

struct hist {
	uint64_t n, max, sum;
	uint64_t b[H_BUCKETS];
};

static void hist_add(struct hist *h, uint64_t v)
{
	size_t i;

	if (v < H_LINEAR) {
		i = v;
	} else {
		int e = 63 - __builtin_clzll(v); /* >= 10 */

		i = H_LINEAR + (size_t)(e - 10) * H_SUB +
		    ((v >> (e - 6)) & (H_SUB - 1));
		if (i >= H_BUCKETS)
			i = H_BUCKETS - 1;
	}
	h->b[i]++;
	h->n++;
	h->sum += v;
	if (v > h->max)
		h->max = v;
}

static uint64_t hist_value(size_t i)
{
	size_t e;

	if (i < H_LINEAR)
		return i;
	e = (i - H_LINEAR) / H_SUB + 10;
	return ((uint64_t)1 << e) |
	       (uint64_t)((i - H_LINEAR) % H_SUB) << (e - 6);
}

static uint64_t hist_pct(const struct hist *h, double pct)
{
	uint64_t want = (uint64_t)ceil((double)h->n * pct / 100.0), seen = 0;

	if (want == 0)
		want = 1;
	for (size_t i = 0; i < H_BUCKETS; i++) {
		seen += h->b[i];
		if (seen >= want)
			return hist_value(i);
	}
	return h->max;
}

/* ---- what the consumer reports back (shared anonymous memory) ----------- */

struct results {
	uint64_t received, seq_errors, torn, first_bad_seq;
	uint64_t stream_first_ns, stream_last_ns;
	struct hist stream, paced;
	char error[256];
};

struct opts {
	uint64_t count, lat_count, gap_ns;
	uint32_t capacity;
	int blocking;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t tick_check(const struct tick *t)
{
	return (t->seq * 0x9e3779b97f4a7c15ull) ^ t->instrument ^
	       ((uint64_t)t->qty << 32);
}

/* ---- placement ---------------------------------------------------------- */

struct placement {
	int ncpu;
	int cpu[2]; /* OS cpu numbers, -1: not pinned */
	char what[200];
#ifdef NSHM_HAVE_HWLOC
	hwloc_topology_t topo;
	hwloc_obj_t pu[2];
	int have_topo; /* topo was initialised: destroy it */
#endif
};

static void place(struct placement *pl)
{
	pl->cpu[0] = pl->cpu[1] = -1;
	pl->ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
#ifdef NSHM_HAVE_HWLOC
	pl->have_topo = hwloc_topology_init(&pl->topo) == 0;
	if (pl->have_topo && hwloc_topology_load(pl->topo) == 0) {
		int ncores = hwloc_get_nbobjs_by_type(pl->topo,
						      HWLOC_OBJ_CORE);
		hwloc_obj_t c0, c1 = NULL, common;

		if (ncores >= 2) {
			c0 = hwloc_get_obj_by_type(pl->topo, HWLOC_OBJ_CORE, 0);
			/* The first other core that shares a cache with it. */
			for (int i = 1; i < ncores && c1 == NULL; i++) {
				hwloc_obj_t c = hwloc_get_obj_by_type(
					pl->topo, HWLOC_OBJ_CORE, (unsigned)i);

				common = hwloc_get_common_ancestor_obj(
					pl->topo, c0, c);
				if (hwloc_obj_type_is_cache(common->type))
					c1 = c;
			}
			if (c1 == NULL)
				c1 = hwloc_get_obj_by_type(pl->topo,
							   HWLOC_OBJ_CORE, 1);
			pl->pu[0] = hwloc_get_obj_inside_cpuset_by_type(
				pl->topo, c0->cpuset, HWLOC_OBJ_PU, 0);
			pl->pu[1] = hwloc_get_obj_inside_cpuset_by_type(
				pl->topo, c1->cpuset, HWLOC_OBJ_PU, 0);
			common = hwloc_get_common_ancestor_obj(pl->topo, c0,
							       c1);
			pl->cpu[0] = (int)pl->pu[0]->os_index;
			pl->cpu[1] = (int)pl->pu[1]->os_index;
			snprintf(pl->what, sizeof(pl->what),
				 "producer on cpu %d, consumer on cpu %d "
				 "(two cores; closest shared level: %s)",
				 pl->cpu[0], pl->cpu[1],
				 hwloc_obj_type_string(common->type));
			return;
		}
		if (hwloc_get_nbobjs_by_type(pl->topo, HWLOC_OBJ_PU) >= 2) {
			pl->pu[0] = hwloc_get_obj_by_type(pl->topo,
							  HWLOC_OBJ_PU, 0);
			pl->pu[1] = hwloc_get_obj_by_type(pl->topo,
							  HWLOC_OBJ_PU, 1);
			pl->cpu[0] = (int)pl->pu[0]->os_index;
			pl->cpu[1] = (int)pl->pu[1]->os_index;
			snprintf(pl->what, sizeof(pl->what),
				 "producer on cpu %d, consumer on cpu %d "
				 "(SMT siblings of one core)",
				 pl->cpu[0], pl->cpu[1]);
			return;
		}
	}
#endif
	if (pl->ncpu >= 2) {
		pl->cpu[0] = 0;
		pl->cpu[1] = 1;
		snprintf(pl->what, sizeof(pl->what),
			 "producer on cpu 0, consumer on cpu 1 (no hwloc: "
			 "topology unknown)");
	} else {
		snprintf(pl->what, sizeof(pl->what),
			 "1 cpu: not pinned, producer and consumer share it");
	}
}

static void unplace(struct placement *pl)
{
#ifdef NSHM_HAVE_HWLOC
	if (pl->have_topo)
		hwloc_topology_destroy(pl->topo);
	pl->have_topo = 0;
#else
	(void)pl;
#endif
}

static void pin(struct placement *pl, int who)
{
	if (pl->cpu[who] < 0)
		return;
#ifdef NSHM_HAVE_HWLOC
	if (pl->pu[who] != NULL &&
	    hwloc_set_cpubind(pl->topo, pl->pu[who]->cpuset,
			      HWLOC_CPUBIND_PROCESS) == 0)
		return;
#endif
	{
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(pl->cpu[who], &set);
		if (sched_setaffinity(0, sizeof(set), &set) != 0)
			perror("sched_setaffinity");
	}
}

/* ---- the two processes -------------------------------------------------- */

static int producer(const char *name, const struct opts *o)
{
	struct tick_ring *q;
	uint64_t total = o->count + o->lat_count, next = 0;
	struct timespec dl;
	int rc;

	rc = tick_ring_attach(name, NSHM_RING_PRODUCER, 0, &q);
	if (rc != 0) {
		fprintf(stderr, "producer: attach: %s: %s\n",
			nshm_strerror(rc), nshm_errdetail());
		return 2;
	}
	for (uint64_t seq = 0; seq < total; seq++) {
		struct tick *t;

		if (seq >= o->count) { /* paced phase */
			uint64_t now;

			if (next == 0)
				next = now_ns();
			while ((now = now_ns()) < next)
				nshm_cpu_relax();
			next = now + o->gap_ns;
		}
		/* Write the tick in place in the ring: zero copy. */
		while ((t = tick_ring_reserve(q)) == NULL) {
			if (!o->blocking) {
				nshm_cpu_relax();
				continue;
			}
			rc = nshm_ring_wait_writable(tick_ring_ring(q),
						     nshm_deadline_in(
							     &dl,
							     10000000000ull));
			if (rc != 0) {
				fprintf(stderr, "producer: %s: %s\n",
					nshm_strerror(rc), nshm_errdetail());
				return 3;
			}
		}
		t->seq = seq;
		t->instrument = (uint32_t)(seq % 97);
		t->qty = (uint32_t)(100 + seq % 900);
		t->bid = 100.0 + (double)(seq % 1000) * 0.01;
		t->ask = t->bid + 0.01;
		t->check = tick_check(t);
		t->ts_ns = now_ns();
		tick_ring_commit(q);
	}
	tick_ring_close(q);
	return 0;
}

static int consumer(const char *name, const struct opts *o,
		    struct results *res)
{
	struct tick_ring *q;
	uint64_t total = o->count + o->lat_count;
	struct timespec dl;
	int rc;

	rc = tick_ring_attach(name, NSHM_RING_CONSUMER, 0, &q);
	if (rc != 0) {
		snprintf(res->error, sizeof(res->error), "consumer attach: %s: %s",
			 nshm_strerror(rc), nshm_errdetail());
		return 2;
	}
	while (res->received < total) {
		const struct tick *t = tick_ring_peek(q);
		uint64_t now;

		if (t == NULL) {
			if (!o->blocking) {
				nshm_cpu_relax();
				continue;
			}
			rc = nshm_ring_wait_readable(tick_ring_ring(q),
						     nshm_deadline_in(
							     &dl,
							     10000000000ull));
			if (rc != 0) {
				snprintf(res->error, sizeof(res->error),
					 "consumer after %llu ticks: %s: %s",
					 (unsigned long long)res->received,
					 nshm_strerror(rc), nshm_errdetail());
				return 3;
			}
			continue;
		}
		now = now_ns();
		if (t->seq != res->received) {
			if (res->seq_errors++ == 0)
				res->first_bad_seq = res->received;
		} else if (t->check != tick_check(t) ||
			   t->ask != t->bid + 0.01) {
			res->torn++;
		}
		if (t->seq < o->count) {
			if (res->stream_first_ns == 0)
				res->stream_first_ns = now;
			res->stream_last_ns = now;
			hist_add(&res->stream, now - t->ts_ns);
		} else {
			hist_add(&res->paced, now - t->ts_ns);
		}
		res->received++;
		tick_ring_release(q);
	}
	tick_ring_close(q);
	return res->seq_errors || res->torn ? 1 : 0;
}

static void print_hist(const char *what, const struct hist *h)
{
	if (h->n == 0)
		return;
	printf("  %-26s p50 %6llu  p90 %6llu  p99 %7llu  p99.9 %8llu  "
	       "max %9llu ns  (%llu samples)\n",
	       what, (unsigned long long)hist_pct(h, 50),
	       (unsigned long long)hist_pct(h, 90),
	       (unsigned long long)hist_pct(h, 99),
	       (unsigned long long)hist_pct(h, 99.9),
	       (unsigned long long)h->max, (unsigned long long)h->n);
}

static void usage(const char *argv0)
{
	fprintf(stderr,
		"usage: %s [-n COUNT] [-l LATENCY_COUNT] [-g GAP_NS] "
		"[-m spin|block] [-c CAPACITY]\n"
		"  -n  ticks streamed at full speed (default 20000000)\n"
		"  -l  ticks sent paced for latency (default 200000)\n"
		"  -g  gap between paced ticks in ns (default 5000)\n"
		"  -m  spin: busy-poll; block: spin, then sleep on the ring's "
		"event count\n"
		"  -c  ring capacity, a power of two (default 4096)\n",
		argv0);
}

int main(int argc, char **argv)
{
	struct opts o = { 20000000, 200000, 5000, 4096, 0 };
	struct placement pl;
	struct tick_ring *obs;
	struct nshm_ring_stats st;
	struct results *res;
	char name[64];
	pid_t cpid, ppid;
	int opt, cst, pst, rc, ok;
	double secs;

	while ((opt = getopt(argc, argv, "n:l:g:m:c:h")) != -1) {
		switch (opt) {
		case 'n':
			o.count = strtoull(optarg, NULL, 0);
			break;
		case 'l':
			o.lat_count = strtoull(optarg, NULL, 0);
			break;
		case 'g':
			o.gap_ns = strtoull(optarg, NULL, 0);
			break;
		case 'c':
			o.capacity = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		case 'm':
			if (strcmp(optarg, "spin") == 0) {
				o.blocking = 0;
			} else if (strcmp(optarg, "block") == 0) {
				o.blocking = 1;
			} else {
				usage(argv[0]);
				return 2;
			}
			break;
		default:
			usage(argv[0]);
			return opt == 'h' ? 0 : 2;
		}
	}
	place(&pl);
	if (pl.cpu[0] < 0 && !o.blocking) {
		printf("note: one cpu only: switching to blocking mode\n");
		o.blocking = 1;
	}

	res = mmap(NULL, sizeof(*res), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (res == MAP_FAILED) {
		perror("mmap");
		return 2;
	}
	memset(res, 0, sizeof(*res));
	snprintf(name, sizeof(name), "nshm-demo-%ld", (long)getpid());
	rc = tick_ring_create(name, o.capacity, NSHM_RING_OBSERVER,
			      NSHM_PREFAULT, 0600, &obs);
	if (rc != 0) {
		fprintf(stderr, "create ring %s: %s: %s\n", name,
			nshm_strerror(rc), nshm_errdetail());
		unplace(&pl);
		return 2;
	}
	printf("nshm-demo: ring '%s', %u slots of struct tick (%zu B), "
	       "%s mode\n",
	       name, o.capacity, sizeof(struct tick),
	       o.blocking ? "blocking" : "spin");
	printf("placement: %s\n", pl.what);

	cpid = fork();
	if (cpid == 0) {
		pin(&pl, 1);
		_exit(consumer(name, &o, res));
	}
	ppid = fork();
	if (ppid == 0) {
		pin(&pl, 0);
		_exit(producer(name, &o));
	}
	waitpid(ppid, &pst, 0);
	waitpid(cpid, &cst, 0);

	rc = nshm_ring_stats(tick_ring_ring(obs), &st);
	secs = (double)(res->stream_last_ns - res->stream_first_ns) / 1e9;
	printf("stream:  %llu ticks in %.3f s = %.1f M ticks/s (%.2f GB/s)\n",
	       (unsigned long long)o.count, secs,
	       secs > 0 ? (double)o.count / secs / 1e6 : 0.0,
	       secs > 0 ? (double)o.count * sizeof(struct tick) / secs / 1e9
			: 0.0);
	printf("latency: write-to-read, CLOCK_MONOTONIC\n");
	print_hist("under full load (queueing)", &res->stream);
	char paced[64];
	snprintf(paced, sizeof(paced), "paced, 1 per %llu ns",
		 (unsigned long long)o.gap_ns);
	print_hist(paced, &res->paced);
	if (rc == 0)
		printf("counters: pushed %llu, popped %llu, full waits %llu, "
		       "empty waits %llu, parks %llu/%llu (producer/consumer), "
		       "wake-ups %llu/%llu, timeouts %llu, corrupt %llu\n",
		       (unsigned long long)st.pushed,
		       (unsigned long long)st.popped,
		       (unsigned long long)st.full_waits,
		       (unsigned long long)st.empty_waits,
		       (unsigned long long)st.producer_parks,
		       (unsigned long long)st.consumer_parks,
		       (unsigned long long)st.producer_wakeups,
		       (unsigned long long)st.consumer_wakeups,
		       (unsigned long long)st.timeouts,
		       (unsigned long long)st.corrupt);
	ok = WIFEXITED(pst) && WEXITSTATUS(pst) == 0 && WIFEXITED(cst) &&
	     WEXITSTATUS(cst) == 0 && res->seq_errors == 0 && res->torn == 0 &&
	     res->received == o.count + o.lat_count;
	printf("verify:  %llu received, %llu sequence errors, %llu torn: %s\n",
	       (unsigned long long)res->received,
	       (unsigned long long)res->seq_errors,
	       (unsigned long long)res->torn, ok ? "OK" : "FAILED");
	if (res->error[0])
		printf("error:   %s\n", res->error);
	if (res->seq_errors)
		printf("first bad sequence at tick %llu\n",
		       (unsigned long long)res->first_bad_seq);
	tick_ring_close(obs);
	nshm_ring_delete(name);
	unplace(&pl);
	return ok ? 0 : 1;
}
