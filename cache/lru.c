// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The LRU and reclaim: which folio to give up when the arena is full.
 *
 * Every folio that sits in a mapping's index is on cache->lru (oldest at
 * the head); free folios are on cache->free.  Both lists and nr_free are
 * under cache->lru_lock, the innermost lock.  Reclaim is a clock over the
 * LRU: a folio with PG_referenced gets a second chance; only clean,
 * unlocked, unreferenced folios that are not under writeback are evicted.
 * Dirty and writeback folios stay on the list (the reaper, which ends
 * writeback, may not take lru_lock to put them back) and are skipped.
 *
 * When nothing can be evicted the allocator kicks the flusher and waits for
 * progress (a writeback ending, a folio freed); callers never hold a folio
 * lock or a mapping lock when they allow waiting, so the flusher can
 * always lock what it needs.
 */
#include "internal.h"

void lru_add(struct cache *cache, struct folio *folio)
{
	pthread_mutex_lock(&cache->lru_lock);
	list_add_tail(&folio->lru, &cache->lru);
	pthread_mutex_unlock(&cache->lru_lock);
}

void lru_del_locked(struct cache *cache, struct folio *folio)
{
	list_del_init(&folio->lru);
}

/* Back to the free list: the folio is in no index and has no references. */
void folio_free(struct cache *cache, struct folio *folio)
{
	atomic_store(&folio->flags, 0);
	folio->mapping = NULL;
	atomic_store(&folio->write_bytes_pending, 0);
	pthread_mutex_lock(&cache->lru_lock);
	list_add(&folio->lru, &cache->free);
	cache->nr_free++;
	pthread_mutex_unlock(&cache->lru_lock);
	cache_progress(cache);
}

/* Under the folio lock, which the caller took. */
static bool folio_evictable_locked(struct folio *folio)
{
	return !folio_test(folio, PG_dirty | PG_writeback) &&
	       atomic_load(&folio->refcount) == 1;
}

static bool folio_evictable(struct folio *folio)
{
	return !folio_test(folio, PG_locked | PG_dirty | PG_writeback) &&
	       atomic_load(&folio->refcount) == 1;
}

/*
 * Try to evict @folio.  Called under lru_lock, so the mapping lock and the
 * folio lock are only try-locked (lock order).  A folio on the LRU is in
 * its mapping's index, so the mapping is alive while we hold lru_lock:
 * cache_mapping_destroy() needs lru_lock to take the folio off the list.
 */
static bool try_evict_locked(struct cache *cache, struct folio *folio)
{
	struct cache_mapping *m = folio->mapping;
	bool ok = false;

	if (pthread_mutex_trylock(&m->lock))
		return false;
	if (folio_trylock(folio)) {
		if (folio_evictable_locked(folio)) {
			radix_erase(&m->index, folio->index);
			atomic_fetch_sub(&m->nr_pages, 1);
			atomic_fetch_add(&m->nr_evicted, 1);
			atomic_fetch_add(&cache->stat.evicted, 1);
			list_del_init(&folio->lru);
			folio->mapping = NULL;
			atomic_store(&folio->refcount, 0);
			ok = true;
		}
		folio_unlock(folio);
	}
	pthread_mutex_unlock(&m->lock);
	return ok;
}

/* One clock sweep over at most the whole LRU.  Under lru_lock. */
static struct folio *reclaim_one_locked(struct cache *cache)
{
	uint64_t scan = cache->nr_folios - cache->nr_free;

	while (scan-- && !list_empty(&cache->lru)) {
		struct folio *f = list_first_entry(&cache->lru, struct folio, lru);

		if (atomic_fetch_and(&f->flags, ~PG_referenced) & PG_referenced) {
			list_move_tail(&f->lru, &cache->lru);
			continue;
		}
		if (folio_evictable(f) && try_evict_locked(cache, f))
			return f;
		list_move_tail(&f->lru, &cache->lru);
	}
	return NULL;
}

static struct folio *folio_alloc_nowait(struct cache *cache)
{
	struct folio *f = NULL;

	pthread_mutex_lock(&cache->lru_lock);
	if (!list_empty(&cache->free)) {
		f = list_first_entry(&cache->free, struct folio, lru);
		list_del_init(&f->lru);
		cache->nr_free--;
	} else {
		f = reclaim_one_locked(cache);
	}
	pthread_mutex_unlock(&cache->lru_lock);
	if (f) {
		atomic_store(&f->flags, 0);
		atomic_store(&f->refcount, 1);
		atomic_store(&f->write_bytes_pending, 0);
	}
	return f;
}

/*
 * A folio with one reference (the caller's), in no index, unlocked.  With
 * @may_wait, sleeps until memory is available (kicking the flusher when
 * everything is dirty); the caller must hold no folio or mapping lock.
 * Without it, returns NULL when nothing is free or evictable (readahead,
 * a reader that already holds folios).
 */
struct folio *folio_alloc(struct cache *cache, bool may_wait)
{
	for (;;) {
		unsigned seq = atomic_load(&cache->progress);
		struct folio *f = folio_alloc_nowait(cache);

		if (f || !may_wait)
			return f;
		flusher_kick(cache, FLUSH_RECLAIM);
		cache_wait_progress(cache, seq, 50);
	}
}
