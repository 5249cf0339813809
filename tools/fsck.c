// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fsck.iomapfs [-n|-y|-p|-f|-v|-q] DEVICE: a thin main over fs_fsck().
 *
 *   -n  check only, open the device read-only, change nothing
 *   -y  repair what can be repaired safely (also the default)
 *   -p  "preen" at boot: the same as -y, without questions
 *   -f  force a check even when the filesystem looks clean (we always
 *       check; accepted for compatibility with fsck(8))
 *   -v  verbose
 *   -q  no progress (which is shown only on a terminal anyway)
 *
 * Exit status as fsck(8): 0 clean, 1 errors corrected, 4 errors left
 * uncorrected, 8 operational error, 16 usage error.
 */
#include <stdio.h>
#include <unistd.h>
#include <iomapfs/log.h>
#include "fsck.h"
#include "progress.h"

static int usage(void)
{
	fprintf(stderr, "usage: fsck.iomapfs [-n|-y|-p|-f|-v|-q] DEVICE\n");
	return FSCK_USAGE;
}

int main(int argc, char **argv)
{
	struct fsck_opts opts = { 0 };
	struct term_progress tp;
	bool quiet = false;
	int c, ret;

	iomapfs_log_set_ident("fsck.iomapfs");
	while ((c = getopt(argc, argv, "nypfvqah")) != -1) {
		switch (c) {
		case 'n':
			opts.no_change = true;
			break;
		case 'y': case 'p': case 'a':
			opts.yes = true;
			break;
		case 'f':
			break;
		case 'v':
			opts.verbose = true;
			break;
		case 'q':
			quiet = true;
			break;
		default:
			return usage();
		}
	}
	if (optind != argc - 1)
		return usage();
	if (opts.no_change && opts.yes) {
		fprintf(stderr, "fsck.iomapfs: -n cannot be combined with -y or -p\n");
		return FSCK_USAGE;
	}
	term_progress_init(&tp, &opts.progress, "fsck.iomapfs", quiet);
	ret = fs_fsck(argv[optind], &opts, stdout);
	term_progress_done(&tp);
	return ret;
}
