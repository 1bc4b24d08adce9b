/* SPDX-License-Identifier: MIT */
/*
 * nshm: create, inspect, list and delete named segments, and show the
 * system limits that bound them (with how to raise each).
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/resource.h>
#include <sys/shm.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <nshm/shm.h>

#include "shm/seg_layout.h"

static const char *backend_name(enum nshm_backend b)
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

static int fail(const char *what, const char *name, int rc)
{
	fprintf(stderr, "nshm: %s %s: %s", what, name ? name : "",
		nshm_strerror(rc));
	if (nshm_errdetail()[0] != '\0')
		fprintf(stderr, " (%s)", nshm_errdetail());
	fputc('\n', stderr);
	return 1;
}

/* Parse "64k", "16M", "1G" or plain bytes. @return 0 or -1. */
static int parse_size(const char *s, size_t *out)
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

static void print_info(const struct nshm_seg_info *in)
{
	printf("name        %s\n", in->name);
	printf("backend     %s\n", backend_name(in->backend));
	printf("size        %zu bytes\n", in->size);
	printf("mapping     %zu bytes (4096-byte header + area, rounded)\n",
	       in->map_size);
	printf("page size   %zu%s\n", in->page_size,
	       in->huge ? " (huge pages)" : "");
	printf("owner uid   %u\n", (unsigned)in->owner);
	printf("mode        %04o\n", in->mode);
	printf("creator pid %d\n", (int)in->creator_pid);
}

static int cmd_create(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "mode", required_argument, NULL, 'm' },
		{ "excl", no_argument, NULL, 'x' },
		{ "huge", no_argument, NULL, 'H' },
		{ "prefault", no_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned flags = NSHM_CREATE, mode = 0;
	struct nshm_seg *seg;
	struct nshm_seg_info info;
	size_t size;
	char *end;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "m:xHp", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			mode = (unsigned)strtoul(optarg, &end, 8);
			if (*end != '\0' || mode > 0777) {
				fprintf(stderr, "nshm: bad mode %s\n", optarg);
				return 2;
			}
			break;
		case 'x': flags |= NSHM_EXCL; break;
		case 'H': flags |= NSHM_HUGEPAGES; break;
		case 'p': flags |= NSHM_PREFAULT; break;
		default: return 2;
		}
	}
	if (argc - optind != 2 || parse_size(argv[optind + 1], &size) != 0) {
		fprintf(stderr, "usage: nshm create [-x] [-m MODE] [--huge] [--prefault] NAME SIZE\n");
		return 2;
	}
	rc = nshm_seg_open(argv[optind], size, flags, mode, &seg);
	if (rc < 0)
		return fail("create", argv[optind], rc);
	nshm_seg_stat(seg, &info);
	print_info(&info);
	if (!info.created)
		printf("(it existed already)\n");
	nshm_seg_close(seg);
	return 0;
}

static int cmd_info(int argc, char **argv)
{
	struct nshm_seg *seg;
	struct nshm_seg_info info;
	int ret = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: nshm info NAME...\n");
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		int rc = nshm_seg_open(argv[i], 0, NSHM_ALLOW_OTHER_OWNER, 0,
				       &seg);

		if (rc < 0) {
			ret = fail("info", argv[i], rc);
			continue;
		}
		nshm_seg_stat(seg, &info);
		print_info(&info);
		nshm_seg_close(seg);
	}
	return ret;
}

static int cmd_delete(int argc, char **argv)
{
	int ret = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: nshm delete NAME...\n");
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		int rc = nshm_seg_delete(argv[i]);

		if (rc < 0)
			ret = fail("delete", argv[i], rc);
	}
	return ret;
}

static void list_one(const char *name)
{
	struct nshm_seg *seg;
	struct nshm_seg_info in;
	int rc = nshm_seg_open(name, 0, NSHM_ALLOW_OTHER_OWNER, 0, &seg);

	if (rc == -EBADMSG)
		return; /* not ours */
	if (rc < 0) {
		printf("%-32s %-5s %12s  %s\n", name, "?", "?",
		       nshm_strerror(rc));
		return;
	}
	nshm_seg_stat(seg, &in);
	printf("%-32s %-5s %12zu  uid %u mode %04o creator %d%s\n", in.name,
	       backend_name(in.backend), in.size, (unsigned)in.owner, in.mode,
	       (int)in.creator_pid, in.huge ? " huge" : "");
	nshm_seg_close(seg);
}

static int cmd_list(void)
{
	char line[512], name[300];
	DIR *d = opendir("/dev/shm");
	struct dirent *e;
	FILE *f;

	printf("%-32s %-5s %12s  %s\n", "NAME", "KIND", "SIZE", "DETAILS");
	while (d && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' || nshm_name_check(e->d_name) != 0)
			continue;
		list_one(e->d_name);
	}
	if (d)
		closedir(d);

	/* SysV: read the name from each segment's header. */
	f = fopen("/proc/sysvipc/shm", "re");
	if (f != NULL && fgets(line, sizeof(line), f) != NULL) {
		while (fgets(line, sizeof(line), f) != NULL) {
			int key, id;
			struct nshm_seg_hdr *h;

			if (sscanf(line, "%d %d", &key, &id) != 2)
				continue;
			h = shmat(id, NULL, SHM_RDONLY);
			if (h == (void *)-1)
				continue;
			if (h->magic == NSHM_SEG_MAGIC &&
			    h->name_len < sizeof(h->name) &&
			    memchr(h->name, '\0', sizeof(h->name)) != NULL)
				snprintf(name, sizeof(name), "%s", h->name);
			else
				name[0] = '\0';
			shmdt(h);
			if (strncmp(name, "sysv:", 5) == 0)
				list_one(name);
		}
	}
	if (f)
		fclose(f);
	return 0;
}

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

static int cmd_limits(void)
{
	struct statvfs sv;
	struct rlimit rl;

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

static void usage(FILE *f)
{
	fputs("usage: nshm COMMAND ...\n"
	      "  create [-x] [-m MODE] [--huge] [--prefault] NAME SIZE\n"
	      "                 create a segment (SIZE: bytes, or 64k, 16M, 1G)\n"
	      "  info NAME...   show a segment's header\n"
	      "  list           list nshm segments (POSIX and SysV)\n"
	      "  delete NAME... remove names; mappings keep working\n"
	      "  limits         system limits that bound segments, and how to raise them\n"
	      "NAME: ticks (POSIX, /dev/shm), sysv:ticks (System V), file:/path\n",
	      f);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "create") == 0)
		return cmd_create(argc - 1, argv + 1);
	if (strcmp(argv[1], "info") == 0)
		return cmd_info(argc - 1, argv + 1);
	if (strcmp(argv[1], "delete") == 0)
		return cmd_delete(argc - 1, argv + 1);
	if (strcmp(argv[1], "list") == 0)
		return cmd_list();
	if (strcmp(argv[1], "limits") == 0)
		return cmd_limits();
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "nshm: unknown command \"%s\"\n", argv[1]);
	usage(stderr);
	return 2;
}
