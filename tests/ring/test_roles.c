/* SPDX-License-Identifier: MIT */
/*
 * nshm_ring_roles(): the role table as tools see it (nshm watch shows it
 * per producer, consumer and registered reader). An MPMC producer's claim
 * in flight and a dead holder; a back-pressured broadcast reader's lag; a
 * lossy subscriber holds no entry (and a lossy ring refuses a CONSUMER:
 * -EINVAL, as bcast.h says, not -EBUSY); an observer may ask.
 */
#include <sys/wait.h>

#include "ring_test.h"
#include <nshm/bcast.h>

NSHM_MPMC_DEFINE(jq, struct msg)
NSHM_BCAST_DEFINE(md, struct msg)

static void test_mpmc_roles(void **state)
{
	const char *n = t_name("roles");
	struct jq *p = NULL, *c = NULL, *o = NULL;
	struct nshm_ring_role_info ri[8];
	struct msg *slot, m;
	int status;
	pid_t pid;

	(void)state;
	assert_int_equal(jq_create(n, 16, 2, 2, NSHM_RING_PRODUCER, 0, 0, &p),
			 0);
	assert_int_equal(jq_attach(n, NSHM_RING_CONSUMER, 0, &c), 0);
	assert_int_equal(nshm_ring_attach(n, NSHM_RING_KIND_ANY, NULL,
					  NSHM_RING_OBSERVER, 0,
					  (struct nshm_ring **)(void *)&o),
			 0);
	slot = jq_reserve(p); /* a claim in flight */
	assert_non_null(slot);
	assert_int_equal(nshm_ring_roles(jq_ring(o), ri, 8), 2);
	assert_int_equal(ri[0].role, NSHM_RING_PRODUCER);
	assert_int_equal(ri[0].alive, 1);
	assert_int_equal(ri[0].pid, getpid());
	assert_int_equal(ri[0].claimed, 1);
	assert_int_equal(ri[0].position, 0);
	assert_int_equal(ri[1].role, NSHM_RING_CONSUMER);
	assert_int_equal(ri[1].index, 2); /* after the 2 producer entries */
	assert_int_equal(ri[1].claimed, 0);
	msg_fill(slot, 0);
	jq_commit(p);
	assert_int_equal(nshm_ring_roles(jq_ring(o), ri, 8), 2);
	assert_int_equal(ri[0].claimed, 0);
	/* A second producer that dies: its entry says so. */
	pid = fork();
	if (pid == 0) {
		struct jq *d;

		_exit(jq_attach(n, NSHM_RING_PRODUCER, 0, &d) == 0 ? 0 : 1);
	}
	status = t_wait(pid, 5000);
	assert_true(t_exited_ok(status));
	assert_int_equal(nshm_ring_roles(jq_ring(o), ri, 8), 3);
	assert_int_equal(ri[1].role, NSHM_RING_PRODUCER);
	assert_int_equal(ri[1].alive, 0);
	assert_int_equal(ri[1].pid, pid);
	/* Fewer slots than entries: the count still says how many. */
	assert_int_equal(nshm_ring_roles(jq_ring(o), ri, 1), 3);
	assert_int_equal(nshm_ring_roles(NULL, ri, 1), -EINVAL);
	assert_int_equal(nshm_ring_roles(jq_ring(o), NULL, 1), -EINVAL);
	assert_int_equal(nshm_ring_roles(jq_ring(o), NULL, 0), 3);
	assert_true(jq_pop(c, &m));
	jq_close(p);
	jq_close(c);
	jq_close(o);
	nshm_ring_delete(n);
}

static void test_bcast_reader_lag(void **state)
{
	const char *n = t_name("rlag");
	struct md *w = NULL, *fast = NULL, *slow = NULL, *sub = NULL;
	struct nshm_ring_role_info ri[8];
	struct msg m;
	uint64_t missed;
	int k, readers = 0;

	(void)state;
	assert_int_equal(md_create(n, 16, NSHM_BCAST_BACKPRESSURE, 4, 0, 0, 0,
				   &w),
			 0);
	assert_int_equal(md_attach(n, NSHM_RING_CONSUMER, NSHM_BCAST_FROM_NOW,
				   1, 0, &fast),
			 0);
	assert_int_equal(md_attach(n, NSHM_RING_CONSUMER, NSHM_BCAST_FROM_NOW,
				   2, 0, &slow),
			 0);
	for (uint64_t i = 0; i < 5; i++) {
		msg_fill(&m, i);
		assert_true(md_publish(w, &m));
	}
	for (int i = 0; i < 5; i++)
		assert_int_equal(md_read(fast, &m, &missed), 1);
	k = nshm_ring_roles(md_ring(w), ri, 8);
	assert_true(k >= 3); /* the writer and the two readers */
	for (int i = 0; i < k && i < 8; i++) {
		if (!ri[i].reader)
			continue;
		readers++;
		assert_int_equal(ri[i].alive, 1);
		assert_true(ri[i].lag == 0 || ri[i].lag == 5);
	}
	assert_int_equal(readers, 2);
	/* A lossy subscriber of another ring holds no entry: not listed. */
	md_close(slow);
	md_close(fast);
	md_close(w);
	nshm_ring_delete(n);
	n = t_name("rsub");
	assert_int_equal(md_create(n, 16, NSHM_BCAST_LOSSY, 0, 0, 0, 0, &w), 0);
	assert_int_equal(md_attach(n, NSHM_RING_SUBSCRIBER,
				   NSHM_BCAST_FROM_NOW, 0, 0, &sub),
			 0);
	/* A lossy ring has no reader entries: a CONSUMER is refused. */
	assert_int_equal(md_attach(n, NSHM_RING_CONSUMER, NSHM_BCAST_FROM_NOW,
				   0, 0, &fast),
			 -EINVAL);
	assert_non_null(strstr(nshm_errdetail(), "SUBSCRIBER"));
	k = nshm_ring_roles(md_ring(w), ri, 8);
	for (int i = 0; i < k && i < 8; i++)
		assert_int_equal(ri[i].role, NSHM_RING_PRODUCER);
	md_close(sub);
	md_close(w);
	nshm_ring_delete(n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mpmc_roles),
		cmocka_unit_test(test_bcast_reader_lag),
	};

	t_register_cleanup();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
