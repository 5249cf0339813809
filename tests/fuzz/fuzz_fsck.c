// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target: fsck on a hostile image.  fsck -n first (nothing may
 * be written, the journal applies in memory), then fsck -y (replay, the
 * repairs, the bitmap rewrite), as fsck.iomapfs runs at boot.  Any exit
 * code is fine; a crash, a sanitizer report or a hang is not.  One device
 * (fuzz_image_open: in-memory medium) serves every input, as fsck.iomapfs
 * would open it once: the check, not the device setup, is what is fuzzed.
 */
#include "fuzz_image.h"
#include "fsck.h"

#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fsck_opts check = { .no_change = true };
	struct fsck_opts repair = { .yes = true };
	static FILE *devnull;

	if (!devnull && !(devnull = fopen("/dev/null", "w")))
		abort();
	if (fuzz_image_load(&fuzz_img, data, size))
		return -1;
	fs_fsck_dev(fuzz_dev, "fuzz", &check, devnull);
	fs_fsck_dev(fuzz_dev, "fuzz", &repair, devnull);
	return 0;
}
