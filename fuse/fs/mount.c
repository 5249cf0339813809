// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The mounted filesystem as a whole: mount (device, metadata engine, page
 * cache, root inode, orphans left by a crash), unmount, shutdown, statfs,
 * syncfs and the counters for iomapfs-stat.
 *
 * Unmount order mirrors the layers: data first (cache_sync_all, which
 * allocates and converts extents), then the inodes (written, unlinked ones
 * freed, mappings destroyed), then the cache, the metadata engine (final
 * commit and checkpoint) and the device.  After fs_shutdown nothing more
 * reaches the device: unmount then only frees memory.
 *
 * Task context: the daemon's main thread, FUSE request threads, tests.
 */
#include <string.h>
#include <sys/statvfs.h>
#include "fs_internal.h"

#define IHASH_SIZE	(1u << 14)	/* buckets; chains stay short below ~100k inodes */

static void fs_free(struct fs *fs)
{
	kfree(fs->ihash);
	pthread_mutex_destroy(&fs->icache_lock);
	pthread_mutex_destroy(&fs->rename_lock);
	pthread_cond_destroy(&fs->icache_wait);
	kfree(fs);
}

static struct fs *fs_alloc(const struct fs_mount_opts *opts)
{
	struct fs *fs = kzalloc(sizeof(*fs));

	if (!fs)
		return NULL;
	if (opts)
		fs->opts = *opts;
	if (fs->opts.readonly) {
		fs->opts.meta.readonly = true;
		fs->opts.blk.readonly = true;
	}
	mutex_init_adaptive(&fs->icache_lock);
	pthread_mutex_init(&fs->rename_lock, NULL);
	pthread_cond_init(&fs->icache_wait, NULL);
	return fs;
}

/* The root must be a directory; a corrupt image fails the mount early. */
static int fs_check_root(struct fs *fs)
{
	struct fs_inode *root;
	bool dir;
	int err = fs_iget(fs, IOMAPFS_ROOT_INO, &root);

	if (err) {
		iomapfs_err("cannot read the root inode: %s", strerror(-err));
		return err;
	}
	dir = S_ISDIR(root->di.mode);
	fs_iput(root);
	if (!dir) {
		iomapfs_err("the root inode is not a directory");
		return -EUCLEAN;
	}
	return 0;
}

/* Everything after the device: metadata, cache, root, orphans. */
static int fs_mount_on_dev(struct fs *fs)
{
	int err = meta_mount(fs->dev, &fs->opts.meta, &fs->meta);

	if (err)
		return err;
	/*
	 * Buckets for the inodes the filesystem can hold, up to IHASH_SIZE: a
	 * small image (a test's, a fuzz input's) does not zero and walk 16K.
	 */
	fs->ihash_size = 64;
	while (fs->ihash_size < IHASH_SIZE &&
	       fs->ihash_size < meta_super(fs->meta)->nr_blocks)
		fs->ihash_size <<= 1;
	fs->ihash = kzalloc(fs->ihash_size * sizeof(*fs->ihash));
	if (!fs->ihash) {
		err = -ENOMEM;
		goto out_unmount;
	}
	err = cache_create(&fs->opts.cache, fs->dev, &fs->cache);
	if (err)
		goto out_unmount;
	err = fs_check_root(fs);
	if (!err && !fs_ro(fs))
		err = fs_free_orphans(fs);
	if (!err)
		return 0;
	fs_inode_evict_all(fs);
	cache_destroy(fs->cache);
out_unmount:
	meta_unmount(fs->meta);
	return err;
}

int fs_mount(const char *dev_path, const struct fs_mount_opts *opts, struct fs **out)
{
	struct fs *fs = fs_alloc(opts);
	int err;

	if (!fs)
		return -ENOMEM;
	err = blk_dev_open(dev_path, &fs->opts.blk, &fs->dev);
	if (err)
		goto out_free;
	/* Before any I/O: stacking is not safe under a running device. */
	fs->inject = blk_inject_attach(fs->dev);
	err = fs_mount_on_dev(fs);
	if (err) {
		blk_dev_close(fs->dev);
		blk_inject_free(fs->inject);
		goto out_free;
	}
	*out = fs;
	return 0;
out_free:
	fs_free(fs);
	return err;
}

int fs_mount_dev(struct blk_dev *dev, const struct fs_mount_opts *opts, struct fs **out)
{
	struct fs *fs = fs_alloc(opts);
	int err;

	if (!fs)
		return -ENOMEM;
	fs->dev = dev;
	fs->dev_borrowed = true;
	err = fs_mount_on_dev(fs);
	if (err) {
		fs_free(fs);
		return err;
	}
	*out = fs;
	return 0;
}

static void first_err(int *err, int e)
{
	if (!*err && e)
		*err = e;
}

int fs_unmount(struct fs *fs)
{
	bool shutdown = fs_is_shutdown(fs);
	int err = 0;

	if (!shutdown && !fs_ro(fs)) {
		first_err(&err, cache_sync_all(fs->cache));
		first_err(&err, fs_inode_write_dirty_all(fs));
	}
	first_err(&err, fs_inode_evict_all(fs));
	cache_destroy(fs->cache);
	first_err(&err, meta_unmount(fs->meta));
	if (!fs->dev_borrowed) {
		blk_dev_close(fs->dev);
		blk_inject_free(fs->inject);
	}
	if (shutdown)
		err = 0;	/* shut down on purpose: nothing more was owed */
	fs_free(fs);
	return err;
}

void fs_shutdown(struct fs *fs)
{
	atomic_store(&fs->shutdown, true);
	blk_dev_shutdown(fs->dev);
	meta_shutdown(fs->meta);
}

bool fs_is_shutdown(struct fs *fs)
{
	return atomic_load(&fs->shutdown) || meta_is_shutdown(fs->meta);
}

struct meta *fs_meta(struct fs *fs) { return fs->meta; }
struct cache *fs_cache(struct fs *fs) { return fs->cache; }
struct blk_dev *fs_dev(struct fs *fs) { return fs->dev; }
struct blk_inject *fs_inject(struct fs *fs) { return fs->inject; }

int fs_statfs(struct fs *fs, struct statvfs *st)
{
	const struct iomapfs_super *sb = meta_super(fs->meta);
	struct meta_space sp;
	uint64_t fsid = 0;

	if (fs_is_shutdown(fs))
		return -EIO;
	meta_get_space(fs->meta, &sp);
	memset(st, 0, sizeof(*st));
	st->f_bsize = IOMAPFS_BLOCK_SIZE;
	st->f_frsize = IOMAPFS_BLOCK_SIZE;
	st->f_blocks = sp.total_blocks;
	st->f_bfree = sp.bfree;
	st->f_bavail = sp.avail_blocks;
	/* Inodes are B+tree items: as many as there is room for. */
	st->f_ffree = sp.avail_blocks;
	st->f_favail = sp.avail_blocks;
	st->f_files = sp.nr_inodes + sp.avail_blocks;
	memcpy(&fsid, sb->uuid, sizeof(fsid));
	st->f_fsid = fsid;
	st->f_namemax = IOMAPFS_NAME_MAX;
	st->f_flag = fs_ro(fs) ? ST_RDONLY : 0;
	return 0;
}

int fs_syncfs(struct fs *fs)
{
	int err = 0;

	if (fs_is_shutdown(fs))
		return -EIO;
	if (fs_ro(fs))
		return 0;
	first_err(&err, cache_sync_all(fs->cache));
	first_err(&err, fs_inode_write_dirty_all(fs));
	first_err(&err, meta_commit(fs->meta));
	return err;
}

void fs_stats_for_each(struct fs *fs,
		       void (*fn)(void *ctx, const char *name, uint64_t val), void *ctx)
{
	struct meta_stats ms;
	size_t cached;

	pthread_mutex_lock(&fs->icache_lock);
	cached = fs->nr_cached;
	pthread_mutex_unlock(&fs->icache_lock);
	fn(ctx, "unwritten_converted", atomic_load(&fs->unwritten_converted));
	fn(ctx, "blocks_allocated", atomic_load(&fs->blocks_allocated));
	fn(ctx, "fsyncs", atomic_load(&fs->fsyncs));
	fn(ctx, "commits_by_fsync", atomic_load(&fs->commits_by_fsync));
	fn(ctx, "dio_fallbacks", atomic_load(&fs->dio_fallbacks));
	fn(ctx, "dio_bounced", atomic_load(&fs->dio_bounced));
	fn(ctx, "inodes_cached", cached);
	meta_get_stats(fs->meta, &ms);
	fn(ctx, "meta_sections", ms.sections);
	fn(ctx, "meta_handles_max", ms.handles_max);
	fn(ctx, "meta_handle_waits", ms.handle_waits);
	fn(ctx, "meta_commits", ms.commits);
	fn(ctx, "meta_journal_blocks_written", ms.journal_blocks_written);
	fn(ctx, "meta_checkpoints", ms.checkpoints);
	fn(ctx, "meta_replayed_txns", ms.replayed_txns);
	fn(ctx, "meta_buf_hits", ms.buf_hits);
	fn(ctx, "meta_buf_misses", ms.buf_misses);
	fn(ctx, "meta_buf_cached", ms.buf_cached);
}
