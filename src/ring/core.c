/* SPDX-License-Identifier: MIT */
/*
 * The ring core: what every kind shares. Type fingerprints and argument
 * checks, the create/attach skeleton (a ring is its own segment, published
 * whole; attach validates one copy of the config line), close and delete,
 * counters and checks. What differs per kind sits behind struct
 * ring_kind_ops (spsc.c, mpmc.c); process-local handles and fork() are in
 * handle.c, the role table in roles.c, the blocking slow path in wait.c.
 */
#include <errno.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "ring/core.h"
#include "shm/seg_layout.h"
#include "sync/wait.h"

/* Keep the detail of a failure across the cleanup calls that clear it. */
#define save_err(buf) snprintf(buf, sizeof(buf), "%s", nshm_errdetail())

/* How long the creator may take to publish the ring header. */
#define RING_INIT_WAIT_NS (2ull * 1000000000u)

static bool is_pow2(uint64_t v)
{
	return v != 0 && (v & (v - 1)) == 0;
}

/* ---- type fingerprint ------------------------------------------------- */

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	while (n--) {
		h ^= *b++;
		h *= 0x100000001b3ull;
	}
	return h;
}

static uint64_t fnv_u32(uint64_t h, uint32_t v)
{
	unsigned char b[4] = { (unsigned char)v, (unsigned char)(v >> 8),
			       (unsigned char)(v >> 16),
			       (unsigned char)(v >> 24) };

	return fnv1a(h, b, sizeof(b));
}

uint64_t nshm_ring_type_fingerprint(const struct nshm_ring_type *t)
{
	const char *name;
	uint64_t h = 0xcbf29ce484222325ull;

	if (t == NULL)
		return 0;
	name = t->name ? t->name : "";
	/* Little-endian byte order, fixed: the same in every build. */
	h = fnv1a(h, name, strlen(name) + 1);
	h = fnv_u32(h, t->version);
	h = fnv_u32(h, t->size);
	h = fnv_u32(h, t->align);
	/* Only types with a seq field hash it: older fingerprints stand. */
	if (t->flags & NSHM_RING_TYPE_SEQ_FIELD) {
		h = fnv_u32(h, t->flags);
		h = fnv_u32(h, t->seq_offset);
	}
	return h;
}

/* ---- argument checks -------------------------------------------------- */

static int check_type(const struct nshm_ring_type *t)
{
	if (t == NULL)
		return nshm__err(-EINVAL, "element type is NULL");
	if (t->size == 0)
		return nshm__err(-EINVAL, "element size is 0");
	if (t->size > NSHM_RING_ELEM_MAX)
		return nshm__err(-EINVAL,
				 "element size %u exceeds NSHM_RING_ELEM_MAX "
				 "(%u bytes)",
				 t->size, NSHM_RING_ELEM_MAX);
	if (!is_pow2(t->align) || t->align > NSHM_RING_ALIGN_MAX)
		return nshm__err(-EINVAL,
				 "element alignment %u is not a power of two "
				 "<= %u",
				 t->align, NSHM_RING_ALIGN_MAX);
	if (t->size % t->align != 0)
		return nshm__err(-EINVAL,
				 "element size %u is not a multiple of its "
				 "alignment %u",
				 t->size, t->align);
	if (t->flags & ~NSHM_RING_TYPE_SEQ_FIELD)
		return nshm__err(-EINVAL, "unknown element type flags 0x%x "
				 "(allowed: NSHM_RING_TYPE_SEQ_FIELD)",
				 t->flags & ~NSHM_RING_TYPE_SEQ_FIELD);
	if (!(t->flags & NSHM_RING_TYPE_SEQ_FIELD)) {
		if (t->seq_offset != 0)
			return nshm__err(-EINVAL,
					 "seq_offset %u is set but the type has "
					 "no NSHM_RING_TYPE_SEQ_FIELD flag",
					 t->seq_offset);
		return 0;
	}
	if (t->align < 8 || t->seq_offset % 8 != 0 || t->size < 8 ||
	    t->seq_offset > t->size - 8)
		return nshm__err(-EINVAL,
				 "the ring's seq field must be 8 bytes at an "
				 "offset that is a multiple of 8, inside an "
				 "element aligned to 8 or more (offset %u, "
				 "size %u, align %u)",
				 t->seq_offset, t->size, t->align);
	return 0;
}

static int check_role(int role)
{
	if (role != NSHM_RING_OBSERVER && role != NSHM_RING_PRODUCER &&
	    role != NSHM_RING_CONSUMER && role != NSHM_RING_SUBSCRIBER)
		return nshm__err(-EINVAL, "unknown ring role %d", role);
	return 0;
}

/* The role table follows the header; the slots follow the table. */
static uint64_t slots_offset(uint32_t align, uint32_t roles)
{
	uint64_t off = NSHM_RING_HDR_SIZE +
		       (uint64_t)roles * sizeof(struct nshm_ring_role_entry);
	uint64_t a = align > NSHM_LINE_PAIR ? align : NSHM_LINE_PAIR;

	return (off + a - 1) & ~(a - 1);
}

/* Where a trailing seq word sits: right after the payload, 8-aligned. */
uint32_t nshm__ring_trailing_seq_off(uint32_t size)
{
	return (size + 7u) & ~7u;
}

/*
 * Slot stride of layout version 3: payload, pad to 8, the 64-bit seq word
 * (only the payload when the seq is a field of the element: @p elem_seq);
 * up to 64 bytes rounded to a power of two (16, 32, 64), so such a slot never
 * straddles a cache line. Above 64, to whole lines when that pads at most
 * 1/8 (payloads of ~450 bytes and up: line-aligned copies, no line shared by
 * two slots), else only to 8: for 64 or 256-byte payloads line rounding
 * would move 128 or 320 bytes per message instead of 72 or 264 (measured:
 * throughput 0.7x instead of 1.1x at 256 B). Then to the element alignment.
 * @p size <= NSHM_RING_ELEM_MAX, @p align <= NSHM_RING_ALIGN_MAX: no
 * overflow.
 */
uint32_t nshm__ring_slot_stride(uint32_t size, uint32_t align, bool elem_seq)
{
	uint32_t s = elem_seq ? size : nshm__ring_trailing_seq_off(size) + 8u;
	uint32_t a = align > 8u ? align : 8u;
	uint32_t lines = (s + NSHM_CACHELINE - 1u) & ~(NSHM_CACHELINE - 1u);

	if (s <= NSHM_CACHELINE) {
		uint32_t p = 16u;

		while (p < s)
			p <<= 1;
		s = p;
	} else if (lines - s <= s / 8u && a < NSHM_CACHELINE) {
		a = NSHM_CACHELINE;
	}
	return (s + a - 1u) & ~(a - 1u);
}

/*
 * The same, rounded up to whole cache lines: for kinds where a reader
 * waits on a slot while the writer fills its neighbour (MPMC consumers,
 * broadcast readers), so that no line holds bytes of two slots.
 */
uint32_t nshm__ring_line_stride(uint32_t size, uint32_t align, bool elem_seq)
{
	uint32_t s = nshm__ring_slot_stride(size, align, elem_seq);

	return (s + NSHM_CACHELINE - 1u) & ~(NSHM_CACHELINE - 1u);
}

/* A random key for element seqs (see ring_layout.h): bit 63 clear. */
static uint64_t new_seq_key(void)
{
	uint64_t k;

	if (getrandom(&k, sizeof(k), GRND_NONBLOCK) != (ssize_t)sizeof(k))
		k = nshm__now_ns() * 0x9e3779b97f4a7c15ull ^
		    ((uint64_t)getpid() << 32);
	return k & ~NSHM_RING_SEQ_PUB;
}

/* What ring_build() needs. */
struct build_arg {
	const struct nshm_ring_config *cfg;
	const struct ring_kind_ops *ops;
};

/*
 * nshm__seg_create_init()'s callback: write the ring header into the new,
 * zero-filled area of @p size bytes before the segment's name appears.
 */
static int ring_build(void *area, size_t size, void *arg)
{
	const struct build_arg *b = arg;
	struct nshm_ring_shared *sh = area;

	if (size < b->cfg->area_size)
		return nshm__err(-EINVAL, "ring area of %zu bytes, %llu needed",
				 size, (unsigned long long)b->cfg->area_size);
	memcpy(&sh->config, b->cfg, sizeof(*b->cfg));
	nshm_event_init(&sh->prod.ev);
	nshm_event_init(&sh->cons.ev);
	b->ops->build(sh, b->cfg);
	/*
	 * RING-R0: pairs with RING-A0 in wait_ready(). Nobody can see the
	 * ring before the segment layer publishes it (SEG- pairs), so READY
	 * is set here, last, as a second line of defence: a ring that is
	 * not READY in a published segment is refused.
	 */
	atomic_store_explicit(&sh->ctl.state, NSHM_RING_READY,
			      memory_order_release);
	return 0;
}

/*
 * Take @role: an entry of the role table (roles.c), then the kind's fast
 * path (with the recovery of a dead predecessor's state).
 */
static int take_role(struct nshm_ring *r, int role)
{
	int ret;

	if (role == NSHM_RING_OBSERVER)
		return 0;
	if (role == NSHM_RING_SUBSCRIBER) {
		/* Broadcast only: a read-only mapping, no role entry. */
		if (priv(r)->cfg.kind != NSHM_RING_BROADCAST)
			return nshm__err(-EINVAL, "ring '%s': subscribers are "
					 "for broadcast rings, this is %s",
					 priv(r)->name, nshm__ring_kind_name(
						 priv(r)->cfg.kind));
		ret = priv(r)->ops->take(r, role);
		if (ret != 0)
			return ret;
		priv(r)->pid = getpid();
		r->role = (uint32_t)role;
		return 0;
	}
	ret = nshm__ring_claim(r, role);
	if (ret != 0)
		return ret;
	ret = priv(r)->ops->take(r, role);
	if (ret != 0) {
		nshm__ring_unclaim(r, false);
		return ret;
	}
	r->fence = nshm__membarrier_register() ? 0 : 1;
	priv(r)->pid = getpid();
	r->role = (uint32_t)role;
	return 0;
}

/* Check @p (a copy) and fill the config line it describes. */
static int make_config(struct nshm_ring_params *p,
		       struct nshm_ring_config *cfg,
		       const struct ring_kind_ops **ops_out)
{
	const struct ring_kind_ops *ops;
	const struct nshm_ring_type *type = p->type;
	uint32_t stride, roles;
	bool elem_seq;
	int ret;

	for (unsigned i = 0; i < sizeof(p->reserved) / sizeof(p->reserved[0]);
	     i++)
		if (p->reserved[i] != 0)
			return nshm__err(-EINVAL, "ring params: reserved "
					 "field %u is not 0", i);
	ops = nshm__ring_ops_of(p->kind);
	if (ops == NULL && p->kind >= NSHM_RING_SPSC &&
	    p->kind <= NSHM_RING_RECORDS)
		return nshm__err(-EOPNOTSUPP, "ring kind %s is not built into "
				 "this library yet",
				 nshm__ring_kind_name(p->kind));
	if (ops == NULL)
		return nshm__err(-EINVAL, "unknown ring kind %u", p->kind);
	ret = check_type(type);
	if (ret == 0)
		ret = check_role((int)p->role);
	if (ret != 0)
		return ret;
	if (p->capacity == 0 || !is_pow2(p->capacity))
		return nshm__err(-EINVAL,
				 "capacity %u is not a power of two >= 1",
				 p->capacity);
	if (p->capacity > NSHM_RING_CAPACITY_MAX)
		return nshm__err(-EINVAL,
				 "capacity %u exceeds NSHM_RING_CAPACITY_MAX "
				 "(%u)",
				 p->capacity, NSHM_RING_CAPACITY_MAX);
	if (p->flags & ~(unsigned int)NSHM_RING_CREATE_FLAGS)
		return nshm__err(-EINVAL,
				 "unknown ring create flags 0x%x (allowed: "
				 "NSHM_HUGEPAGES, NSHM_PREFAULT, NSHM_MLOCK)",
				 p->flags & ~(unsigned int)NSHM_RING_CREATE_FLAGS);
	ret = ops->check_params(p);
	if (ret != 0)
		return ret;
	roles = p->max_producers + p->max_consumers;
	elem_seq = (type->flags & NSHM_RING_TYPE_SEQ_FIELD) != 0;
	stride = ops->stride(type->size, type->align, elem_seq);
	if ((uint64_t)p->capacity * stride > NSHM_RING_BYTES_MAX)
		return nshm__err(-EFBIG,
				 "%u slots of %u bytes (element and sequence "
				 "word) exceed NSHM_RING_BYTES_MAX (1 TiB)",
				 p->capacity, stride);

	memset(cfg, 0, sizeof(*cfg));
	cfg->magic = NSHM_RING_MAGIC;
	cfg->version = NSHM_RING_VERSION;
	cfg->kind = p->kind;
	cfg->capacity = p->capacity;
	cfg->elem_size = type->size;
	cfg->elem_align = type->align;
	cfg->type_version = type->version;
	cfg->type_fp = nshm_ring_type_fingerprint(type);
	cfg->max_producers = (uint16_t)p->max_producers;
	cfg->max_consumers = (uint16_t)p->max_consumers;
	cfg->slots_off = slots_offset(type->align, roles);
	cfg->slot_stride = stride;
	cfg->seq_off = elem_seq ? type->seq_offset
				: nshm__ring_trailing_seq_off(type->size);
	if (elem_seq) {
		cfg->flags = NSHM_RING_CFG_ELEM_SEQ;
		cfg->seq_key = new_seq_key();
	}
	if (ops->fill_config != NULL)
		ops->fill_config(cfg, p);
	cfg->area_size = cfg->slots_off + (uint64_t)p->capacity * stride;
	snprintf(cfg->type_name, sizeof(cfg->type_name), "%s",
		 type->name ? type->name : "");
	cfg->crc = nshm__crc32c(cfg, offsetof(struct nshm_ring_config, crc));
	*ops_out = ops;
	return 0;
}

/* Bind a validated mapping, take @p role, and hand the handle out. */
static int handle_finish(struct nshm_ring *r, struct nshm_seg *seg,
			 void *area, const struct nshm_ring_config *cfg,
			 int role, struct nshm_ring **out)
{
	int ret = nshm__ring_handle_bind(r, seg, area, cfg,
					 role != NSHM_RING_OBSERVER &&
						 role != NSHM_RING_SUBSCRIBER);

	if (ret == 0)
		ret = take_role(r, role);
	if (ret != 0)
		return ret;
	nshm__ring_handles_add(r);
	*out = r;
	return 0;
}

/*
 * Undo a create or attach that failed with @p ret after mapping: unmap,
 * close, remove the name we created (@p created_name), keep the detail.
 */
static int handle_abort(struct nshm_ring *r, struct nshm_seg *seg, void *area,
			int ret, const char *created_name)
{
	char why[512];

	save_err(why);
	nshm_seg_detach(seg, area);
	nshm_seg_close(seg);
	if (created_name != NULL)
		nshm_seg_delete(created_name);
	nshm__ring_handle_free(r);
	return nshm__err(ret, "%s", why);
}

int nshm_ring_create_with(const char *name, const struct nshm_ring_params *pp,
			  struct nshm_ring **out)
{
	const struct ring_kind_ops *ops = NULL;
	struct nshm_ring_config cfg;
	struct nshm_ring_params p;
	struct build_arg b;
	struct nshm_ring *r;
	struct nshm_seg *seg = NULL;
	void *area = NULL;
	int ret;

	nshm__err_clear();
	if (name == NULL || out == NULL || pp == NULL)
		return nshm__err(-EINVAL, "ring name, params or out pointer "
				 "is NULL");
	if (pp->size != sizeof(p))
		return nshm__err(-EINVAL, "ring params of %u bytes, this "
				 "library's are %zu (start from "
				 "NSHM_RING_PARAMS_INIT)", pp->size, sizeof(p));
	p = *pp;
	ret = make_config(&p, &cfg, &ops);
	if (ret != 0)
		return ret;

	r = nshm__ring_handle_new(name);
	if (r == NULL)
		return nshm__err(-ENOMEM, "out of memory for a ring handle");
	/*
	 * Published whole, as a segment is: the ring header is written before
	 * the name appears, so a creator killed at any point leaves no name
	 * (POSIX, file) or one the segment layer reports and replaces (SysV),
	 * never a name that is not a valid ring.
	 */
	b.cfg = &cfg;
	b.ops = ops;
	ret = nshm__seg_create_init(name, (size_t)cfg.area_size, p.flags,
				    p.mode, ring_build, &b, &seg, &area);
	if (ret != 0)
		goto err_free; /* keeps the segment layer's detail */
	if (p.role == NSHM_RING_OBSERVER) {
		/* An observer keeps only a read-only view (it writes nothing). */
		void *ro;

		ret = nshm_seg_attach(seg, NSHM_READONLY |
					      (p.flags & (NSHM_PREFAULT |
							  NSHM_MLOCK)), &ro);
		if (ret != 0)
			goto err_detach;
		nshm_seg_detach(seg, area);
		area = ro;
	}
	ret = handle_finish(r, seg, area, &cfg, (int)p.role, out);
	if (ret == 0)
		return 0;
err_detach:
	return handle_abort(r, seg, area, ret, name);
err_free:
	nshm__ring_handle_free(r);
	return ret;
}

int nshm_ring_create(const char *name, enum nshm_ring_kind kind,
		     const struct nshm_ring_type *type, uint32_t capacity,
		     enum nshm_ring_role role, unsigned int flags,
		     unsigned int mode, struct nshm_ring **out)
{
	struct nshm_ring_params p = NSHM_RING_PARAMS_INIT;

	p.kind = (uint32_t)kind;
	p.type = type;
	p.capacity = capacity;
	p.role = (uint32_t)role;
	p.flags = flags;
	p.mode = mode;
	return nshm_ring_create_with(name, &p, out);
}

/* ---- attach ----------------------------------------------------------- */

/* RING-A0: wait until the creator published the config (RING-R0). */
static int wait_ready(struct nshm_ring_shared *sh, const char *name)
{
	struct timespec deadline;
	uint32_t s;

	nshm_deadline_in(&deadline, RING_INIT_WAIT_NS);
	for (;;) {
		s = atomic_load_explicit(&sh->ctl.state, memory_order_acquire);
		if (s == NSHM_RING_READY)
			return 0;
		if (s != NSHM_RING_INIT)
			return nshm__err(-NSHM_ECORRUPT,
					 "ring '%s': init state word is %u",
					 name, s);
		if (nshm_futex_wait(&sh->ctl.state, NSHM_RING_INIT,
				    &deadline) == -ETIMEDOUT)
			return nshm__err(-ETIMEDOUT,
					 "ring '%s': the creator never "
					 "finished the ring header (died while "
					 "creating?); delete and recreate it",
					 name);
	}
}

static void seq_field_str(char *buf, size_t len, bool elem_seq, uint32_t off)
{
	if (elem_seq)
		snprintf(buf, len, "seq field at %u", off);
	else
		snprintf(buf, len, "no seq field");
}

static int validate_config(const struct nshm_ring_config *c, size_t seg_size,
			   enum nshm_ring_kind kind,
			   const struct nshm_ring_type *type, const char *name)
{
	bool t_seq, c_seq;
	uint64_t fp;

	if (c->magic != NSHM_RING_MAGIC)
		return nshm__err(-NSHM_EKIND,
				 "segment '%s' is not a ring (magic 0x%08x)",
				 name, c->magic);
	if (c->version != NSHM_RING_VERSION)
		return nshm__err(-EPROTO,
				 "ring '%s' has layout version %u, this "
				 "library speaks %u",
				 name, c->version, NSHM_RING_VERSION);
	if (nshm__crc32c(c, offsetof(struct nshm_ring_config, crc)) != c->crc)
		return nshm__err(-NSHM_ECORRUPT,
				 "ring '%s': config checksum mismatch", name);
	if (c->kind < NSHM_RING_SPSC || c->kind > NSHM_RING_RECORDS ||
	    !is_pow2(c->capacity) || c->capacity > NSHM_RING_CAPACITY_MAX ||
	    c->elem_size == 0 || c->elem_size > NSHM_RING_ELEM_MAX ||
	    !is_pow2(c->elem_align) || c->elem_align > NSHM_RING_ALIGN_MAX ||
	    c->elem_size % c->elem_align != 0 ||
	    nshm__ring_ops_of(c->kind) == NULL ||
	    (uint32_t)c->max_producers + c->max_consumers >
		    NSHM_RING_ROLES_MAX ||
	    c->slots_off != slots_offset(c->elem_align, c->max_producers +
							    c->max_consumers) ||
	    (c->flags & ~NSHM_RING_CFG_ELEM_SEQ) != 0 ||
	    c->slot_stride != nshm__ring_ops_of(c->kind)->stride(
				      c->elem_size, c->elem_align,
				      c->flags & NSHM_RING_CFG_ELEM_SEQ) ||
	    !nshm__ring_ops_of(c->kind)->config_ok(c) ||
	    c->area_size !=
		    c->slots_off + (uint64_t)c->capacity * c->slot_stride ||
	    memchr(c->type_name, '\0', sizeof(c->type_name)) == NULL)
		return nshm__err(-NSHM_ECORRUPT,
				 "ring '%s': config fields are inconsistent "
				 "(capacity %u, element %u/%u, slots at %llu, "
				 "size %llu)",
				 name, c->capacity, c->elem_size,
				 c->elem_align,
				 (unsigned long long)c->slots_off,
				 (unsigned long long)c->area_size);
	if (c->area_size > seg_size)
		return nshm__err(-NSHM_ETRUNCATED,
				 "ring '%s' needs %llu bytes, its segment has "
				 "%zu",
				 name, (unsigned long long)c->area_size,
				 seg_size);
	if (kind != NSHM_RING_KIND_ANY && c->kind != (uint32_t)kind)
		return nshm__err(-NSHM_EKIND,
				 "ring '%s' is a %s ring, attached as %s",
				 name, nshm__ring_kind_name(c->kind),
				 nshm__ring_kind_name(kind));
	if (type == NULL)
		return 0;
	fp = nshm_ring_type_fingerprint(type);
	t_seq = (type->flags & NSHM_RING_TYPE_SEQ_FIELD) != 0;
	c_seq = (c->flags & NSHM_RING_CFG_ELEM_SEQ) != 0;
	if (fp != c->type_fp || type->size != c->elem_size ||
	    type->align != c->elem_align || type->version != c->type_version ||
	    t_seq != c_seq || (t_seq && type->seq_offset != c->seq_off)) {
		char want[32], got[32];

		seq_field_str(want, sizeof(want), c_seq, c->seq_off);
		seq_field_str(got, sizeof(got), t_seq, type->seq_offset);
		return nshm__err(-NSHM_ETYPE,
				 "ring '%s' holds '%s' v%u (%u bytes, align "
				 "%u, %s, fingerprint %016llx); attached as "
				 "'%s' v%u (%u bytes, align %u, %s, "
				 "fingerprint %016llx)",
				 name, c->type_name, c->type_version,
				 c->elem_size, c->elem_align, want,
				 (unsigned long long)c->type_fp,
				 type->name ? type->name : "", type->version,
				 type->size, type->align, got,
				 (unsigned long long)fp);
	}
	return 0;
}

int nshm_ring_attach(const char *name, enum nshm_ring_kind kind,
		     const struct nshm_ring_type *type,
		     enum nshm_ring_role role, unsigned int flags,
		     struct nshm_ring **out)
{
	struct nshm_ring_config cfg;
	struct nshm_ring *r;
	struct nshm_seg *seg = NULL;
	void *area = NULL;
	char why[512];
	size_t size;
	int ret;

	nshm__err_clear();
	if (name == NULL || out == NULL)
		return nshm__err(-EINVAL, "ring name or out pointer is NULL");
	ret = check_role((int)role);
	if (ret != 0)
		return ret;
	if ((unsigned int)kind > NSHM_RING_RECORDS)
		return nshm__err(-EINVAL, "unknown ring kind %d", (int)kind);
	if (role != NSHM_RING_OBSERVER &&
	    (kind == NSHM_RING_KIND_ANY || type == NULL))
		return nshm__err(-EINVAL,
				 "a %s must name the ring kind and element "
				 "type (only observers may pass ANY/NULL)",
				 nshm__ring_role_name((int)role));
	if (type != NULL && (ret = check_type(type)) != 0)
		return ret;
	if (flags & ~(unsigned int)NSHM_RING_ATTACH_FLAGS)
		return nshm__err(-EINVAL,
				 "unknown ring attach flags 0x%x (allowed: "
				 "NSHM_PREFAULT, NSHM_MLOCK, "
				 "NSHM_ALLOW_OTHER_OWNER)",
				 flags & ~(unsigned int)NSHM_RING_ATTACH_FLAGS);

	r = nshm__ring_handle_new(name);
	if (r == NULL)
		return nshm__err(-ENOMEM, "out of memory for a ring handle");
	ret = nshm_seg_open(name, 0, flags & NSHM_ALLOW_OTHER_OWNER, 0, &seg);
	if (ret != 0)
		goto err_free;
	size = nshm_seg_size(seg);
	if (size < NSHM_RING_HDR_SIZE) {
		ret = nshm__err(-NSHM_EKIND,
				"segment '%s' (%zu bytes) is too small to be a "
				"ring",
				name, size);
		goto err_close;
	}
	/* An observer maps read-only: nothing it does can disturb the ring. */
	ret = nshm_seg_attach(seg, (flags & (NSHM_PREFAULT | NSHM_MLOCK)) |
				       (role == NSHM_RING_OBSERVER ||
							role == NSHM_RING_SUBSCRIBER
						? NSHM_READONLY
						: 0u),
			      &area);
	if (ret != 0)
		goto err_close;
	ret = wait_ready(area, name);
	if (ret != 0)
		goto err_detach;
	/* One copy, then validate the copy: no double fetch. */
	memcpy(&cfg, &((struct nshm_ring_shared *)area)->config, sizeof(cfg));
	ret = validate_config(&cfg, size, kind, type, name);
	if (ret != 0)
		goto err_detach;
	ret = handle_finish(r, seg, area, &cfg, (int)role, out);
	if (ret == 0)
		return 0;
err_detach:
	return handle_abort(r, seg, area, ret, NULL);
err_close:
	save_err(why);
	nshm_seg_close(seg);
	nshm__ring_handle_free(r);
	return nshm__err(ret, "%s", why);
err_free:
	nshm__ring_handle_free(r);
	return ret;
}

/* ---- close / delete --------------------------------------------------- */

int nshm_ring_close(struct nshm_ring *r)
{
	struct ring_priv *p;
	int ret, ret2;

	if (r == NULL)
		return 0;
	nshm__err_clear();
	p = priv(r);
	nshm__ring_handles_del(r);
	/* A child's inherited handle only unmaps: the role is the parent's. */
	if (!p->forked && (r->role == NSHM_RING_PRODUCER ||
			   r->role == NSHM_RING_CONSUMER)) {
		int role = (int)r->role;

		p->ops->leave(r);
		nshm__ring_unclaim(r, true);
		/*
		 * Wake the other side unconditionally: if it sleeps it must
		 * re-check and see CLOSED (-EPIPE once drained/full).
		 */
		nshm_event_notify(role == NSHM_RING_PRODUCER ? &r->sh->prod.ev
							     : &r->sh->cons.ev);
	}
	ret = nshm_seg_detach(p->seg, p->area);
	ret2 = nshm_seg_close(p->seg);
	nshm__ring_handle_free(r);
	return ret != 0 ? ret : ret2;
}

int nshm_ring_delete(const char *name)
{
	nshm__err_clear();
	if (name == NULL)
		return nshm__err(-EINVAL, "ring name is NULL");
	return nshm_seg_delete(name);
}

int nshm_ring_set_wait(struct nshm_ring *r, const struct nshm_wait_strategy *ws)
{
	nshm__err_clear();
	if (r == NULL)
		return nshm__err(-EINVAL, "ring handle is NULL");
	if (ws != NULL && ws->reserved != 0)
		return nshm__err(-EINVAL, "wait strategy: reserved field "
				 "must be 0");
	if (ws == NULL) {
		memset(&priv(r)->ws, 0, sizeof(priv(r)->ws));
		priv(r)->ws.spins = NSHM_WAIT_SPINS_DEFAULT;
		priv(r)->ws.yields = NSHM_WAIT_YIELDS_DEFAULT;
	} else {
		priv(r)->ws = *ws;
	}
	return 0;
}

/* ---- introspection ---------------------------------------------------- */

void nshm__ring_index_stats(struct nshm_ring *r, struct nshm_ring_stats *st)
{
	uint32_t cap = r->mask + 1;

	/*
	 * Snapshots for humans (RING-A4/M6: acquire), the consumers' index
	 * first, so pushed - popped is not negative but while it moves.
	 */
	st->popped = atomic_load_explicit(&r->sh->cons.index,
					  memory_order_acquire);
	st->pushed = atomic_load_explicit(&r->sh->prod.index,
					  memory_order_acquire);
	st->count = st->pushed - st->popped;
	if (st->count > cap)
		st->count = cap; /* moving, or corrupt: clamp */
}

int nshm_ring_stats(struct nshm_ring *r, struct nshm_ring_stats *st)
{
	struct nshm_ring_shared *sh;
	struct nshm_ring_ctl *ctl;
	const struct nshm_ring_config *c;
	struct ring_priv *p;

	nshm__err_clear();
	if (r == NULL || st == NULL)
		return nshm__err(-EINVAL, "ring handle or stats is NULL");
	sh = r->sh;
	ctl = &sh->ctl;
	p = priv(r);
	c = &p->cfg;
	memset(st, 0, sizeof(*st));
	p->ops->stats(r, st);
	st->full_waits = atomic_load_explicit(&sh->prod.waits,
					      memory_order_relaxed);
	st->empty_waits = atomic_load_explicit(&sh->cons.waits,
					       memory_order_relaxed);
	st->producer_parks = atomic_load_explicit(&sh->prod.parks,
						  memory_order_relaxed);
	st->consumer_parks = atomic_load_explicit(&sh->cons.parks,
						  memory_order_relaxed);
	st->producer_wakeups = atomic_load_explicit(&sh->prod.wakeups,
						    memory_order_relaxed);
	st->consumer_wakeups = atomic_load_explicit(&sh->cons.wakeups,
						    memory_order_relaxed);
	st->timeouts = atomic_load_explicit(&sh->prod.timeouts,
					    memory_order_relaxed) +
		       atomic_load_explicit(&sh->cons.timeouts,
					    memory_order_relaxed);
	st->corrupt = atomic_load_explicit(&ctl->corrupt_seen,
					   memory_order_relaxed);
	st->capacity = c->capacity;
	st->elem_size = c->elem_size;
	nshm__ring_role_stats(r, st);
	/* Relaxed: statistics. */
	st->skipped = atomic_load_explicit(&ctl->skipped,
					   memory_order_relaxed);
	st->kind = c->kind;
	st->type_version = c->type_version;
	st->type_fp = c->type_fp;
	memcpy(st->type_name, c->type_name, sizeof(st->type_name));
	return 0;
}

int nshm_ring_check(struct nshm_ring *r)
{
	struct nshm_ring_config now;
	struct nshm_ring_shared *sh;
	uint64_t head, tail;
	const char *name;
	int ret;

	nshm__err_clear();
	if (r == NULL)
		return nshm__err(-EINVAL, "ring handle is NULL");
	sh = r->sh;
	name = priv(r)->name;
	memcpy(&now, &sh->config, sizeof(now));
	if (memcmp(&now, &priv(r)->cfg, sizeof(now)) != 0 ||
	    nshm__crc32c(&now, offsetof(struct nshm_ring_config, crc)) !=
		    now.crc)
		goto corrupt_cfg;
	if (atomic_load_explicit(&sh->ctl.state, memory_order_relaxed) !=
	    NSHM_RING_READY)
		goto corrupt_cfg;
	tail = atomic_load_explicit(&sh->prod.index, memory_order_acquire);
	head = atomic_load_explicit(&sh->cons.index, memory_order_acquire);
	ret = priv(r)->ops->check(r, head, tail);
	if (ret != 0)
		return ret;
	return 0;

corrupt_cfg:
	nshm__ring_count_corrupt(r);
	return nshm__err(-NSHM_ECORRUPT,
			 "ring '%s': the immutable header changed after "
			 "attach",
			 name);
}

/* ---- out-of-line copies of the kind-neutral inline helpers ------------- */

uint32_t nshm_ring_capacity_fn(const struct nshm_ring *r)
{
	return nshm_ring_capacity(r);
}

uint32_t nshm_ring_elem_size_fn(const struct nshm_ring *r)
{
	return nshm_ring_elem_size(r);
}

uint64_t nshm_ring_position_fn(const struct nshm_ring *r)
{
	return nshm_ring_position(r);
}

int nshm_ring_error_fn(const struct nshm_ring *r)
{
	return nshm_ring_error(r);
}

void *nshm_ring_span_at_fn(const struct nshm_ring_span *sp, uint32_t i)
{
	return nshm_ring_span_at(sp, i);
}
