// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Description: the B+tree of items.  100,000 keys inserted in random order,
 * looked up, iterated in order, replaced with other sizes and deleted,
 * with a remount and a full tree check after each phase; values of every
 * size up to IOMAPFS_ITEM_MAX; delete_range; and a corrupted node that the
 * check walk must report.
 */
#include "test_meta_fixture.c"

#define NKEYS	100000
#define META_PATH_SLACK	16	/* buffers a walk may hold above the limit */

/* A key spread over objectids and types like real DIRENT/EXTENT items. */
static struct iomapfs_key key_of(uint32_t i)
{
	return meta_key(100 + i / 1000, IOMAPFS_ITEM_DIRENT, (uint64_t)(i % 1000) * 7919);
}

/* Value contents and size derived from the key index and a generation. */
static uint32_t val_len_of(uint32_t i, unsigned gen)
{
	return (i * 13 + gen * 29) % 61 + (gen ? 3 : 8);
}

static void val_fill(uint8_t *v, uint32_t i, unsigned gen)
{
	uint32_t len = val_len_of(i, gen);

	for (uint32_t k = 0; k < len; k++)
		v[k] = (uint8_t)(i * 31 + k * 7 + gen);
}

static uint32_t *shuffled(uint32_t n, unsigned seed)
{
	uint32_t *a = malloc(n * sizeof(*a));

	srandom(seed);
	for (uint32_t i = 0; i < n; i++)
		a[i] = i;
	for (uint32_t i = n - 1; i > 0; i--) {
		uint32_t j = random() % (i + 1), t = a[i];

		a[i] = a[j];
		a[j] = t;
	}
	return a;
}

static void check_value(struct meta *m, uint32_t i, unsigned gen)
{
	struct iomapfs_key k = key_of(i);
	uint8_t want[128], got[128];
	uint32_t len = sizeof(got);

	val_fill(want, i, gen);
	ck_assert_int_eq(btree_lookup(m, &k, got, &len), 0);
	ck_assert_uint_eq(len, val_len_of(i, gen));
	ck_assert_mem_eq(got, want, len);
}

/* Visit every item in order: count, strictly ascending keys. */
static uint32_t iterate_all(struct meta *m)
{
	struct iomapfs_key k = meta_key(0, 0, 0), max = meta_key(~0ull, 0xff, ~0ull), prev;
	uint32_t n = 0;
	uint8_t v[IOMAPFS_ITEM_MAX];
	uint32_t len;

	for (;;) {
		len = sizeof(v);
		if (btree_next(m, &k, &max, v, &len))
			break;
		if (n)
			ck_assert_int_lt(meta_key_cmp(&prev, &k), 0);
		prev = k;
		n++;
		meta_key_next(&k);
	}
	return n;
}

/* Apply @fn to every index in @order, 500 per section (a section must stay
 * well below the journal size: 1024 blocks here). */
static void in_sections(struct meta *m, const uint32_t *order, uint32_t n,
			void (*fn)(struct meta *m, uint32_t i, unsigned gen), unsigned gen)
{
	for (uint32_t s = 0; s < n; s += 500) {
		meta_begin(m);
		for (uint32_t i = s; i < n && i < s + 500; i++)
			fn(m, order[i], gen);
		meta_end(m);
	}
	ck_assert_int_eq(meta_commit(m), 0);
}

static void do_insert(struct meta *m, uint32_t i, unsigned gen)
{
	struct iomapfs_key k = key_of(i);
	uint8_t v[128];

	val_fill(v, i, gen);
	ck_assert_int_eq(btree_insert(m, &k, v, val_len_of(i, gen)), 0);
}

static void do_check(struct meta *m, uint32_t i, unsigned gen)
{
	check_value(m, i, gen);
}

static void do_delete(struct meta *m, uint32_t i, unsigned gen)
{
	struct iomapfs_key k = key_of(i);

	ck_assert_int_eq(btree_delete(m, &k), 0);
}

START_TEST(btree_100k_random_insert_lookup_replace_delete)
{
	struct fx f = { 0 };
	uint32_t *order = shuffled(NKEYS, 1);
	struct meta_space sp0, sp;
	struct meta_stats st0, st;
	struct iomapfs_key k;
	uint32_t len;

	fx_setup(&f, "big.img", 128 * MiB, 0);
	meta_get_space(f.m, &sp0);

	in_sections(f.m, order, NKEYS, do_insert, 0);
	ck_assert_int_eq(fx_check_all(f.m, NULL, 0), 0);
	ck_assert_uint_ge(meta_super(f.m)->tree_height, 3);
	fx_remount(&f);
	/* A cold in-order walk reads leaves in batches (readahead), not one
	 * synchronous read per leaf. */
	meta_get_stats(f.m, &st0);
	meta_begin(f.m);
	ck_assert_uint_eq(iterate_all(f.m), NKEYS + 1);	/* + the root inode */
	meta_end(f.m);
	meta_get_stats(f.m, &st);
	ck_assert_uint_gt(st.buf_misses - st0.buf_misses, 1000);
	ck_assert_uint_gt((st.buf_readahead - st0.buf_readahead) * 10,
			  (st.buf_misses - st0.buf_misses) * 9);
	free(order);
	order = shuffled(NKEYS, 2);
	in_sections(f.m, order, NKEYS, do_check, 0);

	/* Replace every value with one of another size. */
	in_sections(f.m, order, NKEYS, do_insert, 1);
	ck_assert_int_eq(fx_check_all(f.m, NULL, 0), 0);
	fx_remount(&f);
	in_sections(f.m, order, NKEYS, do_check, 1);

	/* Delete in yet another order; missing keys are ENOENT. */
	free(order);
	order = shuffled(NKEYS, 3);
	in_sections(f.m, order, NKEYS / 2, do_delete, 0);
	ck_assert_int_eq(fx_check_all(f.m, NULL, 0), 0);
	meta_begin(f.m);
	k = key_of(order[0]);
	len = 0;
	ck_assert_int_eq(btree_lookup(f.m, &k, NULL, &len), -ENOENT);
	ck_assert_int_eq(btree_delete(f.m, &k), -ENOENT);
	ck_assert_uint_eq(iterate_all(f.m), NKEYS - NKEYS / 2 + 1);
	meta_end(f.m);
	in_sections(f.m, order + NKEYS / 2, NKEYS - NKEYS / 2, do_delete, 0);
	fx_remount(&f);
	ck_assert_int_eq(fx_check_all(f.m, NULL, 0), 0);
	meta_begin(f.m);
	ck_assert_uint_eq(iterate_all(f.m), 1);
	meta_end(f.m);
	/* Emptied nodes went back to the allocator. */
	ck_assert_uint_eq(meta_super(f.m)->tree_height, 1);
	meta_get_space(f.m, &sp);
	ck_assert_uint_eq(sp.free_blocks, sp0.free_blocks);
	free(order);
	fx_teardown(&f);
}
END_TEST

START_TEST(btree_values_of_every_size_up_to_item_max)
{
	struct fx f = { 0 };
	static uint8_t v[IOMAPFS_ITEM_MAX + 1], got[IOMAPFS_ITEM_MAX + 1];
	struct iomapfs_key k;
	uint32_t len;

	fx_setup(&f, "sizes.img", 64 * MiB, 0);
	meta_begin(f.m);
	for (uint32_t l = 0; l <= IOMAPFS_ITEM_MAX; l++) {
		k = meta_key(42, IOMAPFS_ITEM_XATTR, l);
		memset(v, (int)(l & 0xff), l);
		ck_assert_int_eq(btree_insert(f.m, &k, v, l), 0);
	}
	k = meta_key(42, IOMAPFS_ITEM_XATTR, 5000);
	ck_assert_int_eq(btree_insert(f.m, &k, v, IOMAPFS_ITEM_MAX + 1), -EINVAL);
	meta_end(f.m);
	ck_assert_int_eq(fx_check_all(f.m, NULL, 0), 0);
	fx_remount(&f);
	meta_begin(f.m);
	for (uint32_t l = 0; l <= IOMAPFS_ITEM_MAX; l++) {
		k = meta_key(42, IOMAPFS_ITEM_XATTR, l);
		len = sizeof(got);
		ck_assert_int_eq(btree_lookup(f.m, &k, got, &len), 0);
		ck_assert_uint_eq(len, l);
		memset(v, (int)(l & 0xff), l);
		ck_assert_mem_eq(got, v, l);
	}
	/* A short buffer gets a prefix and the full size. */
	k = meta_key(42, IOMAPFS_ITEM_XATTR, 1000);
	len = 10;
	memset(got, 0, sizeof(got));
	ck_assert_int_eq(btree_lookup(f.m, &k, got, &len), 0);
	ck_assert_uint_eq(len, 1000);
	ck_assert_uint_eq(got[9], 1000 & 0xff);
	ck_assert_uint_eq(got[10], 0);
	/* Grow every value to the maximum: every leaf splits. */
	memset(v, 0xab, IOMAPFS_ITEM_MAX);
	for (uint32_t l = 0; l <= IOMAPFS_ITEM_MAX; l += 3) {
		k = meta_key(42, IOMAPFS_ITEM_XATTR, l);
		ck_assert_int_eq(btree_insert(f.m, &k, v, IOMAPFS_ITEM_MAX), 0);
	}
	meta_end(f.m);
	ck_assert_int_eq(fx_check_all(f.m, NULL, 0), 0);
	fx_teardown(&f);
}
END_TEST

START_TEST(btree_delete_range_removes_exactly_the_range)
{
	struct fx f = { 0 };
	struct iomapfs_key k, lo, hi, max = meta_key(~0ull, 0xff, ~0ull);
	uint64_t v;
	uint32_t len;
	long n;

	fx_setup(&f, "range.img", 64 * MiB, 0);
	meta_begin(f.m);
	for (uint64_t obj = 20; obj <= 22; obj++)
		for (uint64_t off = 0; off < 3000; off++) {
			uint8_t type = off % 2 ? IOMAPFS_ITEM_EXTENT : IOMAPFS_ITEM_XATTR;

			k = meta_key(obj, type, off);
			v = obj * 100000 + off;
			ck_assert_int_eq(btree_insert(f.m, &k, &v, sizeof(v)), 0);
		}
	meta_end(f.m);

	meta_begin(f.m);
	lo = meta_key(21, IOMAPFS_ITEM_EXTENT, 0);
	hi = meta_key(21, IOMAPFS_ITEM_EXTENT, ~0ull);
	n = btree_delete_range(f.m, &lo, &hi);
	ck_assert_int_eq(n, 1500);	/* only the odd offsets of object 21 */
	ck_assert_int_eq(btree_delete_range(f.m, &lo, &hi), 0);
	k = lo;
	ck_assert_int_eq(btree_next(f.m, &k, &hi, NULL, NULL), -ENOENT);
	/* The XATTR items of 21 and both neighbours are intact. */
	k = meta_key(21, 0, 0);
	hi = meta_key(21, 0xff, ~0ull);
	for (n = 0; !btree_next(f.m, &k, &hi, &v, &(uint32_t){ sizeof(v) }); n++) {
		ck_assert_uint_eq(k.type, IOMAPFS_ITEM_XATTR);
		ck_assert_uint_eq(v, 21 * 100000 + k.offset);
		meta_key_next(&k);
	}
	ck_assert_int_eq(n, 1500);
	lo = meta_key(20, 0, 0);
	hi = meta_key(22, 0xff, ~0ull);
	ck_assert_int_eq(btree_delete_range(f.m, &lo, &hi), 3000 + 1500 + 3000);
	k = meta_key(0, 0, 0);
	len = sizeof(v);
	ck_assert_int_eq(btree_next(f.m, &k, &max, &v, &len), 0);
	ck_assert_uint_eq(k.objectid, IOMAPFS_ROOT_INO);	/* only the root inode left */
	meta_key_next(&k);
	ck_assert_int_eq(btree_next(f.m, &k, &max, NULL, NULL), -ENOENT);
	meta_end(f.m);
	ck_assert_int_eq(fx_check_all(f.m, NULL, 0), 0);
	ck_assert_uint_eq(meta_super(f.m)->tree_height, 1);
	fx_teardown(&f);
}
END_TEST

START_TEST(btree_next_stops_at_max_and_key_next_carries)
{
	struct fx f = { 0 };
	struct iomapfs_key k, max;
	uint64_t v = 7;

	k = meta_key(5, 1, ~0ull);
	meta_key_next(&k);
	ck_assert(k.objectid == 5 && k.type == 2 && k.offset == 0);
	k = meta_key(5, 0xff, ~0ull);
	meta_key_next(&k);
	ck_assert(k.objectid == 6 && k.type == 0 && k.offset == 0);

	fx_setup(&f, "next.img", 32 * MiB, 0);
	meta_begin(f.m);
	for (uint64_t off = 10; off <= 50; off += 10) {
		k = meta_key(9, IOMAPFS_ITEM_EXTENT, off);
		ck_assert_int_eq(btree_insert(f.m, &k, &v, sizeof(v)), 0);
	}
	k = meta_key(9, IOMAPFS_ITEM_EXTENT, 11);
	max = meta_key(9, IOMAPFS_ITEM_EXTENT, 30);
	ck_assert_int_eq(btree_next(f.m, &k, &max, NULL, NULL), 0);
	ck_assert_uint_eq(k.offset, 20);
	meta_key_next(&k);
	ck_assert_int_eq(btree_next(f.m, &k, &max, NULL, NULL), 0);
	ck_assert_uint_eq(k.offset, 30);
	meta_key_next(&k);
	ck_assert_int_eq(btree_next(f.m, &k, &max, NULL, NULL), -ENOENT);
	meta_end(f.m);
	fx_teardown(&f);
}
END_TEST

static void count_item(void *ctx, const struct iomapfs_key *key, const void *val,
		       uint32_t len)
{
	(*(long *)ctx)++;
}

/* INODE items for objectids [first, first + n), each holding @v. */
static void insert_inode_items(struct meta *m, uint64_t first, uint64_t n, uint64_t v)
{
	meta_begin(m);
	for (uint64_t i = 0; i < n; i++) {
		struct iomapfs_key k = meta_key(first + i, IOMAPFS_ITEM_INODE, 0);

		ck_assert_int_eq(btree_insert(m, &k, &v, sizeof(v)), 0);
	}
	meta_end(m);
}

START_TEST(check_tree_reports_a_corrupted_node)
{
	struct fx f = { 0 };
	uint8_t *used, b;
	uint64_t v = 1, victim;
	long items = 0;

	fx_setup(&f, "corrupt.img", 64 * MiB, 0);
	insert_inode_items(f.m, 1000, 5000, v);
	used = fx_used_map(f.m);
	ck_assert_int_eq(meta_check_tree(f.m, used, count_item, &items), 0);
	ck_assert_int_eq(items, 5001);
	free(used);
	victim = meta_super(f.m)->root_node;	/* interior: losing it loses everything below */
	fx_unmount(&f);
	fx_close(&f);
	fx_pio(&f, false, &b, 1, victim * BLK + 100);
	b ^= 1;
	fx_pio(&f, true, &b, 1, victim * BLK + 100);
	fx_open(&f);
	fx_mount(&f);
	used = fx_used_map(f.m);
	capture_begin();
	ck_assert_int_gt(meta_check_tree(f.m, used, NULL, NULL), 0);
	ck_assert_ptr_nonnull(strstr(capture_end(), "checksum mismatch"));
	free(used);
	meta_begin(f.m);
	{
		struct iomapfs_key k = meta_key(1000, IOMAPFS_ITEM_INODE, 0);

		ck_assert_int_eq(btree_lookup(f.m, &k, NULL, NULL), -EUCLEAN);
	}
	meta_end(f.m);
	fx_teardown(&f);
}
END_TEST

/* The blkhdr checksum, so a forged block passes it and reaches the
 * structural checks. */
static void set_block_crc(uint8_t *blk)
{
	struct iomapfs_blkhdr *h = (struct iomapfs_blkhdr *)blk;

	h->crc = 0;
	h->crc = ~crc32c(~0u, blk, BLK);
}

/* Everything a user could do to a damaged tree: must not crash. */
static void exercise(struct meta *m)
{
	struct iomapfs_key k = meta_key(0, 0, 0), max = meta_key(~0ull, 0xff, ~0ull);
	uint8_t v[IOMAPFS_ITEM_MAX];
	uint32_t len;
	uint8_t *used = fx_used_map(m);

	meta_begin(m);
	for (int n = 0; n < 5000; n++) {
		len = sizeof(v);
		if (btree_next(m, &k, &max, v, &len))
			break;
		meta_key_next(&k);
	}
	for (uint64_t i = 0; i < 3000; i += 7) {
		k = meta_key(3000 + i, IOMAPFS_ITEM_INODE, 0);
		len = sizeof(v);
		btree_lookup(m, &k, v, &len);
		if (i % 3 == 0)
			btree_delete(m, &k);
		else
			btree_insert(m, &k, v, i % 200);
	}
	meta_end(m);
	meta_check_tree(m, used, NULL, NULL);
	free(used);
}

START_TEST(forged_leaves_with_valid_checksums_never_crash)
{
	struct fx f = { 0 };
	uint8_t *orig = aligned_alloc(BLK, BLK), *blk = aligned_alloc(BLK, BLK);
	uint64_t v = 9, leaf;
	struct iomapfs_node_ptr *ptr;
	int bad_offsets = 0;

	fx_setup(&f, "forge.img", 64 * MiB, 0);
	insert_inode_items(f.m, 3000, 3000, v);
	ck_assert_uint_eq(meta_super(f.m)->tree_height, 2);
	leaf = meta_super(f.m)->root_node;
	fx_unmount(&f);
	fx_close(&f);
	fx_pio(&f, false, orig, BLK, leaf * BLK);	/* the root, now on disk */
	ck_assert_uint_eq(((struct iomapfs_node_hdr *)orig)->level, 1);
	ptr = (struct iomapfs_node_ptr *)(orig + sizeof(struct iomapfs_node_hdr));
	leaf = ptr[1].blkno;
	fx_pio(&f, false, orig, BLK, leaf * BLK);

	srandom(4242);
	capture_begin();
	for (int round = 0; round < 40; round++) {
		memcpy(blk, orig, BLK);
		if (round == 0) {	/* a value pointing far outside the block */
			struct iomapfs_leaf_item *it =
				(void *)(blk + sizeof(struct iomapfs_node_hdr));

			it[3].val_off = 60000;
		} else {
			for (int n = 0; n < 1 + round % 8; n++)
				blk[48 + random() % (BLK - 48)] = random();
		}
		set_block_crc(blk);
		fx_pio(&f, true, blk, BLK, leaf * BLK);
		fx_open(&f);
		fx_mount(&f);
		if (round == 0) {
			struct iomapfs_key k = meta_key(3000, IOMAPFS_ITEM_INODE, 0);

			meta_begin(f.m);
			for (uint64_t i = 0; i < 3000; i++) {
				k.objectid = 3000 + i;
				bad_offsets += btree_lookup(f.m, &k, &v, NULL) == -EUCLEAN;
			}
			meta_end(f.m);
		}
		exercise(f.m);
		meta_unmount(f.m);
		f.m = NULL;
		fx_close(&f);
		fx_pio(&f, true, orig, BLK, leaf * BLK);
	}
	capture_end();
	/* Every key routed to the forged leaf saw it refused. */
	ck_assert_int_gt(bad_offsets, 0);
	free(orig);
	free(blk);
	unlink(f.path);
}
END_TEST

/* ---- model-based: random operations against a plain array ---- */

#define MODEL_OBJS	64
#define MODEL_OFFS	512
#define MODEL_KEYS	(MODEL_OBJS * MODEL_OFFS)

struct model {
	int16_t		len[MODEL_KEYS];	/* -1: absent */
	uint8_t		seed[MODEL_KEYS];
};

static struct iomapfs_key model_key(uint32_t i)
{
	return meta_key(1000 + i / MODEL_OFFS, IOMAPFS_ITEM_XATTR, i % MODEL_OFFS);
}

static void model_val(uint8_t *v, uint32_t len, uint8_t seed)
{
	for (uint32_t k = 0; k < len; k++)
		v[k] = (uint8_t)(seed + k * 13);
}

/* The tree holds exactly the model's items, in order, with their bytes. */
static void model_compare(struct meta *m, const struct model *md)
{
	struct iomapfs_key k = model_key(0), max = model_key(MODEL_KEYS - 1), want_key;
	uint8_t v[IOMAPFS_ITEM_MAX], want[IOMAPFS_ITEM_MAX];
	uint32_t i = 0, len;

	meta_begin(m);
	for (;; meta_key_next(&k)) {
		len = sizeof(v);
		if (btree_next(m, &k, &max, v, &len))
			break;
		while (i < MODEL_KEYS && md->len[i] < 0)
			i++;
		ck_assert_uint_lt(i, MODEL_KEYS);
		want_key = model_key(i);
		ck_assert_int_eq(meta_key_cmp(&k, &want_key), 0);
		ck_assert_int_eq(len, md->len[i]);
		model_val(want, len, md->seed[i]);
		ck_assert_mem_eq(v, want, len);
		i++;
	}
	while (i < MODEL_KEYS && md->len[i] < 0)
		i++;
	ck_assert_uint_eq(i, MODEL_KEYS);
	meta_end(m);
}

static void model_step(struct meta *m, struct model *md)
{
	uint32_t i = random() % MODEL_KEYS, op = random() % 100;
	struct iomapfs_key k = model_key(i);
	uint8_t v[IOMAPFS_ITEM_MAX];

	if (op < 55) {			/* insert or replace, sizes biased to both ends */
		uint32_t len = random() % 4 ? random() % 64 : random() % (IOMAPFS_ITEM_MAX + 1);
		uint8_t seed = random();

		model_val(v, len, seed);
		ck_assert_int_eq(btree_insert(m, &k, v, len), 0);
		md->len[i] = len;
		md->seed[i] = seed;
	} else if (op < 97) {		/* delete */
		ck_assert_int_eq(btree_delete(m, &k), md->len[i] < 0 ? -ENOENT : 0);
		md->len[i] = -1;
	} else {			/* delete a run of offsets of one object */
		uint32_t n = random() % 200, last = min_t(uint32_t, i + n, (i / MODEL_OFFS + 1) * MODEL_OFFS - 1);
		struct iomapfs_key hi = model_key(last);
		long want = 0;

		for (uint32_t j = i; j <= last; j++) {
			want += md->len[j] >= 0;
			md->len[j] = -1;
		}
		ck_assert_int_eq(btree_delete_range(m, &k, &hi), want);
	}
}

START_TEST(btree_random_operations_match_a_model)
{
	struct fx f = { 0 };
	struct model *md = malloc(sizeof(*md));

	memset(md->len, 0xff, sizeof(md->len));
	/* Fixed seed for a repeatable run; MODEL_SEED explores others. */
	srandom(getenv("MODEL_SEED") ? atoi(getenv("MODEL_SEED")) : 777);
	fx_setup(&f, "model.img", 128 * MiB, 0);
	for (int round = 0; round < 16; round++) {
		for (int s = 0; s < 40; s++) {
			meta_begin(f.m);
			for (int n = 0; n < 100; n++)
				model_step(f.m, md);
			meta_end(f.m);
		}
		model_compare(f.m, md);
		ck_assert_int_eq(fx_check_all(f.m, NULL, 0), 0);
		if (round % 4 == 3)
			fx_remount(&f);
	}
	free(md);
	fx_teardown(&f);
}
END_TEST

START_TEST(buffer_cache_evicts_clean_blocks_past_its_limit)
{
	struct fx f = { 0 };
	struct meta_mount_opts mo = { .buf_cache_bytes = 1 << 20 };	/* 256 blocks */
	struct meta_stats st0, st;
	uint32_t *order = shuffled(30000, 5);

	fx_setup(&f, "evict.img", 64 * MiB, 0);
	in_sections(f.m, order, 30000, do_insert, 0);
	fx_unmount(&f);
	ck_assert_int_eq(fx_mount_opts(&f, &mo), 0);
	meta_get_stats(f.m, &st0);
	in_sections(f.m, order, 30000, do_check, 0);	/* ~600 leaves, random order */
	meta_get_stats(f.m, &st);
	ck_assert_uint_le(st.buf_cached, 256 + META_PATH_SLACK);
	/* Re-reads prove eviction: far more misses than there are blocks. */
	ck_assert_uint_gt(st.buf_misses - st0.buf_misses, 2000);
	ck_assert_int_eq(fx_check_all(f.m, NULL, 0), 0);
	free(order);
	fx_teardown(&f);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("meta_btree");
	TCase *tc = tcase_create("btree");

	tcase_set_timeout(tc, 240);
	tcase_add_test(tc, btree_100k_random_insert_lookup_replace_delete);
	tcase_add_test(tc, btree_values_of_every_size_up_to_item_max);
	tcase_add_test(tc, btree_delete_range_removes_exactly_the_range);
	tcase_add_test(tc, btree_next_stops_at_max_and_key_next_carries);
	tcase_add_test(tc, check_tree_reports_a_corrupted_node);
	tcase_add_test(tc, forged_leaves_with_valid_checksums_never_crash);
	tcase_add_test(tc, btree_random_operations_match_a_model);
	tcase_add_test(tc, buffer_cache_evicts_clean_blocks_past_its_limit);
	suite_add_tcase(s, tc);
	return fx_run(s);
}
