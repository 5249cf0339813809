/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * POSIX ACLs (acl.c), stored as xattrs in the kernel's format: a filesystem
 * object the FUSE ops call into; it depends on fs.h only.
 */
#ifndef IOMAPFS_ACL_H
#define IOMAPFS_ACL_H

#include <sys/types.h>
#include "fs.h"


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
	struct fs_xattr_init xattrs[2];	/* acl_inherit_to_args() */
};

/*
 * Before creating a child of @parent with *@mode: with a default ACL on the
 * parent, mask *@mode and the inherited access ACL by each other
 * (posix_acl_create_masq); without one, apply @umask.  Symlinks get
 * neither.  Fills @ai; the caller frees it with acl_inherit_free().
 */
int acl_prepare_create(struct fs *fs, uint64_t parent, mode_t *mode, mode_t umask,
		       struct acl_inherit *ai);
/* Hand what acl_prepare_create() decided to fs_create() (@args->xattrs,
 * pointing into @ai), which stores it in the create's own section: a crash
 * never leaves the new inode with its masked mode but without its ACL. */
void acl_inherit_to_args(struct acl_inherit *ai, struct fs_create_args *args);
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
/* Before a chmod (@sa with FS_SET_MODE): the access ACL with its owner,
 * mask (or group) and other entries rewritten from the new mode
 * (posix_acl_chmod) goes into sa->acl, for fs_setattr() to replace in the
 * same section as the mode.  No ACL: nothing to do.  The caller frees
 * sa->acl with kfree(). */
int acl_chmod_prepare(struct fs *fs, uint64_t ino, struct fs_setattr *sa);

#endif /* IOMAPFS_ACL_H */
