/* SPDX-License-Identifier: MIT */
#ifndef NSHM_INTERNAL_H
#define NSHM_INTERNAL_H

/* Helpers shared by every layer of the library. Never installed. */

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <nshm/common.h>

#define nshm_likely(x) __builtin_expect(!!(x), 1)
#define nshm_unlikely(x) __builtin_expect(!!(x), 0)

/*
 * Record the details of a failure for nshm_errdetail() and return @code
 * (a negative error code) so callers can write `return nshm__err(...)`.
 * Saves and restores errno.
 */
int nshm__err(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Forget the details of an earlier failure (start of each public call). */
void nshm__err_clear(void);

/* CRC-32C (Castagnoli) of @len bytes. */
uint32_t nshm__crc32c(const void *buf, size_t len);

/* CLOCK_MONOTONIC now, in nanoseconds. */
uint64_t nshm__now_ns(void);

/* Nanoseconds from now until @deadline (0 if past); UINT64_MAX for NULL. */
uint64_t nshm__ns_until(const struct timespec *deadline);

#endif /* NSHM_INTERNAL_H */
