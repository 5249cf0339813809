// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The FUSE ioctl op: FS_IOC_SHUTDOWN, the one ioctl the daemon answers
 * (every other command is -ENOTTY).  It runs in a FUSE request thread (task
 * context); errors reach the kernel through reply_err() (ops.c).
 */
#include <linux/fs.h>
#include "ops.h"

/* ---- ioctl ---- */

/* FS_IOC_SHUTDOWN's reply, once the kernel's pages are gone (notifier). */
static void shutdown_reply(void *arg)
{
	fuse_req_t req = arg;
	struct iomapfs_daemon *d = req_daemon(req);	/* the reply frees req */

	fuse_reply_ioctl(req, 0, NULL, 0);
	notify_shutdown(d);
}

/*
 * FS_IOC_SHUTDOWN on any file or directory of the mount.  The command is an
 * _IOR, so FUSE copies nothing in and the flags argument never reaches us:
 * we always do XFS_FSOP_GOING_FLAGS_NOLOGFLUSH -- stop at once; what was
 * fsynced or committed survives, nothing later reaches the device, and
 * every later operation fails with EIO until unmount.  CAP_SYS_ADMIN is
 * approximated by uid 0, as the request carries no capabilities.
 */
void op_ioctl(fuse_req_t req, fuse_ino_t ino, unsigned int cmd, void *arg,
		     struct fuse_file_info *fi, unsigned flags, const void *in_buf,
		     size_t in_bufsz, size_t out_bufsz)
{
	struct iomapfs_daemon *d;

	/* A 32-bit caller (FUSE_IOCTL_COMPAT) sends the same command number and
	 * no pointer we would read, so it is served the same way. */
	if (cmd != FS_IOC_SHUTDOWN)
		return reply_err(req, -ENOTTY);
	if (!caller_is_root(req))
		return reply_err(req, -EPERM);
	d = req_daemon(req);
	fs_shutdown(d->fs);
	/*
	 * The kernel's cached pages go before the reply, so that a read the
	 * caller issues once the ioctl returns cannot be served from them.
	 * Dropping them may launder a dirty mmap page, a WRITE that only a
	 * request thread can serve (and fail with EIO): so this thread neither
	 * sends them nor waits.  The notifier sends them and then the reply.
	 */
	kc_shutdown(d);
	notifier_call(d, shutdown_reply, req);
}
