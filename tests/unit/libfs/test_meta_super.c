// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Description: the metadata engine's format, mount and superblock
 * handling: crc32c vectors, mkfs -> mount -> unmount -> mount, mkfs
 * refusing an existing filesystem, the superblock copy, and images that
 * are foreign, truncated or carry unknown features.
 */
#include "test_meta_fixture.c"

#include <sys/wait.h>

/* Bit-at-a-time reference, independent of the table and SSE4.2 paths. */
static uint32_t crc32c_ref(const uint8_t *p, size_t len)
{
	uint32_t crc = ~0u;

	while (len--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82F63B78u & -(crc & 1));
	}
	return ~crc;
}

START_TEST(crc32c_matches_standard_vectors)
{
	uint8_t buf[4099];

	ck_assert_uint_eq(~crc32c(~0u, "123456789", 9), 0xE3069283u);
	ck_assert_uint_eq(~crc32c(~0u, "", 0), 0);
	memset(buf, 0, 32);
	ck_assert_uint_eq(~crc32c(~0u, buf, 32), 0x8A9136AAu);	/* RFC 3720 B.4 */
	memset(buf, 0xff, 32);
	ck_assert_uint_eq(~crc32c(~0u, buf, 32), 0x62A8AB43u);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 131 + 7);
	/* Odd lengths and offsets exercise the 8-byte and byte tails. */
	for (size_t off = 0; off < 8; off++)
		ck_assert_uint_eq(~crc32c(~0u, buf + off, sizeof(buf) - off - 3),
				  crc32c_ref(buf + off, sizeof(buf) - off - 3));
	/* Chained updates equal one pass. */
	ck_assert_uint_eq(~crc32c(crc32c(~0u, buf, 1000), buf + 1000, 3000),
			  ~crc32c(~0u, buf, 4000));
}
END_TEST

START_TEST(mkfs_mount_remount_keeps_superblock_and_root_inode)
{
	struct fx f = { 0 };
	struct iomapfs_dinode di;
	struct iomapfs_key k = meta_key(IOMAPFS_ROOT_INO, IOMAPFS_ITEM_INODE, 0);
	struct iomapfs_super sb1, *raw;
	uint32_t len = sizeof(di);
	uint8_t *blk = aligned_alloc(BLK, BLK);

	fx_setup(&f, "remount.img", 64 * MiB, 0);
	sb1 = *meta_super(f.m);
	ck_assert_uint_eq(sb1.nr_blocks, 64 * MiB / BLK);
	ck_assert_str_eq(sb1.label, "unit");
	ck_assert_uint_eq(sb1.next_ino, IOMAPFS_FIRST_INO);
	ck_assert_uint_eq(sb1.mount_count, 1);
	ck_assert_uint_eq(sb1.journal_blocks, 1024);
	ck_assert_uint_ne(sb1.state, IOMAPFS_STATE_CLEAN);	/* mounted: not clean */

	meta_begin(f.m);
	ck_assert_int_eq(btree_lookup(f.m, &k, &di, &len), 0);
	meta_end(f.m);
	ck_assert_uint_eq(len, sizeof(di));
	ck_assert_uint_eq(di.ino, IOMAPFS_ROOT_INO);
	ck_assert_uint_eq(di.mode, S_IFDIR | 0755);
	ck_assert_uint_eq(di.nlink, 2);
	ck_assert_uint_eq(di.uid, 0);
	ck_assert_uint_eq(di.gid, 0);
	ck_assert_int_gt(di.mtime_sec, 1700000000);

	meta_begin(f.m);
	ck_assert_uint_eq(meta_alloc_ino(f.m), IOMAPFS_FIRST_INO);
	meta_inodes_changed(f.m, 1);
	meta_end(f.m);
	fx_remount(&f);
	ck_assert_mem_eq(meta_super(f.m)->uuid, sb1.uuid, 16);
	ck_assert_uint_eq(meta_super(f.m)->mount_count, 2);
	ck_assert_uint_eq(meta_super(f.m)->next_ino, IOMAPFS_FIRST_INO + 1);
	ck_assert_uint_eq(meta_super(f.m)->nr_inodes, 2);
	ck_assert_uint_eq(meta_super(f.m)->root_node, sb1.root_node);
	len = sizeof(di);
	meta_begin(f.m);
	ck_assert_int_eq(btree_lookup(f.m, &k, &di, &len), 0);
	meta_end(f.m);
	ck_assert_uint_eq(di.mode, S_IFDIR | 0755);
	ck_assert_int_eq(fx_check_all(f.m, NULL, 0), 0);
	fx_unmount(&f);
	fx_close(&f);

	/* Clean unmount: both copies say CLEAN and agree. */
	fx_pio(&f, false, blk, BLK, 0);
	raw = (struct iomapfs_super *)blk;
	ck_assert_uint_eq(raw->state, IOMAPFS_STATE_CLEAN);
	ck_assert_uint_eq(raw->next_ino, IOMAPFS_FIRST_INO + 1);
	fx_pio(&f, false, blk, BLK, BLK);
	ck_assert_uint_eq(raw->state, IOMAPFS_STATE_CLEAN);
	ck_assert_uint_eq(raw->mount_count, 2);
	free(blk);
	fx_teardown(&f);
}
END_TEST

START_TEST(mkfs_refuses_existing_filesystem_without_force)
{
	struct fx f = { 0 };
	struct mkfs_opts o = { 0 };
	uint8_t uuid[16];
	const char *msg;

	fx_setup(&f, "refuse.img", 32 * MiB, 0);
	memcpy(uuid, meta_super(f.m)->uuid, 16);
	fx_unmount(&f);
	ck_assert(meta_probe(f.dev));
	capture_begin();
	ck_assert_int_eq(meta_mkfs(f.dev, &o), -EEXIST);
	msg = capture_end();
	ck_assert_ptr_nonnull(strstr(msg, "-f"));
	fx_mount(&f);
	ck_assert_mem_eq(meta_super(f.m)->uuid, uuid, 16);	/* untouched */
	fx_unmount(&f);
	o.force = true;
	ck_assert_int_eq(meta_mkfs(f.dev, &o), 0);
	fx_mount(&f);
	ck_assert(memcmp(meta_super(f.m)->uuid, uuid, 16) != 0);
	ck_assert_uint_eq(meta_super(f.m)->mount_count, 1);
	fx_teardown(&f);
}
END_TEST

static void corrupt_byte(struct fx *f, uint64_t off)
{
	uint8_t b;

	fx_pio(f, false, &b, 1, off);
	b ^= 0x5a;
	fx_pio(f, true, &b, 1, off);
}

START_TEST(corrupt_primary_superblock_falls_back_to_copy)
{
	struct fx f = { 0 };
	uint8_t *blk = aligned_alloc(BLK, BLK);
	uint64_t next_ino;
	uint32_t crc;
	const char *msg;
	int err;

	fx_setup(&f, "copy.img", 32 * MiB, 0);
	meta_begin(f.m);
	meta_alloc_ino(f.m);
	meta_end(f.m);
	next_ino = meta_super(f.m)->next_ino;
	fx_unmount(&f);
	fx_close(&f);
	corrupt_byte(&f, 200);		/* inside the label: checksum breaks */

	fx_open(&f);
	capture_begin();
	err = meta_mount(f.dev, &(struct meta_mount_opts){ 0 }, &f.m);
	msg = capture_end();
	ck_assert_int_eq(err, 0);
	ck_assert_ptr_nonnull(strstr(msg, "copy"));
	ck_assert_uint_eq(meta_super(f.m)->next_ino, next_ino);
	fx_unmount(&f);
	fx_close(&f);
	/* A read-write mount rewrote the primary. */
	fx_pio(&f, false, blk, BLK, 0);
	crc = ((struct iomapfs_super *)blk)->crc;
	fx_super_set_crc(blk);
	ck_assert_uint_eq(crc, ((struct iomapfs_super *)blk)->crc);
	free(blk);
	fx_teardown(&f);
}
END_TEST

START_TEST(both_superblocks_corrupt_is_euclean_with_message)
{
	struct fx f = { 0 };
	const char *msg;
	int err;

	fx_setup(&f, "both.img", 32 * MiB, 0);
	fx_unmount(&f);
	fx_close(&f);
	corrupt_byte(&f, 300);
	corrupt_byte(&f, BLK + 300);
	fx_open(&f);
	capture_begin();
	err = meta_mount(f.dev, &(struct meta_mount_opts){ 0 }, &f.m);
	msg = capture_end();
	ck_assert_int_eq(err, -EUCLEAN);
	ck_assert_ptr_nonnull(strstr(msg, "superblock checksum mismatch"));
	f.m = NULL;
	fx_teardown(&f);
}
END_TEST

static void expect_foreign(struct fx *f, int want, const char *text)
{
	const char *msg;
	int err;

	fx_open(f);
	capture_begin();
	err = meta_mount(f->dev, &(struct meta_mount_opts){ 0 }, &f->m);
	msg = capture_end();
	ck_assert_int_eq(err, want);
	ck_assert_ptr_nonnull(strstr(msg, text));
	f->m = NULL;
	fx_close(f);
}

START_TEST(foreign_images_are_einval_never_a_crash)
{
	struct fx f = { 0 };
	uint8_t *junk = malloc(64 * 1024);

	fx_image(&f, "zeros.img", 16 * MiB);
	expect_foreign(&f, -EINVAL, "not an iomapfs filesystem");
	srandom(12345);
	for (int round = 0; round < 8; round++) {
		for (size_t i = 0; i < 64 * 1024; i++)
			junk[i] = random();
		fx_pio(&f, true, junk, 64 * 1024, 0);
		expect_foreign(&f, -EINVAL, "not an iomapfs filesystem");
	}
	fx_image(&f, "tiny.img", 4096);
	expect_foreign(&f, -EINVAL, "not an iomapfs filesystem");
	free(junk);
	unlink(f.path);
}
END_TEST

START_TEST(image_smaller_than_superblock_is_einval)
{
	struct fx f = { 0 };

	fx_setup(&f, "short.img", 32 * MiB, 0);
	fx_unmount(&f);
	fx_close(&f);
	ck_assert_int_eq(truncate(f.path, 16 * MiB), 0);
	expect_foreign(&f, -EINVAL, "smaller than the superblock says");
	unlink(f.path);
}
END_TEST

START_TEST(unknown_incompat_feature_is_eopnotsupp)
{
	struct fx f = { 0 };
	uint8_t *blk = aligned_alloc(BLK, BLK);

	fx_setup(&f, "feat.img", 32 * MiB, 0);
	fx_unmount(&f);
	fx_close(&f);
	for (uint64_t off = 0; off <= BLK; off += BLK) {
		fx_pio(&f, false, blk, BLK, off);
		((struct iomapfs_super *)blk)->feat_incompat |= 1ull << 40;
		fx_super_set_crc(blk);
		fx_pio(&f, true, blk, BLK, off);
	}
	expect_foreign(&f, -EOPNOTSUPP, "unknown incompatible features");
	free(blk);
	unlink(f.path);
}
END_TEST

/* Runs the real tool: exit codes and messages are what users script on. */
static int run_mkfs(const char *const argv[], char *out, size_t outlen)
{
	int pipefd[2], status;
	ssize_t n, total = 0;
	pid_t pid;

	ck_assert_int_eq(pipe(pipefd), 0);
	pid = fork();
	if (pid == 0) {
		dup2(pipefd[1], 1);
		dup2(pipefd[1], 2);
		execv(MKFS_BIN, (char *const *)argv);
		_exit(127);
	}
	close(pipefd[1]);
	while ((n = read(pipefd[0], out + total, outlen - 1 - total)) > 0)
		total += n;
	out[total] = 0;
	close(pipefd[0]);
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

START_TEST(mkfs_tool_refuses_existing_then_forces)
{
	struct fx f = { 0 };
	char out[4096];

	fx_image(&f, "tool.img", 32 * MiB);
	ck_assert_int_eq(run_mkfs((const char *[]){ "mkfs.iomapfs", "-L", "tool", f.path, NULL },
				  out, sizeof(out)), 0);
	ck_assert_ptr_nonnull(strstr(out, "8192 blocks"));
	ck_assert_ptr_nonnull(strstr(out, "UUID"));
	ck_assert_int_eq(run_mkfs((const char *[]){ "mkfs.iomapfs", f.path, NULL },
				  out, sizeof(out)), 1);
	ck_assert_ptr_nonnull(strstr(out, "already holds an iomapfs filesystem"));
	ck_assert_int_eq(run_mkfs((const char *[]){ "mkfs.iomapfs", "-f", "-J", "64", f.path, NULL },
				  out, sizeof(out)), 0);
	ck_assert_ptr_nonnull(strstr(out, "journal: 64 blocks"));
	ck_assert_int_eq(run_mkfs((const char *[]){ "mkfs.iomapfs", "-J", "x", f.path, NULL },
				  out, sizeof(out)), 1);
	fx_open(&f);
	fx_mount(&f);
	ck_assert_uint_eq(meta_super(f.m)->journal_blocks, 64);
	fx_teardown(&f);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("meta_super");
	TCase *tc = tcase_create("super");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, crc32c_matches_standard_vectors);
	tcase_add_test(tc, mkfs_mount_remount_keeps_superblock_and_root_inode);
	tcase_add_test(tc, mkfs_refuses_existing_filesystem_without_force);
	tcase_add_test(tc, corrupt_primary_superblock_falls_back_to_copy);
	tcase_add_test(tc, both_superblocks_corrupt_is_euclean_with_message);
	tcase_add_test(tc, foreign_images_are_einval_never_a_crash);
	tcase_add_test(tc, image_smaller_than_superblock_is_einval);
	tcase_add_test(tc, unknown_incompat_feature_is_eopnotsupp);
	tcase_add_test(tc, mkfs_tool_refuses_existing_then_forces);
	suite_add_tcase(s, tc);
	return fx_run(s);
}
