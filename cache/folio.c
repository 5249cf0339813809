// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Folios: the arena (one aligned mmap of cfg->size_bytes holding every
 * folio's memory, and a parallel array of struct folio), the flag bits,
 * the folio lock, waiting on a bit, and references.
 *
 * The folio lock is PG_locked in folio->flags with a futex wait queue on
 * the same word (PG_waiters says somebody sleeps there), as the kernel's
 * folio_lock()/folio_wait_bit().  It is not owned by a thread: a request
 * thread locks a folio for a read and the reaper unlocks it.  Clearing a bit
 * that others wait for is one atomic op and, only if PG_waiters was set, a
 * futex wake: this is all the reaper ever does to a folio.
 *
 * References: a folio in a mapping's index holds one reference for the
 * index; users (a FUSE reply pointing into the folio, a walker) take more.
 * The last folio_put() returns the folio to the free list.
 */
#include "internal.h"

#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

/*
 * The arena is faulted in at mount, so the first pass over the cache does
 * not pay a page fault per folio (264,000 minor faults for 1 GiB, half the
 * speed of the second pass).  MADV_POPULATE_WRITE does it at ~0.2 s of CPU
 * per GiB, but more than a second of wall time on a busy machine, so a
 * thread does it in the background, in the order the free list hands
 * folios out: the mount does not wait, and a writer right after it finds
 * the pages ahead of it already there.  An arena of one chunk (8 MiB) or
 * less is populated inline: that is quicker than starting the thread.
 *
 * We do not ask for huge pages (MADV_HUGEPAGE): with THP defrag at its
 * default ("madvise") the kernel then compacts memory for them, which took
 * up to 12 s for 1 GiB on a busy machine instead of 0.3 s.  Where THP is
 * "always" the kernel uses them anyway, without compacting, so the mapping
 * is aligned to a huge page and the slack around it unmapped again.
 * Prefaulting is best effort: a kernel without MADV_POPULATE_WRITE faults
 * on first touch, as before.
 */
#define ARENA_HUGE_ALIGN	(2ull << 20)	/* a PMD: one transparent huge page */
#define ARENA_PREFAULT_CHUNK	(8ull << 20)

static void *arena_map(uint64_t bytes)
{
	uint64_t len = bytes + ARENA_HUGE_ALIGN;
	char *raw, *mem;
	uint64_t head;

	raw = mmap(NULL, len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (raw == MAP_FAILED)
		return MAP_FAILED;
	mem = (char *)(((uintptr_t)raw + ARENA_HUGE_ALIGN - 1) & ~(ARENA_HUGE_ALIGN - 1));
	head = mem - raw;
	if (head)
		munmap(raw, head);
	if (len - head > bytes)
		munmap(mem + bytes, len - head - bytes);
	return mem;
}

static void *arena_prefault_fn(void *arg)
{
	struct cache *cache = arg;
	uint64_t bytes = cache->nr_folios * PAGE_SIZE;

	thread_set_name("iomapfs-prefault");
	for (uint64_t off = 0; off < bytes && !atomic_load(&cache->prefault_stop);
	     off += ARENA_PREFAULT_CHUNK) {
		if (madvise(cache->mem + off, min_t(uint64_t, ARENA_PREFAULT_CHUNK,
						    bytes - off),
			    MADV_POPULATE_WRITE))
			break;	/* not supported: pages fault on first touch */
	}
	return NULL;
}

int folio_arena_init(struct cache *cache)
{
	uint64_t i, n = cache->cfg.size_bytes / PAGE_SIZE;
	void *mem;

	if (n < 16)
		return -EINVAL;
	mem = arena_map(n * PAGE_SIZE);
	if (mem == MAP_FAILED)
		return -errno;
	cache->mem = mem;
	cache->nr_folios = n;
	cache->folios = kzalloc(n * sizeof(struct folio));
	INIT_LIST_HEAD(&cache->free);
	INIT_LIST_HEAD(&cache->lru);
	for (i = 0; i < n; i++) {
		struct folio *f = &cache->folios[i];

		f->data = cache->mem + i * PAGE_SIZE;
		f->private = cache;
		list_add_tail(&f->lru, &cache->free);
	}
	cache->nr_free = n;
	/* One chunk or less populates faster than a thread starts (a test's
	 * or a fuzz input's mount): do it here. */
	if (n * PAGE_SIZE <= ARENA_PREFAULT_CHUNK)
		madvise(cache->mem, n * PAGE_SIZE, MADV_POPULATE_WRITE);
	else
		cache->prefault_started =
			!pthread_create(&cache->prefault, NULL, arena_prefault_fn, cache);
	return 0;
}

void folio_arena_exit(struct cache *cache)
{
	if (cache->prefault_started) {
		atomic_store(&cache->prefault_stop, true);
		pthread_join(cache->prefault, NULL);
		cache->prefault_started = false;
	}
	if (cache->mem)
		munmap(cache->mem, cache->nr_folios * PAGE_SIZE);
	kfree(cache->folios);
	cache->mem = NULL;
	cache->folios = NULL;
}

/* The folio whose memory contains @addr (a bio vec points into it). */
struct folio *folio_from_addr(struct cache *cache, const void *addr)
{
	uint64_t off = (uint64_t)((const char *)addr - cache->mem);

	if (WARN_ON_ONCE((const char *)addr < cache->mem ||
			 off >= cache->nr_folios * PAGE_SIZE))
		return NULL;
	return &cache->folios[off >> PAGE_SHIFT];
}

/*
 * Call @fn for every folio a bio's buffers cover, with the bytes in it.
 * The block layer merges physically contiguous buffers into one vec, so a
 * vec may span several folios of the arena.  Reaper-safe.
 */
void bio_for_each_folio(struct cache *cache, struct bio *bio,
			void (*fn)(struct folio *folio, uint32_t bytes, void *arg),
			void *arg)
{
	unsigned i;

	for (i = 0; i < bio->bi_vcnt; i++) {
		char *p = bio->bi_io_vec[i].iov_base;
		size_t len = bio->bi_io_vec[i].iov_len;

		while (len) {
			uint32_t off = (uint32_t)((p - cache->mem) & (PAGE_SIZE - 1));
			uint32_t n = (uint32_t)min_t(size_t, len, PAGE_SIZE - off);
			struct folio *f = folio_from_addr(cache, p);

			if (f)
				fn(f, n, arg);
			p += n;
			len -= n;
		}
	}
}

bool folio_test(const struct folio *folio, unsigned bit)
{
	return atomic_load((atomic_uint *)&folio->flags) & bit;
}

void folio_set_flag(struct folio *folio, unsigned bit)
{
	atomic_fetch_or(&folio->flags, bit);
}

/*
 * Clear @bit and wake everyone waiting on this folio.  Safe in the reaper.
 * Waiters sleep on the whole word, so all of them wake and re-check their
 * own bit (and set PG_waiters again if they must keep waiting).
 */
void folio_clear_flag_wake(struct folio *folio, unsigned bit)
{
	unsigned old = atomic_fetch_and(&folio->flags, ~bit);

	if (old & PG_waiters) {
		atomic_fetch_and(&folio->flags, ~PG_waiters);
		futex_wake(&folio->flags, FUTEX_WAKE_ALL);
	}
}

/*
 * Sleep until @bit is clear.  Task context; the caller must not hold a
 * mapping lock (the bit may need another folio's I/O to clear).
 */
void folio_wait_bit(struct folio *folio, unsigned bit)
{
	for (;;) {
		unsigned f = atomic_load(&folio->flags);

		if (!(f & bit))
			return;
		if (!(f & PG_waiters)) {
			f = atomic_fetch_or(&folio->flags, PG_waiters) | PG_waiters;
			if (!(f & bit))
				continue;	/* cleared meanwhile: re-check */
		}
		if (bit == PG_writeback)	/* may end in a task worker */
			blk_deferred_futex_wait(((struct cache *)folio->private)->dev,
						&folio->flags, f, 0);
		else
			futex_wait(&folio->flags, f, 0);
	}
}

bool folio_trylock(struct folio *folio)
{
	return !(atomic_fetch_or(&folio->flags, PG_locked) & PG_locked);
}

void folio_lock(struct folio *folio)
{
	might_sleep();
	while (!folio_trylock(folio))
		folio_wait_bit(folio, PG_locked);
}

/* Task or reaper (a read completion unlocks in the reaper). */
void folio_unlock(struct folio *folio)
{
	folio_clear_flag_wake(folio, PG_locked);
}

void folio_get(struct folio *folio)
{
	int old = atomic_fetch_add(&folio->refcount, 1);

	WARN_ON_ONCE(old <= 0);
}

/* Drop a reference; the last one frees the folio.  Task context. */
void folio_put(struct folio *folio)
{
	struct cache *cache;
	int old = atomic_fetch_sub(&folio->refcount, 1);

	if (WARN_ON_ONCE(old <= 0))
		return;
	if (old > 2)
		return;
	/* folio->private holds the owning cache (folio_arena_init). */
	cache = folio->private;
	if (old == 1)
		folio_free(cache, folio);
	else if (atomic_load(&cache->progress_waiters))
		cache_progress(cache);	/* only the index holds it now: evictable */
}

/* Memory may have become available: wake reclaim and throttled writers. */
void cache_progress(struct cache *cache)
{
	atomic_fetch_add(&cache->progress, 1);
	if (atomic_load(&cache->progress_waiters))
		futex_wake(&cache->progress, FUTEX_WAKE_ALL);
}

/*
 * Wait for cache_progress() after the caller sampled @seq, or @timeout_ms
 * (a safety net: a kick that found nothing to do wakes nobody).
 */
void cache_wait_progress(struct cache *cache, unsigned seq, unsigned timeout_ms)
{
	atomic_fetch_add(&cache->progress_waiters, 1);
	if (atomic_load(&cache->progress) == seq)	/* reclaim waits for writeback */
		blk_deferred_futex_wait(cache->dev, &cache->progress, seq,
					timeout_ms * 1000000ull);
	atomic_fetch_sub(&cache->progress_waiters, 1);
}
