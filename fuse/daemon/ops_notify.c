// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Telling the kernel what changed without its asking.
 *
 * The daemon is the only writer of its filesystem, so the kernel may keep
 * names, absent names and attributes for a long time (-o entry_timeout,
 * attr_timeout, negative_timeout; a day by default).  That is only correct
 * if every change the kernel cannot infer from its own request reaches it
 * as an invalidation.  What the kernel (6.x fs/fuse) updates or
 * invalidates by itself, and so needs nothing from us:
 *
 *   write, fallocate, O_TRUNC  size, mtime, ctime, blocks (FUSE_STATX_MODSIZE)
 *   read, readdir, readlink    atime
 *   setxattr, removexattr      ctime; with POSIX ACLs every attribute and
 *                              the cached ACLs (an ACL can change the mode)
 *   setattr                    the attributes of the reply; cached ACLs
 *   link                       nlink and ctime, from the entry reply, on the
 *                              one kernel inode every name shares
 *   unlink, rmdir, rename      the victim's nlink and ctime, the parents'
 *                              attributes, the dentries
 *
 * What only the daemon knows, and sends here:
 *
 *   - a write or an O_TRUNC open by a caller without CAP_FSETID clears
 *     setuid/setgid (the kernel does it for chown and truncate, not for a
 *     FUSE write): the inode's attributes (notify_mode_change);
 *   - a shutdown (FS_IOC_SHUTDOWN, or a journal I/O error): every inode the
 *     kernel holds, so that its next stat or open reaches the daemon and
 *     fails with EIO as on XFS (notify_shutdown).
 *
 * Deadlocks: a notification is a write to /dev/fuse that the kernel serves
 * in the writing thread.  Invalidating an entry takes the parent
 * directory's i_rwsem, which the kernel holds while it waits for our reply
 * to a directory operation; invalidating page-cache ranges may write dirty
 * pages back through a FUSE request.  So only attribute invalidations
 * (offset -1, no pages, no locks the kernel holds for a request) are sent
 * here, and they may be sent from any request thread, before the reply
 * where the caller must see them (a cleared setuid bit).  Page
 * invalidations (-o kernel_cache) go through the notifier thread
 * (notifier.c); an entry invalidation added later must go there too.
 *
 * Threads: FUSE request threads.
 */
#include <stdatomic.h>
#include <string.h>
#include "ops.h"

/* The kernel forgets the attributes of @ino (it may not know it: fine). */
static void inval_attr(struct iomapfs_daemon *d, uint64_t ino)
{
	int err;

	if (!d->se)
		return;
	err = fuse_lowlevel_notify_inval_inode(d->se, ino, -1, 0);
	if (err && err != -ENOENT)
		iomapfs_debug("invalidating inode %llu: %s",
			      (unsigned long long)ino, strerror(-err));
}

void notify_mode_change(fuse_req_t req, struct fs_inode *ip, mode_t before)
{
	mode_t now;

	pthread_mutex_lock(&ip->lock);
	now = ip->di.mode;
	pthread_mutex_unlock(&ip->lock);
	if (now != before)
		inval_attr(req_daemon(req), ip->ino);
}

/*
 * After a shutdown every operation fails with EIO, but the kernel would
 * answer stat (and path walks) from its caches for as long as the
 * timeouts say.  The first caller after the shutdown invalidates every
 * inode the kernel holds; later callers return at once.
 */
void notify_shutdown(struct iomapfs_daemon *d)
{
	uint64_t *inos;
	size_t nr;

	if (!fs_is_shutdown(d->fs) || atomic_exchange(&d->shutdown_notified, true))
		return;
	/* The root is never looked up, so it has no lookup count. */
	inval_attr(d, FUSE_ROOT_ID);
	inos = fs_inodes_known(d->fs, &nr);
	for (size_t i = 0; i < nr; i++)
		if (inos[i] != FUSE_ROOT_ID)
			inval_attr(d, inos[i]);
	kfree(inos);
	iomapfs_info("shut down: the kernel's cached attributes of %zu inodes invalidated",
		     nr);
}
