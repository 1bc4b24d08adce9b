/* SPDX-License-Identifier: MIT */
#ifndef NSHM_SHM_SEG_INT_H
#define NSHM_SHM_SEG_INT_H

/*
 * Internal to src/shm/: the segment handle, and what the backends share.
 * seg.c holds the lifecycle and the header checks, seg_file.c the POSIX
 * and file backends, seg_sysv.c the System V backend.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "shm/name.h"
#include "shm/registry.h"
#include "shm/seg_layout.h"
#include "shm/seg_test.h"

#define HUGE_2M (2u << 20)

struct nshm_seg {
	struct nshm__handle_node reg; /* first: freed with the handle */
	uint64_t magic;
	uint64_t serial;	   /* owner id of the mappings it makes */
	struct nshm__name nm;
	int fd;			   /* POSIX/file; -1 for SysV */
	int shmid;		   /* SysV; -1 otherwise */
	unsigned int flags;	   /* from open */
	bool writable;		   /* may map read-write */
	bool created;
	bool huge;
	size_t user_size, map_size, page_size;
	uid_t owner;
	unsigned int mode;
	pid_t creator_pid;
	struct seg_init *init;	   /* during nshm__seg_create_init() only */
};

/* What nshm__seg_create_init() runs before it publishes. */
struct seg_init {
	int (*fn)(void *area, size_t size, void *arg);
	void *arg;
	unsigned int attach_flags;
	struct nshm__mapping *m;   /* the mapping made for fn, once made */
};

/* seg.c, for the backends. */
const struct nshm__seg_hooks *nshm__seg_get_hooks(void);
size_t nshm__seg_round_up(size_t x, size_t to);
void nshm__seg_test_point(enum nshm__seg_point point,
			  const struct nshm_seg *seg);
uint64_t nshm__seg_init_timeout_ns(void);
unsigned long long nshm__seg_read_proc_ull(const char *path);
int nshm__seg_hdr_fill(struct nshm_seg_hdr *h, const struct nshm_seg *seg);
void nshm__seg_hdr_publish(struct nshm_seg_hdr *h);
int nshm__seg_hdr_check(const struct nshm_seg_hdr *h,
			const struct nshm_seg *seg, uint64_t have);
int nshm__seg_hdr_adopt(struct nshm_seg *seg, const struct nshm_seg_hdr *h,
			size_t want);
int nshm__seg_owner_check(const struct nshm_seg *seg, uid_t uid);
int nshm__seg_no_map(int err, size_t len);
int nshm__seg_init_area(struct nshm_seg *seg);
struct nshm_seg_hdr *nshm__seg_init_hdr(const struct nshm_seg *seg);
void nshm__seg_init_undo(struct nshm_seg *seg);
long nshm__seg_knob(enum nshm__seg_knob k);
void nshm__seg_sleep_us(long us);
int nshm__seg_no_space(int err, const struct nshm_seg *seg);

/* seg_file.c: the POSIX and file backends. */
struct stat;
int nshm__seg_file_create(struct nshm_seg *seg, int dfd);
int nshm__seg_file_read_hdr(struct nshm_seg *seg, struct nshm_seg_hdr *h,
			    struct stat *st, uint64_t deadline_ns);
int nshm__seg_file_open(struct nshm_seg *seg, size_t want);
int nshm__seg_file_delete(struct nshm_seg *tmp);

/* seg_sysv.c: the System V backend. */
int nshm__seg_sysv_error(int err, const struct nshm_seg *seg);
int nshm__seg_sysv_open(struct nshm_seg *seg, size_t want);
int nshm__seg_sysv_delete(struct nshm_seg *tmp);

#endif /* NSHM_SHM_SEG_INT_H */
