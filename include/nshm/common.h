/* SPDX-License-Identifier: MIT */
#ifndef NSHM_COMMON_H
#define NSHM_COMMON_H

/*
 * Things every nshm header needs: the export macro, the version, and the
 * error convention.
 *
 * Errors. Every function that can fail returns 0 (or a non-negative count)
 * on success and a negative error code on failure; out-parameters are written
 * only on success. Codes are negative errno values where one fits, plus a few
 * of nshm's own above 4096 (NSHM_E*). nshm_strerror() explains any of them;
 * nshm_errdetail() says what exactly went wrong in this thread's last failing
 * call (which limit was hit and how to raise it, which field was corrupt).
 *
 *	-EINVAL           bad argument: unknown flag bits, size 0 to create,
 *	                  a mode outside 0777, NULL where a pointer is needed
 *	-ENAMETOOLONG     name longer than NSHM_NAME_MAX (or a path too long)
 *	-EEXIST           CREATE|EXCL and the name exists
 *	-ENOENT           no CREATE and the name does not exist
 *	-EACCES           the segment's mode does not grant the access asked
 *	-EPERM            owned by another user (see NSHM_ALLOW_OTHER_OWNER),
 *	                  or a file-backed name that is a hard link
 *	-ELOOP            file backend: the name is a symbolic link
 *	-EBADMSG          the name exists but is not an nshm segment
 *	-EPROTO           an nshm segment of another layout version
 *	-ENOSPC           no room: /dev/shm or the file system is full, or
 *	                  SysV shmmni/shmall exhausted
 *	-EFBIG            bigger than a system limit allows (SysV shmmax,
 *	                  file size limits)
 *	-ENOMEM           out of memory, RLIMIT_MEMLOCK, vm.max_map_count
 *	-ETIMEDOUT        the creator did not finish initialising in time
 *	-EBADF            a handle that is closed or was never opened
 *	-EBUSY            the call would unmap memory a lock is held in
 *	-EOWNERDEAD       a lock's owner died; you hold it and must repair
 *	-ENOTRECOVERABLE  the segment was poisoned: delete and recreate it
 *	-NSHM_EBADNAME    the name is malformed (characters, "..", '/')
 *	-NSHM_ECORRUPT    an nshm header whose checksum or fields are wrong
 *	-NSHM_ETRUNCATED  the backing object is shorter than its header says
 *	-NSHM_ECOLLISION  SysV: another name already uses this name's key
 *	-NSHM_EPEERDEAD   the process on the other side died
 *	-NSHM_ETYPE       attached with another element type, size or version
 *	-NSHM_EKIND       attached as another kind of object (e.g. ring kind)
 *	-NSHM_ELAPPED     a broadcast reader was overrun (<nshm/bcast.h>)
 *	-NSHM_EEVICTED    a broadcast reader was evicted (<nshm/bcast.h>)
 */

#include <errno.h>

#if defined(NSHM_STATIC)
#define NSHM_API
#elif defined(NSHM_BUILDING)
#define NSHM_API __attribute__((visibility("default")))
#else
#define NSHM_API
#endif

#define NSHM_VERSION_MAJOR 0
#define NSHM_VERSION_MINOR 1
#define NSHM_VERSION_PATCH 0

/* nshm's own error codes; functions return them negated. */
enum nshm_errc {
	NSHM_EBASE = 4096,
	NSHM_EBADNAME,	 /* malformed name */
	NSHM_ECORRUPT,	 /* nshm header with a bad checksum or bad fields */
	NSHM_ETRUNCATED, /* backing object shorter than the header says */
	NSHM_ECOLLISION, /* SysV key already used by another name */
	NSHM_EPEERDEAD,	 /* the peer process died */
	NSHM_ETYPE,	 /* wrong element type / size / type version */
	NSHM_EKIND,	 /* wrong object kind */
	NSHM_EFORKED,	 /* handle inherited across fork(): only close it */
	NSHM_ELAPPED,	 /* broadcast reader overrun: messages were missed */
	NSHM_EEVICTED,	 /* broadcast reader evicted by the writer */
	NSHM_ELAST
};

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Describe an error code returned by any nshm function.
 *
 * @param err  a negative (or positive) errno value or -NSHM_E* code.
 * @return a static, never-NULL English string.
 */
NSHM_API const char *nshm_strerror(int err);

/**
 * Details of the calling thread's most recent failing nshm call.
 *
 * @return a thread-local string such as "size 96 MiB exceeds the 64 MiB free
 *         in /dev/shm (tmpfs); raise it with mount -o remount,size=1G
 *         /dev/shm or docker run --shm-size=1g", or "" when nothing failed.
 *         Valid until the thread's next nshm call.
 */
NSHM_API const char *nshm_errdetail(void);

#ifdef __cplusplus
}
#endif
#endif /* NSHM_COMMON_H */
