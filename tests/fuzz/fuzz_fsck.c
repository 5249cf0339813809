// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target: fsck on a hostile image.  fsck -n first (nothing may
 * be written, the journal applies in memory), then fsck -y (replay, the
 * repairs, the bitmap rewrite), as fsck.iomapfs runs at boot.  Any exit
 * code is fine; a crash, a sanitizer report or a hang is not.
 */
#include "fuzz_image.h"
#include "fsck.h"

#include <stdio.h>
#include <stdlib.h>

static struct fuzz_image img;
static FILE *devnull;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_image_init(&img);
	devnull = fopen("/dev/null", "w");
	if (!devnull)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fsck_opts check = { .no_change = true };
	struct fsck_opts repair = { .yes = true };

	if (fuzz_image_load(&img, data, size))
		return -1;
	fs_fsck(fuzz_image_dev(&img), &check, devnull);
	fs_fsck(fuzz_image_dev(&img), &repair, devnull);
	return 0;
}
