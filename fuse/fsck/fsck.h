/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The checker's public interface: what fsck.iomapfs and the tests call.
 * fsck reads the on-disk format through the filesystem objects (fs.h) and
 * the metadata engine (meta.h); nothing of the daemon depends on it.
 */
#ifndef IOMAPFS_FSCK_H
#define IOMAPFS_FSCK_H

#include <stdbool.h>
#include <stdio.h>
#include <iomapfs/progress.h>

enum { FSCK_OK = 0, FSCK_CORRECTED = 1, FSCK_REBOOT = 2, FSCK_UNCORRECTED = 4,
       FSCK_ERROR = 8, FSCK_USAGE = 16 };
struct fsck_opts {
	bool	no_change;	/* -n */
	bool	yes;		/* -y: repair what can be repaired */
	bool	verbose;
	struct progress progress;	/* optional: phases; the scan in inodes */
};
/* Check every structure on @dev_path; returns fsck(8) exit bits. */
int fs_fsck(const char *dev_path, const struct fsck_opts *opts, FILE *log);
/*
 * The same on a device the caller opened (and closes): @name is what the
 * messages call it.  The fuzz target keeps one device open across inputs,
 * so each input costs the check and not a device open.  With -n nothing is
 * written, whether or not the device was opened read-only.
 */
struct blk_dev;
int fs_fsck_dev(struct blk_dev *dev, const char *name, const struct fsck_opts *opts,
		FILE *log);

#endif /* IOMAPFS_FSCK_H */
