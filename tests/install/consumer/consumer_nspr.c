/* An NSPR program, unchanged, linked through nshm::nshm-nspr. */
#include <stdio.h>
#include <string.h>
#include <prshm.h>
#include <prerror.h>

int main(int argc, char **argv)
{
	char name[256];
	PRSharedMemory *shm;
	char *p;

	if (argc < 2)
		return 2;
	snprintf(name, sizeof(name), "/tmp/%s", argv[1]);
	shm = PR_OpenSharedMemory(name, 4096, PR_SHM_CREATE | PR_SHM_EXCL, 0600);
	if (shm == NULL)
		return fprintf(stderr, "open: %d\n", PR_GetError()), 1;
	p = PR_AttachSharedMemory(shm, 0);
	if (p == NULL)
		return 1;
	strcpy(p, "nspr");
	if (PR_DetachSharedMemory(shm, p) != PR_SUCCESS ||
	    PR_CloseSharedMemory(shm) != PR_SUCCESS ||
	    PR_DeleteSharedMemory(name) != PR_SUCCESS)
		return 1;
	return 0;
}
