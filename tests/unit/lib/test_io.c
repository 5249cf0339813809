// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Description: full_pread/full_pwrite (lib/io.c), the one retry loop that
 * the write log and iomapfs-replay share.  A round trip at an offset moves
 * every byte; a read that meets end of file fails with -EIO after filling
 * what the file had, so a truncated write log is an error and not a
 * half-filled buffer taken for data; a write cut short by the file size
 * limit (RLIMIT_FSIZE, with SIGXFSZ ignored) comes back short from the
 * kernel, and the loop's retry then reports -EFBIG with the part that
 * fitted on the file.  parse_u64 (lib/util.c), the number parser of the
 * mount options, iomapfs-replay and iomapfs-crashstate: a sign, no digit
 * or a number past 2^64 - 1 is refused rather than wrapped, and it stops
 * where the digits do.
 */
#include <check.h>
#include "unit.h"
#include <iomapfs/common.h>
#include <errno.h>
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

/* Before: crashstate read a states line with a bare strtoull, so
 * "18446744073709551616" wrapped to UINT64_MAX and "-1" to 2^64 - 1. */
START_TEST(parse_u64_refuses_signs_junk_and_overflow)
{
	uint64_t v = 7;
	char *end;

	ck_assert_int_eq(parse_u64("18446744073709551615,3", &end, &v), 0);
	ck_assert_uint_eq(v, UINT64_MAX);
	ck_assert_str_eq(end, ",3");
	ck_assert_int_eq(parse_u64("0", &end, &v), 0);
	ck_assert_uint_eq(v, 0);
	ck_assert_str_eq(end, "");
	v = 7;
	ck_assert_int_eq(parse_u64("18446744073709551616", &end, &v), -EINVAL);
	ck_assert_int_eq(parse_u64("-1", &end, &v), -EINVAL);
	ck_assert_int_eq(parse_u64(" 1", &end, &v), -EINVAL);
	ck_assert_int_eq(parse_u64("", &end, &v), -EINVAL);
	ck_assert_int_eq(parse_u64("k", &end, &v), -EINVAL);
	ck_assert_uint_eq(v, 7);
	/* The whole-argument form: hex too, nothing after the number. */
	ck_assert_int_eq(parse_u64_arg("0x10", &v), 0);
	ck_assert_uint_eq(v, 16);
	ck_assert_int_eq(parse_u64_arg("12k", &v), -EINVAL);
	ck_assert_int_eq(parse_u64_arg("-0", &v), -EINVAL);
	ck_assert_int_eq(parse_u64_arg("0x10000000000000000", &v), -EINVAL);
	ck_assert_uint_eq(v, 16);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("io");
	TCase *tp = tcase_create("parse");
	TCase *tc = tcase_create("io");

	tcase_add_test(tc, round_trip_at_an_offset_moves_every_byte);
	tcase_add_test(tc, read_past_end_of_file_is_eio_after_the_bytes_there);
	tcase_add_test(tc, write_cut_short_by_the_size_limit_is_efbig);
	tcase_add_test(tc, bad_descriptor_is_ebadf);
	suite_add_tcase(s, tc);
	tcase_add_test(tp, parse_u64_refuses_signs_junk_and_overflow);
	suite_add_tcase(s, tp);
	return unit_run(s, "io");
}
