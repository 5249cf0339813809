// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Regular file data: the cache_mapping_ops that map file ranges to device
 * blocks (our iomap_ops + iomap_writeback_ops, as XFS's xfs_aops), and the
 * entry points that ops.c calls for read, write, fsync and lseek.
 * Truncate and fallocate live in falloc.c.
 *
 * Life of a block written by a buffered write (delayed allocation):
 *
 *   hole --map_begin(WRITE)--> DELALLOC (blocks reserved, data in cache)
 *        --writeback_range---> UNWRITTEN (whole delalloc extent allocated
 *                              and recorded in a section: a crash now reads
 *                              zeros, never stale blocks)
 *        --ioend_complete----> WRITTEN (worker, after the data is on disk)
 *
 * fallocate goes straight from hole to UNWRITTEN; a write into it then
 * takes the last two steps.
 *
 * Locks: ip->rwsem excludes writers, truncate and fallocate (reads share
 * it); ip->lock guards the extent map for map_begin, which never takes the
 * metadata lock.  Allocation and conversion run in a section and take
 * ip->lock inside it (meta lock -> ip->lock).  Each writeback ctx caches
 * the last iomap with the map's ext_seq in wpc->fs_private and maps again
 * when the map changed (the analogue of XFS's iomap validity cookie: a
 * punch and re-allocation under a long writeback must not send data to
 * freed blocks).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "fs_internal.h"

#define BLK_SHIFT	IOMAPFS_BLOCK_SHIFT
#define BLK_SIZE	IOMAPFS_BLOCK_SIZE
#define ATIME_MAX_AGE	(24 * 3600)	/* relatime: update at least daily */

static inline struct fs_inode *mapping_inode(const struct cache_mapping *m)
{
	return cache_mapping_host(m);
}

/* ---- mapping ---- */

static void ext_to_iomap(const struct fs_extent *e, bool hole, struct iomap *iomap)
{
	iomap->offset = e->fblk << BLK_SHIFT;
	iomap->length = (uint64_t)e->len << BLK_SHIFT;
	iomap->addr = IOMAP_NULL_ADDR;
	iomap->flags = 0;
	if (hole) {
		iomap->type = IOMAP_HOLE;
		return;
	}
	switch (e->state) {
	case FS_EXT_DELALLOC:
		iomap->type = IOMAP_DELALLOC;
		break;
	case FS_EXT_UNWRITTEN:
		iomap->type = IOMAP_UNWRITTEN;
		iomap->addr = e->pblk << BLK_SHIFT;
		break;
	default:
		iomap->type = IOMAP_MAPPED;
		iomap->addr = e->pblk << BLK_SHIFT;
		break;
	}
}

/* Under ip->lock: the iomap at file block @fblk. */
static void map_lookup_locked(struct fs_inode *ip, uint64_t fblk, struct iomap *iomap)
{
	struct fs_extent e;
	bool hole = fs_ext_lookup(ip, fblk, &e) == -ENOENT;

	ext_to_iomap(&e, hole, iomap);
}

/* Metadata to reserve beside @nblk more delalloc blocks of @ip. */
static uint64_t reserve_meta_for(struct fs_inode *ip, uint64_t nblk)
{
	uint64_t want;

	pthread_mutex_lock(&ip->lock);
	want = fs_delalloc_meta_blocks(ip->delalloc_blocks + nblk);
	want = want > ip->delalloc_meta ? want - ip->delalloc_meta : 0;
	pthread_mutex_unlock(&ip->lock);
	return want;
}

/*
 * Reserve *nblk data blocks and their extents' worst-case metadata
 * (*meta).  Blocks freed by a transaction that is not durable yet cannot
 * be reserved: commit once and try again (as ext4 forces a journal commit
 * before giving up).  Then, short of space for all of it, take as much as
 * there is, halving, so the write comes back short before it fails with
 * -ENOSPC.
 */
static int reserve_blocks(struct fs_inode *ip, uint64_t *nblk, uint64_t *meta)
{
	struct meta *m = fs_meta(ip->fs);
	int err;

	*meta = reserve_meta_for(ip, *nblk);
	err = alloc_reserve(m, *nblk + *meta);
	if (err != -ENOSPC)
		return err;
	err = meta_commit(m);
	if (err)
		return err;
	while ((err = alloc_reserve(m, *nblk + *meta)) == -ENOSPC && *nblk > 1) {
		*nblk /= 2;
		*meta = reserve_meta_for(ip, *nblk);
	}
	return err;
}

/*
 * A buffered write into a hole: reserve the blocks (-ENOSPC before any
 * data is copied) and record them as one DELALLOC extent.  Task context,
 * under ip->rwsem held for writing, so no other writer fills the hole;
 * the flusher only fills holes under dirty folios, never this one.
 * Once this returned, writeback finds the blocks and the metadata for
 * their extents (alloc.c's accounting): a write() that succeeded is
 * never lost for lack of space.
 */
static int map_reserve(struct fs_inode *ip, uint64_t fblk, uint64_t nblk,
		       struct iomap *iomap)
{
	struct meta *m = fs_meta(ip->fs);
	struct fs_extent e;
	uint64_t got = 0, meta, excess;
	int err = reserve_blocks(ip, &nblk, &meta);

	if (err)
		return err;
	pthread_mutex_lock(&ip->lock);
	ip->delalloc_meta += meta;
	if (fs_ext_lookup(ip, fblk, &e) == -ENOENT) {
		e.len = min_t(uint64_t, e.len, nblk);
		e.state = FS_EXT_DELALLOC;
		err = fs_ext_insert(ip, &e);
		if (!err) {
			got = e.len;
			ip->delalloc_blocks += got;
			ext_to_iomap(&e, false, iomap);
			iomap->flags |= IOMAP_F_NEW;
		}
	} else {
		ext_to_iomap(&e, false, iomap);
	}
	excess = fs_delalloc_trim_locked(ip);
	pthread_mutex_unlock(&ip->lock);
	if (got < nblk || excess)
		alloc_unreserve(m, nblk - got + excess);
	return err;
}

static int wb_allocate(struct fs_inode *ip, uint64_t fblk, uint64_t nblk);

/*
 * A direct write (xfs_direct_write_iomap_begin): blocks now, never
 * delalloc.  A hole, or delalloc left by a buffered write, is allocated
 * as unwritten in a section, so a crash before the data lands reads
 * zeros; ->dio_end_io converts it.  Under ip->rwsem held for writing.
 */
static int map_direct_write(struct fs_inode *ip, uint64_t fblk, uint64_t nblk,
			    struct iomap *iomap)
{
	struct fs_extent e;
	bool hole;
	int err;

	pthread_mutex_lock(&ip->lock);
	hole = fs_ext_lookup(ip, fblk, &e) == -ENOENT;
	pthread_mutex_unlock(&ip->lock);
	if (hole || e.state == FS_EXT_DELALLOC) {
		err = wb_allocate(ip, fblk, min_t(uint64_t, e.len, nblk));
		if (err)
			return err;
	}
	pthread_mutex_lock(&ip->lock);
	hole = fs_ext_lookup(ip, fblk, &e) == -ENOENT;
	ext_to_iomap(&e, hole, iomap);
	pthread_mutex_unlock(&ip->lock);
	if (WARN_ON_ONCE(hole || e.state == FS_EXT_DELALLOC))
		return -EIO;	/* allocated and still not mapped */
	return 0;
}

/* ->map_begin: task context, no folio locks held. */
static int fs_map_begin(struct cache_mapping *mapping, uint64_t pos, uint64_t len,
			unsigned flags, struct iomap *iomap)
{
	struct fs_inode *ip = mapping_inode(mapping);
	uint64_t fblk = pos >> BLK_SHIFT;
	uint64_t end = DIV_ROUND_UP(pos + max_t(uint64_t, len, 1), BLK_SIZE);
	struct fs_extent e;
	bool hole;

	if (fs_is_shutdown(ip->fs))
		return -EIO;
	if ((flags & (CACHE_MAP_WRITE | CACHE_MAP_DIRECT)) ==
	    (CACHE_MAP_WRITE | CACHE_MAP_DIRECT))
		return map_direct_write(ip, fblk, end - fblk, iomap);
	pthread_mutex_lock(&ip->lock);
	hole = fs_ext_lookup(ip, fblk, &e) == -ENOENT;
	if (!hole || !(flags & CACHE_MAP_WRITE)) {
		ext_to_iomap(&e, hole, iomap);
		pthread_mutex_unlock(&ip->lock);
		return 0;
	}
	pthread_mutex_unlock(&ip->lock);
	return map_reserve(ip, fblk, min_t(uint64_t, e.len, end - fblk), iomap);
}

/* ---- allocation at writeback ---- */

/* Under ip->lock: the device block after the extent before @fblk. */
static uint64_t alloc_goal_locked(struct fs_inode *ip, uint64_t fblk)
{
	uint32_t i = fs_ext_search(ip, fblk);

	while (i-- > 0)
		if (ip->ext[i].state != FS_EXT_DELALLOC)
			return ip->ext[i].pblk + ip->ext[i].len;
	return 0;
}

/* Under ip->lock in a section: replace [fblk, +len) by unwritten blocks. */
static int map_install_unwritten(struct fs_inode *ip, uint64_t fblk,
				 uint64_t pblk, uint64_t len)
{
	struct fs_extent e = { .fblk = fblk, .pblk = pblk, .len = len,
			       .state = FS_EXT_UNWRITTEN };
	int err = fs_ext_remove(ip, fblk, len, NULL, NULL);

	return err ? err : fs_ext_insert(ip, &e);
}

/*
 * Under ip->lock in a section: allocate the whole delalloc extent @d, in as
 * many pieces as the allocator needs, each following the previous one, so
 * a sequentially written file gets few large extents.  The data comes out
 * of the reservation; the metadata reserved for the extents is given back
 * before fs_inode_write() stores them, so that their items find it free
 * (and the metadata reserve stands behind them either way).
 */
static int alloc_delalloc_locked(struct fs_inode *ip, const struct fs_extent *d)
{
	struct fs *fs = ip->fs;
	uint64_t fblk = d->fblk, left = d->len;
	uint64_t goal = alloc_goal_locked(ip, fblk), meta = 0;
	int err = 0;

	while (left) {
		uint64_t start, got;

		err = alloc_extent_reserved(fs->meta, goal, left, &start, &got);
		if (err)
			break;
		err = map_install_unwritten(ip, fblk, start, got);
		if (err)
			break;
		meta += fs_delalloc_sub_locked(ip, got);
		atomic_fetch_add(&fs->blocks_allocated, got);
		fblk += got;
		left -= got;
		goal = start + got;
	}
	if (meta)
		alloc_unreserve(fs->meta, meta);
	return err;
}

/* Under ip->lock in a section: dirty data over a hole (a zeroed cached
 * folio, see cache_zero_range) gets unreserved unwritten blocks. */
static int alloc_hole_locked(struct fs_inode *ip, const struct fs_extent *h,
			     uint64_t nblk)
{
	uint64_t start, got;
	int err = alloc_extent(ip->fs->meta, alloc_goal_locked(ip, h->fblk), 1,
			       min_t(uint64_t, h->len, nblk), false, &start, &got);

	if (!err)
		err = map_install_unwritten(ip, h->fblk, start, got);
	return err;
}

/*
 * Writeback met a delalloc extent or a hole at @fblk: allocate, record the
 * blocks as unwritten and write the inode, all in one section.  The inode
 * is written also when the allocation failed part way: the pieces it did
 * install are taken in the bitmap, and must reach the disk with it (an
 * error here once leaked them: allocated, and in no inode's extents).
 */
static int wb_allocate(struct fs_inode *ip, uint64_t fblk, uint64_t nblk)
{
	struct fs_section sect;
	struct fs_extent e;
	int err = 0, err2;

	fs_section_begin1(&sect, ip);
	pthread_mutex_lock(&ip->lock);
	if (fs_ext_lookup(ip, fblk, &e) == -ENOENT)
		err = alloc_hole_locked(ip, &e, nblk);
	else if (e.state == FS_EXT_DELALLOC)
		err = alloc_delalloc_locked(ip, &e);
	pthread_mutex_unlock(&ip->lock);
	err2 = fs_inode_write(ip);
	fs_section_end(&sect);
	return err ? err : err2;
}

static bool wpc_iomap_valid(struct writeback_ctx *wpc, struct fs_inode *ip,
			    uint64_t pos)
{
	const struct iomap *iomap = &wpc->iomap;

	if (!iomap->length || pos < iomap->offset ||
	    pos - iomap->offset >= iomap->length)
		return false;
	return (uintptr_t)wpc->fs_private == (uintptr_t)ip->ext_seq;
}

/* Under no lock: map @pos for writeback into wpc->iomap. */
static int wb_map(struct writeback_ctx *wpc, struct fs_inode *ip, uint64_t pos,
		  uint32_t len)
{
	uint64_t fblk = pos >> BLK_SHIFT;
	int err;

	for (int tries = 0; tries < 3; tries++) {
		pthread_mutex_lock(&ip->lock);
		map_lookup_locked(ip, fblk, &wpc->iomap);
		wpc->fs_private = (void *)(uintptr_t)ip->ext_seq;
		pthread_mutex_unlock(&ip->lock);
		if (wpc->iomap.type == IOMAP_MAPPED || wpc->iomap.type == IOMAP_UNWRITTEN)
			return 0;
		err = wb_allocate(ip, fblk, DIV_ROUND_UP((pos & (BLK_SIZE - 1)) + len, BLK_SIZE));
		if (err)
			return err;
	}
	WARN_ON_ONCE(1);	/* allocated twice and still not mapped */
	return -EIO;
}

/*
 * Mapping [pos, +len) for writeback failed (allocation, a metadata read):
 * the cache drops the folio with its data and records the error for fsync.
 * Drop its delalloc blocks too, as xfs_discard_folio() does, so that the
 * reservation comes back to statfs now and a read sees a hole, which is
 * what the disk holds, rather than a delalloc extent nothing will write.
 */
static void wb_discard_delalloc(struct fs_inode *ip, uint64_t pos, uint32_t len)
{
	uint64_t unreserve;

	pthread_mutex_lock(&ip->lock);
	unreserve = fs_delalloc_drop_locked(ip, pos >> BLK_SHIFT,
					    DIV_ROUND_UP(pos + len, BLK_SIZE));
	pthread_mutex_unlock(&ip->lock);
	if (unreserve)
		alloc_unreserve(fs_meta(ip->fs), unreserve);
}

/* ->writeback_range: flusher or fsync thread; @folio locked, under writeback. */
static ssize_t fs_writeback_range(struct writeback_ctx *wpc, struct folio *folio,
				  uint64_t pos, uint32_t len, uint64_t end_pos)
{
	struct fs_inode *ip = mapping_inode(wpc->mapping);
	uint64_t map_end;
	bool valid;
	int err;

	if (fs_is_shutdown(ip->fs))
		return -EIO;
	pthread_mutex_lock(&ip->lock);
	valid = wpc_iomap_valid(wpc, ip, pos);
	pthread_mutex_unlock(&ip->lock);
	if (!valid) {
		err = wb_map(wpc, ip, pos, len);
		if (err) {
			wb_discard_delalloc(ip, pos, len);
			return err;
		}
	}
	map_end = wpc->iomap.offset + wpc->iomap.length;
	return cache_add_to_ioend(wpc, folio, pos, end_pos,
				  min_t(uint64_t, len, map_end - pos));
}

/* ->writeback_submit: an ioend ending past the on-disk size completes in a
 * worker, which moves the size once the data is there (xfs_ioend_is_append). */
static int fs_writeback_submit(struct writeback_ctx *wpc, int error)
{
	struct ioend *ioend = wpc->wb_ctx;
	struct fs_inode *ip = mapping_inode(wpc->mapping);

	if (ioend && !error) {
		pthread_mutex_lock(&ip->lock);
		if (ioend->io_offset + ioend->io_size > ip->di.size)
			ioend->io_flags |= IOEND_F_SIZE;
		pthread_mutex_unlock(&ip->lock);
	}
	return cache_ioend_writeback_submit(wpc, error);
}

/* Under ip->lock: the on-disk size grows to @end, the end of data now on
 * the device, never past i_size (a truncate may have come since).  Did it
 * grow? */
static bool update_disk_size_locked(struct fs_inode *ip, uint64_t end)
{
	end = min_t(uint64_t, end, cache_mapping_size(ip->mapping));

	if (end <= ip->di.size)
		return false;
	fs_inode_set_disk_size_locked(ip, end);
	return true;
}

/*
 * The data of [pos, pos + len) is on the device (a writeback ioend or a
 * direct write): mark its unwritten blocks written (if @convert), move the
 * on-disk size up to its end and write the inode, in one section whose
 * commit flushes that data first (meta_txn_orders_data).  On an I/O error
 * the callers do not come here: the range stays unwritten (reads zeros, not
 * garbage) and the size stays; the cache records the error itself.
 */
static int convert_and_write_inode(struct fs_inode *ip, uint64_t pos,
				   uint64_t len, bool convert)
{
	struct fs_section sect;
	struct fs *fs = ip->fs;
	uint64_t fblk = pos >> BLK_SHIFT;
	uint64_t end = DIV_ROUND_UP(pos + len, BLK_SIZE);
	int64_t n = 0;
	bool grew;
	int err;

	if (fs_is_shutdown(fs))
		return -EIO;
	fs_section_begin1(&sect, ip);
	pthread_mutex_lock(&ip->lock);
	if (convert)
		n = fs_ext_convert(ip, fblk, end - fblk, FS_EXT_UNWRITTEN,
				   FS_EXT_WRITTEN);
	grew = n >= 0 && update_disk_size_locked(ip, pos + len);
	pthread_mutex_unlock(&ip->lock);
	if (n > 0 || grew)
		meta_txn_orders_data(fs->meta);
	err = n < 0 ? (int)n : fs_inode_write(ip);
	fs_section_end(&sect);
	if (n > 0)
		atomic_fetch_add(&fs->unwritten_converted, 1);
	return err;
}

static int fs_ioend_complete(struct ioend *ioend, int error)
{
	if (error)
		return 0;
	return convert_and_write_inode(mapping_inode(ioend->io_mapping),
				       ioend->io_offset, ioend->io_size,
				       ioend->io_flags & IOEND_F_UNWRITTEN);
}

/*
 * ->dio_end_io (xfs_dio_write_end_io): the request thread that issued the
 * direct write, or a worker.  The data is on the device: convert what it
 * wrote into unwritten blocks and persist a grown size, in one section.
 */
static int fs_dio_end_io(struct cache_mapping *mapping, uint64_t pos,
			 uint64_t len, unsigned flags, int error)
{
	if (error)
		return 0;
	return convert_and_write_inode(mapping_inode(mapping), pos, len,
				       flags & CACHE_DIO_END_UNWRITTEN);
}

static int fs_write_inode(struct cache_mapping *mapping);

const struct cache_mapping_ops fs_file_mapping_ops = {
	.map_begin		= fs_map_begin,
	.writeback_range	= fs_writeback_range,
	.writeback_submit	= fs_writeback_submit,
	.ioend_complete		= fs_ioend_complete,
	.dio_end_io		= fs_dio_end_io,
	.write_inode		= fs_write_inode,
};

/* ---- read, write ---- */

static int file_check(struct fs_inode *ip, bool write)
{
	if (fs_is_shutdown(ip->fs))
		return -EIO;
	if (write && fs_ro(ip->fs))
		return -EROFS;
	if (!ip->mapping)
		return S_ISDIR(ip->di.mode) ? -EISDIR : -EINVAL;
	return 0;
}

static bool ts_le(int64_t a_sec, uint32_t a_nsec, int64_t b_sec, uint32_t b_nsec)
{
	return a_sec < b_sec || (a_sec == b_sec && a_nsec <= b_nsec);
}

/* relatime: atime moves if it is not newer than mtime or ctime, or is a
 * day old.  Only then does a read cost a metadata section. */
static bool relatime_needs_update(struct fs_inode *ip)
{
	struct timespec now;
	bool update;

	clock_gettime(CLOCK_REALTIME, &now);
	pthread_mutex_lock(&ip->lock);
	update = ts_le(ip->di.atime_sec, ip->di.atime_nsec,
		       ip->di.mtime_sec, ip->di.mtime_nsec) ||
		 ts_le(ip->di.atime_sec, ip->di.atime_nsec,
		       ip->di.ctime_sec, ip->di.ctime_nsec) ||
		 now.tv_sec - ip->di.atime_sec >= ATIME_MAX_AGE;
	pthread_mutex_unlock(&ip->lock);
	return update;
}

/* atime_needs_update() with the mount's policy. */
bool fs_inode_atime_due(struct fs_inode *ip)
{
	const struct fs_mount_opts *o = &ip->fs->opts;

	if (fs_ro(ip->fs) || fs_is_shutdown(ip->fs) || o->atime == FS_ATIME_NOATIME)
		return false;
	if (o->nodiratime && S_ISDIR(ip->di.mode))
		return false;
	return o->atime != FS_ATIME_RELATIME || relatime_needs_update(ip);
}

/* touch_atime() with the mount's policy. */
void fs_inode_accessed(struct fs_inode *ip)
{
	if (!fs_inode_atime_due(ip))
		return;
	fs_inode_touch(ip, FS_TOUCH_ATIME);
	if (!ip->fs->opts.lazytime)
		fs_inode_mark_dirty(ip);
}

ssize_t fs_read(struct fs_inode *ip, uint64_t pos, size_t len,
		struct cache_read_result *res)
{
	ssize_t n;
	int err = file_check(ip, false);

	res->nr = 0;
	res->nr_iov = 0;
	res->bytes = 0;
	if (err)
		return err;
	down_read(&ip->rwsem);
	n = cache_read(ip->mapping, pos, len, res);
	up_read(&ip->rwsem);
	if (n > 0)
		fs_inode_accessed(ip);
	return n;
}

/*
 * A read reply points into folio memory, whose contents must stay put
 * until the kernel has copied them, so op_read holds the rwsem shared
 * across the reply.  But the reply ends the request: the kernel may then
 * RELEASE the file and FORGET the inode at once, in another request
 * thread, and the last reference would go while the lock is held:
 *
 *	read thread			other request thread
 *	down_read(&ip->rwsem)
 *	fuse_reply_iov()  ------------> release + forget: last fs_iput,
 *					ip freed; a new inode gets its memory
 *	up_read(&ip->rwsem)		-> releases the NEW inode's lock: its
 *					   reader count goes to -1 and its
 *					   next writer waits forever
 *
 * So the hold owns an inode reference of its own, dropped only after the
 * lock: the inode, its lock and its folios outlive the reply.
 */
struct fs_inode *fs_read_hold(struct fs_inode *ip)
{
	fs_igrab(ip);
	down_read(&ip->rwsem);
	return ip;
}

void fs_read_unhold(struct fs_inode *ip)
{
	up_read(&ip->rwsem);
	fs_iput(ip);
}

/* Under ip->lock: clear setuid, and setgid when it means "setgid" (group
 * execute set) rather than mandatory locking, as should_remove_suid(). */
static void kill_suidgid_locked(struct fs_inode *ip)
{
	uint32_t mode = ip->di.mode;

	mode &= ~S_ISUID;
	if ((mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP))
		mode &= ~S_ISGID;
	ip->di.mode = mode;
}

/*
 * After a data change: mtime and ctime now, in memory, as the kernel's
 * file_update_time() dirties the inode without a transaction (I_DIRTY_SYNC).
 * A section per write() would serialise every writer of every file on the
 * metadata lock.  The times reach the disk with the next section that
 * writes the inode anyway (ioend completion moving the on-disk size,
 * allocation), or when the flusher has written the data back
 * (->write_inode), or at fsync, syncfs, eviction and unmount; a crash
 * before that may lose them, never the data or the size behind them.
 * Dropping suid/sgid is a permission change and is written at once.
 */
int fs_file_modified(struct fs_inode *ip, bool kill_suidgid)
{
	bool mode_changed = false;

	if (kill_suidgid) {
		pthread_mutex_lock(&ip->lock);
		uint32_t mode = ip->di.mode;

		kill_suidgid_locked(ip);
		mode_changed = ip->di.mode != mode;
		pthread_mutex_unlock(&ip->lock);
	}
	fs_inode_touch(ip, FS_TOUCH_MTIME | FS_TOUCH_CTIME);
	if (mode_changed)
		return fs_inode_mark_dirty(ip);
	cache_mapping_mark_inode_dirty(ip->mapping);
	return 0;
}

/* ->write_inode: the flusher wrote the data back; now the times. */
static int fs_write_inode(struct cache_mapping *mapping)
{
	return fs_inode_write_if_dirty(mapping_inode(mapping));
}

/* ---- direct I/O ---- */

ssize_t fs_dio_read(struct fs_inode *ip, uint64_t pos, void *buf, size_t len)
{
	ssize_t n;
	int err = file_check(ip, false);

	if (err)
		return err;
	down_read(&ip->rwsem);
	n = cache_dio_rw(ip->mapping, pos, buf, len, false, NULL);
	up_read(&ip->rwsem);
	if (n == -ENOTBLK)
		atomic_fetch_add(&ip->fs->dio_fallbacks, 1);
	else if (n > 0)
		fs_inode_accessed(ip);
	return n;
}

/*
 * A direct write the cache cannot do directly (not block-aligned) goes
 * through the cache and is then written back and invalidated, as the
 * kernel's direct_write_fallback(): when it returns the data is on the
 * device and no folio keeps a copy of whole blocks it wrote.
 */
static ssize_t dio_write_buffered(struct fs_inode *ip, uint64_t pos,
				  const void *buf, size_t len)
{
	ssize_t n = cache_write(ip->mapping, pos, buf, len);
	int err;

	atomic_fetch_add(&ip->fs->dio_fallbacks, 1);
	if (n <= 0)
		return n;
	err = cache_write_and_wait_range(ip->mapping, pos, pos + n, true);
	cache_truncate_range(ip->mapping, pos, pos + n);
	return err ? err : n;
}

/* The device reads O_DIRECT from aligned memory: copy a buffer that is
 * not (libfuse hands write data right after the request's headers). */
static ssize_t dio_write_locked(struct fs_inode *ip, uint64_t pos,
				const void *buf, size_t len)
{
	unsigned lbs = blk_dev_logical_block_size(fs_dev(ip->fs));
	void *bounce = NULL;
	ssize_t n;

	if ((uintptr_t)buf & (lbs - 1)) {
		if (posix_memalign(&bounce, PAGE_SIZE, len))
			return -ENOMEM;
		memcpy(bounce, buf, len);
		atomic_fetch_add(&ip->fs->dio_bounced, 1);
	}
	n = cache_dio_rw(ip->mapping, pos, bounce ? bounce : (void *)buf, len,
			 true, NULL);
	free(bounce);
	if (n == -ENOTBLK)
		n = dio_write_buffered(ip, pos, buf, len);
	return n;
}

typedef ssize_t (*write_locked_fn)(struct fs_inode *ip, uint64_t pos,
				   const void *buf, size_t len);

static ssize_t buffered_write_locked(struct fs_inode *ip, uint64_t pos,
				     const void *buf, size_t len)
{
	return cache_write(ip->mapping, pos, buf, len);
}

/* Checks and limits, the exclusive rwsem, and mtime/ctime after any data
 * change: shared by buffered and direct writes. */
static ssize_t file_write(struct fs_inode *ip, uint64_t pos, const void *buf,
			  size_t len, bool kill_suidgid, write_locked_fn write)
{
	ssize_t n;
	int err = file_check(ip, true);

	if (err)
		return err;
	if (pos >= IOMAPFS_MAX_FILE_SIZE)
		return -EFBIG;
	len = min_t(uint64_t, len, IOMAPFS_MAX_FILE_SIZE - pos);
	if (!len)
		return 0;
	down_write(&ip->rwsem);
	n = write(ip, pos, buf, len);
	if (n > 0) {
		err = fs_file_modified(ip, kill_suidgid);
		if (err)
			n = err;
	}
	up_write(&ip->rwsem);
	return n;
}

ssize_t fs_write(struct fs_inode *ip, uint64_t pos, const void *buf, size_t len,
		 bool kill_suidgid)
{
	return file_write(ip, pos, buf, len, kill_suidgid, buffered_write_locked);
}

ssize_t fs_dio_write(struct fs_inode *ip, uint64_t pos, const void *buf,
		     size_t len, bool kill_suidgid)
{
	return file_write(ip, pos, buf, len, kill_suidgid, dio_write_locked);
}

/* ---- durability ---- */

/* The transaction that last changed the inode (for fdatasync only changes
 * of size and extents count): fsync makes it durable. */
static uint64_t inode_fsync_txn(struct fs_inode *ip, bool datasync)
{
	uint64_t last;

	pthread_mutex_lock(&ip->lock);
	last = datasync ? ip->last_data_txn : ip->last_txn;
	pthread_mutex_unlock(&ip->lock);
	return last;
}

/* The writeback error for this fsync: once per @since holder (errseq), or
 * any recorded one without a holder. */
static int fsync_wb_error(struct fs_inode *ip, int wait_err, errseq_t *since)
{
	errseq_t any = 0;
	int err;

	if (!ip->mapping)
		return 0;
	err = cache_errseq_check_and_advance(ip->mapping, since ? since : &any);
	if (!since && !err)
		err = wait_err;
	return err;
}

int fs_fsync(struct fs_inode *ip, bool datasync, errseq_t *since)
{
	struct fs *fs = ip->fs;
	int wait_err = 0, err = 0;

	if (fs_is_shutdown(fs))
		return -EIO;
	atomic_fetch_add(&fs->fsyncs, 1);
	if (ip->mapping)
		wait_err = cache_write_and_wait_range(ip->mapping, 0, UINT64_MAX, true);
	if (!fs_ro(fs)) {
		pthread_mutex_lock(&ip->lock);
		bool dirty = ip->dirty;
		pthread_mutex_unlock(&ip->lock);
		if (dirty)
			err = fs_inode_mark_dirty(ip);
		uint64_t txn = inode_fsync_txn(ip, datasync);

		if (!err && txn > meta_durable_seq(fs->meta)) {
			/* Waits for that transaction only: a commit already
			 * writing it is not repeated.  Flushes the device too. */
			err = meta_commit_seq(fs->meta, txn);
			atomic_fetch_add(&fs->commits_by_fsync, 1);
		} else if (!err) {
			err = blkdev_issue_flush(fs->dev);
		}
	}
	int wb_err = fsync_wb_error(ip, wait_err, since);

	return wb_err ? wb_err : err;
}

/* ---- lseek ---- */

/* Under ip->lock: the first data byte at or after @off, or -ENXIO.  Data is
 * written, unwritten (as ext4/xfs do without a cache lookup) and delalloc. */
static int64_t seek_data_locked(struct fs_inode *ip, uint64_t off, uint64_t size)
{
	uint32_t i = fs_ext_search(ip, off >> BLK_SHIFT);
	uint64_t data;

	if (i == ip->nr_ext)
		return -ENXIO;
	data = max_t(uint64_t, off, ip->ext[i].fblk << BLK_SHIFT);
	return data < size ? (int64_t)data : -ENXIO;
}

/* Under ip->lock: the first hole at or after @off; EOF is a hole. */
static int64_t seek_hole_locked(struct fs_inode *ip, uint64_t off, uint64_t size)
{
	uint64_t pos = off;

	for (uint32_t i = fs_ext_search(ip, off >> BLK_SHIFT); i < ip->nr_ext; i++) {
		const struct fs_extent *e = &ip->ext[i];

		if (e->fblk > pos >> BLK_SHIFT)
			break;
		pos = max_t(uint64_t, pos, (e->fblk + e->len) << BLK_SHIFT);
	}
	return min_t(uint64_t, pos, size);
}

int64_t fs_lseek(struct fs_inode *ip, int64_t off, int whence)
{
	uint64_t size;
	int64_t ret;
	int err = file_check(ip, false);

	if (err)
		return err;
	if (whence != SEEK_DATA && whence != SEEK_HOLE)
		return -EINVAL;
	down_read(&ip->rwsem);
	pthread_mutex_lock(&ip->lock);
	size = cache_mapping_size(ip->mapping);
	if (off < 0 || (uint64_t)off >= size)
		ret = -ENXIO;
	else if (whence == SEEK_DATA)
		ret = seek_data_locked(ip, off, size);
	else
		ret = seek_hole_locked(ip, off, size);
	pthread_mutex_unlock(&ip->lock);
	up_read(&ip->rwsem);
	return ret;
}
