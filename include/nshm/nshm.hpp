// SPDX-License-Identifier: MIT
#ifndef NSHM_NSHM_HPP
#define NSHM_NSHM_HPP

/*
 * nshm for C++17 and later: header-only, over the C API (which it does not
 * change), with the same inline fast path.
 *
 *	nshm::segment, nshm::mapping  a named segment and one mapping of it
 *	nshm::ring                    an untyped ring handle
 *	nshm::spsc<T>                 a typed SPSC ring of T
 *	nshm::mpmc<T>                 a typed MPMC ring of T (with <nshm/mpmc.h>)
 *	nshm::bcast<T>                a typed broadcast ring (with <nshm/bcast.h>)
 *
 * Handles are RAII: the destructor closes (a ring gives its role back, a
 * mapping is detached); they move and do not copy. A moved-from handle is
 * empty (`!h`), and so is one whose create/attach failed.
 *
 * Errors are std::error_code in nshm::category(): value() is the positive
 * errno or NSHM_E* code that the C function returned negated, message() is
 * nshm_strerror(), and nshm::error_detail() is the calling thread's
 * nshm_errdetail() text for its last failing call (read it right away).
 * Codes below 4096 compare equal to std::errc (ec == std::errc::timed_out),
 * nshm's own to nshm::errc (ec == nshm::errc::type). Every function has a
 * noexcept form that takes or returns a std::error_code; with exceptions
 * enabled, create/attach/open also have forms without the error_code that
 * throw nshm::error (a std::system_error whose what() includes the
 * detail). Nothing here needs exceptions or RTTI (-fno-exceptions works).
 *
 * Typed rings: nshm::spsc<T> and nshm::mpmc<T>, for a T that is trivially
 * copyable and standard-layout (checked at compile time). A ring records
 * T's name, version, size and alignment (nshm::element_traits<T>), so
 * attaching with another T fails with nshm::errc::type. By default the
 * name is T's C++ name as the compiler prints it (e.g. "tick",
 * "md::quote") and the version is 1; NSHM_ELEMENT(T, "name", version)
 * sets them, e.g. to share a ring with a C program that made it with
 * NSHM_RING_DEFINE(tick_ring, struct tick): NSHM_ELEMENT(tick, "struct
 * tick", 1). NSHM_ELEMENT_SEQ(T, "name", version, field) is the C++ side
 * of NSHM_RING_DEFINE_SEQ.
 *
 * The data-path calls are always inlined (NSHM_ALWAYS_INLINE, as the C
 * fast path's helpers are): push_wait() compiles to the push() loop with
 * the out-of-line wait on its slow path, exactly as the C code.
 *
 *	auto q = nshm::spsc<tick>::create("ticks", 4096, nshm::role::producer, ec);
 *	if (!q) ... ec ...
 *	q.push(t);
 *	auto c = nshm::spsc<tick>::attach("ticks", nshm::role::consumer, ec);
 *	std::error_code rc =
 *		c.pop_wait(t, nshm::deadline::in(std::chrono::seconds(1)));
 *
 * Threads: as in C, one thread at a time per handle.
 */

#if !defined(__cplusplus) || __cplusplus < 201703L
#error "<nshm/nshm.hpp> needs C++17 or later (so does the C API in C++)"
#endif

#include <nshm/nshm.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>

#if __cplusplus >= 202002L && defined(__has_include)
#if __has_include(<span>)
#include <span>
#endif
#endif
/* 1 where std::span overloads are available (C++20). */
#if defined(__cpp_lib_span) && __cpp_lib_span >= 202002L
#define NSHM_HPP_HAVE_SPAN 1
#else
#define NSHM_HPP_HAVE_SPAN 0
#endif

/* 1 where the throwing convenience forms are available. */
#if defined(__cpp_exceptions) || defined(__EXCEPTIONS)
#define NSHM_HPP_EXCEPTIONS 1
#else
#define NSHM_HPP_EXCEPTIONS 0
#endif

namespace nshm {

/* ---- errors ------------------------------------------------------------ */

/* nshm's own codes (common.h), for comparisons: ec == nshm::errc::type. */
enum class errc : int {
	bad_name = NSHM_EBADNAME,
	corrupt = NSHM_ECORRUPT,
	truncated = NSHM_ETRUNCATED,
	collision = NSHM_ECOLLISION,
	peer_dead = NSHM_EPEERDEAD,
	type = NSHM_ETYPE,
	kind = NSHM_EKIND,
	forked = NSHM_EFORKED, /* a handle inherited across fork() */
#ifdef NSHM_BCAST_H
	lapped = NSHM_ELAPPED,	 /* a broadcast reader was overrun */
	evicted = NSHM_EEVICTED, /* a broadcast reader was evicted */
#endif
};

namespace detail {
class category_impl final : public std::error_category {
public:
	const char *name() const noexcept override { return "nshm"; }
	std::string message(int ev) const override { return nshm_strerror(-ev); }
	/* errno values are the generic category's: ec == std::errc::... */
	std::error_condition default_error_condition(int ev) const noexcept override
	{
		if (ev > 0 && ev < NSHM_EBASE)
			return std::error_condition(ev, std::generic_category());
		return std::error_condition(ev, *this);
	}
};
} // namespace detail

/** The category of every error_code nshm returns. */
inline const std::error_category &category() noexcept
{
	static const detail::category_impl c;
	return c;
}

inline std::error_code make_error_code(errc e) noexcept
{
	return std::error_code(static_cast<int>(e), category());
}

/** The error_code for a C return value: 0 (or a count) is no error. */
inline std::error_code error_from(int rc) noexcept
{
	return rc < 0 ? std::error_code(-rc, category()) : std::error_code();
}

/** nshm_errdetail(): what exactly failed in this thread's last call. */
inline std::string_view error_detail() noexcept
{
	return nshm_errdetail();
}

#if NSHM_HPP_EXCEPTIONS
/** Thrown by the throwing forms; what() has the detail text too. */
class error : public std::system_error {
public:
	error(std::error_code ec, const std::string &what, std::string detail)
		: std::system_error(ec, what), detail_(std::move(detail))
	{
	}
	/** nshm_errdetail() at the time of the failure. */
	const std::string &detail() const noexcept { return detail_; }

private:
	std::string detail_;
};

namespace detail {
[[noreturn]] inline void raise(std::error_code ec, const char *op,
			       const char *name)
{
	std::string d = nshm_errdetail();
	std::string what = std::string(op) + "(" + (name ? name : "") + ")";

	if (!d.empty())
		what += ": " + d;
	throw nshm::error(ec, what, std::move(d));
}
} // namespace detail
#endif

/* ---- small types ------------------------------------------------------- */

enum class role : int {
	observer = NSHM_RING_OBSERVER,
	producer = NSHM_RING_PRODUCER,
	consumer = NSHM_RING_CONSUMER,
#ifdef NSHM_BCAST_H
	subscriber = NSHM_RING_SUBSCRIBER, /* a broadcast ring's read-only reader */
#endif
};

enum class kind : int {
	any = NSHM_RING_KIND_ANY,
	spsc = NSHM_RING_SPSC,
	mpmc = NSHM_RING_MPMC,
	broadcast = NSHM_RING_BROADCAST,
};

/*
 * An absolute CLOCK_MONOTONIC deadline, or none. std::chrono::steady_clock
 * is CLOCK_MONOTONIC on Linux, so its time points convert exactly.
 */
class deadline {
public:
	/** No deadline: wait forever. */
	constexpr deadline() noexcept : ts_{}, set_(false) {}
	/** A C deadline (NULL: none). */
	deadline(const struct timespec *ts) noexcept : ts_{}, set_(ts != nullptr)
	{
		if (ts != nullptr)
			ts_ = *ts;
	}
	deadline(std::chrono::steady_clock::time_point tp) noexcept : set_(true)
	{
		auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
				  tp.time_since_epoch())
				  .count();

		if (ns < 0)
			ns = 0;
		ts_.tv_sec = static_cast<time_t>(ns / 1000000000);
		ts_.tv_nsec = static_cast<long>(ns % 1000000000);
	}
	/** Now + @p d (0 or negative: already past). */
	template <class Rep, class Period>
	static deadline in(std::chrono::duration<Rep, Period> d) noexcept
	{
		auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(d)
				  .count();
		struct timespec ts;

		nshm_deadline_in(&ts, ns > 0 ? static_cast<uint64_t>(ns) : 0);
		return deadline(&ts);
	}
	/** For the C API: NULL when there is none. */
	const struct timespec *get() const noexcept
	{
		return set_ ? &ts_ : nullptr;
	}

private:
	struct timespec ts_;
	bool set_;
};

/* ---- segments ---------------------------------------------------------- */

/* One mapping of a segment (nshm_seg_attach()); detached on destruction. */
class mapping {
public:
	mapping() noexcept = default;
	explicit mapping(void *addr) noexcept : addr_(addr) {}
	mapping(mapping &&o) noexcept : addr_(std::exchange(o.addr_, nullptr)) {}
	mapping &operator=(mapping &&o) noexcept
	{
		if (this != &o) {
			reset();
			addr_ = std::exchange(o.addr_, nullptr);
		}
		return *this;
	}
	mapping(const mapping &) = delete;
	mapping &operator=(const mapping &) = delete;
	~mapping() { reset(); }

	void *get() const noexcept { return addr_; }
	template <class T> T *as() const noexcept { return static_cast<T *>(addr_); }
	explicit operator bool() const noexcept { return addr_ != nullptr; }
	/** Give up ownership: the caller detaches. */
	void *release() noexcept { return std::exchange(addr_, nullptr); }
	/** Detach now. @return as nshm_seg_detach() (-EBUSY keeps it mapped). */
	std::error_code detach() noexcept
	{
		int rc = addr_ ? nshm_seg_detach(nullptr, addr_) : 0;

		if (rc == 0)
			addr_ = nullptr;
		return error_from(rc);
	}

private:
	void reset() noexcept
	{
		if (addr_ != nullptr)
			nshm_seg_detach(nullptr, addr_);
		addr_ = nullptr;
	}
	void *addr_ = nullptr;
};

/* A segment handle (nshm_seg_open()); closed on destruction. Mappings live
 * on after the handle is closed, as in C. */
class segment {
public:
	segment() noexcept = default;
	explicit segment(struct nshm_seg *s) noexcept : s_(s) {}
	segment(segment &&o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
	segment &operator=(segment &&o) noexcept
	{
		if (this != &o) {
			close();
			s_ = std::exchange(o.s_, nullptr);
		}
		return *this;
	}
	segment(const segment &) = delete;
	segment &operator=(const segment &) = delete;
	~segment() { close(); }

	/** nshm_seg_open(); on failure @p ec is set and the handle empty. */
	static segment open(const char *name, std::size_t size,
			    unsigned int flags, unsigned int mode,
			    std::error_code &ec) noexcept
	{
		struct nshm_seg *s = nullptr;

		ec = error_from(nshm_seg_open(name, size, flags, mode, &s));
		return ec ? segment() : segment(s);
	}
	/** nshm_seg_attach(). */
	mapping attach(unsigned int flags, std::error_code &ec) noexcept
	{
		void *addr = nullptr;

		ec = error_from(nshm_seg_attach(s_, flags, &addr));
		return ec ? mapping() : mapping(addr);
	}
#if NSHM_HPP_EXCEPTIONS
	static segment open(const char *name, std::size_t size,
			    unsigned int flags = NSHM_CREATE,
			    unsigned int mode = 0)
	{
		std::error_code ec;
		segment s = open(name, size, flags, mode, ec);

		if (ec)
			detail::raise(ec, "nshm::segment::open", name);
		return s;
	}
	mapping attach(unsigned int flags = 0)
	{
		std::error_code ec;
		mapping m = attach(flags, ec);

		if (ec)
			detail::raise(ec, "nshm::segment::attach", nullptr);
		return m;
	}
#endif
	std::size_t size() const noexcept { return nshm_seg_size(s_); }
	std::error_code stat(struct nshm_seg_info &info) const noexcept
	{
		return error_from(nshm_seg_stat(s_, &info));
	}
	struct nshm_seg *get() const noexcept { return s_; }
	explicit operator bool() const noexcept { return s_ != nullptr; }
	struct nshm_seg *release() noexcept { return std::exchange(s_, nullptr); }
	/** Close the handle now (a no-op when empty). */
	std::error_code close() noexcept
	{
		int rc = s_ ? nshm_seg_close(s_) : 0;

		s_ = nullptr;
		return error_from(rc);
	}
	/** nshm_seg_delete(): remove the name. */
	static std::error_code remove(const char *name) noexcept
	{
		return error_from(nshm_seg_delete(name));
	}

private:
	struct nshm_seg *s_ = nullptr;
};

/* ---- untyped ring ------------------------------------------------------ */

/* A ring handle (struct nshm_ring); closed on destruction. */
class ring {
public:
	ring() noexcept = default;
	explicit ring(struct nshm_ring *r) noexcept : r_(r) {}
	ring(ring &&o) noexcept : r_(std::exchange(o.r_, nullptr)) {}
	ring &operator=(ring &&o) noexcept
	{
		if (this != &o) {
			close();
			r_ = std::exchange(o.r_, nullptr);
		}
		return *this;
	}
	ring(const ring &) = delete;
	ring &operator=(const ring &) = delete;
	~ring() { close(); }

	/** nshm_ring_create(). */
	static ring create(const char *name, kind k,
			   const struct nshm_ring_type &type, uint32_t capacity,
			   role ro, unsigned int flags, unsigned int mode,
			   std::error_code &ec) noexcept
	{
		struct nshm_ring *r = nullptr;

		ec = error_from(nshm_ring_create(
			name, static_cast<enum nshm_ring_kind>(k), &type,
			capacity, static_cast<enum nshm_ring_role>(ro), flags,
			mode, &r));
		return ec ? ring() : ring(r);
	}
#ifdef NSHM_RING_PARAMS_INIT
	/** nshm_ring_create_with(): any kind (start from NSHM_RING_PARAMS_INIT). */
	static ring create_with(const char *name,
				const struct nshm_ring_params &p,
				std::error_code &ec) noexcept
	{
		struct nshm_ring *r = nullptr;

		ec = error_from(nshm_ring_create_with(name, &p, &r));
		return ec ? ring() : ring(r);
	}
#endif
	/** nshm_ring_attach() (@p type NULL: observers only). */
	static ring attach(const char *name, kind k,
			   const struct nshm_ring_type *type, role ro,
			   unsigned int flags, std::error_code &ec) noexcept
	{
		struct nshm_ring *r = nullptr;

		ec = error_from(nshm_ring_attach(
			name, static_cast<enum nshm_ring_kind>(k), type,
			static_cast<enum nshm_ring_role>(ro), flags, &r));
		return ec ? ring() : ring(r);
	}
	/** nshm_ring_delete(). */
	static std::error_code remove(const char *name) noexcept
	{
		return error_from(nshm_ring_delete(name));
	}

	struct nshm_ring *get() const noexcept { return r_; }
	explicit operator bool() const noexcept { return r_ != nullptr; }
	struct nshm_ring *release() noexcept { return std::exchange(r_, nullptr); }
	/** Give the role back and free the handle now (no-op when empty). */
	std::error_code close() noexcept
	{
		int rc = r_ ? nshm_ring_close(r_) : 0;

		r_ = nullptr;
		return error_from(rc);
	}

	std::error_code stats(struct nshm_ring_stats &st) const noexcept
	{
		return error_from(nshm_ring_stats(r_, &st));
	}
	std::error_code check() const noexcept
	{
		return error_from(nshm_ring_check(r_));
	}
	std::error_code set_wait(const struct nshm_wait_strategy *ws) noexcept
	{
		return error_from(nshm_ring_set_wait(r_, ws));
	}
	uint32_t capacity() const noexcept { return nshm_ring_capacity(r_); }
	uint32_t elem_size() const noexcept { return nshm_ring_elem_size(r_); }
	uint64_t position() const noexcept { return nshm_ring_position(r_); }
	/** The sticky fast-path error (nshm_ring_error()), if any. */
	std::error_code error() const noexcept
	{
		return error_from(nshm_ring_error(r_));
	}
	void clear_error() noexcept { nshm_ring_clear_error(r_); }

private:
	struct nshm_ring *r_ = nullptr;
};

/* ---- typed rings ------------------------------------------------------- */

/* element_traits<T>::seq_offset when T has no seq field. */
inline constexpr uint32_t no_seq_field = UINT32_MAX;

namespace detail {
/* T's name as the compiler spells it (gcc and clang agree on plain and
 * namespaced class names). Parsed once, at create/attach. */
template <class T> const char *type_name() noexcept
{
	static const std::string name = [](std::string_view f) {
		std::size_t b = f.find("T = "), e;

		if (b == std::string_view::npos)
			return std::string();
		b += 4;
		e = f.find_first_of(";]", b);
		return std::string(f.substr(b, e == std::string_view::npos
							? std::string_view::npos
							: e - b));
	}(__PRETTY_FUNCTION__);
	return name.c_str();
}
} // namespace detail

/*
 * What a typed ring records about T. Specialise it (NSHM_ELEMENT) to pick
 * the name and version, or to give T a seq field (NSHM_ELEMENT_SEQ).
 */
template <class T> struct element_traits {
	static const char *name() noexcept { return detail::type_name<T>(); }
	static constexpr uint32_t version = 1;
	static constexpr uint32_t seq_offset = no_seq_field;
};

/* NSHM_ELEMENT(T, "name", version): at global scope, once per type. */
#define NSHM_ELEMENT(T, NAME, VER)                                          \
	template <> struct nshm::element_traits<T> {                        \
		static const char *name() noexcept { return NAME; }         \
		static constexpr uint32_t version = (VER);                  \
		static constexpr uint32_t seq_offset = nshm::no_seq_field;  \
	}

/* The same for a T whose uint64_t @p FIELD is the ring's seq word. */
#define NSHM_ELEMENT_SEQ(T, NAME, VER, FIELD)                               \
	template <> struct nshm::element_traits<T> {                        \
		static const char *name() noexcept { return NAME; }         \
		static constexpr uint32_t version = (VER);                  \
		static constexpr uint32_t seq_offset =                      \
			static_cast<uint32_t>(offsetof(T, FIELD));          \
	}

/* A burst from reserve_n()/peek_n(): element i is b[i] (strided slots). */
template <class T> class burst {
public:
	burst() noexcept : s_{} {}
	uint32_t size() const noexcept { return s_.n1 + s_.n2; }
	bool empty() const noexcept { return size() == 0; }
	T &operator[](uint32_t i) const noexcept
	{
		return *static_cast<T *>(nshm_ring_span_at(&s_, i));
	}
	/** The C view (two strided runs). */
	const struct nshm_ring_span &span() const noexcept { return s_; }
	struct nshm_ring_span *c_span() noexcept { return &s_; }

private:
	struct nshm_ring_span s_;
};

namespace detail {
/*
 * What every typed ring has: the compile-time checks of T, the type record,
 * the handle and the calls of either side. spsc<T> and mpmc<T> add their
 * data paths.
 */
template <class T, class Traits> class typed_ring {
	static_assert(std::is_trivially_copyable<T>::value,
		      "nshm: a ring's T must be trivially copyable (it is "
		      "copied with memcpy between processes)");
	static_assert(std::is_standard_layout<T>::value,
		      "nshm: a ring's T must be standard-layout (the same "
		      "layout in every process and language)");
	static_assert(sizeof(T) <= NSHM_RING_ELEM_MAX &&
			      alignof(T) <= NSHM_RING_ALIGN_MAX,
		      "nshm: a ring's T is too big or too aligned");
	static_assert(Traits::seq_offset == no_seq_field ||
			      (Traits::seq_offset % 8 == 0 &&
			       Traits::seq_offset + 8 <= sizeof(T) &&
			       alignof(T) >= 8),
		      "nshm: the seq field must be an aligned 8-byte member");

public:
	using value_type = T;
	using traits_type = Traits;

	/** The struct nshm_ring_type this ring records. */
	static const struct nshm_ring_type &type() noexcept
	{
		static const struct nshm_ring_type t = {
			Traits::name(),
			Traits::version,
			static_cast<uint32_t>(sizeof(T)),
			static_cast<uint32_t>(alignof(T)),
			Traits::seq_offset == no_seq_field
				? 0u
				: NSHM_RING_TYPE_SEQ_FIELD,
			Traits::seq_offset == no_seq_field ? 0u
							   : Traits::seq_offset,
		};
		return t;
	}
	/** nshm_ring_delete(). */
	static std::error_code remove(const char *name) noexcept
	{
		return ring::remove(name);
	}

	uint32_t capacity() const noexcept { return r_.capacity(); }
	uint64_t position() const noexcept { return r_.position(); }
	/** The sticky fast-path error (nshm_ring_error()), if any. */
	std::error_code error() const noexcept { return r_.error(); }
	void clear_error() noexcept { r_.clear_error(); }
	std::error_code stats(struct nshm_ring_stats &st) const noexcept
	{
		return r_.stats(st);
	}
	std::error_code check() const noexcept { return r_.check(); }
	std::error_code set_wait(const struct nshm_wait_strategy *ws) noexcept
	{
		return r_.set_wait(ws);
	}
	/** Give the role back now (the destructor does it otherwise). */
	std::error_code close() noexcept { return r_.close(); }
	explicit operator bool() const noexcept { return bool(r_); }
	struct nshm_ring *get() const noexcept { return r_.get(); }
	/** The untyped handle (still owned by this one). */
	ring &untyped() noexcept { return r_; }

protected:
	typed_ring() noexcept = default;
	explicit typed_ring(ring &&r) noexcept : r_(std::move(r)) {}
	typed_ring(typed_ring &&) noexcept = default;
	typed_ring &operator=(typed_ring &&) noexcept = default;
	typed_ring(const typed_ring &) = delete;
	typed_ring &operator=(const typed_ring &) = delete;
	~typed_ring() = default; /* ring's destructor closes */

	struct nshm_ring *h() const noexcept { return r_.get(); }
	/* Offset of the ring's seq field in T; sizeof(T): none. */
	static constexpr std::size_t skip_ =
		Traits::seq_offset == no_seq_field ? sizeof(T)
						   : Traits::seq_offset;
	static uint32_t clamp(std::size_t n) noexcept
	{
		return n > UINT32_MAX ? UINT32_MAX : static_cast<uint32_t>(n);
	}

private:
	ring r_;
};
} // namespace detail

/*
 * A typed single-producer single-consumer ring of T. The data path is the
 * C inline one, with sizeof(T) as a constant: push() compiles to what
 * NSHM_RING_DEFINE's _push() does.
 */
template <class T, class Traits = element_traits<T>>
class spsc : public detail::typed_ring<T, Traits> {
	using base = detail::typed_ring<T, Traits>;
	using base::clamp;
	using base::h;
	using base::skip_;

public:
	spsc() noexcept = default;
	spsc(spsc &&) noexcept = default;
	spsc &operator=(spsc &&) noexcept = default;

	/** Create the ring @p name (capacity: a power of two). */
	static spsc create(const char *name, uint32_t capacity, role ro,
			   unsigned int flags, unsigned int mode,
			   std::error_code &ec) noexcept
	{
		return spsc(ring::create(name, kind::spsc, base::type(),
					 capacity, ro, flags, mode, ec));
	}
	static spsc create(const char *name, uint32_t capacity, role ro,
			   std::error_code &ec) noexcept
	{
		return create(name, capacity, ro, 0, 0, ec);
	}
	/** Attach to @p name; another T there: nshm::errc::type. */
	static spsc attach(const char *name, role ro, unsigned int flags,
			   std::error_code &ec) noexcept
	{
		return spsc(ring::attach(name, kind::spsc, &base::type(), ro,
					 flags, ec));
	}
	static spsc attach(const char *name, role ro,
			   std::error_code &ec) noexcept
	{
		return attach(name, ro, 0, ec);
	}
#if NSHM_HPP_EXCEPTIONS
	static spsc create(const char *name, uint32_t capacity, role ro,
			   unsigned int flags = 0, unsigned int mode = 0)
	{
		std::error_code ec;
		spsc q = create(name, capacity, ro, flags, mode, ec);

		if (ec)
			detail::raise(ec, "nshm::spsc::create", name);
		return q;
	}
	static spsc attach(const char *name, role ro, unsigned int flags = 0)
	{
		std::error_code ec;
		spsc q = attach(name, ro, flags, ec);

		if (ec)
			detail::raise(ec, "nshm::spsc::attach", name);
		return q;
	}
#endif

	/* -- producer -- */
	NSHM_ALWAYS_INLINE
	T *reserve() noexcept { return static_cast<T *>(nshm_ring_reserve(h())); }
	NSHM_ALWAYS_INLINE void commit() noexcept { nshm_ring_commit(h()); }
	NSHM_ALWAYS_INLINE burst<T> reserve_n(uint32_t n) noexcept
	{
		burst<T> b;

		nshm_ring_reserve_n(h(), n, b.c_span());
		return b;
	}
	NSHM_ALWAYS_INLINE
	void commit_n(uint32_t n) noexcept { nshm_ring_commit_n(h(), n); }
	/** Copy @p v in (around the seq field, if any). @return false: full. */
	NSHM_ALWAYS_INLINE bool push(const T &v) noexcept
	{
		struct nshm_ring *r = h();
		void *slot = nshm_ring_reserve(r);

		if (slot == nullptr)
			return false;
		nshm__copy_skip(slot, &v, sizeof(T), skip_);
		nshm_ring_commit(r);
		return true;
	}
	/** Copy up to @p n in, one publication. @return how many. */
	NSHM_ALWAYS_INLINE uint32_t push_n(const T *v, uint32_t n) noexcept
	{
		burst<T> b = reserve_n(n);

		n = b.size();
		for (uint32_t i = 0; i < n; i++)
			nshm__copy_skip(&b[i], v + i, sizeof(T), skip_);
		if (n != 0)
			nshm_ring_commit_n(h(), n);
		return n;
	}
	/** push(), waiting for room until @p dl. */
	NSHM_ALWAYS_INLINE
	std::error_code push_wait(const T &v, deadline dl = deadline()) noexcept
	{
		while (!push(v)) {
			int rc = nshm_ring_wait_writable(h(), dl.get());

			if (rc < 0)
				return error_from(rc);
		}
		return std::error_code();
	}

	/* -- consumer -- */
	NSHM_ALWAYS_INLINE
	T *peek() noexcept { return static_cast<T *>(nshm_ring_peek(h())); }
	NSHM_ALWAYS_INLINE void release() noexcept { nshm_ring_release(h()); }
	NSHM_ALWAYS_INLINE burst<T> peek_n(uint32_t n) noexcept
	{
		burst<T> b;

		nshm_ring_peek_n(h(), n, b.c_span());
		return b;
	}
	NSHM_ALWAYS_INLINE
	void release_n(uint32_t n) noexcept { nshm_ring_release_n(h(), n); }
	/** Copy the oldest element out. @return false: empty. */
	NSHM_ALWAYS_INLINE bool pop(T &v) noexcept
	{
		struct nshm_ring *r = h();
		const void *slot = nshm_ring_peek(r);

		if (slot == nullptr)
			return false;
		std::memcpy(static_cast<void *>(&v), slot, sizeof(T));
		nshm_ring_release(r);
		return true;
	}
	NSHM_ALWAYS_INLINE std::optional<T> pop() noexcept
	{
		T v;

		if (!pop(v))
			return std::nullopt;
		return v;
	}
	NSHM_ALWAYS_INLINE uint32_t pop_n(T *v, uint32_t n) noexcept
	{
		burst<T> b = peek_n(n);

		n = b.size();
		for (uint32_t i = 0; i < n; i++)
			std::memcpy(static_cast<void *>(v + i), &b[i], sizeof(T));
		if (n != 0)
			nshm_ring_release_n(h(), n);
		return n;
	}
	/** pop(), waiting for data until @p dl. */
	NSHM_ALWAYS_INLINE
	std::error_code pop_wait(T &v, deadline dl = deadline()) noexcept
	{
		while (!pop(v)) {
			int rc = nshm_ring_wait_readable(h(), dl.get());

			if (rc < 0)
				return error_from(rc);
		}
		return std::error_code();
	}
#if NSHM_HPP_HAVE_SPAN
	NSHM_ALWAYS_INLINE uint32_t push_n(std::span<const T> v) noexcept
	{
		return push_n(v.data(), clamp(v.size()));
	}
	NSHM_ALWAYS_INLINE uint32_t pop_n(std::span<T> v) noexcept
	{
		return pop_n(v.data(), clamp(v.size()));
	}
#endif

private:
	explicit spsc(ring &&r) noexcept : base(std::move(r)) {}
};

#ifdef NSHM_MPMC_H
/*
 * A typed multi-producer multi-consumer ring of T (NSHM_RING_MPMC; MPSC
 * and SPMC are uses of it): the C inline data path of <nshm/mpmc.h>, one
 * handle per thread. T has no seq field here (the MPMC kind keeps its own).
 */
template <class T, class Traits = element_traits<T>>
class mpmc : public detail::typed_ring<T, Traits> {
	using base = detail::typed_ring<T, Traits>;
	using base::clamp;
	using base::h;
	static_assert(Traits::seq_offset == no_seq_field,
		      "nshm::mpmc<T>: MPMC rings have no seq field option");

public:
	mpmc() noexcept = default;
	mpmc(mpmc &&) noexcept = default;
	mpmc &operator=(mpmc &&) noexcept = default;

	/**
	 * Create the ring @p name: @p max_producers and @p max_consumers
	 * role-table entries (0: NSHM_RING_MPMC_ROLES_DEFAULT each).
	 */
	static mpmc create(const char *name, uint32_t capacity,
			   uint32_t max_producers, uint32_t max_consumers,
			   role ro, unsigned int flags, unsigned int mode,
			   std::error_code &ec) noexcept
	{
		struct nshm_ring_params p = NSHM_RING_PARAMS_INIT;

		p.kind = NSHM_RING_MPMC;
		p.type = &base::type();
		p.capacity = capacity;
		p.role = static_cast<uint32_t>(ro);
		p.flags = flags;
		p.mode = mode;
		p.max_producers = max_producers;
		p.max_consumers = max_consumers;
		return mpmc(ring::create_with(name, p, ec));
	}
	static mpmc create(const char *name, uint32_t capacity, role ro,
			   std::error_code &ec) noexcept
	{
		return create(name, capacity, 0, 0, ro, 0, 0, ec);
	}
	static mpmc attach(const char *name, role ro, unsigned int flags,
			   std::error_code &ec) noexcept
	{
		return mpmc(ring::attach(name, kind::mpmc, &base::type(), ro,
					 flags, ec));
	}
	static mpmc attach(const char *name, role ro,
			   std::error_code &ec) noexcept
	{
		return attach(name, ro, 0, ec);
	}
#if NSHM_HPP_EXCEPTIONS
	static mpmc create(const char *name, uint32_t capacity, role ro,
			   uint32_t max_producers = 0,
			   uint32_t max_consumers = 0, unsigned int flags = 0,
			   unsigned int mode = 0)
	{
		std::error_code ec;
		mpmc q = create(name, capacity, max_producers, max_consumers,
				ro, flags, mode, ec);

		if (ec)
			detail::raise(ec, "nshm::mpmc::create", name);
		return q;
	}
	static mpmc attach(const char *name, role ro, unsigned int flags = 0)
	{
		std::error_code ec;
		mpmc q = attach(name, ro, flags, ec);

		if (ec)
			detail::raise(ec, "nshm::mpmc::attach", name);
		return q;
	}
#endif

	/* -- producer -- */
	NSHM_ALWAYS_INLINE
	T *reserve() noexcept { return static_cast<T *>(nshm_mpmc_reserve(h())); }
	NSHM_ALWAYS_INLINE burst<T> reserve_n(uint32_t n) noexcept
	{
		burst<T> b;

		nshm_mpmc_reserve_n(h(), n, b.c_span());
		return b;
	}
	/** All or nothing: @p n slots or none. */
	NSHM_ALWAYS_INLINE burst<T> reserve_n_all(uint32_t n) noexcept
	{
		burst<T> b;

		nshm_mpmc_reserve_n_all(h(), n, b.c_span());
		return b;
	}
	/** Publish every slot of the last reserve. */
	NSHM_ALWAYS_INLINE void commit() noexcept { nshm_mpmc_commit(h()); }
	NSHM_ALWAYS_INLINE
	bool push(const T &v) noexcept { return nshm_mpmc_push(h(), &v); }
	NSHM_ALWAYS_INLINE uint32_t push_n(const T *v, uint32_t n) noexcept
	{
		return nshm_mpmc_push_n(h(), v, n);
	}
	/** All or nothing: @return @p n or 0. */
	NSHM_ALWAYS_INLINE uint32_t push_n_all(const T *v, uint32_t n) noexcept
	{
		return nshm_mpmc_push_n_all(h(), v, n);
	}
	NSHM_ALWAYS_INLINE
	std::error_code push_wait(const T &v, deadline dl = deadline()) noexcept
	{
		return error_from(nshm_mpmc_push_wait(h(), &v, dl.get()));
	}

	/* -- consumer -- */
	NSHM_ALWAYS_INLINE
	T *peek() noexcept { return static_cast<T *>(nshm_mpmc_peek(h())); }
	NSHM_ALWAYS_INLINE burst<T> peek_n(uint32_t n) noexcept
	{
		burst<T> b;

		nshm_mpmc_peek_n(h(), n, b.c_span());
		return b;
	}
	/** Hand back every slot of the last peek. */
	NSHM_ALWAYS_INLINE void release() noexcept { nshm_mpmc_release(h()); }
	NSHM_ALWAYS_INLINE
	bool pop(T &v) noexcept { return nshm_mpmc_pop(h(), &v); }
	NSHM_ALWAYS_INLINE std::optional<T> pop() noexcept
	{
		T v;

		if (!pop(v))
			return std::nullopt;
		return v;
	}
	NSHM_ALWAYS_INLINE uint32_t pop_n(T *v, uint32_t n) noexcept
	{
		return nshm_mpmc_pop_n(h(), v, n);
	}
	NSHM_ALWAYS_INLINE
	std::error_code pop_wait(T &v, deadline dl = deadline()) noexcept
	{
		return error_from(nshm_mpmc_pop_wait(h(), &v, dl.get()));
	}
#if NSHM_HPP_HAVE_SPAN
	NSHM_ALWAYS_INLINE uint32_t push_n(std::span<const T> v) noexcept
	{
		return push_n(v.data(), clamp(v.size()));
	}
	NSHM_ALWAYS_INLINE uint32_t pop_n(std::span<T> v) noexcept
	{
		return pop_n(v.data(), clamp(v.size()));
	}
#endif
	/**
	 * nshm_mpmc_recover(): give up slots dead claimants block now.
	 * @return how many; @p ec on error.
	 */
	uint32_t recover(std::error_code &ec) noexcept
	{
		int rc = nshm_mpmc_recover(h());

		ec = error_from(rc);
		return rc > 0 ? static_cast<uint32_t>(rc) : 0u;
	}

private:
	explicit mpmc(ring &&r) noexcept : base(std::move(r)) {}
};
#endif /* NSHM_MPMC_H */

#ifdef NSHM_BCAST_H
/* Broadcast policy, fixed at create (struct nshm_ring_params.policy). */
enum class bcast_policy : uint32_t {
	lossy = NSHM_BCAST_LOSSY,
	backpressure = NSHM_BCAST_BACKPRESSURE,
};

/* Where a broadcast reader starts. */
enum class bcast_from : int {
	now = NSHM_BCAST_FROM_NOW,
	oldest = NSHM_BCAST_FROM_OLDEST,
	last = NSHM_BCAST_FROM_LAST,
};

/*
 * A typed broadcast ring of T (NSHM_RING_BROADCAST, <nshm/bcast.h>): one
 * writer (role::producer), readers as role::subscriber (read-only, lossy)
 * or role::consumer (registered, back-pressured rings). A read that was
 * overrun fails with nshm::errc::lapped and says how many it missed.
 */
template <class T, class Traits = element_traits<T>>
class bcast : public detail::typed_ring<T, Traits> {
	using base = detail::typed_ring<T, Traits>;
	using base::h;
	static_assert(Traits::seq_offset == no_seq_field,
		      "nshm::bcast<T>: broadcast rings have no seq field option");

public:
	bcast() noexcept = default;
	bcast(bcast &&) noexcept = default;
	bcast &operator=(bcast &&) noexcept = default;

	/**
	 * Create the ring @p name and return its writer. @p max_readers:
	 * back-pressured reader entries (0: NSHM_BCAST_READERS_DEFAULT);
	 * @p evict_ms: evict a live reader that blocks the writer longer.
	 */
	static bcast create(const char *name, uint32_t capacity,
			    bcast_policy policy, uint32_t max_readers,
			    uint32_t evict_ms, unsigned int flags,
			    unsigned int mode, std::error_code &ec) noexcept
	{
		struct nshm_ring_params p = NSHM_RING_PARAMS_INIT;

		p.kind = NSHM_RING_BROADCAST;
		p.type = &base::type();
		p.capacity = capacity;
		p.role = NSHM_RING_PRODUCER;
		p.flags = flags;
		p.mode = mode;
		p.policy = static_cast<uint32_t>(policy);
		p.max_consumers = max_readers;
		p.evict_ms = evict_ms;
		return bcast(ring::create_with(name, p, ec));
	}
	static bcast create(const char *name, uint32_t capacity,
			    bcast_policy policy, std::error_code &ec) noexcept
	{
		return create(name, capacity, policy, 0, 0, 0, 0, ec);
	}
	/** nshm_bcast_attach(): @p tag names a consumer for bcast_from::last. */
	static bcast attach(const char *name, role ro, bcast_from from,
			    uint32_t tag, unsigned int flags,
			    std::error_code &ec) noexcept
	{
		struct nshm_ring *r = nullptr;

		ec = error_from(nshm_bcast_attach(
			name, &base::type(), static_cast<enum nshm_ring_role>(ro),
			static_cast<enum nshm_bcast_from>(from), tag, flags, &r));
		return ec ? bcast() : bcast(ring(r));
	}
	static bcast attach(const char *name, role ro,
			    std::error_code &ec) noexcept
	{
		return attach(name, ro, bcast_from::now, 0, 0, ec);
	}
#if NSHM_HPP_EXCEPTIONS
	static bcast create(const char *name, uint32_t capacity,
			    bcast_policy policy = bcast_policy::lossy)
	{
		std::error_code ec;
		bcast q = create(name, capacity, policy, ec);

		if (ec)
			detail::raise(ec, "nshm::bcast::create", name);
		return q;
	}
	static bcast attach(const char *name, role ro,
			    bcast_from from = bcast_from::now)
	{
		std::error_code ec;
		bcast q = attach(name, ro, from, 0, 0, ec);

		if (ec)
			detail::raise(ec, "nshm::bcast::attach", name);
		return q;
	}
#endif

	/* -- writer -- */
	NSHM_ALWAYS_INLINE
	T *reserve() noexcept { return static_cast<T *>(nshm_bcast_reserve(h())); }
	NSHM_ALWAYS_INLINE void commit() noexcept { nshm_bcast_commit(h()); }
	/** @return false only when back-pressured and full, or on error. */
	NSHM_ALWAYS_INLINE
	bool publish(const T &v) noexcept { return nshm_bcast_publish(h(), &v); }
	NSHM_ALWAYS_INLINE std::error_code publish_wait(const T &v,
				     deadline dl = deadline()) noexcept
	{
		return error_from(nshm_bcast_publish_wait(h(), &v, dl.get()));
	}
	/** nshm_bcast_recover(): @return readers evicted; @p ec on error. */
	uint32_t recover(std::error_code &ec) noexcept
	{
		int rc = nshm_bcast_recover(h());

		ec = error_from(rc);
		return rc > 0 ? static_cast<uint32_t>(rc) : 0u;
	}

	/* -- readers -- */
	/**
	 * The next message into @p v: true; false with no @p ec: nothing new;
	 * false with @p ec (errc::lapped: @p missed messages were lost and
	 * the reader moved on to the oldest one still there).
	 */
	NSHM_ALWAYS_INLINE
	bool read(T &v, std::error_code &ec, uint64_t &missed) noexcept
	{
		int rc = nshm_bcast_read(h(), &v, &missed);

		ec = error_from(rc);
		return rc == 1;
	}
	NSHM_ALWAYS_INLINE bool read(T &v, std::error_code &ec) noexcept
	{
		uint64_t missed = 0;

		return read(v, ec, missed);
	}
	/** read(), waiting until @p dl: {} when @p v got a message. */
	NSHM_ALWAYS_INLINE
	std::error_code read_wait(T &v, deadline dl, uint64_t &missed) noexcept
	{
		return error_from(nshm_bcast_read_wait(h(), &v, &missed, dl.get()));
	}
	NSHM_ALWAYS_INLINE
	std::error_code read_wait(T &v, deadline dl = deadline()) noexcept
	{
		uint64_t missed = 0;

		return read_wait(v, dl, missed);
	}
	/**
	 * In place: the next message inside the ring, or nullptr (nothing
	 * new, or @p ec). It may be overwritten while you read it: act on
	 * nothing until read_end() says true (it was whole).
	 */
	NSHM_ALWAYS_INLINE
	const T *read_begin(std::error_code &ec, uint64_t &missed) noexcept
	{
		const void *p = nullptr;
		int rc = nshm_bcast_read_begin(h(), &p, &missed);

		ec = error_from(rc);
		return rc == 1 ? static_cast<const T *>(p) : nullptr;
	}
	NSHM_ALWAYS_INLINE
	bool read_end(std::error_code &ec, uint64_t &missed) noexcept
	{
		int rc = nshm_bcast_read_end(h(), &missed);

		ec = error_from(rc);
		return rc == 1;
	}
	/** nshm_bcast_rejoin(): move to @p from, registering again if evicted. */
	std::error_code rejoin(bcast_from from) noexcept
	{
		return error_from(nshm_bcast_rejoin(
			h(), static_cast<enum nshm_bcast_from>(from)));
	}
	/** bcast_from::last found the tag's old cursor. */
	bool resumed() const noexcept { return nshm_bcast_resumed(h()) == 1; }

private:
	explicit bcast(ring &&r) noexcept : base(std::move(r)) {}
};
#endif /* NSHM_BCAST_H */

} // namespace nshm

namespace std {
template <> struct is_error_code_enum<nshm::errc> : true_type {};
} // namespace std

#endif /* NSHM_NSHM_HPP */
