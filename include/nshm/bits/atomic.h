/* SPDX-License-Identifier: MIT */
#ifndef NSHM_BITS_ATOMIC_H
#define NSHM_BITS_ATOMIC_H

/*
 * Internal to nshm's public headers: do not include directly.
 *
 * One spelling of atomics for C11 and C++17 on, so that the structs that
 * live in shared memory have one layout and the inline fast path is the
 * same code in both languages:
 *
 *	NSHM_ATOMIC(T)   C: _Atomic(T)      C++: std::atomic<T>
 *
 * and, in C++, the C11 names the inline code uses (memory_order_*,
 * atomic_*_explicit, atomic_thread_fence, ...) made visible in the global
 * namespace as the std:: ones, exactly as C++23's <stdatomic.h> does (so
 * including that header as well is harmless). For the types nshm keeps in
 * shared memory (uint32_t, uint64_t) both spellings have the same size and
 * alignment and are always lock-free, which is what lets a C process and a
 * C++ process share a ring; the asserts below check it in both languages.
 */

#include <stdint.h>

#ifdef __cplusplus
#include <atomic>
#include <type_traits>

extern "C++" {
#define NSHM_ATOMIC(T) std::atomic<T>

using std::memory_order;
using std::memory_order_relaxed;
using std::memory_order_consume;
using std::memory_order_acquire;
using std::memory_order_release;
using std::memory_order_acq_rel;
using std::memory_order_seq_cst;

using std::atomic_load_explicit;
using std::atomic_store_explicit;
using std::atomic_exchange_explicit;
using std::atomic_compare_exchange_strong_explicit;
using std::atomic_compare_exchange_weak_explicit;
using std::atomic_fetch_add_explicit;
using std::atomic_fetch_sub_explicit;
using std::atomic_fetch_and_explicit;
using std::atomic_fetch_or_explicit;
using std::atomic_fetch_xor_explicit;
using std::atomic_thread_fence;
using std::atomic_signal_fence;

static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t) &&
		      alignof(std::atomic<uint32_t>) == alignof(uint32_t),
	      "nshm: std::atomic<uint32_t> must be a plain 32-bit word");
static_assert(sizeof(std::atomic<uint64_t>) == 8 &&
		      alignof(std::atomic<uint64_t>) == 8,
	      "nshm: std::atomic<uint64_t> must be an aligned 64-bit word");
static_assert(std::atomic<uint32_t>::is_always_lock_free &&
		      std::atomic<uint64_t>::is_always_lock_free,
	      "nshm: shared-memory atomics must be lock-free across processes");
static_assert(std::is_standard_layout<std::atomic<uint64_t>>::value &&
		      std::is_standard_layout<std::atomic<uint32_t>>::value,
	      "nshm: structs with atomics must stay standard-layout");
} /* extern "C++" */

#else /* C */
#include <stdatomic.h>

#define NSHM_ATOMIC(T) _Atomic(T)

_Static_assert(sizeof(_Atomic(uint32_t)) == sizeof(uint32_t) &&
		       _Alignof(_Atomic(uint32_t)) == _Alignof(uint32_t),
	       "nshm: _Atomic(uint32_t) must be a plain 32-bit word");
_Static_assert(sizeof(_Atomic(uint64_t)) == 8 &&
		       _Alignof(_Atomic(uint64_t)) == 8,
	       "nshm: _Atomic(uint64_t) must be an aligned 64-bit word");
_Static_assert(ATOMIC_INT_LOCK_FREE == 2 && ATOMIC_LLONG_LOCK_FREE == 2,
	       "nshm: shared-memory atomics must be lock-free across processes");
#endif

#endif /* NSHM_BITS_ATOMIC_H */
