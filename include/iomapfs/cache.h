/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The private page cache (cache/): folios, mappings, buffered read/write,
 * reclaim, dirty throttling, the flusher, writeback and ioends.
 *
 * Mirrors mm/filemap.c, mm/page-writeback.c and fs/iomap/buffered-io.c +
 * ioend.c.  The cache knows nothing of the on-disk format: the filesystem
 * hands each mapping an ops table (cache_mapping_ops), as XFS hands iomap
 * its iomap_ops and iomap_writeback_ops.
 *
 * Threads: cache_* entry points are called from task context (FUSE request
 * threads, workers).  The flusher "iomapfs-flush" runs writeback.  The
 * reaper only runs the bio completions registered here (end writeback,
 * mark uptodate, unlock, wake); everything else is deferred to workers with
 * bio_complete_in_task().
 */
#ifndef IOMAPFS_CACHE_H
#define IOMAPFS_CACHE_H

#include <iomapfs/bio.h>

#define PAGE_SHIFT	12
#define PAGE_SIZE	(1u << PAGE_SHIFT)	/* one folio; a "block" is the fs's unit */

struct cache;
struct cache_mapping;

/*
 * Folio flags (folio->flags, atomic).  The state machine is drawn in
 * the design; PG_locked is a bit with a futex wait queue, not a mutex: the
 * reaper unlocks a folio that a request thread locked for a read.
 */
enum {
	PG_locked	= 1u << 0,
	PG_uptodate	= 1u << 1,
	PG_dirty	= 1u << 2,
	PG_writeback	= 1u << 3,
	PG_dropbehind	= 1u << 4,
	PG_referenced	= 1u << 5,
	PG_waiters	= 1u << 6,
	PG_error	= 1u << 7,
};

/* Fields are owned by cache/; the filesystem reads ->index and ->data only. */
struct folio {
	atomic_uint		flags;
	atomic_int		refcount;
	struct cache_mapping	*mapping;
	uint64_t		index;		/* file offset >> PAGE_SHIFT */
	void			*data;		/* PAGE_SIZE bytes in the folio arena */
	struct list_head	lru;
	void			*private;	/* cache/-internal */
	/*
	 * Bytes of this folio in ioends not yet completed, plus a bias of 1
	 * while the writeback loop works on it (iomap_folio_state's
	 * write_bytes_pending): writeback ends when it drops to 0.
	 */
	atomic_uint		write_bytes_pending;
};

static inline uint64_t folio_pos(const struct folio *folio)
{
	return folio->index << PAGE_SHIFT;
}

/* ---- mapping ranges to the device: the iomap ---- */

#define IOMAP_NULL_ADDR	UINT64_MAX

enum iomap_type {
	IOMAP_HOLE,		/* no blocks: reads as zeros */
	IOMAP_DELALLOC,		/* space reserved, not allocated: data is in the cache */
	IOMAP_MAPPED,		/* written blocks at ->addr */
	IOMAP_UNWRITTEN,	/* allocated, reads as zeros until converted */
};

enum {
	IOMAP_F_NEW		= 1u << 0,	/* blocks newly allocated by this call */
	IOMAP_F_BOUNDARY	= 1u << 1,	/* never merge an ioend across ->offset */
};

struct iomap {
	uint64_t	offset;		/* file offset, bytes */
	uint64_t	length;		/* bytes, > 0 */
	uint64_t	addr;		/* device byte address of ->offset, or IOMAP_NULL_ADDR */
	uint16_t	type;		/* enum iomap_type */
	uint16_t	flags;		/* IOMAP_F_* */
};

enum {
	CACHE_MAP_READ	= 1u << 0,	/* buffered read / readahead */
	CACHE_MAP_WRITE	= 1u << 1,	/* buffered write: reserve space for delalloc */
	CACHE_MAP_DIRECT = 1u << 2,	/* direct I/O: with WRITE, allocate now */
};

/* ->dio_end_io flags: what a completed direct write asks of the filesystem. */
enum {
	CACHE_DIO_END_UNWRITTEN	= 1u << 0,	/* it wrote into unwritten extents */
	CACHE_DIO_END_SIZE	= 1u << 1,	/* it moved i_size (already in the mapping) */
};

/* ---- ioends: runs contiguous in file and on disk, with equal flags ---- */

enum {
	IOEND_F_UNWRITTEN	= 1u << 0,	/* convert to written on completion (worker) */
	IOEND_F_DROPBEHIND	= 1u << 1,	/* invalidate the folios on completion (worker) */
	IOEND_F_BOUNDARY	= 1u << 2,	/* do not merge with the previous ioend */
	IOEND_F_SIZE		= 1u << 3,	/* ends past the on-disk size: the fs moves
						 * it on completion (worker); set by
						 * ->writeback_submit, kept by merging */
};
#define IOEND_NOMERGE_FLAGS	(IOEND_F_UNWRITTEN | IOEND_F_DROPBEHIND)

struct ioend {
	struct list_head	io_list;	/* ioends merged into this one */
	struct cache_mapping	*io_mapping;
	uint16_t		io_flags;
	uint64_t		io_offset;	/* file offset, bytes */
	uint64_t		io_size;	/* bytes, clamped to EOF */
	uint64_t		io_sector;	/* device sector of io_offset */
	int			io_error;
	struct bio		io_bio;		/* must be last: its vecs follow */
};

static inline struct ioend *ioend_from_bio(struct bio *bio)
{
	return container_of(bio, struct ioend, io_bio);
}

/* Per-call writeback state, as iomap_writeback_ctx. */
struct writeback_ctx {
	struct iomap		iomap;		/* the filesystem's current mapping */
	struct cache_mapping	*mapping;
	const struct cache_mapping_ops *ops;
	void			*wb_ctx;	/* the ioend being built (cache/ owns it) */
	uint32_t		nr_folios;	/* folios added to the current ioend */
	bool			sync;		/* data integrity writeback (fsync) */
	void			*fs_private;	/* for the filesystem */
};

/*
 * The filesystem's side of a mapping.
 */
struct cache_mapping_ops {
	/*
	 * Required.  Task context; the caller holds no folio lock.  Map the
	 * file range starting at @pos (up to @len bytes) into *iomap, which
	 * must cover @pos.  CACHE_MAP_READ: report what is there.
	 * CACHE_MAP_WRITE: a buffered write is about to dirty this range; for
	 * a hole the filesystem reserves space (delayed allocation) and reports
	 * IOMAP_DELALLOC, or fails with -ENOSPC / -EDQUOT before any data is
	 * copied.  CACHE_MAP_WRITE | CACHE_MAP_DIRECT: a direct write; a hole
	 * or delalloc range gets blocks now, recorded unwritten (a crash before
	 * ->dio_end_io reads zeros), and is reported IOMAP_UNWRITTEN: never
	 * HOLE or DELALLOC.  Returns 0 or -errno.
	 */
	int (*map_begin)(struct cache_mapping *m, uint64_t pos, uint64_t len,
			 unsigned flags, struct iomap *iomap);

	/*
	 * Required.  Flusher or fsync thread.  Map the dirty range
	 * [@pos, @pos + @len) of @folio (locked, under writeback) into
	 * wpc->iomap, allocating blocks for delalloc ranges (as unwritten
	 * extents, so a crash before completion exposes zeros), then add it to
	 * the ioend with cache_add_to_ioend().  May handle less than @len.
	 * @end_pos is EOF.  Returns bytes handled or -errno.
	 */
	ssize_t (*writeback_range)(struct writeback_ctx *wpc, struct folio *folio,
				   uint64_t pos, uint32_t len, uint64_t end_pos);

	/*
	 * Required.  Submit the ioend built in wpc->wb_ctx; with @error != 0
	 * complete it with that error instead.  Most filesystems just call
	 * cache_ioend_writeback_submit().  Returns 0 or -errno.
	 */
	int (*writeback_submit)(struct writeback_ctx *wpc, int error);

	/*
	 * Optional.  Worker context (never the reaper), no cache locks held.
	 * Called once per completed ioend that has IOEND_F_UNWRITTEN or
	 * IOEND_F_SIZE, after adjacent ioends of the same batch were merged:
	 * convert [io_offset, io_offset + io_size) to written and move the
	 * on-disk size up to its end, in one transaction (xfs_end_ioend).
	 * @error is the I/O result; on error the filesystem leaves the range
	 * unwritten.  Returns 0 or -errno (recorded as a writeback error).
	 */
	int (*ioend_complete)(struct ioend *ioend, int error);

	/*
	 * Optional (required for direct writes to holes, unwritten extents or
	 * past EOF).  Task context: the request thread that issued and waited
	 * for the direct write, or a worker when nobody waits; no cache locks
	 * held.  A direct write of [@pos, @pos + @len) completed with @error.
	 * CACHE_DIO_END_UNWRITTEN: convert the range to written;
	 * CACHE_DIO_END_SIZE: the mapping's size grew to cover it.  Persist
	 * both in one transaction; on error leave the range unwritten.
	 * Returns 0 or -errno (the write's result).
	 */
	int (*dio_end_io)(struct cache_mapping *m, uint64_t pos, uint64_t len,
			  unsigned flags, int error);

	/*
	 * Optional.  The flusher thread, no cache locks held, the mapping
	 * pinned.  Called after the flusher wrote back the data of a mapping
	 * marked with cache_mapping_mark_inode_dirty() (the kernel's
	 * write_inode from writeback_single_inode): persist the attributes
	 * the filesystem kept dirty in memory (timestamps).  It may find
	 * them clean already (fsync wrote them).  Returns 0 or -errno
	 * (recorded as a writeback error).
	 */
	int (*write_inode)(struct cache_mapping *m);
};

/* Called by ->writeback_range: append @len bytes of @folio at @pos to the
 * current ioend, or submit it and start a new one. */
ssize_t cache_add_to_ioend(struct writeback_ctx *wpc, struct folio *folio,
			   uint64_t pos, uint64_t end_pos, uint32_t len);
/* The generic ->writeback_submit. */
int cache_ioend_writeback_submit(struct writeback_ctx *wpc, int error);

/* ---- the cache ---- */

/* A zero field takes its default from <iomapfs/defaults.h>. */
struct cache_config {
	uint64_t	size_bytes;		/* folio arena */
	unsigned	dirty_background_pct;	/* flusher starts */
	unsigned	dirty_pct;		/* writers throttled */
	unsigned	dirty_expire_ms;
	unsigned	flush_interval_ms;
	uint32_t	max_ioend_bytes;	/* ioend size cap */
	uint32_t	readahead_bytes;
	bool		dontcache_all;		/* -o dontcache */
};

int cache_create(const struct cache_config *cfg, struct blk_dev *dev,
		 struct cache **out);
/* Stops the flusher; every mapping must have been destroyed. */
void cache_destroy(struct cache *cache);

struct cache_mapping *cache_mapping_create(struct cache *cache,
					   const struct cache_mapping_ops *ops,
					   void *host);
/*
 * Drop every folio (waiting for writeback); dirty data is discarded, so
 * the caller writes back first if it wants it.  Waits until the flusher no
 * longer uses the mapping.
 */
void cache_mapping_destroy(struct cache_mapping *m);
void *cache_mapping_host(const struct cache_mapping *m);
struct cache *cache_mapping_cache(const struct cache_mapping *m);
/* The number messages name the mapping by (the inode number); 0 if unset. */
void cache_mapping_set_ino(struct cache_mapping *m, uint64_t ino);

/* i_size lives here, like the VFS inode's; the filesystem persists it. */
uint64_t cache_mapping_size(const struct cache_mapping *m);
void cache_mapping_set_size(struct cache_mapping *m, uint64_t size);
/* Drop-behind for one file; with cache_config.dontcache_all it stays on. */
void cache_mapping_set_dontcache(struct cache_mapping *m, bool on);
bool cache_mapping_dontcache(const struct cache_mapping *m);
bool cache_mapping_has_dirty(const struct cache_mapping *m);
/*
 * The filesystem changed attributes in memory only (a write's mtime, as
 * __mark_inode_dirty(I_DIRTY_SYNC)): the flusher calls ->write_inode once
 * the mapping is due, even when its data was written back by someone
 * else meanwhile (a drop-behind kick).  Cheap when already marked.
 */
void cache_mapping_mark_inode_dirty(struct cache_mapping *m);

/*
 * Buffered read of up to @len bytes at @pos (clamped to i_size).  Fills
 * @res with referenced folios and iovecs pointing into folio memory, for a
 * zero-copy FUSE reply (folios next to each other in the arena, as a
 * sequentially filled file's mostly are, share one iovec); cache_read_done() drops the references (and frees
 * drop-behind folios).  Returns bytes or -errno (a read error).  It waits
 * for memory rather than returning short; a read is cut short only by an
 * I/O error after its first folio, or when the cache holds fewer than
 * twice the folios of the request (readers may pin half the arena).
 * The caller serialises it against writes to the same bytes (the inode's
 * rw lock): the copy into a folio and the copy out of it do not lock.
 */
struct cache_read_result {
	struct cache_mapping *mapping;	/* set by cache_read() for cache_read_done() */
	unsigned	nr;		/* folios referenced */
	unsigned	nr_iov;		/* segments: folios adjacent in memory are one */
	size_t		bytes;
	struct folio	*folios[288];	/* enough for 1 MiB unaligned */
	struct iovec	iov[288];
};
ssize_t cache_read(struct cache_mapping *m, uint64_t pos, size_t len,
		   struct cache_read_result *res);
void cache_read_done(struct cache_read_result *res);

/*
 * Buffered write: map (CACHE_MAP_WRITE), read-modify-write partial blocks
 * only when the block is mapped and below EOF, copy, dirty, extend i_size.
 * Throttles when dirty memory is over the limit.  Returns bytes written or
 * -errno (short writes return the bytes done).
 */
ssize_t cache_write(struct cache_mapping *m, uint64_t pos, const void *buf,
		    size_t len);

/*
 * Direct I/O (direct-io.c): read or write [@pos, @pos + @len) between @buf
 * and the device, bypassing the folios, coherent with buffered users of
 * the same file.  @pos and @len must be multiples of PAGE_SIZE and @buf
 * aligned to the device's logical block size, else -ENOTBLK: the caller
 * falls back to buffered I/O (as iomap_dio_rw's callers do).  A read stops
 * at EOF.  The caller holds the inode's rw lock (shared for a read,
 * exclusive for a write).
 *
 * @iocb NULL: synchronous; the caller waits and runs the completion work
 * itself (IOCB_DIO_DEFER); returns bytes or -errno.  With @iocb: returns
 * -EIOCBQUEUED (or an error before any I/O) and @iocb->ki_complete is
 * called once with the result, in the reaper (a read) or a task worker
 * (a write, an error).
 */
#define EIOCBQUEUED	529	/* the kernel's value; not a user errno */
struct cache_dio_iocb {
	void	(*ki_complete)(struct cache_dio_iocb *iocb, ssize_t ret);
	void	*private;
};
ssize_t cache_dio_rw(struct cache_mapping *m, uint64_t pos, void *buf,
		     size_t len, bool write, struct cache_dio_iocb *iocb);

/* Zero [pos, pos+len) in cached folios (partial blocks at truncate/punch). */
int cache_zero_range(struct cache_mapping *m, uint64_t pos, uint64_t len);
/*
 * Remove folios wholly inside [start, end) from the cache, waiting for their
 * writeback and discarding dirty data (truncate down, punch hole).
 */
void cache_truncate_range(struct cache_mapping *m, uint64_t start, uint64_t end);

/*
 * Write back dirty folios in [start, end) and, if @wait, wait for all
 * writeback there to finish.  The same loop the flusher runs.  Returns 0 or
 * the first error seen by this call.
 */
int cache_write_and_wait_range(struct cache_mapping *m, uint64_t start,
			       uint64_t end, bool wait);
/* Write back every dirty mapping and wait (syncfs, unmount). */
int cache_sync_all(struct cache *cache);

/*
 * Writeback errors, errseq-style: each open file samples the mapping's
 * sequence at open; check_and_advance returns the error once per sample
 * holder for every error recorded after its sample.
 */
typedef uint32_t errseq_t;
errseq_t cache_errseq_sample(struct cache_mapping *m);
int cache_errseq_check_and_advance(struct cache_mapping *m, errseq_t *since);
void cache_mapping_set_error(struct cache_mapping *m, int error);

/* cachestat(2)-like per-file counters, in pages. */
struct cache_mapping_stat {
	uint64_t cached, dirty, writeback, evicted;
};
void cache_mapping_get_stat(struct cache_mapping *m, struct cache_mapping_stat *st);

/*
 * Why a completion of the cache's was handed to a task worker with
 * bio_complete_in_task().  The block layer only counts deferrals; the
 * reasons are the cache's, like the kernel's iomap users that decide
 * for themselves when a bio must complete in task context.
 */
enum cache_defer_reason {
	CACHE_DEFER_DROPBEHIND,		/* writeback of drop-behind folios */
	CACHE_DEFER_ERROR,		/* writeback error */
	CACHE_DEFER_UNWRITTEN,		/* unwritten-extent conversion */
	CACHE_DEFER_READ_ERROR,
	CACHE_DEFER_DIO,		/* a direct write or error nobody waits for */
	CACHE_DEFER_SIZE,		/* write past the on-disk size: the fs moves it */
	CACHE_DEFER_NR
};

struct cache_stats {
	uint64_t pages_total, pages_resident, pages_dirty, pages_writeback;
	uint64_t hits, misses, readahead_pages;
	uint64_t ioends_built, ioends_merged, ioends_submitted;
	uint64_t evicted, dropbehind_freed, throttled;
	uint64_t read_errors, write_errors;
	uint64_t deferred[CACHE_DEFER_NR];
	/* Direct I/O, and where each completion ran (direct-io.c). */
	uint64_t dio_reads, dio_writes;
	uint64_t dio_done_issuer, dio_done_reaper, dio_done_worker;
};
void cache_get_stats(struct cache *cache, struct cache_stats *st);
void cache_stats_for_each(const struct cache_stats *st,
			  void (*fn)(void *ctx, const char *name, uint64_t val), void *ctx);

#endif /* IOMAPFS_CACHE_H */
