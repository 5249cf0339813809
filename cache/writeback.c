// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Writeback (mm/page-writeback.c + the loop of fs/iomap/buffered-io.c):
 * the loop shared by the flusher and cache_write_and_wait_range(), the
 * flusher thread "iomapfs-flush", the list of dirty mappings with their
 * expiry, and dirty throttling (balance_dirty_pages).
 *
 * The loop walks a mapping's DIRTY marks in index order.  For each folio:
 * lock, clear dirty and set writeback (folio_clear_dirty_for_io), ask the
 * filesystem's ->writeback_range to map it and add it to the current ioend
 * (cache_add_to_ioend), unlock.  At the end, or on the first error,
 * ->writeback_submit(wpc, error) submits (or fails) the last ioend, so no
 * folio stays under writeback.  Waiting for writeback happens afterwards,
 * with no folio or mapping lock held.
 */
#include "internal.h"

#include <string.h>
#include <time.h>

/*
 * The part of a folio past EOF is zeroed before it goes to disk (a later
 * extending write must find zeros there), as iomap_writepage_handle_eof.
 */
static void folio_zero_past_eof(struct folio *folio, uint64_t end_pos)
{
	uint64_t pos = folio_pos(folio);

	if (end_pos > pos && end_pos < pos + PAGE_SIZE)
		memset((char *)folio->data + (end_pos - pos), 0,
		       pos + PAGE_SIZE - end_pos);
}

/*
 * Write back one locked, dirty folio that is not under writeback.
 * Unlocks it.  Flusher or fsync thread.
 */
static int writeback_folio(struct writeback_ctx *wpc, struct folio *folio)
{
	struct cache_mapping *m = wpc->mapping;
	uint64_t end_pos = cache_mapping_size(m);
	uint64_t pos = folio_pos(folio);
	/* Whole blocks go to disk (O_DIRECT); the ioend's size stops at EOF. */
	uint64_t end = pos < end_pos ? pos + PAGE_SIZE : pos;
	int error = 0;

	folio_clear_dirty_for_io(folio);
	folio_zero_past_eof(folio, end_pos);
	while (pos < end) {
		ssize_t ret = wpc->ops->writeback_range(wpc, folio, pos,
							(uint32_t)(end - pos), end_pos);

		if (ret < 0) {
			error = (int)ret;
			break;
		}
		if (WARN_ON_ONCE(ret == 0)) {
			error = -EIO;
			break;
		}
		pos += (uint64_t)ret;
	}
	if (error) {
		mapping_write_error(m, folio_pos(folio), PAGE_SIZE, error);
		folio_get(folio);	/* alive past the end of writeback */
	}
	folio_unlock(folio);
	/* Drop the loop's bias: ends writeback now if nothing was added. */
	ioend_folio_finish_write(folio, 1);
	if (error) {
		/* As a failed ioend's folios (ioend.c): not served again. */
		filemap_discard_failed_folio(m, folio);
		folio_put(folio);
	}
	return error;
}

static int writeback_submit_current(struct writeback_ctx *wpc, int error)
{
	int ret;

	if (!wpc->wb_ctx)
		return error;
	ret = wpc->ops->writeback_submit(wpc, error);
	wpc->wb_ctx = NULL;
	wpc->nr_folios = 0;
	return error ? error : ret;
}

/* Lock @folio and write it back if it is still a dirty folio of ours. */
static int writeback_one(struct writeback_ctx *wpc, struct folio *folio)
{
	int err;

	for (;;) {
		folio_lock(folio);
		if (folio->mapping != wpc->mapping || !folio_test(folio, PG_dirty))
			break;
		if (!folio_test(folio, PG_writeback))
			return writeback_folio(wpc, folio);
		/* Redirtied while under writeback. */
		if (!wpc->sync)
			break;	/* the next pass gets it */
		folio_unlock(folio);
		/* Never wait for an ioend we have not submitted yet. */
		err = writeback_submit_current(wpc, 0);
		if (err)
			return err;
		folio_wait_writeback(folio);
	}
	folio_unlock(folio);
	return 0;
}

/*
 * The writeback loop over folios [first, last] of @m.  @sync: data
 * integrity (fsync): also folios redirtied under writeback are written,
 * after waiting.  Returns 0 or the first error.  Task context.
 */
int writeback_mapping_range(struct cache_mapping *m, uint64_t first,
			    uint64_t last, bool sync)
{
	struct writeback_ctx wpc = {
		.mapping = m, .ops = m->ops, .sync = sync,
		.iomap = { .addr = IOMAP_NULL_ADDR },
	};
	struct list_head failed;
	uint64_t index = first;
	struct folio *f;
	int error = 0;

	might_sleep();
	ioend_inline_begin(&failed);
	while ((f = filemap_get_folio_mark(m, &index, last, MARK_DIRTY))) {
		error = writeback_one(&wpc, f);
		folio_put(f);
		if (error || index == last)
			break;
		index++;
	}
	error = writeback_submit_current(&wpc, error);
	/* Ioends that failed at submission, completed here, outside the fs. */
	ioend_inline_end(m, &failed);
	return error;
}

int cache_write_and_wait_range(struct cache_mapping *m, uint64_t start,
			       uint64_t end, bool wait)
{
	errseq_t since = atomic_load(&m->errseq);
	uint64_t first = start >> PAGE_SHIFT, last;
	int err;

	if (end <= start)
		return 0;
	last = (end - 1) >> PAGE_SHIFT;
	err = writeback_mapping_range(m, first, last, wait);
	if (!wait)
		return err;
	filemap_wait_writeback_range(m, first, last);
	return err ? err : errseq_check(m, since);
}

/* ---- the dirty-mapping list ---- */

/* @m got a dirty folio: make sure the flusher knows, oldest first. */
void mapping_dirty_list_add(struct cache_mapping *m)
{
	struct cache *cache = m->cache;

	if (atomic_load(&m->on_dirty_list))
		return;
	pthread_mutex_lock(&cache->wb_lock);
	if (!atomic_load(&m->on_dirty_list) && !m->dying) {
		m->dirtied_ns = ktime_get_ns();
		list_add_tail(&m->dirty_link, &cache->dirty_mappings);
		atomic_store(&m->on_dirty_list, true);
	}
	pthread_mutex_unlock(&cache->wb_lock);
}

void cache_mapping_mark_inode_dirty(struct cache_mapping *m)
{
	if (!atomic_load(&m->inode_dirty))
		atomic_store(&m->inode_dirty, true);
	mapping_dirty_list_add(m);
}

/*
 * After a writeback pass: drop @m from the dirty list if it is clean.
 * Clearing the flag before reading nr_dirty pairs with the dirtier's
 * increment-then-read in mapping_dirty_list_add(): one of the two sees
 * the other.  Under wb_lock.
 */
static void mapping_dirty_list_recheck_locked(struct cache_mapping *m)
{
	atomic_store(&m->on_dirty_list, false);
	if ((atomic_load(&m->nr_dirty) || atomic_load(&m->inode_dirty)) && !m->dying)
		atomic_store(&m->on_dirty_list, true);
	else
		list_del_init(&m->dirty_link);
}

/* ---- the flusher ---- */

static bool mapping_needs_flush(struct cache *cache, struct cache_mapping *m,
				unsigned why, uint64_t now)
{
	uint64_t expire = (uint64_t)cache->cfg.dirty_expire_ms * 1000000ull;

	if (why & FLUSH_RECLAIM)
		return true;
	if ((uint64_t)atomic_load(&cache->nr_dirty) > cache->bg_thresh)
		return true;
	return now - m->dirtied_ns >= expire;
}

/*
 * After the mapping's data went out, the attributes the filesystem left
 * dirty in memory (writeback_single_inode -> write_inode).  Clearing the
 * flag first: a write that dirties the inode again while this runs sets
 * it again and keeps the mapping on the list.
 */
static void write_inode(struct cache_mapping *m)
{
	int err;

	if (!atomic_exchange(&m->inode_dirty, false) || !m->ops->write_inode)
		return;
	err = m->ops->write_inode(m);
	if (err)
		cache_mapping_set_error(m, err);
}

/*
 * One pass over the dirty mappings, oldest first.  A mapping written back
 * goes to the tail with a new timestamp, so the list stays ordered.  The
 * walker holds m->users so cache_mapping_destroy() waits for it.
 */
static void wb_do_writeback(struct cache *cache, unsigned why)
{
	uint64_t now = ktime_get_ns();
	struct cache_mapping *m;
	unsigned n = 0, i;

	pthread_mutex_lock(&cache->wb_lock);
	list_for_each_entry(m, &cache->dirty_mappings, dirty_link)
		n++;
	for (i = 0; i < n && !list_empty(&cache->dirty_mappings); i++) {
		m = list_first_entry(&cache->dirty_mappings, struct cache_mapping,
				     dirty_link);
		if (!mapping_needs_flush(cache, m, why, now))
			break;
		list_move_tail(&m->dirty_link, &cache->dirty_mappings);
		if (m->dying)
			continue;
		m->users++;
		m->dirtied_ns = now;
		pthread_mutex_unlock(&cache->wb_lock);
		writeback_mapping_range(m, 0, UINT64_MAX, false);
		write_inode(m);
		pthread_mutex_lock(&cache->wb_lock);
		if (atomic_load(&m->on_dirty_list))
			mapping_dirty_list_recheck_locked(m);
		if (!--m->users)
			pthread_cond_broadcast(&cache->users_cond);
	}
	pthread_mutex_unlock(&cache->wb_lock);
}

static void *flusher_fn(void *arg)
{
	struct cache *cache = arg;
	unsigned why;

	thread_set_name("iomapfs-flush");
	pthread_mutex_lock(&cache->wb_lock);
	for (;;) {
		if (!atomic_load(&cache->flush_kick)) {
			struct timespec ts = deadline_after_ms(cache->cfg.flush_interval_ms);

			pthread_cond_timedwait(&cache->flush_cond, &cache->wb_lock, &ts);
		}
		why = atomic_exchange(&cache->flush_kick, 0);
		if (why & FLUSH_STOP)
			break;
		pthread_mutex_unlock(&cache->wb_lock);
		wb_do_writeback(cache, why);
		pthread_mutex_lock(&cache->wb_lock);
	}
	pthread_mutex_unlock(&cache->wb_lock);
	return NULL;
}

void flusher_kick(struct cache *cache, unsigned why)
{
	if ((atomic_load(&cache->flush_kick) & why) == why)
		return;
	pthread_mutex_lock(&cache->wb_lock);
	atomic_fetch_or(&cache->flush_kick, why);
	pthread_cond_signal(&cache->flush_cond);
	pthread_mutex_unlock(&cache->wb_lock);
}

int flusher_start(struct cache *cache)
{
	pthread_condattr_t attr;
	int err;

	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&cache->flush_cond, &attr);
	pthread_condattr_destroy(&attr);
	err = pthread_create(&cache->flusher, NULL, flusher_fn, cache);
	if (err)
		return -err;
	cache->flusher_started = true;
	return 0;
}

void flusher_stop(struct cache *cache)
{
	if (!cache->flusher_started)
		return;
	flusher_kick(cache, FLUSH_STOP);
	pthread_join(cache->flusher, NULL);
	cache->flusher_started = false;
}

/*
 * balance_dirty_pages: called by writers after dirtying, with no locks
 * held.  Above the background limit, wake the flusher; above the dirty
 * limit (dirty + writeback), wait for writeback to make progress.
 */
void balance_dirty_pages(struct cache *cache)
{
	bool throttled = false;

	for (;;) {
		unsigned seq = atomic_load(&cache->progress);
		long dirty = atomic_load(&cache->nr_dirty);
		long wb = atomic_load(&cache->nr_writeback);

		if ((uint64_t)dirty > cache->bg_thresh)
			flusher_kick(cache, FLUSH_BACKGROUND);
		if ((uint64_t)(dirty + wb) <= cache->dirty_thresh)
			return;
		if (!throttled) {
			atomic_fetch_add(&cache->stat.throttled, 1);
			throttled = true;
		}
		cache_wait_progress(cache, seq, 50);
	}
}

/* ---- sync of everything ---- */

/* The next live mapping after @m (or the first), pinned; drops @m's pin. */
static struct cache_mapping *mapping_next_pinned(struct cache *cache,
						 struct cache_mapping *m)
{
	struct list_head *pos = m ? m->all_link.next : cache->mappings.next;
	struct cache_mapping *next = NULL;

	for (; pos != &cache->mappings; pos = pos->next) {
		next = list_entry(pos, struct cache_mapping, all_link);
		if (!next->dying)
			break;
		next = NULL;
	}
	if (next)
		next->users++;
	if (m && !--m->users)
		pthread_cond_broadcast(&cache->users_cond);
	return next;
}

int cache_sync_all(struct cache *cache)
{
	struct cache_mapping *m = NULL;
	int err = 0, ret;

	pthread_mutex_lock(&cache->wb_lock);
	while ((m = mapping_next_pinned(cache, m))) {
		pthread_mutex_unlock(&cache->wb_lock);
		ret = cache_write_and_wait_range(m, 0, UINT64_MAX, true);
		if (!err)
			err = ret;
		pthread_mutex_lock(&cache->wb_lock);
	}
	pthread_mutex_unlock(&cache->wb_lock);
	return err;
}
