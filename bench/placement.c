/* SPDX-License-Identifier: MIT */
/* nshm-bench: choosing and pinning CPUs (hwloc when built with it). */
#include "placement.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef NSHM_BENCH_HAVE_HWLOC
#include <hwloc.h>
#endif

static int allowed_cpus(cpu_set_t *set)
{
	CPU_ZERO(set);
	if (sched_getaffinity(0, sizeof(*set), set) < 0)
		return -errno;
	return 0;
}

static void list_cpus(char *buf, size_t len, const struct placement *pl)
{
	size_t off = 0;

	buf[0] = '\0';
	for (int i = 0; i < pl->n && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%d",
					i ? "," : "", pl->cpu[i]);
}

static void describe(struct placement *pl, const char *why)
{
	char cpus[128];

	list_cpus(cpus, sizeof(cpus), pl);
	if (!pl->pinned)
		snprintf(pl->desc, sizeof(pl->desc), "unpinned: %s", why);
	else
		snprintf(pl->desc, sizeof(pl->desc),
			 "CPUs %s (%s); shared cache: %s; SMT siblings: %s; "
			 "%s",
			 cpus, pl->method, pl->shared_cache,
			 strcmp(pl->method, "hwloc") != 0 ? "not checked" :
			 pl->smt_siblings		  ? "yes" :
							    "no",
			 why);
}

static int choose_override(struct placement *pl, int n, const char *list)
{
	cpu_set_t allowed;
	const char *p = list;
	int ret = allowed_cpus(&allowed);

	if (ret < 0)
		return ret;
	pl->n = 0;
	while (*p != '\0') {
		char *end;
		long v = strtol(p, &end, 10);

		if (end == p || v < 0 || v >= CPU_SETSIZE ||
		    pl->n >= BENCH_MAX_PROCS)
			return -EINVAL;
		if (!CPU_ISSET((int)v, &allowed))
			return -EPERM;
		pl->cpu[pl->n++] = (int)v;
		p = end;
		if (*p == ',')
			p++;
		else if (*p != '\0')
			return -EINVAL;
	}
	if (pl->n == 0)
		return -EINVAL;
	/* Fewer CPUs than processes: the roles wrap around. */
	pl->pinned = true;
	snprintf(pl->method, sizeof(pl->method), "--cpus");
	snprintf(pl->shared_cache, sizeof(pl->shared_cache), "not checked");
	describe(pl, pl->n < n ? "fewer CPUs than processes: roles share CPUs"
			       : "as given");
	return 0;
}

#ifdef NSHM_BENCH_HAVE_HWLOC
static void cache_name(char *buf, size_t len, hwloc_obj_t c)
{
	unsigned long long kib = c->attr->cache.size / 1024;

	if (kib >= 1024 && kib % 1024 == 0)
		snprintf(buf, len, "L%u (%llu MiB)", c->attr->cache.depth,
			 kib / 1024);
	else
		snprintf(buf, len, "L%u (%llu KiB)", c->attr->cache.depth,
			 kib);
}

/* First usable PU of @p core, or -1. */
static int core_pu(hwloc_topology_t topo, hwloc_obj_t core,
		   hwloc_const_cpuset_t usable)
{
	hwloc_obj_t pu = NULL;

	while ((pu = hwloc_get_next_obj_inside_cpuset_by_type(
			topo, core->cpuset, HWLOC_OBJ_PU, pu)) != NULL)
		if (hwloc_bitmap_isset(usable, pu->os_index))
			return (int)pu->os_index;
	return -1;
}

static int choose_hwloc(struct placement *pl, int n)
{
	hwloc_topology_t topo;
	hwloc_bitmap_t usable;
	cpu_set_t allowed;
	int depth, ncores = 0, npus = 0;
	hwloc_obj_t o;

	if (allowed_cpus(&allowed) < 0)
		return -1;
	if (hwloc_topology_init(&topo) < 0)
		return -1;
	if (hwloc_topology_load(topo) < 0) {
		hwloc_topology_destroy(topo);
		return -1;
	}
	usable = hwloc_bitmap_dup(hwloc_topology_get_allowed_cpuset(topo));
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (!CPU_ISSET(c, &allowed))
			hwloc_bitmap_clr(usable, (unsigned)c);
	snprintf(pl->method, sizeof(pl->method), "hwloc");
	snprintf(pl->shared_cache, sizeof(pl->shared_cache), "none");

	o = NULL;
	while ((o = hwloc_get_next_obj_by_type(topo, HWLOC_OBJ_CORE, o)))
		if (core_pu(topo, o, usable) >= 0)
			ncores++;
	npus = hwloc_bitmap_weight(usable);

	/* 1. Cores under the deepest cache that holds n of them. */
	depth = hwloc_topology_get_depth(topo);
	for (int d = depth - 1; d >= 0 && ncores >= n; d--) {
		hwloc_obj_type_t t = hwloc_get_depth_type(topo, d);

		if (!hwloc_obj_type_is_dcache(t))
			continue;
		o = NULL;
		while ((o = hwloc_get_next_obj_by_depth(topo, d, o))) {
			hwloc_obj_t core = NULL;
			int k = 0;

			while (k < n &&
			       (core = hwloc_get_next_obj_inside_cpuset_by_type(
					topo, o->cpuset, HWLOC_OBJ_CORE,
					core)) != NULL) {
				int pu = core_pu(topo, core, usable);

				if (pu >= 0)
					pl->cpu[k++] = pu;
			}
			if (k == n) {
				pl->n = n;
				pl->pinned = true;
				cache_name(pl->shared_cache,
					   sizeof(pl->shared_cache), o);
				describe(pl, "one PU per core, cores share "
					     "the deepest possible cache");
				goto done;
			}
		}
	}
	/* 2. Any n cores. */
	if (ncores >= n) {
		int k = 0;

		o = NULL;
		while (k < n &&
		       (o = hwloc_get_next_obj_by_type(topo, HWLOC_OBJ_CORE,
						       o)) != NULL) {
			int pu = core_pu(topo, o, usable);

			if (pu >= 0)
				pl->cpu[k++] = pu;
		}
		pl->n = n;
		pl->pinned = true;
		describe(pl, "no cache shared by enough cores; one PU per "
			     "core");
		goto done;
	}
	/* 3. SMT siblings: more PUs than cores. */
	if (npus >= n) {
		int k = 0;

		for (int c = hwloc_bitmap_first(usable); c >= 0 && k < n;
		     c = hwloc_bitmap_next(usable, c))
			pl->cpu[k++] = c;
		pl->n = n;
		pl->pinned = true;
		pl->smt_siblings = true;
		snprintf(pl->shared_cache, sizeof(pl->shared_cache),
			 "the core's own (SMT siblings)");
		describe(pl, "too few cores: SMT siblings of one core");
		goto done;
	}
	/* 4. Fewer CPUs than processes. */
	pl->n = 0;
	pl->pinned = false;
	describe(pl, npus <= 1 ? "only one CPU is usable"
			       : "fewer CPUs than processes");
done:
	hwloc_bitmap_free(usable);
	hwloc_topology_destroy(topo);
	return 0;
}
#endif

static void choose_plain(struct placement *pl, int n)
{
	cpu_set_t allowed;
	int k = 0;

	snprintf(pl->method, sizeof(pl->method), "sched_getaffinity");
	snprintf(pl->shared_cache, sizeof(pl->shared_cache), "unknown");
	if (allowed_cpus(&allowed) == 0)
		for (int c = 0; c < CPU_SETSIZE && k < n; c++)
			if (CPU_ISSET(c, &allowed))
				pl->cpu[k++] = c;
	if (k < n) {
		pl->n = 0;
		pl->pinned = false;
		describe(pl, k <= 1 ? "only one CPU is usable"
				    : "fewer CPUs than processes");
		return;
	}
	pl->n = n;
	pl->pinned = true;
	describe(pl, "built without hwloc: first usable CPUs, cache "
		     "sharing not checked");
}

int placement_choose(struct placement *pl, int n, const char *override)
{
	memset(pl, 0, sizeof(*pl));
	if (n > BENCH_MAX_PROCS)
		return -EINVAL;
	if (override != NULL)
		return choose_override(pl, n, override);
#ifdef NSHM_BENCH_HAVE_HWLOC
	if (choose_hwloc(pl, n) == 0)
		return 0;
#endif
	choose_plain(pl, n);
	return 0;
}

int placement_pin(const struct placement *pl, int role)
{
	cpu_set_t set;

	if (!pl->pinned || pl->n == 0)
		return 0;
	CPU_ZERO(&set);
	CPU_SET(pl->cpu[role % pl->n], &set);
	if (sched_setaffinity(0, sizeof(set), &set) < 0)
		return -errno;
	return 0;
}
