// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Extent maps: the in-memory map of a file (the analogue of XFS's incore
 * extent tree, here a sorted array), and its on-disk form, either inline
 * in the dinode (up to IOMAPFS_INLINE_EXTENTS) or as EXTENT items keyed
 * (ino, EXTENT, file block).
 *
 * Invariants of ip->ext[0..nr_ext), checked by ext_map_sane() after every
 * change (a broken one warns once and the change returns -EIO):
 *   1. sorted by fblk, len > 0, no overlaps;
 *   2. two adjacent extents that could be one (same state, contiguous in
 *      the file and, unless delalloc, on the device) are one, up to
 *      FS_EXT_MAX_LEN blocks;
 *   3. DELALLOC extents live only in memory: their pblk is 0 and they are
 *      never stored.
 *
 * Every map change goes through ext_splice(), which replaces a run of
 * extents with new pieces, merges at the seams, and widens the inode's
 * dirty block range [ext_dirty_lo, ext_dirty_hi) over the spans of every
 * written/unwritten extent it removed or produced.  fs_extent_store() then
 * rewrites only the EXTENT items whose key falls in that range: an item is
 * keyed by its extent's first block, and every stale item belonged to an
 * extent that was removed, so its key lies in the range.
 *
 * Locking: callers hold ip->lock.  Load, store and truncate also run
 * inside a metadata section (meta lock -> ip->lock).
 */
#include <string.h>
#include "fs_internal.h"

static inline uint64_t ext_end(const struct fs_extent *e)
{
	return e->fblk + e->len;
}

/* Two neighbours that invariant 2 requires to be one extent. */
static bool ext_can_merge(const struct fs_extent *a, const struct fs_extent *b)
{
	if (ext_end(a) != b->fblk || a->state != b->state)
		return false;
	if ((uint64_t)a->len + b->len > FS_EXT_MAX_LEN)
		return false;
	return a->state == FS_EXT_DELALLOC || a->pblk + a->len == b->pblk;
}

static void ext_mark_dirty(struct fs_inode *ip, const struct fs_extent *e)
{
	if (e->state == FS_EXT_DELALLOC)
		return;
	if (e->fblk < ip->ext_dirty_lo)
		ip->ext_dirty_lo = e->fblk;
	if (ext_end(e) > ip->ext_dirty_hi)
		ip->ext_dirty_hi = ext_end(e);
}

static bool ext_map_sane(const struct fs_inode *ip)
{
	for (uint32_t i = 0; i < ip->nr_ext; i++) {
		const struct fs_extent *e = &ip->ext[i];

		if (!e->len || e->state > FS_EXT_DELALLOC)
			return false;
		if (i && (ext_end(&e[-1]) > e->fblk || ext_can_merge(&e[-1], e)))
			return false;
	}
	return true;
}

static int ext_reserve(struct fs_inode *ip, uint32_t more)
{
	uint32_t want = ip->nr_ext + more;
	struct fs_extent *n;

	if (want <= ip->cap_ext)
		return 0;
	want = max_t(uint32_t, want, ip->cap_ext ? ip->cap_ext * 2 : 4);
	n = krealloc(ip->ext, (size_t)want * sizeof(*n));
	if (!n)
		return -ENOMEM;
	ip->ext = n;
	ip->cap_ext = want;
	return 0;
}

uint32_t fs_ext_search(const struct fs_inode *ip, uint64_t fblk)
{
	uint32_t lo = 0, hi = ip->nr_ext;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (ext_end(&ip->ext[mid]) > fblk)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

/* Merge ext[i-1] and ext[i] where possible for i in [lo, hi). */
static void ext_merge_range(struct fs_inode *ip, uint32_t lo, uint32_t hi)
{
	uint32_t i = lo ? lo : 1;

	hi = min_t(uint32_t, hi, ip->nr_ext);
	while (i < hi) {
		struct fs_extent *prev = &ip->ext[i - 1], *cur = &ip->ext[i];

		if (!ext_can_merge(prev, cur)) {
			i++;
			continue;
		}
		prev->len += cur->len;
		ext_mark_dirty(ip, prev);
		memmove(cur, cur + 1, (ip->nr_ext - i - 1) * sizeof(*cur));
		ip->nr_ext--;
		hi--;
	}
}

/*
 * Replace ext[first, first + count) by @repl[0, nrepl) (sorted, fitting in
 * the gap) and merge at the seams.  The only place the map changes shape.
 */
static int ext_splice(struct fs_inode *ip, uint32_t first, uint32_t count,
		      const struct fs_extent *repl, uint32_t nrepl)
{
	int err = 0;

	ip->ext_seq++;
	if (nrepl > count) {
		err = ext_reserve(ip, nrepl - count);
		if (err)
			return err;
	}
	for (uint32_t i = 0; i < count; i++)
		ext_mark_dirty(ip, &ip->ext[first + i]);
	memmove(&ip->ext[first + nrepl], &ip->ext[first + count],
		(ip->nr_ext - first - count) * sizeof(*ip->ext));
	if (nrepl)
		memcpy(&ip->ext[first], repl, nrepl * sizeof(*repl));
	ip->nr_ext = ip->nr_ext - count + nrepl;
	for (uint32_t i = 0; i < nrepl; i++)
		ext_mark_dirty(ip, &repl[i]);
	ext_merge_range(ip, first, first + nrepl + 1);
	if (WARN_ON_ONCE(!ext_map_sane(ip)))
		err = -EIO;
	return err;
}

int fs_ext_lookup(const struct fs_inode *ip, uint64_t fblk, struct fs_extent *ext)
{
	uint32_t i = fs_ext_search(ip, fblk);

	if (i < ip->nr_ext && ip->ext[i].fblk <= fblk) {
		*ext = ip->ext[i];
		return 0;
	}
	ext->fblk = fblk;
	ext->pblk = 0;
	ext->state = FS_EXT_WRITTEN;
	ext->len = FS_EXT_MAX_LEN;
	if (i < ip->nr_ext && ip->ext[i].fblk - fblk < FS_EXT_MAX_LEN)
		ext->len = ip->ext[i].fblk - fblk;
	return -ENOENT;
}

int fs_ext_insert(struct fs_inode *ip, const struct fs_extent *ext)
{
	uint32_t i = fs_ext_search(ip, ext->fblk);

	if (WARN_ON_ONCE(!ext->len || ext->len > FS_EXT_MAX_LEN))
		return -EIO;
	if (i < ip->nr_ext && ip->ext[i].fblk < ext_end(ext))
		return -EEXIST;
	struct fs_extent e = *ext;

	if (e.state == FS_EXT_DELALLOC)
		e.pblk = 0;
	return ext_splice(ip, i, 0, &e, 1);
}

/* The part of @e inside [lo, hi), which must intersect it. */
static struct fs_extent ext_clip(const struct fs_extent *e, uint64_t lo, uint64_t hi)
{
	struct fs_extent c = *e;
	uint64_t start = max_t(uint64_t, e->fblk, lo);
	uint64_t end = min_t(uint64_t, ext_end(e), hi);

	c.fblk = start;
	c.len = end - start;
	if (c.state != FS_EXT_DELALLOC)
		c.pblk = e->pblk + (start - e->fblk);
	return c;
}

static uint64_t range_end(uint64_t fblk, uint64_t len)
{
	return len > UINT64_MAX - fblk ? UINT64_MAX : fblk + len;
}

int fs_ext_remove(struct fs_inode *ip, uint64_t fblk, uint64_t len,
		  fs_ext_fn fn, void *ctx)
{
	uint64_t end = range_end(fblk, len);
	uint32_t first = fs_ext_search(ip, fblk), last = first;
	struct fs_extent keep[2];
	uint32_t nkeep = 0;

	while (last < ip->nr_ext && ip->ext[last].fblk < end) {
		const struct fs_extent *e = &ip->ext[last];

		if (fn) {
			struct fs_extent piece = ext_clip(e, fblk, end);

			fn(ctx, &piece);
		}
		if (e->fblk < fblk)
			keep[nkeep++] = ext_clip(e, 0, fblk);
		if (ext_end(e) > end)
			keep[nkeep++] = ext_clip(e, end, UINT64_MAX);
		last++;
	}
	if (last == first)
		return 0;
	return ext_splice(ip, first, last - first, keep, nkeep);
}

int64_t fs_ext_convert(struct fs_inode *ip, uint64_t fblk, uint64_t len,
		       unsigned from, unsigned to)
{
	uint64_t end = range_end(fblk, len);
	uint32_t first = fs_ext_search(ip, fblk), last = first;
	struct fs_extent *repl;
	uint32_t nrepl = 0;
	int64_t changed = 0;
	int err;

	if (WARN_ON_ONCE(from == FS_EXT_DELALLOC || to == FS_EXT_DELALLOC))
		return -EIO;	/* delalloc has no pblk: remove + insert instead */
	while (last < ip->nr_ext && ip->ext[last].fblk < end)
		last++;
	if (last == first)
		return 0;
	repl = kmalloc((last - first + 2) * sizeof(*repl));
	if (!repl)
		return -ENOMEM;
	for (uint32_t i = first; i < last; i++) {
		const struct fs_extent *e = &ip->ext[i];
		struct fs_extent mid = ext_clip(e, fblk, end);

		if (e->fblk < fblk)
			repl[nrepl++] = ext_clip(e, 0, fblk);
		if (mid.state == from) {
			mid.state = to;
			changed += mid.len;
		}
		repl[nrepl++] = mid;
		if (ext_end(e) > end)
			repl[nrepl++] = ext_clip(e, end, UINT64_MAX);
	}
	err = changed ? ext_splice(ip, first, last - first, repl, nrepl) : 0;
	kfree(repl);
	return err ? err : changed;
}

void fs_ext_map_free(struct fs_inode *ip)
{
	kfree(ip->ext);
	ip->ext = NULL;
	ip->nr_ext = ip->cap_ext = 0;
}

uint64_t fs_extent_blocks(const struct fs_inode *ip)
{
	uint64_t n = 0;

	for (uint32_t i = 0; i < ip->nr_ext; i++)
		if (ip->ext[i].state != FS_EXT_DELALLOC)
			n += ip->ext[i].len;
	return n;
}

/* ---- on disk ---- */

static void ext_to_disk(const struct fs_extent *e, struct iomapfs_extent *d)
{
	d->fblk = e->fblk;
	d->pblk = e->pblk;
	d->len = e->len;
	d->flags = e->state == FS_EXT_UNWRITTEN ? IOMAPFS_EXT_UNWRITTEN : 0;
}

/*
 * What is wrong with a stored extent, or NULL.  Read from disk, so checked
 * like input: its blocks must lie in the data area (an extent over the
 * journal or the bitmap would turn a file write into a metadata write),
 * its file range must not wrap or pass the largest file, and the map must
 * stay sorted without overlaps.
 */
static const char *ext_disk_problem(const struct fs_inode *ip,
				    const struct iomapfs_extent *d)
{
	const struct iomapfs_super *sb = meta_super(ip->fs->meta);
	uint64_t data_start = sb->bitmap_start + sb->bitmap_blocks;

	if (!d->len || d->len > FS_EXT_MAX_LEN || (d->flags & ~IOMAPFS_EXT_UNWRITTEN))
		return "bad length or flags";
	if (d->fblk > (IOMAPFS_MAX_FILE_SIZE >> IOMAPFS_BLOCK_SHIFT) - d->len)
		return "file range past the largest file";
	if (d->pblk < data_start || d->len > sb->nr_blocks ||
	    d->pblk > sb->nr_blocks - d->len)
		return "blocks outside the data area";
	if (ip->nr_ext && ext_end(&ip->ext[ip->nr_ext - 1]) > d->fblk)
		return "overlaps the previous extent";
	return NULL;
}

/* Append a stored extent while loading; stored maps are sorted already. */
static int ext_load_one(struct fs_inode *ip, const struct iomapfs_extent *d)
{
	struct fs_extent e = {
		.fblk = d->fblk, .pblk = d->pblk, .len = d->len,
		.state = (d->flags & IOMAPFS_EXT_UNWRITTEN) ? FS_EXT_UNWRITTEN
							     : FS_EXT_WRITTEN,
	};
	const char *why = ext_disk_problem(ip, d);

	if (why) {
		fprintf(stderr, "iomapfs: inode %llu: extent %llu+%u at block %llu: %s\n",
			(unsigned long long)ip->ino, (unsigned long long)d->fblk, d->len,
			(unsigned long long)d->pblk, why);
		return -EUCLEAN;
	}
	int err = ext_reserve(ip, 1);

	if (err)
		return err;
	ip->ext[ip->nr_ext++] = e;
	return 0;
}

static void ext_clear_dirty(struct fs_inode *ip)
{
	ip->ext_dirty_lo = UINT64_MAX;
	ip->ext_dirty_hi = 0;
}

int fs_extent_load(struct fs_inode *ip)
{
	struct meta *m = ip->fs->meta;
	uint32_t n = ip->di.nr_extents;
	int err = 0;

	ip->nr_ext = 0;
	ext_clear_dirty(ip);
	ip->ext_in_tree = n > IOMAPFS_INLINE_EXTENTS;
	if (!ip->ext_in_tree) {
		for (uint32_t i = 0; i < n && !err; i++)
			err = ext_load_one(ip, &ip->di.ext[i]);
		return err;
	}
	struct iomapfs_key key = meta_key(ip->ino, IOMAPFS_ITEM_EXTENT, 0);
	struct iomapfs_key max = meta_key(ip->ino, IOMAPFS_ITEM_EXTENT, UINT64_MAX);

	for (;;) {
		struct iomapfs_extent d;
		uint32_t len = sizeof(d);

		err = btree_next(m, &key, &max, &d, &len);
		if (err == -ENOENT)
			break;
		if (err)
			return err;
		if (WARN_ON_ONCE(len != sizeof(d) || d.fblk != key.offset))
			return -EUCLEAN;
		err = ext_load_one(ip, &d);
		if (err)
			return err;
		meta_key_next(&key);
	}
	if (WARN_ON_ONCE(ip->nr_ext != n))
		return -EUCLEAN;
	return 0;
}

static int ext_delete_items(struct fs_inode *ip, uint64_t lo, uint64_t hi_incl)
{
	struct iomapfs_key k_lo = meta_key(ip->ino, IOMAPFS_ITEM_EXTENT, lo);
	struct iomapfs_key k_hi = meta_key(ip->ino, IOMAPFS_ITEM_EXTENT, hi_incl);
	long n = btree_delete_range(ip->fs->meta, &k_lo, &k_hi);

	return n < 0 ? (int)n : 0;
}

/* Tree form: rewrite the items keyed in the dirty range. */
static int ext_store_tree(struct fs_inode *ip)
{
	struct meta *m = ip->fs->meta;
	uint64_t lo = ip->ext_in_tree ? ip->ext_dirty_lo : 0;
	uint64_t hi = ip->ext_in_tree ? ip->ext_dirty_hi : UINT64_MAX;
	int err = 0;

	if (lo >= hi)
		return 0;
	if (ip->ext_in_tree) {
		err = ext_delete_items(ip, lo, hi - 1);
		if (err)
			return err;
	}
	for (uint32_t i = fs_ext_search(ip, lo); i < ip->nr_ext && !err; i++) {
		const struct fs_extent *e = &ip->ext[i];
		struct iomapfs_extent d;

		if (e->fblk >= hi)
			break;
		if (e->fblk < lo || e->state == FS_EXT_DELALLOC)
			continue;
		struct iomapfs_key key = meta_key(ip->ino, IOMAPFS_ITEM_EXTENT, e->fblk);

		ext_to_disk(e, &d);
		err = btree_insert(m, &key, &d, sizeof(d));
	}
	return err;
}

int fs_extent_store(struct fs_inode *ip)
{
	uint32_t n = 0;
	int err = 0;

	if (ip->ext_dirty_lo < ip->ext_dirty_hi)	/* fdatasync must commit */
		ip->last_data_txn = meta_running_seq(ip->fs->meta);

	for (uint32_t i = 0; i < ip->nr_ext; i++)
		n += ip->ext[i].state != FS_EXT_DELALLOC;
	memset(ip->di.ext, 0, sizeof(ip->di.ext));
	ip->di.nr_extents = n;
	if (n > IOMAPFS_INLINE_EXTENTS) {
		err = ext_store_tree(ip);
		if (!err) {
			ip->ext_in_tree = true;
			ext_clear_dirty(ip);
		}
		return err;
	}
	for (uint32_t i = 0, j = 0; i < ip->nr_ext; i++)
		if (ip->ext[i].state != FS_EXT_DELALLOC)
			ext_to_disk(&ip->ext[i], &ip->di.ext[j++]);
	if (ip->ext_in_tree) {
		err = ext_delete_items(ip, 0, UINT64_MAX);
		if (err)
			return err;
		ip->ext_in_tree = false;
	}
	ext_clear_dirty(ip);
	return 0;
}

/*
 * If free space is fragmented, every delalloc block may become an extent
 * of its own: an EXTENT item of 56 bytes (slot and value) each, in leaves
 * that a split leaves at least half full, so at least 32 items per new
 * leaf.  The path above the leaves comes from the metadata reserve.
 */
uint64_t fs_delalloc_meta_blocks(uint64_t nr_delalloc)
{
	return DIV_ROUND_UP(nr_delalloc, 32);
}

uint64_t fs_delalloc_trim_locked(struct fs_inode *ip)
{
	uint64_t want = fs_delalloc_meta_blocks(ip->delalloc_blocks);
	uint64_t excess = ip->delalloc_meta > want ? ip->delalloc_meta - want : 0;

	ip->delalloc_meta -= excess;
	return excess;
}

uint64_t fs_delalloc_sub_locked(struct fs_inode *ip, uint64_t n)
{
	WARN_ON_ONCE(n > ip->delalloc_blocks);
	ip->delalloc_blocks -= min_t(uint64_t, n, ip->delalloc_blocks);
	return fs_delalloc_trim_locked(ip);
}

struct truncate_ctx {
	struct meta	*m;
	uint64_t	unreserve;
	int		err;
};

static void truncate_piece(void *arg, const struct fs_extent *piece)
{
	struct truncate_ctx *tc = arg;
	int err;

	if (piece->state == FS_EXT_DELALLOC) {
		tc->unreserve += piece->len;
		return;
	}
	err = free_extent(tc->m, piece->pblk, piece->len);
	if (err && !tc->err)
		tc->err = err;
}

/* Most blocks one piece frees: its bitmap bits span a few bitmap blocks at
 * most, so one step stays within META_SECTION_STEP_MAX. */
#define PIECE_MAX_BLOCKS	(4ull * IOMAPFS_BITMAP_BITS)

/* Under ip->lock: where the last piece of [fblk, end) to free starts (the
 * tail of the last extent in it, at most PIECE_MAX_BLOCKS); @fblk when no
 * extent is left there. */
static uint64_t last_piece_start(const struct fs_inode *ip, uint64_t fblk, uint64_t end)
{
	uint32_t i = fs_ext_search(ip, end - 1);
	const struct fs_extent *e;

	if (i == ip->nr_ext || ip->ext[i].fblk >= end) {
		if (!i)
			return fblk;
		i--;
	}
	e = &ip->ext[i];
	if (ext_end(e) <= fblk)
		return fblk;
	end = min_t(uint64_t, end, ext_end(e));
	return max_t(uint64_t, max_t(uint64_t, fblk, e->fblk),
		     end > PIECE_MAX_BLOCKS ? end - PIECE_MAX_BLOCKS : 0);
}

int fs_extent_read_range(struct fs_inode *ip, uint64_t fblk, uint64_t end)
{
	struct iomapfs_key key, max = meta_key(ip->ino, IOMAPFS_ITEM_EXTENT, end - 1);
	struct iomapfs_extent d;
	uint32_t i, len;
	bool tree;
	int err;

	pthread_mutex_lock(&ip->lock);
	tree = ip->ext_in_tree;
	i = fs_ext_search(ip, fblk);
	key = meta_key(ip->ino, IOMAPFS_ITEM_EXTENT,
		       i < ip->nr_ext ? min_t(uint64_t, fblk, ip->ext[i].fblk) : fblk);
	pthread_mutex_unlock(&ip->lock);
	if (!tree || end <= fblk)
		return 0;
	for (;;) {
		len = sizeof(d);
		err = btree_next(ip->fs->meta, &key, &max, &d, &len);
		if (err)
			return err == -ENOENT ? 0 : err;
		if (key.offset == UINT64_MAX)
			return 0;
		meta_key_next(&key);
	}
}

int fs_ext_reserve(struct fs_inode *ip, uint32_t more)
{
	return ext_reserve(ip, more);
}

int fs_extent_punch_step(struct fs_inode *ip, uint64_t fblk, uint64_t *end)
{
	struct truncate_ctx tc = { .m = ip->fs->meta };
	int err = 0;

	pthread_mutex_lock(&ip->lock);
	while (*end > fblk) {
		uint64_t lo = last_piece_start(ip, fblk, *end);

		err = fs_ext_remove(ip, lo, *end - lo, truncate_piece, &tc);
		if (!err)
			err = tc.err;
		if (!err)
			err = fs_extent_store(ip);	/* so the budget sees its blocks */
		if (err)
			break;
		*end = lo;
		if (meta_section_full(tc.m))
			break;
	}
	if (tc.unreserve)
		alloc_unreserve(tc.m, tc.unreserve + fs_delalloc_sub_locked(ip, tc.unreserve));
	pthread_mutex_unlock(&ip->lock);
	return err;
}
