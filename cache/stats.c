// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Cache counters for iomapfs-stat: a snapshot and the stable name/value
 * table (snake_case names, in the order of struct cache_stats).
 */
#include "internal.h"

void cache_get_stats(struct cache *cache, struct cache_stats *st)
{
	struct cache_counters *c = &cache->stat;
	long dirty = atomic_load(&cache->nr_dirty);
	long wb = atomic_load(&cache->nr_writeback);

	pthread_mutex_lock(&cache->lru_lock);
	st->pages_resident = cache->nr_folios - cache->nr_free;
	pthread_mutex_unlock(&cache->lru_lock);
	st->pages_total = cache->nr_folios;
	st->pages_dirty = dirty > 0 ? (uint64_t)dirty : 0;
	st->pages_writeback = wb > 0 ? (uint64_t)wb : 0;
	st->hits = atomic_load(&c->hits);
	st->misses = atomic_load(&c->misses);
	st->readahead_pages = atomic_load(&c->readahead_pages);
	st->ioends_built = atomic_load(&c->ioends_built);
	st->ioends_merged = atomic_load(&c->ioends_merged);
	st->ioends_submitted = atomic_load(&c->ioends_submitted);
	st->evicted = atomic_load(&c->evicted);
	st->dropbehind_freed = atomic_load(&c->dropbehind_freed);
	st->throttled = atomic_load(&c->throttled);
	st->read_errors = atomic_load(&c->read_errors);
	st->write_errors = atomic_load(&c->write_errors);
	st->dio_reads = atomic_load(&c->dio_reads);
	st->dio_writes = atomic_load(&c->dio_writes);
	st->dio_done_issuer = atomic_load(&c->dio_done_issuer);
	st->dio_done_reaper = atomic_load(&c->dio_done_reaper);
	st->dio_done_worker = atomic_load(&c->dio_done_worker);
	for (unsigned i = 0; i < CACHE_DEFER_NR; i++)
		st->deferred[i] = atomic_load(&c->deferred[i]);
}

void cache_stats_for_each(const struct cache_stats *st,
			  void (*fn)(void *ctx, const char *name, uint64_t val), void *ctx)
{
#define EMIT(field)	fn(ctx, #field, st->field)
	EMIT(pages_total);
	EMIT(pages_resident);
	EMIT(pages_dirty);
	EMIT(pages_writeback);
	EMIT(hits);
	EMIT(misses);
	EMIT(readahead_pages);
	EMIT(ioends_built);
	EMIT(ioends_merged);
	EMIT(ioends_submitted);
	EMIT(evicted);
	EMIT(dropbehind_freed);
	EMIT(throttled);
	EMIT(read_errors);
	EMIT(write_errors);
	EMIT(dio_reads);
	EMIT(dio_writes);
	EMIT(dio_done_issuer);
	EMIT(dio_done_reaper);
	EMIT(dio_done_worker);
#undef EMIT
	fn(ctx, "deferred_dropbehind", st->deferred[CACHE_DEFER_DROPBEHIND]);
	fn(ctx, "deferred_error", st->deferred[CACHE_DEFER_ERROR]);
	fn(ctx, "deferred_unwritten", st->deferred[CACHE_DEFER_UNWRITTEN]);
	fn(ctx, "deferred_read_error", st->deferred[CACHE_DEFER_READ_ERROR]);
	fn(ctx, "deferred_dio", st->deferred[CACHE_DEFER_DIO]);
	fn(ctx, "deferred_size", st->deferred[CACHE_DEFER_SIZE]);
}
