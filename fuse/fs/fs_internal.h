/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Private to the filesystem object code in fuse/: struct fs and the
 * helpers that inode.c/extent.c/file.c/mount.c (the "data side") offer
 * dir.c/namei.c/xattr.c/fsck.c (the "namespace side").
 *
 * "In a section" means between meta_begin() and meta_end() (meta.h).
 */
#ifndef IOMAPFS_FS_INTERNAL_H
#define IOMAPFS_FS_INTERNAL_H

#include "fs.h"

struct fs {
	struct blk_dev		*dev;
	struct meta		*meta;
	struct cache		*cache;
	struct blk_inject	*inject;	/* error injection, over the device */
	bool			dev_borrowed;	/* fs_mount_dev: the caller closes dev */
	struct fs_mount_opts	opts;
	atomic_bool		shutdown;
	pthread_mutex_t		rename_lock;	/* renames between directories (namei.c) */

	/* icache_lock: a leaf.  Protects ihash and every cached inode's
	 * refcount, nlookup, nopen, freeing and loading (inode.c). */
	pthread_mutex_t		icache_lock;
	struct fs_inode		**ihash;
	size_t			ihash_size, nr_cached;
	pthread_cond_t		icache_wait;	/* an inode marked freeing left the hash */

	/* counters for fs_stats_for_each() */
	atomic_ulong		unwritten_converted;	/* ioend_complete calls that converted */
	atomic_ulong		blocks_allocated;	/* at writeback (delalloc) */
	atomic_ulong		fsyncs, commits_by_fsync;
	atomic_ulong		dio_fallbacks;	/* unaligned O_DIRECT done buffered */
	atomic_ulong		dio_bounced;	/* direct writes copied to aligned memory */
};

static inline bool fs_ro(const struct fs *fs) { return fs->opts.readonly; }

/* ---- write sections (inode.c) ---- */

/*
 * A write section over the inodes it changes, the per-object locking of
 * concurrent handles (meta.h): fs_section_begin() starts a handle
 * (meta_begin) and then takes the section lock of each of @ips in
 * inode-number order, skipping NULLs and repeats, so two sections over
 * overlapping sets cannot deadlock.  fs_section_adopt() adds an inode
 * created in the section (nobody else can hold its lock yet).
 * fs_section_end() drops the locks and then ends the handle (meta_end
 * may commit, which waits for every other handle).  Everything a section
 * changes belongs to an inode it locked, or has a lock of its own in the
 * metadata engine (tree, bitmap, counters).
 */
#define FS_SECTION_MAX	5
struct fs_section {
	struct meta	*m;
	struct fs_inode	*ip[FS_SECTION_MAX];
	unsigned	n;
};
void fs_section_begin(struct fs_section *s, struct fs *fs,
		      struct fs_inode *const *ips, unsigned n);
void fs_section_adopt(struct fs_section *s, struct fs_inode *ip);
void fs_section_end(struct fs_section *s);
/* One inode. */
static inline void fs_section_begin1(struct fs_section *s, struct fs_inode *ip)
{
	fs_section_begin(s, ip->fs, &ip, 1);
}
/*
 * After the sections of a request failed with -ENOSPC (outside them): if
 * a commit can make freed blocks allocatable, commit and say so, and the
 * caller runs its sections once more (meta_enospc_retry).  Counts tries.
 */
static inline bool fs_enospc_retry(struct fs *fs, int err, int *tries)
{
	return err == -ENOSPC && !(*tries)++ && meta_enospc_retry(fs->meta);
}

/* ---- inode.c ---- */

/*
 * In a section: allocate an inode number, fill ip->di from @args (times now,
 * nlink 1, or 2 for a directory; DONTCACHE from @parent's flags), insert its
 * INODE item, and return it referenced and hashed.  Directories and special
 * files get no mapping; regular files get one.
 */
int fs_inode_alloc(struct fs *fs, const struct fs_inode *parent,
		   const struct fs_create_args *args, struct fs_inode **out);
/* In a section: write ip->di (size from the mapping) and its extent map
 * (inline or as EXTENT items) to the tree; clears ip->dirty. */
int fs_inode_write(struct fs_inode *ip);
/*
 * Under ip->lock: the on-disk size (di.size) becomes @size, written by the
 * next fs_inode_write().  Regular files keep two sizes, as XFS keeps i_size
 * and i_disk_size: the mapping's grows at write(); di.size grows only when
 * the data below it is on the device (ioend completion, in the section that
 * converts its extents), or at truncate and fallocate, whose new range
 * reads as zeros.  So a crash never shows a size over data that never
 * reached the device.
 */
void fs_inode_set_disk_size_locked(struct fs_inode *ip, uint64_t size);
/* Set times to now: FS_TOUCH_* bits.  Marks dirty (no section needed). */
enum { FS_TOUCH_ATIME = 1, FS_TOUCH_MTIME = 2, FS_TOUCH_CTIME = 4 };
void fs_inode_touch(struct fs_inode *ip, unsigned which);
/*
 * In a section: nlink-- (and ctime); when it reaches 0 the inode becomes an
 * orphan (ORPHAN item) and is freed when nlookup and nopen are both 0 --
 * immediately if they already are.  Directories: the caller drops both
 * links (".") at rmdir.
 */
int fs_inode_drop_link(struct fs_inode *ip);
/* In a section: nlink++ (and ctime), removing an ORPHAN item if present. */
int fs_inode_add_link(struct fs_inode *ip);
/* Directory type for a mode: DT_REG, DT_DIR, ... */
unsigned fs_mode_to_dtype(mode_t mode);

/*
 * Data side, inode.c.  Rule for attributes: the data side writes every
 * attribute change in a section right away (the journal batches them);
 * fs_inode_touch() only marks the inode dirty, so callers inside a section
 * follow it with fs_inode_write().  Inodes still dirty are written at
 * fsync, syncfs, unmount and eviction, and by the flusher after their data
 * (fs_file_modified: a write's timestamps cost no section of their own).
 *
 * Lock order inside fs.h's: metadata lock -> fs_inode.lock -> icache_lock.
 * fs_iput() may free an unlinked inode (writeback, cache teardown, its own
 * sections): call it outside a section.
 */
/* Outside a section: write @ip in one if it is dirty and still linked
 * (the flusher's ->write_inode, eviction).  0 when there was nothing. */
int fs_inode_write_if_dirty(struct fs_inode *ip);
/* Write every dirty cached inode, one section each (syncfs, unmount). */
int fs_inode_write_dirty_all(struct fs *fs);
/* Free the inodes that ORPHAN items name (mount, after a crash). */
int fs_free_orphans(struct fs *fs);
/* Unmount: evict every cached inode, freeing unlinked ones on disk unless
 * the filesystem is shut down.  Returns the first error. */
int fs_inode_evict_all(struct fs *fs);

/* ---- extent.c ---- */

/* Count of allocated blocks (for st_blocks). */
uint64_t fs_extent_blocks(const struct fs_inode *ip);
/*
 * In a section: one bounded step of freeing the file blocks [fblk, *end)
 * (truncate, punch hole, freeing an inode): pieces are freed from the end
 * backwards, dropping delalloc reservations, the map stored after each,
 * until the range is empty or meta_section_full().  *end is lowered to
 * where it stopped (@fblk: done).  The caller writes the inode in the same
 * section, so every section leaves the file consistent: extents below
 * *end kept, none above it.  Takes ip->lock.
 */
int fs_extent_punch_step(struct fs_inode *ip, uint64_t fblk, uint64_t *end);
/* In a section: read the EXTENT items covering [fblk, end) into the
 * metadata cache, so the sections that change them next fail on no read.
 * 0 or -errno (-EIO, -EUCLEAN).  Takes ip->lock. */
int fs_extent_read_range(struct fs_inode *ip, uint64_t fblk, uint64_t end);
/* Make room for @more extents in ip->ext (a punch splitting one), so the
 * section that needs them cannot fail for memory.  Under ip->lock. */
int fs_ext_reserve(struct fs_inode *ip, uint32_t more);
/*
 * Delayed-allocation accounting.  A write into a hole reserves its data
 * blocks plus fs_delalloc_meta_blocks() of the inode's delalloc total
 * for the EXTENT items the allocation may need; ip->delalloc_meta holds
 * the latter.  fs_delalloc_sub_locked(): under ip->lock, @n delalloc
 * blocks left the map (allocated, punched, dropped); returns the metadata
 * blocks no longer needed, which the caller gives back with
 * alloc_unreserve() (together with the @n data blocks unless the
 * allocator consumed them).  fs_delalloc_trim_locked(): the same after
 * the delalloc total changed otherwise.
 */
uint64_t fs_delalloc_meta_blocks(uint64_t nr_delalloc);
uint64_t fs_delalloc_sub_locked(struct fs_inode *ip, uint64_t n);
uint64_t fs_delalloc_trim_locked(struct fs_inode *ip);
/* Under ip->lock: drop the delalloc pieces of [bs, be), whose folios are
 * gone (zero range) or whose data is lost (failed writeback).  Returns
 * the blocks to give back with alloc_unreserve(). */
uint64_t fs_delalloc_drop_locked(struct fs_inode *ip, uint64_t bs, uint64_t be);

/*
 * The in-memory extent map (ip->ext, sorted by fblk, no overlaps; adjacent
 * extents with the same state and contiguous pblk are always merged).
 * Callers hold ip->lock; these never touch the disk.
 */
#define FS_EXT_MAX_LEN	(1u << 30)	/* merge cap, blocks */
/* 0 and *ext = the extent containing @fblk, or -ENOENT and *ext = the hole
 * at @fblk (state meaningless, len up to the next extent, capped at
 * FS_EXT_MAX_LEN). */
int fs_ext_lookup(const struct fs_inode *ip, uint64_t fblk, struct fs_extent *ext);
/* Index of the first extent that ends after @fblk (ip->nr_ext if none). */
uint32_t fs_ext_search(const struct fs_inode *ip, uint64_t fblk);
/* Insert @ext into a hole (-EEXIST if it overlaps), merging neighbours. */
int fs_ext_insert(struct fs_inode *ip, const struct fs_extent *ext);
/* Remove [fblk, fblk + len), splitting extents at the ends; @fn (may be
 * NULL) sees every removed piece.  0 or -errno (-ENOMEM). */
typedef void (*fs_ext_fn)(void *ctx, const struct fs_extent *piece);
int fs_ext_remove(struct fs_inode *ip, uint64_t fblk, uint64_t len,
		  fs_ext_fn fn, void *ctx);
/* Change pieces of [fblk, fblk + len) in state @from to state @to,
 * splitting and merging.  Returns blocks changed or -errno. */
int64_t fs_ext_convert(struct fs_inode *ip, uint64_t fblk, uint64_t len,
		       unsigned from, unsigned to);
void fs_ext_map_free(struct fs_inode *ip);

/* In a section: load ip->ext from ip->di (inline) or EXTENT items / store
 * the written and unwritten extents back (delalloc stays in memory).
 * fs_extent_store updates ip->di.nr_extents/ext; both with ip->lock held. */
int fs_extent_load(struct fs_inode *ip);
int fs_extent_store(struct fs_inode *ip);

/* ---- file.c ---- */

/* The cache_mapping_ops of every regular file; the mapping's host is the
 * struct fs_inode. */
extern const struct cache_mapping_ops fs_file_mapping_ops;
/* After a data change (write, fallocate): mtime and ctime now, in memory
 * (the flusher, fsync or eviction writes them); clearing suid/sgid is
 * written in a section at once.  Outside a section. */
int fs_file_modified(struct fs_inode *ip, bool kill_suidgid);

/* ---- dir.c (namespace side) ---- */

/* In a section: add/remove/look up one entry; -EEXIST / -ENOENT. */
int fs_dir_add(struct fs *fs, uint64_t dir, const char *name, uint64_t ino,
	       unsigned dtype);
int fs_dir_remove(struct fs *fs, uint64_t dir, const char *name);
int fs_dir_find(struct fs *fs, uint64_t dir, const char *name, uint64_t *ino,
		unsigned *dtype);
bool fs_dir_is_empty(struct fs *fs, uint64_t dir);
/* In a section: 0 when fs_dir_add(@dir, @name) would succeed, else -EEXIST
 * or -ENOSPC (hash bucket full): lets a caller check before it changes
 * anything. */
int fs_dir_check_add(struct fs *fs, uint64_t dir, const char *name);
/* ENOSPC also when the tree may not grow by a new inode and entry
 * (meta_check_growth): the space reserved for dirty data stays theirs. */
/* The same operations on the metadata engine alone (fsck works without a
 * struct fs).  In a section. */
int __fs_dir_add(struct meta *m, uint64_t dir, const char *name, uint64_t ino,
		 unsigned dtype);
int __fs_dir_find(struct meta *m, uint64_t dir, const char *name, uint64_t *ino,
		  unsigned *dtype);
/* st_size of a directory: bytes accounted per entry. */
#define FS_DIRENT_SIZE	32
/* 56-bit name hash, never 0: cookies (hash << 8 | idx) stay >= 256 so they
 * never collide with "." (1) and ".." (2).  Used for dirents and xattrs. */
uint64_t fs_name_hash56(const char *name, size_t len);
/*
 * One hash bucket of named items (dirents, xattrs): keys (objectid, type,
 * hash56(name) << 8 | idx).  Set objectid, type and name_of (where the
 * name is inside a value: its length, or -1 if the value is malformed);
 * fs_bucket_find() fills the rest.
 */
struct fs_bucket {
	uint64_t		objectid;
	uint8_t			type;
	int			(*name_of)(const void *val, uint32_t len,
					   const char **name);
	struct iomapfs_key	key;		/* the match */
	uint32_t		val_len;
	unsigned		free_idx;	/* first unused slot; 256: full */
	_Alignas(8) uint8_t	val[IOMAPFS_ITEM_MAX];
};
/* In a section: 0 (found: key, val), -ENOENT (free_idx valid) or -errno. */
int fs_bucket_find(struct meta *m, struct fs_bucket *b, const char *name);

/* ---- namei.c (namespace side) ---- */

/* A file type an inode may have (S_IFMT part of @mode): what create
 * accepts and what fsck finds valid on disk. */
bool fs_mode_is_valid(uint32_t mode);

/* ---- xattr.c (namespace side) ---- */

/* In a section: set (or replace) xattr @name of @ip like fs_setxattr(),
 * without touching ctime or writing the inode. */
int fs_xattr_set_locked(struct fs *fs, struct fs_inode *ip, const char *name,
			const void *value, size_t size, int flags);
/* In a section: delete every XATTR and XATTR_DATA item of @ino (inode free). */
int fs_xattr_remove_all(struct fs *fs, uint64_t ino);

#endif /* IOMAPFS_FS_INTERNAL_H */
