/* SPDX-License-Identifier: MIT */
/*
 * nshm create, pub, sub: making segments and rings, and moving elements
 * between a ring and stdin/stdout. Ring kinds are a table: a kind the
 * library gains later is one entry (and, for pub/sub, its codec) here.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nshm.h"

/* ---- the table of ring kinds ---------------------------------------------- */

/*
 * Adapters: each kind's data plane in the shape the table wants. The
 * fixed-size kinds move whole elements: len is the element size both ways.
 */
static int spsc_push_wait(struct nshm_ring *r, const void *buf, uint32_t len,
			  uint32_t type, const struct timespec *deadline)
{
	(void)len;
	(void)type;
	return nshm_ring_push_wait_fn(r, buf, deadline);
}

static int spsc_pop(struct nshm_ring *r, void *buf, uint32_t cap,
		    uint32_t *len, uint32_t *type, uint64_t *missed)
{
	(void)missed;
	*len = cap;
	*type = 0;
	return nshm_ring_pop_fn(r, buf) ? 1 : nshm_ring_error_fn(r);
}

static int spsc_pop_wait(struct nshm_ring *r, void *buf, uint32_t cap,
			 uint32_t *len, uint32_t *type,
			 const struct timespec *deadline, uint64_t *missed)
{
	(void)missed;
	*len = cap;
	*type = 0;
	return nshm_ring_pop_wait_fn(r, buf, deadline);
}

static int mpmc_push_wait(struct nshm_ring *r, const void *buf, uint32_t len,
			  uint32_t type, const struct timespec *deadline)
{
	(void)len;
	(void)type;
	return nshm_mpmc_push_wait_fn(r, buf, deadline);
}

static int mpmc_pop(struct nshm_ring *r, void *buf, uint32_t cap,
		    uint32_t *len, uint32_t *type, uint64_t *missed)
{
	(void)missed;
	*len = cap;
	*type = 0;
	return nshm_mpmc_pop_fn(r, buf) ? 1 : nshm_ring_error_fn(r);
}

static int mpmc_pop_wait(struct nshm_ring *r, void *buf, uint32_t cap,
			 uint32_t *len, uint32_t *type,
			 const struct timespec *deadline, uint64_t *missed)
{
	(void)missed;
	*len = cap;
	*type = 0;
	return nshm_mpmc_pop_wait_fn(r, buf, deadline);
}

/*
 * Broadcast readers subscribe (read-only, unregistered): a reader that
 * falls a lap behind is told how many it missed and goes on from the
 * oldest message still there.
 */
static int bcast_push_wait(struct nshm_ring *r, const void *buf, uint32_t len,
			   uint32_t type, const struct timespec *deadline)
{
	(void)len;
	(void)type;
	return nshm_bcast_publish_wait_fn(r, buf, deadline);
}

static int bcast_pop(struct nshm_ring *r, void *buf, uint32_t cap,
		     uint32_t *len, uint32_t *type, uint64_t *missed)
{
	*len = cap;
	*type = 0;
	for (int tries = 0; tries < 2; tries++) {
		uint64_t m = 0;
		int rc = nshm_bcast_read_fn(r, buf, &m);

		if (rc != -NSHM_ELAPPED)
			return rc; /* 1, 0 or an error */
		*missed += m;
	}
	return 0;
}

static int bcast_pop_wait(struct nshm_ring *r, void *buf, uint32_t cap,
			  uint32_t *len, uint32_t *type,
			  const struct timespec *deadline, uint64_t *missed)
{
	*len = cap;
	*type = 0;
	for (;;) {
		uint64_t m = 0;
		int rc = nshm_bcast_read_wait_fn(r, buf, &m, deadline);

		if (rc == 1)
			return 0;
		if (rc != -NSHM_ELAPPED)
			return rc;
		*missed += m;
	}
}

/* Like a queue's consumer: what is still in the ring, then on. */
static int bcast_attach(const char *name, const struct nshm_ring_type *t,
			enum nshm_ring_role role, struct nshm_ring **out)
{
	if (role == NSHM_RING_PRODUCER)
		return nshm_ring_attach(name, NSHM_RING_BROADCAST, t, role,
					NSHM_ALLOW_OTHER_OWNER, out);
	return nshm_bcast_attach(name, t, role, NSHM_BCAST_FROM_OLDEST, 0,
				 NSHM_ALLOW_OTHER_OWNER, out);
}

/*
 * Records: variable length and a type id per record. The shell speaks
 * untyped records (no protocol): a ring made by a program with a declared
 * protocol refuses us with -NSHM_ETYPE (status 9), as it should.
 */
static int rec_push_wait(struct nshm_ring *r, const void *buf, uint32_t len,
			 uint32_t type, const struct timespec *deadline)
{
	return nshm_records_push_wait(r, type, buf, len, deadline);
}

static int rec_pop(struct nshm_ring *r, void *buf, uint32_t cap,
		   uint32_t *len, uint32_t *type, uint64_t *missed)
{
	int rc = nshm_records_pop_fn(r, buf, cap, len, type);

	(void)missed;
	return rc == 0 ? 1 : rc == -EAGAIN ? 0 : rc;
}

static int rec_pop_wait(struct nshm_ring *r, void *buf, uint32_t cap,
			uint32_t *len, uint32_t *type,
			const struct timespec *deadline, uint64_t *missed)
{
	(void)missed;
	return nshm_records_pop_wait(r, buf, cap, len, type, deadline);
}

static int rec_create(const char *name, const struct nshm_ring_params *p,
		      struct nshm_ring **out)
{
	return nshm_records_create(name, p, NULL, out);
}

static int rec_attach(const char *name, const struct nshm_ring_type *t,
		      enum nshm_ring_role role, struct nshm_ring **out)
{
	(void)t;
	return nshm_records_attach(name, NULL, role, NSHM_ALLOW_OTHER_OWNER,
				   out);
}

const struct ring_kind ring_kinds[] = {
	{ "spsc", NSHM_RING_SPSC,
	  "single producer, single consumer, fixed-size elements", true,
	  spsc_push_wait, spsc_pop, spsc_pop_wait, NSHM_RING_CONSUMER,
	  NULL, NULL, nshm_ring_position_fn },
	{ "mpmc", NSHM_RING_MPMC, "many producers, many consumers", true,
	  mpmc_push_wait, mpmc_pop, mpmc_pop_wait, NSHM_RING_CONSUMER,
	  NULL, NULL, NULL },
	{ "broadcast", NSHM_RING_BROADCAST, "fan-out to every reader", true,
	  bcast_push_wait, bcast_pop, bcast_pop_wait, NSHM_RING_SUBSCRIBER,
	  NULL, bcast_attach, NULL },
	{ "records", NSHM_RING_RECORDS, "variable-size typed records", false,
	  rec_push_wait, rec_pop, rec_pop_wait, NSHM_RING_CONSUMER,
	  rec_create, rec_attach, NULL },
};
const size_t ring_kinds_n = sizeof(ring_kinds) / sizeof(ring_kinds[0]);

const struct ring_kind *ring_kind_by_name(const char *name)
{
	for (size_t i = 0; i < ring_kinds_n; i++)
		if (strcmp(ring_kinds[i].name, name) == 0)
			return &ring_kinds[i];
	return NULL;
}

const struct ring_kind *ring_kind_by_id(uint32_t kind)
{
	for (size_t i = 0; i < ring_kinds_n; i++)
		if ((uint32_t)ring_kinds[i].kind == kind)
			return &ring_kinds[i];
	return NULL;
}

const char *ring_kind_str(uint32_t kind)
{
	static char buf[24];
	const struct ring_kind *k = ring_kind_by_id(kind);

	if (k != NULL)
		return k->name;
	snprintf(buf, sizeof(buf), "kind-%u", kind);
	return buf;
}

/* ---- nshm create ------------------------------------------------------------ */

static void print_seg(const struct nshm_seg_info *in)
{
	printf("name        %s\n", in->name);
	printf("backend     %s\n", backend_name(in->backend));
	printf("size        %zu bytes\n", in->size);
	printf("mapping     %zu bytes (%u-byte header + area, rounded)\n",
	       in->map_size, NSHM_SEG_HDR_SIZE);
	printf("page size   %zu%s\n", in->page_size,
	       in->huge ? " (huge pages)" : "");
	printf("owner uid   %u\n", (unsigned)in->owner);
	printf("mode        %04o\n", in->mode);
	printf("creator pid %d\n", (int)in->creator_pid);
}

int ring_create(const char *name, const struct ring_create_opts *o, bool json)
{
	static struct segview v;
	struct nshm_ring_type t = {
		.name = o->type_name,
		.version = o->type_version,
		.size = o->elem_size,
		.align = o->align,
		.flags = o->seq_offset != UINT32_MAX ? NSHM_RING_TYPE_SEQ_FIELD
						     : 0,
		.seq_offset = o->seq_offset != UINT32_MAX ? o->seq_offset : 0,
	};
	struct nshm_ring *r;
	int rc;

	/* The creator takes no role: it only builds the ring and leaves. */
	struct nshm_ring_params p = NSHM_RING_PARAMS_INIT;

	p.kind = o->kind->kind;
	p.type = &t;
	p.capacity = o->capacity;
	p.role = NSHM_RING_OBSERVER;
	p.flags = o->flags;
	p.mode = o->mode;
	p.max_producers = o->max_producers;
	p.max_consumers = o->max_consumers;
	p.policy = o->policy;
	p.evict_ms = o->evict_ms;
	p.record_max = o->record_max;
	p.record_align = o->record_align;
	rc = o->kind->create ? o->kind->create(name, &p, &r)
			     : nshm_ring_create_with(name, &p, &r);
	if (rc == -EOPNOTSUPP)
		fprintf(stderr, "nshm create: this library has no %s rings "
			"yet\n", o->kind->name);
	if (rc < 0)
		return fail("create", name, rc);
	nshm_ring_close(r);
	seg_probe(name, &v);
	if (json) {
		segview_json(stdout, &v);
		fputc('\n', stdout);
	} else {
		if (o->kind->fixed_elem)
			printf("created %s ring %s: %u x %u-byte elements, %zu "
			       "bytes, mode %04o\n", o->kind->name, name,
			       o->capacity, o->elem_size, v.info.size,
			       v.info.mode);
		else
			printf("created %s ring %s: %u bytes of records, %zu "
			       "bytes, mode %04o\n", o->kind->name, name,
			       o->capacity, v.info.size, v.info.mode);
	}
	return EX_OK;
}

int cmd_create(int argc, char **argv)
{
	enum { O_HUGE = 256, O_PREFAULT, O_MLOCK, O_TNAME, O_TVER, O_ALIGN,
	       O_SEQ, O_JSON, O_MAXP, O_MAXC, O_POLICY, O_EVICT, O_RMAX,
	       O_RALIGN };
	static const struct option opts[] = {
		{ "mode", required_argument, NULL, 'm' },
		{ "excl", no_argument, NULL, 'x' },
		{ "huge", no_argument, NULL, O_HUGE },
		{ "prefault", no_argument, NULL, O_PREFAULT },
		{ "mlock", no_argument, NULL, O_MLOCK },
		{ "kind", required_argument, NULL, 'k' },
		{ "elem-size", required_argument, NULL, 'e' },
		{ "capacity", required_argument, NULL, 'c' },
		{ "type-name", required_argument, NULL, O_TNAME },
		{ "type-version", required_argument, NULL, O_TVER },
		{ "align", required_argument, NULL, O_ALIGN },
		{ "seq-offset", required_argument, NULL, O_SEQ },
		{ "json", no_argument, NULL, O_JSON },
		{ "max-producers", required_argument, NULL, O_MAXP },
		{ "max-consumers", required_argument, NULL, O_MAXC },
		{ "policy", required_argument, NULL, O_POLICY },
		{ "evict-ms", required_argument, NULL, O_EVICT },
		{ "record-max", required_argument, NULL, O_RMAX },
		{ "record-align", required_argument, NULL, O_RALIGN },
		{ NULL, 0, NULL, 0 },
	};
	struct ring_create_opts ro = {
		.kind = NULL, .align = 1, .type_version = 1,
		.seq_offset = UINT32_MAX, .type_name = "",
	};
	unsigned flags = NSHM_CREATE, mode = 0;
	bool json = false, excl = false;
	struct nshm_seg *seg;
	struct nshm_seg_info info;
	size_t size;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "m:xk:e:c:", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			if (parse_mode(optarg, &mode) != 0)
				return usage_error("create", "bad mode %s "
						   "(octal, at most 0777)",
						   optarg);
			break;
		case 'x': excl = true; break;
		case O_HUGE: flags |= NSHM_HUGEPAGES; break;
		case O_PREFAULT: flags |= NSHM_PREFAULT; break;
		case O_MLOCK: flags |= NSHM_MLOCK; break;
		case 'k':
			ro.kind = ring_kind_by_name(optarg);
			if (ro.kind == NULL)
				return usage_error("create", "unknown ring kind "
						   "'%s' (spsc, mpmc, broadcast, "
						   "records)", optarg);
			break;
		case 'e':
			if (parse_u32(optarg, &ro.elem_size) != 0)
				return usage_error("create", "bad element size "
						   "%s", optarg);
			break;
		case 'c':
			if (parse_u32(optarg, &ro.capacity) != 0)
				return usage_error("create", "bad capacity %s",
						   optarg);
			break;
		case O_TNAME: ro.type_name = optarg; break;
		case O_TVER:
			if (parse_u32(optarg, &ro.type_version) != 0)
				return usage_error("create", "bad version %s",
						   optarg);
			break;
		case O_ALIGN:
			if (parse_u32(optarg, &ro.align) != 0)
				return usage_error("create", "bad alignment %s",
						   optarg);
			break;
		case O_SEQ:
			if (parse_u32(optarg, &ro.seq_offset) != 0 ||
			    ro.seq_offset == UINT32_MAX)
				return usage_error("create", "bad seq offset %s",
						   optarg);
			break;
		case O_JSON: json = true; break;
		case O_MAXP:
		case O_MAXC:
			if (parse_u32(optarg, c == O_MAXP ? &ro.max_producers
							  : &ro.max_consumers) != 0)
				return usage_error("create", "bad role count %s",
						   optarg);
			break;
		case O_POLICY:
			if (strcmp(optarg, "lossy") == 0)
				ro.policy = NSHM_BCAST_LOSSY;
			else if (strcmp(optarg, "backpressure") == 0)
				ro.policy = NSHM_BCAST_BACKPRESSURE;
			else
				return usage_error("create", "policy is lossy "
						   "or backpressure");
			break;
		case O_EVICT:
		case O_RMAX:
		case O_RALIGN:
			if (parse_u32(optarg, c == O_EVICT ? &ro.evict_ms
					      : c == O_RMAX ? &ro.record_max
							    : &ro.record_align) != 0)
				return usage_error("create", "bad number %s",
						   optarg);
			break;
		default:
			return usage_error("create", "bad option");
		}
	}
	if (ro.kind != NULL) {
		if (argc - optind != 1)
			return usage_error("create", "a ring takes one NAME "
					   "(its size comes from -e and -c)");
		if (!ro.kind->fixed_elem) {
			if (ro.capacity == 0)
				return usage_error("create", "a %s ring needs "
						   "--capacity (bytes)",
						   ro.kind->name);
			if (ro.elem_size == 0)
				ro.elem_size = 1; /* bytes: the type of a record */
		} else if (ro.elem_size == 0 || ro.capacity == 0) {
			return usage_error("create", "a ring needs "
					   "--elem-size and --capacity");
		}
		ro.flags = flags & (NSHM_HUGEPAGES | NSHM_PREFAULT | NSHM_MLOCK);
		ro.mode = mode;
		return ring_create(argv[optind], &ro, json);
	}
	if (argc - optind != 2 || parse_size(argv[optind + 1], &size) != 0)
		return usage_error("create", "needs NAME SIZE (SIZE: bytes, or "
				   "64k, 16M, 1G), or -k KIND for a ring");
	if (excl)
		flags |= NSHM_EXCL;
	flags &= ~NSHM_MLOCK;
	rc = nshm_seg_open(argv[optind], size, flags, mode, &seg);
	if (rc < 0)
		return fail("create", argv[optind], rc);
	nshm_seg_stat(seg, &info);
	nshm_seg_close(seg);
	if (json) {
		static struct segview v;

		seg_probe(argv[optind], &v);
		segview_json(stdout, &v);
		fputc('\n', stdout);
		return EX_OK;
	}
	print_seg(&info);
	if (!info.created)
		printf("(it existed already)\n");
	return EX_OK;
}

/* ---- pub / sub ------------------------------------------------------------------ */

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* SIGINT/SIGTERM end the loop cleanly (the role is given back). */
static void catch_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal; /* no SA_RESTART: a blocked read returns */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* How long one blocking call waits before we look at stop / timeouts. */
#define SLICE_NS 100000000u

/*
 * Attach to ring @p name in @p role with the element type the ring
 * records (read from its validated header), so pub/sub work on any ring
 * whatever program made it. @p kind_out: the kind table entry, whose
 * data plane the caller then uses.
 */
static int attach_as(const char *name, enum nshm_ring_role role,
		     const char *cmd, struct nshm_ring **out,
		     struct nshm_ring_config *cfg,
		     const struct ring_kind **kind_out, uint32_t *cap)
{
	static struct segview v;
	const struct ring_kind *k;
	struct nshm_ring_type t;
	int rc;

	rc = seg_probe(name, &v);
	if (rc < 0)
		return fail(cmd, name, rc);
	if (!v.is_ring) {
		fprintf(stderr, "nshm %s: %s: not a ring (a raw segment)\n",
			cmd, name);
		return EX_KIND;
	}
	if (v.ring_err != 0) {
		fprintf(stderr, "nshm %s: %s: %s\n", cmd, name, v.ring_errmsg);
		return exit_code(v.ring_err);
	}
	k = ring_kind_by_id(v.cfg.kind);
	if (k == NULL || k->push_wait == NULL || k->pop == NULL ||
	    k->pop_wait == NULL) {
		fprintf(stderr, "nshm %s: %s: nshm %s does not handle %s rings "
			"yet\n", cmd, name, cmd, ring_kind_str(v.cfg.kind));
		return EX_KIND;
	}
	*cfg = v.cfg;
	*kind_out = k;
	t = (struct nshm_ring_type){
		.name = cfg->type_name, /* NUL-terminated: checked by attach */
		.version = cfg->type_version,
		.size = cfg->elem_size,
		.align = cfg->elem_align,
		.flags = (cfg->flags & NSHM_RING_CFG_ELEM_SEQ)
				 ? NSHM_RING_TYPE_SEQ_FIELD : 0,
		.seq_offset = (cfg->flags & NSHM_RING_CFG_ELEM_SEQ)
				      ? cfg->seq_off : 0,
	};
	if (role == NSHM_RING_CONSUMER)
		role = k->reader; /* e.g. a broadcast subscriber */
	if (k->attach != NULL)
		rc = k->attach(name, &t, role, out);
	else
		rc = nshm_ring_attach(name, (enum nshm_ring_kind)cfg->kind,
				      &t, role, NSHM_ALLOW_OTHER_OWNER, out);
	if (rc < 0)
		return fail(cmd, name, rc);
	/* The largest message: an element, or a record. */
	*cap = k->fixed_elem ? cfg->elem_size : nshm_records_max(*out);
	return EX_OK;
}

enum fmt { F_HEX, F_RAW, F_TEXT, F_JSON };

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/*
 * Read one message into @p buf (at most @p size bytes) and set *@p n to
 * its length. @p fixed: an element, always @p size bytes, zero-padded; else
 * a record: as long as its line (hex: its bytes), and in raw input framed
 * by a 4-byte little-endian length (what nshm sub --raw writes).
 * @return 1 read, 0 end of input, -1 bad input (message printed),
 * -2 interrupted.
 */
static int read_elem(FILE *in, enum fmt fmt, unsigned char *buf, size_t size,
		     bool fixed, uint32_t *n, char **line, size_t *cap,
		     unsigned long *lineno)
{
	const char *what = fixed ? "element" : "record";
	ssize_t len;
	size_t got, want = size;

	memset(buf, 0, size);
	*n = fixed ? (uint32_t)size : 0;
	if (fmt == F_RAW) {
		if (!fixed) {
			unsigned char hdr[4];

			got = fread(hdr, 1, 4, in);
			if (got == 0 && !ferror(in))
				return 0;
			if (got != 4)
				return ferror(in) && errno == EINTR ? -2 : -1;
			want = (size_t)hdr[0] | (size_t)hdr[1] << 8 |
			       (size_t)hdr[2] << 16 | (size_t)hdr[3] << 24;
			if (want > size) {
				fprintf(stderr, "nshm pub: a %zu-byte record, "
					"the ring's largest is %zu\n", want,
					size);
				return -1;
			}
			*n = (uint32_t)want;
		}
		got = fread(buf, 1, want, in);
		if (got == want)
			return 1;
		if (ferror(in))
			return errno == EINTR ? -2 : -1;
		if (got == 0 && fixed)
			return 0;
		fprintf(stderr, "nshm pub: input ends with %zu bytes, not a "
			"whole %zu-byte %s\n", got, want, what);
		return -1;
	}
	errno = 0;
	len = getline(line, cap, in);
	if (len < 0)
		return errno == EINTR ? -2 : ferror(in) ? -1 : 0;
	(*lineno)++;
	if (len > 0 && (*line)[len - 1] == '\n')
		(*line)[--len] = '\0';
	if (fmt == F_TEXT) {
		if ((size_t)len > size) {
			fprintf(stderr, "nshm pub: line %lu: %zd bytes, the "
				"%s has %zu\n", *lineno, len, what, size);
			return -1;
		}
		memcpy(buf, *line, (size_t)len);
		if (!fixed)
			*n = (uint32_t)len;
		return 1;
	}
	got = 0;
	for (const char *p = *line; *p;) {
		int hi, lo;

		if (*p == ' ' || *p == '\t' || *p == '\r' || *p == ':') {
			p++;
			continue;
		}
		hi = hexval(p[0]);
		lo = hi < 0 ? -1 : hexval(p[1]);
		if (lo < 0) {
			fprintf(stderr, "nshm pub: line %lu: not hex at \"%.10s\""
				"\n", *lineno, p);
			return -1;
		}
		if (got == size) {
			fprintf(stderr, "nshm pub: line %lu: more than the "
				"%s's %zu bytes\n", *lineno, what, size);
			return -1;
		}
		buf[got++] = (unsigned char)(hi << 4 | lo);
		p += 2;
	}
	if (!fixed)
		*n = (uint32_t)got;
	return 1;
}

int cmd_pub(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "hex", no_argument, NULL, 'H' },
		{ "raw", no_argument, NULL, 'r' },
		{ "text", no_argument, NULL, 't' },
		{ "rate", required_argument, NULL, 'R' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "type", required_argument, NULL, 'y' },
		{ NULL, 0, NULL, 0 },
	};
	struct nshm_ring_config cfg;
	const struct ring_kind *k;
	struct nshm_ring *r;
	enum fmt fmt = F_HEX;
	double rate = 0, timeout = 0, t0;
	unsigned char *buf;
	char *line = NULL;
	size_t cap = 0;
	unsigned long lineno = 0;
	uint64_t sent = 0;
	uint32_t msg_max = 0, len = 0, rtype = 0;
	int c, rc, ret = EX_OK;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'H': fmt = F_HEX; break;
		case 'r': fmt = F_RAW; break;
		case 't': fmt = F_TEXT; break;
		case 'R':
			if (parse_seconds(optarg, &rate) != 0 || rate <= 0)
				return usage_error("pub", "bad rate %s", optarg);
			break;
		case 'T':
			if (parse_seconds(optarg, &timeout) != 0)
				return usage_error("pub", "bad timeout %s",
						   optarg);
			break;
		case 'y':
			if (parse_u32(optarg, &rtype) != 0 || rtype > 65535)
				return usage_error("pub", "bad record type %s "
						   "(0 .. 65535)", optarg);
			break;
		default:
			return usage_error("pub", "bad option");
		}
	}
	if (argc - optind != 1)
		return usage_error("pub", "needs one ring NAME");
	rc = attach_as(argv[optind], NSHM_RING_PRODUCER, "pub", &r, &cfg, &k,
		       &msg_max);
	if (rc != EX_OK)
		return rc;
	catch_signals();
	buf = malloc(msg_max ? msg_max : 1);
	if (buf == NULL) {
		nshm_ring_close(r);
		return fail("pub", argv[optind], -ENOMEM);
	}
	t0 = now_s();
	while (!stop) {
		struct timespec dl;
		double full_since = 0;

		rc = read_elem(stdin, fmt, buf, msg_max, k->fixed_elem, &len,
			       &line, &cap, &lineno);
		if (rc == 0 || rc == -2)
			break;
		if (rc < 0) {
			ret = EX_FAIL;
			break;
		}
		if (rate > 0) { /* absolute schedule: no drift, no burst */
			double due = t0 + (double)sent / rate, now = now_s();

			if (due > now) {
				struct timespec d = {
					.tv_sec = (time_t)(due - now),
					.tv_nsec = (long)((due - now -
							   (time_t)(due - now)) * 1e9),
				};
				nanosleep(&d, NULL);
			}
		}
		for (;;) {
			rc = k->push_wait(r, buf, len, rtype,
					  nshm_deadline_in(&dl, SLICE_NS));
			if (rc != -ETIMEDOUT || stop)
				break;
			if (full_since == 0)
				full_since = now_s();
			else if (timeout > 0 && now_s() - full_since >= timeout)
				break;
		}
		if (rc == 0) {
			sent++;
			continue;
		}
		if (rc == -ETIMEDOUT && stop)
			break;
		if (rc == -ETIMEDOUT)
			fprintf(stderr, "nshm pub: %s: full for %.1f s\n",
				argv[optind], timeout);
		else if (rc == -EPIPE)
			fprintf(stderr, "nshm pub: %s: the consumer closed and "
				"the ring is full\n", argv[optind]);
		else
			fail("pub", argv[optind], rc);
		ret = exit_code(rc);
		if (ret == EX_OK)
			ret = EX_FAIL;
		break;
	}
	free(line);
	free(buf);
	rc = nshm_ring_close(r);
	if (rc < 0 && ret == EX_OK)
		ret = fail("pub: close", argv[optind], rc);
	return ret;
}

/*
 * Print one message. @p rec: a record (its type is shown in JSON, raw
 * output frames it with a 4-byte little-endian length, text shows all of
 * it); else a fixed-size element (text stops at the first NUL).
 */
static int write_elem(enum fmt fmt, const unsigned char *buf, size_t size,
		      uint64_t index, bool rec, uint32_t type)
{
	static const char hex[] = "0123456789abcdef";

	switch (fmt) {
	case F_RAW:
		if (rec) {
			unsigned char hdr[4] = {
				(unsigned char)size, (unsigned char)(size >> 8),
				(unsigned char)(size >> 16),
				(unsigned char)(size >> 24),
			};
			fwrite(hdr, 1, 4, stdout);
		}
		fwrite(buf, 1, size, stdout);
		break;
	case F_TEXT:
		fwrite(buf, 1, rec ? size : strnlen((const char *)buf, size),
		       stdout);
		fputc('\n', stdout);
		break;
	case F_JSON:
		printf("{\"index\":%llu,\"size\":%zu,", (unsigned long long)index,
		       size);
		if (rec)
			printf("\"type\":%u,", type);
		fputs("\"hex\":", stdout);
		json_hex(stdout, buf, size);
		fputs("}\n", stdout);
		break;
	case F_HEX:
		for (size_t i = 0; i < size; i++) {
			putchar(hex[buf[i] >> 4]);
			putchar(hex[buf[i] & 15]);
		}
		putchar('\n');
		break;
	}
	return ferror(stdout) ? -1 : 0;
}

/* A reader that fell behind: say how much it missed, where it is read. */
static void report_missed(const char *name, enum fmt fmt, uint64_t missed)
{
	if (fmt == F_JSON)
		printf("{\"missed\":%llu}\n", (unsigned long long)missed);
	else
		fprintf(stderr, "nshm sub: %s: fell behind, missed %llu\n",
			name, (unsigned long long)missed);
}

int cmd_sub(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "hex", no_argument, NULL, 'H' },
		{ "raw", no_argument, NULL, 'r' },
		{ "text", no_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "count", required_argument, NULL, 'n' },
		{ "timeout", required_argument, NULL, 'T' },
		{ NULL, 0, NULL, 0 },
	};
	struct nshm_ring_config cfg;
	const struct ring_kind *k;
	struct nshm_ring *r;
	enum fmt fmt = F_HEX;
	double timeout = 0, idle_since;
	unsigned char *buf;
	uint64_t count = 0, got = 0, missed = 0;
	uint32_t msg_max = 0, len = 0, rtype = 0;
	int c, rc, ret = EX_OK;
	char *end;

	optind = 1;
	while ((c = getopt_long(argc, argv, "n:", opts, NULL)) != -1) {
		switch (c) {
		case 'H': fmt = F_HEX; break;
		case 'r': fmt = F_RAW; break;
		case 't': fmt = F_TEXT; break;
		case 'j': fmt = F_JSON; break;
		case 'n':
			errno = 0;
			count = strtoull(optarg, &end, 10);
			if (errno || *end || end == optarg || optarg[0] == '-')
				return usage_error("sub", "bad count %s", optarg);
			break;
		case 'T':
			if (parse_seconds(optarg, &timeout) != 0)
				return usage_error("sub", "bad timeout %s",
						   optarg);
			break;
		default:
			return usage_error("sub", "bad option");
		}
	}
	if (argc - optind != 1)
		return usage_error("sub", "needs one ring NAME");
	rc = attach_as(argv[optind], NSHM_RING_CONSUMER, "sub", &r, &cfg, &k,
		       &msg_max);
	if (rc != EX_OK)
		return rc;
	catch_signals();
	buf = malloc(msg_max ? msg_max : 1);
	if (buf == NULL) {
		nshm_ring_close(r);
		return fail("sub", argv[optind], -ENOMEM);
	}
	idle_since = now_s();
	while (!stop && (count == 0 || got < count)) {
		struct timespec dl;
		uint64_t index = k->position ? k->position(r) : got;

		rc = k->pop(r, buf, msg_max, &len, &rtype, &missed);
		if (missed != 0) {
			report_missed(argv[optind], fmt, missed);
			missed = 0;
		}
		if (rc < 0) {
			ret = fail("sub", argv[optind], rc);
			break;
		}
		if (rc == 0) {
			/* Empty: whatever we printed goes out before we sleep. */
			fflush(stdout);
			rc = k->pop_wait(r, buf, msg_max, &len, &rtype,
					 nshm_deadline_in(&dl, SLICE_NS),
					 &missed);
			if (missed != 0) {
				report_missed(argv[optind], fmt, missed);
				missed = 0;
			}
			if (rc == -ETIMEDOUT) {
				if (timeout > 0 && now_s() - idle_since >= timeout)
					break;
				continue;
			}
			if (rc == -EPIPE)
				break; /* the producer closed; all drained */
			if (rc < 0) {
				if (rc == -NSHM_EPEERDEAD)
					fprintf(stderr, "nshm sub: %s: the "
						"producer died (%llu elements "
						"read)\n", argv[optind],
						(unsigned long long)got);
				else
					fail("sub", argv[optind], rc);
				ret = exit_code(rc);
				if (ret == EX_OK)
					ret = EX_FAIL;
				break;
			}
		}
		idle_since = now_s();
		got++;
		if (write_elem(fmt, buf, len, index, !k->fixed_elem, rtype) != 0)
			break; /* stdout closed (| head): stop quietly */
	}
	fflush(stdout);
	free(buf);
	rc = nshm_ring_close(r);
	if (rc < 0 && ret == EX_OK)
		ret = fail("sub: close", argv[optind], rc);
	return ret;
}
