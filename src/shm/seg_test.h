/* SPDX-License-Identifier: MIT */
#ifndef NSHM_SEG_TEST_H
#define NSHM_SEG_TEST_H

/*
 * Test hooks of the segment layer. Not API: exported (src/libnshm.map) only
 * so that nshm's own tests can force the paths and interleavings they check.
 * Never installed. Nothing here reads the environment: a test sets what it
 * needs before it forks, and its children inherit it. Unset, every knob and
 * hook costs one relaxed load on a cold path.
 */

#include <nshm/common.h>

enum nshm__seg_knob {
	/* Nonzero: file creation skips O_TMPFILE and takes the O_EXCL
	 * fallback (what a system without O_TMPFILE or /proc does). */
	NSHM__SEG_KNOB_NO_TMPFILE = 0,
	/* How long openers wait for a creator to publish, in ms; negative:
	 * NSHM_SEG_INIT_TIMEOUT_MS (the default). */
	NSHM__SEG_KNOB_INIT_TIMEOUT_MS = 1,
	NSHM__SEG_KNOB_COUNT
};

/*
 * Set @knob to @value. @return the previous value, or LONG_MIN for an
 * unknown knob. Process-wide; not for use while other threads open.
 */
NSHM_API long nshm__seg_test_set(int knob, long value);

/* The places where the hook function is called. */
enum nshm__seg_point {
	/* A creator has a complete header (and, for nshm__seg_create_init(),
	 * an initialised area) and is about to publish it: linkat() for
	 * O_TMPFILE, the state word for SysV and the O_EXCL fallback. */
	NSHM__SEG_AT_PUBLISH = 0,
	/* A SysV opener read the state word as INIT and is about to ask
	 * whether the creator is still alive. */
	NSHM__SEG_AT_SYSV_INIT_SEEN = 1,
};

typedef void nshm__seg_test_fn(enum nshm__seg_point point, const char *name);

/* Call @fn (NULL: nothing) at each point, with the segment's canonical name. */
NSHM_API void nshm__seg_test_hook(nshm__seg_test_fn *fn);

#endif /* NSHM_SEG_TEST_H */
