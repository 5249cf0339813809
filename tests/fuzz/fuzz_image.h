/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the fuzz targets share: the input encoding, the in-memory image it
 * decodes to, checksum re-signing, and the device over it (a memfd the
 * real block layer opens, with an in-memory backend as its medium).  The journal
 * walker is also used by the unit tests that forge journal contents.
 *
 * Input encoding (little-endian), chosen so that inputs stay a few KiB
 * while the image is a real 4 MiB filesystem:
 *
 *   u8 flags                    FUZZ_F_RESIGN: recompute every checksum
 *                               after patching, so mutations get past the
 *                               crc checks into the parsers behind them
 *   then records, to the end:   le32 block, le16 offset, le16 len,
 *                               len bytes written at block * 4096 + offset
 *
 * over an image of FUZZ_IMAGE_BLOCKS zero blocks.  Block numbers wrap
 * modulo the image size; a record running past the end is cut short.
 */
#ifndef IOMAPFS_FUZZ_IMAGE_H
#define IOMAPFS_FUZZ_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <iomapfs/bio.h>
#include <iomapfs/format.h>

#define FUZZ_IMAGE_BLOCKS	1024u	/* 4 MiB: what make-corpus.sh formats */
#define FUZZ_F_RESIGN		1u

struct fuzz_record_hdr {
	uint32_t	block;
	uint16_t	offset;
	uint16_t	len;
} __attribute__((packed));

/*
 * An image as the blocks an input touched; every other block is zero.
 * The same buffer is the medium of the in-memory device backend that the
 * targets' device uses (fuzz_image_open): what a mount or fsck -y writes
 * lands here, and the next input starts from zeros again.
 */
struct fuzz_image {
	int		fd;			/* memfd of the image's size: what
						 * blk_dev_open opens and flocks */
	char		path[32];		/* "/proc/self/fd/N" */
	uint8_t		*blocks;		/* FUZZ_IMAGE_BLOCKS * 4096 */
	uint8_t		touched[FUZZ_IMAGE_BLOCKS];	/* by the input or a write */
	uint32_t	list[FUZZ_IMAGE_BLOCKS];	/* touched blocks, in order */
	uint32_t	nr;
	uint32_t	nr_input;		/* of them, patched by the input */
	pthread_mutex_t	lock;			/* touched/list/nr during I/O */
};

/* Once per process: the memfd and the block buffer.  Aborts on failure. */
void fuzz_image_init(struct fuzz_image *img);
/*
 * Open the device over the image, once per process: the real blk_dev_open
 * (rings, reaper, worker), then the in-memory backend in place of io_uring,
 * which completes each bio in the submitting thread (as a device that
 * finished at once) after copying to or from img->blocks.  Bios still go
 * through submit_bio, its checks and bio_endio; only the medium is memory.
 * Aborts on failure.
 */
struct blk_dev *fuzz_image_open(struct fuzz_image *img);
/*
 * Decode @data into the image (every block written since the last load is
 * zero again first).  Returns 0, or -EINVAL for an input too short to be
 * anything (the target then returns without running).
 */
int fuzz_image_load(struct fuzz_image *img, const uint8_t *data, size_t size);

/* Recompute the checksum of a block that starts with a known magic. */
void fuzz_block_resign(void *block);

/*
 * Walk the committed transactions from the journal tail, the way replay
 * does: @blk returns journal block @pos (relative to journal_start) or
 * NULL; @image (optional) sees every image with its home block number and
 * may change it; the commit block's data crc and checksum are then set to
 * match.  Stops at the first block that is not the expected descriptor.
 * Returns the number of transactions walked.
 */
typedef void *(*fuzz_jblock_fn)(void *ctx, uint64_t pos);
unsigned fuzz_journal_resign(const struct iomapfs_super *sb, fuzz_jblock_fn blk,
			     void *ctx, void (*image)(uint64_t home, void *data));

/*
 * For the libFuzzer targets (fuzz_target.c): the image and its device,
 * ready once LLVMFuzzerInitialize has run; each input is loaded with
 * fuzz_image_load(&fuzz_img, ...).
 */
extern struct fuzz_image fuzz_img;
extern struct blk_dev *fuzz_dev;
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif /* IOMAPFS_FUZZ_IMAGE_H */
