/* SPDX-License-Identifier: MIT */
/*
 * "A notify with no waiter makes no system call", shown by counting.
 *
 * A forked child installs a seccomp filter that traps EVERY system call
 * (SECCOMP_RET_TRAP -> SIGSYS) except rt_sigreturn/exit/exit_group and
 * calls marked with a magic 6th argument. The SIGSYS handler counts the
 * call and re-issues it with the marker, so it still happens (a FUTEX_WAKE
 * really wakes the parent's waiter). Only calls that ignore their 6th
 * argument are made while the filter is on (futex WAKE, sched_yield).
 *
 *   phase A: 10^6 nshm_event_notify() with nobody waiting   -> 0 syscalls
 *   phase B: 1 notify while a thread of the parent is parked -> 1 (FUTEX_WAKE)
 *   phase C: 10^5 more notifies, nobody waiting again        -> 0 syscalls
 */
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <sched.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <ucontext.h>

#include <nshm/shm.h>
#include <nshm/sync.h>

#include "test_util.h"
#include "sync_test.h"

#define MARK 0x6e73686dUL /* "nshm" */

#if defined(__x86_64__)
#define ARCH_NR AUDIT_ARCH_X86_64
#define REG_ARGS(uc)                                                       \
	(uc)->uc_mcontext.gregs[REG_RDI], (uc)->uc_mcontext.gregs[REG_RSI], \
		(uc)->uc_mcontext.gregs[REG_RDX],                           \
		(uc)->uc_mcontext.gregs[REG_R10],                           \
		(uc)->uc_mcontext.gregs[REG_R8]
#define SET_RET(uc, v) ((uc)->uc_mcontext.gregs[REG_RAX] = (v))
#elif defined(__aarch64__)
#define ARCH_NR AUDIT_ARCH_AARCH64
#define REG_ARGS(uc)                                                     \
	(uc)->uc_mcontext.regs[0], (uc)->uc_mcontext.regs[1],             \
		(uc)->uc_mcontext.regs[2], (uc)->uc_mcontext.regs[3],     \
		(uc)->uc_mcontext.regs[4]
#define SET_RET(uc, v) ((uc)->uc_mcontext.regs[0] = (v))
#endif

struct shared {
	struct nshm_event ev;
	_Atomic(uint32_t) parked;    /* parent's waiter announced */
	_Atomic(uint32_t) flag;	     /* the waiter's condition */
	_Atomic(uint32_t) phase_b;   /* child: go ahead with phase B */
	_Atomic(uint64_t) count[3];  /* syscalls seen in phases A, B, C */
	_Atomic(int32_t) status;     /* 1 done, -1 seccomp unsupported */
	_Atomic(uint32_t) futex_b;   /* futex calls among count[1] */
};

static _Atomic(uint64_t) trapped;
static _Atomic(uint64_t) trapped_futex;

#ifdef ARCH_NR
static void on_sigsys(int sig, siginfo_t *si, void *ctx)
{
	ucontext_t *uc = ctx;
	long r;

	(void)sig;
	/* Relaxed: single thread; read after the phase by this thread. */
	atomic_fetch_add_explicit(&trapped, 1, memory_order_relaxed);
	if (si->si_syscall == SYS_futex)
		atomic_fetch_add_explicit(&trapped_futex, 1,
					  memory_order_relaxed);
	r = syscall(si->si_syscall, REG_ARGS(uc), MARK);
	SET_RET(uc, r < 0 ? -errno : r);
}

static int install_filter(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ARCH_NR, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_rt_sigreturn, 3, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_exit_group, 2, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_exit, 1, 0),
		BPF_JUMP(BPF_JMP | BPF_JA, 1, 0, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		/* 6th argument, low 32 bits (little-endian). */
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, args[5])),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)MARK, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
	};
	struct sock_fprog prog = {
		.len = sizeof(f) / sizeof(f[0]),
		.filter = f,
	};
	struct sigaction sa = { .sa_sigaction = on_sigsys,
				.sa_flags = SA_SIGINFO };

	if (sigaction(SIGSYS, &sa, NULL) != 0)
		return -1;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return -1;
	return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog);
}

static void child(struct shared *sh)
{
	uint64_t n;

	if (install_filter() != 0) {
		atomic_store_explicit(&sh->status, -1, memory_order_release);
		_exit(0);
	}
	/* Sanity: the counter sees a plain syscall (1 here). */
	syscall(SYS_sched_yield);
	n = atomic_load_explicit(&trapped, memory_order_relaxed);
	if (n != 1)
		_exit(3);

	/* Phase A: nobody waits. */
	atomic_store_explicit(&trapped, 0, memory_order_relaxed);
	for (uint32_t i = 0; i < 1000000; i++)
		nshm_event_notify(&sh->ev);
	atomic_store_explicit(&sh->count[0],
			      atomic_load_explicit(&trapped,
						   memory_order_relaxed),
			      memory_order_relaxed);

	/* Phase B: the parent parks a waiter; spin (no futex) for it. */
	atomic_store_explicit(&sh->phase_b, 1, memory_order_release);
	/* Acquire: pairs with the waiter's release after prepare. */
	while (!atomic_load_explicit(&sh->parked, memory_order_acquire))
		; /* pure spin: a sched_yield would be counted */
	atomic_store_explicit(&trapped, 0, memory_order_relaxed);
	atomic_store_explicit(&trapped_futex, 0, memory_order_relaxed);
	/* Release: pairs with the waiter's acquire re-check. */
	atomic_store_explicit(&sh->flag, 1, memory_order_release);
	nshm_event_notify(&sh->ev);
	atomic_store_explicit(&sh->count[1],
			      atomic_load_explicit(&trapped,
						   memory_order_relaxed),
			      memory_order_relaxed);
	atomic_store_explicit(&sh->futex_b,
			      (uint32_t)atomic_load_explicit(
				      &trapped_futex, memory_order_relaxed),
			      memory_order_relaxed);

	/* Phase C: nobody waits again. */
	atomic_store_explicit(&trapped, 0, memory_order_relaxed);
	for (uint32_t i = 0; i < 100000; i++)
		nshm_event_notify(&sh->ev);
	atomic_store_explicit(&sh->count[2],
			      atomic_load_explicit(&trapped,
						   memory_order_relaxed),
			      memory_order_relaxed);
	/* Release: pairs with the parent's acquire of status. */
	atomic_store_explicit(&sh->status, 1, memory_order_release);
	_exit(0);
}

static void *waiter(void *p)
{
	struct shared *sh = p;
	struct timespec dl;
	int ret = 0;

	nshm_deadline_in(&dl, 10000000000ull);
	/*
	 * Check, prepare, re-check, wait: checking first means a waiter that
	 * finds its condition true leaves no WAITERS bit behind.
	 */
	/* Acquire: pairs with the child's release of flag. */
	while (!atomic_load_explicit(&sh->flag, memory_order_acquire)) {
		uint32_t key = nshm_event_prepare(&sh->ev);

		/* Acquire: as above. */
		if (atomic_load_explicit(&sh->flag, memory_order_acquire))
			break;
		/* Release: pairs with the child's acquire spin. */
		atomic_store_explicit(&sh->parked, 1, memory_order_release);
		ret = nshm_event_wait(&sh->ev, key, &dl);
		if (ret != 0)
			break;
	}
	return (void *)(intptr_t)ret;
}

static void test_notify_syscall_count(void **state)
{
	struct nshm_seg *seg;
	struct shared *sh = st_segment(t_name("nosys"), 4096, &seg);
	pthread_t th;
	void *rv;
	pid_t pid;
	int status;

	(void)state;
	nshm_event_init(&sh->ev);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		child(sh);
	/* Acquire: pairs with the child's release of phase_b. */
	assert_int_equal(st_wait_eq(&sh->phase_b, 1, 10000), 0);
	assert_int_equal(pthread_create(&th, NULL, waiter, sh), 0);
	assert_int_equal(pthread_join(th, &rv), 0);
	status = t_wait(pid, 10000);
	assert_true(t_exited_ok(status));
	if (atomic_load_explicit(&sh->status, memory_order_acquire) == -1) {
		st_drop(seg, sh);
		skip(); /* seccomp unavailable here */
	}
	assert_int_equal((int)(intptr_t)rv, 0); /* woken, not timed out */
	print_message("# syscalls: %llu in 10^6 notifies without waiter, "
		      "%llu (%u futex) in 1 notify with a parked waiter, "
		      "%llu in 10^5 notifies after it\n",
		      (unsigned long long)sh->count[0],
		      (unsigned long long)sh->count[1], sh->futex_b,
		      (unsigned long long)sh->count[2]);
	assert_int_equal(sh->count[0], 0);
	assert_int_equal(sh->count[1], 1);
	assert_int_equal(sh->futex_b, 1);
	assert_int_equal(sh->count[2], 0);
	st_drop(seg, sh);
}
#else
static void test_notify_syscall_count(void **state)
{
	(void)state;
	skip(); /* no register map for this architecture */
}
#endif

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_notify_syscall_count),
	};

	return cmocka_run_group_tests_name("sync/notify_syscalls", tests, NULL,
					   NULL);
}
