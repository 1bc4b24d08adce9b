/* SPDX-License-Identifier: MIT */
#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "internal.h"

static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0x82f63b78u & -(c & 1u));
		crc_table[i] = c;
	}
}

uint32_t nshm__crc32c(const void *buf, size_t len)
{
	const unsigned char *p = buf;
	uint32_t crc = 0xffffffffu;

	pthread_once(&crc_once, crc_init);
	while (len--)
		crc = crc_table[(crc ^ *p++) & 0xffu] ^ (crc >> 8);
	return ~crc;
}

uint64_t nshm__now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t nshm__ns_until(const struct timespec *deadline)
{
	uint64_t now, end;

	if (deadline == NULL)
		return UINT64_MAX;
	now = nshm__now_ns();
	end = (uint64_t)deadline->tv_sec * 1000000000u +
	      (uint64_t)deadline->tv_nsec;
	return end > now ? end - now : 0;
}
