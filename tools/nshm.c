/* SPDX-License-Identifier: MIT */
/*
 * nshm: the operator's tool for nshm segments and rings: list, inspect,
 * watch, create, remove, garbage-collect, publish and subscribe, run the
 * benchmark, show system limits. This file has the dispatcher, the help
 * texts, the exit codes and the helpers every subcommand shares; the
 * subcommands live in seg.c (ls, info, rm, gc), ring.c (create, pub, sub)
 * and watch.c.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "nshm.h"

/* ---- errors and exit codes -------------------------------------------- */

int exit_code(int rc)
{
	switch (rc < 0 ? -rc : rc) {
	case 0:
		return EX_OK;
	case ENOENT:
		return EX_NOENT;
	case EBADMSG:
		return EX_NOTNSHM;
	case EPROTO:
		return EX_VERSION;
	case EACCES:
	case EPERM:
	case ELOOP:
		return EX_PERM;
	case NSHM_ECORRUPT:
	case NSHM_ETRUNCATED:
		return EX_CORRUPT;
	case EEXIST:
		return EX_EXISTS;
	case NSHM_EKIND:
	case NSHM_ETYPE:
		return EX_KIND;
	case EBUSY:
		return EX_BUSY;
	case NSHM_EBADNAME:
	case ENAMETOOLONG:
		return EX_BADNAME;
	case NSHM_EPEERDEAD:
		return EX_PEERDEAD;
	default:
		return EX_FAIL;
	}
}

int fail(const char *what, const char *name, int rc)
{
	fprintf(stderr, "nshm: %s%s%s: %s", what, name ? " " : "",
		name ? name : "", nshm_strerror(rc));
	if (nshm_errdetail()[0] != '\0')
		fprintf(stderr, " (%s)", nshm_errdetail());
	fputc('\n', stderr);
	return exit_code(rc);
}

int usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "nshm %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'nshm %s --help'.\n", cmd);
	return EX_USAGE;
}

/* ---- parsing ----------------------------------------------------------- */

/* Parse "64k", "16M", "1G" or plain bytes. @return 0 or -1. */
int parse_size(const char *s, size_t *out)
{
	char *end;
	unsigned long long v;
	int shift = 0;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno != 0 || end == s || s[0] == '-')
		return -1;
	switch (*end | 0x20) { /* lower case */
	case 'k':
		shift = 10;
		break;
	case 'm':
		shift = 20;
		break;
	case 'g':
		shift = 30;
		break;
	}
	if (shift != 0) {
		end++;
		if (strcmp(end, "iB") == 0 || strcmp(end, "B") == 0)
			end += strlen(end);
	}
	if (*end != '\0' || v > (SIZE_MAX >> shift))
		return -1;
	v <<= shift;
	*out = (size_t)v;
	return 0;
}

int parse_u32(const char *s, uint32_t *out)
{
	size_t v;

	if (parse_size(s, &v) != 0 || v > UINT32_MAX)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

int parse_mode(const char *s, unsigned *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 8);
	if (errno != 0 || end == s || *end != '\0' || v > 0777)
		return -1;
	*out = (unsigned)v;
	return 0;
}

int parse_seconds(const char *s, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || !(v >= 0) || v > 1e6)
		return -1;
	if (strcmp(end, "ms") == 0)
		v /= 1000;
	else if (strcmp(end, "s") != 0 && *end != '\0')
		return -1;
	*out = v;
	return 0;
}

bool is_help(const char *arg)
{
	return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}

/* ---- output helpers ---------------------------------------------------- */

void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", f);
		else if (*p < 0x20 || *p >= 0x7f)
			fprintf(f, "\\u%04x", *p); /* bytes, not UTF-8 */
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

void json_hex(FILE *f, const void *p, size_t n)
{
	const unsigned char *b = p;

	fputc('"', f);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%02x", b[i]);
	fputc('"', f);
}

const char *backend_name(enum nshm_backend b)
{
	switch (b) {
	case NSHM_BACKEND_POSIX:
		return "posix";
	case NSHM_BACKEND_SYSV:
		return "sysv";
	case NSHM_BACKEND_FILE:
		return "file";
	}
	return "?";
}

/* ---- limits ------------------------------------------------------------ */

static unsigned long long read_ull(const char *path)
{
	unsigned long long v = 0;
	FILE *f = fopen(path, "re");

	if (f) {
		if (fscanf(f, "%llu", &v) != 1)
			v = 0;
		fclose(f);
	}
	return v;
}

static int cmd_limits(int argc, char **argv)
{
	struct statvfs sv;
	struct rlimit rl;

	(void)argv;
	if (argc > 1)
		return usage_error("limits", "takes no arguments");
	puts("Limits that bound nshm segments, and how to raise them:\n");
	if (statvfs("/dev/shm", &sv) == 0)
		printf("/dev/shm (POSIX segments)  %llu MiB free of %llu MiB\n"
		       "    mount -o remount,size=2G /dev/shm   (docker: --shm-size=2g)\n",
		       (unsigned long long)sv.f_bavail * sv.f_frsize >> 20,
		       (unsigned long long)sv.f_blocks * sv.f_frsize >> 20);
	else
		puts("/dev/shm  not mounted: mount -t tmpfs tmpfs /dev/shm");
	printf("kernel.shmmax (SysV, bytes per segment)  %llu\n"
	       "kernel.shmall (SysV, pages in all)       %llu\n"
	       "kernel.shmmni (SysV, segments)           %llu\n"
	       "    sysctl kernel.shmmax=... kernel.shmall=... kernel.shmmni=...\n",
	       read_ull("/proc/sys/kernel/shmmax"),
	       read_ull("/proc/sys/kernel/shmall"),
	       read_ull("/proc/sys/kernel/shmmni"));
	getrlimit(RLIMIT_MEMLOCK, &rl);
	if (rl.rlim_cur == RLIM_INFINITY)
		puts("RLIMIT_MEMLOCK (NSHM_MLOCK)              unlimited");
	else
		printf("RLIMIT_MEMLOCK (NSHM_MLOCK)              %llu KiB%s\n",
		       (unsigned long long)rl.rlim_cur >> 10,
		       geteuid() == 0 ? " (root is exempt)" : "");
	puts("    ulimit -l <KiB>, or memlock in /etc/security/limits.conf");
	printf("vm.nr_hugepages (NSHM_HUGEPAGES, SysV)   %llu pages\n"
	       "    sysctl vm.nr_hugepages=64   (or mount hugetlbfs and use file:<mount>/name)\n",
	       read_ull("/proc/sys/vm/nr_hugepages"));
	printf("vm.max_map_count (mappings per process)  %llu\n"
	       "    sysctl vm.max_map_count=262144\n",
	       read_ull("/proc/sys/vm/max_map_count"));
	return 0;
}

/* ---- bench: exec nshm-bench -------------------------------------------- */

static int cmd_bench(int argc, char **argv)
{
	char self[PATH_MAX], path[PATH_MAX + 32];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	/* Next to us (installed), then the build tree's bench/, then PATH. */
	static const char *const rel[] = { "/nshm-bench", "/../bench/nshm-bench" };

	argv[0] = (char *)"nshm-bench";
	if (n > 0) {
		char *slash;

		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash != NULL) {
			*slash = '\0';
			for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
				snprintf(path, sizeof(path), "%s%s", self,
					 rel[i]);
				if (access(path, X_OK) == 0) {
					execv(path, argv);
					fprintf(stderr, "nshm bench: %s: %s\n",
						path, strerror(errno));
					return EX_FAIL;
				}
			}
		}
	}
	(void)argc;
	execvp("nshm-bench", argv);
	fprintf(stderr, "nshm bench: nshm-bench not found next to nshm or on "
		"PATH: %s\n", strerror(errno));
	return 127;
}

/* ---- dispatch and help -------------------------------------------------- */

struct command {
	const char *name;
	const char *alias; /* old name kept working, or NULL */
	int (*fn)(int argc, char **argv);
	const char *summary;
	const char *help; /* usage and options */
};

static const struct command commands[] = {
	{ "ls", "list", cmd_ls, "list every nshm segment and ring",
	  "usage: nshm ls [--json] [--path DIR]... [-a] [PATTERN...]\n"
	  "List nshm segments: POSIX (/dev/shm), System V (/proc/sysvipc/shm)\n"
	  "and the files in each --path DIR (file: backend). Columns: name,\n"
	  "backend, size, ring kind, element type and size, capacity, fill,\n"
	  "participants alive/dead, owner, mode, creator pid, creation time.\n"
	  "Objects that are not nshm segments are skipped. PATTERNs (shell\n"
	  "globs, quoted: 'ticks*') keep only the names that match one.\n"
	  "  --json        one JSON array of objects\n"
	  "  --path DIR    also list nshm files in DIR (repeatable)\n"
	  "  -a, --all     also list participants one per line (table)\n" },
	{ "info", NULL, cmd_info, "everything in a segment's and a ring's header",
	  "usage: nshm info [--json] NAME...\n"
	  "Show the segment header, every participant (pid, alive or dead) and,\n"
	  "for a ring, its configuration, roles and counters. Read-only: it\n"
	  "maps the segment read-only and takes no participant slot.\n"
	  "  --json        one JSON object per NAME (an array for several)\n" },
	{ "watch", NULL, cmd_watch, "live rates, fill and wait counters of rings",
	  "usage: nshm watch [-n COUNT] [-i INTERVAL] [--json|--plain] NAME...\n"
	  "Sample each ring's counters every INTERVAL and show rates (msgs/s,\n"
	  "bytes/s pushed and popped), fill level, waits, parks, wake-ups,\n"
	  "timeouts and corrupt-index counts. On a terminal it redraws the\n"
	  "screen like top (q or Ctrl-C quits, the terminal is restored);\n"
	  "otherwise it prints one line per ring per sample.\n"
	  "  -n, --count COUNT     stop after COUNT samples (default: forever)\n"
	  "  -i, --interval SECS   seconds between samples (default 1; 0.5, 200ms)\n"
	  "  --json                one JSON object per sample per line\n"
	  "  --plain               plain lines even on a terminal\n"
	  "A records ring counts bytes (headers and padding included).\n" },
	{ "create", NULL, cmd_create, "create a segment or a ring",
	  "usage: nshm create [-x] [-m MODE] [--huge] [--prefault] NAME SIZE\n"
	  "       nshm create -k KIND -e ELEM_SIZE -c CAPACITY [options] NAME\n"
	  "       nshm create -k records -c BYTES [options] NAME\n"
	  "The first form makes a raw segment of SIZE bytes (64k, 16M, 1G);\n"
	  "the second a ring (KIND: spsc, mpmc, broadcast, or records with\n"
	  "-c in bytes and no -e).\n"
	  "  -m, --mode MODE       permission bits, octal (default 0600)\n"
	  "  -x, --excl            raw segment: fail if it exists (a ring always does)\n"
	  "  --huge                huge pages (falls back to normal pages)\n"
	  "  --prefault            touch every page now\n"
	  "  --mlock               ring: lock the creator's mapping in RAM\n"
	  "  -k, --kind KIND       ring kind\n"
	  "  -e, --elem-size N     ring: bytes per element (1 .. 16M)\n"
	  "  -c, --capacity N      ring: slots, a power of two\n"
	  "  --type-name S         ring: element type name recorded (default \"\")\n"
	  "  --type-version V      ring: type version (default 1)\n"
	  "  --align A             ring: element alignment (default 1)\n"
	  "  --seq-offset O        ring: the element's own 8-byte seq field at O\n"
	  "  --max-producers N     mpmc: producer entries of the role table\n"
	  "  --max-consumers N     mpmc: consumer entries (default 8 each);\n"
	  "                        broadcast back-pressured: reader entries\n"
	  "  --policy P            broadcast: lossy (default) or backpressure\n"
	  "  --evict-ms MS         broadcast: evict a reader that stalls the\n"
	  "                        writer this long (0: never)\n"
	  "  --record-max N        records: largest record (default capacity/4)\n"
	  "  --record-align A      records: payload alignment (8 .. 64)\n"
	  "  --json                describe what was made as JSON\n" },
	{ "rm", "delete", cmd_rm, "remove names (mappings keep working)",
	  "usage: nshm rm [-f] NAME...\n"
	  "Remove each name. Processes that have it mapped keep working; the\n"
	  "memory is freed when the last one unmaps. A name that holds\n"
	  "something other than an nshm segment is left alone (exit 4).\n"
	  "  -f, --force   a missing name is not an error\n" },
	{ "gc", NULL, cmd_gc, "remove segments left behind by dead processes",
	  "usage: nshm gc [--force] [--json] [--path DIR]... [PATTERN...]\n"
	  "Find segments that at least one participant used, whose every\n"
	  "participant is dead (proven by its liveness token, never guessed\n"
	  "from a timeout) and that no live process maps or holds open.\n"
	  "Without --force it only lists them (a dry run). A segment nobody\n"
	  "ever attached read-write (an empty participant table) is kept: it\n"
	  "is idle, not garbage. Processes whose /proc entries we may not read\n"
	  "(other users', when not root) cannot be seen mapping a segment:\n"
	  "their participant slots still keep it alive. PATTERNs (quoted\n"
	  "globs) limit it to matching names.\n"
	  "  --force       remove them (re-checked just before each removal)\n"
	  "  --json        a JSON array of what was (or would be) removed\n"
	  "  --path DIR    also look at nshm files in DIR\n" },
	{ "pub", NULL, cmd_pub, "write elements from stdin into a ring",
	  "usage: nshm pub [--hex|--raw|--text] [--rate N] [--timeout SECS] [--type T] NAME\n"
	  "Attach as the producer and push one element per input record;\n"
	  "blocks while the ring is full; gives the role back at end of input\n"
	  "(a consumer then drains the ring and sees the end).\n"
	  "  --hex         one element per line, in hex (default; spaces allowed,\n"
	  "                a short line is zero-padded)\n"
	  "  --raw         binary: exactly ELEM_SIZE bytes per element\n"
	  "  --text        one element per line, the line's bytes zero-padded\n"
	  "  --rate N      at most N elements per second (paced, not bursty)\n"
	  "  --timeout S   give up when the ring stays full for S seconds\n"
	  "  --type T      records: the record type id (0 .. 65535, default 0)\n"
	  "A records ring takes one record per line (its length is the line's,\n"
	  "or the hex bytes'), or with --raw records framed by a 4-byte\n"
	  "little-endian length (what nshm sub --raw writes).\n" },
	{ "sub", NULL, cmd_sub, "read elements from a ring and print them",
	  "usage: nshm sub [--hex|--raw|--json|--text] [-n COUNT] [--timeout SECS] NAME\n"
	  "Attach as the consumer and print each element; ends (exit 0) once\n"
	  "the producer has closed and everything it committed is read, or\n"
	  "after COUNT elements; exit 12 if the producer died. A broadcast\n"
	  "ring is read as a subscriber (read-only, holds nothing back) from\n"
	  "the oldest message still there; when the writer laps it, what it\n"
	  "missed is reported ({\"missed\":N} with --json, else on stderr).\n"
	  "A records ring prints each record at its own length, with its\n"
	  "\"type\" in JSON; --raw frames each with a 4-byte LE length.\n"
	  "  --hex         one line of hex per element (default)\n"
	  "  --raw         the element's bytes, nothing else (binary-safe)\n"
	  "  --json        one JSON object per line: {\"index\", \"size\", \"hex\"}\n"
	  "  --text        the bytes up to the first NUL, one line each\n"
	  "  -n COUNT      stop after COUNT elements\n"
	  "  --timeout S   stop (exit 0) when nothing arrives for S seconds\n" },
	{ "bench", NULL, cmd_bench, "run nshm-bench (options: nshm bench --help)",
	  NULL },
	{ "limits", NULL, cmd_limits, "system limits that bound segments, and how to raise them",
	  "usage: nshm limits\n"
	  "Print every system limit that can stop an open or attach, with the\n"
	  "command that raises it.\n" },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const char exit_codes_text[] =
	"Exit status:\n"
	"   0  success                    7  corrupt or truncated header\n"
	"   1  other failure              8  the name exists (create)\n"
	"   2  usage error                9  not a ring, or another kind or type\n"
	"   3  no such name              10  role busy (pub/sub: a live holder)\n"
	"   4  not an nshm segment       11  malformed name\n"
	"   5  another layout version    12  the peer process died (pub/sub)\n"
	"   6  permission denied (mode, another owner, symlink or hard link)\n"
	"With several NAMEs, the first failure's status.\n";

static void usage(FILE *f)
{
	fputs("usage: nshm COMMAND [ARGS]   (nshm COMMAND --help for each)\n\n",
	      f);
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-8s %s%s%s%s\n", commands[i].name,
			commands[i].summary, commands[i].alias ? " (also: " : "",
			commands[i].alias ? commands[i].alias : "",
			commands[i].alias ? ")" : "");
	fputs("\nNAME: ticks (POSIX, /dev/shm/ticks), sysv:ticks (System V),\n"
	      "      file:/path/ticks (a file; hugetlbfs, persistence)\n\n",
	      f);
	fputs(exit_codes_text, f);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EX_USAGE;
	}
	if (is_help(argv[1]) || strcmp(argv[1], "help") == 0) {
		if (argc > 2 && strcmp(argv[1], "help") == 0) {
			argv[1] = argv[2];
			argv[2] = (char *)"--help";
		} else {
			usage(stdout);
			return EX_OK;
		}
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("nshm %d.%d.%d\n", NSHM_VERSION_MAJOR,
		       NSHM_VERSION_MINOR, NSHM_VERSION_PATCH);
		return EX_OK;
	}
	for (size_t i = 0; i < NCOMMANDS; i++) {
		const struct command *c = &commands[i];

		if (strcmp(argv[1], c->name) != 0 &&
		    (c->alias == NULL || strcmp(argv[1], c->alias) != 0))
			continue;
		if (c->help != NULL) {
			for (int a = 2; a < argc; a++) {
				if (strcmp(argv[a], "--") == 0)
					break;
				if (is_help(argv[a])) {
					fputs(c->help, stdout);
					fputc('\n', stdout);
					fputs(exit_codes_text, stdout);
					return EX_OK;
				}
			}
		}
		return c->fn(argc - 1, argv + 1);
	}
	fprintf(stderr, "nshm: unknown command \"%s\"\n", argv[1]);
	usage(stderr);
	return EX_USAGE;
}
