// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Description: the data side of the filesystem objects with the real
 * stack underneath (metadata engine, page cache, block layer on an image
 * file in a mkdtemp() directory under /var/tmp): bytes written through
 * fs_write read back through fs_read and survive a remount; delayed
 * allocation gives a sequential file few extents and reports ENOSPC at
 * write time; unwritten extents read as zeros and are converted in a
 * worker after the data lands; punch hole, zero range and truncate free
 * and zero what they should; SEEK_DATA/SEEK_HOLE; unlinked files are freed
 * at last close, or at the next mount after a crash.  fsck checks the image
 * after every test that wrote.
 */
#include <check.h>
#include "unit.h"
#include <dirent.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include "test_fs_dir_util.h"

#define MiB		(1ull << 20)
#define BIG_IMAGE	(512 * MiB)

/* t: the image and mount of the running case (test_fs_dir_util.h). */

static void td_mkfs(uint64_t bytes)
{
	tfs_mkfs_fresh(t.image, bytes, &(struct mkfs_opts){ .label = "data" });
}

static void td_mount(void)
{
	struct fs_mount_opts opts = { 0 };

	opts.cache.size_bytes = 128 * MiB;
	opts.blk.nr_workers = 2;
	ck_assert_int_eq(fs_mount(t.image, &opts, &t.fs), 0);
}

static void td_unmount(void)
{
	ck_assert_int_eq(fs_unmount(t.fs), 0);
	t.fs = NULL;
}

static void td_remount(void)
{
	td_unmount();
	td_mount();
}

static void td_fsck_clean(void)
{
	char *buf;
	int ret = tfs_fsck_image(t.image, false, &buf);

	if (ret)
		fprintf(stderr, "fsck -n exit %d:\n%s", ret, buf);
	free(buf);
	ck_assert_int_eq(ret, FSCK_OK);
}

/*
 * One directory per run, made and removed by unit_run() in the runner
 * process, so a test that fails in its forked child leaves nothing behind.
 * Each test (a forked child) gets its own image in it: the device of a
 * child that failed may stay locked for a moment after it exits.
 */
static void image_name(void)
{
	memset(&t, 0, sizeof(t));
	snprintf(t.image, sizeof(t.image), "%s/image-%d", unit_scratch_dir, (int)getpid());
}

static void setup_big(void)
{
	image_name();
	td_mkfs(BIG_IMAGE);
	td_mount();
}

static void teardown(void)
{
	if (t.fs)
		fs_unmount(t.fs);
	t.fs = NULL;
	unlink(t.image);
}

/* ---- helpers ---- */

static struct fs_inode *create_file(const char *name)
{
	struct fs_create_args a = { .mode = S_IFREG | 0644 };
	struct fs_inode *ip;

	ck_assert_int_eq(fs_create(t.fs, IOMAPFS_ROOT_INO, name, &a, &ip), 0);
	return ip;
}

static struct fs_inode *lookup_file(const char *name)
{
	struct fs_inode *ip;

	ck_assert_int_eq(fs_lookup(t.fs, IOMAPFS_ROOT_INO, name, &ip), 0);
	return ip;
}

static void fill_pattern(uint8_t *buf, size_t len, uint64_t pos, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)((pos + i) * 31 + seed + ((pos + i) >> 12));
}

static void write_all(struct fs_inode *ip, uint64_t pos, const void *buf, size_t len)
{
	ck_assert_int_eq(fs_write(ip, pos, buf, len, false), (ssize_t)len);
}

static void write_pattern(struct fs_inode *ip, uint64_t pos, size_t len, unsigned seed)
{
	uint8_t *buf = malloc(len);

	fill_pattern(buf, len, pos, seed);
	write_all(ip, pos, buf, len);
	free(buf);
}

/* fs_read into @buf (copying the iovecs), looping until @len or EOF. */
static size_t read_all(struct fs_inode *ip, uint64_t pos, void *buf, size_t len)
{
	struct cache_read_result *res = malloc(sizeof(*res));
	size_t done = 0;

	while (done < len) {
		ssize_t n = fs_read(ip, pos + done, min_t(size_t, len - done, MiB), res);

		ck_assert_int_ge(n, 0);
		if (!n)
			break;
		size_t off = 0;

		for (unsigned i = 0; i < res->nr_iov; i++) {
			memcpy((char *)buf + done + off, res->iov[i].iov_base, res->iov[i].iov_len);
			off += res->iov[i].iov_len;
		}
		ck_assert_uint_eq(off, (size_t)n);
		cache_read_done(res);
		done += n;
	}
	free(res);
	return done;
}

static void expect_pattern(struct fs_inode *ip, uint64_t pos, size_t len, unsigned seed)
{
	uint8_t *got = malloc(len), *want = malloc(len);

	ck_assert_uint_eq(read_all(ip, pos, got, len), len);
	fill_pattern(want, len, pos, seed);
	for (size_t i = 0; i < len; i++)
		if (got[i] != want[i])
			ck_abort_msg("byte %llu: got %#x want %#x",
				     (unsigned long long)(pos + i), got[i], want[i]);
	free(got);
	free(want);
}

static void expect_byte(struct fs_inode *ip, uint64_t pos, size_t len, uint8_t val)
{
	uint8_t *got = malloc(len);

	ck_assert_uint_eq(read_all(ip, pos, got, len), len);
	for (size_t i = 0; i < len; i++)
		if (got[i] != val)
			ck_abort_msg("byte %llu: got %#x want %#x",
				     (unsigned long long)(pos + i), got[i], val);
	free(got);
}

static uint64_t file_size(struct fs_inode *ip)
{
	struct stat st;

	fs_fill_stat(ip, &st);
	return st.st_size;
}

static uint64_t file_blocks(struct fs_inode *ip)
{
	struct stat st;

	fs_fill_stat(ip, &st);
	return st.st_blocks;
}

static uint64_t free_blocks(void)
{
	struct statvfs st;

	ck_assert_int_eq(fs_statfs(t.fs, &st), 0);
	return st.f_bfree;
}

struct stat_find { const char *name; uint64_t val; bool found; };

static void stat_cb(void *ctx, const char *name, uint64_t val)
{
	struct stat_find *f = ctx;

	if (!strcmp(name, f->name)) {
		f->val = val;
		f->found = true;
	}
}

static uint64_t fs_stat(const char *name)
{
	struct stat_find f = { .name = name };

	fs_stats_for_each(t.fs, stat_cb, &f);
	ck_assert_msg(f.found, "no counter %s", name);
	return f.val;
}

static void set_size(struct fs_inode *ip, uint64_t size)
{
	struct fs_setattr sa = { .valid = FS_SET_SIZE, .size = size };

	ck_assert_int_eq(fs_setattr(t.fs, ip->ino, &sa), 0);
}

/* ---- tests ---- */

START_TEST(written_bytes_read_back_and_survive_remount)
{
	struct fs_inode *ip = create_file("f");

	write_pattern(ip, 0, 3 * MiB + 123, 1);		/* unaligned end */
	write_pattern(ip, 5 * MiB + 7, 10000, 2);	/* unaligned, after a hole */
	write_pattern(ip, 4096 + 100, 50, 3);		/* overwrite inside */
	expect_pattern(ip, 0, 4096 + 100, 1);
	expect_pattern(ip, 4096 + 100, 50, 3);
	expect_pattern(ip, 4096 + 150, 3 * MiB + 123 - 4096 - 150, 1);
	ck_assert_int_eq(fs_fsync(ip, false, NULL), 0);
	ck_assert_uint_eq(file_size(ip), 5 * MiB + 7 + 10000);
	fs_iput(ip);

	td_remount();
	ip = lookup_file("f");
	ck_assert_uint_eq(file_size(ip), 5 * MiB + 7 + 10000);
	expect_pattern(ip, 0, 4096 + 100, 1);
	expect_pattern(ip, 4096 + 100, 50, 3);
	expect_pattern(ip, 4096 + 150, 3 * MiB + 123 - 4096 - 150, 1);
	expect_byte(ip, 3 * MiB + 123, 2 * MiB - 123 + 7, 0);
	expect_pattern(ip, 5 * MiB + 7, 10000, 2);
	fs_iput(ip);
	td_unmount();
	td_fsck_clean();
}
END_TEST

START_TEST(sequential_64m_file_gets_few_extents)
{
	struct fs_inode *ip = create_file("seq");
	size_t chunk = MiB;
	uint64_t before = fs_stat("blocks_allocated");

	for (uint64_t pos = 0; pos < 64 * MiB; pos += chunk)
		write_pattern(ip, pos, chunk, 7);
	ck_assert_int_eq(fs_fsync(ip, false, NULL), 0);
	pthread_mutex_lock(&ip->lock);
	uint32_t nr = ip->nr_ext;
	uint64_t blocks = fs_extent_blocks(ip);
	pthread_mutex_unlock(&ip->lock);
	ck_assert_uint_le(nr, 4);
	ck_assert_uint_eq(blocks, 64 * MiB / 4096);
	ck_assert_uint_eq(fs_stat("blocks_allocated") - before, 64 * MiB / 4096);
	ck_assert_uint_eq(file_blocks(ip), 64 * MiB / 512);
	fs_iput(ip);

	td_remount();
	ip = lookup_file("seq");
	ck_assert_uint_le(ip->nr_ext, 4);
	expect_pattern(ip, 0, 64 * MiB, 7);
	fs_iput(ip);
	td_unmount();
	td_fsck_clean();
}
END_TEST

START_TEST(fallocate_then_partial_write_reads_zeros_and_data)
{
	struct fs_inode *ip = create_file("fa");
	struct cache_stats cs;

	ck_assert_int_eq(fs_fallocate(ip, 0, 0, 4 * MiB), 0);
	ck_assert_uint_eq(file_size(ip), 4 * MiB);
	ck_assert_uint_eq(file_blocks(ip), 4 * MiB / 512);
	expect_byte(ip, 0, 4 * MiB, 0);			/* unwritten reads zeros */
	write_pattern(ip, MiB + 100, 8192, 9);
	ck_assert_int_eq(fs_fsync(ip, false, NULL), 0);
	ck_assert_uint_gt(fs_stat("unwritten_converted"), 0);
	cache_get_stats(fs_cache(t.fs), &cs);
	ck_assert_uint_gt(cs.deferred[CACHE_DEFER_UNWRITTEN], 0);
	expect_byte(ip, 0, MiB + 100, 0);
	expect_pattern(ip, MiB + 100, 8192, 9);
	expect_byte(ip, MiB + 100 + 8192, 3 * MiB - 100 - 8192, 0);
	fs_iput(ip);

	td_remount();
	ip = lookup_file("fa");
	expect_byte(ip, 0, MiB + 100, 0);
	expect_pattern(ip, MiB + 100, 8192, 9);
	expect_byte(ip, MiB + 100 + 8192, 3 * MiB - 100 - 8192, 0);
	/* Blocks around the write stay unwritten, the written ones are not. */
	pthread_mutex_lock(&ip->lock);
	struct fs_extent e;
	ck_assert_int_eq(fs_ext_lookup(ip, 0, &e), 0);
	ck_assert_uint_eq(e.state, FS_EXT_UNWRITTEN);
	ck_assert_int_eq(fs_ext_lookup(ip, (MiB + 4096) >> 12, &e), 0);
	ck_assert_uint_eq(e.state, FS_EXT_WRITTEN);
	pthread_mutex_unlock(&ip->lock);
	fs_iput(ip);
	td_unmount();
	td_fsck_clean();
}
END_TEST

START_TEST(fallocate_keep_size_allocates_past_eof)
{
	struct fs_inode *ip = create_file("keep");

	write_pattern(ip, 0, 4096, 1);
	ck_assert_int_eq(fs_fallocate(ip, FALLOC_FL_KEEP_SIZE, 0, MiB), 0);
	ck_assert_uint_eq(file_size(ip), 4096);
	ck_assert_int_eq(fs_fsync(ip, false, NULL), 0);
	ck_assert_uint_eq(file_blocks(ip), MiB / 512);
	expect_pattern(ip, 0, 4096, 1);
	fs_iput(ip);
	td_unmount();
	td_fsck_clean();
}
END_TEST

START_TEST(unsupported_fallocate_modes_are_eopnotsupp)
{
	struct fs_inode *ip = create_file("modes");

	ck_assert_int_eq(fs_fallocate(ip, FALLOC_FL_PUNCH_HOLE, 0, 4096), -EOPNOTSUPP);
	ck_assert_int_eq(fs_fallocate(ip, FALLOC_FL_COLLAPSE_RANGE, 0, 4096), -EOPNOTSUPP);
	ck_assert_int_eq(fs_fallocate(ip, FALLOC_FL_INSERT_RANGE, 0, 4096), -EOPNOTSUPP);
	ck_assert_int_eq(fs_fallocate(ip, FALLOC_FL_UNSHARE_RANGE, 0, 4096), -EOPNOTSUPP);
	ck_assert_int_eq(fs_fallocate(ip, 0, 0, 0), -EINVAL);
	fs_iput(ip);
}
END_TEST

START_TEST(punch_hole_reads_zeros_and_frees_blocks)
{
	struct fs_inode *ip = create_file("punch");
	uint64_t free_before, blocks_before;

	write_pattern(ip, 0, 8 * MiB, 4);
	ck_assert_int_eq(fs_fsync(ip, false, NULL), 0);
	ck_assert_int_eq(fs_syncfs(t.fs), 0);
	free_before = free_blocks();
	blocks_before = file_blocks(ip);
	/* 2 MiB of whole blocks plus partial blocks at both ends */
	ck_assert_int_eq(fs_fallocate(ip, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				      2 * MiB - 100, 2 * MiB + 200), 0);
	ck_assert_uint_eq(file_size(ip), 8 * MiB);
	expect_pattern(ip, 0, 2 * MiB - 100, 4);
	expect_byte(ip, 2 * MiB - 100, 2 * MiB + 200, 0);
	expect_pattern(ip, 4 * MiB + 100, 4 * MiB - 100, 4);
	ck_assert_uint_eq(blocks_before - file_blocks(ip), 2 * MiB / 512);
	ck_assert_int_eq(fs_fsync(ip, false, NULL), 0);
	ck_assert_int_eq(fs_syncfs(t.fs), 0);
	ck_assert_uint_ge(free_blocks(), free_before + 2 * MiB / 4096);
	fs_iput(ip);

	td_remount();
	ip = lookup_file("punch");
	expect_pattern(ip, 0, 2 * MiB - 100, 4);
	expect_byte(ip, 2 * MiB - 100, 2 * MiB + 200, 0);
	expect_pattern(ip, 4 * MiB + 100, 4 * MiB - 100, 4);
	fs_iput(ip);
	td_unmount();
	td_fsck_clean();
}
END_TEST

START_TEST(zero_range_reads_zeros_and_keeps_blocks)
{
	struct fs_inode *ip = create_file("zero");
	uint64_t blocks_before;

	write_pattern(ip, 0, 4 * MiB, 5);
	ck_assert_int_eq(fs_fsync(ip, false, NULL), 0);
	blocks_before = file_blocks(ip);
	ck_assert_int_eq(fs_fallocate(ip, FALLOC_FL_ZERO_RANGE, MiB + 10, MiB), 0);
	expect_pattern(ip, 0, MiB + 10, 5);
	expect_byte(ip, MiB + 10, MiB, 0);
	expect_pattern(ip, 2 * MiB + 10, 2 * MiB - 10, 5);
	ck_assert_uint_eq(file_blocks(ip), blocks_before);
	/* past EOF without KEEP_SIZE: the file grows, the new part is zeros */
	ck_assert_int_eq(fs_fallocate(ip, FALLOC_FL_ZERO_RANGE, 4 * MiB - 10, MiB), 0);
	ck_assert_uint_eq(file_size(ip), 5 * MiB - 10);
	expect_byte(ip, 4 * MiB - 10, MiB, 0);
	ck_assert_int_eq(fs_fsync(ip, false, NULL), 0);
	fs_iput(ip);

	td_remount();
	ip = lookup_file("zero");
	expect_pattern(ip, 0, MiB + 10, 5);
	expect_byte(ip, MiB + 10, MiB, 0);
	expect_pattern(ip, 2 * MiB + 10, 2 * MiB - 20, 5);
	expect_byte(ip, 4 * MiB - 10, MiB, 0);
	fs_iput(ip);
	td_unmount();
	td_fsck_clean();
}
END_TEST

/* Truncate down then up: the gap reads zeros, from the cache and from disk. */
static void truncate_gap_case(bool remount_between)
{
	struct fs_inode *ip = create_file("trunc");

	write_pattern(ip, 0, 256 * 1024, 6);
	ck_assert_int_eq(fs_fsync(ip, false, NULL), 0);
	if (remount_between) {
		fs_iput(ip);
		td_remount();
		ip = lookup_file("trunc");
	}
	set_size(ip, 10000);
	ck_assert_uint_eq(file_size(ip), 10000);
	ck_assert_uint_eq(file_blocks(ip), 3 * 8);
	set_size(ip, 256 * 1024);
	expect_pattern(ip, 0, 10000, 6);
	expect_byte(ip, 10000, 256 * 1024 - 10000, 0);
	ck_assert_int_eq(fs_fsync(ip, false, NULL), 0);
	fs_iput(ip);

	td_remount();
	ip = lookup_file("trunc");
	ck_assert_uint_eq(file_size(ip), 256 * 1024);
	expect_pattern(ip, 0, 10000, 6);
	expect_byte(ip, 10000, 256 * 1024 - 10000, 0);
	fs_iput(ip);
	td_unmount();
	td_fsck_clean();
}

START_TEST(truncate_down_then_up_reads_zeros_in_gap)
{
	truncate_gap_case(false);
}
END_TEST

START_TEST(truncate_of_uncached_data_zeros_the_tail_block)
{
	truncate_gap_case(true);
}
END_TEST

START_TEST(lseek_finds_data_and_holes_in_sparse_file)
{
	struct fs_inode *ip = create_file("sparse");

	write_pattern(ip, 0, 4096, 1);
	write_pattern(ip, MiB, 8192, 2);
	ck_assert_int_eq(fs_fallocate(ip, 0, 3 * MiB, 4096), 0);
	set_size(ip, 4 * MiB);
	for (int pass = 0; pass < 2; pass++) {	/* delalloc, then written */
		ck_assert_int_eq(fs_lseek(ip, 0, SEEK_DATA), 0);
		ck_assert_int_eq(fs_lseek(ip, 0, SEEK_HOLE), 4096);
		ck_assert_int_eq(fs_lseek(ip, 100, SEEK_HOLE), 4096);
		ck_assert_int_eq(fs_lseek(ip, 4096, SEEK_DATA), MiB);
		ck_assert_int_eq(fs_lseek(ip, MiB + 5, SEEK_DATA), MiB + 5);
		ck_assert_int_eq(fs_lseek(ip, MiB, SEEK_HOLE), MiB + 8192);
		ck_assert_int_eq(fs_lseek(ip, MiB + 8192, SEEK_DATA), 3 * MiB);
		ck_assert_int_eq(fs_lseek(ip, 3 * MiB, SEEK_HOLE), 3 * MiB + 4096);
		ck_assert_int_eq(fs_lseek(ip, 3 * MiB + 4096, SEEK_DATA), -ENXIO);
		ck_assert_int_eq(fs_lseek(ip, 3 * MiB + 4096, SEEK_HOLE), 3 * MiB + 4096);
		ck_assert_int_eq(fs_lseek(ip, 4 * MiB, SEEK_DATA), -ENXIO);
		ck_assert_int_eq(fs_lseek(ip, 4 * MiB, SEEK_HOLE), -ENXIO);
		ck_assert_int_eq(fs_lseek(ip, -1, SEEK_DATA), -ENXIO);
		ck_assert_int_eq(fs_fsync(ip, false, NULL), 0);
	}
	fs_iput(ip);
}
END_TEST

START_TEST(write_past_max_file_size_is_efbig)
{
	struct fs_inode *ip = create_file("big");
	char c = 'x';

	ck_assert_int_eq(fs_write(ip, IOMAPFS_MAX_FILE_SIZE, &c, 1, false), -EFBIG);
	ck_assert_int_eq(fs_write(ip, IOMAPFS_MAX_FILE_SIZE - 1, &c, 1, false), 1);
	ck_assert_uint_eq(file_size(ip), IOMAPFS_MAX_FILE_SIZE);
	struct fs_setattr sa = { .valid = FS_SET_SIZE, .size = IOMAPFS_MAX_FILE_SIZE + 1 };
	ck_assert_int_eq(fs_setattr(t.fs, ip->ino, &sa), -EFBIG);
	ck_assert_int_eq(fs_fsync(ip, false, NULL), 0);
	fs_iput(ip);
	td_unmount();
	td_fsck_clean();
}
END_TEST

/* A file with @mib MiB of data, open and unlinked; *free_before is the
 * free block count before it was written. */
static struct fs_inode *open_unlinked_file(const char *name, uint64_t mib,
					   uint64_t *free_before)
{
	struct fs_inode *ip = create_file(name);

	ck_assert_int_eq(fs_syncfs(t.fs), 0);
	*free_before = free_blocks();
	write_pattern(ip, 0, mib * MiB, 8);
	ck_assert_int_eq(fs_fsync(ip, false, NULL), 0);
	fs_inode_open(ip);
	ck_assert_int_eq(fs_unlink(t.fs, IOMAPFS_ROOT_INO, name), 0);
	return ip;
}

/* The blocks of a freed file are free again once committed; unmount and
 * fsck the image. */
static void expect_space_back_and_unmount(uint64_t free_before)
{
	ck_assert_int_eq(fs_syncfs(t.fs), 0);
	ck_assert_uint_ge(free_blocks(), free_before);
	td_unmount();
	td_fsck_clean();
}

START_TEST(unlinked_open_file_is_freed_at_last_close)
{
	uint64_t free_before;
	struct fs_inode *ip = open_unlinked_file("gone", 4, &free_before);

	expect_pattern(ip, 0, 4 * MiB, 8);	/* still readable while open */
	ck_assert_int_eq(fs_syncfs(t.fs), 0);
	ck_assert_uint_lt(free_blocks(), free_before);
	fs_inode_release(ip);			/* ip still referenced here */
	fs_iput(ip);				/* the last reference frees it */
	expect_space_back_and_unmount(free_before);
}
END_TEST

/* The kernel still holds a lookup on the unlinked, closed file; its space
 * must come back at unlink, not when FORGET arrives (generic/084). */
START_TEST(unlinked_file_space_returns_before_forget)
{
	uint64_t free_before, ino;
	struct fs_inode *ip = open_unlinked_file("forgotten", 4, &free_before);

	ino = ip->ino;
	fs_inode_lookup_inc(ip);		/* the kernel's dentry */
	fs_inode_release(ip);
	fs_iput(ip);
	ck_assert_int_eq(fs_syncfs(t.fs), 0);
	ck_assert_uint_ge(free_blocks(), free_before);
	fs_forget(t.fs, ino, 1);		/* now the inode itself goes */
	ck_assert_int_eq(fs_iget(t.fs, ino, &ip), -ENOENT);
	expect_space_back_and_unmount(free_before);
}
END_TEST

/*
 * Regression test for the stress hang (fsstress with a small cache): a
 * read held the inode's rwsem across its reply, the kernel's RELEASE of
 * the file dropped the last reference meanwhile, and the read's unlock then
 * hit freed memory that a new inode already used (reader count -1, the
 * next writer waited forever).  The read's hold must keep the inode alive.
 */
START_TEST(read_hold_keeps_inode_alive_past_release)
{
	struct fs_inode *ip = create_file("held"), *other, *held;
	uint64_t cached;
	uint8_t buf[8192];

	write_pattern(ip, 0, sizeof(buf), 21);
	fs_inode_open(ip);			/* the open file's reference */
	cached = fs_stat("inodes_cached");
	held = fs_read_hold(ip);		/* op_read, reply being sent */
	ck_assert_uint_eq(read_all(held, 0, buf, sizeof(buf)), sizeof(buf));
	fs_inode_release(ip);			/* RELEASE after the reply */
	fs_iput(ip);
	ck_assert_uint_eq(fs_stat("inodes_cached"), cached);
	/* A new inode must not reuse the held one, and takes its lock freely. */
	other = create_file("other");
	ck_assert_ptr_ne(other, held);
	write_pattern(other, 0, 4096, 22);
	fs_read_unhold(held);			/* the last reference: evicted */
	ck_assert_uint_eq(fs_stat("inodes_cached"), cached);
	write_pattern(other, 4096, 4096, 22);
	fs_iput(other);
	ip = lookup_file("held");
	expect_pattern(ip, 0, sizeof(buf), 21);
	fs_iput(ip);
	td_unmount();
	td_fsck_clean();
}
END_TEST

START_TEST(orphan_left_by_a_crash_is_freed_at_mount)
{
	uint64_t free_before;
	struct fs_inode *ip = open_unlinked_file("orphan", 2, &free_before);

	ck_assert_int_eq(fs_syncfs(t.fs), 0);	/* the unlink is durable */
	fs_shutdown(t.fs);			/* crash with the file open */
	ck_assert_int_eq(fs_write(ip, 0, "x", 1, false), -EIO);
	fs_inode_release(ip);
	fs_iput(ip);
	td_unmount();
	td_mount();
	expect_space_back_and_unmount(free_before);
}
END_TEST

START_TEST(setattr_changes_mode_owner_and_times)
{
	struct fs_inode *ip = create_file("attr");
	struct fs_setattr sa = {
		.valid = FS_SET_MODE | FS_SET_UID | FS_SET_GID | FS_SET_MTIME | FS_SET_ATIME,
		.mode = 04755, .uid = 1000, .gid = 2000,
		.mtime = { .tv_sec = 1000000, .tv_nsec = 5 },
		.atime = { .tv_sec = 0, .tv_nsec = UTIME_OMIT },
	};
	struct stat st;
	uint64_t ino = ip->ino;

	ck_assert_int_eq(fs_setattr(t.fs, ino, &sa), 0);
	fs_fill_stat(ip, &st);
	ck_assert_uint_eq(st.st_mode, S_IFREG | 04755);
	ck_assert_uint_eq(st.st_uid, 1000);
	ck_assert_uint_eq(st.st_gid, 2000);
	ck_assert_int_eq(st.st_mtim.tv_sec, 1000000);
	ck_assert_int_eq(st.st_mtim.tv_nsec, 5);
	/* a write by a non-owner (ops.c decides) drops setuid */
	ck_assert_int_eq(fs_write(ip, 0, "abc", 3, true), 3);
	fs_fill_stat(ip, &st);
	ck_assert_uint_eq(st.st_mode, S_IFREG | 0755);
	ck_assert_int_gt(st.st_mtim.tv_sec, 1000000);
	fs_iput(ip);
	td_remount();
	ip = lookup_file("attr");
	fs_fill_stat(ip, &st);
	ck_assert_uint_eq(st.st_mode, S_IFREG | 0755);
	ck_assert_uint_eq(st.st_uid, 1000);
	ck_assert_uint_eq(st.st_size, 3);
	fs_iput(ip);
}
END_TEST

START_TEST(many_extents_move_to_items_and_back)
{
	struct fs_inode *ip = create_file("frag");

	/* every other block: 64 separate extents, more than fit inline */
	for (int i = 0; i < 64; i++)
		write_pattern(ip, (uint64_t)i * 8192, 4096, 3);
	ck_assert_int_eq(fs_fsync(ip, false, NULL), 0);
	ck_assert_uint_gt(ip->nr_ext, IOMAPFS_INLINE_EXTENTS);
	fs_iput(ip);
	td_remount();
	ip = lookup_file("frag");
	ck_assert_uint_eq(ip->nr_ext, 64);
	for (int i = 0; i < 64; i++) {
		expect_pattern(ip, (uint64_t)i * 8192, 4096, 3);
		expect_byte(ip, (uint64_t)i * 8192 + 4096, 4096 - (i == 63 ? 4096 : 0), 0);
	}
	set_size(ip, 3 * 8192);			/* back to inline */
	ck_assert_int_eq(fs_fsync(ip, false, NULL), 0);
	fs_iput(ip);
	td_remount();
	ip = lookup_file("frag");
	ck_assert_uint_eq(ip->nr_ext, 3);
	expect_pattern(ip, 2 * 8192, 4096, 3);
	fs_iput(ip);
	td_unmount();
	td_fsck_clean();
}
END_TEST

/* Crash: stop all I/O at once, then mount again. */
static void td_crash_remount(void)
{
	fs_shutdown(t.fs);
	td_unmount();
	td_mount();
}

START_TEST(fdatasync_commits_only_for_size_or_extent_changes)
{
	struct fs_inode *ip = create_file("ds");
	uint64_t commits;

	write_pattern(ip, 0, MiB, 16);
	ck_assert_int_eq(fs_fsync(ip, true, NULL), 0);	/* new extents: commit */
	commits = fs_stat("commits_by_fsync");
	ck_assert_uint_eq(commits, 1);
	write_pattern(ip, 8192, 4096, 17);		/* overwrite in place */
	ck_assert_int_eq(fs_fsync(ip, true, NULL), 0);
	ck_assert_uint_eq(fs_stat("commits_by_fsync"), commits);	/* mtime only */
	write_pattern(ip, MiB, 100, 18);		/* the size grows */
	ck_assert_int_eq(fs_fsync(ip, true, NULL), 0);
	ck_assert_uint_eq(fs_stat("commits_by_fsync"), commits + 1);
	ck_assert_int_eq(fs_fallocate(ip, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				      65536, 65536), 0);	/* extents change */
	ck_assert_int_eq(fs_fsync(ip, true, NULL), 0);
	ck_assert_uint_eq(fs_stat("commits_by_fsync"), commits + 2);
	fs_iput(ip);

	td_crash_remount();
	ip = lookup_file("ds");
	ck_assert_uint_eq(file_size(ip), MiB + 100);
	expect_pattern(ip, 0, 8192, 16);
	expect_pattern(ip, 8192, 4096, 17);		/* the uncommitted overwrite */
	expect_pattern(ip, 12288, 65536 - 12288, 16);
	expect_byte(ip, 65536, 65536, 0);
	expect_pattern(ip, 131072, MiB - 131072, 16);
	expect_pattern(ip, MiB, 100, 18);
	fs_iput(ip);
	td_unmount();
	td_fsck_clean();
}
END_TEST

/* ---- write errors: fault injection through the device ops ---- */

struct fault {
	uint64_t	lo, hi;		/* sectors whose writes fail */
	atomic_int	armed;
	atomic_int	failed;
};

static void fault_submit(struct blk_dev *dev, struct bio *bio)
{
	struct fault *f = blk_dev_ops_private(dev);

	if (atomic_load(&f->armed) && bio->bi_op == REQ_OP_WRITE &&
	    bio->bi_sector < f->hi && bio_end_sector(bio) > f->lo) {
		atomic_fetch_add(&f->failed, 1);
		bio->bi_status = -EIO;
		bio_endio(bio);		/* a submission failure completes here */
		return;
	}
	blk_dev_default_submit(dev, bio);
}

static const struct blk_dev_ops fault_ops = { .submit = fault_submit };

START_TEST(fsync_reports_a_write_error_once_per_file_description)
{
	struct fs_inode *ip = create_file("eio");
	struct fault f = { 0 };
	errseq_t a, b, c;

	/* Preallocate, so we know which device blocks the data will go to. */
	ck_assert_int_eq(fs_fallocate(ip, 0, 0, MiB), 0);
	ck_assert_int_eq(fs_fsync(ip, false, NULL), 0);
	pthread_mutex_lock(&ip->lock);
	ck_assert_uint_eq(ip->nr_ext, 1);
	f.lo = ip->ext[0].pblk << (IOMAPFS_BLOCK_SHIFT - SECTOR_SHIFT);
	f.hi = (ip->ext[0].pblk + ip->ext[0].len) << (IOMAPFS_BLOCK_SHIFT - SECTOR_SHIFT);
	pthread_mutex_unlock(&ip->lock);
	blk_dev_set_ops(fs_dev(t.fs), &fault_ops, &f);

	a = cache_errseq_sample(ip->mapping);	/* two files open before */
	b = cache_errseq_sample(ip->mapping);
	atomic_store(&f.armed, 1);
	write_pattern(ip, 0, 64 * 1024, 12);
	ck_assert_int_eq(fs_fsync(ip, false, &a), -EIO);
	ck_assert_int_gt(atomic_load(&f.failed), 0);
	ck_assert_int_eq(fs_fsync(ip, false, &a), 0);	/* reported once */
	ck_assert_int_eq(fs_fsync(ip, false, &b), -EIO);	/* to each */
	c = cache_errseq_sample(ip->mapping);		/* opened after */
	ck_assert_int_eq(fs_fsync(ip, false, &c), 0);
	/* The failed range stayed unwritten: nothing was converted. */
	ck_assert_uint_eq(fs_stat("unwritten_converted"), 0);
	atomic_store(&f.armed, 0);
	fs_iput(ip);

	td_remount();
	ip = lookup_file("eio");
	expect_byte(ip, 0, MiB, 0);		/* zeros, never stale blocks */
	fs_iput(ip);
	td_unmount();
	td_fsck_clean();
}
END_TEST

START_TEST(every_call_fails_with_eio_after_shutdown)
{
	struct fs_inode *ip = create_file("down");
	struct cache_read_result *res = malloc(sizeof(*res));
	struct fs_setattr sa = { .valid = FS_SET_SIZE, .size = 0 };
	struct statvfs st;

	write_pattern(ip, 0, MiB, 13);
	ck_assert_int_eq(fs_fsync(ip, false, NULL), 0);
	write_pattern(ip, MiB, MiB, 14);		/* never synced */
	fs_shutdown(t.fs);
	ck_assert(fs_is_shutdown(t.fs));
	ck_assert_int_eq(fs_read(ip, 0, 4096, res), -EIO);
	ck_assert_int_eq(fs_write(ip, 0, "x", 1, false), -EIO);
	ck_assert_int_eq(fs_fsync(ip, false, NULL), -EIO);
	ck_assert_int_eq(fs_fallocate(ip, 0, 0, MiB), -EIO);
	ck_assert_int_eq(fs_lseek(ip, 0, SEEK_DATA), -EIO);
	ck_assert_int_eq(fs_setattr(t.fs, ip->ino, &sa), -EIO);
	ck_assert_int_eq(fs_statfs(t.fs, &st), -EIO);
	ck_assert_int_eq(fs_syncfs(t.fs), -EIO);
	ck_assert_int_eq(fs_iget(t.fs, IOMAPFS_ROOT_INO, &(struct fs_inode *){ NULL }), -EIO);
	free(res);
	fs_iput(ip);
	td_unmount();

	td_mount();				/* what was fsynced survives */
	ip = lookup_file("down");
	ck_assert_uint_ge(file_size(ip), MiB);
	expect_pattern(ip, 0, MiB, 13);
	fs_iput(ip);
	td_unmount();
	td_fsck_clean();
}
END_TEST

/* ---- concurrency: several files, each checked against a shadow copy ---- */

#define SHADOW_MAX	(6 * MiB)
#define SHADOW_OPS	300
#define SHADOW_THREADS	3

struct shadow {
	struct fs_inode	*ip;
	uint8_t		*mem;		/* expected contents */
	uint64_t	size;		/* expected size */
	uint64_t	rng;
	unsigned	nr;
	const char	*fail;		/* first mismatch, reported by the main thread */
};

static uint64_t rnd(struct shadow *sh, uint64_t n)
{
	sh->rng ^= sh->rng << 13;
	sh->rng ^= sh->rng >> 7;
	sh->rng ^= sh->rng << 17;
	return sh->rng % n;
}

static void shadow_write(struct shadow *sh, uint64_t off, uint64_t len)
{
	uint8_t *buf = malloc(len);

	fill_pattern(buf, len, off, sh->nr);
	if (fs_write(sh->ip, off, buf, len, false) != (ssize_t)len)
		sh->fail = "write";
	memcpy(sh->mem + off, buf, len);
	sh->size = max_t(uint64_t, sh->size, off + len);
	free(buf);
}

static void shadow_falloc(struct shadow *sh, int mode, uint64_t off, uint64_t len)
{
	if (fs_fallocate(sh->ip, mode, off, len))
		sh->fail = "fallocate";
	if (mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE))
		memset(sh->mem + off, 0, min_t(uint64_t, len, SHADOW_MAX - off));
	if (!(mode & FALLOC_FL_KEEP_SIZE))
		sh->size = max_t(uint64_t, sh->size, off + len);
}

static void shadow_truncate(struct shadow *sh, uint64_t size)
{
	struct fs_setattr sa = { .valid = FS_SET_SIZE, .size = size };

	if (fs_setattr(t.fs, sh->ip->ino, &sa))
		sh->fail = "truncate";
	if (size < sh->size)
		memset(sh->mem + size, 0, sh->size - size);
	sh->size = size;
}

static void shadow_step(struct shadow *sh)
{
	uint64_t off = rnd(sh, SHADOW_MAX / 2);
	uint64_t len = 1 + rnd(sh, 256 * 1024);

	switch (rnd(sh, 10)) {
	case 0:
		shadow_falloc(sh, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len);
		break;
	case 1:
		shadow_falloc(sh, FALLOC_FL_ZERO_RANGE | (rnd(sh, 2) ? FALLOC_FL_KEEP_SIZE : 0),
			      off, len);
		break;
	case 2:
		shadow_falloc(sh, rnd(sh, 2) ? FALLOC_FL_KEEP_SIZE : 0, off, len);
		break;
	case 3:
		shadow_truncate(sh, rnd(sh, SHADOW_MAX / 2));
		break;
	case 4:
		if (fs_fsync(sh->ip, false, NULL))
			sh->fail = "fsync";
		break;
	default:
		shadow_write(sh, off, len);
		break;
	}
}

static void *shadow_thread(void *arg)
{
	struct shadow *sh = arg;

	for (unsigned i = 0; i < SHADOW_OPS && !sh->fail; i++)
		shadow_step(sh);
	return NULL;
}

static void shadow_check(struct shadow *sh)
{
	uint8_t *got = malloc(SHADOW_MAX);

	ck_assert_msg(!sh->fail, "file %u: %s failed", sh->nr, sh->fail);
	ck_assert_uint_eq(file_size(sh->ip), sh->size);
	ck_assert_uint_eq(read_all(sh->ip, 0, got, sh->size), sh->size);
	for (uint64_t i = 0; i < sh->size; i++)
		if (got[i] != sh->mem[i])
			ck_abort_msg("file %u byte %llu: got %#x want %#x", sh->nr,
				     (unsigned long long)i, got[i], sh->mem[i]);
	free(got);
}

START_TEST(concurrent_files_match_their_shadow_copies)
{
	struct shadow sh[SHADOW_THREADS];
	pthread_t th[SHADOW_THREADS];
	char name[16];

	for (unsigned i = 0; i < SHADOW_THREADS; i++) {
		snprintf(name, sizeof(name), "sh%u", i);
		sh[i] = (struct shadow){ .ip = create_file(name), .nr = i,
					 .mem = calloc(1, SHADOW_MAX),
					 .rng = 0x9e3779b97f4a7c15ull * (i + 1) };
		ck_assert_int_eq(pthread_create(&th[i], NULL, shadow_thread, &sh[i]), 0);
	}
	for (unsigned i = 0; i < SHADOW_THREADS; i++)
		pthread_join(th[i], NULL);
	for (unsigned i = 0; i < SHADOW_THREADS; i++) {
		shadow_check(&sh[i]);
		fs_iput(sh[i].ip);
	}
	td_remount();
	for (unsigned i = 0; i < SHADOW_THREADS; i++) {
		snprintf(name, sizeof(name), "sh%u", i);
		sh[i].ip = lookup_file(name);
		shadow_check(&sh[i]);
		fs_iput(sh[i].ip);
		free(sh[i].mem);
	}
	td_unmount();
	td_fsck_clean();
}
END_TEST

struct reader {
	struct fs_inode	*ip;
	atomic_bool	stop;
	unsigned long	reads;
	int		err;		/* first unexpected result */
};

/* Reads, SEEK_DATA/SEEK_HOLE and stat while another thread changes the
 * file: every call must succeed (or say ENXIO past EOF). */
static void *reader_thread(void *arg)
{
	struct reader *r = arg;
	struct cache_read_result *res = malloc(sizeof(*res));
	uint64_t off = 0;

	while (!atomic_load(&r->stop) && !r->err) {
		ssize_t n = fs_read(r->ip, off, 128 * 1024, res);
		int64_t d = fs_lseek(r->ip, off, r->reads & 1 ? SEEK_DATA : SEEK_HOLE);
		struct stat st;

		if (n < 0)
			r->err = (int)n;
		else
			cache_read_done(res);
		if (d < 0 && d != -ENXIO)
			r->err = (int)d;
		fs_fill_stat(r->ip, &st);
		off = (off + 300 * 1024) % (SHADOW_MAX / 2);
		r->reads++;
	}
	free(res);
	return NULL;
}

START_TEST(reads_race_writes_truncates_and_punches_on_one_file)
{
	struct shadow sh = { .ip = create_file("race"), .nr = 7,
			     .mem = calloc(1, SHADOW_MAX), .rng = 12345 };
	struct reader r = { .ip = sh.ip };
	pthread_t wt, rt;

	ck_assert_int_eq(pthread_create(&rt, NULL, reader_thread, &r), 0);
	ck_assert_int_eq(pthread_create(&wt, NULL, shadow_thread, &sh), 0);
	pthread_join(wt, NULL);
	atomic_store(&r.stop, true);
	pthread_join(rt, NULL);
	ck_assert_int_eq(r.err, 0);
	ck_assert_uint_gt(r.reads, 0);
	shadow_check(&sh);
	fs_iput(sh.ip);
	free(sh.mem);
	td_unmount();
	td_fsck_clean();
}
END_TEST

/* ---- ENOSPC on a small image ---- */

static void setup_small(void)
{
	image_name();
	td_mkfs(32 * MiB);
	td_mount();
}

/* Write @ip until the filesystem is full; returns the bytes accepted. */
static uint64_t fill_until_enospc(struct fs_inode *ip)
{
	size_t chunk = 256 * 1024;
	uint64_t pos = 0;
	ssize_t n;

	for (;;) {
		uint8_t *buf = malloc(chunk);

		fill_pattern(buf, chunk, pos, 11);
		n = fs_write(ip, pos, buf, chunk, false);
		free(buf);
		if (n != (ssize_t)chunk)
			break;
		pos += chunk;
		ck_assert_uint_lt(pos, 32 * MiB);
	}
	ck_assert_msg(n == -ENOSPC || (n >= 0 && n < (ssize_t)chunk), "write: %zd", n);
	return n > 0 ? pos + n : pos;
}

/*
 * A write reserves worst-case metadata for its extents (one per block);
 * writeback gives back what the extents did not need, so after a fill and
 * an fsync a little more fits: never more than that worst case, 1/32 of
 * the data.  Block-sized writes from @pos until ENOSPC; returns the end.
 */
static uint64_t top_up_until_enospc(struct fs_inode *ip, uint64_t pos)
{
	uint64_t start = pos;
	uint8_t buf[4096];
	ssize_t n;

	for (;;) {
		fill_pattern(buf, sizeof(buf), pos, 11);
		n = fs_write(ip, pos, buf, sizeof(buf), false);
		if (n != (ssize_t)sizeof(buf))
			break;
		pos += n;
		ck_assert_uint_le(pos - start, start / 32 + 2 * sizeof(buf));
	}
	ck_assert_int_eq(n, -ENOSPC);
	return pos;
}

START_TEST(enospc_is_returned_by_write_not_lost_at_writeback)
{
	struct fs_inode *ip = create_file("fill");
	uint64_t pos = fill_until_enospc(ip);

	ck_assert_uint_gt(pos, 8 * MiB);
	/* Everything accepted reaches the disk: no error at writeback. */
	ck_assert_int_eq(fs_fsync(ip, false, NULL), 0);
	pos = top_up_until_enospc(ip, pos);
	ck_assert_int_eq(fs_fsync(ip, false, NULL), 0);
	fs_iput(ip);
	td_remount();
	ip = lookup_file("fill");
	ck_assert_uint_eq(file_size(ip), pos);
	expect_pattern(ip, 0, pos, 11);
	fs_iput(ip);
	td_unmount();
	td_fsck_clean();
}
END_TEST

/* Freed blocks are allocatable only once the freeing transaction is
 * durable: a full filesystem must commit rather than fail (generic/084). */
START_TEST(space_freed_by_unlink_is_reusable_without_sync)
{
	struct fs_inode *ip = create_file("first");
	uint64_t first = fill_until_enospc(ip), second;

	ck_assert_int_eq(fs_fsync(ip, false, NULL), 0);
	ck_assert_int_eq(fs_unlink(t.fs, IOMAPFS_ROOT_INO, "first"), 0);
	fs_iput(ip);			/* last reference: freed, not committed */
	ip = create_file("second");
	second = fill_until_enospc(ip);
	ck_assert_uint_ge(second, first - first / 10);
	ck_assert_int_eq(fs_fsync(ip, false, NULL), 0);
	fs_iput(ip);
	td_unmount();
	td_fsck_clean();
}
END_TEST

START_TEST(fallocate_enospc_keeps_what_it_allocated)
{
	struct fs_inode *ip = create_file("prealloc");
	uint64_t blocks;

	ck_assert_int_eq(fs_fallocate(ip, 0, 0, 64 * MiB), -ENOSPC);
	ck_assert_uint_eq(file_size(ip), 0);		/* no size change on failure */
	blocks = file_blocks(ip);
	ck_assert_uint_gt(blocks, 0);
	/* past the preallocated blocks a write needs space there is none of */
	ck_assert_int_eq(fs_write(ip, 63 * MiB, "x", 1, false), -ENOSPC);
	ck_assert_int_eq(fs_fsync(ip, false, NULL), 0);
	fs_iput(ip);
	td_remount();
	ip = lookup_file("prealloc");
	ck_assert_uint_eq(file_blocks(ip), blocks);
	/* Writing into the preallocated blocks needs no new space. */
	write_pattern(ip, 0, MiB, 15);
	ck_assert_int_eq(fs_fsync(ip, false, NULL), 0);
	expect_pattern(ip, 0, MiB, 15);
	fs_iput(ip);
	td_unmount();
	td_fsck_clean();
}
END_TEST

/*
 * Fill the filesystem with preallocated blocks, then punch every other
 * block of the first @holes * 2: free space becomes 1-block holes plus
 * what the metadata reserve keeps free, and no free run is long.
 */
static void fragment_free_space(unsigned holes)
{
	struct fs_inode *ip = create_file("fragments");
	uint64_t blocks;

	ck_assert_int_eq(fs_fallocate(ip, 0, 0, 64 * MiB), -ENOSPC);
	blocks = file_blocks(ip) / 8;
	ck_assert_uint_gt(blocks, 2 * holes);
	set_size(ip, blocks * 4096);
	for (unsigned i = 0; i < holes; i++)
		ck_assert_int_eq(fs_fallocate(ip, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
					      2 * i * 4096ull, 4096), 0);
	ck_assert_int_eq(fs_fsync(ip, false, NULL), 0);	/* frees durable */
	fs_iput(ip);
}

/*
 * Regression test for a block leak (fsck: "marked allocated but unused
 * (leaked)" after a clean unmount): when writeback's allocation of a
 * delalloc extent failed part way, the pieces already taken in the bitmap
 * were recorded only in the in-memory extent map, because the inode write
 * was skipped on error; with the inode otherwise clean and every later
 * allocation failing too (a full or failing filesystem), nothing wrote
 * them before the unmount committed the bitmap.  Free space is cut into
 * 1-block holes so the extent is allocated in many pieces; the inode is
 * made clean (a chmod writes it); from the second allocation on, every one
 * fails, through the unmount.  The user sees fsync fail; fsck is clean,
 * and the file keeps the blocks of its first piece.
 */
START_TEST(failed_writeback_allocation_leaks_no_block)
{
	struct fs_setattr sa = { .valid = FS_SET_MODE, .mode = S_IFREG | 0600 };
	struct fs_inode *ip;

	fragment_free_space(512);
	ip = create_file("victim");
	write_pattern(ip, 0, 400 * 4096, 21);
	ck_assert_int_eq(fs_setattr(t.fs, ip->ino, &sa), 0);
	meta_alloc_fail_after(fs_meta(t.fs), 2);
	ck_assert_int_eq(fs_fsync(ip, false, NULL), -EIO);
	fs_iput(ip);
	fs_unmount(t.fs);	/* nothing left to write: it need not fail */
	t.fs = NULL;
	td_fsck_clean();
	td_mount();
	ip = lookup_file("victim");
	ck_assert_uint_gt(file_blocks(ip), 0);
	fs_iput(ip);
	td_unmount();
	td_fsck_clean();
}
END_TEST

static Suite *data_suite(void)
{
	Suite *s = suite_create("fs_data");
	TCase *tc = tcase_create("data");
	TCase *small = tcase_create("small");

	tcase_set_timeout(tc, 240);
	tcase_add_checked_fixture(tc, setup_big, teardown);
	tcase_add_test(tc, written_bytes_read_back_and_survive_remount);
	tcase_add_test(tc, sequential_64m_file_gets_few_extents);
	tcase_add_test(tc, fallocate_then_partial_write_reads_zeros_and_data);
	tcase_add_test(tc, fallocate_keep_size_allocates_past_eof);
	tcase_add_test(tc, unsupported_fallocate_modes_are_eopnotsupp);
	tcase_add_test(tc, punch_hole_reads_zeros_and_frees_blocks);
	tcase_add_test(tc, zero_range_reads_zeros_and_keeps_blocks);
	tcase_add_test(tc, truncate_down_then_up_reads_zeros_in_gap);
	tcase_add_test(tc, truncate_of_uncached_data_zeros_the_tail_block);
	tcase_add_test(tc, lseek_finds_data_and_holes_in_sparse_file);
	tcase_add_test(tc, write_past_max_file_size_is_efbig);
	tcase_add_test(tc, unlinked_open_file_is_freed_at_last_close);
	tcase_add_test(tc, unlinked_file_space_returns_before_forget);
	tcase_add_test(tc, orphan_left_by_a_crash_is_freed_at_mount);
	tcase_add_test(tc, read_hold_keeps_inode_alive_past_release);
	tcase_add_test(tc, setattr_changes_mode_owner_and_times);
	tcase_add_test(tc, many_extents_move_to_items_and_back);
	tcase_add_test(tc, concurrent_files_match_their_shadow_copies);
	tcase_add_test(tc, reads_race_writes_truncates_and_punches_on_one_file);
	tcase_add_test(tc, fsync_reports_a_write_error_once_per_file_description);
	tcase_add_test(tc, every_call_fails_with_eio_after_shutdown);
	tcase_add_test(tc, fdatasync_commits_only_for_size_or_extent_changes);
	suite_add_tcase(s, tc);
	tcase_set_timeout(small, 120);
	tcase_add_checked_fixture(small, setup_small, teardown);
	tcase_add_test(small, enospc_is_returned_by_write_not_lost_at_writeback);
	tcase_add_test(small, fallocate_enospc_keeps_what_it_allocated);
	tcase_add_test(small, space_freed_by_unlink_is_reusable_without_sync);
	tcase_add_test(small, failed_writeback_allocation_leaks_no_block);
	suite_add_tcase(s, small);
	return s;
}

int main(void)
{
	return unit_run(data_suite(), "data");
}
