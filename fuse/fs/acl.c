// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * POSIX ACLs for the FUSE daemon, as fs/posix_acl.c does them for a local
 * filesystem.  With FUSE_CAP_POSIX_ACL the kernel caches and enforces ACLs
 * but leaves their storage and their coupling to the mode to us:
 *
 *   - both ACLs are stored as ordinary xattrs in the kernel's xattr format
 *     (struct posix_acl_xattr_header, version 2, then 8-byte entries);
 *   - setting an access ACL sets the mode's permission bits from it, and an
 *     ACL equivalent to the mode is not stored (posix_acl_update_mode);
 *   - chmod rewrites the owner, mask (or group) and other entries of an
 *     existing access ACL (posix_acl_chmod);
 *   - a new inode in a directory with a default ACL gets an access ACL made
 *     from that default masked by the create mode, and a new directory also
 *     inherits the default ACL (posix_acl_create); without one the umask
 *     applies, because FUSE_DONT_MASK tells the kernel not to apply it.
 *
 * Kernel names are kept for the helpers; entries are validated here too
 * because the blob reaches disk as is.  Every function runs in a FUSE
 * request thread.
 */
#include <string.h>
#include <sys/xattr.h>
#include "acl.h"

#define ACL_XATTR_VERSION	0x0002
#define ACL_UNDEFINED_ID	((uint32_t)-1)

enum {
	ACL_USER_OBJ	= 0x01,
	ACL_USER	= 0x02,
	ACL_GROUP_OBJ	= 0x04,
	ACL_GROUP	= 0x08,
	ACL_MASK	= 0x10,
	ACL_OTHER	= 0x20,
};

/* The xattr format: little-endian, as include/uapi/linux/posix_acl_xattr.h. */
struct acl_xattr_header {
	uint32_t	a_version;
};
struct acl_xattr_entry {
	uint16_t	e_tag;
	uint16_t	e_perm;
	uint32_t	e_id;
};

struct acl {
	size_t			count;
	struct acl_xattr_entry	*e;	/* points into ->blob */
	void			*blob;
	size_t			len;
};

bool acl_is_xattr(const char *name)
{
	return !strcmp(name, XATTR_NAME_POSIX_ACL_ACCESS) ||
	       !strcmp(name, XATTR_NAME_POSIX_ACL_DEFAULT);
}

/* Order of tags in a valid ACL, as posix_acl_valid() requires. */
static int acl_tag_rank(uint16_t tag)
{
	switch (tag) {
	case ACL_USER_OBJ:	return 0;
	case ACL_USER:		return 1;
	case ACL_GROUP_OBJ:	return 2;
	case ACL_GROUP:		return 3;
	case ACL_MASK:		return 4;
	case ACL_OTHER:		return 5;
	default:		return -1;
	}
}

/* posix_acl_valid(): one each of USER_OBJ, GROUP_OBJ, OTHER; a MASK when
 * named entries exist; sorted by tag, then by id; no permission bits
 * beyond rwx. */
static int acl_valid(const struct acl *acl)
{
	int last_rank = -1, nr_obj = 0, nr_named = 0, nr_mask = 0;
	uint32_t last_id = 0;

	for (size_t i = 0; i < acl->count; i++) {
		const struct acl_xattr_entry *pa = &acl->e[i];
		int rank = acl_tag_rank(pa->e_tag);

		if (rank < 0 || rank < last_rank || (pa->e_perm & ~7u))
			return -EINVAL;
		if (pa->e_tag == ACL_USER || pa->e_tag == ACL_GROUP) {
			if (rank == last_rank && pa->e_id <= last_id)
				return -EINVAL;
			last_id = pa->e_id;
			nr_named++;
		} else if (rank == last_rank) {
			return -EINVAL;		/* a second USER_OBJ, MASK, ... */
		} else if (pa->e_tag == ACL_MASK) {
			nr_mask++;
		} else {
			nr_obj++;
		}
		last_rank = rank;
	}
	if (nr_obj != 3 || (nr_named && !nr_mask))
		return -EINVAL;
	return 0;
}

/* Take ownership of @blob (kmalloc'd) as an ACL; -EINVAL if malformed. */
static int acl_from_xattr(void *blob, size_t len, struct acl *acl)
{
	const struct acl_xattr_header *h = blob;

	acl->blob = blob;
	acl->len = len;
	if (len < sizeof(*h) || (len - sizeof(*h)) % sizeof(struct acl_xattr_entry) ||
	    h->a_version != ACL_XATTR_VERSION)
		return -EINVAL;
	acl->count = (len - sizeof(*h)) / sizeof(struct acl_xattr_entry);
	acl->e = (struct acl_xattr_entry *)((char *)blob + sizeof(*h));
	return acl_valid(acl);
}

/* Read ACL xattr @name of @ino; -ENODATA when there is none. */
static int acl_get(struct fs *fs, uint64_t ino, const char *name, struct acl *acl)
{
	ssize_t len = fs_getxattr(fs, ino, name, NULL, 0);
	void *blob;
	int err;

	memset(acl, 0, sizeof(*acl));
	if (len < 0)
		return len;
	blob = kmalloc(len ? len : 1);
	len = fs_getxattr(fs, ino, name, blob, len);
	if (len < 0) {
		kfree(blob);
		return len;	/* changed under us (-ERANGE) or gone */
	}
	err = acl_from_xattr(blob, len, acl);
	if (err) {
		kfree(blob);
		acl->blob = NULL;
	}
	return err;
}

/*
 * posix_acl_equiv_mode(): fold the ACL into permission bits; returns 1 if
 * the ACL says more than the mode can (named entries or a mask), else 0.
 */
static int acl_equiv_mode(const struct acl *acl, mode_t *mode_p)
{
	mode_t mode = 0;
	int not_equiv = 0;

	for (size_t i = 0; i < acl->count; i++) {
		const struct acl_xattr_entry *pa = &acl->e[i];

		switch (pa->e_tag) {
		case ACL_USER_OBJ:
			mode |= (pa->e_perm & S_IRWXO) << 6;
			break;
		case ACL_GROUP_OBJ:
			mode |= (pa->e_perm & S_IRWXO) << 3;
			break;
		case ACL_OTHER:
			mode |= pa->e_perm & S_IRWXO;
			break;
		case ACL_MASK:
			mode = (mode & ~S_IRWXG) | ((pa->e_perm & S_IRWXO) << 3);
			not_equiv = 1;
			break;
		default:
			not_equiv = 1;
			break;
		}
	}
	*mode_p = (*mode_p & ~(mode_t)0777) | mode;
	return not_equiv;
}

/* posix_acl_create_masq(): ACL and create mode mask each other.  Returns
 * 1 if the result is not equivalent to the mode. */
static int acl_create_masq(struct acl *acl, mode_t *mode_p)
{
	struct acl_xattr_entry *group_obj = NULL, *mask_obj = NULL;
	mode_t mode = *mode_p;
	int not_equiv = 0;

	for (size_t i = 0; i < acl->count; i++) {
		struct acl_xattr_entry *pa = &acl->e[i];

		switch (pa->e_tag) {
		case ACL_USER_OBJ:
			pa->e_perm &= (mode >> 6) | ~S_IRWXO;
			mode &= (pa->e_perm << 6) | ~S_IRWXU;
			break;
		case ACL_GROUP_OBJ:
			group_obj = pa;
			break;
		case ACL_OTHER:
			pa->e_perm &= mode | ~S_IRWXO;
			mode &= pa->e_perm | ~S_IRWXO;
			break;
		case ACL_MASK:
			mask_obj = pa;
			not_equiv = 1;
			break;
		default:
			not_equiv = 1;
			break;
		}
	}
	if (!mask_obj)
		mask_obj = group_obj;	/* valid ACLs always have a GROUP_OBJ */
	mask_obj->e_perm &= (mode >> 3) | ~S_IRWXO;
	mode &= (mask_obj->e_perm << 3) | ~S_IRWXG;
	*mode_p = (*mode_p & ~(mode_t)0777) | mode;
	return not_equiv;
}

/* __posix_acl_chmod(). */
static void acl_chmod_entries(struct acl *acl, mode_t mode)
{
	struct acl_xattr_entry *group_obj = NULL, *mask_obj = NULL;

	for (size_t i = 0; i < acl->count; i++) {
		struct acl_xattr_entry *pa = &acl->e[i];

		if (pa->e_tag == ACL_USER_OBJ)
			pa->e_perm = (mode & S_IRWXU) >> 6;
		else if (pa->e_tag == ACL_GROUP_OBJ)
			group_obj = pa;
		else if (pa->e_tag == ACL_MASK)
			mask_obj = pa;
		else if (pa->e_tag == ACL_OTHER)
			pa->e_perm = mode & S_IRWXO;
	}
	if (!mask_obj)
		mask_obj = group_obj;
	mask_obj->e_perm = (mode & S_IRWXG) >> 3;
}

static void *kmemdup(const void *p, size_t len)
{
	void *q = kmalloc(len);

	memcpy(q, p, len);
	return q;
}

int acl_prepare_create(struct fs *fs, uint64_t parent, mode_t *mode, mode_t umask,
		       struct acl_inherit *ai)
{
	struct acl dflt;
	int err, not_equiv;

	memset(ai, 0, sizeof(*ai));
	if (S_ISLNK(*mode))
		return 0;
	err = acl_get(fs, parent, XATTR_NAME_POSIX_ACL_DEFAULT, &dflt);
	if (err == -ENODATA || err == -EOPNOTSUPP) {
		*mode &= ~umask;
		return 0;
	}
	if (err)
		return err;
	if (S_ISDIR(*mode)) {
		ai->dflt = kmemdup(dflt.blob, dflt.len);
		ai->dflt_len = dflt.len;
	}
	/* The access ACL is the default one masked by the create mode. */
	not_equiv = acl_create_masq(&dflt, mode);
	if (not_equiv) {
		ai->access = dflt.blob;
		ai->access_len = dflt.len;
	} else {
		kfree(dflt.blob);
	}
	return 0;
}

void acl_inherit_to_args(struct acl_inherit *ai, struct fs_create_args *args)
{
	unsigned n = 0;

	if (ai->access)
		ai->xattrs[n++] = (struct fs_xattr_init){ XATTR_NAME_POSIX_ACL_ACCESS,
							  ai->access, ai->access_len };
	if (ai->dflt)
		ai->xattrs[n++] = (struct fs_xattr_init){ XATTR_NAME_POSIX_ACL_DEFAULT,
							  ai->dflt, ai->dflt_len };
	args->xattrs = ai->xattrs;
	args->nr_xattrs = n;
}

void acl_inherit_free(struct acl_inherit *ai)
{
	kfree(ai->access);
	kfree(ai->dflt);
	memset(ai, 0, sizeof(*ai));
}

static int acl_inode_mode(struct fs *fs, uint64_t ino, mode_t *mode)
{
	struct fs_inode *ip;
	int err = fs_iget(fs, ino, &ip);

	if (err)
		return err;
	pthread_mutex_lock(&ip->lock);
	*mode = ip->di.mode;
	pthread_mutex_unlock(&ip->lock);
	fs_iput(ip);
	return 0;
}

/* Setting the access ACL: posix_acl_update_mode(), then store or drop it
 * and set the mode in one section. */
static int acl_set_access(struct fs *fs, uint64_t ino, struct acl *acl, int flags,
			  bool keep_sgid)
{
	mode_t mode;
	int err, not_equiv;

	err = acl_inode_mode(fs, ino, &mode);
	if (err)
		return err;
	not_equiv = acl_equiv_mode(acl, &mode);
	if (!keep_sgid)
		mode &= ~(mode_t)S_ISGID;
	/* Equivalent to the mode: drop any stored ACL instead (value NULL);
	 * XATTR_REPLACE with none stored stays -ENODATA. */
	err = fs_setxattr_mode(fs, ino, XATTR_NAME_POSIX_ACL_ACCESS,
			       not_equiv ? acl->blob : NULL, acl->len, flags, &mode);
	if (!not_equiv && err == -ENODATA && !(flags & XATTR_REPLACE))
		err = 0;
	return err;
}

int acl_set(struct fs *fs, uint64_t ino, const char *name, const void *value,
	    size_t size, int flags, bool keep_sgid)
{
	struct acl acl;
	mode_t mode;
	int err;

	if (!size)
		return -EINVAL;	/* removal comes as removexattr */
	err = acl_from_xattr(kmemdup(value, size), size, &acl);
	if (err)
		goto out;
	if (!strcmp(name, XATTR_NAME_POSIX_ACL_ACCESS)) {
		err = acl_set_access(fs, ino, &acl, flags, keep_sgid);
		goto out;
	}
	err = acl_inode_mode(fs, ino, &mode);
	if (!err && !S_ISDIR(mode))
		err = -EACCES;	/* default ACLs only on directories, as set_posix_acl() */
	if (!err)
		err = fs_setxattr(fs, ino, name, acl.blob, acl.len, flags);
out:
	kfree(acl.blob);
	return err;
}

int acl_remove(struct fs *fs, uint64_t ino, const char *name)
{
	return fs_removexattr(fs, ino, name);
}

int acl_chmod_prepare(struct fs *fs, uint64_t ino, struct fs_setattr *sa)
{
	struct acl acl;
	int err;

	if (!(sa->valid & FS_SET_MODE) || S_ISLNK(sa->mode))
		return 0;
	err = acl_get(fs, ino, XATTR_NAME_POSIX_ACL_ACCESS, &acl);
	if (err == -ENODATA || err == -EOPNOTSUPP)
		return 0;
	if (err)
		return err;
	acl_chmod_entries(&acl, sa->mode);
	sa->acl = acl.blob;
	sa->acl_len = acl.len;
	return 0;
}
