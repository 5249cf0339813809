/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The FUSE daemon's private interfaces: the lowlevel ops table (ops.c, with
 * the xattr ops in ops_xattr.c and the ioctl in ops_ioctl.c), POSIX ACLs in
 * the kernel's xattr format (acl.c), and the command line and mount options
 * (options.c), all used by main.c.
 *
 * Threads: every ops*.c and acl.c function runs in a FUSE request thread
 * (the multithreaded session loop), the analogue of a user task in a
 * syscall: it may sleep, take any lock and wait for I/O.
 */
#ifndef IOMAPFS_OPS_H
#define IOMAPFS_OPS_H

#include <stdatomic.h>
#include <fuse_lowlevel.h>
#include "fs.h"
#include "acl.h"
#include "init_shim.h"

/* FS_IOC_SHUTDOWN as XFS and f2fs define it; <linux/fs.h> here lacks it. */
#ifndef FS_IOC_SHUTDOWN
#define FS_IOC_SHUTDOWN		_IOR('X', 125, uint32_t)
#endif

/* The session's userdata: one per mount. */
struct iomapfs_daemon {
	struct fs	*fs;
	struct fuse_session *se;	/* for attribute invalidations */
	bool		posix_acl;	/* FUSE_CAP_POSIX_ACL negotiated in ->init */
	bool		dontcache_all;	/* -o dontcache */
	bool		cache_readdir;	/* the kernel may keep directory listings */
	/* Seconds the kernel may keep what we reply (-o attr_timeout,
	 * entry_timeout, negative_timeout): long, because every change the
	 * kernel did not ask for is invalidated (ops_notify.c). */
	double		attr_timeout, entry_timeout, negative_timeout;
	bool		kernel_cache;	/* -o kernel_cache (kernel_cache.c) */
	bool		strictatime;	/* every read moves atime: no read may
					 * be served by the kernel's cache */
	atomic_uint_fast64_t reads;	/* FUSE READ requests served */
	atomic_uint_fast64_t kc_invals;	/* kernel cache invalidations queued */
	atomic_uint_fast64_t kc_invals_sent;	/* ... sent by the notifier */
	struct notifier	*notifier;	/* sends them (notifier.c); NULL
					 * without kernel_cache */
	struct init_shim shim;		/* INIT flags newer than libfuse's */
	atomic_bool	shutdown_notified;	/* notify_shutdown() has run */
};

extern const struct fuse_lowlevel_ops iomapfs_ll_ops;

/* ---- shared by the ops files: ops.c, ops_xattr.c, ops_ioctl.c ---- */

/* The request's mount (its session userdata) and filesystem. */
struct iomapfs_daemon *req_daemon(fuse_req_t req);
struct fs *req_fs(fuse_req_t req);
/* The one place -errno becomes a FUSE error: replies with -@err (0: success). */
void reply_err(fuse_req_t req, int err);
/* Is the caller uid 0 (our stand-in for CAP_SYS_ADMIN and CAP_FSETID)? */
bool caller_is_root(fuse_req_t req);
/* in_group_or_capable(): may the caller keep S_ISGID on a file of @gid? */
bool caller_in_group(fuse_req_t req, gid_t gid);

/* The xattr ops (ops_xattr.c): the daemon's own user.iomapfs.* names,
 * then the POSIX ACLs (acl.c), then the stored xattrs. */
void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		 const char *value, size_t size, int flags);
void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size);
void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size);
void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name);

/* Invalidations of what the kernel cached (ops_notify.c says which). */
/* A write or truncate by the daemon changed @ip's mode from @before? */
void notify_mode_change(fuse_req_t req, struct fs_inode *ip, mode_t before);
/* Once the filesystem is shut down: every inode the kernel holds. */
void notify_shutdown(struct iomapfs_daemon *d);

/* FS_IOC_SHUTDOWN (ops_ioctl.c). */
void op_ioctl(fuse_req_t req, fuse_ino_t ino, unsigned int cmd, void *arg,
	      struct fuse_file_info *fi, unsigned flags, const void *in_buf,
	      size_t in_bufsz, size_t out_bufsz);

/* ---- -o kernel_cache (kernel_cache.c) ---- */

/*
 * Set fi->direct_io and fi->keep_cache for an open of regular file @ip:
 * direct I/O unless the mount has kernel_cache and the file is neither
 * drop-behind nor opened O_DIRECT (@direct); then keep the kernel's pages
 * if nothing changed behind its back since the last such open.
 */
void kc_open(struct iomapfs_daemon *d, struct fs_inode *ip, bool direct,
	     struct fuse_file_info *fi);

/* A data change the kernel's page cache did not see, to invalidate. */
struct kc_inval {
	uint64_t	ino, off, len;	/* len KC_TO_END: to the end of the file */
	bool		needed;		/* the kernel may hold pages of the range */
};
#define KC_TO_END	UINT64_MAX
/* Before the reply: bump @ip's data generation, fill @iv.  No lock held. */
void kc_data_changing(struct iomapfs_daemon *d, struct fs_inode *ip, uint64_t off,
		      uint64_t len, struct kc_inval *iv);
/* After the reply, no lock held: queue the range's invalidation for the
 * notifier (never sent from a request thread, notifier.c says why). */
void kc_inval_queue(struct iomapfs_daemon *d, const struct kc_inval *iv);
/* After FS_IOC_SHUTDOWN: queue the drop of every file's kernel pages, so
 * that reads reach the daemon and fail as they should. */
void kc_shutdown(struct iomapfs_daemon *d);

/* ---- the notifier thread (notifier.c) ---- */

/* At mount, once d->se exists: start `iomapfs-notify` if kernel_cache. */
int notifier_start(struct iomapfs_daemon *d);
/* After the session loop: run what is queued, end the thread. */
void notifier_stop(struct iomapfs_daemon *d);
/* Queue FUSE_NOTIFY_INVAL_INODE of [@off, @off + @len) (KC_TO_END: to the
 * end of the file); returns at once.  No notifier: nothing to do. */
void notifier_inval(struct iomapfs_daemon *d, uint64_t ino, uint64_t off,
		    uint64_t len);
/* Run @fn(@arg) in the notifier once everything queued before is sent;
 * without a notifier, at once in the caller.  @fn may reply to a request. */
void notifier_call(struct iomapfs_daemon *d, void (*fn)(void *arg), void *arg);

/* ---- options (options.c) ---- */

struct daemon_opts {
	const char		*device, *mountpoint;
	bool			foreground, debug, help, version;
	struct fs_mount_opts	fs;
	char			*fuse_opts;	/* comma list for fuse_session_new */
	char			*logfile;	/* -o logfile=PATH, or NULL */
	char			*log_writes;	/* owns fs.blk.log_writes */
	unsigned		max_threads;		/* 0: libfuse's (10) */
	unsigned		max_idle_threads;	/* 0: max_threads, else 16 */
	double			attr_timeout, entry_timeout, negative_timeout;
	bool			kernel_cache;	/* -o kernel_cache */
};
/* Request threads kept idle by default: more than libfuse 3.14 ever
 * starts (max_threads 10), so none is ended and started again. */
#define DAEMON_DEF_IDLE_THREADS	16

/*
 * Parse `iomapfs DEVICE MOUNTPOINT [-f] [-d] [-o opt[,opt...]]`.  Returns 0,
 * or -EINVAL after printing what is wrong on stderr.
 */
int daemon_parse_args(int argc, char **argv, struct daemon_opts *o);
void daemon_opts_free(struct daemon_opts *o);
void daemon_usage(FILE *out, const char *prog);

#endif /* IOMAPFS_OPS_H */
