// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Extended attributes: XATTR items keyed (ino, IOMAPFS_ITEM_XATTR,
 * hash56(name) << 8 | idx), found like directory entries (one hash bucket,
 * O(log n) however many a file has).  An item holds struct iomapfs_xattr,
 * the full name and, when everything fits in IOMAPFS_ITEM_MAX, the value.
 * A larger value lives in XATTR_DATA chunks of IOMAPFS_ITEM_MAX bytes keyed
 * (ino, XATTR_DATA, cookie << 8 | chunk), the cookie taken from the
 * dinode's xattr_cookie: a new value gets a new cookie, so replacing one is
 * "write the new chunks, point the item at them, delete the old chunks",
 * all in one section and therefore atomic on disk.
 *
 * The daemon's own names (user.iomapfs.*) are handled by ops.c and never
 * reach this file.  All functions run in FUSE request threads.
 */
#include <string.h>
#include <sys/xattr.h>
#include "fs_internal.h"

#define XATTR_CHUNKS_MAX	256	/* cookie << 8 leaves 8 bits for chunks */
static_assert(IOMAPFS_XATTR_SIZE_MAX <= XATTR_CHUNKS_MAX * IOMAPFS_ITEM_MAX,
	      "xattr value must fit the chunk numbering");

static bool has_prefix(const char *name, const char *prefix)
{
	return !strncmp(name, prefix, strlen(prefix)) && name[strlen(prefix)];
}

/* Namespaces we store; other system.* names are not ours to keep. */
static int xattr_name_check(const char *name)
{
	size_t len = name ? strlen(name) : 0;

	if (!len || len > IOMAPFS_XATTR_NAME_MAX)
		return -ERANGE;
	if (has_prefix(name, "user.") || has_prefix(name, "trusted.") ||
	    has_prefix(name, "security."))
		return 0;
	if (!strcmp(name, "system.posix_acl_access") ||
	    !strcmp(name, "system.posix_acl_default"))
		return 0;
	return -EOPNOTSUPP;
}

static int xattr_item_name(const void *val, uint32_t len, const char **name)
{
	const struct iomapfs_xattr *x = val;
	uint32_t need;

	if (len < sizeof(*x))
		return -1;
	need = sizeof(*x) + x->name_len + (x->inline_value ? x->value_len : 0);
	if (!x->name_len || need != len)
		return -1;
	*name = (const char *)(x + 1);
	return x->name_len;
}

static void xattr_bucket_init(struct fs_bucket *b, uint64_t ino)
{
	b->objectid = ino;
	b->type = IOMAPFS_ITEM_XATTR;
	b->name_of = xattr_item_name;
}

static struct iomapfs_key chunk_key(uint64_t ino, uint64_t cookie, unsigned chunk)
{
	return meta_key(ino, IOMAPFS_ITEM_XATTR_DATA, cookie << 8 | chunk);
}

/* In a section: delete an out-of-line value's chunks. */
static int xattr_chunks_delete(struct meta *m, uint64_t ino,
			       const struct iomapfs_xattr *x)
{
	struct iomapfs_key lo, hi;
	long n;

	if (x->inline_value)
		return 0;
	lo = chunk_key(ino, x->cookie, 0);
	hi = chunk_key(ino, x->cookie, XATTR_CHUNKS_MAX - 1);
	n = btree_delete_range(m, &lo, &hi);
	return n < 0 ? (int)n : 0;
}

/* In a section: write @size bytes of @value as chunks under @cookie. */
static int xattr_chunks_write(struct meta *m, uint64_t ino, uint64_t cookie,
			      const char *value, size_t size)
{
	int err = 0;

	for (unsigned c = 0; c * IOMAPFS_ITEM_MAX < size && !err; c++) {
		struct iomapfs_key key = chunk_key(ino, cookie, c);
		size_t off = (size_t)c * IOMAPFS_ITEM_MAX;

		err = btree_insert(m, &key, value + off,
				   min_t(size_t, size - off, IOMAPFS_ITEM_MAX));
	}
	return err;
}

/* In a section: read an item's value (inline or chunked) into @out. */
static int xattr_value_read(struct meta *m, uint64_t ino,
			    const struct fs_bucket *b, void *out)
{
	const struct iomapfs_xattr *x = (const void *)b->val;
	size_t size = x->value_len;
	int err = 0;

	if (x->inline_value) {
		memcpy(out, b->val + sizeof(*x) + x->name_len, size);
		return 0;
	}
	for (unsigned c = 0; c * IOMAPFS_ITEM_MAX < size && !err; c++) {
		struct iomapfs_key key = chunk_key(ino, x->cookie, c);
		size_t off = (size_t)c * IOMAPFS_ITEM_MAX;
		uint32_t len = min_t(size_t, size - off, IOMAPFS_ITEM_MAX);
		uint32_t want = len;

		err = btree_lookup(m, &key, (char *)out + off, &len);
		if (!err && WARN_ON_ONCE(len != want))
			err = -EIO;
	}
	return err == -ENOENT ? -EIO : err;
}

/* ---- set ---- */

struct xattr_set {
	const char	*name;
	const void	*value;
	size_t		size;
	int		flags;
};

static int xattr_set_check(const struct xattr_set *xs)
{
	int err = xattr_name_check(xs->name);

	if (err)
		return err;
	if (xs->flags & ~(XATTR_CREATE | XATTR_REPLACE) ||
	    xs->flags == (XATTR_CREATE | XATTR_REPLACE))
		return -EINVAL;
	if (xs->size > IOMAPFS_XATTR_SIZE_MAX)
		return -E2BIG;
	if (xs->size && !xs->value)
		return -EFAULT;
	return 0;
}

/* Next chunk cookie; reaches disk with the fs_inode_write that follows. */
static uint64_t xattr_new_cookie(struct fs_inode *ip)
{
	uint64_t cookie;

	pthread_mutex_lock(&ip->lock);
	cookie = ++ip->di.xattr_cookie;
	pthread_mutex_unlock(&ip->lock);
	return cookie;
}

/* In a section, after the checks: write the new item (and chunks). */
static int xattr_store(struct fs *fs, struct fs_inode *ip, const struct xattr_set *xs,
		       const struct iomapfs_key *key)
{
	size_t nlen = strlen(xs->name);
	_Alignas(8) uint8_t item[IOMAPFS_ITEM_MAX];
	struct iomapfs_xattr *x = (void *)item;
	size_t len = sizeof(*x) + nlen;
	int err = 0;

	*x = (struct iomapfs_xattr){ .value_len = xs->size, .name_len = nlen };
	memcpy(item + sizeof(*x), xs->name, nlen);
	if (len + xs->size <= IOMAPFS_ITEM_MAX) {
		x->inline_value = 1;
		if (xs->size)
			memcpy(item + len, xs->value, xs->size);
		len += xs->size;
	} else {
		x->cookie = xattr_new_cookie(ip);
		err = xattr_chunks_write(fs->meta, ip->ino, x->cookie,
					 xs->value, xs->size);
	}
	if (!err)
		err = btree_insert(fs->meta, key, item, len);
	return err;
}

/* In a section: set or replace one xattr; ctime and the inode are the
 * caller's. */
static int xattr_store_locked(struct fs *fs, struct fs_inode *ip,
			      const struct xattr_set *xs)
{
	struct fs_bucket b;
	struct iomapfs_xattr old;
	struct iomapfs_key key;
	bool found;
	int err;

	xattr_bucket_init(&b, ip->ino);
	err = fs_bucket_find(fs->meta, &b, xs->name);
	if (err && err != -ENOENT)
		return err;
	found = !err;
	if (found && xs->flags & XATTR_CREATE)
		return -EEXIST;
	if (!found && xs->flags & XATTR_REPLACE)
		return -ENODATA;
	if (!found && b.free_idx > 255)
		return -ENOSPC;
	err = meta_check_growth(fs->meta, 2 + xs->size / IOMAPFS_ITEM_MAX,
				sizeof(struct iomapfs_xattr) + strlen(xs->name) + xs->size);
	if (err)
		return err;
	if (found) {
		key = b.key;
		memcpy(&old, b.val, sizeof(old));
	} else {
		key = meta_key(ip->ino, IOMAPFS_ITEM_XATTR,
			       fs_name_hash56(xs->name, strlen(xs->name)) << 8 |
			       b.free_idx);
	}
	err = xattr_store(fs, ip, xs, &key);
	if (!err && found)
		err = xattr_chunks_delete(fs->meta, ip->ino, &old);
	return err;
}

/* In a section: remove one xattr (-ENODATA if there is none). */
static int xattr_remove_locked(struct fs *fs, struct fs_inode *ip, const char *name)
{
	struct fs_bucket b;
	int err;

	xattr_bucket_init(&b, ip->ino);
	err = fs_bucket_find(fs->meta, &b, name);
	if (err == -ENOENT)
		err = -ENODATA;
	if (!err)
		err = xattr_chunks_delete(fs->meta, ip->ino, (const void *)b.val);
	if (!err)
		err = btree_delete(fs->meta, &b.key);
	return err;
}

int fs_xattr_set_locked(struct fs *fs, struct fs_inode *ip, const char *name,
			const void *value, size_t size, int flags)
{
	struct xattr_set xs = { .name = name, .value = value, .size = size,
				.flags = flags };
	int err = xattr_set_check(&xs);

	return err ? err : xattr_store_locked(fs, ip, &xs);
}

/* In a section: the change, then the mode (if any), ctime and the inode. */
static int xattr_change_locked(struct fs *fs, struct fs_inode *ip,
			       const struct xattr_set *xs, const mode_t *mode)
{
	int err;

	if (xs->value) {
		err = xattr_store_locked(fs, ip, xs);
	} else {
		err = xattr_remove_locked(fs, ip, xs->name);
		if (err == -ENODATA && mode && !(xs->flags & XATTR_REPLACE))
			err = 0;	/* nothing stored: just the mode */
	}
	if (err)
		return err;
	pthread_mutex_lock(&ip->lock);
	if (mode)
		ip->di.mode = (ip->di.mode & ~(mode_t)07777) | (*mode & 07777);
	pthread_mutex_unlock(&ip->lock);
	fs_inode_touch(ip, FS_TOUCH_CTIME);
	return fs_inode_write(ip);
}

/* The inode whose xattrs are about to change, if they may change. */
static int xattr_iget_for_change(struct fs *fs, uint64_t ino, struct fs_inode **ip)
{
	if (fs_is_shutdown(fs))
		return -EIO;
	if (fs_ro(fs))
		return -EROFS;
	return fs_iget(fs, ino, ip);
}

int fs_setxattr_mode(struct fs *fs, uint64_t ino, const char *name,
		     const void *value, size_t size, int flags, const mode_t *mode)
{
	struct xattr_set xs = { .name = name, .value = value, .size = size,
				.flags = flags };
	struct fs_inode *ip;
	struct fs_section sect;
	int tries = 0;
	int err = value ? xattr_set_check(&xs) : xattr_name_check(name);

	if (!err)
		err = xattr_iget_for_change(fs, ino, &ip);
	if (err)
		return err;
	do {
		fs_section_begin1(&sect, ip);
		err = xattr_change_locked(fs, ip, &xs, mode);
		fs_section_end(&sect);
	} while (fs_enospc_retry(fs, err, &tries));
	fs_iput(ip);
	return err;
}

int fs_setxattr(struct fs *fs, uint64_t ino, const char *name, const void *value,
		size_t size, int flags)
{
	return fs_setxattr_mode(fs, ino, name, value ? value : "", size, flags, NULL);
}

/* ---- get, list, remove ---- */

ssize_t fs_getxattr(struct fs *fs, uint64_t ino, const char *name, void *value,
		    size_t size)
{
	const struct iomapfs_xattr *x;
	struct fs_inode *ip;
	struct fs_bucket b;
	ssize_t ret;

	if (!name || !*name || strlen(name) > IOMAPFS_XATTR_NAME_MAX)
		return -ERANGE;
	ret = fs_iget(fs, ino, &ip);
	if (ret)
		return ret;
	xattr_bucket_init(&b, ino);
	x = (const void *)b.val;
	/* Shared: a value in chunks must not change between two of them. */
	down_read(&ip->sect_lock);
	meta_begin_read(fs->meta);
	ret = fs_bucket_find(fs->meta, &b, name);
	if (ret == -ENOENT)
		ret = -ENODATA;
	else if (!ret && size && size < x->value_len)
		ret = -ERANGE;
	else if (!ret && size)
		ret = xattr_value_read(fs->meta, ino, &b, value);
	if (!ret)
		ret = x->value_len;
	meta_end_read(fs->meta);
	up_read(&ip->sect_lock);
	fs_iput(ip);
	return ret;
}

/* In a section: append every name of @ino to @list (size 0: count only). */
static ssize_t xattr_list_locked(struct meta *m, uint64_t ino, char *list,
				 size_t size)
{
	struct iomapfs_key key = meta_key(ino, IOMAPFS_ITEM_XATTR, 0);
	struct iomapfs_key max = meta_key(ino, IOMAPFS_ITEM_XATTR, UINT64_MAX);
	_Alignas(8) uint8_t val[IOMAPFS_ITEM_MAX];
	size_t total = 0;

	for (;;) {
		uint32_t len = sizeof(val);
		const char *name;
		int err = btree_next(m, &key, &max, val, &len), nlen;

		if (err == -ENOENT)
			break;
		if (err)
			return err;
		nlen = xattr_item_name(val, len, &name);
		if (WARN_ON_ONCE(nlen < 0))
			return -EIO;
		if (size && total + nlen + 1 > size)
			return -ERANGE;
		if (size) {
			memcpy(list + total, name, nlen);
			list[total + nlen] = '\0';
		}
		total += nlen + 1;
		if (key.offset == UINT64_MAX)
			break;
		meta_key_next(&key);
	}
	return total;
}

ssize_t fs_listxattr(struct fs *fs, uint64_t ino, char *list, size_t size)
{
	struct fs_inode *ip;
	ssize_t ret = fs_iget(fs, ino, &ip);

	if (ret)
		return ret;
	down_read(&ip->sect_lock);
	meta_begin_read(fs->meta);
	ret = xattr_list_locked(fs->meta, ino, list, size);
	meta_end_read(fs->meta);
	up_read(&ip->sect_lock);
	fs_iput(ip);
	return ret;
}

int fs_removexattr(struct fs *fs, uint64_t ino, const char *name)
{
	struct fs_section sect;
	struct fs_inode *ip;
	int err;

	if (!name || !*name || strlen(name) > IOMAPFS_XATTR_NAME_MAX)
		return -ERANGE;
	err = xattr_iget_for_change(fs, ino, &ip);
	if (err)
		return err;
	fs_section_begin1(&sect, ip);
	err = xattr_remove_locked(fs, ip, name);
	if (!err) {
		fs_inode_touch(ip, FS_TOUCH_CTIME);
		err = fs_inode_write(ip);
	}
	fs_section_end(&sect);
	fs_iput(ip);
	return err;
}

int fs_xattr_remove_all(struct fs *fs, uint64_t ino)
{
	struct iomapfs_key lo = meta_key(ino, IOMAPFS_ITEM_XATTR, 0);
	struct iomapfs_key hi = meta_key(ino, IOMAPFS_ITEM_XATTR_DATA, UINT64_MAX);
	long n = btree_delete_range(fs->meta, &lo, &hi);

	return n < 0 ? (int)n : 0;
}
