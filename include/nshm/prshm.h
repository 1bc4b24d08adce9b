/* SPDX-License-Identifier: MIT */
#ifndef NSHM_PRSHM_H
#define NSHM_PRSHM_H

/*
 * NSPR's named shared memory (PR_OpenSharedMemory() and friends) over nshm.
 *
 * Programs keep including NSPR's own <prshm.h> and link libnshm-nspr before
 * libnspr4:
 *
 *	cc prog.c $(pkg-config --cflags --libs nshm-nspr)
 *
 * libnshm-nspr exports exactly PR_OpenSharedMemory, PR_AttachSharedMemory,
 * PR_DetachSharedMemory, PR_CloseSharedMemory and PR_DeleteSharedMemory,
 * with NSPR's signatures, flags and PR_GetError() codes; everything else
 * (PR_GetError, PR_Init, semaphores, ...) still comes from libnspr4. This
 * header adds nothing to link against: it documents the mapping and offers
 * nshm_nspr_name(), the name mapping as an inline function.
 *
 * Names. NSPR treats a name as a file-system path (it creates the file and
 * derives a System V key from it). nshm never touches the path: the name is
 * mapped, byte for byte, to a POSIX shared-memory name (/dev/shm/...):
 *
 *	"nspr." followed by the name, where every byte outside [A-Za-z0-9-]
 *	is written "_XX" (two upper-case hex digits): '/' -> "_2F",
 *	'.' -> "_2E", '_' -> "_5F".
 *
 *	"/tmp/xxxNSPRshm"  ->  "nspr._2Ftmp_2FxxxNSPRshm"
 *	"counter"          ->  "nspr.counter"
 *
 * The mapping is injective (reversible), so two different NSPR names never
 * share a segment. Consequences, all allowed by NSPR's documentation ("some
 * platforms may mangle it"): no file is created at the path, the directory
 * need not exist or be writable, and a relative name is NOT relative to the
 * current directory: "counter" is the same segment for every process, and
 * "/tmp/x", "/tmp//x" and "x" run from /tmp are three different segments.
 * A mapped name longer than NSHM_NAME_MAX (200) bytes, or a name of 1024
 * bytes or more (NSPR's own limit), fails with PR_NAME_TOO_LONG_ERROR; the
 * empty name fails with PR_FILE_NOT_FOUND_ERROR, as in NSPR.
 *
 * Errors. Failures return NULL or PR_FAILURE and set PR_SetError(code, os):
 * code is the NSPR code closest to what went wrong, os is the positive
 * errno or nshm code (NSHM_E*), so nshm_strerror(-PR_GetOSError()) explains
 * it; when nshm has details, PR_GetErrorText() returns them.
 *
 * Where NSPR crashes or leaves files behind, nshm fails cleanly instead:
 * a NULL name or handle, size 0 when creating a new segment, a mode with
 * bits above 0777 -> PR_INVALID_ARGUMENT_ERROR; deleting a missing name ->
 * PR_FILE_NOT_FOUND_ERROR. Nothing is ever left behind by a failed call.
 *
 * Ownership. NSPR's CREATE without EXCL opens an existing segment. nshm
 * refuses a segment another uid owns (PR_NO_ACCESS_RIGHTS_ERROR, os EPERM)
 * unless the environment says NSHM_NSPR_ALLOW_OTHER_OWNER=1 (ignored in
 * set-uid programs).
 *
 * Mode 0 means nshm's default 0600 (in NSPR it makes a segment nobody but
 * root can attach). The mode is applied exactly, not bent by umask, as
 * NSPR's SysV segments are.
 */

#include <stddef.h>
#include <prshm.h>
#include <nshm/shm.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Prefix of every mapped name. */
#define NSHM_NSPR_PREFIX    "nspr."
/* NSPR's PR_IPC_NAME_SIZE: names this long or longer are refused. */
#define NSHM_NSPR_NAME_SIZE 1024

/**
 * Map an NSPR name to the nshm (POSIX backend) name libnshm-nspr uses.
 *
 * @param name  the NSPR name (not NULL).
 * @param buf   where to write the mapped name, NUL-terminated.
 * @param size  bytes at @p buf; NSHM_NAME_MAX + 1 is always enough.
 * @return the length of the mapped name, or -ENAMETOOLONG when it is longer
 *         than NSHM_NAME_MAX or @p size - 1 (or @p name is 1024 bytes or
 *         longer), -ENOENT for the empty name, -EINVAL for NULL arguments.
 */
static inline int nshm_nspr_name(const char *name, char *buf, size_t size)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = sizeof(NSHM_NSPR_PREFIX) - 1;
	size_t limit, i;

	if (name == NULL || buf == NULL || size == 0)
		return -EINVAL;
	limit = size > NSHM_NAME_MAX ? NSHM_NAME_MAX : size - 1;
	if (name[0] == '\0')
		return -ENOENT;
	if (n > limit)
		return -ENAMETOOLONG;
	for (i = 0; i < n; i++)
		buf[i] = NSHM_NSPR_PREFIX[i];
	for (i = 0; name[i] != '\0'; i++) {
		unsigned char c = (unsigned char)name[i];
		int plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			    (c >= '0' && c <= '9') || c == '-';

		if (i + 1 >= NSHM_NSPR_NAME_SIZE)
			return -ENAMETOOLONG;
		if (n + (plain ? 1 : 3) > limit)
			return -ENAMETOOLONG;
		if (plain) {
			buf[n++] = (char)c;
		} else {
			buf[n++] = '_';
			buf[n++] = hex[c >> 4];
			buf[n++] = hex[c & 0xf];
		}
	}
	buf[n] = '\0';
	return (int)n;
}

#ifdef __cplusplus
}
#endif
#endif /* NSHM_PRSHM_H */
