/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the fuzz targets share: the input encoding, the in-memory image it
 * decodes to, checksum re-signing, and the memfd that turns the image into
 * a device the real block layer opens (/proc/self/fd/N).  The journal
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
#include <iomapfs/format.h>

#define FUZZ_IMAGE_BLOCKS	1024u	/* 4 MiB: what make-corpus.sh formats */
#define FUZZ_F_RESIGN		1u

struct fuzz_record_hdr {
	uint32_t	block;
	uint16_t	offset;
	uint16_t	len;
} __attribute__((packed));

/*
 * Devices in rotation.  Closing a device does not drop its flock at once
 * (io_uring tears the ring down, with its file reference, in a kernel
 * work item), and blk_dev_open waits 20 ms for a busy device: each open
 * gets the next memfd instead, long released by the time it comes round.
 */
#define FUZZ_NR_DEVS		8

/* An image as the blocks an input touched; every other block is zero. */
struct fuzz_image {
	int		fd[FUZZ_NR_DEVS];	/* memfds, FUZZ_IMAGE_BLOCKS blocks */
	char		path[FUZZ_NR_DEVS][32];	/* "/proc/self/fd/N" */
	unsigned	next;
	uint8_t		*blocks;	/* FUZZ_IMAGE_BLOCKS * 4096 */
	uint8_t		touched[FUZZ_IMAGE_BLOCKS];
	uint32_t	list[FUZZ_IMAGE_BLOCKS];	/* touched blocks, in order */
	uint32_t	nr;
};

/* Once per process: the memfds and the block buffer.  Aborts on failure. */
void fuzz_image_init(struct fuzz_image *img);
/*
 * Decode @data into the image.  Returns 0, or -EINVAL for an input too
 * short to be anything (the target then returns without running).
 */
int fuzz_image_load(struct fuzz_image *img, const uint8_t *data, size_t size);
/* Write the image to the next memfd (reset to zeros first); its path,
 * for blk_dev_open.  Once per device open. */
const char *fuzz_image_dev(struct fuzz_image *img);
/* Write the image to memfd @dev (a device a target keeps open). */
void fuzz_image_write(struct fuzz_image *img, unsigned dev);

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

#endif /* IOMAPFS_FUZZ_IMAGE_H */
