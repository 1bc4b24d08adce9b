// SPDX-License-Identifier: MIT
/*
 * The C++ API (<nshm/nshm.hpp>): RAII close, move, no copy, typed mismatch
 * at attach as std::error_code, every error path, the data path against
 * the C one. Plain checks (exit 1 on the first failure), so that the
 * header test can also build it with every compiler, standard and -O
 * level (tests/headers), with exceptions and without.
 */
#include <nshm/nshm.hpp>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>
#include <unistd.h>

#define CHECK(c)                                                              \
	do {                                                                  \
		if (!(c)) {                                                   \
			std::fprintf(stderr, "%s:%d: check failed: %s (%s)\n", \
				     __FILE__, __LINE__, #c,                  \
				     nshm_errdetail());                       \
			std::exit(1);                                         \
		}                                                             \
	} while (0)

namespace app {
struct tick {
	uint64_t seq;
	uint32_t instrument, qty;
	double bid, ask;
};
struct other {
	uint64_t x[3];
};
struct seqd {
	uint64_t id;
	uint64_t ring_seq; // the ring's
	uint64_t payload[6];
};
} // namespace app

NSHM_ELEMENT(app::other, "struct other", 2);
NSHM_ELEMENT_SEQ(app::seqd, "struct seqd", 1, ring_seq);

namespace {

// Every name a test uses, deleted at exit even when a check fails.
std::vector<std::string> names;

void remove_all()
{
	for (const std::string &n : names) {
		nshm_seg_delete(n.c_str());
		nshm_seg_delete((n + "-seg").c_str());
	}
}

std::string name_of(const char *tag)
{
	std::string n = "nshmt-cxx-" + std::to_string(getpid()) + "-" + tag;

	if (names.empty())
		std::atexit(remove_all);
	names.push_back(n);
	return n;
}

using tick_q = nshm::spsc<app::tick>;

// Compile-time properties of the handles.
static_assert(!std::is_copy_constructible<tick_q>::value &&
		      !std::is_copy_assignable<tick_q>::value,
	      "typed rings do not copy");
static_assert(std::is_nothrow_move_constructible<tick_q>::value &&
		      std::is_nothrow_move_assignable<tick_q>::value,
	      "typed rings move");
static_assert(!std::is_copy_constructible<nshm::ring>::value &&
		      std::is_nothrow_move_constructible<nshm::ring>::value,
	      "rings move, do not copy");
static_assert(!std::is_copy_constructible<nshm::segment>::value &&
		      !std::is_copy_constructible<nshm::mapping>::value &&
		      std::is_nothrow_move_assignable<nshm::segment>::value &&
		      std::is_nothrow_move_assignable<nshm::mapping>::value,
	      "segments and mappings move, do not copy");
static_assert(std::is_error_code_enum<nshm::errc>::value, "errc");
static_assert(sizeof(tick_q) == sizeof(void *), "a typed ring is a pointer");

int producer_alive(const char *name)
{
	std::error_code ec;
	nshm::ring obs = nshm::ring::attach(name, nshm::kind::any, nullptr,
					    nshm::role::observer, 0, ec);
	struct nshm_ring_stats st;

	CHECK(!ec && obs);
	CHECK(!obs.stats(st));
	return st.producer_alive;
}

void t_errors()
{
	std::error_code ec = nshm::error_from(-NSHM_ETYPE);

	CHECK(ec == nshm::errc::type && ec.category() == nshm::category());
	CHECK(std::string(ec.category().name()) == "nshm");
	CHECK(ec.message() == nshm_strerror(-NSHM_ETYPE));
	ec = nshm::error_from(-ETIMEDOUT);
	CHECK(ec == std::errc::timed_out && ec.value() == ETIMEDOUT);
	CHECK(ec.message() == nshm_strerror(-ETIMEDOUT));
	CHECK(!nshm::error_from(0) && !nshm::error_from(5));
	CHECK(nshm::make_error_code(nshm::errc::peer_dead).value() ==
	      NSHM_EPEERDEAD);
	CHECK(nshm::error_from(-NSHM_EKIND) != std::errc::timed_out);
}

// RAII: a handle's destructor gives the role back; move transfers it.
void t_raii_move()
{
	std::string n = name_of("raii");
	std::error_code ec;

	{
		tick_q p = tick_q::create(n.c_str(), 8, nshm::role::producer, ec);
		CHECK(!ec && p && p.capacity() == 8);
		CHECK(producer_alive(n.c_str()) == 1);
		// A second producer while this one lives: -EBUSY.
		tick_q p2 = tick_q::attach(n.c_str(), nshm::role::producer, ec);
		CHECK(ec == std::errc::device_or_resource_busy && !p2);

		tick_q moved(std::move(p));
		CHECK(!p && moved && moved.get() != nullptr); // NOLINT
		CHECK(moved.push(app::tick{1, 2, 3, 4.0, 5.0}));
		tick_q assigned;
		assigned = std::move(moved);
		CHECK(!moved && assigned); // NOLINT
		CHECK(producer_alive(n.c_str()) == 1);
		// Move-assigning over a live handle closes it first.
		tick_q other = tick_q::attach(n.c_str(), nshm::role::consumer, ec);
		CHECK(!ec && other);
		other = std::move(assigned);
		CHECK(producer_alive(n.c_str()) == 1);
		tick_q c = tick_q::attach(n.c_str(), nshm::role::consumer, ec);
		CHECK(!ec && c); // the consumer role was given back
	}
	// Every handle is gone: the producer role is free, closed cleanly.
	CHECK(producer_alive(n.c_str()) == 0);
	tick_q p = tick_q::attach(n.c_str(), nshm::role::producer, ec);
	CHECK(!ec && p);
	CHECK(!p.close() && !p);
	CHECK(!p.close()); // closing an empty handle is a no-op
	CHECK(!tick_q::remove(n.c_str()));
	CHECK(tick_q::remove(n.c_str()) == std::errc::no_such_file_or_directory);
}

// The typed data path, and the untyped ring.
void t_data()
{
	std::string n = name_of("data");
	std::error_code ec;
	tick_q p = tick_q::create(n.c_str(), 4, nshm::role::producer,
				  NSHM_PREFAULT, 0600, ec);
	CHECK(!ec);
	tick_q c = tick_q::attach(n.c_str(), nshm::role::consumer, 0, ec);
	CHECK(!ec);
	app::tick v{}, w{};

	CHECK(std::strcmp(tick_q::type().name, "app::tick") == 0);
	CHECK(tick_q::type().size == sizeof(app::tick));
	app::tick *slot = p.reserve();
	CHECK(slot != nullptr);
	slot->seq = 7;
	p.commit();
	app::tick *in = c.peek();
	CHECK(in != nullptr && in->seq == 7);
	c.release();
	CHECK(!c.pop().has_value());
	v.seq = 8;
	CHECK(p.push(v));
	std::optional<app::tick> o = c.pop();
	CHECK(o && o->seq == 8);

	app::tick arr[4] = {};
	for (uint32_t i = 0; i < 4; i++)
		arr[i].seq = 100 + i;
	CHECK(p.push_n(arr, 4) == 4);
	CHECK(!p.push(v)); // full
	std::memset(arr, 0, sizeof(arr));
	CHECK(c.pop_n(arr, 4) == 4 && arr[3].seq == 103);

	nshm::burst<app::tick> b = p.reserve_n(3);
	CHECK(b.size() == 3 && !b.empty() && b.span().n1 + b.span().n2 == 3);
	for (uint32_t i = 0; i < b.size(); i++)
		b[i].qty = 10 + i;
	p.commit_n(b.size());
	b = c.peek_n(8);
	CHECK(b.size() == 3);
	for (uint32_t i = 0; i < b.size(); i++)
		CHECK(b[i].qty == 10 + i);
	c.release_n(b.size());
#if NSHM_HPP_HAVE_SPAN
	CHECK(p.push_n(std::span<const app::tick>(arr, 2)) == 2);
	CHECK(c.pop_n(std::span<app::tick>(arr, 4)) == 2);
#endif

	v.seq = 9;
	CHECK(!p.push_wait(v));
	CHECK(!c.pop_wait(w, nshm::deadline::in(std::chrono::seconds(5))));
	CHECK(w.seq == 9);
	CHECK(c.pop_wait(w, nshm::deadline::in(std::chrono::milliseconds(1))) ==
	      std::errc::timed_out);
	CHECK(c.pop_wait(w, std::chrono::steady_clock::now()) ==
	      std::errc::timed_out);
	struct timespec past;
	CHECK(c.pop_wait(w, nshm_deadline_in(&past, 0)) == std::errc::timed_out);
	CHECK(p.position() == c.position());

	// Wrong role: sticky -EPERM.
	CHECK(c.reserve() == nullptr);
	CHECK(c.error() == std::errc::operation_not_permitted);
	c.clear_error();
	CHECK(!c.error());

	struct nshm_ring_stats st;
	CHECK(!p.stats(st) && st.pushed == st.popped && st.capacity == 4);
	CHECK(!p.check());
	struct nshm_wait_strategy ws = {16, 2, 5, 0, nullptr};
	CHECK(!c.set_wait(&ws));
	ws.reserved = 1;
	CHECK(c.set_wait(&ws) == std::errc::invalid_argument);
	CHECK(c.untyped().elem_size() == sizeof(app::tick));

	// The producer closes: a waiting consumer gets -EPIPE once drained.
	CHECK(p.push(v));
	CHECK(!p.close());
	CHECK(!c.pop_wait(w) && w.seq == 9);
	CHECK(c.pop_wait(w) == std::errc::broken_pipe);
	c = tick_q();
	CHECK(!tick_q::remove(n.c_str()));
}

// Attaching with another type, version or kind: std::error_code.
void t_mismatch()
{
	std::string n = name_of("type");
	std::error_code ec;
	tick_q p = tick_q::create(n.c_str(), 4, nshm::role::producer, ec);
	CHECK(!ec);

	auto o = nshm::spsc<app::other>::attach(n.c_str(), nshm::role::consumer,
						 ec);
	CHECK(!o && ec == nshm::errc::type);
	CHECK(ec.message() == nshm_strerror(-NSHM_ETYPE));
	CHECK(!nshm::error_detail().empty());
	CHECK(nshm::error_detail().find("app::tick") != std::string_view::npos);
	auto s = nshm::spsc<app::seqd>::attach(n.c_str(), nshm::role::consumer,
						ec);
	CHECK(!s && ec == nshm::errc::type);
	// An observer accepts any type.
	nshm::ring obs = nshm::ring::attach(n.c_str(), nshm::kind::any, nullptr,
					    nshm::role::observer, 0, ec);
	CHECK(!ec && obs && obs.capacity() == 4);
	CHECK(!obs.close());
	p = tick_q();
	CHECK(!tick_q::remove(n.c_str()));
}

// A seq-field element: the ring owns the field, push copies around it.
void t_seq_field()
{
	using q_t = nshm::spsc<app::seqd>;
	std::string n = name_of("seq");
	std::error_code ec;
	q_t p = q_t::create(n.c_str(), 2, nshm::role::producer, ec);
	CHECK(!ec);
	q_t c = q_t::attach(n.c_str(), nshm::role::consumer, ec);
	CHECK(!ec);

	CHECK(q_t::type().flags == NSHM_RING_TYPE_SEQ_FIELD &&
	      q_t::type().seq_offset == offsetof(app::seqd, ring_seq) &&
	      std::strcmp(q_t::type().name, "struct seqd") == 0);
	for (uint64_t k = 0; k < 5; k++) {
		app::seqd v{}, w{};
		v.id = k;
		v.ring_seq = 0xdead; // not copied
		v.payload[5] = ~k;
		CHECK(p.push(v));
		CHECK(c.pop(w) && w.id == k && w.payload[5] == ~k);
	}
	app::seqd arr[2] = {};
	arr[1].id = 42;
	CHECK(p.push_n(arr, 2) == 2 && c.pop_n(arr, 2) == 2 && arr[1].id == 42);
	p = q_t();
	c = q_t();
	CHECK(!q_t::remove(n.c_str()));
}

// Error paths of create/attach/open.
void t_error_paths()
{
	std::string n = name_of("err");
	std::error_code ec;

	auto q = tick_q::create(n.c_str(), 3, nshm::role::producer, ec);
	CHECK(!q && ec == std::errc::invalid_argument); // not a power of two
	q = tick_q::create("bad/name", 4, nshm::role::producer, ec);
	CHECK(!q && ec == nshm::errc::bad_name);
	q = tick_q::attach(n.c_str(), nshm::role::consumer, ec);
	CHECK(!q && ec == std::errc::no_such_file_or_directory);
	q = tick_q::create(n.c_str(), 4, nshm::role::producer, ec);
	CHECK(q && !ec);
	auto q2 = tick_q::create(n.c_str(), 4, nshm::role::consumer, ec);
	CHECK(!q2 && ec == std::errc::file_exists);
	// A plain segment is not a ring.
	std::string sn = n + "-seg";
	nshm::segment::remove(sn.c_str());
	nshm::segment seg = nshm::segment::open(sn.c_str(), 4096,
						NSHM_CREATE | NSHM_EXCL, 0, ec);
	CHECK(!ec && seg && seg.size() == 4096);
	{
		nshm::mapping m = seg.attach(0, ec);
		CHECK(!ec && m && m.get() != nullptr);
		std::memset(m.get(), 'x', 4096); // anything but a ring header
		auto notring = tick_q::attach(sn.c_str(), nshm::role::consumer, ec);
		CHECK(!notring && (ec == nshm::errc::kind ||
				    ec == nshm::errc::corrupt));
		nshm::mapping m2 = std::move(m);
		CHECK(!m && m2); // NOLINT
		struct nshm_seg_info info;
		CHECK(!seg.stat(info) && info.attached == 1);
		CHECK(!seg.close() && !seg);
		CHECK(m2.as<char>()[0] == 'x'); // mappings outlive the handle
		CHECK(!m2.detach() && !m2);
		CHECK(!m2.detach()); // no-op
	}
	auto seg2 = nshm::segment::open(sn.c_str(), 0, 0, 0, ec);
	CHECK(!ec);
	{
		nshm::mapping m = seg2.attach(NSHM_READONLY, ec);
		CHECK(!ec && m.as<const char>()[0] == 'x');
	} // detached here
	struct nshm_seg_info info;
	CHECK(!seg2.stat(info) && info.attached == 0);
	auto bad = nshm::segment::open(sn.c_str(), 0, 0x8000, 0, ec);
	CHECK(!bad && ec == std::errc::invalid_argument);
	CHECK(!nshm::segment::remove(sn.c_str()));
	CHECK(nshm::segment::remove(sn.c_str()) ==
	      std::errc::no_such_file_or_directory);
	q = tick_q();
	CHECK(!tick_q::remove(n.c_str()));
}

#ifdef NSHM_MPMC_H
// nshm::mpmc<T>: the MPMC data path, bursts, all-or-nothing, errors.
void t_mpmc()
{
	using q_t = nshm::mpmc<app::tick>;
	std::string n = name_of("mpmc");
	std::error_code ec;
	q_t p = q_t::create(n.c_str(), 8, 2, 2, nshm::role::producer, 0, 0, ec);
	CHECK(!ec && p && p.capacity() == 8);
	q_t p2 = q_t::attach(n.c_str(), nshm::role::producer, ec);
	CHECK(!ec && p2); // two producers
	q_t c = q_t::attach(n.c_str(), nshm::role::consumer, ec);
	CHECK(!ec && c);
	app::tick v{}, w{};

	v.seq = 1;
	CHECK(p.push(v) && p2.push(v));
	CHECK(c.pop(w) && w.seq == 1 && c.pop().has_value() && !c.pop());
	app::tick *slot = p.reserve();
	CHECK(slot != nullptr);
	slot->seq = 2;
	p.commit();
	app::tick *in = c.peek();
	CHECK(in != nullptr && in->seq == 2);
	c.release();
	nshm::burst<app::tick> b = p.reserve_n(3);
	CHECK(b.size() == 3);
	for (uint32_t i = 0; i < 3; i++)
		b[i].qty = i;
	p.commit();
	CHECK(p.reserve_n_all(6).empty()); // 5 free: none
	b = c.peek_n(8);
	CHECK(b.size() == 3 && b[2].qty == 2);
	c.release();
	app::tick arr[8] = {};
	for (uint32_t i = 0; i < 8; i++)
		arr[i].seq = 10 + i;
	CHECK(p.push_n_all(arr, 8) == 8 && !p.push(v));
	CHECK(c.pop_n(arr, 8) == 8 && arr[7].seq == 17);
	CHECK(p.push_n(arr, 2) == 2 && c.pop_n(arr, 8) == 2);
#if NSHM_HPP_HAVE_SPAN
	CHECK(p.push_n(std::span<const app::tick>(arr, 3)) == 3);
	CHECK(c.pop_n(std::span<app::tick>(arr, 8)) == 3);
#endif
	CHECK(!p.push_wait(v) && !c.pop_wait(w) && w.seq == 1);
	CHECK(c.pop_wait(w, std::chrono::steady_clock::now()) ==
	      std::errc::timed_out);
	CHECK(c.recover(ec) == 0 && !ec);
	CHECK(c.reserve() == nullptr && c.error() ==
	      std::errc::operation_not_permitted);
	auto wrong = nshm::mpmc<app::other>::attach(n.c_str(),
						     nshm::role::consumer, ec);
	CHECK(!wrong && ec == nshm::errc::type);
	auto as_spsc = tick_q::attach(n.c_str(), nshm::role::consumer, ec);
	CHECK(!as_spsc && ec == nshm::errc::kind);
	p = q_t();
	p2 = q_t();
	c = q_t();
	CHECK(!q_t::remove(n.c_str()));
}
#endif

#ifdef NSHM_BCAST_H
// nshm::bcast<T>: lossy with a lap, in place, back-pressured, errors.
void t_bcast()
{
	using q_t = nshm::bcast<app::tick>;
	std::string n = name_of("bcast");
	std::error_code ec;
	uint64_t missed = 0;
	q_t w = q_t::create(n.c_str(), 4, nshm::bcast_policy::lossy, ec);
	CHECK(!ec && w);
	q_t rd = q_t::attach(n.c_str(), nshm::role::subscriber, ec);
	CHECK(!ec && rd);
	app::tick v{}, got{};

	v.seq = 1;
	CHECK(w.publish(v));
	app::tick *slot = w.reserve();
	CHECK(slot != nullptr);
	slot->seq = 2;
	w.commit();
	CHECK(rd.read(got, ec) && !ec && got.seq == 1);
	const app::tick *in = rd.read_begin(ec, missed);
	CHECK(in != nullptr && in->seq == 2 && rd.read_end(ec, missed));
	CHECK(!rd.read(got, ec) && !ec); // nothing new
	CHECK(rd.read_wait(got, std::chrono::steady_clock::now()) ==
	      std::errc::timed_out);
	for (uint64_t k = 10; k < 16; k++) {
		v.seq = k;
		CHECK(!w.publish_wait(v));
	}
	uint64_t seen = 0, lost = 0;
	for (;;) {
		if (rd.read(got, ec, missed)) {
			seen++;
			continue;
		}
		if (ec == nshm::errc::lapped) {
			lost += missed;
			continue;
		}
		CHECK(!ec);
		break;
	}
	CHECK(lost > 0 && seen + lost == 6);
	CHECK(!rd.rejoin(nshm::bcast_from::oldest));
	CHECK(!rd.resumed());
	auto wrong = nshm::bcast<app::other>::attach(n.c_str(),
						      nshm::role::subscriber, ec);
	CHECK(!wrong && ec == nshm::errc::type);
	auto cons = q_t::attach(n.c_str(), nshm::role::consumer, ec);
	CHECK(!cons && ec); // a lossy ring has no registered readers
	rd = q_t();
	w = q_t();
	CHECK(!q_t::remove(n.c_str()));

	n = name_of("bcast-bp");
	w = q_t::create(n.c_str(), 2, nshm::bcast_policy::backpressure, ec);
	CHECK(!ec);
	q_t c = q_t::attach(n.c_str(), nshm::role::consumer,
			    nshm::bcast_from::now, 7, 0, ec);
	CHECK(!ec && c);
	CHECK(w.publish(v) && w.publish(v) && !w.publish(v)); // full
	CHECK(w.recover(ec) == 0 && !ec); // the reader lives
	CHECK(!c.read_wait(got) && w.publish(v));
	c = q_t();
	w = q_t();
	CHECK(!q_t::remove(n.c_str()));
}
#endif

#if NSHM_HPP_EXCEPTIONS
void t_exceptions()
{
	std::string n = name_of("exc");
	tick_q p = tick_q::create(n.c_str(), 4, nshm::role::producer);
	bool thrown = false;

	try {
		nshm::spsc<app::other>::attach(n.c_str(), nshm::role::consumer);
	} catch (const nshm::error &e) {
		thrown = true;
		CHECK(e.code() == nshm::errc::type);
		CHECK(!e.detail().empty());
		CHECK(std::string(e.what()).find(e.detail()) != std::string::npos);
		CHECK(std::string(e.what()).find(nshm_strerror(-NSHM_ETYPE)) !=
		      std::string::npos);
	}
	CHECK(thrown);
	thrown = false;
	try {
		tick_q::create(n.c_str(), 4, nshm::role::producer);
	} catch (const std::system_error &e) {
		thrown = e.code() == std::errc::file_exists;
	}
	CHECK(thrown);
	thrown = false;
	try {
		nshm::segment::open("no/such", 0, 0);
	} catch (const nshm::error &e) {
		thrown = e.code() == nshm::errc::bad_name;
	}
	CHECK(thrown);
	auto c = tick_q::attach(n.c_str(), nshm::role::consumer);
	CHECK(c && p.push(app::tick{}));
	std::string sn = n + "-seg";
	nshm::segment::remove(sn.c_str());
	auto seg = nshm::segment::open(sn.c_str(), 100);
	nshm::mapping m = seg.attach();
	CHECK(m);
	CHECK(!nshm::segment::remove(sn.c_str()));
	p = tick_q();
	CHECK(!tick_q::remove(n.c_str()));
}
#endif

} // namespace

int main()
{
	t_errors();
	t_raii_move();
	t_data();
	t_mismatch();
	t_seq_field();
	t_error_paths();
#ifdef NSHM_MPMC_H
	t_mpmc();
#endif
#ifdef NSHM_BCAST_H
	t_bcast();
#endif
#if NSHM_HPP_EXCEPTIONS
	t_exceptions();
#endif
	std::printf("test_cxx_api: ok (__cplusplus %ld%s)\n", __cplusplus,
		    NSHM_HPP_EXCEPTIONS ? "" : ", no exceptions");
	return 0;
}
