/* SPDX-License-Identifier: MIT */
/*
 * nshm pub, nshm sub: elements or records between a ring and stdin /
 * stdout, through the data plane of the ring-kind table (ring.c), so each
 * kind's role, framing and lap reporting come from its entry.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nshm.h"

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
