/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The filesystem's objects: in-memory inodes, directories, symlinks,
 * xattrs, extent maps, and the cache ops that map file ranges to blocks.
 * Built on the metadata engine (meta.h) and the page cache (cache.h);
 * used by the FUSE glue (ops.c) and by fsck.
 *
 * All functions are task context, return 0 or -errno (ssize_t: bytes or
 * -errno), and check permissions only where noted: FUSE mounts use
 * default_permissions, so the kernel checks mode bits and ACLs; the
 * filesystem enforces what the kernel cannot (sticky bits are the kernel's
 * too, ownership changes are checked by ops.c from the request context).
 *
 * Inode lifetime, as libfuse passthrough_hp: every entry reply increments
 * nlookup (fs_iget_lookup), forget decrements it; an inode with nlookup 0,
 * no open files and nlink 0 is freed on disk (its blocks and items);
 * nlookup going below zero is a bug (warn, -EIO).
 *
 * Lock order (outermost first; docs/design.md, "Lock order"):
 *
 *	fs.rename_lock (a rename between two directories)
 *	  -> fs_inode.rwsem (writes, truncate, fallocate exclusive; reads shared)
 *	    -> folio lock -> cache_mapping.lock ... (cache/internal.h)
 *	    -> a handle: meta_begin (taken under a folio lock by
 *	       ->writeback_range)
 *	      -> fs_inode.sect_lock of each inode the section changes, in
 *	         inode-number order (fs_section_begin); shared by a reader
 *	         that needs several items of one inode to agree (getxattr)
 *	        -> the tree lock (each B+tree call; meta_begin_read holds it
 *	           shared throughout)
 *	          -> fs_inode.lock
 *	            -> fs.icache_lock (a leaf)
 *
 * fs_inode.lock is held across B+tree calls (the extent map stored under
 * it), so a read section never takes it.  meta_begin() is never called
 * with fs_inode.lock or a section lock held.
 */
#ifndef IOMAPFS_FS_H
#define IOMAPFS_FS_H

#include <iomapfs/cache.h>
#include <iomapfs/rwsem.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/types.h>
#include "meta.h"

struct fs;

struct fs_extent {		/* in-memory extent, as the incore extent tree */
	uint64_t	fblk, pblk;	/* pblk meaningless for delalloc */
	uint32_t	len;
	uint32_t	state;		/* FS_EXT_WRITTEN / UNWRITTEN / DELALLOC */
};
enum { FS_EXT_WRITTEN, FS_EXT_UNWRITTEN, FS_EXT_DELALLOC };

struct fs_inode {
	uint64_t		ino;
	struct fs		*fs;
	struct rwsem		rwsem;		/* see lock order above */
	struct rwsem		sect_lock;	/* held (exclusive) by a write section that
						 * changes this inode's items or attributes:
						 * the per-object lock of concurrent handles */
	pthread_mutex_t		lock;		/* di, dirty, last_txn, the extent map and
						 * the data-side fields below */
	/* Under fs.icache_lock (not ->lock): */
	uint64_t		nlookup;	/* FUSE lookup count */
	unsigned		refcount;	/* in-memory users: lookups, opens, internal */
	unsigned		nopen;
	/* Under ->lock: */
	struct iomapfs_dinode	di;		/* attributes; for regular files di.size is
						 * the on-disk size (XFS's i_disk_size),
						 * the mapping holds i_size */
	bool			dirty;		/* di differs from disk */
	uint64_t		last_txn;	/* running seq when last changed: fsync needs commit? */
	struct fs_extent	*ext;		/* sorted by fblk, no overlaps */
	uint32_t		nr_ext, cap_ext;
	struct cache_mapping	*mapping;	/* regular files only */
	struct fs_inode		*hash_next;

	/* Data side (inode.c/extent.c), under ->lock unless noted. */
	bool			freeing;	/* being evicted; under fs.icache_lock */
	bool			loading;	/* hashed, being read from disk; under fs.icache_lock */
	bool			data_freed;	/* unlinked and closed: blocks already
						 * freed, items wait for forget */
	bool			ext_in_tree;	/* EXTENT items exist on disk */
	uint64_t		ext_dirty_lo;	/* file blocks whose extents changed */
	uint64_t		ext_dirty_hi;	/*  since the last store (lo > hi: none) */
	uint64_t		delalloc_blocks;	/* reserved, not yet allocated */
	uint64_t		delalloc_meta;		/* reserved for their extent items */
	uint64_t		ext_seq;	/* bumped by every extent map change:
						 * writeback revalidates its cached iomap */
	uint64_t		last_data_txn;	/* like last_txn, for changes of size or
						 * extents only: fdatasync needs commit? */
	bool			disk_size_changed;	/* di.size changed since the last write */

	/* The FUSE glue's view of the kernel's page cache (-o kernel_cache,
	 * fuse/daemon/kernel_cache.c), under ->lock. */
	uint64_t		kc_gen;		/* bumped by each data change the
						 * kernel's page cache did not see */
	uint64_t		kc_open_gen;	/* kc_gen at the last kernel-cached open */
	bool			kc_cached;	/* the kernel may hold pages of it */
};

/*
 * When reads and readdir move atime, as the kernel's mount flags say:
 * relatime (the default) when atime is not newer than mtime or ctime or is
 * a day old; strictatime always; noatime never; nodiratime never for
 * directories.  lazytime keeps the new atime in memory until the inode is
 * written for another reason (fsync, eviction, unmount, a change).
 */
enum fs_atime_mode { FS_ATIME_RELATIME, FS_ATIME_STRICT, FS_ATIME_NOATIME };

struct fs_mount_opts {
	struct cache_config	cache;
	struct blk_dev_config	blk;
	struct meta_mount_opts	meta;
	bool			readonly;
	enum fs_atime_mode	atime;
	bool			nodiratime, lazytime;
};

/* Open @dev_path, mount the metadata engine and the cache. */
int fs_mount(const char *dev_path, const struct fs_mount_opts *opts, struct fs **out);
/*
 * The same on a device the caller opened and will close (the fuzz target
 * keeps one open across inputs): no error injection layer is stacked, and
 * fs_unmount() leaves the device open.
 */
int fs_mount_dev(struct blk_dev *dev, const struct fs_mount_opts *opts, struct fs **out);
/* Write back everything, commit, unmount, close the device (unless
 * fs_mount_dev() borrowed it). */
int fs_unmount(struct fs *fs);
/* FS_IOC_SHUTDOWN (we implement NOLOGFLUSH: stop at once; what was fsynced
 * or committed survives, nothing later reaches the device).  Every later
 * call fails with -EIO. */
void fs_shutdown(struct fs *fs);
bool fs_is_shutdown(struct fs *fs);
struct meta *fs_meta(struct fs *fs);
struct cache *fs_cache(struct fs *fs);
struct blk_dev *fs_dev(struct fs *fs);
/* The device's error injector (trusted.iomapfs.inject on the root). */
struct blk_inject *fs_inject(struct fs *fs);

/* ---- inodes ---- */

/* Get an inode by number with a reference; -ENOENT if it does not exist. */
int fs_iget(struct fs *fs, uint64_t ino, struct fs_inode **out);
void fs_iput(struct fs_inode *ip);
/* Another reference to an inode the caller holds one on (igrab); returns @ip. */
struct fs_inode *fs_igrab(struct fs_inode *ip);
/* nlookup bookkeeping for FUSE lookup/forget; forget drops @n lookups and
 * frees the inode when unused. */
void fs_inode_lookup_inc(struct fs_inode *ip);
void fs_forget(struct fs *fs, uint64_t ino, uint64_t n);
/*
 * The numbers of the inodes the kernel holds (nlookup > 0) at the time of
 * the call, in a kmalloc'ed array for the caller to kfree; *nr gets the
 * count.  For telling the kernel about changes it did not ask for (the
 * daemon invalidates them after a shutdown).
 */
uint64_t *fs_inodes_known(struct fs *fs, size_t *nr);
void fs_inode_open(struct fs_inode *ip);
void fs_inode_release(struct fs_inode *ip);	/* last close of an unlinked file frees it */
void fs_fill_stat(struct fs_inode *ip, struct stat *st);

/* Call @fn on every cached inode, each referenced and no lock held. */
void fs_for_each_inode(struct fs *fs, void (*fn)(void *ctx, struct fs_inode *ip),
		       void *ctx);

/* Mark in-memory attributes dirty; they reach disk in the running txn. */
int fs_inode_mark_dirty(struct fs_inode *ip);
/* Change IOMAPFS_INODE_* flags (set wins over clear); a change updates ctime
 * and is written in a section.  *old (optional) gets the previous flags. */
int fs_set_inode_flags(struct fs_inode *ip, uint32_t set, uint32_t clear,
		       uint32_t *old);

/* ---- namespace (all take and drop their own locks) ---- */

struct fs_create_args {
	mode_t		mode;		/* full mode incl. S_IFMT; umask already applied */
	dev_t		rdev;
	uid_t		uid;
	gid_t		gid;		/* ops.c applies setgid-directory inheritance */
	const char	*symlink;	/* target for S_IFLNK */
	/* xattrs the new inode is born with (inherited ACLs), stored in the
	 * create's own section */
	const struct fs_xattr_init {
		const char	*name;
		const void	*value;
		size_t		size;
	}		*xattrs;
	unsigned	nr_xattrs;
};
int fs_lookup(struct fs *fs, uint64_t dir, const char *name, struct fs_inode **out);
/* Create a file, directory, symlink or special node; -EEXIST, -ENAMETOOLONG,
 * -ENOSPC, -EMLINK.  New files inherit DONTCACHE from the directory. */
int fs_create(struct fs *fs, uint64_t dir, const char *name,
	      const struct fs_create_args *args, struct fs_inode **out);
int fs_link(struct fs *fs, uint64_t ino, uint64_t newdir, const char *name,
	    struct fs_inode **out);
int fs_unlink(struct fs *fs, uint64_t dir, const char *name);
int fs_rmdir(struct fs *fs, uint64_t dir, const char *name);	/* -ENOTEMPTY */
/* @flags: 0, RENAME_NOREPLACE or RENAME_EXCHANGE; -EINVAL for a directory
 * moved under itself; replaces an empty directory target. */
int fs_rename(struct fs *fs, uint64_t dir, const char *name, uint64_t newdir,
	      const char *newname, unsigned flags);
ssize_t fs_readlink(struct fs *fs, uint64_t ino, char *buf, size_t size);

/*
 * readdir: entries with cookie > @pos in cookie order; "." and ".." have
 * cookies 1 and 2, other cookies are stable hash-based values below 2^63
 * (valid lseek offsets), so telldir/seekdir survive concurrent changes.  @fill returns non-zero to stop
 * (buffer full); the entry it refused is returned again next time.
 */
typedef int (*fs_filldir_t)(void *ctx, const char *name, uint64_t ino,
			    unsigned dtype, uint64_t cookie);
int fs_readdir(struct fs *fs, uint64_t dir, uint64_t pos, fs_filldir_t fill, void *ctx);

/* ---- attributes ---- */

struct fs_setattr {
	unsigned	valid;		/* FS_SET_* */
	mode_t		mode;
	uid_t		uid;
	gid_t		gid;
	uint64_t	size;
	struct timespec	atime, mtime;	/* UTIME_NOW honoured */
	/* With FS_SET_MODE: the access ACL rewritten for the new mode
	 * (posix_acl_chmod), replaced in the same section; NULL: none. */
	const void	*acl;
	size_t		acl_len;
};
enum {
	FS_SET_MODE = 1, FS_SET_UID = 2, FS_SET_GID = 4, FS_SET_SIZE = 8,
	FS_SET_ATIME = 16, FS_SET_MTIME = 32, FS_SET_CTIME_ONLY = 64,
	FS_SET_KILL_SUIDGID = 128,	/* clear setuid/setgid (write/truncate by non-owner) */
};
int fs_setattr(struct fs *fs, uint64_t ino, const struct fs_setattr *sa);

/* ---- data ---- */

/* A read or readdir of @ip happened: move atime as the mount's policy
 * says (struct fs_mount_opts).  Best effort: a lost atime is no loss. */
void fs_inode_accessed(struct fs_inode *ip);
/* Would a read of @ip move its atime now?  (-o kernel_cache asks, to
 * let such a read reach the daemon.) */
bool fs_inode_atime_due(struct fs_inode *ip);

ssize_t fs_read(struct fs_inode *ip, uint64_t pos, size_t len,
		struct cache_read_result *res);
/* Hold @ip for a read whose reply points into its folios: a reference and
 * the rwsem shared, until fs_read_unhold() after the reply (file.c says
 * why the reference).  The caller holds a reference (its open file). */
struct fs_inode *fs_read_hold(struct fs_inode *ip);
void fs_read_unhold(struct fs_inode *ip);
/* Updates mtime/ctime, extends size; -EFBIG past IOMAPFS_MAX_FILE_SIZE. */
ssize_t fs_write(struct fs_inode *ip, uint64_t pos, const void *buf, size_t len,
		 bool kill_suidgid);
/*
 * O_DIRECT (cache_dio_rw): bypass the cache, coherent with buffered users.
 * fs_dio_read fills @buf (aligned to the device's logical block size) and
 * returns -ENOTBLK for a range that is not block-aligned: the caller reads
 * buffered instead.  fs_dio_write takes any buffer and range: an unaligned
 * one is written through the cache, written back and invalidated before it
 * returns.  Counted as dio_fallbacks in fs_stats_for_each().
 */
ssize_t fs_dio_read(struct fs_inode *ip, uint64_t pos, void *buf, size_t len);
ssize_t fs_dio_write(struct fs_inode *ip, uint64_t pos, const void *buf,
		     size_t len, bool kill_suidgid);
/* Write back, wait, commit the inode's metadata if needed, flush the device.
 * Returns the writeback error once per @since holder (errseq). */
int fs_fsync(struct fs_inode *ip, bool datasync, errseq_t *since);
int fs_syncfs(struct fs *fs);
/* mode: 0, FALLOC_FL_KEEP_SIZE, PUNCH_HOLE|KEEP_SIZE, ZERO_RANGE[|KEEP_SIZE];
 * anything else -EOPNOTSUPP. */
int fs_fallocate(struct fs_inode *ip, int mode, uint64_t off, uint64_t len);
/* SEEK_DATA / SEEK_HOLE; -ENXIO past the end. */
int64_t fs_lseek(struct fs_inode *ip, int64_t off, int whence);

/* ---- xattrs: full names ("user.foo"); flags XATTR_CREATE/XATTR_REPLACE ---- */
int fs_setxattr(struct fs *fs, uint64_t ino, const char *name, const void *value,
		size_t size, int flags);
/* size 0: return the value's size; -ERANGE if @size is too small; -ENODATA. */
ssize_t fs_getxattr(struct fs *fs, uint64_t ino, const char *name, void *value,
		    size_t size);
ssize_t fs_listxattr(struct fs *fs, uint64_t ino, char *list, size_t size);
int fs_removexattr(struct fs *fs, uint64_t ino, const char *name);
/*
 * Set xattr @name (@value non-NULL) or remove it (@value NULL; none stored
 * is fine then, unless XATTR_REPLACE) and, with @mode, set the permission
 * bits, in one section: a POSIX ACL and the mode it implies never
 * disagree after a crash.
 */
int fs_setxattr_mode(struct fs *fs, uint64_t ino, const char *name,
		     const void *value, size_t size, int flags, const mode_t *mode);

struct statvfs;
int fs_statfs(struct fs *fs, struct statvfs *st);

/* Counters for iomapfs-stat, beyond the cache's and block layer's. */
void fs_stats_for_each(struct fs *fs,
		       void (*fn)(void *ctx, const char *name, uint64_t val), void *ctx);

#endif /* IOMAPFS_FS_H */
