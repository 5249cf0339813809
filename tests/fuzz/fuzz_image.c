// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The fuzz targets' image: decoding an input into blocks, re-signing
 * checksums (so that mutated metadata reaches the parsers instead of
 * failing its crc check), and the device over it: blk_dev_open on a memfd
 * (the real open path), then an in-memory backend whose bios copy to and
 * from the decoded image and end at once, so an input costs no device
 * setup and no io_uring round trip per block.
 */
#include "fuzz_image.h"
#include "meta.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define BLK		IOMAPFS_BLOCK_SIZE
#define IMAGE_BYTES	((size_t)FUZZ_IMAGE_BLOCKS * BLK)

void fuzz_image_init(struct fuzz_image *img)
{
	memset(img, 0, sizeof(*img));
	img->blocks = aligned_alloc(BLK, IMAGE_BYTES);
	img->fd = memfd_create("iomapfs-fuzz", MFD_CLOEXEC);
	if (img->fd < 0 || !img->blocks || ftruncate(img->fd, IMAGE_BYTES)) {
		perror("fuzz: memfd_create");
		abort();
	}
	memset(img->blocks, 0, IMAGE_BYTES);
	pthread_mutex_init(&img->lock, NULL);
	snprintf(img->path, sizeof(img->path), "/proc/self/fd/%d", img->fd);
}

static uint8_t *image_block(struct fuzz_image *img, uint32_t b)
{
	return img->blocks + (size_t)b * BLK;
}

/* Note block @b as not zero any more (the input patched it, or a write). */
static void image_touch(struct fuzz_image *img, uint32_t b)
{
	if (img->touched[b])
		return;
	img->touched[b] = 1;
	img->list[img->nr++] = b;
}

/* Back to all zeros: only the blocks the last input or its run touched. */
static void image_reset(struct fuzz_image *img)
{
	for (uint32_t i = 0; i < img->nr; i++) {
		img->touched[img->list[i]] = 0;
		memset(image_block(img, img->list[i]), 0, BLK);
	}
	img->nr = 0;
}

static uint64_t min_len(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* Apply the records; a write may span blocks, each is touched. */
static void image_patch(struct fuzz_image *img, const uint8_t *p, size_t size)
{
	struct fuzz_record_hdr h;

	while (size >= sizeof(h)) {
		uint64_t off, n, len;

		memcpy(&h, p, sizeof(h));
		p += sizeof(h);
		size -= sizeof(h);
		n = h.len < size ? h.len : size;
		off = (uint64_t)(h.block % FUZZ_IMAGE_BLOCKS) * BLK + h.offset;
		len = off < IMAGE_BYTES ? min_len(n, IMAGE_BYTES - off) : 0;
		for (uint64_t b = off / BLK; len && b <= (off + len - 1) / BLK; b++)
			image_touch(img, b);
		if (len)
			memcpy(img->blocks + off, p, len);
		p += n;
		size -= n;
	}
}

void fuzz_block_resign(void *block)
{
	struct iomapfs_super *sb = block;
	struct iomapfs_blkhdr *h = block;

	if (sb->magic == IOMAPFS_SB_MAGIC) {
		sb->crc = 0;
		sb->crc = ~crc32c(~0u, block, BLK);
		return;
	}
	switch (h->magic) {
	case IOMAPFS_BTREE_MAGIC: case IOMAPFS_BITMAP_MAGIC: case IOMAPFS_JSB_MAGIC:
	case IOMAPFS_JDESC_MAGIC: case IOMAPFS_JCOMMIT_MAGIC:
		meta_block_set_crc(block);
	}
}

static uint64_t jnext(const struct iomapfs_super *sb, uint64_t pos)
{
	return pos + 1 >= sb->journal_blocks ? 1 : pos + 1;
}

/* One transaction at @pos: the crc of its descriptors and images, and the
 * position of its commit block; false when it is not one. */
static bool journal_txn(const struct iomapfs_super *sb, fuzz_jblock_fn blk, void *ctx,
			void (*image)(uint64_t, void *), uint64_t seq, uint64_t *pos,
			uint32_t *crc)
{
	uint64_t steps = 0;
	struct iomapfs_jdesc *d;

	do {
		d = blk(ctx, *pos);
		if (!d || d->hdr.magic != IOMAPFS_JDESC_MAGIC || d->hdr.seq != seq ||
		    d->nr_blocks > IOMAPFS_JDESC_MAX)
			return false;
		*crc = crc32c(*crc, d, BLK);
		*pos = jnext(sb, *pos);
		for (uint32_t i = 0; i < d->nr_blocks; i++, *pos = jnext(sb, *pos)) {
			uint8_t *data = blk(ctx, *pos);

			if (!data || ++steps >= sb->journal_blocks)
				return false;
			if (image)
				image(d->blocks[i], data);
			*crc = crc32c(*crc, data, BLK);
		}
	} while (d->more && ++steps < sb->journal_blocks);
	return !d->more;
}

unsigned fuzz_journal_resign(const struct iomapfs_super *sb, fuzz_jblock_fn blk,
			     void *ctx, void (*image)(uint64_t home, void *data))
{
	struct iomapfs_jsb *jsb = blk(ctx, 0);
	uint64_t pos, seq;
	unsigned nr = 0;

	if (!jsb || jsb->hdr.magic != IOMAPFS_JSB_MAGIC || sb->journal_blocks < 2)
		return 0;
	pos = jsb->tail_block;
	seq = jsb->tail_seq;
	for (; nr < sb->journal_blocks; nr++, seq++) {
		struct iomapfs_jcommit *c;
		uint32_t crc = ~0u;

		if (!journal_txn(sb, blk, ctx, image, seq, &pos, &crc))
			break;
		c = blk(ctx, pos);
		if (!c || c->hdr.magic != IOMAPFS_JCOMMIT_MAGIC)
			break;
		c->data_crc = ~crc;
		meta_block_set_crc(c);
		pos = jnext(sb, pos);
	}
	return nr;
}

struct image_journal {
	struct fuzz_image		*img;
	const struct iomapfs_super	*sb;
};

static void *image_jblock(void *ctx, uint64_t pos)
{
	struct image_journal *ij = ctx;
	uint64_t b = ij->sb->journal_start + pos;

	if (pos >= ij->sb->journal_blocks || b >= FUZZ_IMAGE_BLOCKS ||
	    !ij->img->touched[b])
		return NULL;
	return image_block(ij->img, b);
}

/* Blocks first (images in the journal included), then the journal's
 * commit crcs, which cover those images, then the commit blocks again. */
static void image_resign(struct fuzz_image *img)
{
	struct iomapfs_super sb;
	struct image_journal ij = { img, &sb };

	for (uint32_t i = 0; i < img->nr_input; i++)
		fuzz_block_resign(image_block(img, img->list[i]));
	if (!img->touched[0])
		return;
	memcpy(&sb, image_block(img, 0), sizeof(sb));
	fuzz_journal_resign(&sb, image_jblock, &ij, NULL);
}

int fuzz_image_load(struct fuzz_image *img, const uint8_t *data, size_t size)
{
	if (size < 1)
		return -EINVAL;
	image_reset(img);
	image_patch(img, data + 1, size - 1);
	img->nr_input = img->nr;
	if (data[0] & FUZZ_F_RESIGN)
		image_resign(img);
	return 0;
}

/*
 * The in-memory backend's ->submit.  submit_bio() has checked the range
 * already; a write notes its blocks so that the next load zeroes them.
 */
static void mem_submit(struct blk_dev *dev, struct bio *bio)
{
	struct fuzz_image *img = blk_dev_ops_private(dev);
	uint64_t off = bio->bi_sector * 512;

	if (bio->bi_op == REQ_OP_WRITE) {
		pthread_mutex_lock(&img->lock);
		for (uint64_t b = off / BLK; b < DIV_ROUND_UP(off + bio->bi_size, BLK); b++)
			image_touch(img, b);
		pthread_mutex_unlock(&img->lock);
	}
	for (unsigned i = 0; bio->bi_op != REQ_OP_FLUSH && i < bio->bi_vcnt; i++) {
		const struct iovec *v = &bio->bi_io_vec[i];

		if (bio->bi_op == REQ_OP_WRITE)
			memcpy(img->blocks + off, v->iov_base, v->iov_len);
		else
			memcpy(v->iov_base, img->blocks + off, v->iov_len);
		off += v->iov_len;
	}
	bio_endio(bio);
}

static const struct blk_dev_ops mem_ops = { .submit = mem_submit };

struct blk_dev *fuzz_image_open(struct fuzz_image *img)
{
	struct blk_dev_config cfg = { .nr_workers = 1 };
	struct blk_dev *dev;

	if (blk_dev_open(img->path, &cfg, &dev))
		abort();
	blk_dev_set_ops(dev, &mem_ops, img);
	return dev;
}
