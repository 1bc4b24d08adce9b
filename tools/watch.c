/* SPDX-License-Identifier: MIT */
/*
 * nshm watch: rates and counters of live rings, from consecutive
 * nshm_ring_stats() snapshots taken as an observer (a read-only mapping, no
 * participant slot: watching never disturbs a ring). A full-screen view
 * where stdout is a terminal, plain or JSON lines otherwise.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "nshm.h"

/* Role-table rows shown per ring (producers, consumers, readers). */
#define WATCH_ROLES_MAX 32

struct watched {
	const char *name;
	struct nshm_ring *r;
	struct nshm_ring_stats prev, cur;
	int err;   /* stats / check failure of the last sample */
	double push_rate, pop_rate; /* elements per second, last interval */
	struct nshm_ring_role_info roles[WATCH_ROLES_MAX]; /* role table */
	int nroles; /* entries in use (may exceed WATCH_ROLES_MAX) */
};

static volatile sig_atomic_t stop;
static bool tui;	       /* full-screen mode is on */
static bool tty_raw;	       /* stdin's termios changed */
static struct termios saved_tio;

static const char enter_seq[] = "\033[?1049h\033[?25l"; /* alt screen, no cursor */
static const char leave_seq[] = "\033[?1049l\033[?25h"; /* and back */

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* Leave the terminal as we found it (also reached from atexit). */
static void tui_leave(void)
{
	if (tty_raw) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tio);
		tty_raw = false;
	}
	if (tui) {
		signal(SIGTSTP, SIG_DFL);
		fputs(leave_seq, stdout);
		fflush(stdout);
		tui = false;
	}
}

static struct termios raw_tio;

/*
 * Ctrl-Z: give the shell its terminal back, stop, and take the terminal
 * again once continued. Stopping happens inside the handler (SIGTSTP
 * unblocked, default action, raised), so the code after raise() runs on
 * SIGCONT; where the kernel discards the stop (an orphaned process group)
 * it runs at once and the view simply goes on. Only async-signal-safe
 * calls: tcsetattr, write, sigaction, sigprocmask, raise.
 */
static void on_tstp(int sig)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL }, me;
	sigset_t set;
	int e = errno;

	if (tty_raw)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved_tio);
	if (write(STDOUT_FILENO, leave_seq, sizeof(leave_seq) - 1) < 0) {
		/* nothing to do about it */
	}
	sigaction(SIGTSTP, &dfl, &me);
	sigemptyset(&set);
	sigaddset(&set, SIGTSTP);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	raise(sig); /* stops here until SIGCONT */
	sigprocmask(SIG_BLOCK, &set, NULL);
	sigaction(SIGTSTP, &me, NULL);
	if (tty_raw)
		tcsetattr(STDIN_FILENO, TCSANOW, &raw_tio);
	if (write(STDOUT_FILENO, enter_seq, sizeof(enter_seq) - 1) < 0) {
		/* the next draw still clears and redraws */
	}
	errno = e;
}

static void tui_enter(void)
{
	if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved_tio) == 0) {
		raw_tio = saved_tio;
		/* Keys without Enter, no echo; keep ISIG so Ctrl-C signals. */
		raw_tio.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
		raw_tio.c_cc[VMIN] = 0;
		raw_tio.c_cc[VTIME] = 0;
		if (tcsetattr(STDIN_FILENO, TCSANOW, &raw_tio) == 0)
			tty_raw = true;
	}
	atexit(tui_leave);
	fputs(enter_seq, stdout);
	tui = true;
	{
		struct sigaction sa = { .sa_handler = on_tstp };

		sigaction(SIGTSTP, &sa, NULL);
	}
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Sleep @p secs; in the TUI, return early on 'q'. Signals end it too. */
static void pause_for(double secs)
{
	double end = now_s() + secs;

	while (!stop) {
		double left = end - now_s();
		struct pollfd p = { .fd = STDIN_FILENO, .events = POLLIN };
		char ch;

		if (left <= 0)
			return;
		if (!tty_raw) {
			struct timespec d = {
				.tv_sec = (time_t)left,
				.tv_nsec = (long)((left - (time_t)left) * 1e9),
			};
			nanosleep(&d, NULL); /* EINTR: loop re-checks stop */
			continue;
		}
		if (poll(&p, 1, (int)(left * 1000) + 1) > 0 &&
		    read(STDIN_FILENO, &ch, 1) == 1 && (ch == 'q' || ch == 'Q'))
			stop = 1;
	}
}

static void sample(struct watched *w, double dt)
{
	w->prev = w->cur;
	w->err = nshm_ring_stats(w->r, &w->cur);
	if (w->err == 0)
		w->err = nshm_ring_check(w->r);
	w->nroles = nshm_ring_roles(w->r, w->roles, WATCH_ROLES_MAX);
	if (w->nroles < 0)
		w->nroles = 0;
	if (dt > 0) {
		w->push_rate = (double)(w->cur.pushed - w->prev.pushed) / dt;
		w->pop_rate = (double)(w->cur.popped - w->prev.popped) / dt;
	}
}

static const char *alive_str(int a)
{
	return a == 1 ? "alive" : a == 0 ? "gone" : "never";
}

/* 12.3M style, for rates. */
static const char *si(char *buf, size_t n, double v)
{
	static const char units[] = " kMGT";
	int u = 0;

	while (v >= 1000 && u < 4) {
		v /= 1000;
		u++;
	}
	if (u == 0)
		snprintf(buf, n, "%.0f", v);
	else
		snprintf(buf, n, "%.*f%c", v < 10 ? 2 : v < 100 ? 1 : 0, v,
			 units[u]);
	return buf;
}

/* Role-table counters, where the library has them: added to a ring. */
static void role_json(const struct nshm_ring_stats *s)
{
	printf(",\"producers\":%u,\"consumers\":%u,\"max_producers\":%u,"
	       "\"max_consumers\":%u,\"skipped\":%llu,\"claim_retries\":%llu,"
	       "\"evictions\":%llu",
	       s->producers, s->consumers, s->max_producers, s->max_consumers,
	       (unsigned long long)s->skipped,
	       (unsigned long long)s->claim_retries,
	       (unsigned long long)s->evictions);
}

static const char *role_alive_str(const struct nshm_ring_role_info *ri)
{
	if (ri->alive == 1)
		return "alive";
	if (ri->alive < 0)
		return "unknown";
	return ri->state == NSHM_ROLE_CLOSED ? "closed" : "dead";
}

static const char *role_str(const struct nshm_ring_role_info *ri)
{
	if (ri->reader)
		return "reader";
	return ri->role == NSHM_RING_PRODUCER ? "producer" : "consumer";
}

/* Each role-table entry: who holds it and what it is doing. */
static void roles_json(const struct watched *w)
{
	int k = w->nroles < WATCH_ROLES_MAX ? w->nroles : WATCH_ROLES_MAX;

	fputs(",\"roles\":[", stdout);
	for (int i = 0; i < k; i++) {
		const struct nshm_ring_role_info *ri = &w->roles[i];

		printf("%s{\"index\":%u,\"role\":\"%s\",\"alive\":\"%s\","
		       "\"pid\":%u,\"attaches\":%u,\"claimed\":%u,"
		       "\"position\":%llu,\"lag\":%llu,\"retries\":%llu,"
		       "\"recovered\":%llu}",
		       i ? "," : "", ri->index, role_str(ri),
		       role_alive_str(ri), ri->pid, ri->attaches,
		       ri->claimed,
		       (unsigned long long)ri->position,
		       (unsigned long long)ri->lag,
		       (unsigned long long)ri->retries,
		       (unsigned long long)ri->recovered);
	}
	fputs("]", stdout);
}

/* One line per role entry under its ring (many-holder kinds). */
static void roles_lines(const struct watched *w, const char *indent,
			int rows)
{
	int k = w->nroles < WATCH_ROLES_MAX ? w->nroles : WATCH_ROLES_MAX;

	if (w->cur.kind == NSHM_RING_SPSC)
		return; /* the ring's line says it all */
	for (int i = 0; i < k && i < rows; i++) {
		const struct nshm_ring_role_info *ri = &w->roles[i];

		printf("%s%-8s %3u pid %-7u %-5s", indent, role_str(ri),
		       ri->index, ri->pid, role_alive_str(ri));
		if (ri->reader)
			printf(" lag %llu", (unsigned long long)ri->lag);
		else
			printf(" claimed %u retries %llu recovered %llu",
			       ri->claimed, (unsigned long long)ri->retries,
			       (unsigned long long)ri->recovered);
		fputc('\n', stdout);
	}
}

static void print_json(struct watched *ws, int n, double t, double dt,
		       unsigned long seq)
{
	printf("{\"sample\":%lu,\"t\":%.6f,\"interval\":%.6f,\"rings\":[", seq,
	       t, dt);
	for (int i = 0; i < n; i++) {
		const struct watched *w = &ws[i];
		const struct nshm_ring_stats *s = &w->cur;

		if (i)
			fputc(',', stdout);
		fputs("{\"name\":", stdout);
		json_str(stdout, w->name);
		if (w->err != 0) {
			fputs(",\"error\":", stdout);
			json_str(stdout, nshm_strerror(w->err));
		} else {
			fputs(",\"error\":null", stdout);
		}
		role_json(s);
		roles_json(w);
		fprintf(stdout,
			",\"kind\":\"%s\",\"elem_size\":%u,\"capacity\":%u,"
			"\"count\":%llu,\"fill\":%.4f,\"pushed\":%llu,"
			"\"popped\":%llu,\"push_rate\":%.3f,\"pop_rate\":%.3f,"
			"\"push_bytes_rate\":%.3f,\"pop_bytes_rate\":%.3f,"
			"\"full_waits\":%llu,\"empty_waits\":%llu,"
			"\"producer_parks\":%llu,\"consumer_parks\":%llu,"
			"\"producer_wakeups\":%llu,\"consumer_wakeups\":%llu,"
			"\"timeouts\":%llu,\"corrupt\":%llu,"
			"\"producer\":\"%s\",\"producer_pid\":%u,"
			"\"consumer\":\"%s\",\"consumer_pid\":%u}",
			ring_kind_str(s->kind), s->elem_size, s->capacity,
			(unsigned long long)s->count,
			s->capacity ? (double)s->count / s->capacity : 0.0,
			(unsigned long long)s->pushed,
			(unsigned long long)s->popped, w->push_rate,
			w->pop_rate, w->push_rate * s->elem_size,
			w->pop_rate * s->elem_size,
			(unsigned long long)s->full_waits,
			(unsigned long long)s->empty_waits,
			(unsigned long long)s->producer_parks,
			(unsigned long long)s->consumer_parks,
			(unsigned long long)s->producer_wakeups,
			(unsigned long long)s->consumer_wakeups,
			(unsigned long long)s->timeouts,
			(unsigned long long)s->corrupt,
			alive_str(s->producer_alive), s->producer_pid,
			alive_str(s->consumer_alive), s->consumer_pid);
	}
	fputs("]}\n", stdout);
	fflush(stdout);
}



static void print_plain(struct watched *ws, int n, double t)
{
	char a[16], b[16], c[16];

	for (int i = 0; i < n; i++) {
		const struct watched *w = &ws[i];
		const struct nshm_ring_stats *s = &w->cur;

		printf("%.3f %s push/s %s pop/s %s bytes/s %s fill %llu/%u "
		       "waits %llu/%llu parks %llu/%llu wakeups %llu/%llu "
		       "timeouts %llu corrupt %llu producer %s consumer %s%s%s\n",
		       t, w->name, si(a, sizeof(a), w->push_rate),
		       si(b, sizeof(b), w->pop_rate),
		       si(c, sizeof(c), w->push_rate * s->elem_size),
		       (unsigned long long)s->count, s->capacity,
		       (unsigned long long)s->full_waits,
		       (unsigned long long)s->empty_waits,
		       (unsigned long long)s->producer_parks,
		       (unsigned long long)s->consumer_parks,
		       (unsigned long long)s->producer_wakeups,
		       (unsigned long long)s->consumer_wakeups,
		       (unsigned long long)s->timeouts,
		       (unsigned long long)s->corrupt,
		       alive_str(s->producer_alive),
		       alive_str(s->consumer_alive), w->err ? " error: " : "",
		       w->err ? nshm_strerror(w->err) : "");
		roles_lines(w, "  ", WATCH_ROLES_MAX);
	}
	fflush(stdout);
}

static void draw(struct watched *ws, int n, double interval, bool rates)
{
	struct winsize wsz = { .ws_row = 24, .ws_col = 80 };
	char a[16], b[16], c[16], d[16], tbuf[64];
	time_t now = time(NULL);
	struct tm tm;
	int rows;

	ioctl(STDOUT_FILENO, TIOCGWINSZ, &wsz);
	rows = wsz.ws_row > 4 ? wsz.ws_row - 4 : 1;
	localtime_r(&now, &tm);
	strftime(tbuf, sizeof(tbuf), "%H:%M:%S", &tm);
	/* home, clear; a header line like top's */
	printf("\033[H\033[2Jnshm watch  %s  every %gs  %d ring%s   "
	       "q or Ctrl-C quits\n\n", tbuf, interval, n, n == 1 ? "" : "s");
	printf("\033[7m%-20s %-5s %8s %8s %9s %13s %7s %7s %7s %6s %-11s\033[0m\n",
	       "RING", "KIND", "PUSH/s", "POP/s", "BYTES/s", "FILL",
	       "WAITS", "PARKS", "WAKEUPS", "CORRUPT", "PROD/CONS");
	for (int i = 0; i < n && i < rows; i++) {
		const struct watched *w = &ws[i];
		const struct nshm_ring_stats *s = &w->cur;
		char fill[32], roles[16];

		snprintf(fill, sizeof(fill), "%llu/%u %3.0f%%",
			 (unsigned long long)s->count, s->capacity,
			 s->capacity ? 100.0 * (double)s->count / s->capacity
				     : 0.0);
		snprintf(roles, sizeof(roles), "%s/%s",
			 alive_str(s->producer_alive),
			 alive_str(s->consumer_alive));
		if (s->kind != NSHM_RING_SPSC) /* many holders: live counts */
			snprintf(roles, sizeof(roles), "%up/%uc", s->producers,
				 s->consumers);
		printf("%-20.20s %-5s %8s %8s %9s %13s %7llu %7llu %7llu %6llu "
		       "%-11s%s%s\n",
		       w->name, ring_kind_str(s->kind),
		       rates ? si(a, sizeof(a), w->push_rate) : "-",
		       rates ? si(b, sizeof(b), w->pop_rate) : "-",
		       rates ? si(c, sizeof(c), w->push_rate * s->elem_size) : "-",
		       fill,
		       (unsigned long long)(s->full_waits + s->empty_waits),
		       (unsigned long long)(s->producer_parks +
					    s->consumer_parks),
		       (unsigned long long)(s->producer_wakeups +
					    s->consumer_wakeups),
		       (unsigned long long)s->corrupt, roles,
		       w->err ? "  " : "",
		       w->err ? nshm_strerror(w->err) : "");
		(void)d;
		roles_lines(w, "    ", rows - i - 1);
	}
	fflush(stdout);
}

/* No NAME: watch every ring seg_scan() finds. */
struct all_rings {
	char **names;
	int n;
};

static void collect_ring(const char *name, void *arg)
{
	static struct segview v;
	struct all_rings *a = arg;
	char **nn;

	if (seg_probe(name, &v) != 0 || !v.is_ring || v.ring_err != 0)
		return;
	nn = realloc(a->names, sizeof(*nn) * (size_t)(a->n + 1));
	if (nn == NULL)
		return;
	a->names = nn;
	a->names[a->n] = strdup(name);
	if (a->names[a->n] != NULL)
		a->n++;
}

int cmd_watch(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "count", required_argument, NULL, 'n' },
		{ "interval", required_argument, NULL, 'i' },
		{ "json", no_argument, NULL, 'j' },
		{ "plain", no_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	struct all_rings all = { NULL, 0 };
	struct watched *ws;
	bool json = false, plain = false;
	double interval = 1, t0, last;
	unsigned long count = 0, seq = 0;
	char **names;
	char *end;
	int c, n, ret = EX_OK;
	struct sigaction sa;

	optind = 1;
	while ((c = getopt_long(argc, argv, "n:i:", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			errno = 0;
			count = strtoul(optarg, &end, 10);
			if (errno || *end || end == optarg || optarg[0] == '-' ||
			    count == 0)
				return usage_error("watch", "bad count %s",
						   optarg);
			break;
		case 'i':
			if (parse_seconds(optarg, &interval) != 0 ||
			    interval < 0.01)
				return usage_error("watch", "bad interval %s "
						   "(at least 0.01 s)", optarg);
			break;
		case 'j': json = true; break;
		case 'p': plain = true; break;
		default:
			return usage_error("watch", "bad option");
		}
	}
	n = argc - optind;
	names = argv + optind;
	if (n == 0) {
		seg_scan(NULL, 0, collect_ring, &all);
		if (all.n == 0) {
			fprintf(stderr, "nshm watch: no rings found\n");
			return EX_NOENT;
		}
		n = all.n;
		names = all.names;
	}
	ws = calloc((size_t)n, sizeof(*ws));
	if (ws == NULL)
		return fail("watch", NULL, -ENOMEM);
	for (int i = 0; i < n; i++) {
		int rc = nshm_ring_attach(names[i], NSHM_RING_KIND_ANY, NULL,
					  NSHM_RING_OBSERVER,
					  NSHM_ALLOW_OTHER_OWNER, &ws[i].r);

		ws[i].name = names[i];
		if (rc < 0) {
			ret = fail("watch", names[i], rc);
			goto out;
		}
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal; /* no SA_RESTART: sleeps end at once */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (!json && !plain && isatty(STDOUT_FILENO))
		tui_enter();

	t0 = last = now_s();
	for (int i = 0; i < n; i++)
		sample(&ws[i], 0);
	if (tui)
		draw(ws, n, interval, false);
	while (!stop && (count == 0 || seq < count)) {
		double t, dt;

		pause_for(interval);
		if (stop)
			break;
		t = now_s();
		dt = t - last;
		last = t;
		for (int i = 0; i < n; i++)
			sample(&ws[i], dt);
		seq++;
		if (tui)
			draw(ws, n, interval, true);
		else if (json)
			print_json(ws, n, t - t0, dt, seq);
		else
			print_plain(ws, n, t - t0);
		if (ferror(stdout))
			break; /* reader went away (| head) */
	}
	tui_leave();
out:
	for (int i = 0; i < n; i++)
		nshm_ring_close(ws[i].r);
	free(ws);
	for (int i = 0; i < all.n; i++)
		free(all.names[i]);
	free(all.names);
	return ret;
}
