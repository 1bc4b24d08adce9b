/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

static _Thread_local char errdetail[512];

int nshm__err(int code, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(errdetail, sizeof(errdetail), fmt, ap);
	va_end(ap);
	errno = saved;
	return code;
}

void nshm__err_clear(void)
{
	errdetail[0] = '\0';
}

const char *nshm_errdetail(void)
{
	return errdetail;
}

const char *nshm_strerror(int err)
{
	static const char *const own[] = {
		[NSHM_EBADNAME - NSHM_EBASE] =
			"invalid segment name (characters, '..' or '/')",
		[NSHM_ECORRUPT - NSHM_EBASE] =
			"corrupt nshm segment (header checksum or fields)",
		[NSHM_ETRUNCATED - NSHM_EBASE] =
			"segment is shorter than its header says (truncated)",
		[NSHM_ECOLLISION - NSHM_EBASE] =
			"System V key already used by another segment name",
		[NSHM_EPEERDEAD - NSHM_EBASE] = "peer process died",
		[NSHM_ETYPE - NSHM_EBASE] =
			"attached with a different element type, size or version",
		[NSHM_EKIND - NSHM_EBASE] =
			"attached as a different kind of object",
		[NSHM_EFORKED - NSHM_EBASE] =
			"handle inherited across fork(): the role stays with "
			"the parent; the child may only close it",
		[NSHM_ELAPPED - NSHM_EBASE] =
			"broadcast reader was overrun by the writer: messages "
			"were missed (the reader resynchronised)",
		[NSHM_EEVICTED - NSHM_EBASE] =
			"broadcast reader was evicted for blocking the writer "
			"(rejoin to read on)",
	};

	if (err < 0)
		err = -err;
	if (err == 0)
		return "success";
	if (err > NSHM_EBASE && err < NSHM_ELAST)
		return own[err - NSHM_EBASE];

	switch (err) {
	/* Where nshm gives an errno a narrower meaning, say so. */
	case EBADMSG:
		return "not an nshm segment (foreign object at this name)";
	case EPROTO:
		return "nshm segment of an incompatible layout version";
	case ENOTRECOVERABLE:
		return "state not recoverable: delete and recreate the segment";
	case EOWNERDEAD:
		return "previous lock owner died: repair, then mark consistent";
	case ETIMEDOUT:
		return "timed out";
	default:
		/* strerror() is not thread-safe; strerrordesc_np() is. */
		return strerrordesc_np(err) ? strerrordesc_np(err)
					    : "unknown error";
	}
}
