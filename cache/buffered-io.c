// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Buffered writes, zeroing and truncation of cached ranges
 * (fs/iomap/buffered-io.c's write side, mm/truncate.c).
 *
 * A write maps its range with ->map_begin(CACHE_MAP_WRITE) (the filesystem
 * reserves delalloc space for holes), then per folio: get or create it
 * (allocating before any lock is taken, so reclaim may wait for the
 * flusher), lock it, bring a partially written, !uptodate folio uptodate
 * (read it only if the block is IOMAP_MAPPED and below EOF, zero it
 * otherwise), copy, extend i_size, dirty, unlock, and throttle.
 * A writer holds at most one folio lock and never waits for memory or
 * for the flusher while holding it.
 */
#include "internal.h"

#include <string.h>

/*
 * The folio at @index of @m, locked and referenced, created if absent.
 * Called with no lock held (the allocation may wait for writeback).
 */
static struct folio *write_get_folio(struct cache_mapping *m, uint64_t index)
{
	for (;;) {
		struct folio *f = filemap_get_folio(m, index);

		if (f) {
			folio_lock(f);
			if (f->mapping == m)
				return f;
			folio_unlock(f);	/* truncated meanwhile */
			folio_put(f);
			continue;
		}
		f = folio_alloc(m->cache, true);
		atomic_store(&f->flags, PG_locked |
			     (cache_mapping_dontcache(m) ? PG_dropbehind : 0));
		if (!filemap_add_folio(m, f, index))
			return f;
		folio_put(f);	/* another thread inserted first */
	}
}

/*
 * Make a locked, !uptodate folio uptodate before a partial overwrite.
 * Reads the block synchronously only if it is mapped and below EOF;
 * holes, delalloc, unwritten blocks and blocks past EOF become zeros.
 * @iomap, if it covers the folio, saves a ->map_begin call.
 */
int cache_folio_fill(struct cache_mapping *m, struct folio *folio,
		     const struct iomap *hint)
{
	uint64_t pos = folio_pos(folio), isize = cache_mapping_size(m);
	struct iomap iomap;
	int err;

	if (pos >= isize)
		goto zero;
	if (hint && iomap_covers(hint, pos)) {
		iomap = *hint;
	} else {
		err = m->ops->map_begin(m, pos, PAGE_SIZE, CACHE_MAP_READ, &iomap);
		if (err)
			return err;
		if (WARN_ON_ONCE(!iomap_covers(&iomap, pos)))
			return -EIO;
	}
	if (iomap.type != IOMAP_MAPPED)
		goto zero;
	err = blk_rw_sync_class(m->cache->dev, REQ_OP_READ, BIO_CLASS_DATA, folio->data,
				PAGE_SIZE, iomap.addr + (pos - iomap.offset));
	if (err) {
		atomic_fetch_add(&m->cache->stat.read_errors, 1);
		return err;
	}
	if (isize < pos + PAGE_SIZE)
		memset((char *)folio->data + (isize - pos), 0, pos + PAGE_SIZE - isize);
	return 0;
zero:
	memset(folio->data, 0, PAGE_SIZE);
	return 0;
}

/* Copy @n bytes at @pos into one folio.  Returns 0 or -errno. */
static int write_one_folio(struct cache_mapping *m, const struct iomap *iomap,
			   uint64_t pos, const void *buf, uint32_t n)
{
	uint32_t off = (uint32_t)(pos & (PAGE_SIZE - 1));
	struct folio *f = write_get_folio(m, pos >> PAGE_SHIFT);
	int err = 0;

	if (!folio_test(f, PG_uptodate) && n < PAGE_SIZE)
		err = cache_folio_fill(m, f, iomap);
	if (!err) {
		memcpy((char *)f->data + off, buf, n);
		folio_set_flag(f, PG_uptodate);
		/* Before unlocking: writeback must not see the old EOF. */
		mapping_update_size(m, pos + n);
		folio_mark_dirty(f);
	}
	folio_unlock(f);
	folio_put(f);
	return err;
}

/*
 * A drop-behind write starts the writeback of what it dirtied before it
 * returns, as RWF_DONTCACHE does in generic_write_sync() with
 * filemap_fdatawrite_range_kick(): a stream then holds only its in-flight
 * part in the cache, and its folios are freed when that writeback
 * completes instead of after the dirty expiry.  It does not wait; an error
 * is recorded on the mapping for fsync, as any writeback error.
 */
static void dontcache_kick_writeback(struct cache_mapping *m, uint64_t pos,
				     size_t len)
{
	writeback_mapping_range(m, pos >> PAGE_SHIFT, (pos + len - 1) >> PAGE_SHIFT,
				false);
}

ssize_t cache_write(struct cache_mapping *m, uint64_t pos, const void *buf,
		    size_t len)
{
	const char *p = buf;
	uint64_t start = pos;
	size_t done = 0;
	int err = 0;

	might_sleep();
	while (done < len) {
		struct iomap iomap = { 0 };
		uint64_t end;

		err = m->ops->map_begin(m, pos, len - done, CACHE_MAP_WRITE, &iomap);
		if (!err && WARN_ON_ONCE(!iomap_covers(&iomap, pos)))
			err = -EIO;
		if (err)
			break;
		end = min_t(uint64_t, pos + (len - done), iomap.offset + iomap.length);
		while (pos < end) {
			uint32_t n = (uint32_t)min_t(uint64_t, PAGE_SIZE - (pos & (PAGE_SIZE - 1)),
						     end - pos);

			err = write_one_folio(m, &iomap, pos, p + done, n);
			if (err)
				break;
			pos += n;
			done += n;
			balance_dirty_pages(m->cache);
		}
		if (err)
			break;
	}
	if (done && cache_mapping_dontcache(m))
		dontcache_kick_writeback(m, start, done);
	return done ? (ssize_t)done : err;
}

/* Zero one folio's part of a range: @n bytes at @pos. */
static int zero_one_folio(struct cache_mapping *m, uint64_t pos, uint32_t n)
{
	uint32_t off = (uint32_t)(pos & (PAGE_SIZE - 1));
	struct folio *f = write_get_folio(m, pos >> PAGE_SHIFT);
	int err = 0;

	if (!folio_test(f, PG_uptodate))
		err = cache_folio_fill(m, f, NULL);
	if (!err) {
		memset((char *)f->data + off, 0, n);
		folio_set_flag(f, PG_uptodate);
		folio_mark_dirty(f);
	}
	folio_unlock(f);
	folio_put(f);
	return err;
}

/*
 * Zero [pos, pos + len) through the cache, like iomap_zero_range: cached
 * folios are zeroed and dirtied; uncached ranges that already read as
 * zeros (holes, unwritten, past EOF) are left alone.
 */
int cache_zero_range(struct cache_mapping *m, uint64_t pos, uint64_t len)
{
	uint64_t end = pos + len;

	might_sleep();
	while (pos < end) {
		uint32_t n = (uint32_t)min_t(uint64_t, PAGE_SIZE - (pos & (PAGE_SIZE - 1)),
					     end - pos);
		struct folio *f = filemap_get_folio(m, pos >> PAGE_SHIFT);
		struct iomap iomap = { 0 };
		int err;

		if (f) {
			folio_put(f);
		} else if (pos >= cache_mapping_size(m)) {
			pos += n;
			continue;
		} else {
			err = m->ops->map_begin(m, pos, end - pos, CACHE_MAP_READ, &iomap);
			if (err)
				return err;
			if (WARN_ON_ONCE(!iomap_covers(&iomap, pos)))
				return -EIO;
			if (iomap.type == IOMAP_HOLE || iomap.type == IOMAP_UNWRITTEN) {
				pos = min_t(uint64_t, end, iomap.offset + iomap.length);
				continue;
			}
		}
		err = zero_one_folio(m, pos, n);
		if (err)
			return err;
		pos += n;
	}
	return 0;
}

/* Lock @folio with no writeback running on it (the folio's own I/O is
 * waited for without holding its lock). */
static void folio_lock_no_writeback(struct folio *folio)
{
	folio_lock(folio);
	while (folio_test(folio, PG_writeback)) {
		folio_unlock(folio);
		folio_wait_writeback(folio);
		folio_lock(folio);
	}
}

void cache_truncate_range(struct cache_mapping *m, uint64_t start, uint64_t end)
{
	uint64_t index = (start >> PAGE_SHIFT) + !!(start & (PAGE_SIZE - 1));
	uint64_t last;
	struct folio *f;

	might_sleep();
	if (end == UINT64_MAX) {
		last = UINT64_MAX >> PAGE_SHIFT;
	} else {
		if ((end >> PAGE_SHIFT) <= index)
			return;
		last = (end >> PAGE_SHIFT) - 1;
	}
	while ((f = filemap_get_folio_mark(m, &index, last, RADIX_ANY))) {
		folio_lock_no_writeback(f);
		if (f->mapping == m) {
			pthread_mutex_lock(&m->lock);
			filemap_remove_folio_locked(m, f);
			pthread_mutex_unlock(&m->lock);
		}
		folio_unlock(f);
		folio_put(f);
		if (index == last)
			break;
		index++;
	}
}
