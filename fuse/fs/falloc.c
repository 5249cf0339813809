// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Changing a file's space: fs_setattr (attributes, and truncate through
 * FS_SET_SIZE) and fs_fallocate (preallocate, punch hole, zero range).
 *
 * All of them hold ip->rwsem for writing, so no buffered write races with
 * them; the flusher may still be writing back folios outside the range.
 * The order is always: check what the sections can fail on, fix up the
 * cache (zero partial blocks, drop whole folios, waiting for their
 * writeback), then change the extent map and the inode together, in
 * sections bounded by the journal (meta_section_full), each of which
 * leaves a consistent file if a commit and a crash follow it.  A folio
 * dropped from the cache can no longer reach writeback, so a block freed
 * in a section is never written again.
 *
 * Partial blocks are zeroed in the cache: cache_zero_range() reads a block
 * that holds data on disk, zeroes and dirties the range, and ordinary
 * writeback puts it on disk.  This also covers the bytes past the old EOF
 * when a file grows, so truncate down then up reads zeros in the gap.
 *
 * Task context (FUSE request threads).
 */
#include <linux/falloc.h>
#include <sys/xattr.h>
#include <string.h>
#include <time.h>
#include "fs_internal.h"

#define BLK_SHIFT	IOMAPFS_BLOCK_SHIFT
#define BLK_SIZE	IOMAPFS_BLOCK_SIZE
#define ALLOC_PER_SECTION	64	/* extents allocated per section (fallocate) */

/* Zero [pos, end) inside one block, below EOF, in the cache. */
static int zero_partial(struct fs_inode *ip, uint64_t pos, uint64_t end)
{
	uint64_t size = cache_mapping_size(ip->mapping);

	end = min_t(uint64_t, end, size);
	if (pos >= end)
		return 0;
	return cache_zero_range(ip->mapping, pos, end - pos);
}

/* Zero from @pos to the end of its block (nothing if @pos is aligned). */
static int zero_block_tail(struct fs_inode *ip, uint64_t pos)
{
	if (!(pos & (BLK_SIZE - 1)))
		return 0;
	return zero_partial(ip, pos, ALIGN_UP(pos, (uint64_t)BLK_SIZE));
}

/* ---- freeing a range: truncate and punch ---- */

/*
 * Check what the sections of a free can fail on before anything changes:
 * room in the extent map for a split, and the extent items read (the
 * metadata I/O that could fail).  In-memory state (cached folios, i_size)
 * changes only after this succeeded; an error after that point is a
 * broken invariant or a dead device, and shuts the filesystem down rather
 * than let a half-freed file reach the disk.
 */
static int free_range_prepare(struct fs_inode *ip, uint64_t fblk, uint64_t end)
{
	struct fs_section sect;
	int err;

	fs_section_begin1(&sect, ip);
	pthread_mutex_lock(&ip->lock);
	err = fs_ext_reserve(ip, 2);
	pthread_mutex_unlock(&ip->lock);
	if (!err)
		err = fs_extent_read_range(ip, fblk, end);
	fs_section_end(&sect);
	return err;
}

/* The on-disk size while a truncate to @size is freeing blocks from the
 * end and has got down to file block @end: the file still holds its old
 * data below that, so a crash shows a partly done truncate, never blocks
 * past EOF.  Once @done, exactly @size: the range between the old on-disk
 * size and @size holds no written block (ioend completion grows the size
 * with each conversion), so it reads as zeros, as a truncate promises. */
static uint64_t truncate_disk_size(const struct fs_inode *ip, uint64_t size,
				   uint64_t end, bool done)
{
	uint64_t mapped = end >= (UINT64_MAX >> BLK_SHIFT) ? UINT64_MAX : end << BLK_SHIFT;

	if (done)
		return size;
	return max_t(uint64_t, size, min_t(uint64_t, ip->di.size, mapped));
}

/*
 * Free [fblk, end) in a chain of sections, each a bounded step from the
 * end that writes the inode with it (extents and, for a truncate to
 * @size, the on-disk size), so a commit between two of them leaves a
 * consistent file.  @truncate: also lower the on-disk size.
 */
static int free_range(struct fs_inode *ip, uint64_t fblk, uint64_t end,
		      bool truncate, uint64_t size)
{
	struct fs_section sect;
	int err;

	do {
		fs_section_begin1(&sect, ip);
		err = fs_extent_punch_step(ip, fblk, &end);
		if (!err && truncate) {
			pthread_mutex_lock(&ip->lock);
			fs_inode_set_disk_size_locked(ip, truncate_disk_size(ip, size, end,
										   end <= fblk));
			pthread_mutex_unlock(&ip->lock);
		}
		if (!err)
			err = fs_inode_write(ip);
		fs_section_end(&sect);
	} while (!err && end > fblk);
	if (err && !fs_is_shutdown(ip->fs)) {
		WARN_ON_ONCE(1);	/* past the checks: nothing may fail */
		fs_shutdown(ip->fs);
	}
	return err;
}

static int truncate_down(struct fs_inode *ip, uint64_t size)
{
	uint64_t keep = ALIGN_UP(size, (uint64_t)BLK_SIZE);
	int err = free_range_prepare(ip, keep >> BLK_SHIFT, UINT64_MAX);

	if (!err)
		err = zero_block_tail(ip, size);
	if (err)
		return err;
	cache_truncate_range(ip->mapping, keep, UINT64_MAX);
	cache_mapping_set_size(ip->mapping, size);
	return free_range(ip, keep >> BLK_SHIFT, UINT64_MAX, true, size);
}

/* Under ip->rwsem: set i_size, freeing blocks past it or zeroing the old
 * tail block's bytes past the old EOF.  A new size above the old one goes
 * to disk at once (the caller writes the inode): the range it adds reads
 * as zeros. */
static int file_set_size(struct fs_inode *ip, uint64_t size)
{
	uint64_t old = cache_mapping_size(ip->mapping);

	if (size < old)
		return truncate_down(ip, size);
	if (size > old) {
		cache_mapping_set_size(ip->mapping, size);
		pthread_mutex_lock(&ip->lock);
		fs_inode_set_disk_size_locked(ip, size);
		pthread_mutex_unlock(&ip->lock);
		return zero_partial(ip, old, min_t(uint64_t, size,
					ALIGN_UP(old, (uint64_t)BLK_SIZE)));
	}
	return 0;
}

/* ---- setattr ---- */

static void ts_set(int64_t *sec, uint32_t *nsec, const struct timespec *ts,
		   const struct timespec *now)
{
	const struct timespec *t = ts->tv_nsec == UTIME_NOW ? now : ts;

	if (ts->tv_nsec == UTIME_OMIT)
		return;
	*sec = t->tv_sec;
	*nsec = t->tv_nsec;
}

/* Under ip->lock: apply everything but the size. */
static void setattr_apply_locked(struct fs_inode *ip, const struct fs_setattr *sa,
				 bool size_changed)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	if (sa->valid & FS_SET_MODE)
		ip->di.mode = (ip->di.mode & S_IFMT) | (sa->mode & 07777);
	if (sa->valid & FS_SET_UID)
		ip->di.uid = sa->uid;
	if (sa->valid & FS_SET_GID)
		ip->di.gid = sa->gid;
	if (sa->valid & FS_SET_KILL_SUIDGID) {
		ip->di.mode &= ~S_ISUID;
		if (ip->di.mode & S_IXGRP)
			ip->di.mode &= ~S_ISGID;
	}
	if (sa->valid & FS_SET_ATIME)
		ts_set(&ip->di.atime_sec, &ip->di.atime_nsec, &sa->atime, &now);
	if (sa->valid & FS_SET_MTIME)
		ts_set(&ip->di.mtime_sec, &ip->di.mtime_nsec, &sa->mtime, &now);
	if (size_changed) {
		ip->di.mtime_sec = now.tv_sec;
		ip->di.mtime_nsec = now.tv_nsec;
	}
	if (sa->valid) {	/* ctime on every change */
		ip->di.ctime_sec = now.tv_sec;
		ip->di.ctime_nsec = now.tv_nsec;
	}
	ip->dirty = true;
}

/* One section: the ACL that goes with a new mode first (the step that can
 * fail), then the attributes and the inode. */
static int setattr_write(struct fs_inode *ip, const struct fs_setattr *sa,
			 bool size_changed)
{
	struct fs_section sect;
	int err, tries = 0;

	do {
		err = 0;
		fs_section_begin1(&sect, ip);
		if (sa->acl && (sa->valid & FS_SET_MODE))
			err = fs_xattr_set_locked(ip->fs, ip, "system.posix_acl_access",
						  sa->acl, sa->acl_len, XATTR_REPLACE);
		if (!err) {
			pthread_mutex_lock(&ip->lock);
			setattr_apply_locked(ip, sa, size_changed);
			pthread_mutex_unlock(&ip->lock);
			err = fs_inode_write(ip);
		}
		fs_section_end(&sect);
	} while (fs_enospc_retry(ip->fs, err, &tries));
	return err;
}

static int setattr_check(struct fs_inode *ip, const struct fs_setattr *sa)
{
	if (!(sa->valid & FS_SET_SIZE))
		return 0;
	if (S_ISDIR(ip->di.mode))
		return -EISDIR;
	if (!ip->mapping)
		return -EINVAL;
	return sa->size > IOMAPFS_MAX_FILE_SIZE ? -EFBIG : 0;
}

int fs_setattr(struct fs *fs, uint64_t ino, const struct fs_setattr *sa)
{
	struct fs_inode *ip;
	bool size_changed = false;
	int err;

	if (fs_is_shutdown(fs))
		return -EIO;
	if (fs_ro(fs))
		return -EROFS;
	err = fs_iget(fs, ino, &ip);
	if (err)
		return err;
	err = setattr_check(ip, sa);
	if (err)
		goto out_put;
	down_write(&ip->rwsem);
	if (sa->valid & FS_SET_SIZE) {
		size_changed = sa->size != cache_mapping_size(ip->mapping);
		err = file_set_size(ip, sa->size);
	}
	if (!err)
		err = setattr_write(ip, sa, size_changed);
	up_write(&ip->rwsem);
out_put:
	fs_iput(ip);
	return err;
}

/* ---- fallocate ---- */

/* Under ip->lock in a section: allocate the hole @h (clipped to @nblk) as
 * unwritten blocks, following the extent before it. */
static int falloc_hole_locked(struct fs_inode *ip, const struct fs_extent *h,
			      uint64_t nblk, uint64_t *done)
{
	uint32_t i = fs_ext_search(ip, h->fblk);
	uint64_t goal = 0, start, got;
	struct fs_extent e = { .fblk = h->fblk, .state = FS_EXT_UNWRITTEN };
	int err;

	while (i-- > 0) {
		if (ip->ext[i].state != FS_EXT_DELALLOC) {
			goal = ip->ext[i].pblk + ip->ext[i].len;
			break;
		}
	}
	err = alloc_extent(ip->fs->meta, goal, 1, min_t(uint64_t, h->len, nblk),
			   false, &start, &got);
	if (err)
		return err;
	e.pblk = start;
	e.len = got;
	*done = got;
	return fs_ext_insert(ip, &e);
}

/* One section: allocate up to ALLOC_PER_SECTION holes from *fblk on. */
static int falloc_alloc_step(struct fs_inode *ip, uint64_t *fblk, uint64_t end)
{
	struct fs_section sect;
	struct meta *m = fs_meta(ip->fs);
	int err = 0, err2;

	fs_section_begin1(&sect, ip);
	pthread_mutex_lock(&ip->lock);
	for (int n = 0; *fblk < end && n < ALLOC_PER_SECTION && !err; ) {
		struct fs_extent e;
		uint64_t got = 0;

		if (!fs_ext_lookup(ip, *fblk, &e)) {
			*fblk = e.fblk + e.len;
			continue;
		}
		err = falloc_hole_locked(ip, &e, end - *fblk, &got);
		if (!err)
			err = fs_extent_store(ip);	/* so the budget sees its blocks */
		*fblk += got;
		n++;
		if (meta_section_full(m))
			break;
	}
	pthread_mutex_unlock(&ip->lock);
	/* Keep what was allocated, also after -ENOSPC: the map is consistent. */
	err2 = fs_inode_write(ip);
	fs_section_end(&sect);
	return err ? err : err2;
}

/* Preallocate [fblk, end) as unwritten extents; existing blocks stay.
 * At the first -ENOSPC, commit so that blocks freed by transactions not
 * yet durable become allocatable, and go on once. */
static int falloc_alloc(struct fs_inode *ip, uint64_t fblk, uint64_t end)
{
	bool committed = false;
	int err = 0;

	while (fblk < end && !err) {
		err = falloc_alloc_step(ip, &fblk, end);
		if (err == -ENOSPC && !committed) {
			committed = true;
			err = meta_commit(ip->fs->meta);
		}
	}
	return err;
}

/*
 * Zero the partial blocks at both ends of [off, end), drop the whole
 * folios between; returns the whole-block range in *bs, *be.  Dirty data
 * in the range is written back first, as xfs_flush_unmap_range() does:
 * the on-disk size grows only at ioend completion, so dropping a dirty
 * folio that extended the file would leave that size change in memory
 * only, and the next fsync would commit the older, smaller size.
 */
static int falloc_prepare(struct fs_inode *ip, uint64_t off, uint64_t end,
			  uint64_t *bs, uint64_t *be)
{
	uint64_t first = ALIGN_UP(off, (uint64_t)BLK_SIZE);
	uint64_t last = ALIGN_DOWN(end, (uint64_t)BLK_SIZE);
	int err = cache_write_and_wait_range(ip->mapping, off, end, true);

	if (err)
		return err;
	if (first >= last) {	/* no whole block: one or two partial ones */
		*bs = *be = 0;
		if (ALIGN_DOWN(off, (uint64_t)BLK_SIZE) == ALIGN_DOWN(end - 1, (uint64_t)BLK_SIZE))
			return zero_partial(ip, off, end);
		err = zero_partial(ip, off, first);
		return err ? err : zero_partial(ip, last, end);
	}
	err = zero_partial(ip, off, first);
	if (!err)
		err = zero_partial(ip, last, end);
	if (err)
		return err;
	cache_truncate_range(ip->mapping, first, last);
	*bs = first >> BLK_SHIFT;
	*be = last >> BLK_SHIFT;
	return 0;
}

static int falloc_punch(struct fs_inode *ip, uint64_t off, uint64_t end)
{
	uint64_t bs, be;
	int err = free_range_prepare(ip, off >> BLK_SHIFT, DIV_ROUND_UP(end, BLK_SIZE));

	if (!err)
		err = falloc_prepare(ip, off, end, &bs, &be);
	if (err || bs == be)
		return err;
	return free_range(ip, bs, be, false, 0);
}

uint64_t fs_delalloc_drop_locked(struct fs_inode *ip, uint64_t bs, uint64_t be)
{
	uint64_t fblk = bs, n = 0;
	struct fs_extent e;

	while (fblk < be) {
		if (fs_ext_lookup(ip, fblk, &e)) {	/* a hole: skip to the next */
			uint32_t i = fs_ext_search(ip, fblk);

			if (i == ip->nr_ext)
				break;
			fblk = ip->ext[i].fblk;
			continue;
		}
		uint64_t stop = min_t(uint64_t, e.fblk + e.len, be);

		if (e.state == FS_EXT_DELALLOC &&
		    !fs_ext_remove(ip, fblk, stop - fblk, NULL, NULL))
			n += stop - fblk;
		fblk = stop;
	}
	return n + fs_delalloc_sub_locked(ip, n);
}

/*
 * One section of a zero range: from *pos on, one extent's worth at a time
 * (delalloc dropped, written marked unwritten), until @be or the section is
 * full; then the inode.  Each section leaves the file consistent.
 */
static int falloc_zero_step(struct fs_inode *ip, uint64_t *pos, uint64_t be)
{
	struct fs_section sect;
	struct meta *m = fs_meta(ip->fs);
	uint64_t unreserve = 0;
	int err = 0;

	fs_section_begin1(&sect, ip);
	pthread_mutex_lock(&ip->lock);
	while (*pos < be && !err) {
		uint32_t i = fs_ext_search(ip, *pos);
		uint64_t stop = be;
		int64_t n;

		if (i < ip->nr_ext && ip->ext[i].fblk < be)
			stop = min_t(uint64_t, be, ip->ext[i].fblk + ip->ext[i].len);
		unreserve += fs_delalloc_drop_locked(ip, *pos, stop);
		n = fs_ext_convert(ip, *pos, stop - *pos, FS_EXT_WRITTEN, FS_EXT_UNWRITTEN);
		err = n < 0 ? (int)n : fs_extent_store(ip);
		if (!err)
			*pos = stop;
		if (meta_section_full(m))
			break;
	}
	pthread_mutex_unlock(&ip->lock);
	alloc_unreserve(m, unreserve);
	if (!err)
		err = fs_inode_write(ip);
	fs_section_end(&sect);
	return err;
}

/* Zero range: partial ends zeroed in the cache; whole blocks become
 * unwritten (written ones are marked so, keeping their blocks; delalloc
 * and holes get new unwritten blocks). */
static int falloc_zero(struct fs_inode *ip, uint64_t off, uint64_t end)
{
	uint64_t bs, be, pos;
	int err = falloc_prepare(ip, off, end, &bs, &be);

	if (err || bs == be)
		return err;
	for (pos = bs; pos < be && !err; )
		err = falloc_zero_step(ip, &pos, be);
	return err ? err : falloc_alloc(ip, bs, be);
}

static int falloc_check(struct fs_inode *ip, int mode, uint64_t off, uint64_t len)
{
	const int supported = FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE |
			      FALLOC_FL_ZERO_RANGE;

	if (fs_is_shutdown(ip->fs))
		return -EIO;
	/* Never -EINVAL for a mode: tools probe support with it. */
	if (mode & ~supported)
		return -EOPNOTSUPP;
	if ((mode & FALLOC_FL_PUNCH_HOLE) &&
	    (!(mode & FALLOC_FL_KEEP_SIZE) || (mode & FALLOC_FL_ZERO_RANGE)))
		return -EOPNOTSUPP;
	if (fs_ro(ip->fs))
		return -EROFS;
	if (!ip->mapping)
		return S_ISDIR(ip->di.mode) ? -EISDIR : -ENODEV;
	if (!len)
		return -EINVAL;
	if (off > IOMAPFS_MAX_FILE_SIZE || len > IOMAPFS_MAX_FILE_SIZE - off)
		return -EFBIG;
	return 0;
}

int fs_fallocate(struct fs_inode *ip, int mode, uint64_t off, uint64_t len)
{
	uint64_t end = off + len;
	bool grow;
	int err = falloc_check(ip, mode, off, len);

	if (err)
		return err;
	down_write(&ip->rwsem);
	grow = !(mode & FALLOC_FL_KEEP_SIZE) && end > cache_mapping_size(ip->mapping);
	if (mode & FALLOC_FL_PUNCH_HOLE)
		err = falloc_punch(ip, off, end);
	else if (mode & FALLOC_FL_ZERO_RANGE)
		err = falloc_zero(ip, off, end);
	else
		err = falloc_alloc(ip, off >> BLK_SHIFT, DIV_ROUND_UP(end, BLK_SIZE));
	if (!err && grow)
		err = file_set_size(ip, end);
	if (!err && (grow || (mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE))))
		err = fs_file_modified(ip, false);
	up_write(&ip->rwsem);
	return err;
}
