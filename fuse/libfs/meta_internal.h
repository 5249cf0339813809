/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Private to the metadata engine (crc32c.c, buf.c, journal.c,
 * journal_replay.c, btree.c, alloc.c, super.c, mkfs.c): struct meta, the
 * metadata buffer and the helpers the files call in each other.  Nothing
 * outside fuse/meta*.c and the engine's own files includes this.
 */
#ifndef IOMAPFS_META_INTERNAL_H
#define IOMAPFS_META_INTERNAL_H

#include "meta.h"

#include <iomapfs/defaults.h>
#include <iomapfs/rwsem.h>

#include <pthread.h>
#include <string.h>

#define META_TREE_ID		1	/* blkhdr.owner of B+tree nodes */
#define META_MAX_HEIGHT		12	/* 126-way interior nodes: far beyond any device */
#define META_BUF_LIMIT_DEFAULT	(64u << 20)	/* clean buffers kept, bytes */
#define META_JOURNAL_MAX	65536	/* blocks: replay reads the journal into memory */

/*
 * A cached metadata block.  hnext, lru, refs, dirty and txn are under the
 * cache's lock (bc.lock); the contents are read in any section and
 * changed only in a write section holding the lock of what the block
 * holds: the tree lock for a B+tree node, the group's lock for a bitmap
 * block (buf.c says why that is enough).
 *
 * States:  clean, on the LRU (refs may be > 0 while a B+tree walk holds it)
 *          dirty: on meta->txn_list, off the LRU
 *          closed: clean again once a commit froze a copy of it, pinned
 *          (a reference) until that copy was written home (journal.c)
 */
struct mbuf {
	uint64_t		blkno;
	void			*data;		/* IOMAPFS_BLOCK_SIZE, 4096-aligned */
	struct mbuf		*hnext;		/* hash chain */
	struct list_head	lru;		/* clean buffers, oldest first */
	struct list_head	txn;		/* dirty buffers of the running txn */
	int			refs;
	bool			dirty;
	atomic_bool		checked;	/* btree.c validated the contents */
};

struct meta_bufcache {
	pthread_mutex_t		lock;		/* a leaf: see struct mbuf */
	struct mbuf		**hash;
	size_t			hash_size;	/* power of two */
	struct list_head	lru;
	size_t			nr_cached;
	size_t			limit;		/* in buffers */
};

/* A deferred free: blocks freed by transaction @seq, allocatable once
 * journal.c's invariant 3 lets them go (meta_alloc_release). */
struct meta_dfree {
	uint64_t	start, len, seq;
};

/*
 * In-memory free space (alloc.c).  busy[] has one bit per device block: 1
 * when the block is used on disk *or* freed by a transaction that is not
 * yet durable, so busy is what the allocator may not hand out.  The
 * on-disk bitmap blocks (journaled buffers) stay the truth.
 *
 * Lock order: meta->lock -> space_lock.  space_lock protects busy[],
 * group_free[], the counters and dfree[]: alloc_reserve()/meta_get_space()
 * use them without a section, and a commit releases frees into busy[]
 * holding only the journal's commit_lock.
 */
struct meta_alloc {
	uint64_t		*busy;
	uint64_t		nr_words;
	uint32_t		*group_free;	/* per bitmap block: zero bits in busy */
	uint64_t		nr_groups;
	uint64_t		data_start;	/* first block after the static area */
	uint64_t		goal_meta, goal_data;	/* next-to-previous placement; space_lock */
	pthread_mutex_t		space_lock;
	pthread_mutex_t		*group_lock;	/* per bitmap block: its buffer's contents */
	uint64_t		nr_free;	/* zero bits in busy */
	uint64_t		reserved;	/* delayed-allocation reservations */
	uint64_t		meta_reserve;
	struct meta_dfree	*dfree;		/* appended in sections, released by commits */
	size_t			nr_dfree, cap_dfree;
	uint64_t		dfree_blocks;	/* their total length, under space_lock */
	unsigned		fail_countdown;	/* meta_alloc_fail_after(); space_lock */
};

/*
 * A committed transaction that replay from the durable journal tail may
 * still re-apply (journal.c).  After a no_replay mount, one entry stands
 * for every old committed transaction applied in memory only
 * (first_seq..last_seq).  Its home blocks, sorted, tell which freed blocks
 * must stay busy until the durable tail has passed it: replaying its image
 * over a block reused for data would destroy the data.
 */
struct jtxn {
	uint64_t	first_seq, last_seq;
	uint64_t	pos, len;	/* its first journal block; length in blocks */
	uint64_t	*blknos;	/* home block numbers, sorted */
	size_t		nr;
};

/* A batch of bios in flight (buf.c, mio_*). */
struct meta_io {
	atomic_uint	pending;	/* futex word */
	atomic_int	err;
	enum bio_class	cls;		/* META or JOURNAL: tags every bio */
};

/* The home writes of the last commit, in flight (journal.c). */
struct meta_ckpt {
	struct meta_io		io;
	bool			busy;
	uint64_t		seq;		/* the transaction they checkpoint */
	void			*copies;	/* the images being written */
	struct mbuf		**pins;		/* their buffers, kept in the cache */
	size_t			nr_pins;
};

/*
 * One mounted filesystem.
 *
 * Lock order (docs/design.md, "Lock order"):
 *
 *	lock (the metadata rwsem: handles -- meta_begin -- take it shared,
 *	      meta_lock and a commit's close for writing)
 *	  -> [the callers' per-object locks: fs_inode.sect_lock]
 *	  -> commit_lock (the journal's I/O side; its holder never waits for
 *	     ->lock, so a write section may wait for it)
 *	    -> tree_lock (per B+tree call; a read section holds it shared
 *	       without ->lock; a commit's close takes it for writing)
 *	      -> alloc.group_lock[g] (a bitmap block's contents)
 *	        -> alloc.space_lock -> bc.lock (leaves; bc.lock never held
 *	           across I/O)
 *	h_lock (handle admission) is taken with ->lock held shared and
 *	nothing else, and dropped before any wait but its own condition.
 *
 * A commit outside a section takes ->lock for writing and then only tries
 * commit_lock; if a commit is in flight it drops ->lock and waits for
 * commit_lock alone (journal.c: commit_lock_both).  log_lock is only held
 * to sleep and is never held with the others.
 */
struct meta {
	struct blk_dev		*dev;
	struct rwsem		lock;
	pthread_mutex_t		commit_lock;
	struct iomapfs_super	sb;		/* in-memory copy; written at commit */
	struct iomapfs_super	sb_disk;	/* as of the last checkpoint */
	void			*sb_block;	/* aligned: the sb image of a commit */
	bool			readonly;
	uint64_t		nr_blocks;

	struct meta_bufcache	bc;
	struct list_head	txn_list;	/* dirty buffers of the running txn, */
	size_t			txn_nr;		/*  both under bc.lock */
	atomic_bool		sb_dirty;

	/*
	 * The B+tree's lock: its nodes, sb.root_node and sb.tree_height.
	 * btree_insert/delete/delete_range take it for writing and lookups
	 * for reading, each for one call; a read section holds it shared
	 * throughout, and a commit holds it for writing while it stamps and
	 * freezes the transaction's blocks.
	 */
	struct rwsem		tree_lock;

	/*
	 * Handle admission (journal.c, meta_begin): every write section is a
	 * handle on the running transaction and reserves h_budget journal
	 * blocks of it, as jbd2 handles reserve credits.  Under h_lock.
	 */
	pthread_mutex_t		h_lock;
	pthread_cond_t		h_cond;		/* a handle ended (h_gen moved) */
	unsigned		h_active;	/* handles running */
	size_t			h_credits;	/* blocks they reserved, in all */
	uint64_t		h_gen;
	unsigned		crash_countdown;	/* meta_crash_after_sections() */

	/* Journal (journal.c), under commit_lock; before the log thread
	 * starts and at unmount, single-threaded. */
	uint64_t		j_cap;		/* usable blocks: journal_blocks - 1 */
	uint64_t		j_head;		/* next free position, relative to journal_start */
	uint64_t		j_tail_seq;	/* the tail in the durable jsb */
	uint64_t		j_tail_pos;
	struct jtxn		*j_txns;	/* durable tail to j_head, oldest first */
	size_t			j_nr, j_alloc;
	bool			j_salvaged;	/* mount ignored a corrupt jsb */
	/* Transactions <= j_home_seq were written home; <= j_ckpt_seq also had
	 * a device flush complete after that (meta_commit's empty flush runs
	 * without commit_lock, hence atomics). */
	atomic_uint_fast64_t	j_home_seq;
	atomic_uint_fast64_t	j_ckpt_seq;
	struct meta_ckpt	j_ckpt;
	atomic_uint_fast64_t	running_seq;
	atomic_uint_fast64_t	durable_seq;
	atomic_bool		shutdown;
	void			*j_scratch;	/* aligned scratch block */
	atomic_bool		txn_preflush;	/* meta_txn_orders_data() in the running txn */

	struct meta_alloc	alloc;

	/* The log thread. */
	pthread_t		log_thread;
	bool			log_running;
	bool			log_stop;	/* under log_lock */
	unsigned		commit_interval_ms;
	bool			commit_each_section;	/* debug: meta_end() commits */
	pthread_mutex_t		log_lock;
	pthread_cond_t		log_cond;

	/* Counters: atomics, read relaxed. */
	atomic_uint_fast64_t	st_commits, st_jblocks, st_checkpoints, st_replayed;
	atomic_uint_fast64_t	st_preflushes, st_oversize, st_sections;
	atomic_uint_fast64_t	st_handle_waits, st_handles_max;
	atomic_uint_fast64_t	st_buf_hits, st_buf_misses, st_buf_cached, st_buf_ra;
};

/* ---- crc32c.c ---- */
uint32_t meta_crc_block(const void *block, size_t crc_off);
/* NULL when @block is a valid metadata block, else what is wrong with it. */
const char *meta_block_problem(struct meta *m, const void *block,
			       uint32_t magic, uint64_t blkno);
void meta_super_set_crc(void *block);
bool meta_super_crc_ok(const void *block);

/* ---- buf.c ---- */
void *meta_alloc_block(void);		/* 4096-aligned, zeroed; aborts on OOM */
int mbuf_cache_init(struct meta *m, size_t limit_bytes);
void mbuf_cache_destroy(struct meta *m);
/* Read (or find) block @blkno, verified against @magic (0: no check).
 * Returns the buffer with a reference, or ERR_PTR(-EUCLEAN / -EIO). */
struct mbuf *mbuf_read(struct meta *m, uint64_t blkno, uint32_t magic);
/* A buffer for a freshly allocated block: zeroed, not read. */
struct mbuf *mbuf_new(struct meta *m, uint64_t blkno);
void mbuf_get(struct meta *m, struct mbuf *b);
void mbuf_put(struct meta *m, struct mbuf *b);
/* Add @b to the running transaction (call after or before changing it,
 * in the same section). */
void mbuf_mark_dirty(struct meta *m, struct mbuf *b);
/* @b was written home: clean, back on the LRU. */
void mbuf_mark_clean(struct meta *m, struct mbuf *b);
/* Block @blkno was freed: drop its buffer, dirty or not (never written). */
void mbuf_forget(struct meta *m, uint64_t blkno);
/* Drop every dirty buffer of the running transaction (shutdown). */
void mbuf_drop_dirty(struct meta *m);

/* Read the uncached blocks of @blknos in one batch (walks over siblings). */
void mbuf_readahead(struct meta *m, const uint64_t *blknos, size_t n, uint32_t magic);

/*
 * Batched block I/O with bios (journal, checkpoint, readahead; struct
 * meta_io above).
 * mio_submit() moves @n blocks between @bufs[] and consecutive device
 * blocks from @blkno; mio_wait() waits for every bio and returns the first
 * error.  Task context.
 */
void mio_init(struct meta_io *io, enum bio_class cls);
void mio_submit(struct meta_io *io, struct blk_dev *dev, enum req_op op,
		uint64_t blkno, void *const *bufs, size_t n);
int mio_wait(struct meta_io *io);

/* ---- journal.c ---- */
/* The metadata lock for writing: no handle runs (mount, unmount, fsck's
 * repairs, a commit's close). */
void meta_lock(struct meta *m);
void meta_unlock(struct meta *m);
/* Does the calling thread hold the metadata lock for writing / that or a
 * handle (meta_begin), so that it may change metadata / any section or
 * the lock, so that it may read the B+tree? */
bool meta_lock_held(struct meta *m);
bool meta_may_modify(struct meta *m);
bool meta_lock_held_any(struct meta *m);
/* alloc.c: the blocks meta_check_growth() reserved for the calling
 * thread's handle (NULL outside one); what is left goes back at its end. */
uint64_t *meta_handle_growth(struct meta *m);
void meta_release_growth(struct meta *m, uint64_t *growth);
/* btree.c: may the B+tree grow by @n blocks for the calling thread? */
bool meta_tree_may_grow(struct meta *m, uint64_t n);
/* buf.c: a buffer joined the running transaction (the handle's count). */
void meta_handle_dirtied(struct meta *m);
/* btree.c: the tree lock around one call, unless the caller's read section
 * holds it (returns whether it was taken, for meta_tree_unlock). */
bool meta_tree_lock(struct meta *m, bool modify);
void meta_tree_unlock(struct meta *m, bool modify, bool taken);
/* meta_commit() for a holder of the metadata lock (for writing), which it
 * keeps throughout: new sections wait for the whole commit. */
int meta_commit_locked(struct meta *m);
/* Unmount: flush the home writes and leave the journal empty (a clean tail). */
int meta_journal_checkpoint_all(struct meta *m);
void meta_journal_destroy(struct meta *m);
int meta_log_start(struct meta *m);
void meta_log_stop(struct meta *m);
/* Write the superblock (primary and copy) directly, outside the journal. */
int meta_write_super_direct(struct meta *m);
void meta_fill_blkhdr(struct meta *m, void *block, uint64_t blkno, uint32_t magic,
		      uint64_t owner);

/* ---- journal_replay.c ---- */
int meta_journal_replay(struct meta *m, bool write, bool salvage);

/* ---- alloc.c ---- */
int meta_alloc_load(struct meta *m);
void meta_alloc_destroy(struct meta *m);
/* Release the frees of transactions <= @seq: journal.c decides when, by
 * its invariant 3. */
void meta_alloc_release(struct meta *m, uint64_t seq);
/* Free blocks on disk (bitmap truth, including deferred frees). */
uint64_t meta_alloc_disk_free(struct meta *m);
uint64_t meta_reserve_for(uint64_t nr_blocks);

/* ---- super.c ---- */
void meta_super_to_block(const struct iomapfs_super *sb, void *block);
int meta_super_check_geometry(const struct iomapfs_super *sb, uint64_t dev_blocks,
			      const char **why);
/* NULL when a superblock image from the journal may be replayed. */
const char *meta_super_replay_problem(struct meta *m, const void *block);

static inline uint64_t meta_bitmap_groups(uint64_t nr_blocks)
{
	return DIV_ROUND_UP(nr_blocks, IOMAPFS_BITMAP_BITS);
}

static inline void *blk_ptr(struct mbuf *b, size_t off)
{
	return (char *)b->data + off;
}

#endif /* IOMAPFS_META_INTERNAL_H */
