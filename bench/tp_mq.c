/* SPDX-License-Identifier: MIT */
/*
 * POSIX message queues, blocking mq_send/mq_receive, one queue per
 * direction.
 *
 * Limits (mq_overview(7)): without CAP_SYS_RESOURCE a queue holds at most
 * fs.mqueue.msg_max messages (10 by default) of at most fs.mqueue.msgsize_max
 * bytes (8192 by default), and all queues of a user at most RLIMIT_MSGQUEUE
 * bytes. The depth asked for (--mq-depth, default 10: what a user gets) is
 * lowered to what is allowed, with a note. A message larger than
 * msgsize_max needs the sysctl raised: as root we raise it for the run and
 * put the old value back at exit; otherwise the case is skipped.
 */
#include "bench.h"
#include "bench_report.h"

#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#define MSGSIZE_MAX_PATH "/proc/sys/fs/mqueue/msgsize_max"
#define MSG_MAX_PATH "/proc/sys/fs/mqueue/msg_max"

static long saved_msgsize_max = -1; /* value to restore, -1: untouched */

static long read_long(const char *path)
{
	FILE *f = fopen(path, "r");
	long v = -1;

	if (f == NULL)
		return -1;
	if (fscanf(f, "%ld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

static int write_long(const char *path, long v)
{
	FILE *f = fopen(path, "w");
	int ret = 0;

	if (f == NULL)
		return -errno;
	if (fprintf(f, "%ld\n", v) < 0)
		ret = -EIO;
	if (fclose(f) != 0 && ret == 0)
		ret = -errno;
	return ret;
}

void mq_restore_limits(void)
{
	if (saved_msgsize_max > 0) {
		write_long(MSGSIZE_MAX_PATH, saved_msgsize_max);
		saved_msgsize_max = -1;
	}
}

struct mq_state {
	mqd_t a, b; /* producer/ping -> consumer/pong, and back */
	size_t size;
};

static int mq_make(const struct bench_params *p, const char *suffix,
		   long depth, mqd_t *out)
{
	char name[96];
	struct mq_attr attr = { .mq_maxmsg = depth,
				.mq_msgsize = (long)p->size };
	mqd_t q;

	snprintf(name, sizeof(name), "/nshm-bench-%d-%d-%s", (int)getpid(),
		 p->instance, suffix);
	q = mq_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600, &attr);
	if (q == (mqd_t)-1)
		return -errno;
	mq_unlink(name); /* the children inherit the descriptor */
	*out = q;
	return 0;
}

static int mq_setup(void **st, const struct bench_params *p, char *why,
		    size_t whylen)
{
	struct mq_state *s = calloc(1, sizeof(*s));
	long msg_max = read_long(MSG_MAX_PATH);
	long size_max = read_long(MSGSIZE_MAX_PATH);
	long depth = p->mq_depth ? p->mq_depth : 10;
	int ret;

	if (s == NULL)
		return -ENOMEM;
	s->a = s->b = (mqd_t)-1;
	s->size = p->size;
	if (size_max > 0 && (long)p->size > size_max) {
		if (geteuid() == 0 && write_long(MSGSIZE_MAX_PATH,
						 (long)p->size) == 0) {
			if (saved_msgsize_max < 0)
				saved_msgsize_max = size_max;
			bench_note("mq: raised fs.mqueue.msgsize_max from %ld to "
				   "%zu for the run (restored at exit)",
				   saved_msgsize_max, p->size);
		} else {
			snprintf(why, whylen,
				 "%zu-byte messages exceed fs.mqueue."
				 "msgsize_max (%ld); run as root to raise it",
				 p->size, size_max);
			free(s);
			return 1;
		}
	}
	for (;;) {
		ret = mq_make(p, "a", depth, &s->a);
		if (ret == 0 && p->kind == KIND_RTT) {
			ret = mq_make(p, "b", depth, &s->b);
			if (ret < 0) {
				mq_close(s->a);
				s->a = (mqd_t)-1;
			}
		}
		if (ret == 0)
			break;
		if (ret == -EINVAL && msg_max > 0 && depth > msg_max) {
			bench_note("mq: depth %ld exceeds fs.mqueue.msg_max "
				   "(%ld) without CAP_SYS_RESOURCE; using %ld",
				   depth, msg_max, msg_max);
			depth = msg_max;
			continue;
		}
		if (ret == -EMFILE && depth > 1) {
			/* RLIMIT_MSGQUEUE: all queues' bytes of this user. */
			struct rlimit rl;

			if (getrlimit(RLIMIT_MSGQUEUE, &rl) == 0 &&
			    rl.rlim_cur < rl.rlim_max) {
				rl.rlim_cur = rl.rlim_max;
				if (setrlimit(RLIMIT_MSGQUEUE, &rl) == 0)
					continue;
			}
			bench_note("mq: RLIMIT_MSGQUEUE too small for depth "
				   "%ld at %zu B; halving the depth",
				   depth, p->size);
			depth /= 2;
			continue;
		}
		snprintf(why, whylen, "mq_open: %s", strerror(-ret));
		free(s);
		return 1;
	}
	bench_note("mq: queue depth %ld (ask --mq-depth N for more; "
		   "fs.mqueue.msg_max is %ld)", depth, msg_max);
	*st = s;
	return 0;
}

static int mq_send_msg(mqd_t q, const unsigned char *buf, size_t len)
{
	while (mq_send(q, (const char *)buf, len, 0) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	return 0;
}

static int mq_recv_msg(mqd_t q, unsigned char *buf, size_t len)
{
	ssize_t n;

	while ((n = mq_receive(q, (char *)buf, len, NULL)) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	return (size_t)n == len ? 0 : -EMSGSIZE;
}

static void mq_run(void *st, const struct bench_params *p, int role,
		   struct side_result *r, struct hdr_hist *h)
{
	struct mq_state *s = st;
	unsigned char *out = malloc(p->size), *in = malloc(p->size);
	uint64_t expect = 0, t0, t1 = 0;
	int ret = 0;

	if (out == NULL || in == NULL) {
		side_fail(r, -ENOMEM, "out of memory");
		goto out;
	}
	msg_fill(out, p->size);
	if (p->kind == KIND_TPUT && role == 0) {
		for (uint64_t seq = 0;; seq++) {
			bool last = send_is_last(p, seq);

			msg_stamp(out, p->size, seq | (last ? MSG_LAST : 0));
			ret = mq_send_msg(s->a, out, p->size);
			if (ret < 0)
				break;
			r->msgs++;
			if (last)
				break;
		}
		r->bytes = r->msgs * p->size;
	} else if (p->kind == KIND_TPUT) {
		for (;;) {
			ret = mq_recv_msg(s->a, in, p->size);
			if (ret < 0 || consume_check(r, in, p->size, &expect))
				break;
		}
	} else if (role == 0) {
		for (uint64_t i = 0;; i++) {
			bool timed;
			uint64_t seq = rtt_begin(p, r, i, t1, &timed);

			msg_stamp(out, p->size, seq);
			t0 = bench_now();
			ret = mq_send_msg(s->a, out, p->size);
			if (ret == 0)
				ret = mq_recv_msg(s->b, in, p->size);
			t1 = bench_now();
			if (ret < 0)
				break;
			rtt_account(p, r, h, in, p->size, i, timed, t0, t1);
			if (seq & MSG_LAST)
				break;
		}
	} else {
		for (;;) {
			ret = mq_recv_msg(s->a, in, p->size);
			if (ret == 0)
				ret = mq_send_msg(s->b, in, p->size);
			if (ret < 0)
				break;
			r->msgs++;
			if (msg_seq(in) & MSG_LAST)
				break;
		}
	}
	if (ret < 0)
		side_fail(r, ret, "mq: %s", strerror(-ret));
out:
	free(out);
	free(in);
}

static void mq_teardown(void *st, const struct bench_params *p)
{
	struct mq_state *s = st;

	(void)p;
	if (s->a != (mqd_t)-1)
		mq_close(s->a);
	if (s->b != (mqd_t)-1)
		mq_close(s->b);
	free(s);
}

const struct transport tp_mq = {
	.name = "mq",
	.desc = "POSIX message queue, blocking mq_send/mq_receive",
	.modes = MODE_BLOCK,
	.max_producers = 1,
	.max_consumers = 1,
	.setup = mq_setup,
	.run = mq_run,
	.teardown = mq_teardown,
};
