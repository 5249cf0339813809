// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The free-space allocator.  The on-disk bitmap (journaled bitmap blocks,
 * one bit per device block, 1 = used) is the truth; in memory we keep a
 * flat copy, busy[], in which blocks freed by a transaction that is not yet
 * durable still count as used, plus a free count per bitmap block so that
 * a search skips full groups without touching their words.  A search scans
 * 64 blocks per word and stops at the first run that satisfies the whole
 * request, so large contiguous allocations on a mostly empty device cost a
 * few word reads.
 *
 * Policies:
 *  - goal-directed: a request first tries exactly at @goal, then scans
 *    forward from it (wrapping once); without a goal, data continues after
 *    the previous data extent and metadata after the previous node;
 *  - a metadata reserve (max(256 blocks, 1%)) that only @meta allocations
 *    may use, so B+tree splits never fail after a section's checks, and
 *    writeback's extent items always find room;
 *  - delayed-allocation reservations (alloc_reserve: data plus the
 *    worst-case metadata of its extents) are subtracted from what every
 *    allocation but the reservation's own may take (alloc_limit);
 *  - frees are deferred: the bitmap block is cleared in the freeing
 *    transaction, but busy[] keeps the blocks until journal.c releases
 *    them (meta_alloc_release) under its invariant 3: the transaction is
 *    durable and no transaction that replay could re-apply holds an image
 *    of them.
 *
 * fsck support (meta_mark_static, meta_check_bitmap) lives here too.
 */
#include "meta_internal.h"

#define BITS_PER_WORD	64
#define GROUP_WORDS	(IOMAPFS_BITMAP_BITS / BITS_PER_WORD)
static_assert(IOMAPFS_BITMAP_BITS % BITS_PER_WORD == 0, "groups are whole words");

/* Scan at most this many candidate runs once one that fits @min_len is
 * known: bounds the cost on badly fragmented free space. */
#define ALLOC_SCAN_RUNS	4096

static inline bool busy_test(const struct meta_alloc *a, uint64_t b)
{
	return a->busy[b / 64] >> (b % 64) & 1;
}

static inline uint8_t *bitmap_bits(struct mbuf *b)
{
	return blk_ptr(b, sizeof(struct iomapfs_bitmap_hdr));
}

uint64_t meta_reserve_for(uint64_t nr_blocks)
{
	return max_t(uint64_t, 256, nr_blocks / 100);
}

/* Mark [start, start+len) busy (@set) or not, keeping the counters. */
static void busy_update(struct meta_alloc *a, uint64_t start, uint64_t len, bool set)
{
	for (uint64_t b = start; b < start + len; b++) {
		uint64_t bit = 1ull << (b % 64);
		uint64_t *w = &a->busy[b / 64];

		if (!!(*w & bit) == set)
			continue;
		*w ^= bit;
		if (set) {
			a->group_free[b / IOMAPFS_BITMAP_BITS]--;
			a->nr_free--;
		} else {
			a->group_free[b / IOMAPFS_BITMAP_BITS]++;
			a->nr_free++;
		}
	}
}

static struct mbuf *bitmap_buf(struct meta *m, uint64_t group)
{
	return mbuf_read(m, m->sb.bitmap_start + group, IOMAPFS_BITMAP_MAGIC);
}

/* A section's view of bitmap block @group: its group lock held until
 * bitmap_put(); on an error the lock is dropped again. */
static struct mbuf *bitmap_get_locked(struct meta *m, uint64_t group)
{
	struct mbuf *b;

	pthread_mutex_lock(&m->alloc.group_lock[group]);
	b = bitmap_buf(m, group);
	if (IS_ERR(b))
		pthread_mutex_unlock(&m->alloc.group_lock[group]);
	return b;
}

static void bitmap_put(struct meta *m, uint64_t group, struct mbuf *b)
{
	mbuf_put(m, b);
	pthread_mutex_unlock(&m->alloc.group_lock[group]);
}

/* Rebuild busy[] and the counters from the bitmap blocks, deferred frees
 * still busy.  Under meta->lock (or at mount). */
static int alloc_scan(struct meta *m)
{
	struct meta_alloc *a = &m->alloc;
	uint64_t nr = m->nr_blocks, nr_free = 0;
	int err = 0;

	pthread_mutex_lock(&a->space_lock);
	/* Bits past the device end are never free. */
	memset(a->busy, 0xff, a->nr_words * sizeof(uint64_t));
	memset(a->group_free, 0, a->nr_groups * sizeof(uint32_t));
	for (uint64_t g = 0; g < a->nr_groups && !err; g++) {
		struct mbuf *b = bitmap_buf(m, g);
		uint64_t first = g * IOMAPFS_BITMAP_BITS;
		uint64_t n = min_t(uint64_t, IOMAPFS_BITMAP_BITS, nr - first);

		if (IS_ERR(b)) {
			err = PTR_ERR(b);
			break;
		}
		memcpy(&a->busy[g * GROUP_WORDS], bitmap_bits(b), DIV_ROUND_UP(n, 8));
		for (uint64_t i = n; i < IOMAPFS_BITMAP_BITS && i % 8; i++)
			a->busy[(first + i) / 64] |= 1ull << ((first + i) % 64);
		for (uint64_t w = 0; w < GROUP_WORDS; w++)
			a->group_free[g] += 64 - __builtin_popcountll(a->busy[g * GROUP_WORDS + w]);
		nr_free += a->group_free[g];
		mbuf_put(m, b);
	}
	a->nr_free = nr_free;
	for (size_t i = 0; i < a->nr_dfree; i++)
		busy_update(a, a->dfree[i].start, a->dfree[i].len, true);
	pthread_mutex_unlock(&a->space_lock);
	return err;
}

/* Load the on-disk bitmap into busy[] (mount). */
int meta_alloc_load(struct meta *m)
{
	struct meta_alloc *a = &m->alloc;

	a->nr_groups = meta_bitmap_groups(m->nr_blocks);
	a->nr_words = a->nr_groups * GROUP_WORDS;
	a->busy = kzalloc(a->nr_words * sizeof(uint64_t));
	a->group_free = kzalloc(a->nr_groups * sizeof(uint32_t));
	mutex_init_adaptive(&a->space_lock);
	a->group_lock = kmalloc(a->nr_groups * sizeof(*a->group_lock));
	for (uint64_t g = 0; g < a->nr_groups; g++)
		pthread_mutex_init(&a->group_lock[g], NULL);
	a->data_start = m->sb.bitmap_start + m->sb.bitmap_blocks;
	a->goal_meta = a->goal_data = a->data_start;
	a->meta_reserve = meta_reserve_for(m->nr_blocks);
	return alloc_scan(m);
}

void meta_alloc_destroy(struct meta *m)
{
	struct meta_alloc *a = &m->alloc;

	kfree(a->busy);
	kfree(a->group_free);
	kfree(a->dfree);
	for (uint64_t g = 0; a->group_lock && g < a->nr_groups; g++)
		pthread_mutex_destroy(&a->group_lock[g]);
	kfree(a->group_lock);
	if (a->busy)
		pthread_mutex_destroy(&a->space_lock);
	memset(a, 0, sizeof(*a));
}

/* Set or clear bits in the on-disk bitmap blocks (journaled). */
static int bitmap_update(struct meta *m, uint64_t start, uint64_t len, bool set)
{
	while (len) {
		uint64_t g = start / IOMAPFS_BITMAP_BITS;
		uint64_t i = start % IOMAPFS_BITMAP_BITS;
		uint64_t n = min_t(uint64_t, len, IOMAPFS_BITMAP_BITS - i);
		struct mbuf *b = bitmap_get_locked(m, g);
		struct iomapfs_bitmap_hdr *h;
		uint8_t *bits;

		if (IS_ERR(b))
			return PTR_ERR(b);
		h = b->data;
		bits = bitmap_bits(b);
		mbuf_mark_dirty(m, b);
		for (uint64_t k = i; k < i + n; k++) {
			uint8_t bit = 1u << (k % 8);

			if (!!(bits[k / 8] & bit) == set)
				continue;
			bits[k / 8] ^= bit;
			h->nr_free += set ? -1 : 1;
		}
		bitmap_put(m, g, b);
		start += n;
		len -= n;
	}
	m->sb_dirty = true;
	return 0;
}

/* First zero bit of busy[] at or after @pos, below @end; @end if none. */
static uint64_t find_free(const struct meta_alloc *a, uint64_t pos, uint64_t end)
{
	while (pos < end) {
		uint64_t g = pos / IOMAPFS_BITMAP_BITS;
		uint64_t w;

		if (!a->group_free[g]) {
			pos = (g + 1) * IOMAPFS_BITMAP_BITS;
			continue;
		}
		w = a->busy[pos / 64] | ((1ull << (pos % 64)) - 1);
		if (w != ~0ull)
			return min_t(uint64_t, end, ALIGN_DOWN(pos, 64) + __builtin_ctzll(~w));
		pos = ALIGN_DOWN(pos, 64) + 64;
	}
	return end;
}

/* First busy bit at or after @pos, below @end; @end if none. */
static uint64_t find_busy(const struct meta_alloc *a, uint64_t pos, uint64_t end)
{
	while (pos < end) {
		uint64_t w = a->busy[pos / 64] & ~((1ull << (pos % 64)) - 1);

		if (w)
			return min_t(uint64_t, end, ALIGN_DOWN(pos, 64) + __builtin_ctzll(w));
		pos = ALIGN_DOWN(pos, 64) + 64;
	}
	return end;
}

struct run {
	uint64_t start, len;
};

/* Best free run in [from, end): the first of >= want, else the longest. */
static void scan_range(const struct meta_alloc *a, uint64_t from, uint64_t end,
		       uint64_t want, uint64_t min_len, struct run *best, unsigned *runs)
{
	uint64_t pos = from;

	while (pos < end && best->len < want) {
		uint64_t s = find_free(a, pos, end);
		uint64_t e;

		if (s >= end)
			break;
		e = find_busy(a, s, min_t(uint64_t, end, s + want));
		if (e - s > best->len) {
			best->start = s;
			best->len = e - s;
		}
		if (best->len >= min_len && ++*runs > ALLOC_SCAN_RUNS)
			break;
		pos = e;
	}
}

static int find_extent(struct meta *m, uint64_t goal, uint64_t min_len,
		       uint64_t max_len, struct run *out)
{
	struct meta_alloc *a = &m->alloc;
	uint64_t lo = a->data_start, hi = m->nr_blocks;
	struct run best = { 0, 0 };
	unsigned runs = 0;

	if (goal < lo || goal >= hi)
		goal = lo;
	scan_range(a, goal, hi, max_len, min_len, &best, &runs);
	if (best.len < max_len && runs <= ALLOC_SCAN_RUNS)
		scan_range(a, lo, goal, max_len, min_len, &best, &runs);
	if (best.len < min_len)
		return -ENOSPC;
	out->start = best.start;
	out->len = min_t(uint64_t, best.len, max_len);
	return 0;
}

/* Take [start, start+len), already busy in memory, in the bitmap block(s);
 * on failure it is free in memory again.  In a section. */
static int take_extent(struct meta *m, uint64_t start, uint64_t len)
{
	int err = bitmap_update(m, start, len, true);

	if (err) {
		pthread_mutex_lock(&m->alloc.space_lock);
		busy_update(&m->alloc, start, len, false);
		pthread_mutex_unlock(&m->alloc.space_lock);
	}
	return err;
}

/*
 * What an allocation of this kind may take.  The accounting, as ext4's
 * (free clusters, dirty clusters, s_resv_clusters):
 *
 *   nr_free = reserved (delalloc data + its worst-case metadata)
 *	     + meta_reserve (B+tree growth that must not fail)
 *	     + what anybody may take
 *
 *   - data against a reservation takes from its own reservation, which is
 *     inside nr_free (invariant: nr_free >= reserved);
 *   - other data (fallocate, unreserved holes) leaves reserved and the
 *     metadata reserve;
 *   - metadata leaves reserved: it may use the metadata reserve, which
 *     is why a section that grows the tree on a user's request checks
 *     meta_check_growth() first, leaving the reserve to writeback.
 */
static uint64_t alloc_limit_locked(struct meta_alloc *a, bool meta, bool from_reservation,
				   uint64_t own)
{
	uint64_t keep;

	if (from_reservation)
		keep = 0;
	else if (meta)
		keep = a->reserved - min_t(uint64_t, a->reserved, own);
	else
		keep = a->reserved + a->meta_reserve;
	return a->nr_free > keep ? a->nr_free - keep : 0;
}

int meta_check_growth(struct meta *m, uint64_t nr_items, uint64_t nr_bytes)
{
	struct meta_alloc *a = &m->alloc;
	uint64_t height = __atomic_load_n(&m->sb.tree_height, __ATOMIC_RELAXED);
	uint64_t need = 2 * (height + 1) + DIV_ROUND_UP(nr_bytes + nr_items *
			sizeof(struct iomapfs_leaf_item), IOMAPFS_BLOCK_SIZE / 2);
	int err;

	if (WARN_ON_ONCE(!meta_may_modify(m)))
		return -EIO;
	/*
	 * Concurrent handles: what passed is reserved for this handle (as
	 * delalloc reservations are), so other handles' growth cannot take
	 * it before this one's splits need it; its metadata allocations
	 * draw on it first, and handle_stop() gives back the rest.
	 */
	uint64_t *growth = meta_handle_growth(m);

	pthread_mutex_lock(&a->space_lock);
	err = a->nr_free < a->reserved + a->meta_reserve + need ? -ENOSPC : 0;
	if (!err && growth) {
		a->reserved += need;
		*growth += need;
	}
	pthread_mutex_unlock(&a->space_lock);
	return err;
}

void meta_release_growth(struct meta *m, uint64_t *growth)
{
	if (!*growth)
		return;
	pthread_mutex_lock(&m->alloc.space_lock);
	m->alloc.reserved -= min_t(uint64_t, m->alloc.reserved, *growth);
	pthread_mutex_unlock(&m->alloc.space_lock);
	*growth = 0;
}

bool meta_tree_may_grow(struct meta *m, uint64_t n)
{
	struct meta_alloc *a = &m->alloc;
	uint64_t *growth = meta_handle_growth(m);
	uint64_t own = growth ? *growth : 0;
	bool ok;

	/* Never the blocks reserved for dirty data or other handles. */
	pthread_mutex_lock(&a->space_lock);
	ok = a->nr_free + own >= a->reserved + n;
	pthread_mutex_unlock(&a->space_lock);
	return ok;
}

bool meta_enospc_retry(struct meta *m)
{
	bool held;

	if (WARN_ON_ONCE(meta_lock_held_any(m)) || atomic_load(&m->shutdown))
		return false;
	pthread_mutex_lock(&m->alloc.space_lock);
	held = m->alloc.nr_dfree;
	pthread_mutex_unlock(&m->alloc.space_lock);
	/* Blocks freed by transactions not durable yet: as ext4, commit and
	 * let the caller look again before it says ENOSPC. */
	return held && !meta_commit(m);
}

static int __alloc_extent(struct meta *m, uint64_t goal, uint64_t min_len,
			  uint64_t max_len, bool meta, bool from_resv,
			  uint64_t *start, uint64_t *len)
{
	struct meta_alloc *a = &m->alloc;
	uint64_t limit, *growth;
	struct run r;
	int err;

	if (atomic_load(&m->shutdown))
		return -EIO;
	if (m->readonly)
		return -EROFS;
	if (WARN_ON_ONCE(!meta_may_modify(m)) || !min_len || min_len > max_len)
		return -EINVAL;
	/* space_lock across the search and busy[]: ->reserved changes
	 * outside sections (alloc_reserve from a buffered write), a commit
	 * releases frees into busy[] outside them, and handles allocate
	 * concurrently. */
	pthread_mutex_lock(&a->space_lock);
	if (unlikely(a->fail_countdown) && (a->fail_countdown == 1 || !--a->fail_countdown)) {
		pthread_mutex_unlock(&a->space_lock);
		return -EIO;	/* meta_alloc_fail_after(): stays at 1 */
	}
	/* A handle's own growth reservation is not kept from it. */
	growth = meta ? meta_handle_growth(m) : NULL;
	limit = alloc_limit_locked(a, meta, from_resv, growth ? *growth : 0);
	err = limit < min_len ? -ENOSPC : 0;
	max_len = min_t(uint64_t, max_len, limit);
	if (!err)
		err = find_extent(m, goal ? goal : meta ? a->goal_meta : a->goal_data,
				  min_len, max_len, &r);
	if (!err) {
		busy_update(a, r.start, r.len, true);
		if (growth && *growth) {	/* consumed from its reservation */
			uint64_t used = min_t(uint64_t, *growth, r.len);

			*growth -= used;
			a->reserved -= min_t(uint64_t, a->reserved, used);
		}
		if (meta)
			a->goal_meta = r.start + r.len;
		else
			a->goal_data = r.start + r.len;
	}
	pthread_mutex_unlock(&a->space_lock);
	if (err)
		return err;
	err = take_extent(m, r.start, r.len);
	if (err)
		return err;
	*start = r.start;
	*len = r.len;
	return 0;
}

void meta_alloc_fail_after(struct meta *m, unsigned n)
{
	pthread_mutex_lock(&m->alloc.space_lock);
	m->alloc.fail_countdown = n;
	pthread_mutex_unlock(&m->alloc.space_lock);
}

int alloc_extent(struct meta *m, uint64_t goal, uint64_t min_len,
		 uint64_t max_len, bool meta, uint64_t *start, uint64_t *len)
{
	return __alloc_extent(m, goal, min_len, max_len, meta, false, start, len);
}

int alloc_extent_reserved(struct meta *m, uint64_t goal, uint64_t max_len,
			  uint64_t *start, uint64_t *len)
{
	struct meta_alloc *a = &m->alloc;
	int err;

	err = __alloc_extent(m, goal, 1, max_len, false, true, start, len);
	if (err)
		return err;
	pthread_mutex_lock(&a->space_lock);
	a->reserved -= min_t(uint64_t, a->reserved, *len);
	pthread_mutex_unlock(&a->space_lock);
	return 0;
}

/* Is every block of the range marked used on disk?  One buffer per group. */
static bool bitmap_range_used(struct meta *m, uint64_t start, uint64_t len)
{
	while (len) {
		uint64_t i = start % IOMAPFS_BITMAP_BITS;
		uint64_t n = min_t(uint64_t, len, IOMAPFS_BITMAP_BITS - i);
		uint64_t g = start / IOMAPFS_BITMAP_BITS;
		struct mbuf *mb = bitmap_get_locked(m, g);
		const uint8_t *bits;
		bool used = true;

		if (IS_ERR(mb))
			return false;
		bits = bitmap_bits(mb);
		for (uint64_t k = i; k < i + n && used; k++)
			used = bits[k / 8] >> (k % 8) & 1;
		bitmap_put(m, g, mb);
		if (!used)
			return false;
		start += n;
		len -= n;
	}
	return true;
}

int free_extent(struct meta *m, uint64_t start, uint64_t len)
{
	struct meta_alloc *a = &m->alloc;
	struct meta_dfree *d;
	int err;

	if (atomic_load(&m->shutdown))
		return -EIO;
	if (m->readonly)
		return -EROFS;
	if (!len)
		return 0;
	if (WARN_ON_ONCE(start < a->data_start || start + len > m->nr_blocks ||
			 start + len < start))
		return -EIO;
	if (WARN_ON_ONCE(!bitmap_range_used(m, start, len)))
		return -EIO;	/* double free */
	err = bitmap_update(m, start, len, false);
	if (err)
		return err;
	for (uint64_t b = start; b < start + len; b++)
		mbuf_forget(m, b);	/* a freed B+tree node is never written */
	/* space_lock: a commit releases dfree[] without the metadata lock. */
	pthread_mutex_lock(&a->space_lock);
	if (a->nr_dfree == a->cap_dfree) {
		a->cap_dfree = a->cap_dfree ? 2 * a->cap_dfree : 64;
		a->dfree = krealloc(a->dfree, a->cap_dfree * sizeof(*a->dfree));
	}
	d = &a->dfree[a->nr_dfree++];
	d->start = start;
	d->len = len;
	d->seq = atomic_load(&m->running_seq);
	a->dfree_blocks += len;
	pthread_mutex_unlock(&a->space_lock);
	return 0;
}

void meta_alloc_release(struct meta *m, uint64_t seq)
{
	struct meta_alloc *a = &m->alloc;
	size_t keep = 0;

	pthread_mutex_lock(&a->space_lock);
	for (size_t i = 0; i < a->nr_dfree; i++) {
		if (a->dfree[i].seq <= seq) {
			busy_update(a, a->dfree[i].start, a->dfree[i].len, false);
			a->dfree_blocks -= a->dfree[i].len;
		} else
			a->dfree[keep++] = a->dfree[i];
	}
	a->nr_dfree = keep;
	pthread_mutex_unlock(&a->space_lock);
}

uint64_t meta_alloc_disk_free(struct meta *m)
{
	struct meta_alloc *a = &m->alloc;
	uint64_t n;

	pthread_mutex_lock(&a->space_lock);
	n = a->nr_free;
	for (size_t i = 0; i < a->nr_dfree; i++)
		n += a->dfree[i].len;
	pthread_mutex_unlock(&a->space_lock);
	return n;
}

int alloc_reserve(struct meta *m, uint64_t n)
{
	struct meta_alloc *a = &m->alloc;
	int err = 0;

	if (atomic_load(&m->shutdown))
		return -EIO;
	pthread_mutex_lock(&a->space_lock);
	if (a->nr_free < a->reserved + a->meta_reserve + n)
		err = -ENOSPC;
	else
		a->reserved += n;
	pthread_mutex_unlock(&a->space_lock);
	return err;
}

void alloc_unreserve(struct meta *m, uint64_t n)
{
	struct meta_alloc *a = &m->alloc;

	pthread_mutex_lock(&a->space_lock);
	WARN_ON_ONCE(n > a->reserved);
	a->reserved -= min_t(uint64_t, n, a->reserved);
	pthread_mutex_unlock(&a->space_lock);
}

void meta_get_space(struct meta *m, struct meta_space *sp)
{
	struct meta_alloc *a = &m->alloc;
	uint64_t deferred;

	/* O(1): the B+tree's precheck calls this for every change. */
	pthread_mutex_lock(&a->space_lock);
	deferred = a->dfree_blocks;
	sp->total_blocks = m->nr_blocks;
	sp->free_blocks = a->nr_free;
	sp->reserved_blocks = a->reserved;
	sp->meta_reserve = a->meta_reserve;
	sp->tree_free = a->nr_free > a->reserved ? a->nr_free - a->reserved : 0;
	/* As ext4's statfs: blocks freed by a transaction not yet durable
	 * count as free (a write commits and retries before ENOSPC), blocks
	 * reserved for dirty data do not. */
	sp->bfree = a->nr_free + deferred > a->reserved ?
		    a->nr_free + deferred - a->reserved : 0;
	sp->avail_blocks = sp->bfree > a->meta_reserve ? sp->bfree - a->meta_reserve : 0;
	sp->nr_inodes = m->sb.nr_inodes;
	pthread_mutex_unlock(&a->space_lock);
}

/* ---- fsck support ---- */

static inline void used_set(uint8_t *used, uint64_t b)
{
	used[b / 8] |= 1u << (b % 8);
}

void meta_mark_static(struct meta *m, uint8_t *used)
{
	uint64_t end = m->sb.bitmap_start + m->sb.bitmap_blocks;

	for (uint64_t b = 0; b < end && b < m->nr_blocks; b++)
		used_set(used, b);
}

static long check_group(struct meta *m, uint64_t g, const uint8_t *used,
			bool fix, FILE *log, long *reported)
{
	uint64_t first = g * IOMAPFS_BITMAP_BITS;
	uint64_t n = min_t(uint64_t, IOMAPFS_BITMAP_BITS, m->nr_blocks - first);
	struct mbuf *b = bitmap_buf(m, g);
	struct iomapfs_bitmap_hdr *h;
	uint8_t *bits;
	uint32_t nfree = 0;
	long problems = 0;

	if (IS_ERR(b)) {
		if (log)
			fprintf(log, "bitmap block %llu unreadable\n",
				(unsigned long long)(m->sb.bitmap_start + g));
		return 1;
	}
	h = b->data;
	bits = bitmap_bits(b);
	for (uint64_t i = 0; i < n; i++) {
		uint64_t blk = first + i;
		bool want = used[blk / 8] >> (blk % 8) & 1;
		bool have = bits[i / 8] >> (i % 8) & 1;

		if (want != have) {
			problems++;
			if (log && (*reported)++ < 100)
				fprintf(log, "block %llu: %s\n", (unsigned long long)blk,
					want ? "in use but marked free in the bitmap"
					     : "marked allocated but unused (leaked)");
			if (fix) {
				mbuf_mark_dirty(m, b);
				bits[i / 8] ^= 1u << (i % 8);
			}
		}
		nfree += !(bits[i / 8] >> (i % 8) & 1);
	}
	if (h->nr_free != nfree || h->first_block != first || h->nr_bits != n) {
		problems++;
		if (log)
			fprintf(log, "bitmap block %llu: header says %u free, bits say %u\n",
				(unsigned long long)(m->sb.bitmap_start + g), h->nr_free, nfree);
		if (fix) {
			mbuf_mark_dirty(m, b);
			h->nr_free = nfree;
			h->first_block = first;
			h->nr_bits = n;
		}
	}
	mbuf_put(m, b);
	return problems;
}

long meta_check_bitmap(struct meta *m, const uint8_t *used, bool fix, FILE *log)
{
	bool locked = !meta_may_modify(m);	/* fsck: single-threaded in its handle */
	long problems = 0, reported = 0;

	if (m->readonly || atomic_load(&m->shutdown))
		fix = false;
	if (locked)
		meta_lock(m);
	for (uint64_t g = 0; g < m->alloc.nr_groups; g++)
		problems += check_group(m, g, used, fix, log, &reported);
	if (fix && problems) {
		m->sb_dirty = true;
		if (alloc_scan(m) && log)
			fprintf(log, "could not reload the bitmap after repair\n");
		if (locked && meta_commit_locked(m) && log)
			fprintf(log, "could not commit the bitmap repair\n");
	}
	if (locked)
		meta_unlock(m);
	return problems;
}
