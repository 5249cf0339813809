// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * -o kernel_cache: clean file data may live in the kernel's page cache too.
 *
 * By default every file is opened with FOPEN_DIRECT_IO and the daemon's
 * cache is the only cache.  With kernel_cache, a regular file that is not
 * drop-behind and not opened O_DIRECT is opened without it, so the kernel
 * serves repeated reads from its own page cache without a FUSE request.
 * Writes still reach the daemon at once: the mount never asks for
 * FUSE_CAP_WRITEBACK_CACHE, so the kernel writes through (it copies a
 * write into its cached pages and sends it to us before write() returns).
 * Dirty data, writeback, ioends and drop-behind therefore stay in the
 * daemon; what the kernel holds is a clean copy of what we hold.
 *
 * That copy goes stale only when the daemon changes data without the
 * kernel's page cache seeing the change: a write through a direct-I/O open
 * (O_DIRECT, or a drop-behind file), truncate, a fallocate that punches,
 * zeroes or shifts data, a failed write (the kernel may keep the bytes it
 * copied in), and a shutdown (later reads must fail).  For each, the op
 *
 *   1. before its reply, calls kc_data_changing(): bumps the inode's data
 *      generation and notes whether the kernel may hold pages;
 *   2. after its reply, with no lock held, calls kc_inval_queue(), which
 *      hands FUSE_NOTIFY_INVAL_INODE for the range to the notifier thread.
 *
 * Why not from the request thread: the kernel may hold locks for the
 * request we are answering (inode_lock for fallocate, the nowrite state
 * for O_TRUNC, a folio lock for a write), and invalidating a dirty mmap
 * page makes the kernel write it back to us (launder_folio) and wait for
 * that WRITE, which only another request thread can serve (notifier.c).
 * Sending late is safe: the kernel drops its own pages for the changes it
 * makes itself (truncate, punch, zero, a direct write, a failed write),
 * and the generation below keeps a later open from trusting old pages.
 *
 * The generation decides FOPEN_KEEP_CACHE at the next open: the kernel
 * drops a file's cached pages at every open without it, and keeps them
 * where the daemon knows nothing changed since the last kernel-cached
 * open.  It also covers an invalidation that crossed an open in flight.
 *
 * atime: FUSE inodes are S_NOATIME in the kernel, so only a read that
 * reaches the daemon moves atime.  Under relatime an open also withholds
 * FOPEN_KEEP_CACHE when the next read must move atime (atime not newer
 * than mtime or ctime, or a day old): the kernel drops its pages and that
 * read comes here.  strictatime wants every read, so it keeps every file
 * out of the kernel's cache.
 *
 * Threads: FUSE request threads only; the invalidations themselves are
 * sent by the notifier.
 */
#include "ops.h"

/* May the kernel cache this open's data?  The open's own flags, the
 * file's drop-behind state and strictatime (a read served by the kernel
 * never moves atime) decide. */
static bool kc_open_cacheable(struct iomapfs_daemon *d, struct fs_inode *ip,
			      bool direct)
{
	if (!d->kernel_cache || direct || d->dontcache_all || d->strictatime)
		return false;
	return !cache_mapping_dontcache(ip->mapping);
}

void kc_open(struct iomapfs_daemon *d, struct fs_inode *ip, bool direct,
	     struct fuse_file_info *fi)
{
	bool atime_due;

	if (!kc_open_cacheable(d, ip, direct)) {
		/* The daemon's cache is the only cache: every read and write
		 * comes here, so drop-behind and cachestat mean what they say. */
		fi->direct_io = 1;
		fi->keep_cache = 0;
		return;
	}
	fi->direct_io = 0;
	/* Outside ip->lock, which relatime's check takes. */
	atime_due = fs_inode_atime_due(ip);
	pthread_mutex_lock(&ip->lock);
	fi->keep_cache = ip->kc_cached && ip->kc_open_gen == ip->kc_gen &&
			 !atime_due;
	ip->kc_open_gen = ip->kc_gen;
	ip->kc_cached = true;
	pthread_mutex_unlock(&ip->lock);
}

void kc_data_changing(struct iomapfs_daemon *d, struct fs_inode *ip, uint64_t off,
		      uint64_t len, struct kc_inval *iv)
{
	iv->ino = ip->ino;
	iv->off = off;
	iv->len = len;
	iv->needed = false;
	if (!d->kernel_cache)
		return;
	pthread_mutex_lock(&ip->lock);
	ip->kc_gen++;
	iv->needed = ip->kc_cached;
	pthread_mutex_unlock(&ip->lock);
}

void kc_inval_queue(struct iomapfs_daemon *d, const struct kc_inval *iv)
{
	if (!iv->needed)
		return;
	atomic_fetch_add_explicit(&d->kc_invals, 1, memory_order_relaxed);
	notifier_inval(d, iv->ino, iv->off, iv->len);
}

static void kc_shutdown_one(void *arg, struct fs_inode *ip)
{
	struct iomapfs_daemon *d = arg;
	struct kc_inval iv;

	if (!ip->mapping)
		return;
	kc_data_changing(d, ip, 0, KC_TO_END, &iv);
	kc_inval_queue(d, &iv);
}

void kc_shutdown(struct iomapfs_daemon *d)
{
	if (d->kernel_cache)
		fs_for_each_inode(d->fs, kc_shutdown_one, d);
}
