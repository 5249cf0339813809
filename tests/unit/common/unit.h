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

/*
 * Run @s and return EXIT_SUCCESS or EXIT_FAILURE.  With a @tag the
 * scratch directory is made before and removed after, in this (parent)
 * process, so a case that fails in its forked child leaves nothing behind.
 * Suites whose fixtures manage the directory per TCase pass NULL.
 */
int unit_run(Suite *s, const char *tag);

#endif /* IOMAPFS_UNIT_H */
