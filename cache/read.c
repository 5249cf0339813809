// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Buffered reads (mm/filemap.c filemap_read + fs/iomap's read path):
 * looking folios up, creating the missing ones locked, mapping them with
 * ->map_begin(CACHE_MAP_READ) and reading them (one bio per run contiguous
 * in file and on disk), sequential readahead, and handing folio memory
 * back for a zero-copy FUSE reply.
 *
 * Holes, delalloc and unwritten ranges read as zeros without I/O.  A read
 * bio completes in the reaper (mark uptodate, unlock); a failed one is
 * deferred with CACHE_DEFER_READ_ERROR and its folios are taken out of
 * the mapping in the worker and then unlocked without PG_uptodate (nothing
 * of a failed read stays cached; a retry goes to the device), and the read
 * returns -EIO.  A read bio holds an I/O reference on its mapping
 * (mapping_io_get) so that the worker may still touch it.
 */
#include "internal.h"

#include <string.h>

static void read_end_folio(struct folio *folio, uint32_t bytes, void *arg)
{
	folio_set_flag(folio, PG_uptodate);
	folio_unlock(folio);
}

/*
 * Worker: the folio's read failed.  It leaves the mapping before it is
 * unlocked, so a reader that wakes and gets -EIO finds nothing of the
 * failed read cached, and under a reference of our own: the removal drops
 * the index's reference, and by then no one else may hold one (readahead
 * lets go at submission, a reader once it saw an earlier folio fail).
 */
static void read_fail_folio(struct folio *folio, uint32_t bytes, void *arg)
{
	struct cache_mapping *m = arg;

	folio_get(folio);
	folio_set_flag(folio, PG_error);
	filemap_remove_failed_read(m, folio);
	folio_unlock(folio);
	folio_put(folio);
}

/* ->bi_end_io of read bios: reaper, or a worker for a failed read. */
static void cache_read_end_io(struct bio *bio)
{
	struct cache_mapping *m = bio->bi_private;
	struct cache *cache = m->cache;

	if (bio->bi_status && cache_complete_in_task(cache, bio, CACHE_DEFER_READ_ERROR))
		return;
	if (bio->bi_status) {
		atomic_fetch_add(&cache->stat.read_errors, 1);
		bio_for_each_folio(cache, bio, read_fail_folio, m);
	} else {
		bio_for_each_folio(cache, bio, read_end_folio, NULL);
	}
	bio_put(bio);
	mapping_io_put(m);	/* last touch */
}

struct read_ctx {
	struct cache_mapping	*m;
	struct bio		*bio;
	unsigned		nr_vecs;
};

static void read_submit(struct read_ctx *rc)
{
	if (rc->bio)
		submit_bio(rc->bio);
	rc->bio = NULL;
}

/* Add a locked folio at device byte @addr to the current read bio. */
static void read_add_folio(struct read_ctx *rc, struct folio *folio, uint64_t addr)
{
	struct cache *cache = rc->m->cache;
	uint64_t sector = addr >> SECTOR_SHIFT;

	if (rc->bio && (sector != bio_end_sector(rc->bio) ||
			!bio_add_buf(rc->bio, folio->data, PAGE_SIZE)))
		read_submit(rc);
	if (!rc->bio) {
		rc->bio = bio_alloc(cache->dev, rc->nr_vecs, REQ_OP_READ);
		rc->bio->bi_sector = sector;
		rc->bio->bi_end_io = cache_read_end_io;
		rc->bio->bi_class = BIO_CLASS_DATA;
		rc->bio->bi_private = rc->m;
		mapping_io_get(rc->m);
		bio_add_buf(rc->bio, folio->data, PAGE_SIZE);
	}
}

static void folio_zero_uptodate_unlock(struct folio *folio)
{
	memset(folio->data, 0, PAGE_SIZE);
	folio_set_flag(folio, PG_uptodate);
	folio_unlock(folio);
}

/*
 * Read @nr locked, !uptodate folios of @m (ascending index).  Submits and
 * returns without waiting: each folio is unlocked when its data is there
 * (or its read failed).  On a mapping error the remaining folios are
 * unlocked without PG_uptodate and the error returned.  Task context.
 */
int cache_read_folios(struct cache_mapping *m, struct folio **folios, unsigned nr)
{
	struct read_ctx rc = { .m = m, .nr_vecs = min_t(unsigned, nr, BIO_MAX_VECS) };
	uint64_t isize = cache_mapping_size(m);
	unsigned i = 0, j;
	int err = 0;

	might_sleep();
	while (i < nr) {
		uint64_t pos = folio_pos(folios[i]);
		struct iomap iomap = { 0 };

		for (j = i + 1; j < nr && folios[j]->index == folios[j - 1]->index + 1; j++)
			;
		err = m->ops->map_begin(m, pos, (uint64_t)(j - i) * PAGE_SIZE,
					CACHE_MAP_READ, &iomap);
		if (!err && WARN_ON_ONCE(!iomap_covers(&iomap, pos)))
			err = -EIO;
		if (err)
			break;
		for (; i < j && iomap_covers(&iomap, folio_pos(folios[i])); i++) {
			struct folio *f = folios[i];

			atomic_fetch_and(&f->flags, ~PG_error);
			if (iomap.type == IOMAP_MAPPED && folio_pos(f) < isize)
				read_add_folio(&rc, f, iomap.addr + folio_pos(f) - iomap.offset);
			else
				folio_zero_uptodate_unlock(f);
		}
	}
	read_submit(&rc);
	for (; i < nr; i++)
		folio_unlock(folios[i]);
	return err;
}

/*
 * Wait until @folio is uptodate.  If the read this call submitted failed
 * (@ours, PG_error), -EIO.  A folio found !uptodate (an earlier read
 * failed, or another reader's mapping failed) is read again here once, as
 * filemap_read_folio() does.
 */
static int folio_wait_uptodate(struct cache_mapping *m, struct folio *folio,
			       bool ours)
{
	int tries;

	for (tries = 0; tries < 2; tries++) {
		if (folio_test(folio, PG_uptodate))
			return 0;
		folio_wait_locked(folio);
		if (folio_test(folio, PG_uptodate))
			return 0;
		if (folio_test(folio, PG_error) && (ours || tries))
			return -EIO;
		folio_lock(folio);
		if (folio_test(folio, PG_uptodate)) {
			folio_unlock(folio);
			return 0;
		}
		if (folio->mapping != m) {
			folio_unlock(folio);	/* truncated meanwhile */
			return -EIO;
		}
		cache_read_folios(m, &folio, 1);
	}
	return -EIO;
}

/* A new locked folio for @index in @m, or NULL (present, or no memory). */
static struct folio *folio_create_locked(struct cache_mapping *m, uint64_t index,
					 bool may_wait, bool *raced)
{
	struct folio *f = folio_alloc(m->cache, may_wait);

	*raced = false;
	if (!f)
		return NULL;
	atomic_store(&f->flags, PG_locked |
		     (cache_mapping_dontcache(m) ? PG_dropbehind : 0));
	if (filemap_add_folio(m, f, index)) {
		folio_put(f);
		*raced = true;
		return NULL;
	}
	return f;
}

/*
 * Sequential readahead: when this read continues the previous one, keep
 * cfg->readahead_bytes read ahead of it, asynchronously.  Never waits for
 * memory: readahead stops where the cache has nothing free or clean.
 */
static void cache_readahead(struct cache_mapping *m, uint64_t first, uint64_t last)
{
	struct cache *cache = m->cache;
	uint64_t ra_pages = min_t(uint64_t, cache->cfg.readahead_bytes / PAGE_SIZE,
				  cache->nr_folios / 4);
	uint64_t eof = DIV_ROUND_UP(cache_mapping_size(m), PAGE_SIZE);
	uint64_t start, end, idx;
	struct folio *batch[64], *seen[64];
	unsigned n = 0;
	bool seq, raced;

	pthread_mutex_lock(&m->lock);
	seq = first == 0 || first == m->ra_next || first + 1 == m->ra_next;
	m->ra_next = last + 1;
	if (!seq || !ra_pages || m->ra_end > last + 1 + ra_pages / 2) {
		if (!seq)
			m->ra_end = 0;
		pthread_mutex_unlock(&m->lock);
		return;
	}
	start = max_t(uint64_t, last + 1, m->ra_end);
	end = min_t(uint64_t, last + 1 + ra_pages, eof);
	if (start < end)
		m->ra_end = end;
	pthread_mutex_unlock(&m->lock);

	for (idx = start; idx < end; idx++) {
		unsigned cached = filemap_get_folios_contig(m, idx,
				min_t(uint64_t, ARRAY_SIZE(seen), end - idx), seen);
		struct folio *f;

		if (cached) {
			/* Skip what is cached already, a run per lookup. */
			idx += cached - 1;
			while (cached)
				folio_put(seen[--cached]);
			continue;
		}
		f = folio_create_locked(m, idx, false, &raced);
		if (!f) {
			if (raced)
				continue;
			break;
		}
		batch[n++] = f;
		if (n == ARRAY_SIZE(batch)) {
			cache_read_folios(m, batch, n);
			while (n)
				folio_put(batch[--n]);
		}
		atomic_fetch_add(&cache->stat.readahead_pages, 1);
	}
	cache_read_folios(m, batch, n);
	while (n)
		folio_put(batch[--n]);
}

/*
 * Fill @res->iov from the folios, starting at @pos.  A folio whose memory
 * follows the previous one's extends its iovec: a 1 MiB reply of a file
 * written sequentially is then a few segments, not 256, for the kernel to
 * walk.
 */
static size_t read_fill_iov(struct cache_read_result *res, uint64_t pos, size_t len)
{
	struct iovec *last = NULL;
	size_t done = 0;
	unsigned i;

	res->nr_iov = 0;
	for (i = 0; i < res->nr && done < len; i++) {
		uint32_t off = (uint32_t)((pos + done) & (PAGE_SIZE - 1));
		size_t n = min_t(size_t, PAGE_SIZE - off, len - done);
		char *p = (char *)res->folios[i]->data + off;

		if (last && (char *)last->iov_base + last->iov_len == p) {
			last->iov_len += n;
		} else {
			last = &res->iov[res->nr_iov++];
			last->iov_base = p;
			last->iov_len = n;
		}
		done += n;
	}
	res->bytes = done;
	return done;
}

/* Drop the folios from @from on (an error cut the read short). */
static void read_release_from(struct cache_read_result *res, unsigned from)
{
	while (res->nr > from)
		folio_put(res->folios[--res->nr]);
}

/* Take @need folios of the read budget; waits holding nothing. */
static void read_budget_get(struct cache *cache, long need)
{
	for (;;) {
		unsigned seq = atomic_load(&cache->progress);
		long cur = atomic_load(&cache->read_budget);

		while (cur >= need) {
			if (atomic_compare_exchange_weak(&cache->read_budget, &cur, cur - need))
				return;
		}
		cache_wait_progress(cache, seq, 50);
	}
}

static void read_budget_put(struct cache *cache, long n)
{
	atomic_fetch_add(&cache->read_budget, n);
	cache_progress(cache);
}

/*
 * Collect the folios for [first, last] into @res, creating missing ones
 * locked (listed in @toread, *@nr_read).  Memory is first tried without
 * waiting; before waiting, the reads already collected are submitted, so
 * no folio we hold locked is needed by anyone while we sleep.
 */
static int read_collect(struct cache_mapping *m, uint64_t first, uint64_t last,
			struct cache_read_result *res, struct folio **toread,
			bool *ours)
{
	struct cache *cache = m->cache;
	unsigned nr_read = 0;
	uint64_t idx;
	bool raced;
	int err = 0;

	for (idx = first; idx <= last; idx++) {
		struct folio **run = &res->folios[res->nr];
		unsigned n = filemap_get_folios_contig(m, idx, (unsigned)(last - idx + 1), run);
		struct folio *f;

		if (n) {
			/* The cached run from @idx, found in one pass. */
			atomic_fetch_add(&cache->stat.hits, n);
			for (unsigned i = 0; i < n; i++) {
				folio_mark_accessed(run[i]);
				ours[res->nr++] = false;
			}
			idx += n - 1;
			continue;
		}
		f = folio_create_locked(m, idx, false, &raced);
		if (!f && !raced) {
			if (nr_read && !err)
				err = cache_read_folios(m, toread, nr_read);
			nr_read = 0;
			f = folio_create_locked(m, idx, true, &raced);
		}
		if (!f) {
			idx--;		/* raced with another inserter: look up again */
			continue;
		}
		atomic_fetch_add(&cache->stat.misses, 1);
		toread[nr_read++] = f;
		ours[res->nr] = true;
		res->folios[res->nr++] = f;
	}
	if (nr_read && !err)
		err = cache_read_folios(m, toread, nr_read);
	return err;
}

ssize_t cache_read(struct cache_mapping *m, uint64_t pos, size_t len,
		   struct cache_read_result *res)
{
	struct cache *cache = m->cache;
	uint64_t isize = cache_mapping_size(m), first, last;
	uint64_t max_nr = min_t(uint64_t, ARRAY_SIZE(res->folios),
				max_t(uint64_t, 1, cache->nr_folios / 2));
	struct folio *toread[ARRAY_SIZE(res->folios)];
	bool ours[ARRAY_SIZE(res->folios)];
	unsigned i;
	int err;

	res->mapping = m;
	res->nr = 0;
	res->nr_iov = 0;
	res->bytes = 0;
	if (pos >= isize || !len)
		return 0;
	len = min_t(uint64_t, len, isize - pos);
	first = pos >> PAGE_SHIFT;
	/* Only a cache smaller than two full reads cuts a read short here. */
	last = min_t(uint64_t, (pos + len - 1) >> PAGE_SHIFT, first + max_nr - 1);

	read_budget_get(cache, (long)(last - first + 1));
	err = read_collect(m, first, last, res, toread, ours);
	read_budget_put(cache, (long)(last - first + 1));
	if (!err)
		cache_readahead(m, first, last);
	for (i = 0; i < res->nr; i++) {
		int ret = folio_wait_uptodate(m, res->folios[i], ours[i]);

		if (ret) {
			/* A ->map_begin error says more than the -EIO it caused. */
			err = err ? err : ret;
			break;
		}
	}
	if (i < res->nr) {
		/* Short read up to the first folio that failed. */
		read_release_from(res, i);
		if (!res->nr)
			return err;
	}
	return (ssize_t)read_fill_iov(res, pos, len);
}

void cache_read_done(struct cache_read_result *res)
{
	unsigned i;

	for (i = 0; i < res->nr; i++) {
		struct folio *f = res->folios[i];

		if (folio_test(f, PG_dropbehind))
			filemap_invalidate_folio(res->mapping, f, 1);
		folio_put(f);
	}
	res->nr = 0;
	res->nr_iov = 0;
	res->bytes = 0;
}
