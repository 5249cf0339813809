// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The cache object's lifetime: configuration defaults (defaults.h), the dirty
 * thresholds, the folio arena and the flusher.
 */
#include "internal.h"

#include <iomapfs/defaults.h>

static void cache_config_defaults(struct cache_config *cfg)
{
	if (!cfg->size_bytes)
		cfg->size_bytes = IOMAPFS_DEFAULT_CACHE_SIZE;
	if (!cfg->dirty_background_pct)
		cfg->dirty_background_pct = IOMAPFS_DEFAULT_DIRTY_BACKGROUND_PCT;
	if (!cfg->dirty_pct)
		cfg->dirty_pct = IOMAPFS_DEFAULT_DIRTY_PCT;
	if (cfg->dirty_pct < cfg->dirty_background_pct)
		cfg->dirty_pct = cfg->dirty_background_pct;
	if (cfg->dirty_pct > 90)
		cfg->dirty_pct = 90;
	if (!cfg->dirty_expire_ms)
		cfg->dirty_expire_ms = IOMAPFS_DEFAULT_DIRTY_EXPIRE_MS;
	if (!cfg->flush_interval_ms)
		cfg->flush_interval_ms = IOMAPFS_DEFAULT_FLUSH_INTERVAL_MS;
	if (!cfg->max_ioend_bytes)
		cfg->max_ioend_bytes = IOMAPFS_DEFAULT_MAX_IOEND;
	cfg->max_ioend_bytes = max_t(uint32_t, PAGE_SIZE,
				     ALIGN_DOWN(cfg->max_ioend_bytes, PAGE_SIZE));
	if (!cfg->readahead_bytes)
		cfg->readahead_bytes = IOMAPFS_DEFAULT_READAHEAD;
}

int cache_create(const struct cache_config *cfg, struct blk_dev *dev,
		 struct cache **out)
{
	struct cache *cache = kzalloc(sizeof(*cache));
	int err;

	cache->cfg = *cfg;
	cache_config_defaults(&cache->cfg);
	cache->dev = dev;
	pthread_mutex_init(&cache->lru_lock, NULL);
	pthread_mutex_init(&cache->wb_lock, NULL);
	pthread_cond_init(&cache->users_cond, NULL);
	INIT_LIST_HEAD(&cache->mappings);
	INIT_LIST_HEAD(&cache->dirty_mappings);
	err = folio_arena_init(cache);
	if (err)
		goto out_free;
	cache->bg_thresh = cache->nr_folios * cache->cfg.dirty_background_pct / 100;
	cache->dirty_thresh = cache->nr_folios * cache->cfg.dirty_pct / 100;
	atomic_store(&cache->read_budget, (long)(cache->nr_folios / 2));
	err = flusher_start(cache);
	if (err)
		goto out_arena;
	*out = cache;
	return 0;

out_arena:
	folio_arena_exit(cache);
out_free:
	pthread_cond_destroy(&cache->users_cond);
	pthread_mutex_destroy(&cache->wb_lock);
	pthread_mutex_destroy(&cache->lru_lock);
	kfree(cache);
	return err;
}

void cache_destroy(struct cache *cache)
{
	if (!cache)
		return;
	flusher_stop(cache);
	WARN_ON_ONCE(!list_empty(&cache->mappings));
	pthread_cond_destroy(&cache->flush_cond);
	pthread_cond_destroy(&cache->users_cond);
	pthread_mutex_destroy(&cache->wb_lock);
	pthread_mutex_destroy(&cache->lru_lock);
	folio_arena_exit(cache);
	kfree(cache);
}
