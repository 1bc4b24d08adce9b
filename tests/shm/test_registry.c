/* SPDX-License-Identifier: MIT */
/*
 * The process-local table of mappings (src/shm/registry.c) under
 * concurrent readers: a detach that is refused keeps the mapping without
 * reusing the hash node a reader may still hold (issue 9).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <urcu-bp.h>
#include <nshm/shm.h>
#include <nshm/sync.h>
#include "test_util.h"

struct refuse_ctl {
	_Atomic(int) reader_in;	   /* the reader is inside its section */
	_Atomic(int) release;	   /* the reader may leave */
	_Atomic(int) detach_done;  /* the refused detach returned */
	int done_while_reading;	   /* what the checker saw */
	unsigned int attached_while_reading;
	struct nshm_seg *seg;
};

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* A lookup that began before the unlink: an RCU reader, parked. */
static void *reader(void *arg)
{
	struct refuse_ctl *c = arg;

	urcu_bp_read_lock();
	atomic_store(&c->reader_in, 1);
	while (!atomic_load(&c->release))
		sleep_ms(1);
	urcu_bp_read_unlock();
	return NULL;
}

/* While the reader is parked: has the detach returned? Is it findable? */
static void *checker(void *arg)
{
	struct refuse_ctl *c = arg;
	struct nshm_seg_info info;

	sleep_ms(150);
	c->done_while_reading = atomic_load(&c->detach_done);
	if (nshm_seg_stat(c->seg, &info) == 0)
		c->attached_while_reading = info.attached;
	atomic_store(&c->release, 1);
	return NULL;
}

/*
 * A detach refused with -EBUSY (a mutex in the mapping is held) puts the
 * mapping back. The node it was unlinked from may still be held by a
 * reader that looked it up before the unlink, so it must not go back into
 * the table (or be freed) before a grace period: the refused detach waits
 * for the parked reader, and meanwhile the mapping is already findable
 * again (a fresh node). Then the mapping keeps working and detaches later.
 * On the code before the fix, the same node went straight back in and the
 * detach returned at once, while the reader still held it.
 */
static void test_refused_detach_no_node_reuse(void **state)
{
	const char *name = t_name_in(BACKEND(state), "refuse");
	struct refuse_ctl c = { 0 };
	struct nshm_mutex *mx;
	struct nshm_seg_info info;
	pthread_t rt, ct;
	nshm_peer_t me;
	unsigned char *area;

	assert_int_equal(nshm_seg_open(name, 8192, NSHM_CREATE | NSHM_EXCL, 0,
				       &c.seg),
			 0);
	assert_int_equal(nshm_seg_attach(c.seg, 0, (void **)&area), 0);
	mx = (struct nshm_mutex *)area;
	assert_int_equal(nshm_mutex_init(mx), 0);
	assert_int_equal(nshm_mutex_lock(mx, NULL), 0);

	assert_int_equal(pthread_create(&rt, NULL, reader, &c), 0);
	while (!atomic_load(&c.reader_in))
		sleep_ms(1);
	assert_int_equal(pthread_create(&ct, NULL, checker, &c), 0);
	assert_int_equal(nshm_seg_detach(c.seg, area), -EBUSY);
	atomic_store(&c.detach_done, 1);
	assert_int_equal(pthread_join(ct, NULL), 0);
	assert_int_equal(pthread_join(rt, NULL), 0);

	if (c.done_while_reading)
		fail_msg("the refused detach returned while a reader could "
			 "still hold the unlinked node (no grace period)");
	assert_int_equal(c.attached_while_reading, 1);

	/* The mapping keeps working: lookups, the sync layer, the memory. */
	assert_int_equal(nshm_seg_stat(c.seg, &info), 0);
	assert_int_equal(info.attached, 1);
	assert_int_equal(nshm_peer_self(area, &me), 0);
	area[4096] = 0x5a;
	assert_int_equal(area[4096], 0x5a);
	/* Refused again, now with no reader about; then detached. */
	assert_int_equal(nshm_seg_detach(NULL, area), -EBUSY);
	assert_int_equal(nshm_mutex_unlock(mx), 0);
	assert_int_equal(nshm_seg_detach(c.seg, area), 0);
	assert_int_equal(nshm_seg_detach(c.seg, area), -EINVAL);
	assert_int_equal(nshm_seg_stat(c.seg, &info), 0);
	assert_int_equal(info.attached, 0);
	assert_int_equal(nshm_seg_close(c.seg), 0);
	assert_int_equal(nshm_seg_delete(name), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		PER_BACKEND(test_refused_detach_no_node_reuse),
	};

	return cmocka_run_group_tests_name("shm/registry", tests, NULL, NULL);
}
