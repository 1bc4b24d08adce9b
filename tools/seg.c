/* SPDX-License-Identifier: MIT */
/*
 * nshm ls, info, rm, gc: finding nshm segments and looking at them without
 * disturbing them. Every look maps the segment read-only (no participant
 * slot, no write) and a ring is attached as an observer (read-only too).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <getopt.h>
#include <limits.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "nshm.h"
#include "shm/seg_layout.h" /* SysV names and created_ns: see nshm.h */

/* ---- looking at one segment --------------------------------------------- */

static void set_err(char *buf, size_t n, int rc)
{
	const char *d = nshm_errdetail();

	snprintf(buf, n, "%s%s%s%s", nshm_strerror(rc), d[0] ? " (" : "", d,
		 d[0] ? ")" : "");
}

/*
 * A ring role from public facts only: the stats say alive (1), gone (0) or
 * never held (-1); a gone holder whose pid is still a dead entry of the
 * participant table died, else it closed (a clean close frees its entry).
 * The pid match is diagnostic (pid reuse could fool it), never acted on.
 */
static uint32_t role_state(const struct segview *v, int alive, uint32_t pid)
{
	if (alive == 1)
		return ROLE_ALIVE;
	if (alive < 0)
		return ROLE_NEVER;
	for (int i = 0; i < v->npeers && i < (int)NSHM_PEER_MAX; i++)
		if (v->peers[i].alive == 0 && (uint32_t)v->peers[i].pid == pid)
			return ROLE_DEAD;
	return ROLE_CLOSED;
}

int seg_probe(const char *name, struct segview *v)
{
	struct nshm_seg *seg;
	struct nshm_ring *r;
	void *area;
	int rc;

	memset(v, 0, sizeof(*v));
	v->shmid = -1;
	snprintf(v->name, sizeof(v->name), "%s", name);
	rc = nshm_seg_open(name, 0, NSHM_ALLOW_OTHER_OWNER, 0, &seg);
	if (rc < 0) {
		v->err = rc;
		set_err(v->errmsg, sizeof(v->errmsg), rc);
		return rc;
	}
	nshm_seg_stat(seg, &v->info);
	rc = nshm_seg_attach(seg, NSHM_READONLY, &area);
	if (rc < 0) {
		v->err = rc;
		set_err(v->errmsg, sizeof(v->errmsg), rc);
		nshm_seg_close(seg);
		return rc;
	}
	v->created_ns = nshm__seg_hdr(area)->created_ns;

	/*
	 * Participants, through a read-only mapping: the table is read and
	 * each token probed, nothing is written or reaped. Checked on every
	 * backend: POSIX and file segments answer through an F_OFD_GETLK test
	 * on a read-only descriptor (no write access needed); SysV through
	 * the semaphore set's values, which needs read permission on the set
	 * (its mode follows the segment's): without it a participant's
	 * liveness is -EACCES, counted "unknown", and gc keeps the segment.
	 */
	v->npeers = nshm_peer_list(area, v->peers, NSHM_PEER_MAX);
	for (int i = 0; i < v->npeers && i < (int)NSHM_PEER_MAX; i++) {
		if (v->peers[i].alive == 1)
			v->alive++;
		else if (v->peers[i].alive == 0)
			v->dead++;
		else
			v->unknown++;
	}

	if (v->info.size >= NSHM_RING_HDR_SIZE &&
	    ((const struct nshm_ring_shared *)area)->config.magic ==
		    NSHM_RING_MAGIC) {
		const struct nshm_ring_shared *sh = area;

		v->is_ring = true;
		rc = nshm_ring_attach(name, NSHM_RING_KIND_ANY, NULL,
				      NSHM_RING_OBSERVER,
				      NSHM_ALLOW_OTHER_OWNER, &r);
		if (rc == 0) {
			nshm_ring_stats(r, &v->st);
			/* The observer validated this config (CRC, bounds). */
			memcpy(&v->cfg, &sh->config, sizeof(v->cfg));
			v->producer_state = role_state(v, v->st.producer_alive,
						       v->st.producer_pid);
			v->consumer_state = role_state(v, v->st.consumer_alive,
						       v->st.consumer_pid);
			nshm_ring_close(r);
		} else {
			v->ring_err = rc;
			set_err(v->ring_errmsg, sizeof(v->ring_errmsg), rc);
		}
	}
	nshm_seg_detach(seg, area);
	nshm_seg_close(seg);
	return 0;
}

const char *role_state_str(int alive, uint32_t state)
{
	static const char *const names[] = { "never", "alive", "closed",
					     "dead" };

	(void)alive;
	return state < 4 ? names[state] : "?";
}

const char *time_str(uint64_t ns)
{
	static char buf[64];
	time_t t = (time_t)(ns / 1000000000u);
	struct tm tm;

	if (ns == 0 || localtime_r(&t, &tm) == NULL)
		return "-";
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	return buf;
}

static const char *user_name(uid_t uid)
{
	static char buf[32];
	struct passwd *pw = getpwuid(uid);

	if (pw != NULL)
		return pw->pw_name;
	snprintf(buf, sizeof(buf), "%u", (unsigned)uid);
	return buf;
}

static void human_size(char *buf, size_t n, uint64_t v)
{
	static const char units[] = "BKMGTP";
	int u = 0;

	while (v >= 1024 && v % 1024 == 0 && u < 5) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, n, "%llu", (unsigned long long)v);
	else
		snprintf(buf, n, "%llu%c", (unsigned long long)v, units[u]);
}

/* ---- JSON --------------------------------------------------------------- */

static void role_json(FILE *f, const char *key, int alive, uint32_t state,
		      uint32_t pid, uint32_t attaches)
{
	fprintf(f, "\"%s\":{\"state\":\"%s\",\"pid\":%u,\"attaches\":%u}", key,
		role_state_str(alive, state), pid, attaches);
}

void segview_json(FILE *f, const struct segview *v)
{
	const struct nshm_seg_info *in = &v->info;

	fputs("{\"name\":", f);
	json_str(f, v->name);
	if (v->err != 0 && in->map_size == 0) {
		fputs(",\"error\":", f);
		json_str(f, v->errmsg);
		fputc('}', f);
		return;
	}
	fprintf(f, ",\"backend\":\"%s\",\"size\":%zu,\"map_size\":%zu,"
		"\"page_size\":%zu,\"huge\":%s,\"owner_uid\":%u,\"owner\":",
		backend_name(in->backend), in->size, in->map_size,
		in->page_size, in->huge ? "true" : "false",
		(unsigned)in->owner);
	json_str(f, user_name(in->owner));
	fprintf(f, ",\"mode\":\"%04o\",\"creator_pid\":%d,\"created_ns\":%llu,"
		"\"created\":\"%s\"",
		in->mode, (int)in->creator_pid,
		(unsigned long long)v->created_ns, time_str(v->created_ns));
	if (v->err != 0) {
		fputs(",\"error\":", f);
		json_str(f, v->errmsg);
	} else {
		fputs(",\"error\":null", f);
	}
	fprintf(f, ",\"participants\":{\"alive\":%d,\"dead\":%d,"
		"\"unknown\":%d,\"list\":[", v->alive, v->dead, v->unknown);
	for (int i = 0; i < v->npeers && i < (int)NSHM_PEER_MAX; i++) {
		const struct nshm_peer_info *p = &v->peers[i];

		fprintf(f, "%s{\"id\":%llu,\"slot\":%u,\"pid\":%d,\"alive\":%s}",
			i ? "," : "", (unsigned long long)p->id,
			(unsigned)(p->id & 0xffffffffu), p->pid,
			p->alive == 1 ? "true"
				      : p->alive == 0 ? "false" : "null");
	}
	fputs("]}", f);
	if (!v->is_ring) {
		fputs(",\"ring\":null}", f);
		return;
	}
	fputs(",\"ring\":{", f);
	if (v->ring_err != 0) {
		fputs("\"error\":", f);
		json_str(f, v->ring_errmsg);
		fputs("}}", f);
		return;
	}
	const struct nshm_ring_stats *s = &v->st;
	const struct nshm_ring_config *c = &v->cfg;

	fprintf(f, "\"error\":null,\"kind\":\"%s\",\"layout_version\":%u,"
		"\"type_name\":", ring_kind_str(s->kind), c->version);
	json_str(f, s->type_name);
	fprintf(f, ",\"type_version\":%u,\"type_fingerprint\":\"%016llx\","
		"\"elem_size\":%u,\"elem_align\":%u,\"capacity\":%u,"
		"\"slot_stride\":%u,\"slots_offset\":%llu,\"area_size\":%llu,",
		s->type_version, (unsigned long long)s->type_fp, s->elem_size,
		c->elem_align, s->capacity, c->slot_stride,
		(unsigned long long)c->slots_off,
		(unsigned long long)c->area_size);
	if (c->flags & NSHM_RING_CFG_ELEM_SEQ)
		fprintf(f, "\"seq_field\":%u,", c->seq_off);
	else
		fputs("\"seq_field\":null,", f);
	fprintf(f, "\"count\":%llu,\"fill\":%.4f,",
		(unsigned long long)s->count,
		s->capacity ? (double)s->count / s->capacity : 0.0);
	role_json(f, "producer", s->producer_alive, v->producer_state,
		  s->producer_pid, s->producer_attaches);
	fputc(',', f);
	role_json(f, "consumer", s->consumer_alive, v->consumer_state,
		  s->consumer_pid, s->consumer_attaches);
	fprintf(f, ",\"max_producers\":%u,\"max_consumers\":%u,"
		"\"producers\":%u,\"consumers\":%u,\"skipped\":%llu,"
		"\"claim_retries\":%llu,\"evictions\":%llu",
		s->max_producers, s->max_consumers, s->producers, s->consumers,
		(unsigned long long)s->skipped,
		(unsigned long long)s->claim_retries,
		(unsigned long long)s->evictions);
	fprintf(f, ",\"pushed\":%llu,\"popped\":%llu,\"full_waits\":%llu,"
		"\"empty_waits\":%llu,\"producer_parks\":%llu,"
		"\"consumer_parks\":%llu,\"producer_wakeups\":%llu,"
		"\"consumer_wakeups\":%llu,\"timeouts\":%llu,\"corrupt\":%llu}}",
		(unsigned long long)s->pushed, (unsigned long long)s->popped,
		(unsigned long long)s->full_waits,
		(unsigned long long)s->empty_waits,
		(unsigned long long)s->producer_parks,
		(unsigned long long)s->consumer_parks,
		(unsigned long long)s->producer_wakeups,
		(unsigned long long)s->consumer_wakeups,
		(unsigned long long)s->timeouts, (unsigned long long)s->corrupt);
}

/* ---- finding segments --------------------------------------------------- */

/* Does the file at @path start with an nshm header? 1, 0, or -errno. */
static int file_is_nshm(const char *path)
{
	struct nshm_seg_hdr h;
	struct stat st;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	ssize_t n;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return 0;
	}
	n = pread(fd, &h, offsetof(struct nshm_seg_hdr, hdr_size), 0);
	close(fd);
	return n == (ssize_t)offsetof(struct nshm_seg_hdr, hdr_size) &&
	       h.magic == NSHM_SEG_MAGIC;
}

/* Unreadable entries are reported only to this callback (ls -a). */
static seg_scan_fn scan_unreadable;

static int scan_dir(const char *dir, const char *prefix, bool posix,
		    seg_scan_fn fn, void *arg)
{
	char path[PATH_MAX], name[PATH_MAX + 8];
	DIR *d = opendir(dir);
	struct dirent *e;
	int found = 0;

	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		int rc;

		if (e->d_name[0] == '.')
			continue;
		if (e->d_type != DT_REG && e->d_type != DT_UNKNOWN)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		snprintf(name, sizeof(name), "%s%s", prefix,
			 posix ? e->d_name : path);
		if (nshm_name_check(name) != 0)
			continue;
		rc = file_is_nshm(path);
		if (rc == 1) {
			fn(name, arg);
			found++;
		} else if (rc < 0 && scan_unreadable != NULL) {
			scan_unreadable(name, arg);
		}
	}
	closedir(d);
	return found;
}

/*
 * Each nshm SysV segment: @fn(name, shmid, nattch). The name comes from the
 * header (the key is only a hash of it).
 */
static int scan_sysv(void (*fn)(const char *name, int shmid, int nattch,
				void *arg),
		     void *arg)
{
	char line[512], name[NSHM_SEG_NAME_BYTES + 1];
	FILE *f = fopen("/proc/sysvipc/shm", "re");
	int found = 0;

	if (f == NULL)
		return 0;
	if (fgets(line, sizeof(line), f) == NULL) {
		fclose(f);
		return 0;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		int key, id, nattch;
		unsigned perms, cpid, lpid;
		unsigned long long size;
		struct nshm_seg_hdr *h;

		if (sscanf(line, "%d %d %o %llu %u %u %d", &key, &id, &perms,
			   &size, &cpid, &lpid, &nattch) != 7 ||
		    size < NSHM_SEG_HDR_SIZE)
			continue;
		h = shmat(id, NULL, SHM_RDONLY);
		if (h == (void *)-1)
			continue;
		name[0] = '\0';
		if (h->magic == NSHM_SEG_MAGIC &&
		    memchr(h->name, '\0', sizeof(h->name)) != NULL)
			snprintf(name, sizeof(name), "%s", h->name);
		shmdt(h);
		if (strncmp(name, "sysv:", 5) == 0) {
			fn(name, id, nattch, arg);
			found++;
		}
	}
	fclose(f);
	return found;
}

struct sysv_fwd {
	seg_scan_fn fn;
	void *arg;
};

static void sysv_fwd(const char *name, int shmid, int nattch, void *arg)
{
	struct sysv_fwd *w = arg;

	(void)shmid;
	(void)nattch;
	w->fn(name, w->arg);
}

int seg_scan(const char *const *dirs, int ndirs, seg_scan_fn fn, void *arg)
{
	struct sysv_fwd w = { fn, arg };
	int n = scan_dir("/dev/shm", "", true, fn, arg);

	n += scan_sysv(sysv_fwd, &w);
	for (int i = 0; i < ndirs; i++)
		n += scan_dir(dirs[i], "file:", false, fn, arg);
	return n;
}

/* ---- who maps it ---------------------------------------------------------- */

struct nattch_find {
	const char *name;
	int nattch;
};

static void nattch_cb(const char *name, int shmid, int nattch, void *arg)
{
	struct nattch_find *q = arg;

	(void)shmid;
	if (strcmp(name, q->name) == 0)
		q->nattch = nattch;
}

/* Does process @pid map or hold open @path? 1, 0 (or cannot see: 0). */
static int pid_uses(const char *pid, const char *path)
{
	char p[PATH_MAX], line[PATH_MAX + 256], link[PATH_MAX];
	size_t plen = strlen(path);
	FILE *f;
	DIR *d;
	struct dirent *e;
	int hit = 0;

	snprintf(p, sizeof(p), "/proc/%s/maps", pid);
	f = fopen(p, "re");
	if (f != NULL) {
		while (!hit && fgets(line, sizeof(line), f) != NULL) {
			char *s = strchr(line, '/');
			size_t n;

			if (s == NULL)
				continue;
			n = strcspn(s, "\n");
			if (n >= plen && strncmp(s, path, plen) == 0 &&
			    (n == plen || strncmp(s + plen, " (deleted)", 10) == 0))
				hit = 1;
		}
		fclose(f);
	}
	if (hit)
		return 1;
	snprintf(p, sizeof(p), "/proc/%s/fd", pid);
	d = opendir(p);
	if (d == NULL)
		return 0;
	while (!hit && (e = readdir(d)) != NULL) {
		char fp[PATH_MAX + 300];
		ssize_t n;

		if (e->d_name[0] == '.')
			continue;
		snprintf(fp, sizeof(fp), "%s/%s", p, e->d_name);
		n = readlink(fp, link, sizeof(link) - 1);
		if (n < 0)
			continue;
		link[n] = '\0';
		if (strcmp(link, path) == 0)
			hit = 1;
	}
	closedir(d);
	return hit;
}

int seg_mapped_elsewhere(const struct segview *v)
{
	char path[PATH_MAX], me[32];
	DIR *d;
	struct dirent *e;
	int hit = 0;

	if (v->info.backend == NSHM_BACKEND_SYSV) {
		/* Our own probe has detached: nattch counts others only. */
		struct nattch_find q = { v->name, -1 };

		scan_sysv(nattch_cb, &q);
		return q.nattch != 0; /* -1 (gone): "maybe", keep it */
	}
	if (v->info.backend == NSHM_BACKEND_POSIX) {
		const char *n = v->name[0] == '/' ? v->name + 1 : v->name;

		if (strlen(n) > NSHM_NAME_MAX)
			return -ENAMETOOLONG;
		snprintf(path, sizeof(path), "/dev/shm/%.*s", NSHM_NAME_MAX, n);
	} else if (realpath(v->name + 5, path) == NULL) {
		return -errno;
	}
	snprintf(me, sizeof(me), "%d", (int)getpid());
	d = opendir("/proc");
	if (d == NULL)
		return -errno;
	while (!hit && (e = readdir(d)) != NULL) {
		if (e->d_name[0] < '0' || e->d_name[0] > '9' ||
		    strcmp(e->d_name, me) == 0)
			continue;
		hit = pid_uses(e->d_name, path);
	}
	closedir(d);
	return hit;
}

static char **patterns;
static int npatterns;
static bool wanted(const char *name);

/* ---- nshm ls -------------------------------------------------------------- */

struct ls_state {
	bool json, all;
	int n;
	struct segview v;
};

static void ls_print(const struct segview *v, bool all)
{
	const struct nshm_seg_info *in = &v->info;
	char size[32], elem[80], cap[32], fill[32], peers[32], mode[8];

	if (v->err != 0 && in->map_size == 0) {
		printf("%-24s %-5s %6s  %s\n", v->name, "?", "?", v->errmsg);
		return;
	}
	human_size(size, sizeof(size), in->size);
	snprintf(peers, sizeof(peers), "%d/%d%s", v->alive, v->dead,
		 v->unknown ? "?" : "");
	snprintf(mode, sizeof(mode), "%04o", in->mode);
	if (v->is_ring && v->ring_err == 0 && v->st.kind == NSHM_RING_RECORDS) {
		snprintf(elem, sizeof(elem), "records");
		snprintf(cap, sizeof(cap), "%uB", v->st.capacity);
		snprintf(fill, sizeof(fill), "%lluB(%.0f%%)",
			 (unsigned long long)v->st.count,
			 100.0 * (double)v->st.count / v->st.capacity);
	} else if (v->is_ring && v->ring_err == 0) {
		snprintf(elem, sizeof(elem), "%s/%u",
			 v->st.type_name[0] ? v->st.type_name : "bytes",
			 v->st.elem_size);
		snprintf(cap, sizeof(cap), "%u", v->st.capacity);
		snprintf(fill, sizeof(fill), "%llu(%.0f%%)",
			 (unsigned long long)v->st.count,
			 100.0 * (double)v->st.count / v->st.capacity);
	} else {
		snprintf(elem, sizeof(elem), "-");
		snprintf(cap, sizeof(cap), "-");
		snprintf(fill, sizeof(fill), "-");
	}
	printf("%-24s %-5s %6s %-6s %-18s %8s %-11s %5s %-8s %4s %7d %s%s%s\n",
	       v->name, backend_name(in->backend), size,
	       !v->is_ring ? "-" : v->ring_err ? "?" : ring_kind_str(v->st.kind),
	       elem, cap, fill, peers, user_name(in->owner), mode,
	       (int)in->creator_pid, time_str(v->created_ns),
	       v->err || v->ring_err ? "  " : "",
	       v->err ? v->errmsg : v->ring_err ? v->ring_errmsg : "");
	if (!all)
		return;
	for (int i = 0; i < v->npeers && i < (int)NSHM_PEER_MAX; i++)
		printf("    participant slot %u pid %d %s\n",
		       (unsigned)(v->peers[i].id & 0xffffffffu),
		       v->peers[i].pid,
		       v->peers[i].alive == 1	? "alive"
		       : v->peers[i].alive == 0 ? "dead"
						: "unknown");
}

static void ls_one(const char *name, void *arg)
{
	struct ls_state *s = arg;

	if (!wanted(name))
		return;
	seg_probe(name, &s->v);
	if (s->json) {
		fputs(s->n ? ",\n " : "\n ", stdout);
		segview_json(stdout, &s->v);
	} else {
		ls_print(&s->v, s->all);
	}
	s->n++;
}


static int parse_path_opts(int argc, char **argv, const char *cmd,
			   const char *extra_short,
			   const struct option *extra, bool *json, bool *flag,
			   const char **dirs, int *ndirs)
{
	struct option opts[8];
	char shortopts[16];
	int c, k = 0;

	opts[k++] = (struct option){ "json", no_argument, NULL, 'j' };
	opts[k++] = (struct option){ "path", required_argument, NULL, 'P' };
	if (extra != NULL)
		opts[k++] = *extra;
	opts[k] = (struct option){ NULL, 0, NULL, 0 };
	snprintf(shortopts, sizeof(shortopts), "%s", extra_short);
	*ndirs = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, shortopts, opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			*json = true;
			break;
		case 'P':
			if (*ndirs >= 16)
				return usage_error(cmd, "at most 16 --path");
			dirs[(*ndirs)++] = optarg;
			break;
		case '?':
			return usage_error(cmd, "bad option");
		default:
			*flag = true;
			break;
		}
	}
	/* The rest are glob patterns on names (shell-quoted: 'nshmt-*'). */
	patterns = argv + optind;
	npatterns = argc - optind;
	return 0;
}

/* Does @p name match one of the patterns (or are there none)? */
static bool wanted(const char *name)
{
	if (npatterns == 0)
		return true;
	for (int i = 0; i < npatterns; i++)
		if (fnmatch(patterns[i], name, 0) == 0)
			return true;
	return false;
}

int cmd_ls(int argc, char **argv)
{
	static const struct option all = { "all", no_argument, NULL, 'a' };
	static struct ls_state s; /* segviews are large: not on the stack */
	const char *dirs[16];
	int ndirs, rc;

	rc = parse_path_opts(argc, argv, "ls", "a", &all, &s.json, &s.all,
			     dirs, &ndirs);
	if (rc != 0)
		return rc;
	if (s.json)
		fputc('[', stdout);
	else
		printf("%-24s %-5s %6s %-6s %-18s %8s %-11s %5s %-8s %4s %7s %s\n",
		       "NAME", "BACK", "SIZE", "KIND", "TYPE/ELEM", "CAPACITY",
		       "FILL", "PEERS", "OWNER", "MODE", "CREATOR", "CREATED");
	scan_unreadable = s.all ? ls_one : NULL;
	seg_scan(dirs, ndirs, ls_one, &s);
	if (s.json)
		fputs(s.n ? "\n]\n" : "]\n", stdout);
	return EX_OK;
}

/* ---- nshm info ------------------------------------------------------------ */

static void info_print(const struct segview *v)
{
	const struct nshm_seg_info *in = &v->info;
	const struct nshm_ring_stats *s = &v->st;

	printf("name        %s\n", v->name);
	printf("backend     %s\n", backend_name(in->backend));
	printf("size        %zu bytes\n", in->size);
	printf("mapping     %zu bytes (%u-byte header + area, rounded)\n",
	       in->map_size, NSHM_SEG_HDR_SIZE);
	printf("page size   %zu%s\n", in->page_size,
	       in->huge ? " (huge pages)" : "");
	printf("owner       %s (uid %u)\n", user_name(in->owner),
	       (unsigned)in->owner);
	printf("mode        %04o\n", in->mode);
	printf("creator pid %d\n", (int)in->creator_pid);
	printf("created     %s\n", time_str(v->created_ns));
	if (v->err != 0)
		printf("error       %s\n", v->errmsg);
	if (v->npeers < 0)
		printf("participants  unreadable: %s\n",
		       nshm_strerror(v->npeers));
	else
		printf("participants  %d alive, %d dead%s\n", v->alive, v->dead,
		       v->unknown ? ", some unknown" : "");
	for (int i = 0; i < v->npeers && i < (int)NSHM_PEER_MAX; i++)
		printf("  slot %-3u pid %-8d %s\n",
		       (unsigned)(v->peers[i].id & 0xffffffffu),
		       v->peers[i].pid,
		       v->peers[i].alive == 1	? "alive"
		       : v->peers[i].alive == 0 ? "dead"
						: "unknown");
	if (!v->is_ring)
		return;
	if (v->ring_err != 0) {
		printf("ring        %s\n", v->ring_errmsg);
		return;
	}
	printf("ring        %s, layout version %u\n", ring_kind_str(s->kind),
	       v->cfg.version);
	printf("type        \"%s\" version %u, fingerprint %016llx\n",
	       s->type_name, s->type_version, (unsigned long long)s->type_fp);
	if (s->kind == NSHM_RING_RECORDS) {
		/* A byte ring: indices, counts and rates are in bytes. */
		printf("capacity    %u bytes of records (data at +%llu, ring "
		       "area %llu bytes)\n", s->capacity,
		       (unsigned long long)v->cfg.slots_off,
		       (unsigned long long)v->cfg.area_size);
		printf("fill        %llu of %u bytes (%.1f%%)\n",
		       (unsigned long long)s->count, s->capacity,
		       100.0 * (double)s->count / s->capacity);
	} else {
		printf("element     %u bytes, align %u, slot stride %u",
		       s->elem_size, v->cfg.elem_align, v->cfg.slot_stride);
		if (v->cfg.flags & NSHM_RING_CFG_ELEM_SEQ)
			printf(", seq field at offset %u", v->cfg.seq_off);
		printf("\ncapacity    %u slots (slots at +%llu, ring area %llu "
		       "bytes)\n", s->capacity,
		       (unsigned long long)v->cfg.slots_off,
		       (unsigned long long)v->cfg.area_size);
		printf("fill        %llu of %u (%.1f%%)\n",
		       (unsigned long long)s->count, s->capacity,
		       100.0 * (double)s->count / s->capacity);
	}
	if (s->kind == NSHM_RING_SPSC) { /* one holder per role */
		printf("producer    %s, last pid %u, %u attaches\n",
		       role_state_str(s->producer_alive, v->producer_state),
		       s->producer_pid, s->producer_attaches);
		printf("consumer    %s, last pid %u, %u attaches\n",
		       role_state_str(s->consumer_alive, v->consumer_state),
		       s->consumer_pid, s->consumer_attaches);
	}
	printf("roles       producers %u live of %u, consumers %u live of %u\n",
	       s->producers, s->max_producers, s->consumers, s->max_consumers);
	if (s->kind == NSHM_RING_MPMC)
		printf("recovery    %llu slots skipped for dead claimants, "
		       "%llu claim retries\n", (unsigned long long)s->skipped,
		       (unsigned long long)s->claim_retries);
	if (s->kind == NSHM_RING_BROADCAST)
		printf("evictions   %llu readers evicted (dead, or too slow)\n",
		       (unsigned long long)s->evictions);
	printf("pushed      %llu\npopped      %llu\n",
	       (unsigned long long)s->pushed, (unsigned long long)s->popped);
	printf("waits       full %llu, empty %llu\n",
	       (unsigned long long)s->full_waits,
	       (unsigned long long)s->empty_waits);
	printf("parks       producer %llu, consumer %llu\n",
	       (unsigned long long)s->producer_parks,
	       (unsigned long long)s->consumer_parks);
	printf("wake-ups    sent by producer %llu, by consumer %llu\n",
	       (unsigned long long)s->producer_wakeups,
	       (unsigned long long)s->consumer_wakeups);
	printf("timeouts    %llu\ncorrupt     %llu\n",
	       (unsigned long long)s->timeouts, (unsigned long long)s->corrupt);
}

int cmd_info(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	static struct segview v;
	bool json = false;
	int c, ret = 0, n;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'j')
			return usage_error("info", "bad option");
		json = true;
	}
	n = argc - optind;
	if (n < 1)
		return usage_error("info", "needs a NAME");
	if (json && n > 1)
		fputc('[', stdout);
	for (int i = optind; i < argc; i++) {
		int rc = seg_probe(argv[i], &v);

		if (rc < 0 && v.info.map_size == 0) {
			rc = fail("info", argv[i], rc);
			if (ret == 0)
				ret = rc;
			continue;
		}
		if (v.is_ring && v.ring_err != 0 && ret == 0)
			ret = exit_code(v.ring_err);
		if (json) {
			if (n > 1 && i > optind)
				fputc(',', stdout);
			segview_json(stdout, &v);
			fputc('\n', stdout);
		} else {
			if (i > optind)
				fputc('\n', stdout);
			info_print(&v);
		}
	}
	if (json && n > 1)
		fputs("]\n", stdout);
	return ret;
}

/* ---- nshm rm -------------------------------------------------------------- */

int cmd_rm(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "force", no_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	bool force = false;
	int c, ret = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "f", opts, NULL)) != -1) {
		if (c != 'f')
			return usage_error("rm", "bad option");
		force = true;
	}
	if (optind >= argc)
		return usage_error("rm", "needs a NAME");
	for (int i = optind; i < argc; i++) {
		int rc = nshm_seg_delete(argv[i]);

		if (rc == -ENOENT && force)
			continue;
		if (rc < 0) {
			rc = fail("rm", argv[i], rc);
			if (ret == 0)
				ret = rc;
		}
	}
	return ret;
}

/* ---- nshm gc -------------------------------------------------------------- */

struct gc_state {
	bool json, force;
	int found, removed, ret;
	struct segview v;
};

/* Garbage: a participant died, none lives, no process maps it. */
static bool gc_garbage(struct segview *v, const char **why)
{
	int m;

	if (v->err != 0 || v->npeers <= 0) {
		*why = v->err ? "unreadable" : "no participants (idle)";
		return false;
	}
	if (v->alive != 0 || v->unknown != 0) {
		*why = v->alive ? "live participant" : "liveness unknown";
		return false;
	}
	m = seg_mapped_elsewhere(v);
	if (m != 0) {
		*why = m > 0 ? "mapped by a live process" : "cannot tell";
		return false;
	}
	*why = "every participant dead";
	return true;
}

static void gc_one(const char *name, void *arg)
{
	struct gc_state *s = arg;
	const char *why;
	int rc = 0;

	if (!wanted(name))
		return;
	seg_probe(name, &s->v);
	if (!gc_garbage(&s->v, &why))
		return;
	if (s->force) {
		/* Look again right before removing: it may have come back. */
		seg_probe(name, &s->v);
		if (!gc_garbage(&s->v, &why))
			return;
		rc = nshm_seg_delete(name);
		if (rc < 0) {
			rc = fail("gc: rm", name, rc);
			if (s->ret == 0)
				s->ret = rc;
		} else {
			s->removed++;
		}
	}
	if (s->json) {
		fputs(s->found ? ",\n " : "\n ", stdout);
		fputs("{\"name\":", stdout);
		json_str(stdout, name);
		printf(",\"dead\":%d,\"removed\":%s,\"segment\":", s->v.dead,
		       s->force && rc == 0 ? "true" : "false");
		segview_json(stdout, &s->v);
		fputc('}', stdout);
	} else {
		printf("%s %s (%d dead participant%s%s%s)\n",
		       !s->force ? "would remove" : rc == 0 ? "removed" : "failed",
		       name, s->v.dead, s->v.dead == 1 ? "" : "s",
		       s->v.is_ring ? ", ring " : "",
		       s->v.is_ring && s->v.ring_err == 0
			       ? ring_kind_str(s->v.st.kind) : "");
	}
	s->found++;
}

int cmd_gc(int argc, char **argv)
{
	static const struct option force = { "force", no_argument, NULL, 'f' };
	static struct gc_state s;
	const char *dirs[16];
	int ndirs, rc;

	rc = parse_path_opts(argc, argv, "gc", "f", &force, &s.json, &s.force,
			     dirs, &ndirs);
	if (rc != 0)
		return rc;
	if (s.json)
		fputc('[', stdout);
	seg_scan(dirs, ndirs, gc_one, &s);
	if (s.json)
		fputs(s.found ? "\n]\n" : "]\n", stdout);
	else if (s.found == 0)
		printf("nothing to collect\n");
	else if (!s.force)
		printf("(dry run: nshm gc --force removes %s)\n",
		       s.found == 1 ? "it" : "them");
	return s.ret;
}
