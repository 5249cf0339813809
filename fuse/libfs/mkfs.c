// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Writing a new filesystem (meta_mkfs) and recognising an existing one
 * (meta_probe).  The layout follows format.h:
 *
 *   0, 1                superblock and its copy
 *   2 .. 2+J-1          journal (block 2 is the journal superblock)
 *   2+J .. +bitmap      free-space bitmap, static area marked used
 *   next block          the B+tree root leaf with the root inode item
 *
 * Everything but the superblocks is written and flushed first; the
 * superblocks last, so a crash during mkfs never leaves a valid superblock
 * over a half-written filesystem.
 */
#include "meta_internal.h"

#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MKFS_MIN_JOURNAL	16
#define MKFS_MIN_DATA		64	/* blocks left after the static area */

static uint64_t default_journal(uint64_t nr)
{
	uint64_t j = min_t(uint64_t, max_t(uint64_t, nr / 100, IOMAPFS_DEFAULT_JOURNAL_MIN),
			   IOMAPFS_DEFAULT_JOURNAL_MAX);

	/* Small images: the journal takes at most a quarter. */
	return max_t(uint64_t, min_t(uint64_t, j, nr / 4), MKFS_MIN_JOURNAL);
}

static void make_uuid(uint8_t uuid[16])
{
	if (getrandom(uuid, 16, 0) != 16) {
		uint64_t t = ktime_get_ns() ^ (uint64_t)getpid() << 32;

		for (int i = 0; i < 16; i++)
			uuid[i] = (uint8_t)(t >> (i % 8 * 8)) ^ (uint8_t)(i * 37);
	}
	uuid[6] = (uuid[6] & 0x0f) | 0x40;	/* RFC 4122 version 4 */
	uuid[8] = (uuid[8] & 0x3f) | 0x80;
}

static int mkfs_geometry(struct iomapfs_super *sb, uint64_t nr, uint64_t jblocks)
{
	sb->nr_blocks = nr;
	sb->journal_start = 2;
	sb->journal_blocks = jblocks ? jblocks : default_journal(nr);
	sb->bitmap_start = sb->journal_start + sb->journal_blocks;
	sb->bitmap_blocks = meta_bitmap_groups(nr);
	sb->root_node = sb->bitmap_start + sb->bitmap_blocks;
	sb->tree_height = 1;
	if (sb->journal_blocks < MKFS_MIN_JOURNAL || sb->journal_blocks > META_JOURNAL_MAX) {
		iomapfs_err("journal size %llu out of range (%u..%u blocks)",
			(unsigned long long)sb->journal_blocks, MKFS_MIN_JOURNAL, META_JOURNAL_MAX);
		return -EINVAL;
	}
	if (sb->root_node + 1 + MKFS_MIN_DATA > nr) {
		iomapfs_err("device too small (%llu blocks of %u bytes)",
			(unsigned long long)nr, IOMAPFS_BLOCK_SIZE);
		return -ENOSPC;
	}
	return 0;
}

static void mkfs_super(struct iomapfs_super *sb, const struct mkfs_opts *opts)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	sb->magic = IOMAPFS_SB_MAGIC;
	sb->version = IOMAPFS_VERSION;
	sb->feat_incompat = IOMAPFS_FEAT_INCOMPAT_JOURNAL;
	make_uuid(sb->uuid);
	if (opts && opts->label)
		strncpy(sb->label, opts->label, sizeof(sb->label) - 1);
	sb->block_size = IOMAPFS_BLOCK_SIZE;
	sb->free_blocks = sb->nr_blocks - (sb->root_node + 1);
	sb->next_ino = IOMAPFS_FIRST_INO;
	sb->nr_inodes = 1;
	sb->mkfs_time_ns = (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
	sb->write_time_ns = sb->mkfs_time_ns;
	sb->state = IOMAPFS_STATE_CLEAN;
	sb->journal_seq = 1;
}

static void mkfs_bitmap(struct meta *m, void *blk, uint64_t g)
{
	struct iomapfs_bitmap_hdr *h = blk;
	uint8_t *bits = (uint8_t *)blk + sizeof(*h);
	uint64_t first = g * IOMAPFS_BITMAP_BITS;
	uint64_t n = min_t(uint64_t, IOMAPFS_BITMAP_BITS, m->sb.nr_blocks - first);
	uint64_t used_end = m->sb.root_node + 1;	/* static area + root leaf */
	uint32_t nfree = 0;

	memset(blk, 0, IOMAPFS_BLOCK_SIZE);
	meta_fill_blkhdr(m, blk, m->sb.bitmap_start + g, IOMAPFS_BITMAP_MAGIC, g);
	for (uint64_t i = 0; i < n; i++) {
		if (first + i < used_end)
			bits[i / 8] |= 1u << (i % 8);
		else
			nfree++;
	}
	h->first_block = first;
	h->nr_bits = n;
	h->nr_free = nfree;
	meta_block_set_crc(blk);
}

static void mkfs_root_leaf(struct meta *m, void *blk)
{
	struct iomapfs_node_hdr *nh = blk;
	struct iomapfs_leaf_item *it = (void *)(nh + 1);
	struct iomapfs_dinode di = { 0 };
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	di.ino = IOMAPFS_ROOT_INO;
	di.mode = S_IFDIR | 0755;
	di.nlink = 2;
	di.atime_sec = di.mtime_sec = di.ctime_sec = di.btime_sec = ts.tv_sec;
	di.atime_nsec = di.mtime_nsec = di.ctime_nsec = di.btime_nsec = ts.tv_nsec;

	memset(blk, 0, IOMAPFS_BLOCK_SIZE);
	meta_fill_blkhdr(m, blk, m->sb.root_node, IOMAPFS_BTREE_MAGIC, META_TREE_ID);
	nh->level = 0;
	nh->nritems = 1;
	nh->free_end = IOMAPFS_BLOCK_SIZE - sizeof(di);
	it->key = meta_key(IOMAPFS_ROOT_INO, IOMAPFS_ITEM_INODE, 0);
	it->val_off = nh->free_end;
	it->val_len = sizeof(di);
	memcpy((char *)blk + nh->free_end, &di, sizeof(di));
	meta_block_set_crc(blk);
}

static void mkfs_jsb(struct meta *m, void *blk)
{
	struct iomapfs_jsb *jsb = blk;

	memset(blk, 0, IOMAPFS_BLOCK_SIZE);
	meta_fill_blkhdr(m, blk, m->sb.journal_start, IOMAPFS_JSB_MAGIC, 0);
	jsb->hdr.seq = 1;
	jsb->tail_seq = 1;
	jsb->tail_block = 1;
	meta_block_set_crc(blk);
}

static int write_blk(struct blk_dev *dev, void *blk, uint64_t blkno)
{
	return blk_rw_sync(dev, REQ_OP_WRITE, blk, IOMAPFS_BLOCK_SIZE,
			   blkno << IOMAPFS_BLOCK_SHIFT);
}

/* Bitmap, root leaf, journal superblock and the journal's first block.
 * The bitmap is what takes time on a large device: it reports progress. */
static int mkfs_write_body(struct meta *m, void *blk, const struct progress *pg)
{
	static const char phase[] = "writing the free-space bitmap";
	uint64_t n = m->sb.bitmap_blocks;
	int err = 0;

	for (uint64_t g = 0; !err && g < n; g++) {
		if (!(g & 63))
			progress_report(pg, phase, g, n);
		mkfs_bitmap(m, blk, g);
		err = write_blk(m->dev, blk, m->sb.bitmap_start + g);
	}
	if (!err)
		progress_report(pg, phase, n, n);
	if (!err) {
		mkfs_root_leaf(m, blk);
		err = write_blk(m->dev, blk, m->sb.root_node);
	}
	if (!err) {
		mkfs_jsb(m, blk);
		err = write_blk(m->dev, blk, m->sb.journal_start);
	}
	if (!err) {
		memset(blk, 0, IOMAPFS_BLOCK_SIZE);
		err = write_blk(m->dev, blk, m->sb.journal_start + 1);
	}
	return err ? err : blkdev_issue_flush(m->dev);
}

int meta_mkfs(struct blk_dev *dev, const struct mkfs_opts *opts)
{
	uint64_t nr = blk_dev_size(dev) >> IOMAPFS_BLOCK_SHIFT;
	struct meta *m;
	void *blk;
	int err;

	if (!(opts && opts->force) && meta_probe(dev)) {
		iomapfs_err("the device already holds an iomapfs filesystem "
			"(use -f to overwrite it)");
		return -EEXIST;
	}
	m = kzalloc(sizeof(*m));
	m->dev = dev;
	err = mkfs_geometry(&m->sb, nr, opts ? opts->journal_blocks : 0);
	if (err)
		goto out_free;
	mkfs_super(&m->sb, opts);
	blk = meta_alloc_block();
	err = mkfs_write_body(m, blk, opts ? &opts->progress : NULL);
	if (!err) {
		meta_super_to_block(&m->sb, blk);
		err = write_blk(dev, blk, 1);
		if (!err)
			err = write_blk(dev, blk, 0);
		if (!err)
			err = blkdev_issue_flush(dev);
	}
	free(blk);
	if (err)
		iomapfs_err("write failed: %s", strerror(-err));
out_free:
	kfree(m);
	return err;
}

bool meta_probe(struct blk_dev *dev)
{
	uint8_t *blk;
	bool found = false;

	if (blk_dev_size(dev) < 2 * IOMAPFS_BLOCK_SIZE)
		return false;
	blk = aligned_alloc(IOMAPFS_BLOCK_SIZE, 2 * IOMAPFS_BLOCK_SIZE);
	if (blk && !blk_rw_sync(dev, REQ_OP_READ, blk, 2 * IOMAPFS_BLOCK_SIZE, 0))
		found = ((struct iomapfs_super *)blk)->magic == IOMAPFS_SB_MAGIC ||
			((struct iomapfs_super *)(blk + IOMAPFS_BLOCK_SIZE))->magic ==
			IOMAPFS_SB_MAGIC;
	free(blk);
	return found;
}
