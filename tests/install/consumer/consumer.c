/* An outside program: create, attach, write, reopen, read, delete. */
#include <stdio.h>
#include <string.h>
#include <nshm/shm.h>

int main(int argc, char **argv)
{
	struct nshm_seg *a, *b;
	char *p, *q;

	if (argc < 2)
		return 2;
	if (nshm_seg_open(argv[1], 4096, NSHM_CREATE | NSHM_EXCL, 0600, &a) ||
	    nshm_seg_attach(a, 0, (void **)&p))
		return fprintf(stderr, "%s\n", nshm_errdetail()), 1;
	strcpy(p, "hello from an installed nshm");
	if (nshm_seg_open(argv[1], 0, 0, 0, &b) ||
	    nshm_seg_attach(b, NSHM_READONLY, (void **)&q))
		return 1;
	if (strcmp(q, p) != 0)
		return 1;
	nshm_seg_detach(b, q);
	nshm_seg_detach(a, p);
	nshm_seg_close(b);
	nshm_seg_close(a);
	return nshm_seg_delete(argv[1]) == 0 ? 0 : 1;
}
