// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Description: the free-space allocator.  A large extent comes back
 * contiguous, the goal is honoured, data allocations stop at ENOSPC while
 * the metadata reserve stays usable for B+tree nodes, freed blocks are not
 * handed out again before the freeing transaction commits, reservations
 * limit what data may take, and the on-disk bitmap agrees with what was
 * allocated across a remount (meta_check_bitmap finds a planted leak and
 * repairs it).
 */
#include "test_meta_fixture.c"

#include <pthread.h>

static int alloc_in_section(struct meta *m, uint64_t goal, uint64_t min, uint64_t max,
			    bool meta, uint64_t *start, uint64_t *len)
{
	int err;

	meta_begin(m);
	err = alloc_extent(m, goal, min, max, meta, start, len);
	meta_end(m);
	return err;
}

START_TEST(large_extent_is_contiguous_and_goal_is_honoured)
{
	struct fx f = { 0 };
	uint64_t s1, l1, s2, l2, s3, l3;
	uint64_t ext[3][2];
	struct meta_space sp0, sp;

	fx_setup(&f, "big.img", 256 * MiB, 0);
	meta_get_space(f.m, &sp0);
	/* 128 MiB in one piece. */
	ck_assert_int_eq(alloc_in_section(f.m, 0, 32768, 32768, false, &s1, &l1), 0);
	ck_assert_uint_eq(l1, 32768);
	/* The next one continues right after the previous extent. */
	ck_assert_int_eq(alloc_in_section(f.m, 0, 1, 100, false, &s2, &l2), 0);
	ck_assert_uint_eq(s2, s1 + l1);
	ck_assert_uint_eq(l2, 100);
	/* An explicit goal inside free space is taken exactly. */
	ck_assert_int_eq(alloc_in_section(f.m, s2 + 5000, 10, 10, false, &s3, &l3), 0);
	ck_assert_uint_eq(s3, s2 + 5000);
	/* A goal on used space moves forward to the next free run. */
	ck_assert_int_eq(alloc_in_section(f.m, s1 + 10, 1, 1, false, &s3, &l3), 0);
	ck_assert_uint_ge(s3, s2 + l2);
	/* min_len larger than any run is ENOSPC; max_len is capped by what fits. */
	ck_assert_int_eq(alloc_in_section(f.m, 0, sp0.free_blocks, sp0.free_blocks, false,
					  &s3, &l3), -ENOSPC);
	ck_assert_int_eq(meta_commit(f.m), 0);
	meta_get_space(f.m, &sp);
	ck_assert_uint_eq(sp.free_blocks, sp0.free_blocks - l1 - l2 - 10 - 1);
	ext[0][0] = s1; ext[0][1] = l1;
	ext[1][0] = s2; ext[1][1] = l2;
	ext[2][0] = s2 + 5000; ext[2][1] = 10;
	fx_remount(&f);
	meta_get_space(f.m, &sp);
	ck_assert_uint_eq(sp.free_blocks, sp0.free_blocks - l1 - l2 - 10 - 1);
	/* The planted single block from the "goal on used space" case is a leak
	 * unless we list it: the bitmap check must see exactly one problem. */
	ck_assert_int_eq(fx_check_all(f.m, ext, 3), 1);
	fx_teardown(&f);
}
END_TEST

START_TEST(enospc_for_data_keeps_the_metadata_reserve)
{
	struct fx f = { 0 };
	struct meta_space sp;
	uint64_t s, l, total = 0;
	uint8_t v[IOMAPFS_ITEM_MAX];
	int err;

	fx_setup(&f, "full.img", 32 * MiB, 64);
	meta_get_space(f.m, &sp);
	ck_assert_uint_ge(sp.meta_reserve, 256);
	while ((err = alloc_in_section(f.m, 0, 1, 1000, false, &s, &l)) == 0)
		total += l;
	ck_assert_int_eq(err, -ENOSPC);
	meta_get_space(f.m, &sp);
	ck_assert_uint_eq(sp.avail_blocks, 0);
	ck_assert_uint_eq(sp.free_blocks, sp.meta_reserve);
	ck_assert_int_eq(alloc_reserve(f.m, 1), -ENOSPC);
	/* The reserve still serves B+tree growth: many large items split leaves. */
	memset(v, 1, sizeof(v));
	for (uint64_t i = 0; i < 400; i++) {
		struct iomapfs_key k = meta_key(77, IOMAPFS_ITEM_XATTR, i);

		meta_begin(f.m);
		ck_assert_int_eq(btree_insert(f.m, &k, v, sizeof(v)), 0);
		meta_end(f.m);
	}
	ck_assert_int_eq(alloc_in_section(f.m, 0, 1, 1, true, &s, &l), 0);
	ck_assert_int_eq(meta_commit(f.m), 0);
	meta_get_space(f.m, &sp);
	ck_assert_uint_lt(sp.free_blocks, sp.meta_reserve);
	ck_assert_uint_gt(total, 4000);
	fx_teardown(&f);
}
END_TEST

START_TEST(freed_blocks_not_reused_before_commit)
{
	struct fx f = { 0 };
	uint64_t s, l, s2, l2;
	struct meta_space sp, sp2;

	fx_setup(&f, "defer.img", 64 * MiB, 0);
	ck_assert_int_eq(alloc_in_section(f.m, 0, 64, 64, false, &s, &l), 0);
	ck_assert_int_eq(meta_commit(f.m), 0);
	meta_get_space(f.m, &sp);

	meta_begin(f.m);
	ck_assert_int_eq(free_extent(f.m, s, l), 0);
	/* Same section and later sections: the goal is busy until the commit. */
	ck_assert_int_eq(alloc_extent(f.m, s, 1, 64, false, &s2, &l2), 0);
	ck_assert(s2 + l2 <= s || s2 >= s + l);
	meta_end(f.m);
	meta_get_space(f.m, &sp2);
	ck_assert_uint_eq(sp2.free_blocks, sp.free_blocks - l2);
	ck_assert_int_eq(alloc_in_section(f.m, s, 1, 64, false, &s2, &l2), 0);
	ck_assert(s2 + l2 <= s || s2 >= s + l);

	ck_assert_int_eq(meta_commit(f.m), 0);
	meta_get_space(f.m, &sp2);
	ck_assert_uint_eq(sp2.free_blocks, sp.free_blocks - 128 + 64);
	ck_assert_int_eq(alloc_in_section(f.m, s, 64, 64, false, &s2, &l2), 0);
	ck_assert_uint_eq(s2, s);
	/* Freeing what is already free is a broken invariant, not a crash. */
	meta_begin(f.m);
	ck_assert_int_eq(free_extent(f.m, s, 64), 0);
	capture_begin();
	ck_assert_int_eq(free_extent(f.m, s, 64), -EIO);
	capture_end();
	ck_assert_int_eq(free_extent(f.m, 0, 1), -EIO);	/* the superblock */
	meta_end(f.m);
	fx_teardown(&f);
}
END_TEST

START_TEST(reservations_limit_data_allocations)
{
	struct fx f = { 0 };
	struct meta_space sp0, sp;
	uint64_t s, l, got = 0;

	fx_setup(&f, "resv.img", 32 * MiB, 64);
	meta_get_space(f.m, &sp0);
	ck_assert_uint_eq(sp0.avail_blocks, sp0.free_blocks - sp0.meta_reserve);
	ck_assert_int_eq(alloc_reserve(f.m, sp0.avail_blocks + 1), -ENOSPC);
	ck_assert_int_eq(alloc_reserve(f.m, 1000), 0);
	meta_get_space(f.m, &sp);
	ck_assert_uint_eq(sp.reserved_blocks, 1000);
	ck_assert_uint_eq(sp.avail_blocks, sp0.avail_blocks - 1000);
	/* Unreserved data cannot take the reserved blocks... */
	ck_assert_int_eq(alloc_in_section(f.m, 0, sp.avail_blocks + 1, sp.avail_blocks + 1,
					  false, &s, &l), -ENOSPC);
	/* ...but the reservation's owner can, and consumes it. */
	while (got < 1000) {
		meta_begin(f.m);
		ck_assert_int_eq(alloc_extent_reserved(f.m, 0, 1000 - got, &s, &l), 0);
		meta_end(f.m);
		got += l;
	}
	meta_get_space(f.m, &sp);
	ck_assert_uint_eq(sp.reserved_blocks, 0);
	ck_assert_uint_eq(sp.free_blocks, sp0.free_blocks - 1000);
	ck_assert_int_eq(alloc_reserve(f.m, 50), 0);
	alloc_unreserve(f.m, 50);
	meta_get_space(f.m, &sp);
	ck_assert_uint_eq(sp.reserved_blocks, 0);
	ck_assert_uint_eq(sp.avail_blocks, sp0.avail_blocks - 1000);
	fx_teardown(&f);
}
END_TEST

/*
 * Regression test for writes lost at ENOSPC: B+tree growth (xattrs,
 * creates) took the blocks reserved for other files' dirty data.  Metadata
 * must leave the reservations alone; a user's request that would grow the
 * tree into the metadata reserve is refused up front (meta_check_growth),
 * while writeback's metadata may still use the reserve.
 */
START_TEST(metadata_leaves_reservations_and_reserve_to_writeback)
{
	struct fx f = { 0 };
	struct meta_space sp0, sp;
	uint64_t s, l, resv;

	fx_setup(&f, "metaresv.img", 32 * MiB, 64);
	meta_get_space(f.m, &sp0);
	resv = sp0.avail_blocks - 10;
	ck_assert_int_eq(alloc_reserve(f.m, resv), 0);
	meta_begin(f.m);
	/* 10 blocks beside reserve and reservations: too few for a big xattr. */
	ck_assert_int_eq(meta_check_growth(f.m, 65, 65536), -ENOSPC);
	ck_assert_int_eq(meta_check_growth(f.m, 1, 64), 0);
	/* Metadata may take the reserve, never the reservation. */
	ck_assert_int_eq(alloc_extent(f.m, 0, 1, sp0.meta_reserve + 10, true, &s, &l), 0);
	ck_assert_uint_eq(l, sp0.meta_reserve + 10);
	ck_assert_int_eq(alloc_extent(f.m, 0, 1, 1, true, &s, &l), -ENOSPC);
	meta_end(f.m);
	meta_get_space(f.m, &sp);
	ck_assert_uint_eq(sp.free_blocks, resv);
	ck_assert_uint_eq(sp.bfree, 0);
	ck_assert_uint_eq(sp.avail_blocks, 0);
	/* The owner still gets every reserved block. */
	for (uint64_t got = 0; got < resv; got += l) {
		meta_begin(f.m);
		ck_assert_int_eq(alloc_extent_reserved(f.m, 0, resv - got, &s, &l), 0);
		meta_end(f.m);
	}
	meta_get_space(f.m, &sp);
	ck_assert_uint_eq(sp.free_blocks, 0);
	ck_assert_uint_eq(sp.reserved_blocks, 0);
	fx_teardown(&f);
}
END_TEST

START_TEST(check_bitmap_repairs_a_leak_and_a_missing_bit)
{
	struct fx f = { 0 };
	uint64_t s, l, ext[1][2];
	struct meta_space sp0, sp;
	uint8_t *used;

	fx_setup(&f, "fix.img", 64 * MiB, 0);
	ck_assert_int_eq(alloc_in_section(f.m, 0, 100, 100, false, &s, &l), 0);
	ck_assert_int_eq(meta_commit(f.m), 0);
	meta_get_space(f.m, &sp0);
	ext[0][0] = s;
	ext[0][1] = l;
	ck_assert_int_eq(fx_check_all(f.m, ext, 1), 0);

	/* Say the first 10 blocks of the extent are unused (a leak) and a free
	 * block beyond it is used (a would-be cross-link). */
	used = fx_used_map(f.m);
	meta_mark_static(f.m, used);
	ck_assert_int_eq(meta_check_tree(f.m, used, NULL, NULL), 0);
	for (uint64_t b = s + 10; b < s + l + 1; b++)
		used[b / 8] |= 1u << (b % 8);
	capture_begin();
	ck_assert_int_eq(meta_check_bitmap(f.m, used, true, stderr), 11 + 1);
	ck_assert_ptr_nonnull(strstr(capture_end(), "leaked"));
	ck_assert_int_eq(meta_check_bitmap(f.m, used, false, NULL), 0);
	free(used);
	fx_remount(&f);
	meta_get_space(f.m, &sp);
	ck_assert_uint_eq(sp.free_blocks, sp0.free_blocks + 10 - 1);
	ext[0][0] = s + 10;
	ext[0][1] = l - 10 + 1;
	ck_assert_int_eq(fx_check_all(f.m, ext, 1), 0);
	fx_teardown(&f);
}
END_TEST

/* ---- model-based: random allocations and frees against a byte map ---- */

enum { M_FREE, M_USED, M_FREED };	/* M_FREED: freed, not yet committed */

struct amodel {
	uint8_t		*st;		/* per block */
	uint64_t	nr, free;
	uint64_t	(*ext)[2];	/* owned extents */
	size_t		nr_ext;
};

static void amodel_alloc(struct fx *f, struct amodel *am)
{
	uint64_t min = 1 + random() % 64, max = min + random() % 3000, s, l;
	uint64_t goal = random() % 3 ? 0 : random() % am->nr;
	bool meta = random() % 8 == 0;
	int err;

	meta_begin(f->m);
	err = alloc_extent(f->m, goal, min, max, meta, &s, &l);
	meta_end(f->m);
	if (err) {
		ck_assert_int_eq(err, -ENOSPC);
		return;
	}
	ck_assert(l >= min && l <= max);
	for (uint64_t b = s; b < s + l; b++) {
		ck_assert_uint_eq(am->st[b], M_FREE);	/* never used, never freed-uncommitted */
		am->st[b] = M_USED;
	}
	am->free -= l;
	am->ext[am->nr_ext][0] = s;
	am->ext[am->nr_ext++][1] = l;
}

/* Free the tail part of a random extent. */
static void amodel_free(struct fx *f, struct amodel *am)
{
	size_t i = random() % am->nr_ext;
	uint64_t *e = am->ext[i], cut = 1 + random() % e[1];

	meta_begin(f->m);
	ck_assert_int_eq(free_extent(f->m, e[0] + e[1] - cut, cut), 0);
	meta_end(f->m);
	for (uint64_t b = e[0] + e[1] - cut; b < e[0] + e[1]; b++)
		am->st[b] = M_FREED;
	e[1] -= cut;
	if (!e[1])
		memcpy(e, am->ext[--am->nr_ext], sizeof(am->ext[0]));
}

static void amodel_commit(struct fx *f, struct amodel *am)
{
	ck_assert_int_eq(meta_commit(f->m), 0);
	for (uint64_t b = 0; b < am->nr; b++)
		if (am->st[b] == M_FREED) {
			am->st[b] = M_FREE;
			am->free++;
		}
}

START_TEST(random_allocations_and_frees_match_a_model)
{
	struct fx f = { 0 };
	struct amodel am = { 0 };
	struct meta_space sp;

	/* Three bitmap groups, the last one partial. */
	fx_setup(&f, "amodel.img", 300 * MiB, 0);
	am.nr = meta_super(f.m)->nr_blocks;
	am.st = calloc(am.nr, 1);
	am.ext = calloc(200000, sizeof(am.ext[0]));
	/* Whatever is allocated now (static area, root leaf) is the model's
	 * "used" too: take the space report as the starting point. */
	meta_get_space(f.m, &sp);
	{
		uint8_t *used = fx_used_map(f.m);

		meta_mark_static(f.m, used);
		meta_check_tree(f.m, used, NULL, NULL);
		for (uint64_t b = 0; b < am.nr; b++)
			am.st[b] = used[b / 8] >> (b % 8) & 1 ? M_USED : M_FREE;
		free(used);
	}
	am.free = sp.free_blocks;
	srandom(99);
	for (int op = 0; op < 6000; op++) {
		unsigned r = random() % 100;

		if (r < 45 || !am.nr_ext)
			amodel_alloc(&f, &am);
		else if (r < 95)
			amodel_free(&f, &am);
		else
			amodel_commit(&f, &am);
		if (op % 1000 == 999) {
			amodel_commit(&f, &am);
			meta_get_space(f.m, &sp);
			ck_assert_uint_eq(sp.free_blocks, am.free);
			ck_assert_int_eq(fx_check_all(f.m, (const uint64_t (*)[2])am.ext, am.nr_ext), 0);
		}
	}
	fx_remount(&f);
	meta_get_space(f.m, &sp);
	ck_assert_uint_eq(sp.free_blocks, am.free);
	ck_assert_int_eq(fx_check_all(f.m, (const uint64_t (*)[2])am.ext, am.nr_ext), 0);
	free(am.st);
	free(am.ext);
	fx_teardown(&f);
}
END_TEST

/* Another thread's handle that takes every metadata block it can. */
struct hog {
	struct meta	*m;
	uint64_t	ext[64][2];
	size_t		nr;
	pthread_t	tid;
};

static void *hog_thread(void *arg)
{
	struct hog *h = arg;
	uint64_t s, l;

	meta_begin(h->m);
	while (h->nr < 64 && !alloc_extent(h->m, 0, 1, 1u << 20, true, &s, &l)) {
		h->ext[h->nr][0] = s;
		h->ext[h->nr][1] = l;
		h->nr++;
	}
	meta_end(h->m);
	return NULL;
}

/*
 * Regression (generic/141 under concurrent handles: an xattr's value
 * chunks stored, its item not, "xattr value chunk belongs to no xattr"):
 * a section that passed meta_check_growth() must not fail halfway because
 * another handle took the space meanwhile.  The check now reserves what
 * it passed for its handle: a second handle that allocates every
 * metadata block it can leaves it, and the first section's inserts,
 * splits and all, succeed.
 */
START_TEST(a_checked_section_keeps_its_growth_from_other_handles)
{
	struct fx f = { 0 };
	struct hog h = { 0 };
	char val[1000];
	int err = 0;

	fx_setup(&f, "growth.img", 32 * MiB, 0);
	memset(val, 'v', sizeof(val));
	meta_begin(f.m);
	ck_assert_int_eq(meta_check_growth(f.m, 64, 64 * sizeof(val)), 0);
	h.m = f.m;
	ck_assert_int_eq(pthread_create(&h.tid, NULL, hog_thread, &h), 0);
	ck_assert_int_eq(pthread_join(h.tid, NULL), 0);
	ck_assert_uint_gt(h.nr, 0);
	for (uint64_t i = 0; i < 64 && !err; i++) {
		struct iomapfs_key k = meta_key(900, IOMAPFS_ITEM_XATTR, i);

		err = btree_insert(f.m, &k, val, sizeof(val));
	}
	meta_end(f.m);
	ck_assert_int_eq(err, 0);
	meta_begin(f.m);
	for (size_t i = 0; i < h.nr; i++)
		ck_assert_int_eq(free_extent(f.m, h.ext[i][0], h.ext[i][1]), 0);
	meta_end(f.m);
	ck_assert_int_eq(meta_commit(f.m), 0);
	ck_assert_int_eq(fx_check_all(f.m, NULL, 0), 0);
	fx_teardown(&f);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("meta_alloc");
	TCase *tc = tcase_create("alloc");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, large_extent_is_contiguous_and_goal_is_honoured);
	tcase_add_test(tc, enospc_for_data_keeps_the_metadata_reserve);
	tcase_add_test(tc, freed_blocks_not_reused_before_commit);
	tcase_add_test(tc, reservations_limit_data_allocations);
	tcase_add_test(tc, metadata_leaves_reservations_and_reserve_to_writeback);
	tcase_add_test(tc, check_bitmap_repairs_a_leak_and_a_missing_bit);
	tcase_add_test(tc, random_allocations_and_frees_match_a_model);
	tcase_add_test(tc, a_checked_section_keeps_its_growth_from_other_handles);
	suite_add_tcase(s, tc);
	return fx_run(s);
}
