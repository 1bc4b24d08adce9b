/* SPDX-License-Identifier: MIT */
/*
 * nshm create, and the table of ring kinds: making segments and rings.
 * A kind the library gains later is one entry here, with the adapters
 * that give pub/sub (pubsub.c) its data plane.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

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
