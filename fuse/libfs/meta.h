/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The metadata engine: superblock, metadata buffer cache, journal, the
 * B+tree of items and the free-space allocator.  Used by the filesystem
 * objects (inode.c, dir.c, xattr.c, extent.c), mkfs and fsck.
 *
 * Concurrency, as jbd2's handles and transactions:
 *  - A write section, meta_begin() to meta_end(), is a handle on the
 *    running transaction.  Handles run concurrently: meta_begin() takes
 *    the metadata lock shared and reserves journal credits; a commit takes
 *    the lock for writing only to close the transaction, so it closes when
 *    every handle in it has ended, and a handle is atomic on disk.  The
 *    handles of one transaction commit together.
 *  - The engine's own state has its own locks: the B+tree a tree lock
 *    (each btree_* call takes it, exclusive for a change), each bitmap
 *    block a group lock, free space and the superblock counters
 *    space_lock, the buffer cache and the transaction's list bc.lock.
 *  - Callers lock the objects a section changes (the filesystem's
 *    per-inode section locks, fs/fs.h) after meta_begin() and drop them
 *    before meta_end(): a handle never waits for a lock held by a thread
 *    waiting in meta_begin(), and meta_end() may commit.
 *  - A section must check its preconditions (ENOENT, EEXIST, ENOSPC, ...)
 *    before it changes anything: there is no rollback.  Metadata blocks
 *    needed by B+tree splits come from a reserve that data allocations
 *    cannot touch, so a section that passed its checks does not fail
 *    halfway for lack of space.
 *  - A read section, meta_begin_read() to meta_end_read(), holds the tree
 *    lock shared and may only look up and iterate the B+tree (lookup,
 *    readdir, getxattr, readlink, loading an inode).  It sees every
 *    B+tree call complete or not started, not every handle: a reader that
 *    needs several items of one object to agree holds that object's lock
 *    shared.
 *  - A commit writes the journal, flushes and checkpoints after dropping
 *    the metadata lock, while new handles fill the next transaction.
 *
 * Never wait for data I/O in a section.  Journal and metadata I/O
 * complete in the reaper without locks, so waiting for them is fine.
 *
 * Lock order (docs/design.md, "Lock order"): inode rwsem -> folio lock
 * -> a handle (the metadata lock) -> inode section locks, by inode number
 * -> the tree lock -> inode lock -> inode-hash lock; inside this engine
 * the metadata lock -> the journal's commit lock -> the tree lock -> a
 * group lock -> alloc.space_lock -> the buffer cache's lock
 * (meta_internal.h).  The cache's mapping lock is never held when a
 * section starts.
 */
#ifndef IOMAPFS_META_H
#define IOMAPFS_META_H

#include <iomapfs/bio.h>
#include <iomapfs/format.h>
#include <iomapfs/progress.h>
#include <pthread.h>

struct meta;

/* crc32c (Castagnoli) as in format.h: crc32c(~0, ...) then ~. */
uint32_t crc32c(uint32_t crc, const void *buf, size_t len);
/* Fill hdr->crc for a metadata block / check it (also magic, blkno, uuid). */
void meta_block_set_crc(void *block);
int meta_block_verify(struct meta *m, const void *block, uint32_t magic,
		      uint64_t blkno);	/* 0, -EUCLEAN (bad crc/magic/uuid) or -EIO */

/* ---- format, mount, unmount ---- */

struct mkfs_opts {
	const char	*label;
	uint64_t	journal_blocks;	/* 0: 1% of the device, within the
					 * bounds in <iomapfs/defaults.h> */
	bool		force;		/* overwrite an existing filesystem */
	struct progress	progress;	/* optional: the bitmap write, in blocks */
};
/* Write a new filesystem on @dev: superblocks, journal, bitmap, the B+tree
 * root and the root directory inode (mode 0755 root:root). */
int meta_mkfs(struct blk_dev *dev, const struct mkfs_opts *opts);
/* Does @dev already hold an iomapfs superblock? (for mkfs without -f) */
bool meta_probe(struct blk_dev *dev);

struct meta_mount_opts {
	bool		readonly;	/* fsck -n: never write, not even replay */
	unsigned	commit_interval_ms;	/* 0 = no log thread; the daemon uses
					 * IOMAPFS_DEFAULT_COMMIT_INTERVAL_MS */
	bool		no_replay;	/* fsck: report a dirty journal instead of replaying
					 * (its commits apply in memory); a corrupt
					 * journal superblock is ignored, not fatal */
	bool		salvage_journal;	/* fsck -y: a corrupt journal superblock
					 * is reported and the log ignored (its
					 * uncheckpointed transactions are lost)
					 * instead of failing the mount */
	uint64_t	buf_cache_bytes;	/* clean metadata buffers kept; 0 = 64 MiB */
	bool		commit_each_section;	/* debug (-o commit=each_section):
					 * meta_end() commits every section, so a
					 * write log shows every section boundary */
};
/*
 * Read and verify the superblock (magic, version, features, crc; a bad
 * primary falls back to the copy), replay the journal, load the free-space
 * bitmap.  Clear errors on stderr for a foreign or corrupt image: -EINVAL
 * (not iomapfs), -EUCLEAN (corrupt), -EOPNOTSUPP (unknown incompat
 * feature).  Starts the "iomapfs-log" thread that commits every
 * commit_interval_ms.
 */
int meta_mount(struct blk_dev *dev, const struct meta_mount_opts *opts,
	       struct meta **out);
/* Commit, checkpoint, flush, leave the journal empty (a clean tail), mark
 * clean, free everything.  Returns the first error. */
int meta_unmount(struct meta *m);
struct blk_dev *meta_dev(struct meta *m);
const struct iomapfs_super *meta_super(struct meta *m);	/* in-memory copy */
/* fsck found nothing left to repair: drop the ERROR mark, so the unmount
 * that follows records the filesystem clean (e2fsck clears its flag). */
void meta_clear_error(struct meta *m);
/*
 * Did this mount find the journal superblock corrupt and ignore the log
 * (salvage_journal or no_replay)?  A writable mount has already written a
 * new journal superblock, an empty log, in its place: fsck counts that as
 * a problem corrected.
 */
bool meta_journal_was_salvaged(struct meta *m);

/* ---- transactions ---- */

/*
 * A section's blocks must fit in the journal: meta_end() commits once the
 * running transaction passes half the journal (after every section with
 * meta_mount_opts.commit_each_section), and meta_begin() admits a handle
 * only while the transaction has room for its credits (an eighth of the
 * journal, 127 blocks at the smallest).  Work that may need more (freeing
 * or converting the extents of a fragmented file) is a chain of sections,
 * each ending when meta_section_full() says so and each leaving a
 * consistent filesystem, as XFS rolls its transactions.  A section that
 * outgrows the journal anyway is never written in place: its commit is
 * refused and the filesystem shuts down (a message says so).
 * Sections do not nest.
 */
void meta_begin(struct meta *m);	/* starts a handle; may wait for a commit */
void meta_end(struct meta *m);		/* ends it; may commit if the txn is large */
/* A read section: the tree lock shared, for btree_lookup() and
 * btree_next() only.  Read sections do not nest either. */
void meta_begin_read(struct meta *m);
void meta_end_read(struct meta *m);
/* Most blocks one step of a chained operation may dirty (a few bitmap
 * blocks, a B+tree path with its siblings, the inode's leaf). */
#define META_SECTION_STEP_MAX	16
/*
 * In a section: has it dirtied so many blocks that one more step of at
 * most META_SECTION_STEP_MAX blocks could make it outgrow its share of the
 * journal?  The caller ends the section (consistent) and starts another.
 */
bool meta_section_full(struct meta *m);
/*
 * In a section: the running transaction makes data reachable that was
 * written outside the journal (an unwritten extent converted to written,
 * an on-disk size that grows over written data).  Its commit then flushes
 * the device before it writes the commit block, as jbd2's pre-flush does,
 * so a volatile write cache cannot persist the commit without that data.
 */
void meta_txn_orders_data(struct meta *m);
/*
 * Make every section that ended so far durable: write the running
 * transaction to the journal, flush the device (once; twice when the
 * transaction exposes data, meta_txn_orders_data), then start the home
 * writes without waiting for them (the next commit does) or for another
 * flush.
 * Takes the metadata lock itself (call it outside a section).  With nothing
 * to commit it still flushes the device (fsync relies on that for its
 * data).  Blocks freed by transactions committed so far are allocatable
 * when it returns (an ENOSPC retry relies on that).
 * Returns 0 or -errno; after an I/O error the filesystem is shut down
 * (every later call -EIO).
 */
int meta_commit(struct meta *m);
/*
 * fsync: make transaction @seq (a meta_running_seq() value read in or
 * after the section that changed the inode) durable.  Nothing to do
 * when it is already; when it is being committed, wait for that commit
 * (no new one); when it is still running, commit it.  Either way the
 * device is flushed after the call (the caller's data).  0 or -errno.
 */
int meta_commit_seq(struct meta *m, uint64_t seq);
/* Sequence number of the running transaction / of the last durable one:
 * fsync commits only if its inode was changed in a txn not yet durable. */
uint64_t meta_running_seq(struct meta *m);
uint64_t meta_durable_seq(struct meta *m);
/*
 * Test hook for crash tests, never called by the daemon: write the running
 * transaction to the journal and flush like meta_commit(), but do not
 * checkpoint, then shut the filesystem down as if the machine had crashed
 * there.  With @torn the commit block is left out (the transaction was
 * torn before its commit block reached the device).  The caller then calls
 * meta_unmount() (which writes nothing and returns -EIO) and mounts again
 * to see the replay.
 */
int meta_commit_no_checkpoint(struct meta *m, bool torn);
/*
 * Test hook for crash tests, never called by the daemon: the @n-th
 * meta_end() from now (counting every thread's sections) commits the
 * running transaction without checkpointing it and shuts the filesystem
 * down, as if the machine had crashed right after that section's commit
 * reached the device.  A test calls it with 1, 2, 3, ... around one
 * operation to crash at each of its section boundaries; 0 cancels.
 * With sections running concurrently the crash also takes the others
 * that ended by then; the tests that use it run one at a time.
 */
void meta_crash_after_sections(struct meta *m, unsigned n);
/*
 * Test hook for error-path tests, never called by the daemon: from the
 * @n-th block allocation from now on (data or metadata, any thread), every
 * allocation fails with -EIO, as if the bitmap block it needed could not
 * be read, until a call with 0.  Lets a test fail an operation that
 * allocates in pieces part way through, with no later retry succeeding
 * behind its back.
 */
void meta_alloc_fail_after(struct meta *m, unsigned n);
/* Stop all metadata I/O (FS_IOC_SHUTDOWN); later calls fail with -EIO. */
void meta_shutdown(struct meta *m);
bool meta_is_shutdown(struct meta *m);

/* ---- the B+tree (inside a section; lookups in a read section too) ---- */

struct iomapfs_key;
static inline struct iomapfs_key meta_key(uint64_t objectid, uint8_t type,
					  uint64_t offset)
{
	struct iomapfs_key k = { .objectid = objectid, .offset = offset, .type = type };
	return k;
}
/* Order: objectid, then type, then offset. */
int meta_key_cmp(const struct iomapfs_key *a, const struct iomapfs_key *b);

/* Copy the value of @key into @val (up to *len bytes); *len = its size.
 * 0 or -ENOENT. */
int btree_lookup(struct meta *m, const struct iomapfs_key *key, void *val,
		 uint32_t *len);
/* Insert, or replace the value of an existing key.  @len <= IOMAPFS_ITEM_MAX. */
int btree_insert(struct meta *m, const struct iomapfs_key *key,
		 const void *val, uint32_t len);
/* 0 or -ENOENT. */
int btree_delete(struct meta *m, const struct iomapfs_key *key);
/*
 * First item with key >= *key and key <= *max: copies key and value out.
 * 0, or -ENOENT when there is none.  Iterate by setting key->offset + 1
 * (meta_key_next()) and calling again.
 */
int btree_next(struct meta *m, struct iomapfs_key *key,
	       const struct iomapfs_key *max, void *val, uint32_t *len);
void meta_key_next(struct iomapfs_key *key);
/* Delete every item in [*lo, *hi]; returns the count or -errno.  May be
 * called repeatedly with a bound on work to keep transactions small. */
long btree_delete_range(struct meta *m, const struct iomapfs_key *lo,
			const struct iomapfs_key *hi);

/* ---- free space (inside a section, except the counters) ---- */

/*
 * Allocate up to @max_len contiguous blocks, at least @min_len, near
 * @goal (0: anywhere).  Returns 0 with *start and *len set, or -ENOSPC.  Data
 * allocations (@meta false) cannot dip into the metadata reserve.
 */
int alloc_extent(struct meta *m, uint64_t goal, uint64_t min_len,
		 uint64_t max_len, bool meta, uint64_t *start, uint64_t *len);
/*
 * Outside a section, after one failed with -ENOSPC: were blocks freed by
 * transactions that are not durable yet?  Then commit, which makes them
 * allocatable, and return true so the caller runs its section once more,
 * as ext4_should_retry_alloc().  A section cannot commit itself: the
 * commit waits for every handle, and another handle may be waiting for an
 * object lock this one holds.
 */
bool meta_enospc_retry(struct meta *m);
/* Free blocks; they become allocatable only after the transaction that
 * freed them is durable (a crash must not find them overwritten). */
int free_extent(struct meta *m, uint64_t start, uint64_t len);
/*
 * Delayed-allocation reservations: reserve @n blocks for dirty data that
 * will be allocated at writeback, without a section.  -ENOSPC when the free
 * space minus reservations minus the metadata reserve is short.
 * alloc_extent(..., reserved=true) consumes from the reservation.
 */
int alloc_reserve(struct meta *m, uint64_t n);
void alloc_unreserve(struct meta *m, uint64_t n);
int alloc_extent_reserved(struct meta *m, uint64_t goal, uint64_t max_len,
			  uint64_t *start, uint64_t *len);
/*
 * In a section, before its first change: may a user's request grow the
 * B+tree by up to @nr_items new items of @nr_bytes values in total?
 * -ENOSPC unless that fits beside the delalloc reservations and the
 * metadata reserve, which stay for writeback (ext4 keeps its dirty and
 * reserved clusters from non-delalloc allocations the same way).  Once
 * it passed, the section's allocations may use the reserve, so it does
 * not fail halfway.  In a handle, what passed is also reserved for it
 * until meta_end(): concurrent handles cannot take it meanwhile, and its
 * own B+tree growth draws on it first.
 */
int meta_check_growth(struct meta *m, uint64_t nr_items, uint64_t nr_bytes);

struct meta_space {
	uint64_t total_blocks, free_blocks, reserved_blocks, meta_reserve;
	uint64_t tree_free;	/* free - reserved: what B+tree growth may take */
	uint64_t bfree;		/* free + freed-not-durable - reserved: statfs f_bfree */
	uint64_t avail_blocks;	/* bfree - meta_reserve: statfs f_bavail */
	uint64_t nr_inodes;	/* the superblock's count */
};
void meta_get_space(struct meta *m, struct meta_space *sp);

/* Inode numbers (inside a section). */
uint64_t meta_alloc_ino(struct meta *m);
void meta_inodes_changed(struct meta *m, int64_t delta);

/* ---- fsck support ---- */

/*
 * Walk the whole B+tree verifying every node (crc, magic, blkno, key order,
 * parent/child key bounds, levels).  Calls @item for every leaf item in
 * key order and marks every tree block in @used (1 bit per device block,
 * caller-allocated, nr_blocks bits).  Returns the number of problems found.
 */
long meta_check_tree(struct meta *m, uint8_t *used,
		     void (*item)(void *ctx, const struct iomapfs_key *key,
				  const void *val, uint32_t len),
		     void *ctx);
/* Mark superblocks, journal and bitmap blocks in @used. */
void meta_mark_static(struct meta *m, uint8_t *used);
/*
 * Compare @used with the on-disk bitmap: blocks used but free (cross-links
 * ahead) and blocks marked allocated but unused (leaks).  With @fix, rewrite
 * the bitmap from @used (in a section, committed).  Returns problems found.
 */
long meta_check_bitmap(struct meta *m, const uint8_t *used, bool fix, FILE *log);

struct meta_stats {
	uint64_t commits, journal_blocks_written, checkpoints, replayed_txns;
	uint64_t sections;		/* meta_begin() calls: handles started */
	uint64_t handles_max;		/* most handles running at once */
	uint64_t handle_waits;		/* meta_begin() calls that waited for room */
	uint64_t preflushes;		/* commits flushed data before their commit block */
	uint64_t oversize_refused;	/* sections too big for the journal: shut down */
	uint64_t buf_hits, buf_misses, buf_cached;
	uint64_t buf_readahead;		/* of buf_misses: read in batches ahead of use */
};
void meta_get_stats(struct meta *m, struct meta_stats *st);

#endif /* IOMAPFS_META_H */
