// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Mappings (struct address_space): creation and teardown, the folio index
 * with its DIRTY and WRITEBACK marks, the dirty/writeback state changes of
 * a folio, i_size, and writeback errors (errseq, as lib/errseq.c).
 *
 * Folio state changes and the functions behind them (docs/design.md):
 *
 *	(absent) --filemap_add_folio--> locked, !uptodate
 *	uptodate --folio_mark_dirty--> dirty (mark DIRTY, counted, mapping on
 *		the cache's dirty list)
 *	dirty --folio_clear_dirty_for_io--> writeback (mark WRITEBACK)
 *	writeback --folio_end_writeback (reaper or worker)--> clean
 *	clean --reclaim / filemap_invalidate_folio--> (absent)
 *
 * The reaper may not take mapping->lock, so folio_end_writeback() cannot
 * clear the WRITEBACK mark: the mark means "may be under writeback" and
 * walkers clear stale marks under the lock.  PG_writeback is only ever set
 * under mapping->lock together with the mark, so "bit clear" seen under the
 * lock means the mark is stale.
 */
#include "internal.h"

#include <string.h>

struct cache_mapping *cache_mapping_create(struct cache *cache,
					   const struct cache_mapping_ops *ops,
					   void *host)
{
	struct cache_mapping *m = kzalloc(sizeof(*m));

	m->cache = cache;
	m->ops = ops;
	m->host = host;
	pthread_mutex_init(&m->lock, NULL);
	pthread_mutex_init(&m->completion_lock, NULL);
	radix_init(&m->index);
	INIT_LIST_HEAD(&m->completions);
	INIT_LIST_HEAD(&m->dirty_link);
	atomic_store(&m->dontcache, cache->cfg.dontcache_all);
	pthread_mutex_lock(&cache->wb_lock);
	list_add_tail(&m->all_link, &cache->mappings);
	pthread_mutex_unlock(&cache->wb_lock);
	return m;
}

void cache_mapping_destroy(struct cache_mapping *m)
{
	struct cache *cache = m->cache;
	unsigned refs;

	pthread_mutex_lock(&cache->wb_lock);
	m->dying = true;
	while (m->users)
		pthread_cond_wait(&cache->users_cond, &cache->wb_lock);
	list_del_init(&m->all_link);
	if (atomic_load(&m->on_dirty_list))
		list_del_init(&m->dirty_link);
	atomic_store(&m->on_dirty_list, false);
	pthread_mutex_unlock(&cache->wb_lock);

	cache_truncate_range(m, 0, UINT64_MAX);
	/* Ioends still completing (the reaper or a worker) hold io_refs; a
	 * worker holding a stream's batch (offload=adaptive) runs it now. */
	while ((refs = atomic_load(&m->io_refs)))
		blk_deferred_futex_wait(cache->dev, &m->io_refs, refs, 0);
	WARN_ON_ONCE(m->index.count);
	radix_destroy(&m->index);
	pthread_mutex_destroy(&m->lock);
	pthread_mutex_destroy(&m->completion_lock);
	kfree(m);
}

void mapping_io_get(struct cache_mapping *m)
{
	atomic_fetch_add(&m->io_refs, 1);
}

/* The caller's last touch of @m: it may be freed right after. */
void mapping_io_put(struct cache_mapping *m)
{
	if (atomic_fetch_sub(&m->io_refs, 1) == 1)
		futex_wake(&m->io_refs, FUTEX_WAKE_ALL);
}

void *cache_mapping_host(const struct cache_mapping *m) { return m->host; }
struct cache *cache_mapping_cache(const struct cache_mapping *m) { return m->cache; }

uint64_t cache_mapping_size(const struct cache_mapping *m)
{
	return atomic_load((_Atomic uint64_t *)&m->size);
}

void cache_mapping_set_size(struct cache_mapping *m, uint64_t size)
{
	atomic_store(&m->size, size);
}

/* Extend i_size to @end if it is smaller (a write past EOF). */
void mapping_update_size(struct cache_mapping *m, uint64_t end)
{
	uint64_t cur = atomic_load(&m->size);

	while (cur < end && !atomic_compare_exchange_weak(&m->size, &cur, end))
		;
}

/* The per-file switch (user.iomapfs.dontcache); -o dontcache overrides it. */
void cache_mapping_set_dontcache(struct cache_mapping *m, bool on)
{
	atomic_store(&m->dontcache, on || m->cache->cfg.dontcache_all);
}

bool cache_mapping_dontcache(const struct cache_mapping *m)
{
	return atomic_load((atomic_bool *)&m->dontcache);
}

bool cache_mapping_has_dirty(const struct cache_mapping *m)
{
	return atomic_load((atomic_ulong *)&m->nr_dirty) != 0;
}

void cache_mapping_get_stat(struct cache_mapping *m, struct cache_mapping_stat *st)
{
	st->cached = atomic_load(&m->nr_pages);
	st->dirty = atomic_load(&m->nr_dirty);
	st->writeback = atomic_load(&m->nr_writeback);
	st->evicted = atomic_load(&m->nr_evicted);
}

/* ---- the index ---- */

/* Look up @index and take a reference.  NULL if absent. */
struct folio *filemap_get_folio(struct cache_mapping *m, uint64_t index)
{
	struct folio *f;

	pthread_mutex_lock(&m->lock);
	f = radix_lookup(&m->index, index);
	if (f)
		folio_get(f);
	pthread_mutex_unlock(&m->lock);
	return f;
}

unsigned filemap_get_folios_contig(struct cache_mapping *m, uint64_t first,
				   unsigned nr, struct folio **folios)
{
	unsigned got, i;

	pthread_mutex_lock(&m->lock);
	got = radix_lookup_contig(&m->index, first, nr, (void **)folios);
	for (i = 0; i < got; i++)
		folio_get(folios[i]);
	pthread_mutex_unlock(&m->lock);
	return got;
}

/*
 * The next folio at or after *index (up to @max) with @mark (or RADIX_ANY),
 * referenced; *index is set to its index.  Stale WRITEBACK marks are
 * cleared on the way.
 */
struct folio *filemap_get_folio_mark(struct cache_mapping *m, uint64_t *index,
				     uint64_t max, int mark)
{
	struct folio *f;

	pthread_mutex_lock(&m->lock);
	while ((f = radix_find(&m->index, index, max, mark))) {
		if (mark != MARK_WRITEBACK || folio_test(f, PG_writeback)) {
			folio_get(f);
			break;
		}
		radix_clear_mark(&m->index, *index, MARK_WRITEBACK);
		if (*index == max) {
			f = NULL;
			break;
		}
		(*index)++;
	}
	pthread_mutex_unlock(&m->lock);
	return f;
}

/*
 * Insert @folio (one reference: the caller's, unlocked or locked by the
 * caller) at @index; the index takes its own reference.  -EEXIST if another
 * thread inserted first.
 */
int filemap_add_folio(struct cache_mapping *m, struct folio *folio, uint64_t index)
{
	struct cache *cache = m->cache;
	int ret;

	pthread_mutex_lock(&m->lock);
	ret = radix_insert(&m->index, index, folio);
	if (!ret) {
		folio->index = index;
		atomic_fetch_add(&folio->refcount, 1);
		atomic_fetch_add(&m->nr_pages, 1);
		pthread_mutex_lock(&cache->lru_lock);
		folio->mapping = m;
		list_add_tail(&folio->lru, &cache->lru);
		pthread_mutex_unlock(&cache->lru_lock);
	}
	pthread_mutex_unlock(&m->lock);
	return ret;
}

/*
 * Take @folio out of the index and the LRU and drop the index's reference
 * (the folio lives on while others hold references).  Caller holds
 * m->lock, the folio lock and a reference of its own (the index's is not
 * dropped through folio_put(), which could free a folio still locked);
 * the folio is not under writeback.
 */
void filemap_remove_folio_locked(struct cache_mapping *m, struct folio *folio)
{
	struct cache *cache = m->cache;

	folio_cancel_dirty_locked(m, folio);
	radix_erase(&m->index, folio->index);
	atomic_fetch_sub(&m->nr_pages, 1);
	pthread_mutex_lock(&cache->lru_lock);
	lru_del_locked(cache, folio);
	folio->mapping = NULL;
	pthread_mutex_unlock(&cache->lru_lock);
	/* Not the last reference: the caller holds one.  If it held none,
	 * the folio would be out of the index with no owner, never freed. */
	BUG_ON_RECOVER(atomic_fetch_sub(&folio->refcount, 1) == 1);
}

/*
 * Drop-behind: evict @folio if it is clean, unlocked, not under writeback
 * and has no users beyond the index and @extra_refs (the caller's).
 * Try-locks only; a busy folio stays on the LRU for reclaim.  Task context.
 */
bool filemap_invalidate_folio(struct cache_mapping *m, struct folio *folio,
			      int extra_refs)
{
	struct cache *cache = m->cache;
	bool done = false;

	might_sleep();
	pthread_mutex_lock(&m->lock);
	if (folio->mapping == m && folio_trylock(folio)) {
		if (!folio_test(folio, PG_dirty | PG_writeback) &&
		    atomic_load(&folio->refcount) == 1 + extra_refs) {
			filemap_remove_folio_locked(m, folio);
			atomic_fetch_add(&m->nr_evicted, 1);
			atomic_fetch_add(&cache->stat.evicted, 1);
			atomic_fetch_add(&cache->stat.dropbehind_freed, 1);
			done = true;
		}
		folio_unlock(folio);
	}
	pthread_mutex_unlock(&m->lock);
	return done;
}

/*
 * A read of @folio failed (worker, before unlocking it for the failed I/O,
 * holding a reference of its own): take it out of @m unless it is uptodate
 * or dirty after all, so that a failed read caches nothing.  Readers that
 * found it before see PG_error or a folio that left its mapping, and fail
 * with -EIO.  The folio lock comes before m->lock, as in truncate.
 */
void filemap_remove_failed_read(struct cache_mapping *m, struct folio *folio)
{
	might_sleep();
	pthread_mutex_lock(&m->lock);
	if (folio->mapping == m &&
	    !folio_test(folio, PG_uptodate | PG_dirty | PG_writeback))
		filemap_remove_folio_locked(m, folio);
	pthread_mutex_unlock(&m->lock);
}

/* ---- dirty and writeback state ---- */

/* Caller holds the folio lock; the folio is uptodate and in @m's index. */
void folio_mark_dirty(struct folio *folio)
{
	struct cache_mapping *m = folio->mapping;

	if (atomic_fetch_or(&folio->flags, PG_dirty) & PG_dirty)
		return;
	pthread_mutex_lock(&m->lock);
	radix_set_mark(&m->index, folio->index, MARK_DIRTY);
	pthread_mutex_unlock(&m->lock);
	atomic_fetch_add(&m->nr_dirty, 1);
	atomic_fetch_add(&m->cache->nr_dirty, 1);
	mapping_dirty_list_add(m);
}

/* Undo the dirty accounting of a folio being dropped.  Under m->lock and
 * the folio lock. */
void folio_cancel_dirty_locked(struct cache_mapping *m, struct folio *folio)
{
	if (!(atomic_fetch_and(&folio->flags, ~PG_dirty) & PG_dirty))
		return;
	radix_clear_mark(&m->index, folio->index, MARK_DIRTY);
	atomic_fetch_sub(&m->nr_dirty, 1);
	atomic_fetch_sub(&m->cache->nr_dirty, 1);
}

/*
 * Writeback starts: dirty -> writeback, with the bias of 1 in
 * write_bytes_pending that the writeback loop drops when it is done with
 * the folio.  Caller holds the folio lock.  False if it was not dirty.
 */
bool folio_clear_dirty_for_io(struct folio *folio)
{
	struct cache_mapping *m = folio->mapping;

	if (!(atomic_fetch_and(&folio->flags, ~PG_dirty) & PG_dirty))
		return false;
	atomic_store(&folio->write_bytes_pending, 1);
	atomic_fetch_add(&m->nr_writeback, 1);
	atomic_fetch_add(&m->cache->nr_writeback, 1);
	pthread_mutex_lock(&m->lock);
	radix_clear_mark(&m->index, folio->index, MARK_DIRTY);
	folio_set_flag(folio, PG_writeback);
	radix_set_mark(&m->index, folio->index, MARK_WRITEBACK);
	pthread_mutex_unlock(&m->lock);
	atomic_fetch_sub(&m->nr_dirty, 1);
	atomic_fetch_sub(&m->cache->nr_dirty, 1);
	return true;
}

/*
 * Writeback is over.  Reaper, worker or the writeback loop: atomics and a
 * wake only.  The counters go first: once PG_writeback is clear the folio
 * (and, for the last one, the mapping) may go away.
 */
void folio_end_writeback(struct folio *folio)
{
	struct cache_mapping *m = folio->mapping;
	struct cache *cache = m->cache;

	atomic_fetch_sub(&m->nr_writeback, 1);
	atomic_fetch_sub(&cache->nr_writeback, 1);
	folio_clear_flag_wake(folio, PG_writeback);
	cache_progress(cache);
}

/* Wait for writeback of every folio in [first, last].  No locks held. */
void filemap_wait_writeback_range(struct cache_mapping *m, uint64_t first,
				  uint64_t last)
{
	uint64_t index = first;
	struct folio *f;

	while ((f = filemap_get_folio_mark(m, &index, last, MARK_WRITEBACK))) {
		folio_wait_writeback(f);
		folio_put(f);
		if (index == last)
			break;
		index++;
	}
}

/* ---- errseq: lib/errseq.c ---- */

#define ERRSEQ_SHIFT	12	/* errno in the low bits (MAX_ERRNO fits) */
#define ERRSEQ_SEEN	(1u << ERRSEQ_SHIFT)
#define ERRSEQ_CTR_INC	(1u << (ERRSEQ_SHIFT + 1))

/*
 * Record @error with a new sequence.  If nobody saw the previous value,
 * the counter need not move: samplers that have not seen it will still
 * see the new error (errseq_set).  Task context (worker, flusher, fsync).
 */
void cache_mapping_set_error(struct cache_mapping *m, int error)
{
	errseq_t old = atomic_load(&m->errseq), new;

	if (!error || WARN_ON_ONCE(-error > MAX_ERRNO || error > 0))
		return;
	do {
		new = (old & ~(MAX_ERRNO | ERRSEQ_SEEN)) | (errseq_t)-error;
		if (old & ERRSEQ_SEEN)
			new += ERRSEQ_CTR_INC;
		if (new == old)
			return;
	} while (!atomic_compare_exchange_weak(&m->errseq, &old, new));
}

void filemap_discard_failed_folio(struct cache_mapping *m, struct folio *folio)
{
	if (filemap_invalidate_folio(m, folio, 1))
		return;
	/*
	 * Somebody holds it (a walker's reference, a reply in flight): leave
	 * it in place but not uptodate, so the next reader or partial writer
	 * reads the device's bytes into it first.  Locked by somebody else:
	 * a writer, whose new bytes will be written back in their turn.
	 */
	if (!folio_trylock(folio))
		return;
	if (folio->mapping == m && !folio_test(folio, PG_dirty | PG_writeback))
		folio_clear_flag_wake(folio, PG_uptodate);
	folio_unlock(folio);
}

void cache_mapping_set_ino(struct cache_mapping *m, uint64_t ino)
{
	m->ino = ino;
}

void mapping_write_error(struct cache_mapping *m, uint64_t pos, uint64_t len, int error)
{
	cache_mapping_set_error(m, error);
	atomic_fetch_add(&m->cache->stat.write_errors, 1);
	/* Shut down (FS_IOC_SHUTDOWN, a failed commit): every write fails on
	 * purpose, the shutdown itself was the message. */
	if (blk_dev_is_shutdown(m->cache->dev))
		return;
	iomapfs_err("inode %llu: writeback of bytes %llu-%llu failed: %s; fsync"
		    " reports it, the cached copy is dropped", (unsigned long long)m->ino,
		    (unsigned long long)pos, (unsigned long long)(pos + len - 1),
		    strerror(-error));
}

/* An error nobody has seen yet is reported to this new sampler too. */
errseq_t cache_errseq_sample(struct cache_mapping *m)
{
	errseq_t old = atomic_load(&m->errseq);

	return (old & ERRSEQ_SEEN) ? old : 0;
}

/*
 * The error recorded after @since (a raw value of m->errseq), without
 * marking it seen.  Unlike errseq_check(), another sampler marking the
 * same error seen in between does not count as a new error.
 */
int errseq_check(struct cache_mapping *m, errseq_t since)
{
	errseq_t cur = atomic_load(&m->errseq);

	if ((cur | ERRSEQ_SEEN) == (since | ERRSEQ_SEEN))
		return 0;
	return -(int)(cur & MAX_ERRNO);
}

int cache_errseq_check_and_advance(struct cache_mapping *m, errseq_t *since)
{
	errseq_t old = atomic_load(&m->errseq), new;

	if (old == *since)
		return 0;
	new = old | ERRSEQ_SEEN;
	if (new != old)
		atomic_compare_exchange_strong(&m->errseq, &old, new);
	*since = new;
	return -(int)(new & MAX_ERRNO);
}
