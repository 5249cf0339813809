// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Description: the in-memory extent map of fuse/fs/extent.c -- insert into an
 * empty map, merging with neighbours, splitting on removal and on a state
 * change, the delalloc -> unwritten -> written life of a range, lookups at
 * extent boundaries, and the dirty range that drives the item store.
 * Pure memory: no device, no metadata engine.
 */
#include <check.h>
#include "unit.h"
#include <string.h>
#include "fs_internal.h"

static struct fs_inode ip;

static void setup(void)
{
	memset(&ip, 0, sizeof(ip));
	ip.ext_dirty_lo = UINT64_MAX;
}

static void teardown(void)
{
	fs_ext_map_free(&ip);
}

static struct fs_extent mk(uint64_t fblk, uint64_t pblk, uint32_t len, uint32_t state)
{
	struct fs_extent e = { .fblk = fblk, .pblk = pblk, .len = len, .state = state };
	return e;
}

static void ins(uint64_t fblk, uint64_t pblk, uint32_t len, uint32_t state)
{
	struct fs_extent e = mk(fblk, pblk, len, state);

	ck_assert_int_eq(fs_ext_insert(&ip, &e), 0);
}

static void expect(uint32_t i, uint64_t fblk, uint64_t pblk, uint32_t len, uint32_t state)
{
	ck_assert_uint_lt(i, ip.nr_ext);
	ck_assert_uint_eq(ip.ext[i].fblk, fblk);
	if (state != FS_EXT_DELALLOC)
		ck_assert_uint_eq(ip.ext[i].pblk, pblk);
	ck_assert_uint_eq(ip.ext[i].len, len);
	ck_assert_uint_eq(ip.ext[i].state, state);
}

START_TEST(insert_into_empty_map_is_found_by_lookup)
{
	struct fs_extent e;

	ins(10, 1000, 5, FS_EXT_WRITTEN);
	ck_assert_uint_eq(ip.nr_ext, 1);
	ck_assert_int_eq(fs_ext_lookup(&ip, 12, &e), 0);
	ck_assert_uint_eq(e.fblk, 10);
	ck_assert_uint_eq(e.pblk, 1000);
	ck_assert_uint_eq(e.len, 5);
}
END_TEST

START_TEST(insert_merges_with_left_and_right_neighbours)
{
	ins(0, 100, 4, FS_EXT_WRITTEN);
	ins(8, 108, 4, FS_EXT_WRITTEN);
	ck_assert_uint_eq(ip.nr_ext, 2);
	ins(4, 104, 4, FS_EXT_WRITTEN);		/* fills the gap: one extent */
	ck_assert_uint_eq(ip.nr_ext, 1);
	expect(0, 0, 100, 12, FS_EXT_WRITTEN);
}
END_TEST

START_TEST(insert_does_not_merge_discontiguous_blocks_or_other_states)
{
	ins(0, 100, 4, FS_EXT_WRITTEN);
	ins(4, 200, 4, FS_EXT_WRITTEN);		/* file-contiguous, not on disk */
	ins(8, 208, 4, FS_EXT_UNWRITTEN);	/* disk-contiguous, other state */
	ck_assert_uint_eq(ip.nr_ext, 3);
	expect(1, 4, 200, 4, FS_EXT_WRITTEN);
	expect(2, 8, 208, 4, FS_EXT_UNWRITTEN);
}
END_TEST

START_TEST(delalloc_neighbours_merge_without_device_blocks)
{
	ins(0, 0, 3, FS_EXT_DELALLOC);
	ins(3, 0, 3, FS_EXT_DELALLOC);
	ck_assert_uint_eq(ip.nr_ext, 1);
	expect(0, 0, 0, 6, FS_EXT_DELALLOC);
}
END_TEST

START_TEST(insert_over_an_existing_extent_is_refused)
{
	struct fs_extent e = mk(12, 5000, 10, FS_EXT_WRITTEN);

	ins(10, 1000, 5, FS_EXT_WRITTEN);
	ck_assert_int_eq(fs_ext_insert(&ip, &e), -EEXIST);
	e = mk(5, 5000, 6, FS_EXT_WRITTEN);	/* overlaps block 10 only */
	ck_assert_int_eq(fs_ext_insert(&ip, &e), -EEXIST);
	ck_assert_uint_eq(ip.nr_ext, 1);
}
END_TEST

struct removed { struct fs_extent piece[8]; unsigned n; };

static void collect(void *ctx, const struct fs_extent *piece)
{
	struct removed *r = ctx;

	ck_assert_uint_lt(r->n, 8);
	r->piece[r->n++] = *piece;
}

START_TEST(remove_in_the_middle_splits_in_two)
{
	struct removed r = { .n = 0 };

	ins(0, 100, 10, FS_EXT_WRITTEN);
	ck_assert_int_eq(fs_ext_remove(&ip, 3, 4, collect, &r), 0);
	ck_assert_uint_eq(ip.nr_ext, 2);
	expect(0, 0, 100, 3, FS_EXT_WRITTEN);
	expect(1, 7, 107, 3, FS_EXT_WRITTEN);
	ck_assert_uint_eq(r.n, 1);
	ck_assert_uint_eq(r.piece[0].fblk, 3);
	ck_assert_uint_eq(r.piece[0].pblk, 103);
	ck_assert_uint_eq(r.piece[0].len, 4);
}
END_TEST

START_TEST(remove_across_extents_reports_each_piece)
{
	struct removed r = { .n = 0 };

	ins(0, 100, 4, FS_EXT_WRITTEN);
	ins(6, 0, 4, FS_EXT_DELALLOC);
	ins(12, 300, 4, FS_EXT_UNWRITTEN);
	ck_assert_int_eq(fs_ext_remove(&ip, 2, 12, collect, &r), 0);
	ck_assert_uint_eq(r.n, 3);
	ck_assert_uint_eq(r.piece[0].len, 2);
	ck_assert_uint_eq(r.piece[1].state, FS_EXT_DELALLOC);
	ck_assert_uint_eq(r.piece[1].len, 4);
	ck_assert_uint_eq(r.piece[2].pblk, 300);
	ck_assert_uint_eq(r.piece[2].len, 2);
	ck_assert_uint_eq(ip.nr_ext, 2);
	expect(0, 0, 100, 2, FS_EXT_WRITTEN);
	expect(1, 14, 302, 2, FS_EXT_UNWRITTEN);
}
END_TEST

START_TEST(remove_to_the_end_truncates)
{
	ins(0, 100, 4, FS_EXT_WRITTEN);
	ins(10, 500, 4, FS_EXT_WRITTEN);
	ck_assert_int_eq(fs_ext_remove(&ip, 2, UINT64_MAX, NULL, NULL), 0);
	ck_assert_uint_eq(ip.nr_ext, 1);
	expect(0, 0, 100, 2, FS_EXT_WRITTEN);
	ck_assert_uint_eq(fs_extent_blocks(&ip), 2);
}
END_TEST

START_TEST(state_change_of_a_sub_range_splits_into_three)
{
	ins(0, 100, 10, FS_EXT_UNWRITTEN);
	ck_assert_int_eq(fs_ext_convert(&ip, 4, 2, FS_EXT_UNWRITTEN, FS_EXT_WRITTEN), 2);
	ck_assert_uint_eq(ip.nr_ext, 3);
	expect(0, 0, 100, 4, FS_EXT_UNWRITTEN);
	expect(1, 4, 104, 2, FS_EXT_WRITTEN);
	expect(2, 6, 106, 4, FS_EXT_UNWRITTEN);
	/* converting the rest merges everything back into one */
	ck_assert_int_eq(fs_ext_convert(&ip, 0, 10, FS_EXT_UNWRITTEN, FS_EXT_WRITTEN), 8);
	ck_assert_uint_eq(ip.nr_ext, 1);
	expect(0, 0, 100, 10, FS_EXT_WRITTEN);
}
END_TEST

START_TEST(convert_leaves_other_states_alone)
{
	ins(0, 0, 4, FS_EXT_DELALLOC);
	ins(4, 104, 4, FS_EXT_WRITTEN);
	ck_assert_int_eq(fs_ext_convert(&ip, 0, 8, FS_EXT_UNWRITTEN, FS_EXT_WRITTEN), 0);
	ck_assert_uint_eq(ip.nr_ext, 2);
	expect(0, 0, 0, 4, FS_EXT_DELALLOC);
	expect(1, 4, 104, 4, FS_EXT_WRITTEN);
}
END_TEST

START_TEST(delalloc_becomes_unwritten_then_written)
{
	struct removed r = { .n = 0 };

	ins(0, 0, 8, FS_EXT_DELALLOC);
	/* writeback allocates the whole delalloc extent, in two pieces */
	ck_assert_int_eq(fs_ext_remove(&ip, 0, 8, collect, &r), 0);
	ck_assert_uint_eq(r.n, 1);
	ck_assert_uint_eq(r.piece[0].state, FS_EXT_DELALLOC);
	ins(0, 700, 5, FS_EXT_UNWRITTEN);
	ins(5, 705, 3, FS_EXT_UNWRITTEN);	/* contiguous: merges */
	ck_assert_uint_eq(ip.nr_ext, 1);
	ck_assert_uint_eq(fs_extent_blocks(&ip), 8);
	/* completion of the first ioend, then of the second */
	ck_assert_int_eq(fs_ext_convert(&ip, 0, 3, FS_EXT_UNWRITTEN, FS_EXT_WRITTEN), 3);
	expect(0, 0, 700, 3, FS_EXT_WRITTEN);
	expect(1, 3, 703, 5, FS_EXT_UNWRITTEN);
	ck_assert_int_eq(fs_ext_convert(&ip, 3, 5, FS_EXT_UNWRITTEN, FS_EXT_WRITTEN), 5);
	ck_assert_uint_eq(ip.nr_ext, 1);
	expect(0, 0, 700, 8, FS_EXT_WRITTEN);
}
END_TEST

START_TEST(lookup_at_boundaries_and_in_holes)
{
	struct fs_extent e;

	ins(10, 1000, 5, FS_EXT_WRITTEN);
	ins(20, 2000, 5, FS_EXT_UNWRITTEN);
	ck_assert_int_eq(fs_ext_lookup(&ip, 10, &e), 0);	/* first block */
	ck_assert_uint_eq(e.fblk, 10);
	ck_assert_int_eq(fs_ext_lookup(&ip, 14, &e), 0);	/* last block */
	ck_assert_uint_eq(e.fblk, 10);
	ck_assert_int_eq(fs_ext_lookup(&ip, 15, &e), -ENOENT);	/* one past */
	ck_assert_uint_eq(e.fblk, 15);
	ck_assert_uint_eq(e.len, 5);				/* up to the next */
	ck_assert_int_eq(fs_ext_lookup(&ip, 0, &e), -ENOENT);
	ck_assert_uint_eq(e.len, 10);
	ck_assert_int_eq(fs_ext_lookup(&ip, 24, &e), 0);
	ck_assert_uint_eq(e.state, FS_EXT_UNWRITTEN);
	ck_assert_int_eq(fs_ext_lookup(&ip, 25, &e), -ENOENT);	/* past the last */
	ck_assert_uint_eq(e.len, FS_EXT_MAX_LEN);
	ck_assert_uint_eq(fs_ext_search(&ip, 15), 1);
	ck_assert_uint_eq(fs_ext_search(&ip, 25), 2);
}
END_TEST

START_TEST(merge_stops_at_the_length_cap)
{
	ins(0, 100, FS_EXT_MAX_LEN - 1, FS_EXT_WRITTEN);
	ins(FS_EXT_MAX_LEN - 1, 100 + FS_EXT_MAX_LEN - 1, 2, FS_EXT_WRITTEN);
	ck_assert_uint_eq(ip.nr_ext, 2);
}
END_TEST

START_TEST(dirty_range_covers_changed_extents_only)
{
	ins(0, 100, 4, FS_EXT_WRITTEN);
	ins(100, 0, 4, FS_EXT_DELALLOC);
	ck_assert_uint_eq(ip.ext_dirty_lo, 0);
	ck_assert_uint_eq(ip.ext_dirty_hi, 4);		/* delalloc is never stored */
	ip.ext_dirty_lo = UINT64_MAX;
	ip.ext_dirty_hi = 0;
	ins(50, 900, 4, FS_EXT_WRITTEN);
	ck_assert_int_eq(fs_ext_remove(&ip, 2, 1, NULL, NULL), 0);
	/* the split extent's item (key 0) and the new one (key 50) are stale */
	ck_assert_uint_eq(ip.ext_dirty_lo, 0);
	ck_assert_uint_eq(ip.ext_dirty_hi, 54);
}
END_TEST

static Suite *extent_suite(void)
{
	Suite *s = suite_create("fs_extent");
	TCase *tc = tcase_create("map");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, insert_into_empty_map_is_found_by_lookup);
	tcase_add_test(tc, insert_merges_with_left_and_right_neighbours);
	tcase_add_test(tc, insert_does_not_merge_discontiguous_blocks_or_other_states);
	tcase_add_test(tc, delalloc_neighbours_merge_without_device_blocks);
	tcase_add_test(tc, insert_over_an_existing_extent_is_refused);
	tcase_add_test(tc, remove_in_the_middle_splits_in_two);
	tcase_add_test(tc, remove_across_extents_reports_each_piece);
	tcase_add_test(tc, remove_to_the_end_truncates);
	tcase_add_test(tc, state_change_of_a_sub_range_splits_into_three);
	tcase_add_test(tc, convert_leaves_other_states_alone);
	tcase_add_test(tc, delalloc_becomes_unwritten_then_written);
	tcase_add_test(tc, lookup_at_boundaries_and_in_holes);
	tcase_add_test(tc, merge_stops_at_the_length_cap);
	tcase_add_test(tc, dirty_range_covers_changed_extents_only);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return unit_run(extent_suite(), NULL);
}
