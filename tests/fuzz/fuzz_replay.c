// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target: journal replay.  The metadata engine mounts the image
 * twice: read-only (the committed transactions apply in memory only, as
 * for fsck -n and a read-only mount) and then read-write (they are written
 * home, the superblock is read back), and unmounts.  This is replay with
 * no B+tree walk around it: the superblock, the journal superblock, every
 * descriptor, image and commit block, and the bitmap load after it.
 *
 * The device is opened once and kept (fuzz_image_open: in-memory medium),
 * as in the other two targets: opening it (rings, reaper, workers) would
 * cost more than the mount.
 */
#include "fuzz_image.h"
#include "meta.h"

#include <stdlib.h>

static void mount_once(bool readonly)
{
	struct meta_mount_opts mo = { .readonly = readonly, .commit_interval_ms = 0 };
	struct meta *m;

	if (!meta_mount(fuzz_dev, &mo, &m))
		meta_unmount(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (fuzz_image_load(&fuzz_img, data, size))
		return -1;
	mount_once(true);
	mount_once(false);
	return 0;
}
