// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The FUSE xattr ops: getxattr, setxattr, listxattr and removexattr.  Each
 * dispatches a name to its owner: the daemon's own names first, then the
 * POSIX ACLs (acl.c), then the stored xattrs (fs_*xattr).  The daemon's own
 * names live under user.iomapfs., a namespace reserved to this file:
 *
 *   user.iomapfs.dontcache  "1" while IOMAPFS_INODE_DONTCACHE is set, absent
 *                           otherwise; writable ("0" or "1"), removable
 *   user.iomapfs.cachestat  the file's page cache counters; read-only
 *   user.iomapfs.stats      every counter of the three layers and the log,
 *                           on the root only; read-only, readable by anyone
 *                           (filesystem-wide counters, like statfs and
 *                           /proc/diskstats: nothing in them is per user)
 *   user.iomapfs.logmark    write-only, root: a named mark in the write log
 *
 * and one name under trusted., which only root may read or set:
 *
 *   trusted.iomapfs.inject  on the root only: the error injection rules
 *                           (blk_inject_set(), include/iomapfs/bio.h), e.g.
 *                           "class=data_write nth=3"; reads back each rule
 *                           with its counters
 *
 * listxattr hides every trusted.* name from callers other than root, as
 * ext4 and XFS do for callers without CAP_SYS_ADMIN.
 *
 * Every op runs in a FUSE request thread (task context); errors reach the
 * kernel through reply_err() (ops.c).
 */
#include <string.h>
#include <sys/xattr.h>
#include "ops.h"

#define XATTR_DONTCACHE		"user.iomapfs.dontcache"
#define XATTR_CACHESTAT		"user.iomapfs.cachestat"
#define XATTR_STATS		"user.iomapfs.stats"
#define XATTR_LOGMARK		"user.iomapfs.logmark"
#define XATTR_OWN_PREFIX	"user.iomapfs."
#define XATTR_INJECT		"trusted.iomapfs.inject"
#define XATTR_TRUSTED_PREFIX	"trusted."

/* ---- xattrs: the daemon's own names first, then ACLs, then stored ones ---- */

/* A growable text buffer for the stats xattr. */
struct textbuf {
	char	*s;
	size_t	len, cap;
};

static void textbuf_add(void *arg, const char *name, uint64_t val)
{
	struct textbuf *tb = arg;
	int n;

	for (;;) {
		n = snprintf(tb->s + tb->len, tb->cap - tb->len, "%s %llu\n", name,
			     (unsigned long long)val);
		if (n >= 0 && (size_t)n < tb->cap - tb->len)
			break;
		tb->cap = tb->cap ? 2 * tb->cap : 4096;
		tb->s = krealloc(tb->s, tb->cap);
	}
	tb->len += n;
}

/* user.iomapfs.stats: every counter of the three layers and of the FUSE
 * glue, "name value\n". */
static void stats_text(struct iomapfs_daemon *d, struct textbuf *tb)
{
	struct fs *fs = d->fs;
	struct blk_stats bs;
	struct cache_stats cs;

	memset(tb, 0, sizeof(*tb));
	blk_dev_get_stats(fs_dev(fs), &bs);
	blk_stats_for_each(&bs, textbuf_add, tb);
	cache_get_stats(fs_cache(fs), &cs);
	cache_stats_for_each(&cs, textbuf_add, tb);
	fs_stats_for_each(fs, textbuf_add, tb);
	textbuf_add(tb, "fuse_reads", atomic_load(&d->reads));
	textbuf_add(tb, "kernel_cache_invals", atomic_load(&d->kc_invals));
	textbuf_add(tb, "kernel_cache_invals_sent", atomic_load(&d->kc_invals_sent));
	textbuf_add(tb, "log_warnings", iomapfs_log_warnings());
	textbuf_add(tb, "log_dropped", iomapfs_log_dropped());
}

/* getxattr's size protocol: 0 asks for the length; too small is -ERANGE. */
static ssize_t xattr_copy_out(const char *val, size_t len, void *buf, size_t size)
{
	if (!size)
		return len;
	if (size < len)
		return -ERANGE;
	memcpy(buf, val, len);
	return len;
}

static bool inode_dontcache(struct fs_inode *ip)
{
	bool on;

	pthread_mutex_lock(&ip->lock);
	on = ip->di.flags & IOMAPFS_INODE_DONTCACHE;
	pthread_mutex_unlock(&ip->lock);
	return on;
}

/*
 * user.iomapfs.dontcache reads "1" while the flag is set and is absent
 * (ENODATA, and not listed) while it is clear, so files that never used it
 * show no extra xattr and `cp -a` carries it only where it was set.
 */
static ssize_t own_getxattr(struct iomapfs_daemon *d, struct fs_inode *ip, const char *name,
			    void *buf, size_t size)
{
	char text[128];
	ssize_t ret;

	if (!strcmp(name, XATTR_DONTCACHE)) {
		if (!inode_dontcache(ip))
			return -ENODATA;
		return xattr_copy_out("1", 1, buf, size);
	}
	if (!strcmp(name, XATTR_CACHESTAT) && ip->mapping) {
		struct cache_mapping_stat st;
		int n;

		cache_mapping_get_stat(ip->mapping, &st);
		n = snprintf(text, sizeof(text), "cached=%llu dirty=%llu writeback=%llu evicted=%llu",
			     (unsigned long long)st.cached, (unsigned long long)st.dirty,
			     (unsigned long long)st.writeback, (unsigned long long)st.evicted);
		return xattr_copy_out(text, n, buf, size);
	}
	if (!strcmp(name, XATTR_STATS) && ip->ino == FUSE_ROOT_ID) {
		struct textbuf tb;

		stats_text(d, &tb);
		ret = xattr_copy_out(tb.s ? tb.s : "", tb.len, buf, size);
		kfree(tb.s);
		return ret;
	}
	return -ENODATA;
}

/* Set or clear IOMAPFS_INODE_DONTCACHE: persisted in the dinode, applied
 * to the mapping at once, inherited by new children of a directory. */
static int dontcache_set(struct iomapfs_daemon *d, struct fs_inode *ip,
			 const char *value, size_t size, int flags)
{
	struct fs *fs = d->fs;
	bool on, was;
	int err = 0;

	if (size != 1 || (value[0] != '0' && value[0] != '1'))
		return -EINVAL;
	if (fs_is_shutdown(fs))
		return -EIO;
	on = value[0] == '1';
	pthread_mutex_lock(&ip->lock);
	was = ip->di.flags & IOMAPFS_INODE_DONTCACHE;
	pthread_mutex_unlock(&ip->lock);
	if ((flags & XATTR_CREATE) && was)
		return -EEXIST;
	if ((flags & XATTR_REPLACE) && !was)
		return -ENODATA;
	err = fs_set_inode_flags(ip, on ? IOMAPFS_INODE_DONTCACHE : 0,
				 IOMAPFS_INODE_DONTCACHE, NULL);
	if (!err && ip->mapping)	/* the cache keeps -o dontcache on */
		cache_mapping_set_dontcache(ip->mapping, on);
	return err;
}

static int own_setxattr(struct iomapfs_daemon *d, struct fs_inode *ip,
			const char *name, const char *value, size_t size, int flags)
{
	if (!strcmp(name, XATTR_DONTCACHE))
		return dontcache_set(d, ip, value, size, flags);
	if (!strcmp(name, XATTR_CACHESTAT) || !strcmp(name, XATTR_STATS))
		return -EPERM;	/* read-only views */
	return -EOPNOTSUPP;	/* the user.iomapfs. namespace is reserved */
}

static bool is_own_xattr(const char *name)
{
	return !strncmp(name, XATTR_OWN_PREFIX, strlen(XATTR_OWN_PREFIX));
}

/*
 * user.iomapfs.logmark: setting it (root only, on any inode) appends the
 * value as a named mark to the write log of -o log_writes, after every
 * write and flush completed so far; crash tests name the points they check
 * with it.  Never stored: -ENODEV without a write log.
 */
static int log_mark_set(fuse_req_t req, const char *value, size_t size)
{
	char name[BLK_LOG_MARK_MAX + 1];

	if (!caller_is_root(req))
		return -EPERM;
	if (!size || size > BLK_LOG_MARK_MAX || memchr(value, '\0', size))
		return -EINVAL;
	memcpy(name, value, size);
	name[size] = '\0';
	return blk_dev_log_mark(fs_dev(req_fs(req)), name);
}

/*
 * trusted.iomapfs.inject: 0 or -errno, or 1 if @name is another name.
 * Root only (the kernel already keeps trusted.* from others); on the root
 * directory only, so that no stored xattr of that name can exist.
 */
static int inject_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			   const char *value, size_t size)
{
	char spec[256];
	int err;

	if (strcmp(name, XATTR_INJECT))
		return 1;
	if (!caller_is_root(req))
		return -EPERM;
	if (ino != FUSE_ROOT_ID)
		return -EOPNOTSUPP;
	if (size >= sizeof(spec))
		return -EINVAL;
	memcpy(spec, value, size);
	spec[size] = '\0';
	err = blk_inject_set(fs_inject(req_fs(req)), spec);
	if (!err)
		iomapfs_info("error injection: %s", spec);
	return err;
}

static ssize_t inject_getxattr(fuse_req_t req, fuse_ino_t ino, void *buf, size_t size)
{
	char text[1024];
	int n;

	if (!caller_is_root(req))
		return -EPERM;
	if (ino != FUSE_ROOT_ID)
		return -ENODATA;
	n = blk_inject_show(fs_inject(req_fs(req)), text, sizeof(text));
	return xattr_copy_out(text, min_t(size_t, n, sizeof(text) - 1), buf, size);
}

static int do_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		       const char *value, size_t size, int flags)
{
	struct fs *fs = req_fs(req);
	struct fs_inode *ip;
	gid_t gid;
	int err;

	if (!strcmp(name, XATTR_LOGMARK))
		return log_mark_set(req, value, size);
	err = inject_setxattr(req, ino, name, value, size);
	if (err <= 0)
		return err;
	if (!is_own_xattr(name) && !acl_is_xattr(name))
		return fs_setxattr(fs, ino, name, value, size, flags);
	if (acl_is_xattr(name) && !req_daemon(req)->posix_acl)
		return -EOPNOTSUPP;
	err = fs_iget(fs, ino, &ip);
	if (err)
		return err;
	if (is_own_xattr(name)) {
		err = own_setxattr(req_daemon(req), ip, name, value, size, flags);
	} else {
		pthread_mutex_lock(&ip->lock);
		gid = ip->di.gid;
		pthread_mutex_unlock(&ip->lock);
		err = acl_set(fs, ino, name, value, size, flags, caller_in_group(req, gid));
	}
	fs_iput(ip);
	return err;
}

/*
 * A file that becomes drop-behind is opened with FOPEN_DIRECT_IO from now
 * on; with -o kernel_cache the kernel may still hold its pages from before,
 * which it would go on serving.  After the reply (kernel_cache.c says why).
 */
static void dontcache_drop_kernel_pages(struct iomapfs_daemon *d, fuse_ino_t ino)
{
	struct kc_inval iv;
	struct fs_inode *ip;

	if (fs_iget(d->fs, ino, &ip))
		return;
	kc_data_changing(d, ip, 0, KC_TO_END, &iv);
	fs_iput(ip);
	kc_inval_queue(d, &iv);
}

void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			const char *value, size_t size, int flags)
{
	struct iomapfs_daemon *d = req_daemon(req);	/* req is gone after the reply */
	int err = do_setxattr(req, ino, name, value, size, flags);

	reply_err(req, err);
	if (!err && !strcmp(name, XATTR_DONTCACHE) && size == 1 && value[0] == '1')
		dontcache_drop_kernel_pages(d, ino);
}

/* The getxattr/listxattr reply: an error, the size asked for with size 0,
 * or the bytes; frees @buf. */
static void reply_xattr(fuse_req_t req, char *buf, size_t size, ssize_t n)
{
	if (n < 0)
		reply_err(req, n);
	else if (!size)
		fuse_reply_xattr(req, n);
	else
		fuse_reply_buf(req, buf, n);
	kfree(buf);
}

void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	struct fs *fs = req_fs(req);
	char *buf = size ? kmalloc(size) : NULL;
	struct fs_inode *ip;
	ssize_t n;

	if (!strcmp(name, XATTR_INJECT)) {
		n = inject_getxattr(req, ino, buf, size);
	} else if (is_own_xattr(name)) {
		n = fs_iget(fs, ino, &ip);
		if (!n) {
			n = own_getxattr(req_daemon(req), ip, name, buf, size);
			fs_iput(ip);
		}
	} else {
		n = fs_getxattr(fs, ino, name, buf, size);
	}
	reply_xattr(req, buf, size, n);
}

/* The stored names, plus user.iomapfs.dontcache while the flag is set. */
static ssize_t do_listxattr(struct fs *fs, uint64_t ino, char *buf, size_t size)
{
	static const char extra[] = XATTR_DONTCACHE;	/* with its NUL */
	struct fs_inode *ip;
	ssize_t n;
	int err = fs_iget(fs, ino, &ip);

	if (err)
		return err;
	n = fs_listxattr(fs, ino, buf, size);
	if (n >= 0 && inode_dontcache(ip)) {
		if (size && n + sizeof(extra) > size)
			n = -ERANGE;
		else if (size)
			memcpy(buf + n, extra, sizeof(extra));
		if (n >= 0)
			n += sizeof(extra);
	}
	fs_iput(ip);
	return n;
}

/* Drop the trusted.* names from the list @buf of @n bytes; the new length. */
static size_t hide_trusted_names(char *buf, size_t n)
{
	size_t in = 0, out = 0;

	while (in < n) {
		size_t len = strnlen(buf + in, n - in) + 1;

		if (strncmp(buf + in, XATTR_TRUSTED_PREFIX, strlen(XATTR_TRUSTED_PREFIX))) {
			memmove(buf + out, buf + in, len);
			out += len;
		}
		in += len;
	}
	return out;
}

/*
 * For a caller who may not see trusted.* names: the whole list, filtered,
 * then the size protocol on what is left (so a size-0 probe is exact).
 */
static ssize_t listxattr_unprivileged(struct fs *fs, uint64_t ino, char *buf, size_t size)
{
	ssize_t n, full;
	char *all;

	do {
		full = do_listxattr(fs, ino, NULL, 0);
		if (full <= 0)
			return full;
		all = kmalloc(full);
		n = do_listxattr(fs, ino, all, full);
		if (n == -ERANGE)	/* grew in between: ask again */
			kfree(all);
	} while (n == -ERANGE);
	if (n >= 0)
		n = hide_trusted_names(all, n);
	if (n > 0 && size)
		n = size < (size_t)n ? -ERANGE : (memcpy(buf, all, n), n);
	kfree(all);
	return n;
}

void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	char *buf = size ? kmalloc(size) : NULL;
	ssize_t n;

	if (caller_is_root(req))
		n = do_listxattr(req_fs(req), ino, buf, size);
	else
		n = listxattr_unprivileged(req_fs(req), ino, buf, size);
	reply_xattr(req, buf, size, n);
}

void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	struct fs *fs = req_fs(req);
	struct fs_inode *ip;
	int err;

	if (acl_is_xattr(name)) {
		err = acl_remove(fs, ino, name);
	} else if (!strcmp(name, XATTR_DONTCACHE)) {
		err = fs_iget(fs, ino, &ip);
		if (!err) {
			err = dontcache_set(req_daemon(req), ip, "0", 1, XATTR_REPLACE);
			fs_iput(ip);
		}
	} else if (is_own_xattr(name)) {
		err = -EPERM;
	} else {
		err = fs_removexattr(fs, ino, name);
	}
	reply_err(req, err);
}
