/* SPDX-License-Identifier: MIT */
/*
 * The records kind's API around its data plane: declared protocols (a
 * set of record types and its fingerprint, checked at attach), the
 * blocking calls over the core's waiting engine, and the out-of-line
 * copies of the inline data plane. The kind itself (geometry, the MPSC
 * claim protocol and its recovery, readiness, checks) is records.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <nshm/records.h>

#include "ring/core.h"

/* ---- protocols -------------------------------------------------------- */

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	while (n--) {
		h ^= *b++;
		h *= 0x100000001b3ull;
	}
	return h;
}

static uint64_t fnv32(uint64_t h, uint32_t v)
{
	unsigned char b[4] = { (unsigned char)v, (unsigned char)(v >> 8),
			       (unsigned char)(v >> 16),
			       (unsigned char)(v >> 24) };

	return fnv(h, b, sizeof(b));
}

static uint64_t fnvs(uint64_t h, const char *s)
{
	s = s ? s : "";
	return fnv(h, s, strlen(s) + 1);
}

uint64_t nshm_records_fingerprint(const struct nshm_records_proto *p)
{
	uint64_t h = 0xcbf29ce484222325ull;

	if (p == NULL)
		return fnv32(fnvs(h, ""), 0);
	h = fnv32(fnvs(h, p->name), p->version);
	h = fnv32(h, p->count);
	for (uint32_t i = 0; p->types != NULL && i < p->count; i++) {
		const struct nshm_record_type *t = &p->types[i];

		h = fnv32(h, t->id);
		h = fnvs(h, t->name);
		h = fnv32(h, t->size);
		h = fnv32(h, t->version);
	}
	return h;
}

static int proto_check(const struct nshm_records_proto *p)
{
	if (p == NULL)
		return 0;
	if (p->count != 0 && p->types == NULL)
		return nshm__err(-EINVAL, "protocol '%s': %u types but no "
				 "table", p->name ? p->name : "", p->count);
	for (uint32_t i = 0; i < p->count; i++) {
		if (p->types[i].id > NSHM_REC_TYPE_MAX)
			return nshm__err(-EINVAL, "protocol '%s': type id %u "
					 "(%s) is above 65535",
					 p->name ? p->name : "",
					 p->types[i].id,
					 p->types[i].name ? p->types[i].name
							  : "");
		for (uint32_t j = 0; j < i; j++)
			if (p->types[j].id == p->types[i].id)
				return nshm__err(-EINVAL, "protocol '%s': "
						 "type id %u twice",
						 p->name ? p->name : "",
						 p->types[i].id);
	}
	return 0;
}

/* The ring type standing for @p p: "<name>#<set fingerprint>", size 1. */
static void proto_type(const struct nshm_records_proto *p,
		       struct nshm_ring_type *t, char *buf, size_t len)
{
	snprintf(buf, len, "%.30s#%016" PRIx64,
		 p && p->name ? p->name : "", nshm_records_fingerprint(p));
	memset(t, 0, sizeof(*t));
	t->name = buf;
	t->version = p ? p->version : 0;
	t->size = 1;
	t->align = 1;
}

int nshm_records_create(const char *name, const struct nshm_ring_params *p,
			const struct nshm_records_proto *proto,
			struct nshm_ring **out)
{
	struct nshm_ring_params q;
	struct nshm_ring_type t;
	char buf[NSHM_RING_TYPE_NAME_MAX + 1];
	int ret;

	nshm__err_clear();
	if (p == NULL || p->size != sizeof(q))
		return nshm__err(-EINVAL, "records params NULL or of the "
				 "wrong size (start from "
				 "NSHM_RING_PARAMS_INIT)");
	if ((ret = proto_check(proto)) != 0)
		return ret;
	q = *p;
	proto_type(proto, &t, buf, sizeof(buf));
	q.kind = NSHM_RING_RECORDS;
	q.type = &t;
	return nshm_ring_create_with(name, &q, out);
}

int nshm_records_attach(const char *name,
			const struct nshm_records_proto *proto,
			enum nshm_ring_role role, unsigned int flags,
			struct nshm_ring **out)
{
	struct nshm_ring_type t;
	char buf[NSHM_RING_TYPE_NAME_MAX + 1];
	char why[512];
	struct nshm_ring_stats st;
	struct nshm_ring *o = NULL;
	int ret;

	nshm__err_clear();
	if ((ret = proto_check(proto)) != 0)
		return ret;
	if (role == NSHM_RING_OBSERVER && proto == NULL)
		return nshm_ring_attach(name, NSHM_RING_RECORDS, NULL, role,
					flags, out);
	proto_type(proto, &t, buf, sizeof(buf));
	ret = nshm_ring_attach(name, NSHM_RING_RECORDS, &t, role, flags, out);
	if (ret != -NSHM_ETYPE)
		return ret;
	snprintf(why, sizeof(why), "%s", nshm_errdetail());
	/* Name what the ring carries (an observer: read-only, no role). */
	if (nshm_ring_attach(name, NSHM_RING_RECORDS, NULL, NSHM_RING_OBSERVER,
			     flags & NSHM_ALLOW_OTHER_OWNER, &o) != 0 ||
	    nshm_ring_stats(o, &st) != 0) {
		nshm_ring_close(o);
		return nshm__err(-NSHM_ETYPE, "%s", why);
	}
	nshm_ring_close(o);
	return nshm__err(-NSHM_ETYPE,
			 "ring '%s' carries record protocol '%s' v%u; this "
			 "program speaks '%s' v%u: another protocol, or the "
			 "same one with a record type's id, C type, size or "
			 "version changed (the part after '#' is the type "
			 "set's fingerprint)",
			 name, st.type_name, st.type_version, buf,
			 proto ? proto->version : 0);
}

/* ---- blocking calls --------------------------------------------------- */

static int role_ok(struct nshm_ring *r, int want)
{
	if (r == NULL)
		return nshm__err(-EINVAL, "ring handle is NULL");
	if (priv(r)->forked)
		return nshm__ring_forked_err(r);
	if (priv(r)->cfg.kind != NSHM_RING_RECORDS || (int)r->role != want)
		return nshm__err(-EPERM, "ring '%s': a records %s call on "
				 "a %s handle of a %s ring", priv(r)->name,
				 nshm__ring_role_name(want),
				 nshm__ring_role_name((int)r->role),
				 nshm__ring_kind_name(priv(r)->cfg.kind));
	return 0;
}

int nshm_records_reserve_wait(struct nshm_ring *r, uint32_t len, void **out,
			      const struct timespec *deadline)
{
	int ret;

	nshm__err_clear();
	if ((ret = role_ok(r, NSHM_RING_PRODUCER)) != 0)
		return ret;
	if (out == NULL)
		return nshm__err(-EINVAL, "out pointer is NULL");
	if (len > r->seq_off)
		return nshm__err(-EMSGSIZE, "ring '%s': a record of %u bytes; "
				 "this ring takes at most %u", priv(r)->name,
				 len, r->seq_off);
	for (;;) {
		void *p = nshm_records_reserve(r, len);

		if (p != NULL) {
			*out = p;
			return 0;
		}
		if (r->err == -NSHM_ECORRUPT)
			return nshm__err(-NSHM_ECORRUPT, "ring '%s' was found "
					 "corrupt (nshm_ring_clear_error() to "
					 "retry)", priv(r)->name);
		r->reserved = len;
		ret = nshm__ring_wait(r, deadline);
		if (ret != 0)
			return ret;
	}
}

int nshm_records_push_wait(struct nshm_ring *r, uint32_t type,
			   const void *data, uint32_t len,
			   const struct timespec *deadline)
{
	void *p = NULL;
	int ret;

	if (type > NSHM_REC_TYPE_MAX)
		return nshm__err(-EINVAL, "record type %u is above 65535",
				 type);
	ret = nshm_records_reserve_wait(r, len, &p, deadline);
	if (ret != 0)
		return ret;
	if (len != 0)
		memcpy(p, data, len);
	nshm_records_commit_len(r, type, len);
	return 0;
}

int nshm_records_next_wait(struct nshm_ring *r, struct nshm_record *rec,
			   const struct timespec *deadline)
{
	int ret;

	nshm__err_clear();
	if ((ret = role_ok(r, NSHM_RING_CONSUMER)) != 0)
		return ret;
	if (rec == NULL)
		return nshm__err(-EINVAL, "record pointer is NULL");
	for (;;) {
		if (nshm_records_next(r, rec))
			return 0;
		if (r->err == -NSHM_ECORRUPT)
			return -NSHM_ECORRUPT; /* detail set by the fast path */
		ret = nshm__ring_wait(r, deadline);
		if (ret != 0)
			return ret;
	}
}

int nshm_records_pop_wait(struct nshm_ring *r, void *buf, size_t cap,
			  uint32_t *len, uint32_t *type,
			  const struct timespec *deadline)
{
	struct nshm_record rec = { NULL, 0, 0 };
	int ret = nshm_records_next_wait(r, &rec, deadline);

	if (ret != 0)
		return ret;
	if (len != NULL)
		*len = rec.len;
	if (type != NULL)
		*type = rec.type;
	if (rec.len > cap) {
		r->cready -= nshm__rec_total(r, rec.len); /* still next */
		return nshm__err(-EMSGSIZE, "ring '%s': the next record has "
				 "%u bytes, the buffer %zu", priv(r)->name,
				 rec.len, cap);
	}
	if (rec.len != 0)
		memcpy(buf, rec.data, rec.len);
	nshm_records_release(r);
	return 0;
}

/* ---- out-of-line copies of the inline data plane ---------------------- */

void *nshm_records_reserve_fn(struct nshm_ring *r, uint32_t len)
{
	return nshm_records_reserve(r, len);
}

void nshm_records_commit_len_fn(struct nshm_ring *r, uint32_t type,
				uint32_t len)
{
	nshm_records_commit_len(r, type, len);
}

bool nshm_records_next_fn(struct nshm_ring *r, struct nshm_record *rec)
{
	return nshm_records_next(r, rec);
}

void nshm_records_release_fn(struct nshm_ring *r)
{
	nshm_records_release(r);
}

int nshm_records_push_fn(struct nshm_ring *r, uint32_t type, const void *data,
			 uint32_t len)
{
	return nshm_records_push(r, type, data, len);
}

int nshm_records_pop_fn(struct nshm_ring *r, void *buf, size_t cap,
			uint32_t *len, uint32_t *type)
{
	return nshm_records_pop(r, buf, cap, len, type);
}
