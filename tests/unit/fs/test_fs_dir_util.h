/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Shared by the suites that run the filesystem objects on the real stack
 * (test_fs_dir, test_fs_xattr, test_fs_dio, test_fsck, test_fsck_hostile
 * through struct tfs; test_fs_data and test_fs_crash, which keep their
 * own mount options, through the image helpers): make a fresh image
 * under a mkdtemp() directory in /var/tmp, mount it with the real stack,
 * remount, run fsck, clean up.
 */
#ifndef TEST_FS_DIR_UTIL_H
#define TEST_FS_DIR_UTIL_H

#include <check.h>
#include "unit.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "fs_internal.h"
#include "fsck.h"

#include <dirent.h>

#define TFS_IMAGE_BYTES	(512ull << 20)

/*
 * The work directory belongs to the parent process: made and removed by
 * an unchecked fixture (tfs_dir_create/tfs_dir_remove around each TCase),
 * so a test that fails in its forked child -- which then skips its own
 * teardown -- still leaves nothing behind in /var/tmp.
 */
static inline void tfs_dir_create(void)
{
	unit_scratch_create("ns");
}

static inline void tfs_dir_remove(void)
{
	unit_scratch_remove();
}

struct tfs {
	char		dir[64];
	char		image[96];
	struct fs	*fs;
};

/*
 * mkfs @image, @bytes long, with @mo.  An existing file keeps its
 * contents (mkfs does not clear data blocks: the crash suite's stale
 * image relies on it); unlink it first for a zeroed one.
 */
static inline void tfs_mkfs_image(const char *image, uint64_t bytes,
				  const struct mkfs_opts *mo)
{
	struct blk_dev_config cfg = { .nr_workers = 1 };
	struct blk_dev *dev;
	int fd = open(image, O_RDWR | O_CREAT, 0600);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, bytes), 0);
	close(fd);
	ck_assert_int_eq(blk_dev_open(image, &cfg, &dev), 0);
	ck_assert_int_eq(meta_mkfs(dev, mo), 0);
	blk_dev_close(dev);
}

/* A zeroed image: what was there before is gone. */
static inline void tfs_mkfs_fresh(const char *image, uint64_t bytes,
				  const struct mkfs_opts *mo)
{
	ck_assert(unlink(image) == 0 || errno == ENOENT);
	tfs_mkfs_image(image, bytes, mo);
}

static inline void tfs_mkfs(struct tfs *t)
{
	ck_assert_msg(unit_scratch_dir[0], "no work directory: add the unchecked fixture");
	snprintf(t->dir, sizeof(t->dir), "%s", unit_scratch_dir);
	snprintf(t->image, sizeof(t->image), "%s/image", t->dir);
	tfs_mkfs_fresh(t->image, TFS_IMAGE_BYTES, &(struct mkfs_opts){ .label = "unit" });
}

static inline void tfs_mount(struct tfs *t)
{
	struct fs_mount_opts opts = { 0 };

	opts.cache.size_bytes = 64ull << 20;
	opts.blk.nr_workers = 1;
	ck_assert_int_eq(fs_mount(t->image, &opts, &t->fs), 0);
}

static inline void tfs_unmount(struct tfs *t)
{
	ck_assert_int_eq(fs_unmount(t->fs), 0);
	t->fs = NULL;
}

static inline void tfs_remount(struct tfs *t)
{
	tfs_unmount(t);
	tfs_mount(t);
}

/* fsck -n (or -y with @repair) @image: its exit code, its report in
 * *@out for the caller to free. */
static inline int tfs_fsck_image(const char *image, bool repair, char **out)
{
	struct fsck_opts o = { .no_change = !repair, .yes = repair };
	size_t len = 0;
	FILE *log;
	int ret;

	*out = NULL;
	log = open_memstream(out, &len);
	ck_assert_ptr_nonnull(log);
	ret = fs_fsck(image, &o, log);
	fclose(log);
	return ret;
}

/* fsck the (unmounted) image; its report goes to @out (may be NULL). */
static inline int tfs_fsck(struct tfs *t, bool repair, char **out)
{
	char *buf;
	int ret = tfs_fsck_image(t->image, repair, &buf);

	if (ret)
		fprintf(stderr, "fsck -%c (exit %d):\n%s", repair ? 'y' : 'n', ret, buf);
	if (out)
		*out = buf;
	else
		free(buf);
	return ret;
}

static inline void tfs_cleanup(struct tfs *t)
{
	if (t->fs)
		fs_unmount(t->fs);
	t->fs = NULL;
	unlink(t->image);
}

/* Create a child of @dir; returns its inode number. */
static inline uint64_t tfs_create(struct fs *fs, uint64_t dir, const char *name,
				  mode_t mode, const char *target)
{
	struct fs_create_args a = { .mode = mode, .symlink = target };
	struct fs_inode *ip;
	uint64_t ino;

	ck_assert_int_eq(fs_create(fs, dir, name, &a, &ip), 0);
	ino = ip->ino;
	fs_iput(ip);
	return ino;
}

static inline int tfs_create_err(struct fs *fs, uint64_t dir, const char *name,
				 mode_t mode)
{
	struct fs_create_args a = { .mode = mode };
	struct fs_inode *ip = NULL;
	int err = fs_create(fs, dir, name, &a, &ip);

	if (!err)
		fs_iput(ip);
	return err;
}

/* 0 and *ino, or -errno. */
static inline int tfs_lookup(struct fs *fs, uint64_t dir, const char *name,
			     uint64_t *ino)
{
	struct fs_inode *ip;
	int err = fs_lookup(fs, dir, name, &ip);

	if (err)
		return err;
	if (ino)
		*ino = ip->ino;
	fs_iput(ip);
	return 0;
}

static inline struct stat tfs_stat(struct fs *fs, uint64_t ino)
{
	struct fs_inode *ip;
	struct stat st;

	ck_assert_int_eq(fs_iget(fs, ino, &ip), 0);
	fs_fill_stat(ip, &st);
	fs_iput(ip);
	return st;
}

/* The filesystem each case of a suite works on: fresh, mounted (checked
 * fixture, runs in the forked child). */
static struct tfs t;

static inline void tfs_setup(void)
{
	tfs_mkfs(&t);
	tfs_mount(&t);
}

static inline void tfs_teardown(void)
{
	tfs_cleanup(&t);
}

/* main() of each suite: run it, exit status for ctest. */
static inline int tfs_run(Suite *s)
{
	return unit_run(s, NULL);	/* the TCase fixtures own the directory */
}

#endif /* TEST_FS_DIR_UTIL_H */
