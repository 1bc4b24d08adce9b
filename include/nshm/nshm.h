/* SPDX-License-Identifier: MIT */
#ifndef NSHM_NSHM_H
#define NSHM_NSHM_H

/* Umbrella header: the whole public API of libnshm. */
#include <nshm/common.h>
#include <nshm/shm.h>
#include <nshm/sync.h>
#include <nshm/ring.h>
#include <nshm/mpmc.h>
#include <nshm/bcast.h>
#include <nshm/records.h>

#endif /* NSHM_NSHM_H */
