// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Description: the folio index (cache/radix.c): entries come back by
 * index, marked entries are found in index order skipping unmarked ones,
 * marks vanish with their entries, and the tree grows for large indices
 * and frees its nodes as it empties; a contiguous run comes back whole
 * from one gang lookup, across leaf boundaries, up to its first gap.
 */
#include <check.h>
#include "unit.h"

#include "radix.h"

static int items[4096];

START_TEST(index_lookup_insert_erase)
{
	struct radix_tree t;
	uint64_t i;

	radix_init(&t);
	for (i = 0; i < 4096; i += 3)
		ck_assert_int_eq(radix_insert(&t, i, &items[i]), 0);
	ck_assert_int_eq(radix_insert(&t, 3, &items[0]), -EEXIST);
	/* Far away: the tree grows several levels. */
	ck_assert_int_eq(radix_insert(&t, 1ull << 40, &items[1]), 0);
	for (i = 0; i < 4096; i++)
		ck_assert_ptr_eq(radix_lookup(&t, i), i % 3 ? NULL : &items[i]);
	ck_assert_ptr_eq(radix_lookup(&t, 1ull << 40), &items[1]);
	ck_assert_ptr_eq(radix_erase(&t, 1ull << 40), &items[1]);
	for (i = 0; i < 4096; i += 3)
		ck_assert_ptr_eq(radix_erase(&t, i), &items[i]);
	ck_assert_uint_eq(t.count, 0);
	ck_assert_ptr_null(t.root);
	radix_destroy(&t);
}
END_TEST

START_TEST(contig_lookup_stops_at_first_gap)
{
	struct radix_tree t;
	void *got[300];
	uint64_t i;

	radix_init(&t);
	/* [10, 250) present except 200: the run crosses leaves at 64, 128, 192. */
	for (i = 10; i < 250; i++)
		if (i != 200)
			ck_assert_int_eq(radix_insert(&t, i, &items[i]), 0);
	ck_assert_uint_eq(radix_lookup_contig(&t, 10, 300, got), 190);
	for (i = 0; i < 190; i++)
		ck_assert_ptr_eq(got[i], &items[10 + i]);
	ck_assert_uint_eq(radix_lookup_contig(&t, 60, 5, got), 5);	/* capped */
	ck_assert_ptr_eq(got[4], &items[64]);
	ck_assert_uint_eq(radix_lookup_contig(&t, 9, 300, got), 0);	/* absent */
	ck_assert_uint_eq(radix_lookup_contig(&t, 201, 300, got), 49);	/* to the end */
	ck_assert_ptr_eq(got[48], &items[249]);
	ck_assert_uint_eq(radix_lookup_contig(&t, 1ull << 40, 4, got), 0);
	radix_destroy(&t);
}
END_TEST

START_TEST(marked_entries_found_in_index_order)
{
	struct radix_tree t;
	uint64_t i, idx, seen = 0, last = 0;
	int *p;

	radix_init(&t);
	for (i = 0; i < 4096; i++)
		radix_insert(&t, i, &items[i]);
	for (i = 5; i < 4096; i += 97)
		radix_set_mark(&t, i, 0);
	radix_set_mark(&t, 7, 1);
	idx = 0;
	while ((p = radix_find(&t, &idx, 4095, 0))) {
		ck_assert_ptr_eq(p, &items[idx]);
		ck_assert_uint_eq(idx % 97, 5);
		ck_assert(seen == 0 || idx > last);
		ck_assert(radix_get_mark(&t, idx, 0));
		last = idx;
		seen++;
		idx++;
	}
	ck_assert_uint_eq(seen, (4096 - 5 + 96) / 97);
	/* A bounded search stops at max; other marks are independent. */
	idx = 0;
	ck_assert_ptr_null(radix_find(&t, &idx, 4, 0));
	idx = 0;
	ck_assert_ptr_eq(radix_find(&t, &idx, 4095, 1), &items[7]);
	ck_assert_uint_eq(idx, 7);
	/* Clearing and erasing remove marks from the search. */
	radix_clear_mark(&t, 5, 0);
	radix_erase(&t, 102);
	idx = 0;
	ck_assert_ptr_eq(radix_find(&t, &idx, 4095, 0), &items[199]);
	ck_assert_uint_eq(idx, 199);
	radix_destroy(&t);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cache_radix");
	TCase *tc = tcase_create("radix");

	tcase_add_test(tc, index_lookup_insert_erase);
	tcase_add_test(tc, marked_entries_found_in_index_order);
	tcase_add_test(tc, contig_lookup_stops_at_first_gap);
	suite_add_tcase(s, tc);
	return unit_run(s, NULL);
}
