// SPDX-License-Identifier: MIT
/*
 * nshm-spsc-cxx: the nshm SPSC ring through the C++ API (<nshm/nshm.hpp>),
 * the same case as nshm-spsc (tp_nshm_ring.c) so that one run compares
 * them: nshm::spsc<bench_msg<N>> with N the message size as a type (the
 * sizes BENCH_SIZE_DISPATCH makes constants for C: 8, 64, 256, 1024, 4096,
 * 65536; other sizes are skipped), created by the driver (observer,
 * NSHM_PREFAULT) under the same type record as nshm-spsc, attached by each
 * child. push()/pop() copy the whole message, as nr_put/nr_get do;
 *   spin:  retry push()/pop() until it succeeds (busy poll).
 *   block: push_wait()/pop_wait(), the ring's default wait strategy.
 * The zero-overhead claim of nshm.hpp is that this matches nshm-spsc.
 */
#include <nshm/nshm.hpp>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <unistd.h>

// Everything bench.h includes, first, at C++ linkage: bench.h itself is C
// (its functions and bench_clk are defined in C files), and its control
// block's _Atomic(T) needs C++23's <stdatomic.h>.
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif
extern "C" {
#include "bench.h"
}

namespace {

template <std::size_t N> struct alignas(8) bench_msg {
	unsigned char b[N];
};

} // namespace

// The record nshm-spsc's rings carry: the two transports' rings are alike.
template <std::size_t N> struct nshm::element_traits<bench_msg<N>> {
	static const char *name() noexcept { return "nshm-bench message"; }
	static constexpr uint32_t version = 1;
	static constexpr uint32_t seq_offset = nshm::no_seq_field;
};

namespace {

struct cx_state {
	int nrings = 0;
	char name[2][80] = {};
	nshm::ring owner[2]; // the driver's (observer)
	void *typed = nullptr; // a child's cx_handles<N>
};

template <std::size_t N> struct cx_handles {
	nshm::spsc<bench_msg<N>> q[2];
};

bool cx_size_ok(std::size_t size)
{
	switch (size) {
	case 8: case 64: case 256: case 1024: case 4096: case 65536:
		return true;
	default:
		return false;
	}
}

// Call fn<N>(args...) for the message size as a type.
#define CX_DISPATCH(size, fn, ...)                                          \
	do {                                                                \
		switch (size) {                                             \
		case 8: fn<8>(__VA_ARGS__); break;                          \
		case 64: fn<64>(__VA_ARGS__); break;                        \
		case 256: fn<256>(__VA_ARGS__); break;                      \
		case 1024: fn<1024>(__VA_ARGS__); break;                    \
		case 4096: fn<4096>(__VA_ARGS__); break;                    \
		case 65536: fn<65536>(__VA_ARGS__); break;                  \
		default: break;                                             \
		}                                                           \
	} while (0)

void cx_teardown(void *st, const struct bench_params *p)
{
	cx_state *s = static_cast<cx_state *>(st);

	(void)p;
	for (int i = 0; i < s->nrings; i++) {
		s->owner[i].close();
		nshm::ring::remove(s->name[i]);
	}
	delete s;
}

template <std::size_t N>
void cx_create(cx_state *s, const struct bench_params *p, int i,
	       std::error_code &ec)
{
	s->owner[i] = nshm::ring::create(
		s->name[i], nshm::kind::spsc,
		nshm::spsc<bench_msg<N>>::type(), p->capacity,
		nshm::role::observer, NSHM_PREFAULT, 0600, ec);
}

int cx_setup(void **st, const struct bench_params *p, char *why,
	     size_t whylen)
{
	if (!cx_size_ok(p->size)) {
		snprintf(why, whylen, "typed C++ ring: sizes 8, 64, 256, 1024, "
			 "4096, 65536 only");
		return 1;
	}
	cx_state *s = new (std::nothrow) cx_state;
	if (s == nullptr)
		return -ENOMEM;
	for (int i = 0; i < (p->kind == KIND_RTT ? 2 : 1); i++) {
		std::error_code ec;

		snprintf(s->name[i], sizeof(s->name[i]), "nshm-bench-%d-%d-x%c",
			 (int)getpid(), p->instance, 'a' + i);
		nshm::ring::remove(s->name[i]); // left over from a crash
		CX_DISPATCH(p->size, cx_create, s, p, i, ec);
		if (ec) {
			snprintf(why, whylen, "nshm::ring::create(%s): %s: %s",
				 s->name[i], ec.message().c_str(),
				 nshm_errdetail());
			cx_teardown(s, p);
			return 1;
		}
		s->nrings++;
	}
	*st = s;
	return 0;
}

template <std::size_t N>
void cx_attach(cx_state *s, const struct bench_params *p, int role,
	       std::error_code &ec)
{
	using q_t = nshm::spsc<bench_msg<N>>;
	cx_handles<N> *h = new (std::nothrow) cx_handles<N>;

	if (h == nullptr) {
		ec = std::make_error_code(std::errc::not_enough_memory);
		return;
	}
	s->typed = h;
	nshm::role r0 = role == 0 ? nshm::role::producer : nshm::role::consumer;
	h->q[0] = q_t::attach(s->name[0], r0, NSHM_PREFAULT, ec);
	if (!ec && p->kind == KIND_RTT)
		h->q[1] = q_t::attach(s->name[1],
				      role == 0 ? nshm::role::consumer
						: nshm::role::producer,
				      NSHM_PREFAULT, ec);
}

int cx_child_init(void *st, const struct bench_params *p, int role)
{
	std::error_code ec;

	CX_DISPATCH(p->size, cx_attach, static_cast<cx_state *>(st), p, role,
		    ec);
	return ec ? -ec.value() : 0;
}

template <std::size_t N> void cx_detach(cx_state *s)
{
	delete static_cast<cx_handles<N> *>(s->typed); // closes the rings
	s->typed = nullptr;
}

void cx_child_fini(void *st, const struct bench_params *p, int role)
{
	(void)role;
	CX_DISPATCH(p->size, cx_detach, static_cast<cx_state *>(st));
}

template <class Q, class M>
BENCH_ALWAYS_INLINE std::error_code cx_put(Q &q, enum bench_mode mode,
					   const M &m)
{
	if (mode == MODE_BLOCK)
		return q.push_wait(m);
	while (!q.push(m))
		if (nshm_unlikely(bool(q.error())))
			return q.error();
	return std::error_code();
}

template <class Q, class M>
BENCH_ALWAYS_INLINE std::error_code cx_get(Q &q, enum bench_mode mode, M &m)
{
	if (mode == MODE_BLOCK)
		return q.pop_wait(m);
	while (!q.pop(m))
		if (nshm_unlikely(bool(q.error())))
			return q.error();
	return std::error_code();
}

template <std::size_t N>
void cx_run_n(cx_state *s, const struct bench_params *p, int role,
	      struct side_result *r, struct hdr_hist *h)
{
	using M = bench_msg<N>;
	cx_handles<N> *hs = static_cast<cx_handles<N> *>(s->typed);
	M *out = new (std::nothrow) M, *in = new (std::nothrow) M;
	uint64_t expect = 0, t0, t1 = 0;
	std::error_code ec;

	if (out == nullptr || in == nullptr) {
		side_fail(r, -ENOMEM, "out of memory");
		goto done;
	}
	msg_fill(out->b, N);
	if (p->kind == KIND_TPUT && role == 0) {
		for (uint64_t seq = 0;; seq++) {
			bool last = send_is_last(p, seq);

			msg_stamp(out->b, N, seq | (last ? MSG_LAST : 0));
			if ((ec = cx_put(hs->q[0], p->mode, *out)))
				break;
			r->msgs++;
			if (last)
				break;
		}
		r->bytes = r->msgs * N;
	} else if (p->kind == KIND_TPUT) {
		for (;;) {
			if ((ec = cx_get(hs->q[0], p->mode, *in)) ||
			    consume_check(r, in->b, N, &expect))
				break;
		}
	} else if (role == 0) {
		for (uint64_t i = 0;; i++) {
			bool timed;
			uint64_t seq = rtt_begin(p, r, i, t1, &timed);

			msg_stamp(out->b, N, seq);
			t0 = bench_now();
			ec = cx_put(hs->q[0], p->mode, *out);
			if (!ec)
				ec = cx_get(hs->q[1], p->mode, *in);
			t1 = bench_now();
			if (ec)
				break;
			rtt_account(p, r, h, in->b, N, i, timed, t0, t1);
			if (seq & MSG_LAST)
				break;
		}
	} else {
		for (;;) {
			ec = cx_get(hs->q[0], p->mode, *in);
			if (!ec)
				ec = cx_put(hs->q[1], p->mode, *in);
			if (ec)
				break;
			r->msgs++;
			if (msg_seq(in->b) & MSG_LAST)
				break;
		}
	}
	if (ec)
		side_fail(r, -ec.value(), "nshm::spsc: %s", ec.message().c_str());
done:
	delete out;
	delete in;
}

void cx_run(void *st, const struct bench_params *p, int role,
	    struct side_result *r, struct hdr_hist *h)
{
	CX_DISPATCH(p->size, cx_run_n, static_cast<cx_state *>(st), p, role, r,
		    h);
}

} // namespace

extern "C" const struct transport tp_nshm_spsc_cxx = {
	.name = "nshm-spsc-cxx",
	.desc = "nshm-spsc through the C++ API (nshm::spsc<T>, nshm.hpp); "
		"typed sizes only",
	.modes = MODE_SPIN | MODE_BLOCK,
	.nshm = true,
	.baseline = false,
	.ring_floor = false,
	.is_floor = false,
	.max_producers = 1,
	.max_consumers = 1,
	.setup = cx_setup,
	.child_init = cx_child_init,
	.run = cx_run,
	.child_fini = cx_child_fini,
	.teardown = cx_teardown,
};
