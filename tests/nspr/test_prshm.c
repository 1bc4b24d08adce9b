/* SPDX-License-Identifier: MIT */
/*
 * libnshm-nspr: NSPR's PR_*SharedMemory API over nshm.
 *
 * Every row of the error summary in the NSPR reference (NSPR 4.35 on Linux,
 * with the sane alternatives where NSPR crashes or leaves files), NSPR's own
 * test scenarios (nameshm1 BasicTest, ReadOnlyTest with a real fault,
 * ClientServerTest with two exec'd processes, semaping/semapong with fork),
 * the lifecycle rules, the name mapping and the permission cases.
 *
 * Children made by fork() never use cmocka's assertions (they would unwind
 * into the parent's test runner): they report with their exit status.
 */
#include <dlfcn.h>
#include <grp.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/sysmacros.h>
#include <sys/types.h>

#include <prerror.h>
#include <prinit.h>
#include <prshm.h>

#include <nshm/prshm.h>

#include "test_util.h"

#define SZ   (10 * 1024) /* nameshm1's size */
#define PAGE 4096

/* ---- helpers --------------------------------------------------------- */

/* A fresh NSPR path name unique to this run; its nshm name is tracked. */
static const char *nspr_name(const char *tag)
{
	static char names[128][160];
	static unsigned int seq;
	char mapped[NSHM_NAME_MAX + 1];
	char *p = names[seq % 128];

	snprintf(p, sizeof(names[0]), "/tmp/nshmt-nspr-%s-%ld-%u", tag,
		 (long)getpid(), seq);
	seq++;
	if (nshm_nspr_name(p, mapped, sizeof(mapped)) > 0)
		t_track(mapped);
	return p;
}

/* Path of the object backing @name in /dev/shm. */
static const char *devshm(const char *name)
{
	static char path[NSHM_NAME_MAX + 16];
	char mapped[NSHM_NAME_MAX + 1];

	if (nshm_nspr_name(name, mapped, sizeof(mapped)) < 0)
		return "/dev/shm/<unmappable>";
	snprintf(path, sizeof(path), "/dev/shm/%s", mapped);
	return path;
}

static int exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

#define assert_pr_error(code, os)                        \
	do {                                             \
		assert_int_equal(PR_GetError(), (code)); \
		assert_int_equal(PR_GetOSError(), (os)); \
	} while (0)

static PRSharedMemory *create(const char *name, PRSize size)
{
	PRSharedMemory *shm = PR_OpenSharedMemory(
		name, size, PR_SHM_CREATE | PR_SHM_EXCL, 0666);

	assert_non_null(shm);
	return shm;
}

/* Checks in forked children: exit with the failing line. */
#define CHILD_CHECK(cond)                                               \
	do {                                                            \
		if (!(cond)) {                                          \
			fprintf(stderr, "child: %s:%d: %s\n", __FILE__, \
				__LINE__, #cond);                       \
			_exit(__LINE__ % 250 + 1);                      \
		}                                                       \
	} while (0)

static void assert_child_ok(pid_t pid)
{
	int status;

	assert_true(pid > 0);
	status = t_wait(pid, 30000);
	if (!t_exited_ok(status))
		fail_msg("child failed: status %#x", status);
}

/* Fork a child that writes to @addr and expect it to die of SIGSEGV. */
static void assert_write_faults(volatile char *addr)
{
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		/* Die from the fault itself: no cmocka or cleanup handler. */
		signal(SIGSEGV, SIG_DFL);
		addr[0] = 1;
		_exit(0);
	}
	status = t_wait(pid, 30000);
	assert_true(status != -1);
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGSEGV)
		fail_msg("expected SIGSEGV, status %#x", status);
}

/*
 * Does a mapping of the object at @file cover @addr in this process? By
 * device and inode: the path in /proc/self/maps may be another name.
 */
static int mapped_at(const void *addr, const char *file)
{
	char line[512];
	unsigned long lo, hi, ino;
	unsigned int maj, mnr;
	struct stat st;
	int found = 0;
	FILE *f;

	if (stat(file, &st) != 0)
		return 0;
	f = fopen("/proc/self/maps", "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "%lx-%lx %*s %*s %x:%x %lu", &lo, &hi, &maj,
			   &mnr, &ino) != 5)
			continue;
		if ((uintptr_t)addr >= lo && (uintptr_t)addr < hi &&
		    ino == st.st_ino && maj == major(st.st_dev) &&
		    mnr == minor(st.st_dev))
			found = 1;
	}
	fclose(f);
	return found;
}

/* ---- NSPR initialisation and symbol binding ---------------------------- */

/*
 * Open and Delete initialise NSPR implicitly (as NSPR's do); the error
 * path of the others works without initialisation (PR_SetError itself
 * initialises). Run in fresh children: this process may be initialised.
 */
static void test_implicit_init(void **state)
{
	pid_t pid;

	(void)state;
	pid = fork();
	if (pid == 0) {
		CHILD_CHECK(!PR_Initialized());
		CHILD_CHECK(PR_DeleteSharedMemory(nspr_name("init")) ==
			    PR_FAILURE);
		CHILD_CHECK(PR_Initialized());
		CHILD_CHECK(PR_GetError() == PR_FILE_NOT_FOUND_ERROR);
		_exit(0);
	}
	assert_child_ok(pid);

	pid = fork();
	if (pid == 0) {
		const char *n = nspr_name("init");
		PRSharedMemory *shm = PR_OpenSharedMemory(n, 64, 0, 0600);

		CHILD_CHECK(shm == NULL);
		CHILD_CHECK(PR_Initialized());
		CHILD_CHECK(PR_GetError() == PR_FILE_NOT_FOUND_ERROR);
		_exit(0);
	}
	assert_child_ok(pid);

	pid = fork();
	if (pid == 0) {
		CHILD_CHECK(PR_AttachSharedMemory(NULL, 0) == NULL);
		CHILD_CHECK(PR_GetError() == PR_INVALID_ARGUMENT_ERROR);
		CHILD_CHECK(PR_CloseSharedMemory(NULL) == PR_FAILURE);
		CHILD_CHECK(PR_GetError() == PR_INVALID_ARGUMENT_ERROR);
		_exit(0);
	}
	assert_child_ok(pid);
}

/* The five functions come from libnshm-nspr, the rest of NSPR from nspr4. */
static void test_symbols_bind_to_nshm(void **state)
{
	void *const ours[] = {
		(void *)PR_OpenSharedMemory,   (void *)PR_AttachSharedMemory,
		(void *)PR_DetachSharedMemory, (void *)PR_CloseSharedMemory,
		(void *)PR_DeleteSharedMemory,
	};
	Dl_info info;

	(void)state;
	for (size_t i = 0; i < sizeof(ours) / sizeof(ours[0]); i++) {
		assert_int_not_equal(dladdr(ours[i], &info), 0);
		assert_non_null(strstr(info.dli_fname, "libnshm-nspr"));
	}
	/* Also what ld.so finds first by name (the program's binding). */
	assert_int_not_equal(
		dladdr(dlsym(RTLD_DEFAULT, "PR_OpenSharedMemory"), &info), 0);
	assert_non_null(strstr(info.dli_fname, "libnshm-nspr"));
	assert_int_not_equal(dladdr((void *)PR_GetError, &info), 0);
	assert_non_null(strstr(info.dli_fname, "libnspr4"));
}

/* ---- name mapping ------------------------------------------------------ */

/* Inverse of nshm_nspr_name(), to prove the mapping reversible. */
static int unmap(const char *m, char *out, size_t size)
{
	size_t n = 0;

	if (strncmp(m, "nspr.", 5) != 0)
		return -1;
	for (m += 5; *m != '\0' && n + 1 < size; m++) {
		if (*m == '_') {
			unsigned int v;

			if (sscanf(m + 1, "%2X", &v) != 1 || !m[1] || !m[2])
				return -1;
			out[n++] = (char)v;
			m += 2;
		} else {
			out[n++] = *m;
		}
	}
	out[n] = '\0';
	return 0;
}

static void test_name_mapping(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "/tmp/xxxNSPRshm", "nspr._2Ftmp_2FxxxNSPRshm" },
		{ "counter", "nspr.counter" },
		{ "a_b", "nspr.a_5Fb" },
		{ "a.b", "nspr.a_2Eb" },
		{ "a_2Eb", "nspr.a_5F2Eb" },
		{ "../x", "nspr._2E_2E_2Fx" },
		{ "x y\xff", "nspr.x_20y_FF" },
		{ "A-Z-0-9", "nspr.A-Z-0-9" },
	};
	char buf[NSHM_NAME_MAX + 1], back[NSHM_NSPR_NAME_SIZE + 1];
	char name[2048];
	int len;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		len = nshm_nspr_name(cases[i].in, buf, sizeof(buf));
		assert_int_equal(len, (int)strlen(cases[i].out));
		assert_string_equal(buf, cases[i].out);
		assert_int_equal(nshm_name_check(buf), 0);
		assert_int_equal(unmap(buf, back, sizeof(back)), 0);
		assert_string_equal(back, cases[i].in);
	}
	/* Every byte value round-trips and yields a valid nshm name. */
	for (int c = 1; c < 256; c++) {
		snprintf(name, sizeof(name), "p%cq", c);
		assert_true(nshm_nspr_name(name, buf, sizeof(buf)) > 0);
		assert_int_equal(nshm_name_check(buf), 0);
		assert_int_equal(unmap(buf, back, sizeof(back)), 0);
		assert_string_equal(back, name);
	}
	/* Limits: the mapped name may be NSHM_NAME_MAX long, not longer. */
	memset(name, 'a', NSHM_NAME_MAX - 5);
	name[NSHM_NAME_MAX - 5] = '\0';
	assert_int_equal(nshm_nspr_name(name, buf, sizeof(buf)), NSHM_NAME_MAX);
	strcat(name, "a");
	assert_int_equal(nshm_nspr_name(name, buf, sizeof(buf)), -ENAMETOOLONG);
	memset(name, '/', 65); /* 5 + 65 * 3 = 200 */
	name[65] = '\0';
	assert_int_equal(nshm_nspr_name(name, buf, sizeof(buf)), 200);
	strcat(name, "/");
	assert_int_equal(nshm_nspr_name(name, buf, sizeof(buf)), -ENAMETOOLONG);
	memset(name, 'a', 1500); /* NSPR's own limit, 1024 */
	name[1500] = '\0';
	assert_int_equal(nshm_nspr_name(name, buf, sizeof(buf)), -ENAMETOOLONG);
	/* A small buffer is a limit too; bad arguments. */
	assert_int_equal(nshm_nspr_name("counter", buf, 8), -ENAMETOOLONG);
	assert_int_equal(nshm_nspr_name("", buf, sizeof(buf)), -ENOENT);
	assert_int_equal(nshm_nspr_name(NULL, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(nshm_nspr_name("x", NULL, 10), -EINVAL);
	assert_int_equal(nshm_nspr_name("x", buf, 0), -EINVAL);
}

/* ---- NSPR's own scenarios ---------------------------------------------- */

/* nameshm1 BasicTest, plus: nshm backs it, no file at the path. */
static void test_basic(void **state)
{
	const char *name = nspr_name("basic");
	PRSharedMemory *shm;
	struct stat st;
	char *addr;
	mode_t old;

	(void)state;
	(void)PR_DeleteSharedMemory(name); /* as nameshm1: ignore failure */
	old = umask(077);
	shm = PR_OpenSharedMemory(name, SZ, PR_SHM_CREATE | PR_SHM_EXCL, 0666);
	umask(old);
	assert_non_null(shm);
	/* In /dev/shm under the mapped name, mode exact (no umask). */
	assert_int_equal(stat(devshm(name), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0666);
	assert_false(exists(name));

	addr = PR_AttachSharedMemory(shm, 0);
	assert_non_null(addr);
	assert_int_equal((uintptr_t)addr % PAGE, 0);
	for (int i = 0; i < SZ; i++)
		assert_int_equal(addr[i], 0); /* zero-filled */
	for (int i = 0; i < SZ; i++)
		addr[i] = (char)i;
	assert_int_equal(PR_DetachSharedMemory(shm, addr), PR_SUCCESS);
	assert_int_equal(PR_CloseSharedMemory(shm), PR_SUCCESS);
	assert_int_equal(PR_DeleteSharedMemory(name), PR_SUCCESS);
	assert_false(exists(devshm(name)));
	assert_false(exists(name));
}

/* nameshm1 ReadOnlyTest, with the write that must fault actually made. */
static void test_readonly(void **state)
{
	const char *name = nspr_name("ro");
	PRSharedMemory *shm = create(name, SZ);
	volatile char *ro;
	char *rw;

	(void)state;
	ro = PR_AttachSharedMemory(shm, PR_SHM_READONLY);
	assert_non_null(ro);
	rw = PR_AttachSharedMemory(shm, 0);
	assert_non_null(rw);
	rw[SZ - 1] = 42;
	assert_int_equal(ro[SZ - 1], 42); /* reads see the writes */
	assert_write_faults(ro);	  /* write to READONLY: SIGSEGV */
	assert_write_faults(ro + SZ - 1);
	assert_int_equal(rw[0], 0); /* the faulting write changed nothing */

	assert_int_equal(PR_DetachSharedMemory(shm, (void *)ro), PR_SUCCESS);
	assert_int_equal(PR_DetachSharedMemory(shm, rw), PR_SUCCESS);
	assert_int_equal(PR_CloseSharedMemory(shm), PR_SUCCESS);
	assert_int_equal(PR_DeleteSharedMemory(name), PR_SUCCESS);
}

/* Shared state of the two-process tests. */
struct pingpong {
	char msg[8];
	_Atomic(uint32_t) counter;
};

#define ROUNDS 1000

/*
 * Alternate ROUNDS increments with the other side: side 0 moves the counter
 * from 2i to 2i+1, side 1 from 2i+1 to 2i+2 (semaping/semapong's values).
 * @return 0, or -1 after 20 s without progress.
 */
static int pingpong(struct pingpong *pp, int side)
{
	for (uint32_t i = 0; i < ROUNDS; i++) {
		uint32_t want = 2 * i + (uint32_t)side;
		uint64_t spins = 0;
		time_t start = time(NULL);

		/* A: pairs with R of the other side: its writes before it. */
		while (atomic_load_explicit(&pp->counter,
					    memory_order_acquire) != want) {
			if ((++spins & 1023) == 0 && time(NULL) - start > 20)
				return -1;
			sched_yield();
		}
		/* R: pairs with A of the other side. */
		atomic_store_explicit(&pp->counter, want + 1,
				      memory_order_release);
	}
	return 0;
}

/* The client half: open existing (flags 0), attach, play side 1. */
static int client_main(const char *name)
{
	PRSharedMemory *shm =
		PR_OpenSharedMemory(name, sizeof(struct pingpong), 0, 0666);
	struct pingpong *pp;

	if (shm == NULL)
		return 10;
	pp = PR_AttachSharedMemory(shm, 0);
	if (pp == NULL)
		return 11;
	if (strcmp(pp->msg, "FooBar") != 0)
		return 12;
	if (pingpong(pp, 1) != 0)
		return 13;
	if (PR_DetachSharedMemory(shm, pp) != PR_SUCCESS)
		return 14;
	if (PR_CloseSharedMemory(shm) != PR_SUCCESS)
		return 15;
	return 0;
}

/* nameshm1 ClientServerTest: the server spawns itself (fork + exec). */
static void test_client_server(void **state)
{
	const char *name = nspr_name("cs");
	PRSharedMemory *shm;
	struct pingpong *pp;
	pid_t pid;
	int status;

	(void)state;
	(void)PR_DeleteSharedMemory(name);
	shm = create(name, SZ);
	pp = PR_AttachSharedMemory(shm, 0);
	assert_non_null(pp);
	strcpy(pp->msg, "FooBar");

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		execl("/proc/self/exe", "test_nspr_shm", "--client", name,
		      (char *)NULL);
		_exit(127);
	}
	assert_int_equal(pingpong(pp, 0), 0);
	status = t_wait(pid, 30000);
	if (!t_exited_ok(status))
		fail_msg("client failed: status %#x", status);
	assert_int_equal(atomic_load(&pp->counter), 2 * ROUNDS);

	assert_int_equal(PR_DetachSharedMemory(shm, pp), PR_SUCCESS);
	assert_int_equal(PR_CloseSharedMemory(shm), PR_SUCCESS);
	assert_int_equal(PR_DeleteSharedMemory(name), PR_SUCCESS);
	assert_false(exists(devshm(name)));
}

/* semaping/semapong: CREATE without EXCL at sizeof(int), pong forked. */
static void test_semaping(void **state)
{
	const char *name = nspr_name("counter");
	PRSharedMemory *shm;
	struct pingpong *pp;
	pid_t pid;

	(void)state;
	(void)PR_DeleteSharedMemory(name);
	shm = PR_OpenSharedMemory(name, sizeof(*pp), PR_SHM_CREATE, 0666);
	assert_non_null(shm);
	pp = PR_AttachSharedMemory(shm, 0);
	assert_non_null(pp);
	strcpy(pp->msg, "FooBar");

	pid = fork();
	if (pid == 0)
		_exit(client_main(name));
	assert_int_equal(pingpong(pp, 0), 0);
	assert_child_ok(pid);
	assert_int_equal(atomic_load(&pp->counter), 2 * ROUNDS);

	assert_int_equal(PR_DetachSharedMemory(shm, pp), PR_SUCCESS);
	assert_int_equal(PR_CloseSharedMemory(shm), PR_SUCCESS);
	assert_int_equal(PR_DeleteSharedMemory(name), PR_SUCCESS);
}

/* ---- lifecycle ----------------------------------------------------------- */

/* Each attach is a new mapping at a distinct address of the same memory. */
static void test_attach_twice_aliases(void **state)
{
	const char *name = nspr_name("alias");
	PRSharedMemory *shm = create(name, SZ);
	volatile char *a, *b;

	(void)state;
	a = PR_AttachSharedMemory(shm, 0);
	b = PR_AttachSharedMemory(shm, 0);
	assert_non_null(a);
	assert_non_null(b);
	assert_ptr_not_equal(a, b);
	a[100] = 'x';
	assert_int_equal(b[100], 'x');
	b[SZ - 1] = 'y';
	assert_int_equal(a[SZ - 1], 'y');
	/* Detaching one leaves the other working. */
	assert_int_equal(PR_DetachSharedMemory(shm, (void *)a), PR_SUCCESS);
	assert_int_equal(b[100], 'x');
	assert_int_equal(PR_DetachSharedMemory(shm, (void *)b), PR_SUCCESS);
	assert_int_equal(PR_CloseSharedMemory(shm), PR_SUCCESS);
	assert_int_equal(PR_DeleteSharedMemory(name), PR_SUCCESS);
}

/* Attach again after detach: the data is still there. */
static void test_reattach_keeps_data(void **state)
{
	const char *name = nspr_name("reattach");
	PRSharedMemory *shm = create(name, SZ);
	char *addr;

	(void)state;
	addr = PR_AttachSharedMemory(shm, 0);
	assert_non_null(addr);
	strcpy(addr, "persist");
	assert_int_equal(PR_DetachSharedMemory(shm, addr), PR_SUCCESS);
	addr = PR_AttachSharedMemory(shm, 0);
	assert_non_null(addr);
	assert_string_equal(addr, "persist");
	assert_int_equal(PR_DetachSharedMemory(shm, addr), PR_SUCCESS);
	/* And after close and a new open, in a new handle. */
	assert_int_equal(PR_CloseSharedMemory(shm), PR_SUCCESS);
	shm = PR_OpenSharedMemory(name, SZ, 0, 0666);
	assert_non_null(shm);
	addr = PR_AttachSharedMemory(shm, PR_SHM_READONLY);
	assert_non_null(addr);
	assert_string_equal(addr, "persist");
	assert_int_equal(PR_DetachSharedMemory(shm, addr), PR_SUCCESS);
	assert_int_equal(PR_CloseSharedMemory(shm), PR_SUCCESS);
	assert_int_equal(PR_DeleteSharedMemory(name), PR_SUCCESS);
}

/* Detach of anything but a live attach address: FAILURE + INVALID_ARG. */
static void test_detach_errors(void **state)
{
	const char *name = nspr_name("detach");
	PRSharedMemory *shm = create(name, 3 * PAGE);
	char local, *heap = malloc(PAGE);
	char *addr;

	(void)state;
	assert_non_null(heap);
	addr = PR_AttachSharedMemory(shm, 0);
	assert_non_null(addr);
	addr[0] = 'k';

	assert_int_equal(PR_DetachSharedMemory(shm, NULL), PR_FAILURE);
	assert_pr_error(PR_INVALID_ARGUMENT_ERROR, EINVAL);
	assert_int_equal(PR_DetachSharedMemory(shm, addr + 1), PR_FAILURE);
	assert_pr_error(PR_INVALID_ARGUMENT_ERROR, EINVAL);
	assert_int_equal(PR_DetachSharedMemory(shm, addr + PAGE), PR_FAILURE);
	assert_pr_error(PR_INVALID_ARGUMENT_ERROR, EINVAL);
	assert_int_equal(PR_DetachSharedMemory(shm, &local), PR_FAILURE);
	assert_pr_error(PR_INVALID_ARGUMENT_ERROR, EINVAL);
	assert_int_equal(PR_DetachSharedMemory(shm, heap), PR_FAILURE);
	assert_pr_error(PR_INVALID_ARGUMENT_ERROR, EINVAL);
	/* None of that unmapped anything. */
	assert_int_equal(addr[0], 'k');
	addr[3 * PAGE - 1] = 'z';

	assert_true(mapped_at(addr, devshm(name)));
	assert_int_equal(PR_DetachSharedMemory(shm, addr), PR_SUCCESS);
	/*
	 * Unmapped. (Touching it would fault, unless something else got
	 * mapped there since, so look at /proc/self/maps instead.)
	 */
	assert_false(mapped_at(addr, devshm(name)));
	assert_int_equal(PR_DetachSharedMemory(shm, addr), PR_FAILURE);
	assert_pr_error(PR_INVALID_ARGUMENT_ERROR, EINVAL);

	free(heap);
	assert_int_equal(PR_CloseSharedMemory(shm), PR_SUCCESS);
	assert_int_equal(PR_DeleteSharedMemory(name), PR_SUCCESS);
}

/* Close frees the handle only: mappings work, detach works afterwards. */
static void test_close_keeps_mappings(void **state)
{
	const char *name = nspr_name("close");
	PRSharedMemory *shm = create(name, SZ);
	PRSharedMemory *other;
	char *addr, *ro;

	(void)state;
	addr = PR_AttachSharedMemory(shm, 0);
	ro = PR_AttachSharedMemory(shm, PR_SHM_READONLY);
	assert_non_null(addr);
	assert_non_null(ro);
	assert_int_equal(PR_CloseSharedMemory(shm), PR_SUCCESS);
	strcpy(addr, "after close");
	assert_string_equal(ro, "after close");
	/* The segment and its name stay. */
	other = PR_OpenSharedMemory(name, SZ, 0, 0666);
	assert_non_null(other);
	/* NSPR's detach ignores the handle: any (or none) will do. */
	assert_int_equal(PR_DetachSharedMemory(NULL, addr), PR_SUCCESS);
	assert_int_equal(PR_DetachSharedMemory(other, ro), PR_SUCCESS);
	assert_int_equal(PR_CloseSharedMemory(other), PR_SUCCESS);

	assert_int_equal(PR_CloseSharedMemory(NULL), PR_FAILURE);
	assert_pr_error(PR_INVALID_ARGUMENT_ERROR, EINVAL);
	assert_int_equal(PR_DeleteSharedMemory(name), PR_SUCCESS);
}

/*
 * Delete while attached and open: mappings keep working, the name is gone
 * at once; CREATE then makes a new zero-filled segment.
 */
static void test_delete_while_attached(void **state)
{
	const char *name = nspr_name("delete");
	PRSharedMemory *shm = create(name, SZ), *again;
	char *addr, *fresh;

	(void)state;
	addr = PR_AttachSharedMemory(shm, 0);
	assert_non_null(addr);
	strcpy(addr, "old");
	assert_int_equal(PR_DeleteSharedMemory(name), PR_SUCCESS);
	assert_false(exists(devshm(name)));
	assert_string_equal(addr, "old");
	strcpy(addr, "still");
	assert_string_equal(addr, "still");

	assert_null(PR_OpenSharedMemory(name, SZ, 0, 0666));
	assert_pr_error(PR_FILE_NOT_FOUND_ERROR, ENOENT);
	assert_int_equal(PR_DeleteSharedMemory(name), PR_FAILURE);
	assert_pr_error(PR_FILE_NOT_FOUND_ERROR, ENOENT);

	/* The old handle still attaches the old memory. */
	fresh = PR_AttachSharedMemory(shm, 0);
	if (fresh != NULL) {
		assert_string_equal(fresh, "still");
		assert_int_equal(PR_DetachSharedMemory(shm, fresh), PR_SUCCESS);
	}

	again = PR_OpenSharedMemory(name, SZ, PR_SHM_CREATE | PR_SHM_EXCL,
				    0666);
	assert_non_null(again);
	fresh = PR_AttachSharedMemory(again, 0);
	assert_non_null(fresh);
	assert_int_equal(fresh[0], 0); /* new and zero-filled */
	assert_string_equal(addr, "still");

	assert_int_equal(PR_DetachSharedMemory(again, fresh), PR_SUCCESS);
	assert_int_equal(PR_DetachSharedMemory(shm, addr), PR_SUCCESS);
	assert_int_equal(PR_CloseSharedMemory(shm), PR_SUCCESS);
	assert_int_equal(PR_CloseSharedMemory(again), PR_SUCCESS);
	assert_int_equal(PR_DeleteSharedMemory(name), PR_SUCCESS);
}

/* ---- the error summary, row by row ------------------------------------- */

static void test_open_missing(void **state)
{
	const char *name = nspr_name("missing");

	(void)state;
	assert_null(PR_OpenSharedMemory(name, SZ, 0, 0666));
	assert_pr_error(PR_FILE_NOT_FOUND_ERROR, ENOENT);
	/* EXCL without CREATE is ignored, as in NSPR. */
	assert_null(PR_OpenSharedMemory(name, SZ, PR_SHM_EXCL, 0666));
	assert_pr_error(PR_FILE_NOT_FOUND_ERROR, ENOENT);
	assert_false(exists(devshm(name)));
	assert_false(exists(name));
	/* The empty name: NSPR's open("") fails with ENOENT too. */
	assert_null(PR_OpenSharedMemory("", SZ, PR_SHM_CREATE, 0666));
	assert_pr_error(PR_FILE_NOT_FOUND_ERROR, ENOENT);
	assert_int_equal(PR_DeleteSharedMemory(""), PR_FAILURE);
	assert_pr_error(PR_FILE_NOT_FOUND_ERROR, ENOENT);
}

static void test_open_excl_exists(void **state)
{
	const char *name = nspr_name("excl");
	PRSharedMemory *shm = create(name, SZ), *again;

	(void)state;
	assert_null(PR_OpenSharedMemory(name, SZ, PR_SHM_CREATE | PR_SHM_EXCL,
					0666));
	assert_pr_error(PR_FILE_EXISTS_ERROR, EEXIST);
	/* Also with size 0 (NSPR: exclusivity is checked first). */
	assert_null(PR_OpenSharedMemory(name, 0, PR_SHM_CREATE | PR_SHM_EXCL,
					0666));
	assert_pr_error(PR_FILE_EXISTS_ERROR, EEXIST);
	/* EXCL without CREATE: ignored, opens. */
	again = PR_OpenSharedMemory(name, SZ, PR_SHM_EXCL, 0666);
	assert_non_null(again);
	assert_int_equal(PR_CloseSharedMemory(again), PR_SUCCESS);
	assert_int_equal(PR_CloseSharedMemory(shm), PR_SUCCESS);
	assert_int_equal(PR_DeleteSharedMemory(name), PR_SUCCESS);
}

/* CREATE without EXCL on an existing segment opens it (its data). */
static void test_open_create_existing(void **state)
{
	const char *name = nspr_name("reuse");
	PRSharedMemory *shm = create(name, SZ), *again;
	char *a, *b;

	(void)state;
	a = PR_AttachSharedMemory(shm, 0);
	assert_non_null(a);
	strcpy(a, "shared");
	again = PR_OpenSharedMemory(name, SZ, PR_SHM_CREATE, 0600);
	assert_non_null(again);
	b = PR_AttachSharedMemory(again, 0);
	assert_non_null(b);
	assert_string_equal(b, "shared");
	assert_int_equal(PR_DetachSharedMemory(again, b), PR_SUCCESS);
	assert_int_equal(PR_DetachSharedMemory(shm, a), PR_SUCCESS);
	assert_int_equal(PR_CloseSharedMemory(again), PR_SUCCESS);
	assert_int_equal(PR_CloseSharedMemory(shm), PR_SUCCESS);
	assert_int_equal(PR_DeleteSharedMemory(name), PR_SUCCESS);
}

/* Larger: INVALID_ARGUMENT; smaller or 0: fine, attach maps it all. */
static void test_open_sizes(void **state)
{
	const char *name = nspr_name("sizes");
	PRSharedMemory *shm = create(name, 3 * PAGE), *small;
	char *a, *b;

	(void)state;
	a = PR_AttachSharedMemory(shm, 0);
	assert_non_null(a);
	a[3 * PAGE - 1] = 'e';

	assert_null(PR_OpenSharedMemory(name, 3 * PAGE + 1, 0, 0666));
	assert_pr_error(PR_INVALID_ARGUMENT_ERROR, EINVAL);
	assert_null(
		PR_OpenSharedMemory(name, 3 * PAGE + 1, PR_SHM_CREATE, 0666));
	assert_pr_error(PR_INVALID_ARGUMENT_ERROR, EINVAL);

	const PRSize smaller[] = { 1, PAGE, 0 };
	const PRIntn flags[] = { 0, PR_SHM_CREATE };

	for (size_t i = 0; i < 3; i++) {
		for (size_t f = 0; f < 2; f++) {
			small = PR_OpenSharedMemory(name, smaller[i], flags[f],
						    0666);
			assert_non_null(small);
			b = PR_AttachSharedMemory(small, 0);
			assert_non_null(b);
			/* The whole segment, not just the size asked. */
			assert_int_equal(b[3 * PAGE - 1], 'e');
			b[3 * PAGE - 2] = 'w';
			assert_int_equal(a[3 * PAGE - 2], 'w');
			assert_int_equal(PR_DetachSharedMemory(small, b),
					 PR_SUCCESS);
			assert_int_equal(PR_CloseSharedMemory(small),
					 PR_SUCCESS);
		}
	}
	assert_int_equal(PR_DetachSharedMemory(shm, a), PR_SUCCESS);
	assert_int_equal(PR_CloseSharedMemory(shm), PR_SUCCESS);
	assert_int_equal(PR_DeleteSharedMemory(name), PR_SUCCESS);
}

/* Size 0 with CREATE on a new name: INVALID_ARGUMENT, nothing left. */
static void test_open_size0_new(void **state)
{
	const char *name = nspr_name("size0");

	(void)state;
	assert_null(PR_OpenSharedMemory(name, 0, PR_SHM_CREATE, 0666));
	assert_pr_error(PR_INVALID_ARGUMENT_ERROR, EINVAL);
	assert_null(PR_OpenSharedMemory(name, 0, PR_SHM_CREATE | PR_SHM_EXCL,
					0666));
	assert_pr_error(PR_INVALID_ARGUMENT_ERROR, EINVAL);
	assert_false(exists(devshm(name)));
	assert_false(exists(name));
	assert_null(PR_OpenSharedMemory(name, SZ, 0, 0666));
	assert_pr_error(PR_FILE_NOT_FOUND_ERROR, ENOENT);
	/* The name is really free: CREATE|EXCL succeeds. */
	PRSharedMemory *shm = create(name, SZ);

	assert_int_equal(PR_CloseSharedMemory(shm), PR_SUCCESS);
	assert_int_equal(PR_DeleteSharedMemory(name), PR_SUCCESS);
}

/* NULL names: NSPR crashes; we fail with INVALID_ARGUMENT. */
static void test_null_name(void **state)
{
	(void)state;
	assert_null(PR_OpenSharedMemory(NULL, SZ, PR_SHM_CREATE, 0666));
	assert_pr_error(PR_INVALID_ARGUMENT_ERROR, EINVAL);
	assert_int_equal(PR_DeleteSharedMemory(NULL), PR_FAILURE);
	assert_pr_error(PR_INVALID_ARGUMENT_ERROR, EINVAL);
	assert_true(PR_GetErrorTextLength() > 0); /* and says why */
}

/* Too long: NAME_TOO_LONG (NSPR: garbled code), nothing created. */
static void test_name_too_long(void **state)
{
	char name[1600], mapped[NSHM_NAME_MAX + 1];
	PRSharedMemory *shm;

	(void)state;
	/* The longest name that maps: 195 plain bytes. */
	snprintf(name, sizeof(name), "nshmt-nspr-long-%ld-", (long)getpid());
	memset(name + strlen(name), 'x', 195 - strlen(name));
	name[195] = '\0';
	assert_int_equal(nshm_nspr_name(name, mapped, sizeof(mapped)),
			 NSHM_NAME_MAX);
	t_track(mapped);
	shm = create(name, PAGE);
	assert_int_equal(PR_CloseSharedMemory(shm), PR_SUCCESS);
	assert_int_equal(PR_DeleteSharedMemory(name), PR_SUCCESS);

	strcat(name, "x"); /* one more: too long */
	assert_null(PR_OpenSharedMemory(name, PAGE, PR_SHM_CREATE, 0666));
	assert_pr_error(PR_NAME_TOO_LONG_ERROR, ENAMETOOLONG);
	assert_int_equal(PR_DeleteSharedMemory(name), PR_FAILURE);
	assert_pr_error(PR_NAME_TOO_LONG_ERROR, ENAMETOOLONG);

	memset(name, 'a', 1500); /* beyond NSPR's 1024 */
	name[1500] = '\0';
	assert_null(PR_OpenSharedMemory(name, PAGE, PR_SHM_CREATE, 0666));
	assert_pr_error(PR_NAME_TOO_LONG_ERROR, ENAMETOOLONG);
	assert_int_equal(PR_DeleteSharedMemory(name), PR_FAILURE);
	assert_pr_error(PR_NAME_TOO_LONG_ERROR, ENAMETOOLONG);
}

/* Mode bits above 0777 (they leak into IPC flags in NSPR): refused. */
static void test_bad_mode(void **state)
{
	const char *name = nspr_name("mode");
	const PRIntn modes[] = { 01000, 01666, 04777, 0100000, -1 };
	PRSharedMemory *shm;
	struct stat st;

	(void)state;
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		assert_null(
			PR_OpenSharedMemory(name, SZ, PR_SHM_CREATE, modes[i]));
		assert_pr_error(PR_INVALID_ARGUMENT_ERROR, EINVAL);
		assert_false(exists(devshm(name)));
	}
	/* A plain mode is applied exactly. */
	shm = PR_OpenSharedMemory(name, SZ, PR_SHM_CREATE, 0640);
	assert_non_null(shm);
	assert_int_equal(stat(devshm(name), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	assert_int_equal(PR_CloseSharedMemory(shm), PR_SUCCESS);
	assert_int_equal(PR_DeleteSharedMemory(name), PR_SUCCESS);
}

/* Delete of a missing name: FAILURE + FILE_NOT_FOUND, no stray file. */
static void test_delete_missing(void **state)
{
	const char *name = nspr_name("nodelete");
	PRSharedMemory *shm;

	(void)state;
	assert_int_equal(PR_DeleteSharedMemory(name), PR_FAILURE);
	assert_pr_error(PR_FILE_NOT_FOUND_ERROR, ENOENT);
	assert_false(exists(name));
	assert_false(exists(devshm(name)));
	/* NSPR: a later CREATE|EXCL still works; so it does here. */
	shm = create(name, SZ);
	assert_int_equal(PR_CloseSharedMemory(shm), PR_SUCCESS);
	assert_int_equal(PR_DeleteSharedMemory(name), PR_SUCCESS);
}

/* Bad handles: NSPR's behaviour is undefined; we fail cleanly. */
static void test_bad_handles(void **state)
{
	uint64_t junk[8] = { 0 };

	(void)state;
	assert_null(PR_AttachSharedMemory(NULL, 0));
	assert_pr_error(PR_INVALID_ARGUMENT_ERROR, EINVAL);
	assert_null(PR_AttachSharedMemory((PRSharedMemory *)junk, 0));
	assert_pr_error(PR_INVALID_ARGUMENT_ERROR, EINVAL);
	assert_int_equal(PR_CloseSharedMemory(NULL), PR_FAILURE);
	assert_pr_error(PR_INVALID_ARGUMENT_ERROR, EINVAL);
	assert_int_equal(PR_CloseSharedMemory((PRSharedMemory *)junk),
			 PR_FAILURE);
	assert_pr_error(PR_INVALID_ARGUMENT_ERROR, EINVAL);
}

/* Flag bits NSPR does not define are ignored, as NSPR ignores them. */
static void test_unknown_flags_ignored(void **state)
{
	const char *name = nspr_name("flags");
	PRSharedMemory *shm;
	char *addr;

	(void)state;
	shm = PR_OpenSharedMemory(name, SZ, PR_SHM_CREATE | 0x100, 0600);
	assert_non_null(shm);
	addr = PR_AttachSharedMemory(shm, 0x2 | 0x100); /* not READONLY */
	assert_non_null(addr);
	addr[0] = 1; /* writable */
	assert_int_equal(PR_DetachSharedMemory(shm, addr), PR_SUCCESS);
	assert_int_equal(PR_CloseSharedMemory(shm), PR_SUCCESS);
	assert_int_equal(PR_DeleteSharedMemory(name), PR_SUCCESS);
}

/* ---- permissions, as another user -------------------------------------- */

#define NOBODY 65534

static void become_nobody(void)
{
	CHILD_CHECK(setgroups(0, NULL) == 0);
	CHILD_CHECK(setgid(NOBODY) == 0);
	CHILD_CHECK(setuid(NOBODY) == 0);
}

static void test_permissions(void **state)
{
	const char *priv = nspr_name("perm600");
	const char *pub = nspr_name("perm666");
	const char *rd = nspr_name("perm644");
	PRSharedMemory *a, *b, *c;
	char *pa;
	pid_t pid;

	(void)state;
	if (geteuid() != 0)
		skip(); /* needs root to switch users; CI runs as root */

	a = PR_OpenSharedMemory(priv, SZ, PR_SHM_CREATE | PR_SHM_EXCL, 0600);
	b = PR_OpenSharedMemory(pub, SZ, PR_SHM_CREATE | PR_SHM_EXCL, 0666);
	c = PR_OpenSharedMemory(rd, SZ, PR_SHM_CREATE | PR_SHM_EXCL, 0644);
	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(c);
	pa = PR_AttachSharedMemory(b, 0);
	assert_non_null(pa);

	pid = fork();
	if (pid == 0) {
		PRSharedMemory *s;
		char *p;

		unsetenv("NSHM_NSPR_ALLOW_OTHER_OWNER");
		become_nobody();
		/* Mode 0600, root's: denied, with and without CREATE. */
		CHILD_CHECK(PR_OpenSharedMemory(priv, SZ, 0, 0666) == NULL);
		CHILD_CHECK(PR_GetError() == PR_NO_ACCESS_RIGHTS_ERROR);
		CHILD_CHECK(PR_GetOSError() == EACCES);
		CHILD_CHECK(PR_OpenSharedMemory(priv, SZ, PR_SHM_CREATE,
						0666) == NULL);
		CHILD_CHECK(PR_GetError() == PR_NO_ACCESS_RIGHTS_ERROR);
		/* Not ours to delete. */
		CHILD_CHECK(PR_DeleteSharedMemory(priv) == PR_FAILURE);
		CHILD_CHECK(PR_GetError() == PR_NO_ACCESS_RIGHTS_ERROR);
		CHILD_CHECK(PR_DeleteSharedMemory(pub) == PR_FAILURE);
		CHILD_CHECK(PR_GetError() == PR_NO_ACCESS_RIGHTS_ERROR);

		/* 0666 but another owner: refused by default (secure). */
		CHILD_CHECK(PR_OpenSharedMemory(pub, SZ, 0, 0666) == NULL);
		CHILD_CHECK(PR_GetError() == PR_NO_ACCESS_RIGHTS_ERROR);
		CHILD_CHECK(PR_GetOSError() == EPERM);
		CHILD_CHECK(PR_OpenSharedMemory(pub, SZ, PR_SHM_CREATE, 0666) ==
			    NULL);
		CHILD_CHECK(PR_GetError() == PR_NO_ACCESS_RIGHTS_ERROR);

		/* The opt-in: NSPR's behaviour. */
		setenv("NSHM_NSPR_ALLOW_OTHER_OWNER", "1", 1);
		s = PR_OpenSharedMemory(pub, SZ, PR_SHM_CREATE, 0666);
		CHILD_CHECK(s != NULL);
		p = PR_AttachSharedMemory(s, 0);
		CHILD_CHECK(p != NULL);
		strcpy(p, "nobody");
		CHILD_CHECK(PR_DetachSharedMemory(s, p) == PR_SUCCESS);
		CHILD_CHECK(PR_CloseSharedMemory(s) == PR_SUCCESS);
		/* ... which does not override the mode. */
		CHILD_CHECK(PR_OpenSharedMemory(priv, SZ, 0, 0666) == NULL);
		CHILD_CHECK(PR_GetError() == PR_NO_ACCESS_RIGHTS_ERROR);
		CHILD_CHECK(PR_GetOSError() == EACCES);
		/* 0644: reading only; a read-write attach is denied. */
		s = PR_OpenSharedMemory(rd, SZ, 0, 0444);
		CHILD_CHECK(s != NULL);
		CHILD_CHECK(PR_AttachSharedMemory(s, 0) == NULL);
		CHILD_CHECK(PR_GetError() == PR_NO_ACCESS_RIGHTS_ERROR);
		p = PR_AttachSharedMemory(s, PR_SHM_READONLY);
		CHILD_CHECK(p != NULL && p[0] == 0);
		CHILD_CHECK(PR_DetachSharedMemory(s, p) == PR_SUCCESS);
		CHILD_CHECK(PR_CloseSharedMemory(s) == PR_SUCCESS);
		_exit(0);
	}
	assert_child_ok(pid);
	assert_string_equal(pa, "nobody");
	/* The nobody child deleted nothing. */
	assert_true(exists(devshm(priv)));
	assert_true(exists(devshm(pub)));

	assert_int_equal(PR_DetachSharedMemory(b, pa), PR_SUCCESS);
	assert_int_equal(PR_CloseSharedMemory(a), PR_SUCCESS);
	assert_int_equal(PR_CloseSharedMemory(b), PR_SUCCESS);
	assert_int_equal(PR_CloseSharedMemory(c), PR_SUCCESS);
	assert_int_equal(PR_DeleteSharedMemory(priv), PR_SUCCESS);
	assert_int_equal(PR_DeleteSharedMemory(pub), PR_SUCCESS);
	assert_int_equal(PR_DeleteSharedMemory(rd), PR_SUCCESS);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		/* First, while this process has not initialised NSPR. */
		cmocka_unit_test(test_implicit_init),
		cmocka_unit_test(test_symbols_bind_to_nshm),
		cmocka_unit_test(test_name_mapping),
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_readonly),
		cmocka_unit_test(test_client_server),
		cmocka_unit_test(test_semaping),
		cmocka_unit_test(test_attach_twice_aliases),
		cmocka_unit_test(test_reattach_keeps_data),
		cmocka_unit_test(test_detach_errors),
		cmocka_unit_test(test_close_keeps_mappings),
		cmocka_unit_test(test_delete_while_attached),
		cmocka_unit_test(test_open_missing),
		cmocka_unit_test(test_open_excl_exists),
		cmocka_unit_test(test_open_create_existing),
		cmocka_unit_test(test_open_sizes),
		cmocka_unit_test(test_open_size0_new),
		cmocka_unit_test(test_null_name),
		cmocka_unit_test(test_name_too_long),
		cmocka_unit_test(test_bad_mode),
		cmocka_unit_test(test_delete_missing),
		cmocka_unit_test(test_bad_handles),
		cmocka_unit_test(test_unknown_flags_ignored),
		cmocka_unit_test(test_permissions),
	};

	if (argc == 3 && strcmp(argv[1], "--client") == 0)
		return client_main(argv[2]);
	return cmocka_run_group_tests_name("nspr/prshm", tests, NULL, NULL);
}
