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

#include <fuse_lowlevel.h>
#include "fs.h"

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
	double		attr_timeout, entry_timeout;
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

/* FS_IOC_SHUTDOWN (ops_ioctl.c). */
void op_ioctl(fuse_req_t req, fuse_ino_t ino, unsigned int cmd, void *arg,
	      struct fuse_file_info *fi, unsigned flags, const void *in_buf,
	      size_t in_bufsz, size_t out_bufsz);

/* ---- POSIX ACLs (acl.c) ---- */

#define XATTR_NAME_POSIX_ACL_ACCESS	"system.posix_acl_access"
#define XATTR_NAME_POSIX_ACL_DEFAULT	"system.posix_acl_default"

/* Is @name one of the two POSIX ACL xattrs? */
bool acl_is_xattr(const char *name);

/*
 * What a new inode inherits from its parent's default ACL (posix_acl_create):
 * the blobs to store once the inode exists.  Both NULL when the parent has
 * no default ACL (then the umask was applied instead).
 */
struct acl_inherit {
	void	*access;	/* NULL when equivalent to the mode */
	size_t	access_len;
	void	*dflt;		/* directories only: the parent's default ACL */
	size_t	dflt_len;
};

/*
 * Before creating a child of @parent with *@mode: with a default ACL on the
 * parent, mask *@mode and the inherited access ACL by each other
 * (posix_acl_create_masq); without one, apply @umask.  Symlinks get
 * neither.  Fills @ai; the caller frees it with acl_inherit_free().
 */
int acl_prepare_create(struct fs *fs, uint64_t parent, mode_t *mode, mode_t umask,
		       struct acl_inherit *ai);
/* After the child @ino exists: store what acl_prepare_create() decided. */
int acl_apply_create(struct fs *fs, uint64_t ino, const struct acl_inherit *ai);
void acl_inherit_free(struct acl_inherit *ai);

/*
 * setxattr of an ACL xattr: validate the kernel-format blob; an access ACL
 * updates the mode's permission bits (and is not stored when it is
 * equivalent to the mode, posix_acl_equiv_mode), clearing S_ISGID when the
 * caller is neither in the file's group nor root (posix_acl_update_mode):
 * @keep_sgid is the caller's in_group_or_capable() answer.
 */
int acl_set(struct fs *fs, uint64_t ino, const char *name, const void *value,
	    size_t size, int flags, bool keep_sgid);
/* removexattr of an ACL xattr. */
int acl_remove(struct fs *fs, uint64_t ino, const char *name);
/* After a chmod: rewrite the access ACL's owner, mask (or group) and other
 * entries from @mode (posix_acl_chmod).  No ACL: nothing to do. */
int acl_chmod(struct fs *fs, uint64_t ino, mode_t mode);

/* ---- options (options.c) ---- */

struct daemon_opts {
	const char		*device, *mountpoint;
	bool			foreground, debug, help, version;
	struct fs_mount_opts	fs;
	char			*fuse_opts;	/* comma list for fuse_session_new */
	unsigned		max_threads, max_idle_threads;	/* 0: libfuse default */
};

/*
 * Parse `iomapfs DEVICE MOUNTPOINT [-f] [-d] [-o opt[,opt...]]`.  Returns 0,
 * or -EINVAL after printing what is wrong on stderr.
 */
int daemon_parse_args(int argc, char **argv, struct daemon_opts *o);
void daemon_opts_free(struct daemon_opts *o);
void daemon_usage(FILE *out, const char *prog);

#endif /* IOMAPFS_OPS_H */
