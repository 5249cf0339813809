// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The fixture shared by the metadata engine suites (test_meta_*.c), which
 * #include this file (it is not built on its own; tests/unit/libfs/CMakeLists.txt
 * leaves it out of the suite list): a scratch directory under /var/tmp for
 * image files, removed at the end; image, open, mkfs and mount helpers;
 * stderr capture so tests can check the messages a user sees; and the
 * "used" bitmap a check walk fills.  Everything is static: each suite is
 * one translation unit.
 */
#include "meta.h"

#include <check.h>
#include "unit.h"
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MiB		(1ull << 20)
#define BLK		IOMAPFS_BLOCK_SIZE


struct fx {
	char		path[512];
	struct blk_dev	*dev;
	struct meta	*m;
};

__attribute__((unused))
static void fx_image(struct fx *f, const char *name, uint64_t size)
{
	int fd;

	snprintf(f->path, sizeof(f->path), "%s/%s", unit_scratch_dir, name);
	fd = open(f->path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, size), 0);
	close(fd);
}

__attribute__((unused))
static void fx_open(struct fx *f)
{
	struct blk_dev_config cfg = { 0 };

	ck_assert_int_eq(blk_dev_open(f->path, &cfg, &f->dev), 0);
}

__attribute__((unused))
static void fx_close(struct fx *f)
{
	if (f->dev)
		blk_dev_close(f->dev);
	f->dev = NULL;
}

__attribute__((unused))
static int fx_mount_opts(struct fx *f, const struct meta_mount_opts *mo)
{
	return meta_mount(f->dev, mo, &f->m);
}

/* Mount without the log thread: tests commit explicitly. */
__attribute__((unused))
static void fx_mount(struct fx *f)
{
	struct meta_mount_opts mo = { .commit_interval_ms = 0 };

	ck_assert_int_eq(fx_mount_opts(f, &mo), 0);
}

__attribute__((unused))
static void fx_unmount(struct fx *f)
{
	ck_assert_int_eq(meta_unmount(f->m), 0);
	f->m = NULL;
}

/* A fresh filesystem of @size bytes (journal @jblocks, 0: default), mounted. */
__attribute__((unused))
static void fx_setup(struct fx *f, const char *name, uint64_t size, uint64_t jblocks)
{
	struct mkfs_opts o = { .label = "unit", .journal_blocks = jblocks };

	fx_image(f, name, size);
	fx_open(f);
	ck_assert_int_eq(meta_mkfs(f->dev, &o), 0);
	fx_mount(f);
}

/* Crash-free remount: unmount, close, open, mount. */
__attribute__((unused))
static void fx_remount(struct fx *f)
{
	fx_unmount(f);
	fx_close(f);
	fx_open(f);
	fx_mount(f);
}

__attribute__((unused))
static void fx_teardown(struct fx *f)
{
	if (f->m)
		meta_unmount(f->m);
	f->m = NULL;
	fx_close(f);
	unlink(f->path);
}

/* Read or write raw bytes of the image file (the device is closed). */
__attribute__((unused))
static void fx_pio(struct fx *f, bool write, void *buf, size_t len, uint64_t off)
{
	int fd = open(f->path, O_RDWR);
	ssize_t n;

	ck_assert_int_ge(fd, 0);
	n = write ? pwrite(fd, buf, len, off) : pread(fd, buf, len, off);
	ck_assert_int_eq(n, (ssize_t)len);
	close(fd);
}

/* The format.h checksum of a superblock image, to forge valid ones. */
__attribute__((unused))
static void fx_super_set_crc(void *blk)
{
	struct iomapfs_super *sb = blk;

	sb->crc = 0;
	sb->crc = ~crc32c(~0u, blk, BLK);
}

/* ---- stderr capture ---- */

static int saved_stderr = -1;
static char capture_path[512];

__attribute__((unused))
static void capture_begin(void)
{
	int fd;

	snprintf(capture_path, sizeof(capture_path), "%s/stderr.%d", unit_scratch_dir, getpid());
	fd = open(capture_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	fflush(stderr);
	saved_stderr = dup(2);
	dup2(fd, 2);
	close(fd);
}

/* Stop capturing; returns what was written (static buffer). */
__attribute__((unused))
static const char *capture_end(void)
{
	static char text[1 << 16];
	ssize_t n;
	int fd;

	fflush(stderr);
	dup2(saved_stderr, 2);
	close(saved_stderr);
	fd = open(capture_path, O_RDONLY);
	n = fd >= 0 ? read(fd, text, sizeof(text) - 1) : 0;
	text[n > 0 ? n : 0] = 0;
	if (fd >= 0)
		close(fd);
	unlink(capture_path);
	fputs(text, stderr);	/* keep it visible in the test log */
	return text;
}

/* ---- check walks ---- */

__attribute__((unused))
static uint8_t *fx_used_map(struct meta *m)
{
	return calloc(1, meta_super(m)->nr_blocks / 8 + 1);
}

/* Problems in the tree plus problems in the bitmap, given extra used
 * ranges (data extents the test allocated). */
__attribute__((unused))
static long fx_check_all(struct meta *m, const uint64_t (*extra)[2], size_t nr_extra)
{
	uint8_t *used = fx_used_map(m);
	long problems;

	meta_mark_static(m, used);
	problems = meta_check_tree(m, used, NULL, NULL);
	for (size_t i = 0; i < nr_extra; i++)
		for (uint64_t b = extra[i][0]; b < extra[i][0] + extra[i][1]; b++)
			used[b / 8] |= 1u << (b % 8);
	problems += meta_check_bitmap(m, used, false, stderr);
	free(used);
	return problems;
}

/* ---- main ---- */

__attribute__((unused))
static int fx_run(Suite *s)
{
	return unit_run(s, "meta");
}
