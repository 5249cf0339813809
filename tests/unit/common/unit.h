/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What every unit-test executable shares: a scratch directory under
 * /var/tmp for its image files, removed with everything in it, and the
 * Check runner whose exit status ctest reads.
 */
#ifndef IOMAPFS_UNIT_H
#define IOMAPFS_UNIT_H

#include <check.h>

/* "/var/tmp/iomapfs-<tag>-XXXXXX" once unit_scratch_create() ran. */
extern char unit_scratch_dir[64];

/* Make the scratch directory; exits the process if it cannot. */
void unit_scratch_create(const char *tag);
/* Remove the files in it and the directory (not recursive). */
void unit_scratch_remove(void);

/* Exit status of a unit-test executable whose cases could not all run
 * (ctest's SKIP_RETURN_CODE, as automake and liburing's tests use). */
#define UNIT_EXIT_SKIP	77

/*
 * Record that the running case cannot run here (no loop device, a kernel
 * feature missing), with the reason; the case returns right after.  When
 * no case failed, unit_run() then returns UNIT_EXIT_SKIP and names the
 * skipped cases, so ctest reports the executable as skipped, not passed.
 * Works from Check's forked children: the record is a line in a file the
 * runner made.
 */
void unit_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Run @s and return EXIT_SUCCESS, EXIT_FAILURE or UNIT_EXIT_SKIP.  With a @tag the
 * scratch directory is made before and removed after, in this (parent)
 * process, so a case that fails in its forked child leaves nothing behind.
 * Suites whose fixtures manage the directory per TCase pass NULL.
 */
int unit_run(Suite *s, const char *tag);

#endif /* IOMAPFS_UNIT_H */
