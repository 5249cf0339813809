// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The start every libFuzzer target here shares, linked into each of them
 * (not into iomapfs_fuzzimg, which unit tests link too): one image and
 * the device over it, set up once per process by LLVMFuzzerInitialize.
 * The device stays open across inputs because opening it (rings, reaper,
 * workers) costs more than the mount or the check being fuzzed; each
 * target defines only LLVMFuzzerTestOneInput.
 */
#include "fuzz_image.h"

struct fuzz_image fuzz_img;
struct blk_dev *fuzz_dev;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_image_init(&fuzz_img);
	fuzz_dev = fuzz_image_open(&fuzz_img);
	return 0;
}
