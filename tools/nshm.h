/* SPDX-License-Identifier: MIT */
#ifndef NSHM_TOOL_H
#define NSHM_TOOL_H

/*
 * Internal to the nshm command (tools/): what the subcommand files share.
 * The command uses the public API (include/nshm/ headers) for everything but two
 * facts the public API does not give: a SysV segment's name (read from its
 * header page to list it) and the creation time in the header. Both are
 * read in seg.c only, through src/shm/seg_layout.h.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <nshm/bcast.h>
#include <nshm/mpmc.h>
#include <nshm/records.h>
#include <nshm/ring.h>
#include <nshm/shm.h>
#include <nshm/sync.h>


/*
 * Exit codes: distinct per failure class, documented in `nshm --help` and
 * nshm.1. A command acting on several names exits with the first failure's
 * code (it still tries every name).
 */
enum nshm_exit {
	EX_OK = 0,
	EX_FAIL = 1,	  /* any other failure (no space, busy, I/O, ...) */
	EX_USAGE = 2,	  /* bad command line */
	EX_NOENT = 3,	  /* no segment of that name */
	EX_NOTNSHM = 4,	  /* the name holds something that is not nshm's */
	EX_VERSION = 5,	  /* an nshm segment or ring of another layout version */
	EX_PERM = 6,	  /* permission denied, other owner, symlink, hard link */
	EX_CORRUPT = 7,	  /* corrupt or truncated header */
	EX_EXISTS = 8,	  /* create: the name exists */
	EX_KIND = 9,	  /* not a ring, or a ring of another kind or type */
	EX_BUSY = 10,	  /* pub/sub: the role is held by a live process */
	EX_BADNAME = 11,  /* malformed name */
	EX_PEERDEAD = 12, /* sub/pub: the process on the other side died */
};

/* Map a library error code to an exit code. */
int exit_code(int rc);
/* Print "nshm: WHAT NAME: error (detail)" and return exit_code(rc). */
int fail(const char *what, const char *name, int rc);
/* Print "nshm CMD: usage..." hint to stderr; return EX_USAGE. */
int usage_error(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Parsing. Each returns 0 or -1. */
int parse_size(const char *s, size_t *out);	/* 64k, 16M, 1G, bytes */
int parse_u32(const char *s, uint32_t *out);	/* also k/M suffixes */
int parse_mode(const char *s, unsigned *out);	/* octal <= 0777 */
int parse_seconds(const char *s, double *out);	/* 0.5, 2, 100ms */

/* Is this a help flag (-h / --help)? */
bool is_help(const char *arg);

/* JSON output helpers (to a FILE). */
void json_str(FILE *f, const char *s);
void json_hex(FILE *f, const void *p, size_t n);

const char *backend_name(enum nshm_backend b);

/* ---- ring kinds: one table, so new kinds slot in ------------------------ */

struct ring_kind {
	const char *name;	  /* "spsc" */
	enum nshm_ring_kind kind; /* NSHM_RING_SPSC */
	const char *what;	  /* one line for --help */
	/*
	 * Fixed-size elements: create takes --elem-size and -c counts slots.
	 * false (records): -c is bytes and --elem-size is not asked for.
	 */
	bool fixed_elem;
	/*
	 * The data plane pub/sub use (NULL: pub/sub do not handle the kind
	 * yet), as thin adapters in ring.c over the kind's own calls. A
	 * message is @p len bytes (fixed-size kinds: always the element
	 * size) with a record type (records only; 0 elsewhere).
	 * pop: 1 got one, 0 empty, < 0 error; pop_wait: 0 or < 0. A kind
	 * whose reader can fall behind (broadcast) adds what it missed to
	 * *missed instead of failing (and returns 0, or 1 with a message);
	 * sub reports it and reads on.
	 */
	int (*push_wait)(struct nshm_ring *r, const void *buf, uint32_t len,
			 uint32_t type, const struct timespec *deadline);
	int (*pop)(struct nshm_ring *r, void *buf, uint32_t cap, uint32_t *len,
		   uint32_t *type, uint64_t *missed);
	int (*pop_wait)(struct nshm_ring *r, void *buf, uint32_t cap,
			uint32_t *len, uint32_t *type,
			const struct timespec *deadline, uint64_t *missed);
	enum nshm_ring_role reader; /* the role sub attaches in */
	/* Kind-specific create / attach (NULL: the ring core's). */
	int (*create)(const char *name, const struct nshm_ring_params *p,
		      struct nshm_ring **out);
	int (*attach)(const char *name, const struct nshm_ring_type *t,
		      enum nshm_ring_role role, struct nshm_ring **out);
	uint64_t (*position)(const struct nshm_ring *r); /* or NULL */
};

extern const struct ring_kind ring_kinds[];
extern const size_t ring_kinds_n;
/* The table entry for a kind name or number; NULL when unknown. */
const struct ring_kind *ring_kind_by_name(const char *name);
const struct ring_kind *ring_kind_by_id(uint32_t kind);
/* "spsc", or "kind-7" for a number no entry has (static buffer). */
const char *ring_kind_str(uint32_t kind);

/* ---- segment probe (seg.c) ----------------------------------------------- */

/* What one look at a segment found. */
struct segview {
	char name[NSHM_NAME_MAX + 4096 + 8];
	int err;	   /* 0, or why it could not be opened / read */
	char errmsg[512];  /* nshm_strerror + detail, when err != 0 */
	struct nshm_seg_info info;
	uint64_t created_ns; /* CLOCK_REALTIME of creation, 0: unknown */
	int shmid;	     /* SysV id, -1 otherwise */

	/* participants (read-write mappings) */
	int npeers; /* -errno when the table could not be read */
	int alive, dead, unknown;
	struct nshm_peer_info peers[NSHM_PEER_MAX];

	/* ring, when the area starts with a ring header */
	bool is_ring;
	int ring_err; /* 0, or why the observer attach failed */
	char ring_errmsg[512];
	struct nshm_ring_stats st;
	struct nshm_ring_config cfg; /* a copy, validated by the attach */
	uint32_t producer_state, consumer_state; /* enum role_state */
};

/*
 * Look at @p name: open it (any owner), map it read-only, read the header,
 * the participant table and, for a ring, its stats (as an observer: read
 * only, no participant slot). Unmaps before returning.
 * @return 0, or the open error (also left in v->err / v->errmsg).
 */
int seg_probe(const char *name, struct segview *v);

/* Callback for every nshm segment seg_scan() finds (name with prefix). */
typedef void (*seg_scan_fn)(const char *name, void *arg);
/*
 * Every nshm segment: POSIX (/dev/shm), SysV (/proc/sysvipc/shm), and the
 * files in each of @p dirs (@p ndirs, may be 0). Foreign objects are
 * skipped without being reported. @return how many names were found.
 */
int seg_scan(const char *const *dirs, int ndirs, seg_scan_fn fn, void *arg);

/*
 * Is the segment mapped or held open by a live process other than us?
 * @return 1 yes, 0 no (as far as /proc lets us see), -errno.
 */
int seg_mapped_elsewhere(const struct segview *v);

/* Print @p v as JSON (one object, no newline). */
void segview_json(FILE *f, const struct segview *v);
/* How a ring role's last holder is doing. */
enum role_state { ROLE_NEVER, ROLE_ALIVE, ROLE_CLOSED, ROLE_DEAD };
/* "never", "alive", "closed", "dead". */
const char *role_state_str(int alive, uint32_t state);
/* Format a CLOCK_REALTIME ns time as local ISO 8601 (static buffer). */
const char *time_str(uint64_t ns);

/* ---- subcommands ------------------------------------------------------- */

int cmd_ls(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_rm(int argc, char **argv);
int cmd_gc(int argc, char **argv);
int cmd_create(int argc, char **argv);
int cmd_watch(int argc, char **argv);
int cmd_pub(int argc, char **argv);
int cmd_sub(int argc, char **argv);

/* Ring creation (ring.c), from cmd_create's parsed options. */
struct ring_create_opts {
	const struct ring_kind *kind;
	uint32_t elem_size, capacity, align, type_version;
	uint32_t seq_offset; /* UINT32_MAX: no seq field */
	uint32_t max_producers, max_consumers; /* 0: the kind's default */
	uint32_t policy, evict_ms;		 /* broadcast */
	uint32_t record_max, record_align;	 /* records (0: defaults) */
	const char *type_name;
	unsigned flags, mode;
};
int ring_create(const char *name, const struct ring_create_opts *o,
		bool json);

#endif /* NSHM_TOOL_H */
