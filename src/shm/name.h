/* SPDX-License-Identifier: MIT */
#ifndef NSHM_SHM_NAME_H
#define NSHM_SHM_NAME_H

#include <limits.h>
#include <stdint.h>

#include <nshm/shm.h>

/* A validated name, split the way its backend needs it. */
struct nshm__name {
	enum nshm_backend backend;
	char canon[PATH_MAX + 8]; /* "ticks", "sysv:ticks", "file:<path>" */
	char dir[PATH_MAX];	  /* POSIX: /dev/shm; file: the directory */
	char leaf[NAME_MAX + 1];  /* POSIX/file: the entry in dir */
	uint32_t sysv_key;	  /* SysV: key derived from the name */
};

/* Where POSIX shared memory lives (what shm_open(3) uses on Linux). */
#define NSHM_POSIX_DIR "/dev/shm"

/*
 * Validate @name and split it. Touches no system state.
 * @return 0, -EINVAL (NULL), -NSHM_EBADNAME or -ENAMETOOLONG; on error
 *         nshm_errdetail() says what is wrong with it.
 */
int nshm__name_parse(const char *name, struct nshm__name *out);

#endif
