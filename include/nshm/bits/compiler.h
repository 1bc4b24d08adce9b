/* SPDX-License-Identifier: MIT */
#ifndef NSHM_BITS_COMPILER_H
#define NSHM_BITS_COMPILER_H

/*
 * Internal to nshm's public headers: do not include directly. Compiler
 * helpers shared by the inline fast paths; valid C11 and C++17 on.
 */
#if !defined(NSHM_INSIDE_RING_H)
#error "include <nshm/ring.h> instead of <nshm/bits/compiler.h>"
#endif

#include <stddef.h>

#ifndef nshm_likely
#define nshm_likely(x) __builtin_expect(!!(x), 1)
#define nshm_unlikely(x) __builtin_expect(!!(x), 0)
#endif

/* One cache line, and the pair the adjacent-line prefetcher pulls in. */
#define NSHM_CACHELINE 64
#define NSHM_LINE_PAIR 128

/* alignas that is spelled the same in C11 and C++. */
#define NSHM_ALIGNED(n) __attribute__((aligned(n)))
#define NSHM_ALWAYS_INLINE inline __attribute__((always_inline))
/*
 * For the functions NSHM_RING_DEFINE*() generates: a program that uses only
 * some of them must not get -Wunused-function (clang warns for static
 * inline functions defined in the main file).
 */
#define NSHM_MAYBE_UNUSED __attribute__((unused))

#ifdef __cplusplus
#define NSHM_ALIGNOF(T) alignof(T)
#define NSHM_STATIC_ASSERT(c, m) static_assert(c, m)
#else
#define NSHM_ALIGNOF(T) _Alignof(T)
#define NSHM_STATIC_ASSERT(c, m) _Static_assert(c, m)
#endif

/* Debug-only check of caller bugs on the fast path (STYLE B.3). */
#if defined(NSHM_DEBUG)
#include <assert.h>
#define NSHM_ASSERT(c) assert(c)
#else
#define NSHM_ASSERT(c) ((void)0)
#endif

/* Busy-wait hint. */
static NSHM_ALWAYS_INLINE void nshm_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#else
	__asm__ __volatile__("" ::: "memory");
#endif
}

#endif /* NSHM_BITS_COMPILER_H */
