// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Description: full_pread/full_pwrite (lib/io.c), the one retry loop that
 * the write log and iomapfs-replay share.  A round trip at an offset moves
 * every byte; a read that meets end of file fails with -EIO after filling
 * what the file had, so a truncated write log is an error and not a
 * half-filled buffer taken for data; a write cut short by the file size
 * limit (RLIMIT_FSIZE, with SIGXFSZ ignored) comes back short from the
 * kernel, and the loop's retry then reports -EFBIG with the part that
 * fitted on the file.
 */
#include <check.h>
#include "unit.h"
#include <iomapfs/common.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define LEN	(256u << 10)

static char path[128];

static int scratch_file(void)
{
	int fd;

	snprintf(path, sizeof(path), "%s/io-%d", unit_scratch_dir, (int)getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	return fd;
}

static void fill(unsigned char *buf, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (unsigned char)(i * 7 + seed + (i >> 12));
}

START_TEST(round_trip_at_an_offset_moves_every_byte)
{
	static unsigned char out[LEN], in[LEN];
	int fd = scratch_file();

	fill(out, LEN, 3);
	ck_assert_int_eq(full_pwrite(fd, out, LEN, 12345), 0);
	ck_assert_int_eq(lseek(fd, 0, SEEK_END), 12345 + LEN);
	ck_assert_int_eq(full_pread(fd, in, LEN, 12345), 0);
	ck_assert_int_eq(memcmp(in, out, LEN), 0);
	close(fd);
	unlink(path);
}
END_TEST

START_TEST(read_past_end_of_file_is_eio_after_the_bytes_there)
{
	static unsigned char out[LEN], in[LEN];
	int fd = scratch_file();

	fill(out, LEN, 5);
	ck_assert_int_eq(full_pwrite(fd, out, LEN / 2, 0), 0);
	memset(in, 0xee, sizeof(in));
	ck_assert_int_eq(full_pread(fd, in, LEN, 0), -EIO);
	ck_assert_int_eq(memcmp(in, out, LEN / 2), 0);
	ck_assert_int_eq(in[LEN / 2], 0xee);
	close(fd);
	unlink(path);
}
END_TEST

START_TEST(write_cut_short_by_the_size_limit_is_efbig)
{
	static unsigned char out[LEN], in[LEN];
	struct rlimit rl = { .rlim_cur = LEN / 2, .rlim_max = RLIM_INFINITY };
	int fd = scratch_file();

	signal(SIGXFSZ, SIG_IGN);
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
	fill(out, LEN, 9);
	ck_assert_int_eq(full_pwrite(fd, out, LEN, 0), -EFBIG);
	ck_assert_int_eq(lseek(fd, 0, SEEK_END), LEN / 2);
	ck_assert_int_eq(full_pread(fd, in, LEN / 2, 0), 0);
	ck_assert_int_eq(memcmp(in, out, LEN / 2), 0);
	close(fd);
	unlink(path);
}
END_TEST

START_TEST(bad_descriptor_is_ebadf)
{
	char c = 0;

	ck_assert_int_eq(full_pread(-1, &c, 1, 0), -EBADF);
	ck_assert_int_eq(full_pwrite(-1, &c, 1, 0), -EBADF);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("io");
	TCase *tc = tcase_create("io");

	tcase_add_test(tc, round_trip_at_an_offset_moves_every_byte);
	tcase_add_test(tc, read_past_end_of_file_is_eio_after_the_bytes_there);
	tcase_add_test(tc, write_cut_short_by_the_size_limit_is_efbig);
	tcase_add_test(tc, bad_descriptor_is_ebadf);
	suite_add_tcase(s, tc);
	return unit_run(s, "io");
}
