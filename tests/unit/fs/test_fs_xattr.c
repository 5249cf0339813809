// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Description: extended attributes on a real image: small (inline) and
 * 64 KiB (chunked) values, replacing one size class by the other, 5000
 * xattrs on one file, XATTR_CREATE / XATTR_REPLACE, ENODATA, ERANGE,
 * E2BIG, namespaces, listxattr, removal, removal with the inode, and
 * everything surviving unmount/mount with fsck clean afterwards.
 */
#include <sys/xattr.h>
#include "test_fs_dir_util.h"

#define ROOT	IOMAPFS_ROOT_INO

static uint64_t file;

static void setup(void)
{
	tfs_setup();
	file = tfs_create(t.fs, ROOT, "f", S_IFREG | 0644, NULL);
}

static void fill_pattern(uint8_t *buf, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(i * 31 + seed * 7 + (i >> 10));
}

static void expect_value(uint64_t ino, const char *name, const void *val, size_t len)
{
	uint8_t *buf = malloc(len + 1);

	ck_assert_int_eq(fs_getxattr(t.fs, ino, name, NULL, 0), len);
	ck_assert_int_eq(fs_getxattr(t.fs, ino, name, buf, len + 1), len);
	ck_assert_mem_eq(buf, val, len);
	free(buf);
}

START_TEST(small_value_set_get_list_remove)
{
	char list[256];

	ck_assert_int_eq(fs_setxattr(t.fs, file, "user.colour", "blue", 4, 0), 0);
	expect_value(file, "user.colour", "blue", 4);
	ck_assert_int_eq(fs_setxattr(t.fs, file, "user.empty", "", 0, 0), 0);
	expect_value(file, "user.empty", "", 0);
	ck_assert_int_eq(fs_listxattr(t.fs, file, NULL, 0), 23);
	ck_assert_int_eq(fs_listxattr(t.fs, file, list, sizeof(list)), 23);
	ck_assert(!memcmp(list, "user.colour\0user.empty\0", 23) ||
		  !memcmp(list, "user.empty\0user.colour\0", 23));
	ck_assert_int_eq(fs_removexattr(t.fs, file, "user.colour"), 0);
	ck_assert_int_eq(fs_getxattr(t.fs, file, "user.colour", list, sizeof(list)), -ENODATA);
	ck_assert_int_eq(fs_removexattr(t.fs, file, "user.colour"), -ENODATA);
	ck_assert_int_eq(fs_listxattr(t.fs, file, list, sizeof(list)), 11);
}
END_TEST

START_TEST(sixty_four_kib_value_round_trips_and_replaces_atomically)
{
	uint8_t *big = malloc(IOMAPFS_XATTR_SIZE_MAX), *big2 = malloc(IOMAPFS_XATTR_SIZE_MAX);

	fill_pattern(big, IOMAPFS_XATTR_SIZE_MAX, 1);
	fill_pattern(big2, IOMAPFS_XATTR_SIZE_MAX, 2);
	ck_assert_int_eq(fs_setxattr(t.fs, file, "user.big", big, IOMAPFS_XATTR_SIZE_MAX, 0), 0);
	expect_value(file, "user.big", big, IOMAPFS_XATTR_SIZE_MAX);
	/* Large -> large, large -> small, small -> large. */
	ck_assert_int_eq(fs_setxattr(t.fs, file, "user.big", big2, 40000, XATTR_REPLACE), 0);
	expect_value(file, "user.big", big2, 40000);
	ck_assert_int_eq(fs_setxattr(t.fs, file, "user.big", "tiny", 4, XATTR_REPLACE), 0);
	expect_value(file, "user.big", "tiny", 4);
	ck_assert_int_eq(fs_setxattr(t.fs, file, "user.big", big, 5000, 0), 0);
	expect_value(file, "user.big", big, 5000);
	ck_assert_int_eq(fs_setxattr(t.fs, file, "user.big", big, IOMAPFS_XATTR_SIZE_MAX + 1, 0),
			 -E2BIG);
	expect_value(file, "user.big", big, 5000);
	/* Exactly one item's worth and one byte more. */
	ck_assert_int_eq(fs_setxattr(t.fs, file, "user.edge", big,
				     IOMAPFS_ITEM_MAX - 16 - 9, 0), 0);
	expect_value(file, "user.edge", big, IOMAPFS_ITEM_MAX - 16 - 9);
	ck_assert_int_eq(fs_setxattr(t.fs, file, "user.edge", big,
				     IOMAPFS_ITEM_MAX - 16 - 8, 0), 0);
	expect_value(file, "user.edge", big, IOMAPFS_ITEM_MAX - 16 - 8);
	tfs_unmount(&t);
	ck_assert_int_eq(tfs_fsck(&t, false, NULL), FSCK_OK);
	free(big);
	free(big2);
}
END_TEST

START_TEST(five_thousand_xattrs_on_one_file)
{
	enum { N = 5000 };
	char name[64], val[64];
	ssize_t need;
	char *list;
	unsigned count = 0;

	for (unsigned i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "user.attr.%05u", i);
		snprintf(val, sizeof(val), "value-%u", i * 7);
		ck_assert_int_eq(fs_setxattr(t.fs, file, name, val, strlen(val),
					     XATTR_CREATE), 0);
	}
	for (unsigned i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "user.attr.%05u", i);
		snprintf(val, sizeof(val), "value-%u", i * 7);
		expect_value(file, name, val, strlen(val));
	}
	need = fs_listxattr(t.fs, file, NULL, 0);
	ck_assert_int_eq(need, N * (strlen("user.attr.00000") + 1));
	list = malloc(need);
	ck_assert_int_eq(fs_listxattr(t.fs, file, list, need - 1), -ERANGE);
	ck_assert_int_eq(fs_listxattr(t.fs, file, list, need), need);
	for (char *p = list; p < list + need; p += strlen(p) + 1) {
		unsigned n;

		ck_assert_int_eq(sscanf(p, "user.attr.%u", &n), 1);
		ck_assert_uint_lt(n, N);
		count++;
	}
	ck_assert_uint_eq(count, N);
	for (unsigned i = 0; i < N; i += 2) {
		snprintf(name, sizeof(name), "user.attr.%05u", i);
		ck_assert_int_eq(fs_removexattr(t.fs, file, name), 0);
	}
	tfs_remount(&t);
	ck_assert_int_eq(fs_listxattr(t.fs, file, NULL, 0), need / 2);
	snprintf(name, sizeof(name), "user.attr.%05u", 4001);
	snprintf(val, sizeof(val), "value-%u", 4001 * 7);
	expect_value(file, name, val, strlen(val));
	ck_assert_int_eq(fs_getxattr(t.fs, file, "user.attr.04000", NULL, 0), -ENODATA);
	free(list);
}
END_TEST

START_TEST(create_and_replace_flags)
{
	ck_assert_int_eq(fs_setxattr(t.fs, file, "user.a", "1", 1, XATTR_REPLACE), -ENODATA);
	ck_assert_int_eq(fs_setxattr(t.fs, file, "user.a", "1", 1, XATTR_CREATE), 0);
	ck_assert_int_eq(fs_setxattr(t.fs, file, "user.a", "2", 1, XATTR_CREATE), -EEXIST);
	expect_value(file, "user.a", "1", 1);
	ck_assert_int_eq(fs_setxattr(t.fs, file, "user.a", "22", 2, XATTR_REPLACE), 0);
	expect_value(file, "user.a", "22", 2);
	ck_assert_int_eq(fs_setxattr(t.fs, file, "user.a", "3", 1,
				     XATTR_CREATE | XATTR_REPLACE), -EINVAL);
}
END_TEST

START_TEST(small_buffers_get_erange_and_size_zero_gets_the_size)
{
	char buf[8];

	ck_assert_int_eq(fs_setxattr(t.fs, file, "user.long", "0123456789", 10, 0), 0);
	ck_assert_int_eq(fs_getxattr(t.fs, file, "user.long", NULL, 0), 10);
	ck_assert_int_eq(fs_getxattr(t.fs, file, "user.long", buf, sizeof(buf)), -ERANGE);
	ck_assert_int_eq(fs_listxattr(t.fs, file, buf, sizeof(buf)), -ERANGE);
	ck_assert_int_eq(fs_getxattr(t.fs, file, "user.none", buf, sizeof(buf)), -ENODATA);
}
END_TEST

START_TEST(namespaces_and_name_limits)
{
	char name[300];

	ck_assert_int_eq(fs_setxattr(t.fs, file, "trusted.t", "x", 1, 0), 0);
	ck_assert_int_eq(fs_setxattr(t.fs, file, "security.s", "x", 1, 0), 0);
	ck_assert_int_eq(fs_setxattr(t.fs, file, "system.posix_acl_access", "x", 1, 0), 0);
	ck_assert_int_eq(fs_setxattr(t.fs, file, "system.posix_acl_default", "x", 1, 0), 0);
	ck_assert_int_eq(fs_setxattr(t.fs, file, "system.other", "x", 1, 0), -EOPNOTSUPP);
	ck_assert_int_eq(fs_setxattr(t.fs, file, "bogus.name", "x", 1, 0), -EOPNOTSUPP);
	memset(name, 'n', sizeof(name));
	memcpy(name, "user.", 5);
	name[255] = '\0';
	ck_assert_int_eq(fs_setxattr(t.fs, file, name, "x", 1, 0), 0);
	expect_value(file, name, "x", 1);
	name[255] = 'n';
	name[256] = '\0';
	ck_assert_int_eq(fs_setxattr(t.fs, file, name, "x", 1, 0), -ERANGE);
	ck_assert_int_eq(fs_getxattr(t.fs, file, name, NULL, 0), -ERANGE);
}
END_TEST

START_TEST(xattrs_survive_remount_and_go_with_the_inode)
{
	uint8_t *big = malloc(30000);
	uint64_t g = tfs_create(t.fs, ROOT, "g", S_IFDIR | 0755, NULL);

	fill_pattern(big, 30000, 3);
	ck_assert_int_eq(fs_setxattr(t.fs, file, "user.big", big, 30000, 0), 0);
	ck_assert_int_eq(fs_setxattr(t.fs, g, "user.small", "dir", 3, 0), 0);
	tfs_remount(&t);
	expect_value(file, "user.big", big, 30000);
	expect_value(g, "user.small", "dir", 3);
	/* Unlinking frees the inode and every xattr item with it: fsck
	 * would report a chunk or xattr item belonging to no inode. */
	ck_assert_int_eq(fs_unlink(t.fs, ROOT, "f"), 0);
	ck_assert_int_eq(fs_getxattr(t.fs, file, "user.big", NULL, 0), -ENOENT);
	tfs_unmount(&t);
	ck_assert_int_eq(tfs_fsck(&t, false, NULL), FSCK_OK);
	free(big);
}
END_TEST

static Suite *xattr_suite(void)
{
	Suite *s = suite_create("fs_xattr");
	TCase *tc = tcase_create("xattr");

	tcase_add_unchecked_fixture(tc, tfs_dir_create, tfs_dir_remove);
	tcase_add_checked_fixture(tc, setup, tfs_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, small_value_set_get_list_remove);
	tcase_add_test(tc, sixty_four_kib_value_round_trips_and_replaces_atomically);
	tcase_add_test(tc, five_thousand_xattrs_on_one_file);
	tcase_add_test(tc, create_and_replace_flags);
	tcase_add_test(tc, small_buffers_get_erange_and_size_zero_gets_the_size);
	tcase_add_test(tc, namespaces_and_name_limits);
	tcase_add_test(tc, xattrs_survive_remount_and_go_with_the_inode);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tfs_run(xattr_suite());
}
