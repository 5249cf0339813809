/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cache/-private structures and the functions the cache's files share.
 * Nothing outside cache/ includes this.
 *
 * Lock order, outermost first (the kernel's: folio lock -> i_pages lock ->
 * lruvec lock):
 *
 *	folio lock (PG_locked, a sleeping bit lock)
 *	  -> cache_mapping.lock (the index: short, never held across I/O)
 *	    -> cache.wb_lock (dirty-mapping list, flusher state)
 *	      -> cache.lru_lock (LRU and free list: innermost)
 *
 * Under cache_mapping.lock a folio is only ever *try*-locked (reclaim,
 * drop-behind), and under cache.lru_lock a mapping lock is only ever
 * try-locked (reclaim), so the inverse paths cannot deadlock: a thread
 * may try-lock a folio under the index lock, but never sleeps on one
 * there.  No cache lock is held across a call into the filesystem's
 * mapping ops; the whole order is in docs/design.md, "Lock order".
 *
 * The reaper takes none of these locks: it flips atomic folio bits,
 * decrements atomic counters and wakes futexes.
 */
#ifndef IOMAPFS_CACHE_INTERNAL_H
#define IOMAPFS_CACHE_INTERNAL_H

#include <iomapfs/cache.h>
#include <iomapfs/futex.h>
#include <pthread.h>

#include "radix.h"

/* Marks in a mapping's index. */
enum {
	MARK_DIRTY	= 0,
	MARK_WRITEBACK	= 1,	/* set with PG_writeback; cleared lazily (see filemap.c) */
};

struct cache_counters {
	atomic_ulong hits, misses, readahead_pages;
	atomic_ulong ioends_built, ioends_merged, ioends_submitted;
	atomic_ulong evicted, dropbehind_freed, throttled;
	atomic_ulong read_errors, write_errors;
	atomic_ulong deferred[CACHE_DEFER_NR];
	atomic_ulong dio_reads, dio_writes;
	atomic_ulong dio_done_issuer, dio_done_reaper, dio_done_worker;
};

/* Flusher kick reasons (cache.flush_kick bits). */
enum {
	FLUSH_BACKGROUND	= 1u << 0,	/* dirty memory above the background limit */
	FLUSH_RECLAIM		= 1u << 1,	/* an allocation found nothing clean */
	FLUSH_STOP		= 1u << 2,
};

struct cache {
	struct cache_config	cfg;
	struct blk_dev		*dev;

	/* The folio arena: one mmap, a parallel array of struct folio. */
	char			*mem;
	struct folio		*folios;
	uint64_t		nr_folios;
	pthread_t		prefault;	/* faults the arena in after mount */
	bool			prefault_started;
	atomic_bool		prefault_stop;

	/* lru_lock: innermost.  Protects lru, free and nr_free. */
	pthread_mutex_t		lru_lock;
	struct list_head	lru;		/* every folio in some index; head = oldest */
	struct list_head	free;
	uint64_t		nr_free;

	/* wb_lock: after mapping->lock.  Protects the lists and flusher state. */
	pthread_mutex_t		wb_lock;
	pthread_cond_t		flush_cond;	/* flusher sleeps here */
	pthread_cond_t		users_cond;	/* a mapping's users dropped */
	struct list_head	mappings;	/* every live mapping */
	struct list_head	dirty_mappings;	/* oldest dirtied first */
	atomic_uint		flush_kick;	/* FLUSH_*; changed under wb_lock */
	pthread_t		flusher;
	bool			flusher_started;

	/* Global dirty accounting, in pages, and the thresholds. */
	atomic_long		nr_dirty, nr_writeback;
	uint64_t		bg_thresh, dirty_thresh;

	/*
	 * Bumped (and futex-woken) whenever memory may have become available:
	 * a writeback ended, a folio was freed or unreferenced.  Reclaim and
	 * throttled writers wait on it.
	 */
	atomic_uint		progress;
	atomic_uint		progress_waiters;

	/*
	 * Folios that readers may hold referenced while they wait for more
	 * memory (half the arena).  A read reserves what it needs before it
	 * takes any folio, so waiting readers can never pin the whole cache
	 * and starve each other; the other half is always reclaimable once
	 * the flusher has cleaned it.
	 */
	atomic_long		read_budget;

	struct cache_counters	stat;
};

/*
 * A file's cache state, as struct address_space.
 */
struct cache_mapping {
	struct cache		*cache;
	const struct cache_mapping_ops *ops;
	void			*host;
	uint64_t		ino;		/* for messages (cache_mapping_set_ino) */

	/* lock: the index and its marks; folio->mapping/index while in it. */
	pthread_mutex_t		lock;
	struct radix_tree	index;
	uint64_t		ra_end;		/* readahead issued up to here (index) */
	uint64_t		ra_next;	/* where a sequential read continues */

	_Atomic uint64_t	size;		/* i_size */
	atomic_bool		dontcache;
	atomic_uint		errseq;
	atomic_ulong		nr_pages, nr_dirty, nr_writeback, nr_evicted;

	/*
	 * In-flight ioends and pending completion callbacks: the mapping may
	 * not be freed while non-zero.  Decremented as the very last touch of
	 * the mapping (possibly in the reaper), then futex-woken.
	 */
	atomic_uint		io_refs;

	/* Under cache->wb_lock. */
	struct list_head	all_link;
	struct list_head	dirty_link;
	atomic_bool		on_dirty_list;
	atomic_bool		inode_dirty;	/* ->write_inode owed (I_DIRTY_SYNC) */
	uint64_t		dirtied_ns;	/* when it joined dirty_mappings */
	unsigned		users;		/* flusher/sync walkers using it */
	bool			dying;

	/* Worker-side completion of deferred ioends (ioend.c). */
	pthread_mutex_t		completion_lock;
	struct list_head	completions;	/* under completion_lock */
	bool			cb_queued;	/* under completion_lock */
	struct task_batch_cb	batch_cb;
};

/*
 * Writeback of [pos, pos + len) failed with @error: record it for fsync
 * (errseq), count it, and log it once with the inode and the range.  The
 * callers then discard the failed folios once their writeback has ended
 * (filemap_discard_failed_folio), so that a read returns what the device
 * holds rather than bytes that never reached it.  Task context.
 */
void mapping_write_error(struct cache_mapping *m, uint64_t pos, uint64_t len, int error);
/*
 * The folio whose write failed, writeback ended, a reference held by the
 * caller: evicted if nobody else uses it, else made !uptodate (it is read
 * from the device again before anybody is served from it), unless it was
 * redirtied meanwhile (its new bytes go out at the next writeback).
 */
void filemap_discard_failed_folio(struct cache_mapping *m, struct folio *folio);

/*
 * bio_complete_in_task() with the cache's reason counted.  The count moves
 * first, so whoever sees the deferred completion's effects sees it
 * counted; a bio that is not deferred (already in task context, or
 * deferred before) takes it back.
 */
static inline bool cache_complete_in_task(struct cache *cache, struct bio *bio,
					  enum cache_defer_reason reason)
{
	atomic_fetch_add(&cache->stat.deferred[reason], 1);
	if (bio_complete_in_task(bio))
		return true;
	atomic_fetch_sub(&cache->stat.deferred[reason], 1);
	return false;
}


/* ---- folio.c: the arena, folio bits, locks and refs ---- */
int folio_arena_init(struct cache *cache);
void folio_arena_exit(struct cache *cache);
struct folio *folio_from_addr(struct cache *cache, const void *addr);
bool folio_test(const struct folio *folio, unsigned bit);
void folio_set_flag(struct folio *folio, unsigned bit);
void folio_clear_flag_wake(struct folio *folio, unsigned bit);
bool folio_trylock(struct folio *folio);
void folio_lock(struct folio *folio);
void folio_unlock(struct folio *folio);
void folio_wait_bit(struct folio *folio, unsigned bit);
static inline void folio_wait_locked(struct folio *f) { folio_wait_bit(f, PG_locked); }
static inline void folio_wait_writeback(struct folio *f) { folio_wait_bit(f, PG_writeback); }
void folio_get(struct folio *folio);
void folio_put(struct folio *folio);
void cache_progress(struct cache *cache);
void bio_for_each_folio(struct cache *cache, struct bio *bio,
			void (*fn)(struct folio *folio, uint32_t bytes, void *arg),
			void *arg);
void cache_wait_progress(struct cache *cache, unsigned seq, unsigned timeout_ms);

/* ---- lru.c: LRU, free list, reclaim ---- */
struct folio *folio_alloc(struct cache *cache, bool may_wait);
void folio_free(struct cache *cache, struct folio *folio);
void lru_add(struct cache *cache, struct folio *folio);
void lru_del_locked(struct cache *cache, struct folio *folio);
static inline void folio_mark_accessed(struct folio *f)
{
	atomic_fetch_or(&f->flags, PG_referenced);
}

/* ---- filemap.c: the index, dirty marks, errseq ---- */
struct folio *filemap_get_folio(struct cache_mapping *m, uint64_t index);
/* Up to @nr folios at @first, @first + 1, ... until the first gap, each
 * referenced, under one index lock.  Returns how many. */
unsigned filemap_get_folios_contig(struct cache_mapping *m, uint64_t first,
				   unsigned nr, struct folio **folios);
int filemap_add_folio(struct cache_mapping *m, struct folio *folio, uint64_t index);
void filemap_remove_folio_locked(struct cache_mapping *m, struct folio *folio);
void filemap_remove_failed_read(struct cache_mapping *m, struct folio *folio);
bool filemap_invalidate_folio(struct cache_mapping *m, struct folio *folio,
			      int extra_refs);
struct folio *filemap_get_folio_mark(struct cache_mapping *m, uint64_t *index,
				     uint64_t max, int mark);
void folio_mark_dirty(struct folio *folio);
bool folio_clear_dirty_for_io(struct folio *folio);
void folio_cancel_dirty_locked(struct cache_mapping *m, struct folio *folio);
void folio_end_writeback(struct folio *folio);
void filemap_wait_writeback_range(struct cache_mapping *m, uint64_t first,
				  uint64_t last);
void mapping_update_size(struct cache_mapping *m, uint64_t end);
int errseq_check(struct cache_mapping *m, errseq_t since);
void mapping_io_get(struct cache_mapping *m);
void mapping_io_put(struct cache_mapping *m);

/* ---- buffered-io.c / read.c ---- */
static inline bool iomap_covers(const struct iomap *iomap, uint64_t pos)
{
	return iomap->length && iomap->offset <= pos &&
	       pos - iomap->offset < iomap->length;
}
int cache_folio_fill(struct cache_mapping *m, struct folio *folio,
		     const struct iomap *hint);
int cache_read_folios(struct cache_mapping *m, struct folio **folios,
		      unsigned nr);

/* ---- writeback.c: the loop, the flusher, throttling ---- */
int writeback_mapping_range(struct cache_mapping *m, uint64_t first,
			    uint64_t last, bool sync);
int flusher_start(struct cache *cache);
void flusher_stop(struct cache *cache);
void flusher_kick(struct cache *cache, unsigned why);
void balance_dirty_pages(struct cache *cache);
void mapping_dirty_list_add(struct cache_mapping *m);

/* ---- ioend.c ---- */
void ioend_folio_finish_write(struct folio *folio, uint32_t bytes);
void ioend_inline_begin(struct list_head *list);
void ioend_inline_end(struct cache_mapping *m, struct list_head *list);

#endif /* IOMAPFS_CACHE_INTERNAL_H */
