// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Description: crafted images that fsck and mount must refuse cleanly,
 * the regression tests for what the fuzz targets (tests/fuzz/) or review
 * of the readers found.  Journal cases crash with transactions still in
 * the journal and forge what it carries -- with valid checksums, as an
 * attacker would -- and assert a clear error (mount -EUCLEAN, fsck exit 8
 * with a message), never a crash, and that nothing was written.  Extent
 * cases point a file's stored extent outside the data area and assert
 * that the inode is refused (-EUCLEAN) and fsck reports it (4); a tree
 * case points a B+tree child into the journal area; an inode case gives
 * the root no links, which must be refused and repaired, not freed.
 */
#include "test_fs_dir_util.h"
#include "fuzz_image.h"

#define ROOT	IOMAPFS_ROOT_INO
#define BLK	IOMAPFS_BLOCK_SIZE

/* Leave committed, uncheckpointed transactions in the journal: a crash. */
static void crash_with_dirty_journal(void)
{
	tfs_create(t.fs, ROOT, "f", S_IFREG | 0644, NULL);	/* dirties the superblock */
	ck_assert_int_eq(meta_commit(fs_meta(t.fs)), 0);
	fs_shutdown(t.fs);
	tfs_unmount(&t);
}

static void pio(bool write, void *buf, size_t len, uint64_t off)
{
	int fd = open(t.image, O_RDWR);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write ? pwrite(fd, buf, len, off) : pread(fd, buf, len, off),
			 (ssize_t)len);
	close(fd);
}

static struct {
	uint64_t	blkno;
	void		(*fn)(void *image);
	int		nr;
	uint8_t		*area;
	uint64_t	blocks;
} forge;

static void *forge_jblock(void *ctx, uint64_t pos)
{
	return pos < forge.blocks ? forge.area + pos * BLK : NULL;
}

static void forge_image(uint64_t home, void *data)
{
	if (home == forge.blkno) {
		forge.fn(data);
		forge.nr++;
	}
}

/*
 * Call @fn on every image of home block @blkno in the committed
 * transactions, and fix the checksums a replay verifies (the commit
 * blocks' data crc and their own): the journal walker the fuzz targets
 * use to re-sign mutated journals.  Returns how many images were forged.
 */
static int journal_forge(uint64_t blkno, void (*fn)(void *image))
{
	struct iomapfs_super sb;

	pio(false, &sb, sizeof(sb), 0);
	forge.blkno = blkno;
	forge.fn = fn;
	forge.nr = 0;
	forge.blocks = sb.journal_blocks;
	forge.area = malloc(sb.journal_blocks * BLK);
	pio(false, forge.area, sb.journal_blocks * BLK, sb.journal_start * BLK);
	ck_assert_uint_gt(fuzz_journal_resign(&sb, forge_jblock, NULL, forge_image), 0);
	pio(true, forge.area, sb.journal_blocks * BLK, sb.journal_start * BLK);
	free(forge.area);
	return forge.nr;
}

/* crc32c of the whole image: proves a refused repair wrote nothing. */
static uint32_t image_crc(void)
{
	size_t chunk = 1 << 20;
	uint8_t *buf = malloc(chunk);
	uint32_t crc = ~0u;
	int fd = open(t.image, O_RDONLY);
	ssize_t n;

	ck_assert_int_ge(fd, 0);
	while ((n = read(fd, buf, chunk)) > 0)
		crc = crc32c(crc, buf, n);
	close(fd);
	free(buf);
	return ~crc;
}

static void shrink_nr_blocks(void *image)
{
	struct iomapfs_super *sb = image;

	sb->nr_blocks = 64;
	fuzz_block_resign(sb);
}

static void move_bitmap_onto_journal(void *image)
{
	struct iomapfs_super *sb = image;

	sb->bitmap_start = sb->journal_start + 1;
	fuzz_block_resign(sb);
}

/* fsck -n and -y both refuse (8) with the reason; the image is untouched;
 * a mount is -EUCLEAN. */
static void expect_refused(void)
{
	struct fs_mount_opts opts = { 0 };
	uint32_t before = image_crc();
	struct fs *fs = NULL;
	char *out;

	ck_assert_int_eq(tfs_fsck(&t, false, &out), FSCK_ERROR);
	ck_assert_msg(strstr(out, "cannot mount"), "%s", out);
	free(out);
	ck_assert_int_eq(tfs_fsck(&t, true, NULL), FSCK_ERROR);
	ck_assert_uint_eq(image_crc(), before);
	opts.cache.size_bytes = 16ull << 20;
	opts.blk.nr_workers = 1;
	ck_assert_int_eq(fs_mount(t.image, &opts, &fs), -EUCLEAN);
	ck_assert_uint_eq(image_crc(), before);
}

/*
 * Regression test: a superblock replayed from the journal was never
 * re-validated.  A checksummed superblock image with a smaller block
 * count made fsck size its block map from it and then mark blocks far
 * beyond it (a heap overflow under ASan; silent heap corruption
 * otherwise), and fsck -y wrote the forged superblock home.
 */
START_TEST(replayed_superblock_with_another_block_count_is_refused)
{
	crash_with_dirty_journal();
	ck_assert_int_gt(journal_forge(0, shrink_nr_blocks), 0);
	expect_refused();
}
END_TEST

/*
 * Regression test, same bug: a replayed superblock that moves the bitmap
 * (and so the start of the data area) onto the journal steered the
 * allocator's blocks into the journal.
 */
START_TEST(replayed_superblock_moving_the_bitmap_is_refused)
{
	crash_with_dirty_journal();
	ck_assert_int_gt(journal_forge(0, move_bitmap_onto_journal), 0);
	expect_refused();
}
END_TEST

/* Change an inode item of the unmounted image through the metadata engine. */
static void raw_inode_update(uint64_t ino, void (*fn)(struct iomapfs_dinode *di))
{
	struct blk_dev_config cfg = { .nr_workers = 1 };
	struct meta_mount_opts mo = { .commit_interval_ms = 0 };
	struct iomapfs_key key = meta_key(ino, IOMAPFS_ITEM_INODE, 0);
	struct iomapfs_dinode di;
	uint32_t len = sizeof(di);
	struct blk_dev *dev;
	struct meta *m;

	ck_assert_int_eq(blk_dev_open(t.image, &cfg, &dev), 0);
	ck_assert_int_eq(meta_mount(dev, &mo, &m), 0);
	meta_begin(m);
	ck_assert_int_eq(btree_lookup(m, &key, &di, &len), 0);
	fn(&di);
	ck_assert_int_eq(btree_insert(m, &key, &di, sizeof(di)), 0);
	meta_end(m);
	ck_assert_int_eq(meta_unmount(m), 0);
	blk_dev_close(dev);
}

static void extent_onto_journal(struct iomapfs_dinode *di)
{
	ck_assert_uint_eq(di->nr_extents, 1);
	di->ext[0].pblk = 3;		/* the first block after the journal superblock */
}

static void extent_past_the_device_end(struct iomapfs_dinode *di)
{
	di->ext[0].pblk = TFS_IMAGE_BYTES / BLK - 1;	/* 2 blocks from the last one */
}

/* The file's extent map is refused: lookup fails with -EUCLEAN, so no
 * read or write can reach the blocks it names; fsck reports it (4). */
static void expect_extent_refused(void (*fn)(struct iomapfs_dinode *di))
{
	uint64_t ino = tfs_create(t.fs, ROOT, "f", S_IFREG | 0644, NULL);
	struct fs_inode *ip;
	char buf[8192];

	ck_assert_int_eq(fs_iget(t.fs, ino, &ip), 0);
	memset(buf, 'a', sizeof(buf));
	ck_assert_int_eq(fs_write(ip, 0, buf, sizeof(buf), false), sizeof(buf));
	ck_assert_int_eq(fs_fsync(ip, false, NULL), 0);
	fs_iput(ip);
	tfs_unmount(&t);
	raw_inode_update(ino, fn);
	tfs_mount(&t);
	ck_assert_int_eq(fs_lookup(t.fs, ROOT, "f", &ip), -EUCLEAN);
	tfs_unmount(&t);
	ck_assert_int_eq(tfs_fsck(&t, false, NULL), FSCK_UNCORRECTED);
}

/*
 * Regression test: an extent read from disk was only checked for a zero
 * length and overlaps, so an extent over the journal was loaded and a
 * write to the file went to the journal area.
 */
START_TEST(extent_over_the_journal_is_refused)
{
	expect_extent_refused(extent_onto_journal);
}
END_TEST

/* Regression test, same bug: an extent running past the end of the
 * device was loaded too; only the block layer's end-of-device check stood
 * between it and the device. */
START_TEST(extent_past_the_device_end_is_refused)
{
	expect_extent_refused(extent_past_the_device_end);
}
END_TEST

/*
 * Regression test: a B+tree child pointer was trusted as long as the
 * block it named carried a valid node, so a copy of a node placed in the
 * journal area (checksummed, as an attacker makes it) was used, and a
 * change to it would have been written home into the journal.  A child
 * outside the data area now fails the read: the root inode lives in the
 * first child, so the mount is refused.
 */
START_TEST(tree_node_in_the_journal_area_is_refused)
{
	struct fs_mount_opts opts = { .cache.size_bytes = 16ull << 20,
				      .blk.nr_workers = 1 };
	_Alignas(8) uint8_t root[BLK], child[BLK];
	struct iomapfs_node_ptr *ptr = (void *)(root + sizeof(struct iomapfs_node_hdr));
	struct iomapfs_node_hdr *rh = (void *)root;
	struct iomapfs_super sb;
	struct fs *fs = NULL;
	uint64_t forged;
	char name[32];

	for (int i = 0; i < 150; i++) {		/* enough items for a two-level tree */
		snprintf(name, sizeof(name), "file-with-a-long-name-%03d", i);
		tfs_create(t.fs, ROOT, name, S_IFREG | 0644, NULL);
	}
	tfs_unmount(&t);
	pio(false, &sb, sizeof(sb), 0);
	ck_assert_uint_ge(sb.tree_height, 2);
	pio(false, root, BLK, sb.root_node * BLK);
	ck_assert_uint_ge(rh->nritems, 2);
	pio(false, child, BLK, ptr[0].blkno * BLK);
	forged = sb.journal_start + sb.journal_blocks - 1;	/* the journal's last block */
	((struct iomapfs_blkhdr *)child)->blkno = forged;
	fuzz_block_resign(child);
	pio(true, child, BLK, forged * BLK);
	ptr[0].blkno = forged;
	fuzz_block_resign(root);
	pio(true, root, BLK, sb.root_node * BLK);
	ck_assert_int_eq(fs_mount(t.image, &opts, &fs), -EUCLEAN);
	ck_assert_int_eq(tfs_fsck(&t, false, NULL), FSCK_UNCORRECTED);
}
END_TEST

static void unlink_root(struct iomapfs_dinode *di)
{
	di->nlink = 0;
}

/*
 * Regression test: an inode read with a link count of 0 is freed at its
 * last reference, and the root was no exception: a crafted root with no
 * links was freed by the mount's own root check, and with it every name
 * in the filesystem.  Now the mount refuses it (-EUCLEAN), fsck -y
 * recounts the links (1), and the tree is intact.
 */
START_TEST(root_with_no_links_is_refused_not_freed)
{
	uint64_t ino = tfs_create(t.fs, ROOT, "kept", S_IFREG | 0644, NULL), found;
	struct fs_mount_opts opts = { .cache.size_bytes = 16ull << 20,
				      .blk.nr_workers = 1 };
	struct fs *fs = NULL;

	tfs_unmount(&t);
	raw_inode_update(ROOT, unlink_root);
	ck_assert_int_eq(fs_mount(t.image, &opts, &fs), -EUCLEAN);
	ck_assert_int_eq(tfs_fsck(&t, true, NULL), FSCK_CORRECTED);
	tfs_mount(&t);
	ck_assert_int_eq(tfs_lookup(t.fs, ROOT, "kept", &found), 0);
	ck_assert_uint_eq(found, ino);
}
END_TEST

/*
 * Regression test: replay wrote each image to the home block its
 * descriptor named, even one inside the journal area, so a crafted
 * transaction could overwrite the journal being replayed.  It is now
 * refused before anything is written.
 */
START_TEST(journal_image_homed_in_the_journal_is_refused)
{
	struct iomapfs_super sb;
	struct iomapfs_jsb *jsb;
	struct iomapfs_jdesc *d;

	crash_with_dirty_journal();
	pio(false, &sb, sizeof(sb), 0);
	forge.blocks = sb.journal_blocks;
	forge.area = malloc(sb.journal_blocks * BLK);
	pio(false, forge.area, sb.journal_blocks * BLK, sb.journal_start * BLK);
	jsb = (void *)forge.area;
	d = (void *)(forge.area + jsb->tail_block * BLK);
	ck_assert_uint_eq(d->hdr.magic, IOMAPFS_JDESC_MAGIC);
	ck_assert_uint_gt(d->nr_blocks, 0);
	d->blocks[0] = sb.journal_start + sb.journal_blocks - 1;
	fuzz_block_resign(d);
	ck_assert_uint_gt(fuzz_journal_resign(&sb, forge_jblock, NULL, NULL), 0);
	pio(true, forge.area, sb.journal_blocks * BLK, sb.journal_start * BLK);
	free(forge.area);
	expect_refused();
}
END_TEST

/* A case group on a fresh, mounted image each. */
static TCase *hostile_tcase(Suite *s, const char *name)
{
	TCase *tc = tcase_create(name);

	tcase_add_unchecked_fixture(tc, tfs_dir_create, tfs_dir_remove);
	tcase_add_checked_fixture(tc, tfs_setup, tfs_teardown);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);
	return tc;
}

static Suite *hostile_suite(void)
{
	Suite *s = suite_create("fsck_hostile");
	TCase *tc = hostile_tcase(s, "journal");

	tcase_add_test(tc, replayed_superblock_with_another_block_count_is_refused);
	tcase_add_test(tc, replayed_superblock_moving_the_bitmap_is_refused);
	tcase_add_test(tc, journal_image_homed_in_the_journal_is_refused);
	tc = hostile_tcase(s, "extents");
	tcase_add_test(tc, extent_over_the_journal_is_refused);
	tcase_add_test(tc, extent_past_the_device_end_is_refused);
	tc = hostile_tcase(s, "tree");
	tcase_add_test(tc, tree_node_in_the_journal_area_is_refused);
	tc = hostile_tcase(s, "inodes");
	tcase_add_test(tc, root_with_no_links_is_refused_not_freed);
	return s;
}

int main(void)
{
	return tfs_run(hostile_suite());
}
