// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Description: crash regression tests of the filesystem objects, with the
 * real stack underneath.  Each test crashes deterministically at the point
 * that used to break: a journal commit between the sections of one
 * operation (meta_crash_after_sections(), at every boundary in turn), a
 * power cut that loses the unflushed writes of a volatile write cache
 * (through the device ops table), or a commit of metadata whose data never
 * reached the device.  After every crash fsck must find the image clean
 * and every file must hold only bytes it was given, up to a size it had.
 */
#include <check.h>
#include "unit.h"
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/xattr.h>
#include "acl.h"
#include "test_fs_dir_util.h"

#define KiB		1024ull
#define MiB		(1024 * KiB)
#define BLK		IOMAPFS_BLOCK_SIZE
#define IMAGE_BYTES	(32 * MiB)

static char image[96], golden[96], errlog[96];
static struct fs *fs;

/* ---- image, mount, fsck ---- */

static void image_names(void)
{
	snprintf(image, sizeof(image), "%s/crash-%d", unit_scratch_dir, (int)getpid());
	snprintf(golden, sizeof(golden), "%s/golden-%d", unit_scratch_dir, (int)getpid());
	snprintf(errlog, sizeof(errlog), "%s/stderr-%d", unit_scratch_dir, (int)getpid());
}

/* Over what the image holds: stale_image() leaves its bytes for mkfs. */
static void mkfs_image(uint64_t journal_blocks)
{
	struct mkfs_opts mo = { .label = "crash", .journal_blocks = journal_blocks };

	tfs_mkfs_image(image, IMAGE_BYTES, &mo);
}

/* The image as a used disk leaves it: every block holds seed 7's bytes,
 * which mkfs does not clear from the data blocks. */
static uint8_t pattern_byte(uint64_t pos, unsigned seed);

static void stale_image(void)
{
	uint8_t *buf = malloc(MiB);
	int fd = open(image, O_RDWR | O_CREAT | O_TRUNC, 0600);

	ck_assert_int_ge(fd, 0);
	for (uint64_t off = 0; off < IMAGE_BYTES; off += MiB) {
		for (size_t i = 0; i < MiB; i++)
			buf[i] = pattern_byte(off + i, 7);
		ck_assert_int_eq(pwrite(fd, buf, MiB, off), (ssize_t)MiB);
	}
	close(fd);
	free(buf);
}

/* No periodic commit: the tests decide when the journal commits. */
static void mount_image(void)
{
	struct fs_mount_opts opts = { 0 };

	opts.cache.size_bytes = 64 * MiB;
	opts.blk.nr_workers = 2;
	opts.meta.commit_interval_ms = 0;
	ck_assert_int_eq(fs_mount(image, &opts, &fs), 0);
}

static void unmount_image(void)
{
	ck_assert_int_eq(fs_unmount(fs), 0);
	fs = NULL;
}

/* The crash: nothing more reaches the device, the daemon goes away. */
static void crash(void)
{
	fs_shutdown(fs);
	fs_unmount(fs);
	fs = NULL;
}

static void fsck_clean(void)
{
	char *buf;
	int ret = tfs_fsck_image(image, false, &buf);

	if (ret)
		ck_abort_msg("fsck -n exit %d:\n%s", ret, buf);
	free(buf);
}

static void copy_file(const char *from, const char *to)
{
	int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	char *buf = malloc(MiB);
	ssize_t n;

	ck_assert_int_ge(in, 0);
	ck_assert_int_ge(out, 0);
	while ((n = read(in, buf, MiB)) > 0)
		ck_assert_int_eq(write(out, buf, n), n);
	ck_assert_int_eq(n, 0);
	free(buf);
	close(in);
	close(out);
}

static void teardown(void)
{
	if (fs)
		fs_unmount(fs);
	fs = NULL;
	unlink(image);
	unlink(golden);
	unlink(errlog);
}

/* ---- files ---- */

/* Byte @pos of a file written with @seed: names the seed and the offset,
 * so data of another file or another place is caught. */
static uint8_t pattern_byte(uint64_t pos, unsigned seed)
{
	return (uint8_t)(pos * 7 + (pos >> 12) * 13 + seed * 101 + 1);
}

static struct fs_inode *create(const char *name, mode_t mode)
{
	struct fs_create_args a = { .mode = S_IFREG | mode };
	struct fs_inode *ip;

	ck_assert_int_eq(fs_create(fs, IOMAPFS_ROOT_INO, name, &a, &ip), 0);
	return ip;
}

static struct fs_inode *lookup(const char *name)
{
	struct fs_inode *ip;

	ck_assert_int_eq(fs_lookup(fs, IOMAPFS_ROOT_INO, name, &ip), 0);
	return ip;
}

static void write_seed(struct fs_inode *ip, uint64_t pos, size_t len, unsigned seed)
{
	uint8_t *buf = malloc(len);

	for (size_t i = 0; i < len; i++)
		buf[i] = pattern_byte(pos + i, seed);
	ck_assert_int_eq(fs_write(ip, pos, buf, len, false), (ssize_t)len);
	free(buf);
}

static uint64_t isize(struct fs_inode *ip)
{
	struct stat st;

	fs_fill_stat(ip, &st);
	return st.st_size;
}

/* Read the whole file (its size from stat) into a new buffer. */
static uint8_t *read_file(struct fs_inode *ip, uint64_t *size)
{
	struct cache_read_result *res = malloc(sizeof(*res));
	uint8_t *buf;
	uint64_t done = 0;

	*size = isize(ip);
	buf = malloc(*size + 1);
	while (done < *size) {
		ssize_t n = fs_read(ip, done, min_t(uint64_t, *size - done, MiB), res);

		ck_assert_int_gt(n, 0);
		for (unsigned i = 0, off = 0; i < res->nr_iov; off += res->iov[i].iov_len, i++)
			memcpy(buf + done + off, res->iov[i].iov_base, res->iov[i].iov_len);
		cache_read_done(res);
		done += n;
	}
	free(res);
	return buf;
}

/*
 * Every block of @ip reads either as written with @seed or, where
 * @zeros_ok says a block may have been freed or zeroed, as zeros.  Never
 * another file's bytes.  Returns the size.
 */
static uint64_t expect_seed_or_zeros(struct fs_inode *ip, unsigned seed,
				     bool (*zeros_ok)(uint64_t blk))
{
	uint64_t size;
	uint8_t *buf = read_file(ip, &size);

	for (uint64_t pos = 0; pos < size; pos++) {
		if (buf[pos] == pattern_byte(pos, seed))
			continue;
		if (!buf[pos] && zeros_ok(pos / BLK))
			continue;
		ck_abort_msg("byte %llu of %llu: %#x is neither seed %u's %#x nor a hole",
			     (unsigned long long)pos, (unsigned long long)size, buf[pos],
			     seed, pattern_byte(pos, seed));
	}
	free(buf);
	return size;
}

/* Capture stderr (the engine's messages) into errlog while @on. */
static int saved_stderr = -1;

static void capture_stderr(bool on)
{
	fflush(stderr);
	if (on) {
		int fd = open(errlog, O_RDWR | O_CREAT | O_TRUNC, 0600);

		ck_assert_int_ge(fd, 0);
		saved_stderr = dup(2);
		dup2(fd, 2);
		close(fd);
	} else {
		dup2(saved_stderr, 2);
		close(saved_stderr);
	}
}

static bool errlog_has(const char *what)
{
	char text[8192] = "";
	int fd = open(errlog, O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, text, sizeof(text) - 1) : 0;

	if (fd >= 0)
		close(fd);
	text[n > 0 ? n : 0] = '\0';
	return strstr(text, what) != NULL;
}

/* ---- crash at every section boundary of one operation ---- */

/*
 * Run @op on the file "victim" of the golden image with a crash right
 * after the commit of its @n-th section.  After the crash (and the replay
 * of the next mount) @check must hold; then a new 0600 file takes
 * whatever space the crash freed, and "victim" must still not read its
 * bytes (a cross-link would hand them over); fsck must find the image
 * clean.  Returns whether the crash came (false: @op has fewer sections).
 */
static bool crash_at_section(int (*op)(struct fs_inode *ip),
			     void (*check)(struct fs_inode *ip), unsigned n)
{
	struct fs_inode *ip, *other;
	bool crashed;
	int err;

	copy_file(golden, image);
	mount_image();
	ip = lookup("victim");
	meta_crash_after_sections(fs_meta(fs), n);
	capture_stderr(true);
	err = op(ip);
	capture_stderr(false);
	ck_assert_msg(!errlog_has("exceeds the journal"),
		      "a section outgrew the journal (crash point %u)", n);
	crashed = meta_is_shutdown(fs_meta(fs));
	ck_assert_int_eq(crashed ? 0 : err, 0);
	meta_crash_after_sections(fs_meta(fs), 0);
	fs_iput(ip);
	if (crashed)
		crash();
	else
		unmount_image();
	mount_image();		/* replays the journal */
	ip = lookup("victim");
	check(ip);
	other = create("secret", 0600);
	write_seed(other, 0, 1 * MiB, 9);
	ck_assert_int_eq(fs_fsync(other, false, NULL), 0);
	fs_iput(other);
	check(ip);
	fs_iput(ip);
	unmount_image();
	fsck_clean();
	return crashed;
}

/* crash_at_section() at every section boundary of @op in turn; returns
 * how many crash points there were. */
static unsigned crash_at_every_section(int (*op)(struct fs_inode *ip),
				       void (*check)(struct fs_inode *ip))
{
	unsigned n = 1;

	while (crash_at_section(op, check, n))
		n++;
	return n - 1;
}

/* The golden image: "victim" made with @mode, given its contents by @fill
 * and fsynced, clean unmount. */
static void make_golden(uint64_t journal_blocks, mode_t mode,
			     void (*fill)(struct fs_inode *ip))
{
	struct fs_create_args a = { .mode = mode };
	struct fs_inode *ip;

	mkfs_image(journal_blocks);
	mount_image();
	ck_assert_int_eq(fs_create(fs, IOMAPFS_ROOT_INO, "victim", &a, &ip), 0);
	fill(ip);
	ck_assert_int_eq(fs_fsync(ip, false, NULL), 0);
	fs_iput(ip);
	unmount_image();
	copy_file(image, golden);
}

/*
 * The shape of each crash regression below: a golden image whose "victim"
 * is made with @mode (S_IFREG | 0644 when 0) on a journal of
 * @journal_blocks (0: mkfs's default) and filled by @fill; then @op is
 * crashed at every section boundary in turn, @check holding after each,
 * and there must be at least @min_points crash points (else the
 * operation no longer has the sections the test is about).
 */
struct crash_case {
	uint64_t	journal_blocks;
	mode_t		mode;
	void		(*fill)(struct fs_inode *ip);
	int		(*op)(struct fs_inode *ip);
	void		(*check)(struct fs_inode *ip);
	unsigned	min_points;
};

static void crash_everywhere(const struct crash_case *c)
{
	make_golden(c->journal_blocks, c->mode ? c->mode : S_IFREG | 0644, c->fill);
	ck_assert_uint_ge(crash_at_every_section(c->op, c->check), c->min_points);
}

/* ---- bug 1: truncate and punch in one section with the inode ---- */

#define VICTIM_BYTES	(1 * MiB)

static void fill_victim(struct fs_inode *ip)
{
	write_seed(ip, 0, VICTIM_BYTES, 1);
}

static int truncate_to_zero(struct fs_inode *ip)
{
	struct fs_setattr sa = { .valid = FS_SET_SIZE, .size = 0 };

	return fs_setattr(fs, ip->ino, &sa);
}

static bool never_zero(uint64_t blk)
{
	return false;
}

/* A truncate cut short by the crash: some size, the old bytes below it. */
static void check_truncated(struct fs_inode *ip)
{
	ck_assert_uint_le(expect_seed_or_zeros(ip, 1, never_zero), VICTIM_BYTES);
}

/*
 * Regression: truncate freed the extents (and the bitmap bits) in one
 * section and wrote the inode that still mapped them in a later one; a
 * commit in between and a crash left a file mapping free blocks, which the
 * next file got: a 0644 file read a 0600 file's data, fsck said
 * "cross-linked".
 */
START_TEST(truncate_crash_between_sections_never_crosslinks)
{
	crash_everywhere(&(struct crash_case){
		.fill = fill_victim, .op = truncate_to_zero,
		.check = check_truncated, .min_points = 2 });
}
END_TEST

#define UNALIGNED_SIZE	10000
static bool unaligned_done;	/* the truncate and its fsync returned */

static int truncate_unaligned_and_fsync(struct fs_inode *ip)
{
	struct fs_setattr sa = { .valid = FS_SET_SIZE, .size = UNALIGNED_SIZE };
	int err = fs_setattr(fs, ip->ino, &sa);

	unaligned_done = false;
	if (!err)
		err = fs_fsync(ip, false, NULL);
	unaligned_done = !err;
	return err;
}

static void check_unaligned(struct fs_inode *ip)
{
	uint64_t size = expect_seed_or_zeros(ip, 1, never_zero);

	if (unaligned_done)
		ck_assert_uint_eq(size, UNALIGNED_SIZE);
	else
		ck_assert_uint_ge(size, UNALIGNED_SIZE);
}

/*
 * Regression: each step of a truncate chain lowered the on-disk size only
 * to the end of what was still mapped, the last step too, so a truncate
 * to 10000 bytes left 12288 on disk: after the fsync, a remount showed
 * the old bytes up to the block's end (the write-log checker found it,
 * generic/101).
 */
START_TEST(unaligned_truncate_reaches_disk_with_its_size)
{
	crash_everywhere(&(struct crash_case){
		.fill = fill_victim, .op = truncate_unaligned_and_fsync,
		.check = check_unaligned, .min_points = 2 });
}
END_TEST

#define HOLE_START	(256 * KiB)
#define HOLE_END	(768 * KiB)

static int punch_middle(struct fs_inode *ip)
{
	return fs_fallocate(ip, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			    HOLE_START, HOLE_END - HOLE_START);
}

static bool in_hole(uint64_t blk)
{
	return blk >= HOLE_START / BLK && blk < HOLE_END / BLK;
}

static void check_punched(struct fs_inode *ip)
{
	ck_assert_uint_eq(expect_seed_or_zeros(ip, 1, in_hole), VICTIM_BYTES);
}

/* Regression: punch hole had the same two-section pattern as truncate. */
START_TEST(punch_crash_between_sections_never_crosslinks)
{
	crash_everywhere(&(struct crash_case){
		.fill = fill_victim, .op = punch_middle,
		.check = check_punched, .min_points = 2 });
}
END_TEST

/* ---- bug 3: bounded sections for fragmented files ---- */

#define FRAG_EXTENTS	1500
#define FRAG_JOURNAL	64	/* blocks */

/* Every other block written: FRAG_EXTENTS extents, in EXTENT items. */
static void fill_fragmented(struct fs_inode *ip)
{
	for (uint64_t i = 0; i < FRAG_EXTENTS; i++)
		write_seed(ip, 2 * i * BLK, BLK, 1);
	ck_assert_int_eq(fs_fsync(ip, false, NULL), 0);
	ck_assert_uint_eq(ip->nr_ext, FRAG_EXTENTS);
	ck_assert(ip->ext_in_tree);
}

static bool odd_block(uint64_t blk)
{
	return blk & 1;
}

static void check_fragmented_truncated(struct fs_inode *ip)
{
	expect_seed_or_zeros(ip, 1, odd_block);
}

/*
 * Regression: truncating a file of thousands of extents was one section
 * bigger than a small journal, written in place without crash protection;
 * a crash between it and the inode's section left EXTENT items and the
 * inode's extent count disagreeing (the file could not be opened).  Now
 * a chain of bounded sections, each consistent: crash at every boundary.
 */
START_TEST(truncate_of_fragmented_file_is_a_chain_of_bounded_sections)
{
	crash_everywhere(&(struct crash_case){
		.journal_blocks = FRAG_JOURNAL, .fill = fill_fragmented,
		.op = truncate_to_zero, .check = check_fragmented_truncated,
		.min_points = 3 });	/* several sections, each a crash point */
}
END_TEST

static int punch_all_fragmented(struct fs_inode *ip)
{
	return fs_fallocate(ip, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
			    2 * FRAG_EXTENTS * BLK);
}

static int zero_all_fragmented(struct fs_inode *ip)
{
	return fs_fallocate(ip, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, 0,
			    2 * FRAG_EXTENTS * BLK);
}

static bool any_block(uint64_t blk)
{
	return true;
}

static void check_fragmented_zeroed(struct fs_inode *ip)
{
	ck_assert_uint_eq(expect_seed_or_zeros(ip, 1, any_block),
			  (2 * FRAG_EXTENTS - 1) * BLK);
}

/* Regression: punch and zero range of a fragmented file, the same. */
START_TEST(punch_and_zero_range_of_fragmented_file_are_bounded)
{
	crash_everywhere(&(struct crash_case){
		.journal_blocks = FRAG_JOURNAL, .fill = fill_fragmented,
		.op = punch_all_fragmented, .check = check_fragmented_zeroed,
		.min_points = 2 });
	/* Zero range takes many small sections: a few of them. */
	for (unsigned n = 2; n <= 8; n += 3)
		ck_assert(crash_at_section(zero_all_fragmented, check_fragmented_zeroed, n));
}
END_TEST

/* ---- bug 2: an ACL and its mode change in one section ---- */

enum { A_USER_OBJ = 1, A_USER = 2, A_GROUP_OBJ = 4, A_MASK = 0x10, A_OTHER = 0x20 };

/* The kernel's xattr form of user::@u, user:1000:rw, group::@g, mask::@m,
 * other::@o. */
static size_t acl_blob(uint8_t *buf, unsigned u, unsigned g, unsigned m, unsigned o)
{
	const uint16_t e[5][2] = { { A_USER_OBJ, u }, { A_USER, 6 }, { A_GROUP_OBJ, g },
				   { A_MASK, m }, { A_OTHER, o } };
	uint32_t version = 2;
	size_t len = 4;

	memcpy(buf, &version, 4);
	for (int i = 0; i < 5; i++, len += 8) {
		uint32_t id = e[i][0] == A_USER ? 1000 : (uint32_t)-1;

		memcpy(buf + len, &e[i][0], 2);
		memcpy(buf + len + 2, &e[i][1], 2);
		memcpy(buf + len + 4, &id, 4);
	}
	return len;
}

/*
 * The mode of @ino agrees with its access ACL (owner, mask, other bits,
 * as posix_acl_equiv_mode() folds them), or with @no_acl_mode when it has
 * none, which only @acl_optional allows.
 */
static void check_mode_and_acl(uint64_t ino, bool acl_optional, mode_t no_acl_mode)
{
	uint8_t buf[256];
	ssize_t len = fs_getxattr(fs, ino, XATTR_NAME_POSIX_ACL_ACCESS, buf, sizeof(buf));
	struct fs_inode *ip;
	mode_t want = 0, mode;

	ck_assert_int_eq(fs_iget(fs, ino, &ip), 0);
	mode = ip->di.mode & 0777;
	fs_iput(ip);
	if (len == -ENODATA) {
		ck_assert_msg(acl_optional, "mode %o without its ACL", mode);
		ck_assert_uint_eq(mode, no_acl_mode);
		return;
	}
	ck_assert_int_gt(len, 4);
	for (ssize_t off = 4; off + 8 <= len; off += 8) {
		uint16_t tag, perm;

		memcpy(&tag, buf + off, 2);
		memcpy(&perm, buf + off + 2, 2);
		if (tag == A_USER_OBJ)
			want |= perm << 6;
		else if (tag == A_MASK)
			want |= perm << 3;
		else if (tag == A_OTHER)
			want |= perm;
	}
	ck_assert_msg(mode == want, "mode %o, its ACL says %o", mode, want);
}

/* As the daemon creates a file under a directory with a default ACL. */
static int create_like_daemon(uint64_t dir, const char *name, struct fs_inode **out)
{
	struct fs_create_args a = { .mode = S_IFREG | 0666 };
	struct acl_inherit ai;
	int err = acl_prepare_create(fs, dir, &a.mode, 022, &ai);

	if (!err) {
		acl_inherit_to_args(&ai, &a);
		err = fs_create(fs, dir, name, &a, out);
	}
	acl_inherit_free(&ai);
	return err;
}

/* As the daemon's setattr does a chmod on a file with an ACL. */
static int chmod_like_daemon(uint64_t ino, mode_t mode)
{
	struct fs_setattr sa = { .valid = FS_SET_MODE, .mode = S_IFREG | mode };
	int err = acl_chmod_prepare(fs, ino, &sa);

	if (!err)
		err = fs_setattr(fs, ino, &sa);
	kfree((void *)sa.acl);
	return err;
}

static void fill_default_acl(struct fs_inode *dp)
{
	uint8_t buf[64];
	size_t len = acl_blob(buf, 7, 5, 7, 5);

	ck_assert_int_eq(acl_set(fs, dp->ino, XATTR_NAME_POSIX_ACL_DEFAULT, buf, len, 0,
				 true), 0);
}

static int create_in_victim(struct fs_inode *dp)
{
	struct fs_inode *ip;
	int err = create_like_daemon(dp->ino, "child", &ip);

	if (!err)
		fs_iput(ip);
	return err;
}

/* "child" does not exist, or has its ACL and the mode masked by it. */
static void check_child(struct fs_inode *dp)
{
	uint64_t ino;
	unsigned dtype;
	int err;

	meta_begin(fs_meta(fs));
	err = fs_dir_find(fs, dp->ino, "child", &ino, &dtype);
	meta_end(fs_meta(fs));
	if (err == -ENOENT)
		return;
	ck_assert_int_eq(err, 0);
	check_mode_and_acl(ino, false, 0);
}

/*
 * Regression: a create under a directory with a default ACL stored the
 * inode (its mode masked by the inherited ACL) in one section and the ACL
 * in another; a crash in between left the mode alone, the ACL gone.
 */
START_TEST(acl_create_crash_between_sections_keeps_mode_with_its_acl)
{
	crash_everywhere(&(struct crash_case){
		.mode = S_IFDIR | 0755, .fill = fill_default_acl,
		.op = create_in_victim, .check = check_child, .min_points = 1 });
}
END_TEST

/* Set the access ACL of @ip (user::@u, user:1000:rw, group::@g, mask::@m,
 * other::@o) as the daemon's setxattr does. */
static int set_acl(struct fs_inode *ip, unsigned u, unsigned g, unsigned m, unsigned o)
{
	uint8_t buf[64];
	size_t len = acl_blob(buf, u, g, m, o);

	return acl_set(fs, ip->ino, XATTR_NAME_POSIX_ACL_ACCESS, buf, len, 0, true);
}

static void fill_access_acl(struct fs_inode *ip)
{
	ck_assert_int_eq(set_acl(ip, 6, 4, 6, 4), 0);
}

static int chmod_victim(struct fs_inode *ip)
{
	return chmod_like_daemon(ip->ino, 0700);
}

static void check_victim_acl(struct fs_inode *ip)
{
	check_mode_and_acl(ip->ino, false, 0);
}

/* Regression: chmod of a file with an ACL set the mode, then rewrote the
 * ACL in a later section. */
START_TEST(acl_chmod_crash_between_sections_keeps_mode_with_its_acl)
{
	crash_everywhere(&(struct crash_case){
		.fill = fill_access_acl, .op = chmod_victim,
		.check = check_victim_acl, .min_points = 1 });
}
END_TEST

static void fill_nothing(struct fs_inode *ip)
{
}

static int set_access_acl(struct fs_inode *ip)
{
	return set_acl(ip, 7, 4, 6, 0);
}

static void check_victim_acl_or_0644(struct fs_inode *ip)
{
	check_mode_and_acl(ip->ino, true, 0644);
}

/* Regression: setting an access ACL stored it, then set the mode it
 * implies in a later section (0644 with an "other::---" ACL). */
START_TEST(acl_set_crash_between_sections_keeps_mode_with_its_acl)
{
	crash_everywhere(&(struct crash_case){
		.fill = fill_nothing, .op = set_access_acl,
		.check = check_victim_acl_or_0644, .min_points = 1 });
}
END_TEST

/* ---- bug 4: a truncate that fails changes nothing ---- */

#define EVICT_EXTENTS	5000	/* more EXTENT leaves than the smallest buffer cache */

struct read_fault {
	unsigned long	failed;
};

/* Every read fails: the metadata the truncate needs is not in the cache. */
static void fail_reads(struct blk_dev *dev, struct bio *bio)
{
	struct read_fault *rf = blk_dev_ops_private(dev);

	if (bio->bi_op == REQ_OP_READ) {
		rf->failed++;
		bio->bi_status = -EIO;
		bio_endio(bio);
		return;
	}
	blk_dev_default_submit(dev, bio);
}

static const struct blk_dev_ops fail_reads_ops = { .submit = fail_reads };

/*
 * Regression: truncate dropped the cached data and lowered i_size before
 * the section that freed the extents, which could still fail (here: an
 * EXTENT leaf that cannot be read); the call failed, yet the file looked
 * truncated and its blocks stayed mapped past the new EOF.
 */
START_TEST(failed_truncate_keeps_size_and_data)
{
	struct fs_setattr sa = { .valid = FS_SET_SIZE, .size = 0 };
	struct fs_mount_opts opts = { 0 };
	struct read_fault rf = { 0 };
	struct fs_inode *ip;
	uint64_t size;

	mkfs_image(0);
	mount_image();
	ip = create("victim", 0644);
	for (uint64_t i = 0; i < EVICT_EXTENTS; i++)
		write_seed(ip, 2 * i * BLK, BLK, 6);
	ck_assert_int_eq(fs_fsync(ip, false, NULL), 0);
	size = isize(ip);
	fs_iput(ip);
	unmount_image();
	opts.cache.size_bytes = 64 * MiB;
	opts.blk.nr_workers = 2;
	opts.meta.commit_interval_ms = 0;
	opts.meta.buf_cache_bytes = 1;	/* the smallest: early leaves get evicted */
	ck_assert_int_eq(fs_mount(image, &opts, &fs), 0);
	ip = lookup("victim");
	blk_dev_set_ops(fs_dev(fs), &fail_reads_ops, &rf);
	ck_assert_int_eq(fs_setattr(fs, ip->ino, &sa), -EIO);
	blk_dev_set_ops(fs_dev(fs), NULL, NULL);
	ck_assert_uint_gt(rf.failed, 0);
	ck_assert(!fs_is_shutdown(fs));
	ck_assert_uint_eq(isize(ip), size);		/* nothing changed */
	expect_seed_or_zeros(ip, 6, odd_block);
	fs_iput(ip);
	unmount_image();
	fsck_clean();
}
END_TEST

/* ---- bug 5: data is flushed before the commit that exposes it ---- */

/*
 * A volatile write cache, through the device ops table: every write goes
 * through at once, with the old contents kept until a flush.  The first
 * flush after a journal write is the power cut: it fails, the device is
 * dead, and every unflushed write is rolled back except the journal's
 * (the worst order a cache may persist them in).
 */
struct wcache {
	int		fd;		/* the image, for the undo copies */
	uint64_t	jlo, jhi;	/* the journal, in bytes */
	struct { uint64_t off; uint32_t len; void *old; } *u;
	size_t		nr;
	bool		journal_written, dead;
};

static bool wc_in_journal(const struct wcache *wc, uint64_t off)
{
	return off >= wc->jlo && off < wc->jhi;
}

static void wc_submit(struct blk_dev *dev, struct bio *bio)
{
	struct wcache *wc = blk_dev_ops_private(dev);
	uint64_t off = bio->bi_sector << SECTOR_SHIFT;

	if (bio->bi_op == REQ_OP_FLUSH && wc->journal_written)
		wc->dead = true;
	if (wc->dead) {
		bio->bi_status = -EIO;
		bio_endio(bio);
		return;
	}
	if (bio->bi_op == REQ_OP_WRITE) {
		wc->u = realloc(wc->u, (wc->nr + 1) * sizeof(*wc->u));
		wc->u[wc->nr].off = off;
		wc->u[wc->nr].len = bio->bi_size;
		wc->u[wc->nr].old = malloc(bio->bi_size);
		ck_assert_int_eq(pread(wc->fd, wc->u[wc->nr].old, bio->bi_size, off),
				 (ssize_t)bio->bi_size);
		wc->nr++;
		wc->journal_written |= wc_in_journal(wc, off);
	} else if (bio->bi_op == REQ_OP_FLUSH) {
		while (wc->nr)
			free(wc->u[--wc->nr].old);
	}
	blk_dev_default_submit(dev, bio);
}

static const struct blk_dev_ops wc_ops = { .submit = wc_submit };

static void wc_attach(struct wcache *wc)
{
	const struct iomapfs_super *sb = meta_super(fs_meta(fs));

	*wc = (struct wcache){ .jlo = sb->journal_start * BLK,
			       .jhi = (sb->journal_start + sb->journal_blocks) * BLK };
	wc->fd = open(image, O_RDWR);
	ck_assert_int_ge(wc->fd, 0);
	blk_dev_set_ops(fs_dev(fs), &wc_ops, wc);
}

/* After crash(): lose every unflushed write but the journal's. */
static void wc_power_cut(struct wcache *wc)
{
	while (wc->nr--) {
		if (!wc_in_journal(wc, wc->u[wc->nr].off))
			ck_assert_int_eq(pwrite(wc->fd, wc->u[wc->nr].old, wc->u[wc->nr].len,
						wc->u[wc->nr].off), (ssize_t)wc->u[wc->nr].len);
		free(wc->u[wc->nr].old);
	}
	free(wc->u);
	fsync(wc->fd);
	close(wc->fd);
}

/*
 * Regression: the commit block went out in the same batch as the
 * transaction and the only flush followed it, so a volatile write cache
 * could persist the unwritten->written conversion without the data it
 * covers: after the replay a new file showed what its blocks held before
 * (a deleted file's bytes; here, what the image held before mkfs).
 */
START_TEST(conversion_commit_never_persists_before_its_data)
{
	struct fs_inode *ip;
	struct wcache wc;

	stale_image();			/* every free block holds old bytes */
	mkfs_image(0);
	mount_image();
	ip = create("new", 0644);
	write_seed(ip, 0, 1 * MiB, 8);
	wc_attach(&wc);
	fs_fsync(ip, false, NULL);	/* dies at the flush after the commit */
	ck_assert(wc.dead);
	fs_iput(ip);
	crash();
	wc_power_cut(&wc);
	mount_image();
	ip = lookup("new");
	expect_seed_or_zeros(ip, 8, any_block);
	fs_iput(ip);
	unmount_image();
	fsck_clean();
}
END_TEST

/* ---- bug 6: the on-disk size grows when the data is on the device ---- */

/*
 * Regression: write() wrote the new size into the inode at once, so a
 * commit (any other fsync, the periodic one) and a crash before the data
 * was written back showed the new size over zeros.
 */
START_TEST(size_commit_before_writeback_never_shows_zeros)
{
	struct fs_inode *ip, *other;
	uint64_t size;

	mkfs_image(0);
	mount_image();
	ip = create("grown", 0644);
	write_seed(ip, 0, 64 * KiB, 3);
	ck_assert_int_eq(fs_fsync(ip, false, NULL), 0);
	write_seed(ip, 64 * KiB, 192 * KiB, 3);		/* extends, no fsync */
	other = create("other", 0644);			/* another file's fsync */
	write_seed(other, 0, 4 * KiB, 4);
	ck_assert_int_eq(fs_fsync(other, false, NULL), 0);
	fs_iput(other);
	ck_assert_int_eq(meta_commit(fs_meta(fs)), 0);
	fs_iput(ip);
	crash();
	mount_image();
	ip = lookup("grown");
	size = expect_seed_or_zeros(ip, 3, never_zero);
	ck_assert_uint_eq(size, 64 * KiB);	/* the data after it never got there */
	fs_iput(ip);
	unmount_image();
}
END_TEST

/* After fsync (writeback done) the size is there, with its data. */
START_TEST(size_reaches_disk_with_its_data)
{
	struct fs_inode *ip;

	mkfs_image(0);
	mount_image();
	ip = create("grown", 0644);
	write_seed(ip, 0, 100 * KiB + 17, 5);
	ck_assert_int_eq(fs_fsync(ip, true, NULL), 0);
	write_seed(ip, 100 * KiB + 17, 3, 5);		/* into the written tail block */
	ck_assert_int_eq(fs_fsync(ip, true, NULL), 0);
	fs_iput(ip);
	crash();
	mount_image();
	ip = lookup("grown");
	ck_assert_uint_eq(expect_seed_or_zeros(ip, 5, never_zero), 100 * KiB + 20);
	fs_iput(ip);
	unmount_image();
}
END_TEST

static bool in_punched_tail(uint64_t blk)
{
	return blk >= 192 * KiB / BLK;
}

/*
 * Regression: the on-disk size grows only when written-back data's ioend
 * completes, so a write extending the file whose folios a punch (keeping
 * the size) dropped before writeback never moved it: the fsync after the
 * punch committed nothing new and a crash showed the older, smaller size
 * (the write-log checker's fsx workload found it).
 */
START_TEST(punch_of_unwritten_back_tail_keeps_fsynced_size)
{
	struct fs_inode *ip;

	mkfs_image(0);
	mount_image();
	ip = create("grown", 0644);
	write_seed(ip, 0, 192 * KiB, 6);
	ck_assert_int_eq(fs_fsync(ip, false, NULL), 0);
	write_seed(ip, 192 * KiB, 64 * KiB, 6);		/* extends, still cached */
	ck_assert_int_eq(fs_fallocate(ip, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				      192 * KiB, 64 * KiB), 0);
	ck_assert_int_eq(fs_fsync(ip, false, NULL), 0);
	fs_iput(ip);
	crash();
	mount_image();
	ip = lookup("grown");
	ck_assert_uint_eq(expect_seed_or_zeros(ip, 6, in_punched_tail), 256 * KiB);
	fs_iput(ip);
	unmount_image();
}
END_TEST

static Suite *crash_suite(void)
{
	Suite *s = suite_create("fs_crash");
	TCase *tc = tcase_create("crash");

	tcase_set_timeout(tc, 240);
	tcase_add_checked_fixture(tc, image_names, teardown);
	tcase_add_test(tc, truncate_crash_between_sections_never_crosslinks);
	tcase_add_test(tc, unaligned_truncate_reaches_disk_with_its_size);
	tcase_add_test(tc, punch_crash_between_sections_never_crosslinks);
	tcase_add_test(tc, truncate_of_fragmented_file_is_a_chain_of_bounded_sections);
	tcase_add_test(tc, punch_and_zero_range_of_fragmented_file_are_bounded);
	tcase_add_test(tc, acl_create_crash_between_sections_keeps_mode_with_its_acl);
	tcase_add_test(tc, acl_chmod_crash_between_sections_keeps_mode_with_its_acl);
	tcase_add_test(tc, acl_set_crash_between_sections_keeps_mode_with_its_acl);
	tcase_add_test(tc, failed_truncate_keeps_size_and_data);
	tcase_add_test(tc, conversion_commit_never_persists_before_its_data);
	tcase_add_test(tc, size_commit_before_writeback_never_shows_zeros);
	tcase_add_test(tc, size_reaches_disk_with_its_data);
	tcase_add_test(tc, punch_of_unwritten_back_tail_keeps_fsynced_size);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return unit_run(crash_suite(), "crash");
}
