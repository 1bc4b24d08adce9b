/* SPDX-License-Identifier: MIT */
/*
 * A plain NSPR program, written like NSPR's pr/tests/nameshm1.c: it knows
 * nothing of nshm. The pkg-config test builds it unchanged twice, against
 * nshm-nspr.pc (it must then use nshm) and against nspr.pc (real NSPR).
 *
 *	nspr_prog -n NAME       BasicTest + ReadOnlyTest + error codes
 *	nspr_prog -n NAME -k    create NAME, fill it, keep it (no delete)
 *	nspr_prog -n NAME -c    open NAME, check the fill, delete it
 *
 * Exit status 0 and "PASS" when every step did what NSPR documents.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <prerror.h>
#include <prinit.h>
#include <prshm.h>

#define SHM_SIZE (10 * 1024)
#define SHM_MODE 0666

static int failed;

static void fail(const char *what)
{
	fprintf(stderr, "nspr_prog: %s failed: PR_GetError %d, OS error %d\n",
		what, (int)PR_GetError(), (int)PR_GetOSError());
	failed = 1;
}

static void basic_test(const char *name)
{
	PRSharedMemory *shm;
	char *addr;
	PRIntn i;

	(void)PR_DeleteSharedMemory(name); /* leftovers: ignore failure */
	shm = PR_OpenSharedMemory(name, SHM_SIZE, PR_SHM_CREATE | PR_SHM_EXCL,
				  SHM_MODE);
	if (shm == NULL) {
		fail("BasicTest: PR_OpenSharedMemory");
		return;
	}
	addr = PR_AttachSharedMemory(shm, 0);
	if (addr == NULL) {
		fail("BasicTest: PR_AttachSharedMemory");
		return;
	}
	for (i = 0; i < SHM_SIZE; i++)
		addr[i] = (char)i;
	if (PR_DetachSharedMemory(shm, addr) != PR_SUCCESS)
		fail("BasicTest: PR_DetachSharedMemory");
	if (PR_CloseSharedMemory(shm) != PR_SUCCESS)
		fail("BasicTest: PR_CloseSharedMemory");
	if (PR_DeleteSharedMemory(name) != PR_SUCCESS)
		fail("BasicTest: PR_DeleteSharedMemory");
}

static void read_only_test(const char *name)
{
	PRSharedMemory *shm, *again;
	char *addr;
	PRIntn i;

	shm = PR_OpenSharedMemory(name, SHM_SIZE, PR_SHM_CREATE | PR_SHM_EXCL,
				  SHM_MODE);
	if (shm == NULL) {
		fail("ReadOnlyTest: PR_OpenSharedMemory");
		return;
	}
	addr = PR_AttachSharedMemory(shm, PR_SHM_READONLY);
	if (addr == NULL) {
		fail("ReadOnlyTest: PR_AttachSharedMemory");
		return;
	}
	for (i = 0; i < SHM_SIZE; i++)
		if (addr[i] != 0)
			fail("ReadOnlyTest: new segment not zero-filled");

	/* Error codes NSPR documents, on the live segment. */
	again = PR_OpenSharedMemory(name, SHM_SIZE, PR_SHM_CREATE | PR_SHM_EXCL,
				    SHM_MODE);
	if (again != NULL || PR_GetError() != PR_FILE_EXISTS_ERROR)
		fail("ReadOnlyTest: EXCL on an existing segment");

	if (PR_DetachSharedMemory(shm, addr) != PR_SUCCESS)
		fail("ReadOnlyTest: PR_DetachSharedMemory");
	if (PR_CloseSharedMemory(shm) != PR_SUCCESS)
		fail("ReadOnlyTest: PR_CloseSharedMemory");
	if (PR_DeleteSharedMemory(name) != PR_SUCCESS)
		fail("ReadOnlyTest: PR_DeleteSharedMemory");

	again = PR_OpenSharedMemory(name, SHM_SIZE, 0, SHM_MODE);
	if (again != NULL || PR_GetError() != PR_FILE_NOT_FOUND_ERROR)
		fail("ReadOnlyTest: open of a deleted name");
}

static void keep(const char *name)
{
	PRSharedMemory *shm;
	char *addr;

	shm = PR_OpenSharedMemory(name, SHM_SIZE, PR_SHM_CREATE | PR_SHM_EXCL,
				  SHM_MODE);
	if (shm == NULL) {
		fail("keep: PR_OpenSharedMemory");
		return;
	}
	addr = PR_AttachSharedMemory(shm, 0);
	if (addr == NULL) {
		fail("keep: PR_AttachSharedMemory");
		return;
	}
	strcpy(addr, "FooBar");
	if (PR_DetachSharedMemory(shm, addr) != PR_SUCCESS)
		fail("keep: PR_DetachSharedMemory");
	if (PR_CloseSharedMemory(shm) != PR_SUCCESS)
		fail("keep: PR_CloseSharedMemory");
}

static void check(const char *name)
{
	PRSharedMemory *shm;
	char *addr;

	shm = PR_OpenSharedMemory(name, SHM_SIZE, 0, SHM_MODE);
	if (shm == NULL) {
		fail("check: PR_OpenSharedMemory");
		return;
	}
	addr = PR_AttachSharedMemory(shm, PR_SHM_READONLY);
	if (addr == NULL) {
		fail("check: PR_AttachSharedMemory");
		return;
	}
	if (strcmp(addr, "FooBar") != 0)
		fail("check: contents");
	if (PR_DetachSharedMemory(shm, addr) != PR_SUCCESS)
		fail("check: PR_DetachSharedMemory");
	if (PR_CloseSharedMemory(shm) != PR_SUCCESS)
		fail("check: PR_CloseSharedMemory");
	if (PR_DeleteSharedMemory(name) != PR_SUCCESS)
		fail("check: PR_DeleteSharedMemory");
}

int main(int argc, char **argv)
{
	const char *name = "/tmp/xxxNSPRshm";
	char mode = 't';
	int opt;

	while ((opt = getopt(argc, argv, "n:kc")) != -1) {
		switch (opt) {
		case 'n':
			name = optarg;
			break;
		case 'k':
		case 'c':
			mode = (char)opt;
			break;
		default:
			fprintf(stderr, "usage: %s [-n name] [-k|-c]\n",
				argv[0]);
			return 2;
		}
	}

	PR_Init(PR_USER_THREAD, PR_PRIORITY_NORMAL, 0);
	if (mode == 'k') {
		keep(name);
	} else if (mode == 'c') {
		check(name);
	} else {
		basic_test(name);
		read_only_test(name);
	}
	printf("%s\n", failed ? "FAIL" : "PASS");
	PR_Cleanup();
	return failed;
}
