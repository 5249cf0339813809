// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Description: fsck on real images.  A fresh image and one after a mixed
 * workload are clean (exit 0).  Each corruption -- a wrong link count, a
 * leaked block, an entry pointing at a missing inode, an inode no entry
 * refers to, a missing xattr chunk, a wrong entry type -- is reported by
 * fsck -n with exit 4 and nothing changed, repaired by fsck -y with exit
 * 1, after which fsck finds the image clean (0).  A damaged B+tree node is
 * reported as unrepairable (4) by both.  A corrupt journal superblock is
 * reported by -n (4) and rewritten by -y (1, not 0).  A file that is not
 * iomapfs is an operational error (8).  Corruptions are made through the metadata engine
 * or by writing bytes into the image, with the filesystem unmounted.
 */
#include <dirent.h>
#include "test_fs_dir_util.h"

#define ROOT	IOMAPFS_ROOT_INO

/* ---- the metadata engine alone, to corrupt an unmounted image ---- */

struct raw {
	struct blk_dev	*dev;
	struct meta	*m;
};

static void raw_open(struct raw *r)
{
	struct blk_dev_config cfg = { .nr_workers = 1 };
	struct meta_mount_opts mo = { .commit_interval_ms = 0 };

	ck_assert_int_eq(blk_dev_open(t.image, &cfg, &r->dev), 0);
	ck_assert_int_eq(meta_mount(r->dev, &mo, &r->m), 0);
	meta_begin(r->m);
}

static void raw_close(struct raw *r)
{
	meta_end(r->m);
	ck_assert_int_eq(meta_unmount(r->m), 0);
	blk_dev_close(r->dev);
}

/* Read an inode's link count and, unless @nlink is UINT32_MAX, set it. */
static uint32_t raw_nlink_xchg(uint64_t ino, uint32_t nlink)
{
	struct iomapfs_key key = meta_key(ino, IOMAPFS_ITEM_INODE, 0);
	struct iomapfs_dinode di;
	uint32_t len = sizeof(di), old;
	struct raw r;

	raw_open(&r);
	ck_assert_int_eq(btree_lookup(r.m, &key, &di, &len), 0);
	old = di.nlink;
	if (nlink != UINT32_MAX) {
		di.nlink = nlink;
		ck_assert_int_eq(btree_insert(r.m, &key, &di, sizeof(di)), 0);
	}
	raw_close(&r);
	return old;
}
#define raw_set_nlink(ino, n)	((void)raw_nlink_xchg(ino, n))
#define raw_nlink(ino)		raw_nlink_xchg(ino, UINT32_MAX)

/* -n finds it (4) and changes nothing; -y fixes it (1); then clean (0). */
static void expect_found_then_repaired(const char *what)
{
	char *out;

	ck_assert_int_eq(tfs_fsck(&t, false, &out), FSCK_UNCORRECTED);
	ck_assert_msg(strstr(out, what), "fsck -n did not mention \"%s\":\n%s", what, out);
	free(out);
	ck_assert_int_eq(tfs_fsck(&t, false, NULL), FSCK_UNCORRECTED);
	ck_assert_int_eq(tfs_fsck(&t, true, &out), FSCK_CORRECTED);
	ck_assert_msg(strstr(out, what), "fsck -y did not mention \"%s\":\n%s", what, out);
	free(out);
	ck_assert_int_eq(tfs_fsck(&t, false, &out), FSCK_OK);
	ck_assert_ptr_nonnull(strstr(out, ": clean, "));
	free(out);
}

/* ---- clean images ---- */

START_TEST(fresh_image_is_clean)
{
	char *out;

	tfs_unmount(&t);
	ck_assert_int_eq(tfs_fsck(&t, false, &out), FSCK_OK);
	ck_assert_ptr_nonnull(strstr(out, ": clean, 1 inodes, "));
	free(out);
	ck_assert_int_eq(tfs_fsck(&t, true, NULL), FSCK_OK);
}
END_TEST

static void write_file(uint64_t dir, const char *name, size_t len, unsigned seed)
{
	struct fs_create_args a = { .mode = S_IFREG | 0644 };
	char *buf = malloc(len);
	struct fs_inode *ip;

	for (size_t i = 0; i < len; i++)
		buf[i] = (char)(i * seed + seed);
	ck_assert_int_eq(fs_create(t.fs, dir, name, &a, &ip), 0);
	ck_assert_int_eq(fs_write(ip, 0, buf, len, false), len);
	fs_iput(ip);
	free(buf);
}

START_TEST(image_after_a_mixed_workload_is_clean)
{
	uint64_t d = tfs_create(t.fs, ROOT, "d", S_IFDIR | 0755, NULL);
	uint64_t e = tfs_create(t.fs, d, "e", S_IFDIR | 0755, NULL);
	static char big[20000];
	struct fs_inode *ip, *ip2;
	char name[32];
	char *out;

	for (unsigned i = 0; i < 200; i++) {
		snprintf(name, sizeof(name), "small%u", i);
		write_file(i % 2 ? d : e, name, 100 + i * 37, i + 1);
	}
	write_file(ROOT, "large", 3 << 20, 7);
	tfs_create(t.fs, e, "link", S_IFLNK | 0777, "../small1");
	ck_assert_int_eq(fs_setxattr(t.fs, d, "user.big", big, sizeof(big), 0), 0);
	ck_assert_int_eq(fs_setxattr(t.fs, e, "user.small", "v", 1, 0), 0);
	ck_assert_int_eq(fs_rename(t.fs, d, "e", ROOT, "e2", 0), 0);
	ck_assert_int_eq(fs_rename(t.fs, d, "small1", e, "small0", 0), 0);
	ck_assert_int_eq(fs_lookup(t.fs, ROOT, "large", &ip), 0);
	ck_assert_int_eq(fs_link(t.fs, ip->ino, e, "large-link", &ip2), 0);
	fs_iput(ip2);
	fs_iput(ip);
	for (unsigned i = 3; i < 200; i += 4) {
		snprintf(name, sizeof(name), "small%u", i);
		ck_assert_int_eq(fs_unlink(t.fs, d, name), 0);
	}
	tfs_unmount(&t);
	ck_assert_int_eq(tfs_fsck(&t, false, &out), FSCK_OK);
	ck_assert_ptr_nonnull(strstr(out, ": clean, "));
	free(out);
	ck_assert_int_eq(tfs_fsck(&t, true, NULL), FSCK_OK);
}
END_TEST

/* ---- repairable damage ---- */

START_TEST(wrong_link_count_is_found_and_fixed)
{
	uint64_t f = tfs_create(t.fs, ROOT, "f", S_IFREG | 0644, NULL);
	uint64_t d = tfs_create(t.fs, ROOT, "d", S_IFDIR | 0755, NULL);

	tfs_unmount(&t);
	raw_set_nlink(f, 5);
	raw_set_nlink(d, 7);
	expect_found_then_repaired("link count 5, should be 1");
	ck_assert_uint_eq(raw_nlink(f), 1);
	ck_assert_uint_eq(raw_nlink(d), 2);
}
END_TEST

START_TEST(leaked_block_is_found_and_freed)
{
	struct meta_space before, after;
	uint64_t start, len;
	struct raw r;

	tfs_unmount(&t);
	raw_open(&r);
	meta_get_space(r.m, &before);
	ck_assert_int_eq(alloc_extent(r.m, 0, 3, 3, false, &start, &len), 0);
	ck_assert_uint_eq(len, 3);
	raw_close(&r);
	ck_assert_int_eq(tfs_fsck(&t, false, NULL), FSCK_UNCORRECTED);
	ck_assert_int_eq(tfs_fsck(&t, true, NULL), FSCK_CORRECTED);
	ck_assert_int_eq(tfs_fsck(&t, false, NULL), FSCK_OK);
	raw_open(&r);
	meta_get_space(r.m, &after);
	raw_close(&r);
	ck_assert_uint_eq(after.free_blocks, before.free_blocks);
}
END_TEST

START_TEST(entry_pointing_at_a_missing_inode_is_removed)
{
	struct raw r;
	uint64_t ino;

	tfs_create(t.fs, ROOT, "real", S_IFREG | 0644, NULL);
	tfs_unmount(&t);
	raw_open(&r);
	ck_assert_int_eq(__fs_dir_add(r.m, ROOT, "ghost", 999999, DT_REG), 0);
	raw_close(&r);
	expect_found_then_repaired("points at a missing inode");
	tfs_mount(&t);
	ck_assert_int_eq(tfs_lookup(t.fs, ROOT, "ghost", NULL), -ENOENT);
	ck_assert_int_eq(tfs_lookup(t.fs, ROOT, "real", &ino), 0);
	ck_assert_uint_eq(tfs_stat(t.fs, ROOT).st_size, 1 * FS_DIRENT_SIZE);
}
END_TEST

START_TEST(unreferenced_inode_moves_to_lost_found)
{
	uint64_t d = tfs_create(t.fs, ROOT, "d", S_IFDIR | 0755, NULL);
	uint64_t f = tfs_create(t.fs, d, "f", S_IFREG | 0644, NULL);
	struct iomapfs_key lo = meta_key(d, IOMAPFS_ITEM_DIRENT, 0);
	struct iomapfs_key hi = meta_key(d, IOMAPFS_ITEM_DIRENT, UINT64_MAX);
	char name[32];
	struct raw r;
	uint64_t lf, ino;

	tfs_unmount(&t);
	raw_open(&r);
	ck_assert_int_eq(btree_delete_range(r.m, &lo, &hi), 1);
	raw_close(&r);
	expect_found_then_repaired("moving it to /lost+found");
	tfs_mount(&t);
	ck_assert_int_eq(tfs_lookup(t.fs, ROOT, "lost+found", &lf), 0);
	snprintf(name, sizeof(name), "#%llu", (unsigned long long)f);
	ck_assert_int_eq(tfs_lookup(t.fs, lf, name, &ino), 0);
	ck_assert_uint_eq(ino, f);
	ck_assert_uint_eq(tfs_stat(t.fs, f).st_nlink, 1);
	ck_assert_uint_eq(tfs_stat(t.fs, d).st_size, 0);
	ck_assert_uint_eq(tfs_stat(t.fs, ROOT).st_nlink, 4);
}
END_TEST

START_TEST(missing_xattr_chunk_drops_the_xattr)
{
	uint64_t f = tfs_create(t.fs, ROOT, "f", S_IFREG | 0644, NULL);
	static char big[10000];
	struct iomapfs_key lo = meta_key(f, IOMAPFS_ITEM_XATTR_DATA, 0);
	struct iomapfs_key hi = meta_key(f, IOMAPFS_ITEM_XATTR_DATA, UINT64_MAX);
	struct raw r;
	uint8_t chunk[IOMAPFS_ITEM_MAX];
	uint32_t len = sizeof(chunk);

	ck_assert_int_eq(fs_setxattr(t.fs, f, "user.big", big, sizeof(big), 0), 0);
	ck_assert_int_eq(fs_setxattr(t.fs, f, "user.keep", "k", 1, 0), 0);
	tfs_unmount(&t);
	raw_open(&r);
	ck_assert_int_eq(btree_next(r.m, &lo, &hi, chunk, &len), 0);
	meta_key_next(&lo);
	ck_assert_int_eq(btree_next(r.m, &lo, &hi, chunk, &len), 0);
	ck_assert_int_eq(btree_delete(r.m, &lo), 0);	/* the second chunk */
	raw_close(&r);
	expect_found_then_repaired("missing chunks");
	tfs_mount(&t);
	ck_assert_int_eq(fs_getxattr(t.fs, f, "user.big", NULL, 0), -ENODATA);
	ck_assert_int_eq(fs_getxattr(t.fs, f, "user.keep", NULL, 0), 1);
}
END_TEST

START_TEST(entry_with_the_wrong_type_is_corrected)
{
	uint64_t d = tfs_create(t.fs, ROOT, "d", S_IFDIR | 0755, NULL);
	struct raw r;

	tfs_unmount(&t);
	raw_open(&r);
	/* Rewrite d's entry as a regular file. */
	{
		struct iomapfs_key lo = meta_key(ROOT, IOMAPFS_ITEM_DIRENT, 0);
		struct iomapfs_key hi = meta_key(ROOT, IOMAPFS_ITEM_DIRENT, UINT64_MAX);
		uint8_t val[IOMAPFS_ITEM_MAX];
		struct iomapfs_dirent *de = (void *)val;
		uint32_t len = sizeof(val);

		ck_assert_int_eq(btree_next(r.m, &lo, &hi, val, &len), 0);
		ck_assert_uint_eq(de->ino, d);
		de->type = DT_REG;
		ck_assert_int_eq(btree_insert(r.m, &lo, val, len), 0);
	}
	raw_close(&r);
	expect_found_then_repaired("has type 8, inode has 4");
}
END_TEST

START_TEST(wrong_inode_count_in_the_superblock_is_fixed)
{
	struct raw r;

	tfs_create(t.fs, ROOT, "f", S_IFREG | 0644, NULL);
	tfs_unmount(&t);
	raw_open(&r);
	meta_inodes_changed(r.m, 5);
	raw_close(&r);
	expect_found_then_repaired("superblock counts 7 inodes, the tree holds 2");
	raw_open(&r);
	ck_assert_uint_eq(meta_super(r.m)->nr_inodes, 2);
	raw_close(&r);
}
END_TEST

START_TEST(orphan_of_an_open_unlinked_file_is_left_to_the_next_mount)
{
	uint64_t f = tfs_create(t.fs, ROOT, "f", S_IFREG | 0644, NULL);
	struct fs_inode *ip;
	char *out;

	ck_assert_int_eq(fs_iget(t.fs, f, &ip), 0);
	fs_inode_open(ip);
	ck_assert_int_eq(fs_unlink(t.fs, ROOT, "f"), 0);
	ck_assert_int_eq(meta_commit(fs_meta(t.fs)), 0);
	fs_shutdown(t.fs);		/* crash while the file is still open */
	tfs_unmount(&t);
	ck_assert_int_eq(tfs_fsck(&t, true, &out), FSCK_CORRECTED);	/* the replay */
	ck_assert_msg(!strstr(out, "lost+found"), "%s", out);
	free(out);
	ck_assert_int_eq(tfs_fsck(&t, false, NULL), FSCK_OK);
	tfs_mount(&t);			/* frees the orphan */
	ck_assert_int_eq(fs_iget(t.fs, f, &ip), -ENOENT);
	tfs_unmount(&t);
	ck_assert_int_eq(tfs_fsck(&t, false, &out), FSCK_OK);
	ck_assert_ptr_nonnull(strstr(out, ": clean, 1 inodes"));
	free(out);
}
END_TEST

/* ---- what fsck cannot fix ---- */

START_TEST(damaged_tree_node_is_reported_as_unrepairable)
{
	uint8_t *blk = aligned_alloc(IOMAPFS_BLOCK_SIZE, IOMAPFS_BLOCK_SIZE);
	const struct iomapfs_node_hdr *nh = (const void *)blk;
	const struct iomapfs_node_ptr *ptrs = (const void *)(blk + sizeof(*nh));
	struct iomapfs_super sb;
	uint64_t victim;
	char name[32];
	char *out;
	int fd;

	for (unsigned i = 0; i < 400; i++) {
		snprintf(name, sizeof(name), "file-with-a-longish-name-%u", i);
		tfs_create(t.fs, ROOT, name, S_IFREG | 0644, NULL);
	}
	tfs_unmount(&t);
	fd = open(t.image, O_RDWR);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, &sb, sizeof(sb), 0), sizeof(sb));
	ck_assert_uint_gt(sb.tree_height, 1);
	ck_assert_int_eq(pread(fd, blk, IOMAPFS_BLOCK_SIZE,
			       sb.root_node << IOMAPFS_BLOCK_SHIFT), IOMAPFS_BLOCK_SIZE);
	ck_assert_uint_gt(nh->nritems, 1);
	victim = ptrs[1].blkno;		/* not the root, not the first leaf */
	ck_assert_int_eq(pread(fd, blk, IOMAPFS_BLOCK_SIZE,
			       victim << IOMAPFS_BLOCK_SHIFT), IOMAPFS_BLOCK_SIZE);
	for (unsigned i = 1024; i < 1024 + 64; i++)
		blk[i] ^= 0x5a;
	ck_assert_int_eq(pwrite(fd, blk, IOMAPFS_BLOCK_SIZE,
				victim << IOMAPFS_BLOCK_SHIFT), IOMAPFS_BLOCK_SIZE);
	close(fd);
	ck_assert_int_eq(tfs_fsck(&t, false, &out), FSCK_UNCORRECTED);
	ck_assert_msg(strstr(out, "B+tree"), "%s", out);
	free(out);
	ck_assert_int_eq(tfs_fsck(&t, true, &out), FSCK_UNCORRECTED);
	ck_assert_msg(strstr(out, "cannot repair"), "%s", out);
	free(out);
	free(blk);
}
END_TEST

START_TEST(directory_loop_is_reported_as_unrepairable)
{
	uint64_t a = tfs_create(t.fs, ROOT, "a", S_IFDIR | 0755, NULL);
	uint64_t b = tfs_create(t.fs, a, "b", S_IFDIR | 0755, NULL);
	struct iomapfs_key key = meta_key(ROOT, IOMAPFS_ITEM_DIRENT,
					  fs_name_hash56("a", 1) << 8);
	struct raw r;
	char *out;

	tfs_unmount(&t);
	raw_open(&r);
	ck_assert_int_eq(btree_delete(r.m, &key), 0);	/* root no longer holds a */
	ck_assert_int_eq(__fs_dir_add(r.m, b, "a", a, DT_DIR), 0);	/* b holds a */
	raw_close(&r);
	ck_assert_int_eq(tfs_fsck(&t, false, &out), FSCK_UNCORRECTED);
	ck_assert_msg(strstr(out, "not connected to the root"), "%s", out);
	free(out);
	ck_assert_int_eq(tfs_fsck(&t, true, &out), FSCK_UNCORRECTED);
	ck_assert_msg(strstr(out, "not connected to the root (its ancestors form a loop) (cannot repair)"),
		      "%s", out);
	free(out);
}
END_TEST

START_TEST(foreign_or_missing_image_is_an_operational_error)
{
	char path[128];
	int fd;

	tfs_unmount(&t);
	snprintf(path, sizeof(path), "%s/zeros", t.dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, 16 << 20), 0);
	close(fd);
	{
		struct fsck_opts o = { .no_change = true };
		FILE *devnull = fopen("/dev/null", "w");

		ck_assert_int_eq(fs_fsck(path, &o, devnull), FSCK_ERROR);
		unlink(path);
		ck_assert_int_eq(fs_fsck(path, &o, devnull), FSCK_ERROR);
		o.yes = true;
		ck_assert_int_eq(fs_fsck(t.image, &o, devnull), FSCK_USAGE);
		fclose(devnull);
	}
}
END_TEST

START_TEST(unclean_shutdown_is_reported_then_replayed)
{
	uint64_t f = tfs_create(t.fs, ROOT, "f", S_IFREG | 0644, NULL);
	uint64_t ino;
	char *out;

	ck_assert_int_eq(meta_commit(fs_meta(t.fs)), 0);	/* f is durable */
	fs_shutdown(t.fs);					/* then the "crash" */
	tfs_unmount(&t);
	ck_assert_int_eq(tfs_fsck(&t, false, &out), FSCK_UNCORRECTED);
	ck_assert_msg(strstr(out, "journal"), "%s", out);
	free(out);
	ck_assert_int_eq(tfs_fsck(&t, true, NULL), FSCK_CORRECTED);
	ck_assert_int_eq(tfs_fsck(&t, false, NULL), FSCK_OK);
	tfs_mount(&t);
	ck_assert_int_eq(tfs_lookup(t.fs, ROOT, "f", &ino), 0);
	ck_assert_uint_eq(ino, f);
}
END_TEST

/*
 * Regression test: fsck -y salvaged a corrupt journal superblock (the
 * mount ignored the log and wrote an empty one) but then exited 0,
 * "clean", as if nothing had been wrong.
 */
START_TEST(corrupt_journal_superblock_is_rewritten_and_counted_as_corrected)
{
	uint64_t f = tfs_create(t.fs, ROOT, "f", S_IFREG | 0644, NULL);
	struct iomapfs_super sb;
	uint64_t ino;
	off_t off;
	uint8_t b;
	char *out;
	int fd;

	tfs_unmount(&t);
	fd = open(t.image, O_RDWR);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, &sb, sizeof(sb), 0), sizeof(sb));
	off = (off_t)(sb.journal_start << IOMAPFS_BLOCK_SHIFT) + 700;
	ck_assert_int_eq(pread(fd, &b, 1, off), 1);
	b ^= 0x04;
	ck_assert_int_eq(pwrite(fd, &b, 1, off), 1);
	close(fd);
	ck_assert_int_eq(tfs_fsck(&t, false, &out), FSCK_UNCORRECTED);
	ck_assert_msg(strstr(out, "journal superblock corrupt"), "%s", out);
	free(out);
	ck_assert_int_eq(tfs_fsck(&t, true, &out), FSCK_CORRECTED);
	ck_assert_msg(strstr(out, "journal superblock corrupt: rewritten"), "%s", out);
	free(out);
	ck_assert_int_eq(tfs_fsck(&t, false, NULL), FSCK_OK);
	tfs_mount(&t);			/* a plain mount no longer refuses it */
	ck_assert_int_eq(tfs_lookup(t.fs, ROOT, "f", &ino), 0);
	ck_assert_uint_eq(ino, f);
}
END_TEST

START_TEST(mounted_image_is_refused)
{
	struct fsck_opts o = { .no_change = true };
	FILE *devnull = fopen("/dev/null", "w");

	ck_assert_int_eq(fs_fsck(t.image, &o, devnull), FSCK_ERROR);
	fclose(devnull);
}
END_TEST

static Suite *fsck_suite(void)
{
	Suite *s = suite_create("fs_fsck");
	TCase *tc = tcase_create("fsck");

	tcase_add_unchecked_fixture(tc, tfs_dir_create, tfs_dir_remove);
	tcase_add_checked_fixture(tc, tfs_setup, tfs_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, fresh_image_is_clean);
	tcase_add_test(tc, image_after_a_mixed_workload_is_clean);
	tcase_add_test(tc, wrong_link_count_is_found_and_fixed);
	tcase_add_test(tc, leaked_block_is_found_and_freed);
	tcase_add_test(tc, entry_pointing_at_a_missing_inode_is_removed);
	tcase_add_test(tc, unreferenced_inode_moves_to_lost_found);
	tcase_add_test(tc, missing_xattr_chunk_drops_the_xattr);
	tcase_add_test(tc, entry_with_the_wrong_type_is_corrected);
	tcase_add_test(tc, wrong_inode_count_in_the_superblock_is_fixed);
	tcase_add_test(tc, damaged_tree_node_is_reported_as_unrepairable);
	tcase_add_test(tc, directory_loop_is_reported_as_unrepairable);
	tcase_add_test(tc, foreign_or_missing_image_is_an_operational_error);
	tcase_add_test(tc, unclean_shutdown_is_reported_then_replayed);
	tcase_add_test(tc, corrupt_journal_superblock_is_rewritten_and_counted_as_corrected);
	tcase_add_test(tc, mounted_image_is_refused);
	tcase_add_test(tc, orphan_of_an_open_unlinked_file_is_left_to_the_next_mount);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tfs_run(fsck_suite());
}
