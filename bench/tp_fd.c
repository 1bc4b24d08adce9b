/* SPDX-License-Identifier: MIT */
/*
 * What users would pick instead, as Debian ships it: a pipe and a Unix
 * domain socket (SOCK_SEQPACKET, so message boundaries are kept), both with
 * default buffer sizes and blocking I/O. Latency uses two pipes (one per
 * direction) or one socket pair (full duplex).
 */
#include "bench.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

struct fd_state {
	bool seqpacket;
	int a_w, a_r; /* producer/ping -> consumer/pong */
	int b_w, b_r; /* pong -> ping */
	int fds[4];
	int nfds;
};

static int write_full(int fd, const unsigned char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* A pipe is a byte stream; a SEQPACKET socket gives one message per read. */
static int read_msg(const struct fd_state *s, int fd, unsigned char *buf,
		    size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EPIPE;
		if (s->seqpacket && (size_t)n != len)
			return -EMSGSIZE;
		got += (size_t)n;
	}
	return 0;
}

static void fd_producer(struct fd_state *s, const struct bench_params *p,
			struct side_result *r)
{
	unsigned char *buf = malloc(p->size);
	int ret;

	if (buf == NULL) {
		side_fail(r, -ENOMEM, "out of memory");
		return;
	}
	msg_fill(buf, p->size);
	for (uint64_t seq = 0;; seq++) {
		bool last = send_is_last(p, seq);

		msg_stamp(buf, p->size, seq | (last ? MSG_LAST : 0));
		ret = write_full(s->a_w, buf, p->size);
		if (ret < 0) {
			side_fail(r, ret, "write: %s", strerror(-ret));
			break;
		}
		r->msgs++;
		if (last)
			break;
	}
	r->bytes = r->msgs * p->size;
	free(buf);
}

static void fd_consumer(struct fd_state *s, const struct bench_params *p,
			struct side_result *r)
{
	unsigned char *buf = malloc(p->size);
	uint64_t expect = 0;
	int ret;

	if (buf == NULL) {
		side_fail(r, -ENOMEM, "out of memory");
		return;
	}
	for (;;) {
		ret = read_msg(s, s->a_r, buf, p->size);
		if (ret < 0) {
			side_fail(r, ret, "read: %s", strerror(-ret));
			break;
		}
		if (consume_check(r, buf, p->size, &expect))
			break;
	}
	free(buf);
}

static void fd_ping(struct fd_state *s, const struct bench_params *p,
		    struct side_result *r, struct hdr_hist *h)
{
	unsigned char *out = malloc(p->size), *in = malloc(p->size);
	uint64_t t0, t1 = 0;
	int ret;

	if (out == NULL || in == NULL) {
		side_fail(r, -ENOMEM, "out of memory");
		goto out;
	}
	msg_fill(out, p->size);
	for (uint64_t i = 0;; i++) {
		bool timed;
		uint64_t seq = rtt_begin(p, r, i, t1, &timed);

		msg_stamp(out, p->size, seq);
		t0 = bench_now();
		ret = write_full(s->a_w, out, p->size);
		if (ret == 0)
			ret = read_msg(s, s->b_r, in, p->size);
		t1 = bench_now();
		if (ret < 0) {
			side_fail(r, ret, "ping: %s", strerror(-ret));
			break;
		}
		rtt_account(p, r, h, in, p->size, i, timed, t0, t1);
		if (seq & MSG_LAST)
			break;
	}
out:
	free(out);
	free(in);
}

static void fd_pong(struct fd_state *s, const struct bench_params *p,
		    struct side_result *r)
{
	unsigned char *buf = malloc(p->size);
	int ret;

	if (buf == NULL) {
		side_fail(r, -ENOMEM, "out of memory");
		return;
	}
	for (;;) {
		ret = read_msg(s, s->a_r, buf, p->size);
		if (ret == 0)
			ret = write_full(s->b_w, buf, p->size);
		if (ret < 0) {
			side_fail(r, ret, "pong: %s", strerror(-ret));
			break;
		}
		r->msgs++;
		if (msg_seq(buf) & MSG_LAST)
			break;
	}
	free(buf);
}

static void fd_run(void *st, const struct bench_params *p, int role,
		   struct side_result *r, struct hdr_hist *h)
{
	struct fd_state *s = st;

	if (p->kind == KIND_TPUT) {
		if (role == 0)
			fd_producer(s, p, r);
		else
			fd_consumer(s, p, r);
	} else {
		if (role == 0)
			fd_ping(s, p, r, h);
		else
			fd_pong(s, p, r);
	}
}

static void fd_teardown(void *st, const struct bench_params *p)
{
	struct fd_state *s = st;

	(void)p;
	for (int i = 0; i < s->nfds; i++)
		close(s->fds[i]);
	free(s);
}

static int pipe_setup(void **st, const struct bench_params *p, char *why,
		      size_t whylen)
{
	struct fd_state *s = calloc(1, sizeof(*s));
	int a[2], b[2];

	(void)p;
	(void)why;
	(void)whylen;
	if (s == NULL)
		return -ENOMEM;
	if (pipe(a) < 0)
		goto fail;
	s->fds[s->nfds++] = a[0];
	s->fds[s->nfds++] = a[1];
	if (pipe(b) < 0)
		goto fail;
	s->fds[s->nfds++] = b[0];
	s->fds[s->nfds++] = b[1];
	s->a_r = a[0];
	s->a_w = a[1];
	s->b_r = b[0];
	s->b_w = b[1];
	*st = s;
	return 0;
fail:;
	int ret = -errno;

	fd_teardown(s, p);
	return ret;
}

static int unix_setup(void **st, const struct bench_params *p, char *why,
		      size_t whylen)
{
	struct fd_state *s = calloc(1, sizeof(*s));
	int sv[2], ret, sndbuf = 0;
	socklen_t sl = sizeof(sndbuf);

	if (s == NULL)
		return -ENOMEM;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		ret = -errno;
		free(s);
		return ret;
	}
	s->seqpacket = true;
	s->fds[s->nfds++] = sv[0];
	s->fds[s->nfds++] = sv[1];
	s->a_w = sv[0];
	s->a_r = sv[1];
	s->b_w = sv[1];
	s->b_r = sv[0];
	/* A record must fit the send buffer whole. */
	if (getsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, &sl) == 0 &&
	    (size_t)sndbuf < p->size + 1024) {
		snprintf(why, whylen,
			 "a %zu-byte record does not fit SO_SNDBUF (%d)",
			 p->size, sndbuf);
		fd_teardown(s, p);
		return 1;
	}
	*st = s;
	return 0;
}

const struct transport tp_pipe = {
	.name = "pipe",
	.desc = "pipe(2), default 64 KiB buffer, blocking read/write",
	.modes = MODE_BLOCK,
	.max_producers = 1,
	.max_consumers = 1,
	.setup = pipe_setup,
	.run = fd_run,
	.teardown = fd_teardown,
};

const struct transport tp_unix = {
	.name = "unix",
	.desc = "Unix domain socketpair, SOCK_SEQPACKET, default buffers, "
		"blocking",
	.modes = MODE_BLOCK,
	.max_producers = 1,
	.max_consumers = 1,
	.setup = unix_setup,
	.run = fd_run,
	.teardown = fd_teardown,
};
