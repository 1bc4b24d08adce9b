/* SPDX-License-Identifier: MIT */
/*
 * NSPR's named shared memory (prshm.h) over nshm segments.
 *
 * Each PR_* function keeps NSPR's signature, flags and PR_GetError() codes
 * (see doc/nspr.md for the table, case by case, against NSPR 4.35 on Linux).
 * Names are mapped with nshm_nspr_name() to POSIX-backend nshm names; errors
 * from nshm are mapped to the closest PRErrorCode, with the errno (or
 * NSHM_E* code) as the OS error and nshm's detail as the error text.
 *
 * Where NSPR crashes (NULL name), leaves stray files (size 0 on create,
 * delete of a missing name) or lets mode bits leak into IPC flags, we fail
 * with a clear error and leave nothing behind.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <prerror.h>
#include <prinit.h>
#include <prshm.h>

#include <nshm/prshm.h>
#include <nshm/shm.h>

#define PRSHM_MAGIC 0x4e535052u /* "NSPR" */

/* NSPR's handle is opaque (prshm.h); this is ours. */
struct PRSharedMemory {
	uint32_t magic; /* PRSHM_MAGIC while open, 0 after close */
	struct nshm_seg *seg;
	PRSize size; /* as asked; attach maps the whole segment */
	PRIntn flags;
	PRIntn mode;
};

/* PR_Open/Delete initialise NSPR implicitly, as NSPR's own versions do. */
static void implicit_init(void)
{
	if (!PR_Initialized())
		PR_Init(PR_USER_THREAD, PR_PRIORITY_NORMAL, 0);
}

/* The PRErrorCode closest to a (positive) errno or NSHM_E* code. */
static PRErrorCode map_code(int err)
{
	switch (err) {
	case EINVAL:
	case NSHM_EBADNAME:
	case NSHM_ETYPE:
	case NSHM_EKIND:
		return PR_INVALID_ARGUMENT_ERROR;
	case ENAMETOOLONG:
		return PR_NAME_TOO_LONG_ERROR;
	case EEXIST:
	case NSHM_ECOLLISION:
		return PR_FILE_EXISTS_ERROR;
	case ENOENT:
		return PR_FILE_NOT_FOUND_ERROR;
	case EACCES:
	case EPERM:
		return PR_NO_ACCESS_RIGHTS_ERROR;
	case ELOOP:
		return PR_LOOP_ERROR;
	case EISDIR:
		return PR_IS_DIRECTORY_ERROR;
	case ENOTDIR:
		return PR_NOT_DIRECTORY_ERROR;
	case EROFS:
		return PR_READ_ONLY_FILESYSTEM_ERROR;
	case ENOSPC:
		return PR_NO_DEVICE_SPACE_ERROR;
	case EFBIG:
		return PR_FILE_TOO_BIG_ERROR;
	case ENOMEM:
		return PR_OUT_OF_MEMORY_ERROR;
	case EMFILE:
		return PR_PROC_DESC_TABLE_FULL_ERROR;
	case ENFILE:
		return PR_SYS_DESC_TABLE_FULL_ERROR;
	case ETIMEDOUT:
		return PR_IO_TIMEOUT_ERROR;
	case EINTR:
		return PR_PENDING_INTERRUPT_ERROR;
	case EBADF:
		return PR_BAD_DESCRIPTOR_ERROR;
	case EBUSY:
		return PR_FILE_IS_BUSY_ERROR;
	case EOVERFLOW:
		return PR_BUFFER_OVERFLOW_ERROR;
	case EIO:
		return PR_IO_ERROR;
	case EBADMSG:	      /* the name holds something not nshm */
	case EPROTO:	      /* an nshm segment of another layout */
	case ENOTRECOVERABLE: /* poisoned: delete and recreate */
	case NSHM_ECORRUPT:
	case NSHM_ETRUNCATED:
	case NSHM_EPEERDEAD:
		return PR_INVALID_STATE_ERROR;
	default:
		return PR_UNKNOWN_ERROR;
	}
}

/*
 * PR_SetError(code, os) for nshm error @err (negative). @why, if not NULL,
 * becomes the error text; otherwise nshm's detail of its last failure does.
 */
static void set_error(int err, const char *why)
{
	int os = err < 0 ? -err : err;
	const char *text = why != NULL ? why : nshm_errdetail();

	PR_SetError(map_code(os), os);
	if (text != NULL && text[0] != '\0')
		PR_SetErrorText((PRIntn)strlen(text), text);
}

/* Opt-in to segments another uid owns (secure_getenv: not when set-uid). */
static int allow_other_owner(void)
{
	const char *v = secure_getenv("NSHM_NSPR_ALLOW_OTHER_OWNER");

	return v != NULL && strcmp(v, "1") == 0;
}

static int handle_ok(const PRSharedMemory *shm)
{
	return shm != NULL && shm->magic == PRSHM_MAGIC;
}

/* Map @name, setting the NSPR error on failure. @return 0 or -1. */
static int map_name(const char *name, char *buf, size_t size)
{
	int rc;

	if (name == NULL) {
		set_error(-EINVAL, "NULL shared-memory name");
		return -1;
	}
	rc = nshm_nspr_name(name, buf, size);
	if (rc == -ENAMETOOLONG) {
		set_error(rc, "shared-memory name too long: mapped to an nshm "
			      "name it exceeds NSHM_NAME_MAX (200) bytes");
		return -1;
	}
	if (rc < 0) {
		set_error(rc, "empty shared-memory name");
		return -1;
	}
	return 0;
}

PR_IMPLEMENT(PRSharedMemory *)
PR_OpenSharedMemory(const char *name, PRSize size, PRIntn flags, PRIntn mode)
{
	char nname[NSHM_NAME_MAX + 1];
	unsigned int nflags = 0;
	struct nshm_seg *seg = NULL;
	PRSharedMemory *shm;
	char why[96];
	int rc;

	implicit_init();
	if (map_name(name, nname, sizeof(nname)) != 0)
		return NULL;
	if (mode < 0 || mode > 0777) {
		/* NSPR ORs them into shmget() flags: IPC_CREAT and worse. */
		snprintf(why, sizeof(why),
			 "mode %#o: only permission bits (0777) are allowed",
			 (unsigned int)mode);
		set_error(-EINVAL, why);
		return NULL;
	}
	/* As in NSPR, EXCL without CREATE is ignored, other bits too. */
	if (flags & PR_SHM_CREATE) {
		nflags |= NSHM_CREATE;
		if (flags & PR_SHM_EXCL)
			nflags |= NSHM_EXCL;
	}
	if (allow_other_owner())
		nflags |= NSHM_ALLOW_OTHER_OWNER;

	shm = calloc(1, sizeof(*shm));
	if (shm == NULL) {
		set_error(-ENOMEM, "out of memory for the handle");
		return NULL;
	}

	/*
	 * Size 0 opens an existing segment (EXCL: PR_FILE_EXISTS_ERROR) and
	 * fails with PR_INVALID_ARGUMENT_ERROR for a new name, leaving
	 * nothing behind (NSPR: PR_FILE_NOT_FOUND_ERROR and a stray file).
	 */
	rc = nshm_seg_open(nname, size, nflags, (unsigned int)mode, &seg);
	if (rc != 0) {
		set_error(rc, NULL);
		goto fail;
	}

	shm->magic = PRSHM_MAGIC;
	shm->seg = seg;
	shm->size = size;
	shm->flags = flags;
	shm->mode = mode;
	return shm;

fail:
	free(shm);
	return NULL;
}

PR_IMPLEMENT(void *)
PR_AttachSharedMemory(PRSharedMemory *shm, PRIntn flags)
{
	void *addr = NULL;
	int rc;

	if (!handle_ok(shm)) {
		set_error(-EINVAL, "not an open PRSharedMemory handle");
		return NULL;
	}
	/* Like NSPR's SysV backend: test the bit, ignore the others. */
	rc = nshm_seg_attach(
		shm->seg, (flags & PR_SHM_READONLY) ? NSHM_READONLY : 0, &addr);
	if (rc != 0) {
		set_error(rc, NULL);
		return NULL;
	}
	return addr;
}

PR_IMPLEMENT(PRStatus)
PR_DetachSharedMemory(PRSharedMemory *shm, void *addr)
{
	int rc;

	/*
	 * NSPR's detach never reads the handle (it is shmdt(addr)), so
	 * programs may pass one that is closed already: do not touch it.
	 */
	(void)shm;
	if (addr == NULL) {
		set_error(-EINVAL, "NULL address");
		return PR_FAILURE;
	}
	rc = nshm_seg_detach(NULL, addr);
	if (rc != 0) {
		set_error(rc, NULL);
		return PR_FAILURE;
	}
	return PR_SUCCESS;
}

PR_IMPLEMENT(PRStatus)
PR_CloseSharedMemory(PRSharedMemory *shm)
{
	int rc;

	if (!handle_ok(shm)) {
		set_error(-EINVAL, "not an open PRSharedMemory handle");
		return PR_FAILURE;
	}
	/* Mappings and the segment stay, as in NSPR. */
	rc = nshm_seg_close(shm->seg);
	shm->magic = 0;
	shm->seg = NULL;
	free(shm);
	if (rc != 0) {
		set_error(rc, NULL);
		return PR_FAILURE;
	}
	return PR_SUCCESS;
}

PR_IMPLEMENT(PRStatus)
PR_DeleteSharedMemory(const char *name)
{
	char nname[NSHM_NAME_MAX + 1];
	int rc;

	implicit_init();
	if (map_name(name, nname, sizeof(nname)) != 0)
		return PR_FAILURE;
	/* Mappings everywhere keep working; the name is gone at once. */
	rc = nshm_seg_delete(nname);
	if (rc != 0) {
		set_error(rc, NULL);
		return PR_FAILURE;
	}
	return PR_SUCCESS;
}
