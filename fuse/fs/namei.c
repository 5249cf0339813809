// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Name operations: lookup, create (every file type), link, unlink, rmdir,
 * rename (plain, RENAME_NOREPLACE, RENAME_EXCHANGE) and readlink.
 *
 * Each operation that changes the namespace is one metadata section, so it
 * is atomic on disk, and it checks every precondition before it changes
 * anything (meta.h: there is no rollback).  Inodes are looked up and
 * referenced with fs_iget() *outside* the section (fs_iget may read the
 * tree itself); so an operation finds its names in a first short section,
 * gets the inodes, and then, in the section that does the work, finds the
 * names again: if one of them changed meanwhile it lets go and retries.
 *
 *   T1 (unlink "a")                     T2 (rename "b" -> "a")
 *   section: "a" -> ino 20; end
 *   fs_iget(20)
 *                                       section: "a" := ino 21; end
 *   section: "a" -> ino 21 != 20: end, iput, retry
 *
 * Link counts: a directory has 2 + (number of subdirectories); every other
 * inode one per entry.  Directory st_size is FS_DIRENT_SIZE per entry.
 * Symlink targets live in SYMLINK items of IOMAPFS_ITEM_MAX bytes each.
 *
 * All functions run in FUSE request threads.
 */
#include <dirent.h>
#include <linux/fs.h>
#include <string.h>
#include <sys/xattr.h>
#include "fs_internal.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE	(1 << 0)
#define RENAME_EXCHANGE		(1 << 1)
#endif

#define NS_LINK_MAX	65000u	/* as ext4: -EMLINK beyond */
#define NS_RETRIES_MAX	1000	/* name changed under us this often: give up */

static int name_check(const char *name)
{
	size_t len;

	if (!name || !*name || strchr(name, '/'))
		return -EINVAL;
	len = strlen(name);
	if (len > IOMAPFS_NAME_MAX)
		return -ENAMETOOLONG;
	return 0;
}

static bool name_is_dot(const char *name)
{
	return !strcmp(name, ".") || !strcmp(name, "..");
}

static int ns_may_write(struct fs *fs)
{
	if (fs_is_shutdown(fs))
		return -EIO;
	return fs_ro(fs) ? -EROFS : 0;
}

/* Read one dinode field under ip->lock (fields change under it). */
#define di_get(ip, field) ({						\
	__typeof__((ip)->di.field) __v;					\
	pthread_mutex_lock(&(ip)->lock);				\
	__v = (ip)->di.field;						\
	pthread_mutex_unlock(&(ip)->lock);				\
	__v;								\
})
#define inode_nlink(ip)	di_get(ip, nlink)
#define inode_mode(ip)	((mode_t)di_get(ip, mode))

static void inode_set_parent(struct fs_inode *ip, uint64_t parent)
{
	pthread_mutex_lock(&ip->lock);
	ip->di.parent = parent;
	pthread_mutex_unlock(&ip->lock);
}

/* A directory's parent from its in-memory dinode (root: itself). */
static uint64_t dir_parent(struct fs_inode *dp)
{
	uint64_t parent = di_get(dp, parent);

	return (parent && dp->ino != IOMAPFS_ROOT_INO) ? parent : dp->ino;
}

/* Entries changed by @delta: st_size, mtime and ctime of the directory. */
static void dir_changed(struct fs_inode *dp, int delta)
{
	pthread_mutex_lock(&dp->lock);
	if (WARN_ON_ONCE(delta < 0 && dp->di.size < (uint64_t)-delta * FS_DIRENT_SIZE))
		dp->di.size = 0;	/* fsck repairs the size; the entry op goes on */
	else
		dp->di.size += (int64_t)delta * FS_DIRENT_SIZE;
	pthread_mutex_unlock(&dp->lock);
	fs_inode_touch(dp, FS_TOUCH_MTIME | FS_TOUCH_CTIME);
}

/* Referenced directory inode, or -ENOTDIR. */
static int dir_get(struct fs *fs, uint64_t dir, struct fs_inode **out)
{
	struct fs_inode *dp;
	int err = fs_iget(fs, dir, &dp);

	if (err)
		return err;
	if (!S_ISDIR(inode_mode(dp))) {
		fs_iput(dp);
		return -ENOTDIR;
	}
	*out = dp;
	return 0;
}

/* @name's inode number, in a short section of its own. */
static int ns_find(struct fs *fs, uint64_t dir, const char *name, uint64_t *ino)
{
	int err;

	meta_begin_read(fs->meta);
	err = fs_dir_find(fs, dir, name, ino, NULL);
	meta_end_read(fs->meta);
	return err;
}

/* In a section: does @name in @dir still name @ip (NULL: still absent)? */
static bool ns_still(struct fs *fs, uint64_t dir, const char *name,
		     struct fs_inode *ip)
{
	uint64_t ino = 0;
	int err = fs_dir_find(fs, dir, name, &ino, NULL);

	if (!ip)
		return err == -ENOENT;
	return !err && ino == ip->ino;
}

/* Add @delta links to @ip (a parent directory gaining/losing subdirs). */
static int nlink_adjust(struct fs_inode *ip, int delta)
{
	int err = 0;

	for (; delta > 0 && !err; delta--)
		err = fs_inode_add_link(ip);
	for (; delta < 0 && !err; delta++)
		err = fs_inode_drop_link(ip);
	return err;
}

/* Write @ip unless its last link went (drop_link then owns its fate). */
static int write_if_linked(struct fs_inode *ip)
{
	if (!ip || !inode_nlink(ip))
		return 0;
	return fs_inode_write(ip);
}

/* ---- lookup and readlink ---- */

int fs_lookup(struct fs *fs, uint64_t dir, const char *name, struct fs_inode **out)
{
	struct fs_inode *dp;
	uint64_t ino;
	int err;

	if (fs_is_shutdown(fs))
		return -EIO;
	err = name_check(name);
	if (!err)
		err = dir_get(fs, dir, &dp);
	if (err)
		return err;
	if (!strcmp(name, "."))
		ino = dir;
	else if (!strcmp(name, ".."))
		ino = dir_parent(dp);
	else
		err = ns_find(fs, dir, name, &ino);
	fs_iput(dp);
	if (err)
		return err;
	return fs_iget(fs, ino, out);
}

ssize_t fs_readlink(struct fs *fs, uint64_t ino, char *buf, size_t size)
{
	struct fs_inode *ip;
	size_t len, done = 0;
	int err = fs_iget(fs, ino, &ip);

	if (err)
		return err;
	if (!S_ISLNK(inode_mode(ip))) {
		fs_iput(ip);
		return -EINVAL;
	}
	len = di_get(ip, size);
	meta_begin_read(fs->meta);
	for (uint64_t chunk = 0; done < len && done < size && !err; chunk++) {
		char tmp[IOMAPFS_ITEM_MAX];
		struct iomapfs_key key = meta_key(ino, IOMAPFS_ITEM_SYMLINK, chunk);
		uint32_t vlen = sizeof(tmp);

		err = btree_lookup(fs->meta, &key, tmp, &vlen);
		if (!err && WARN_ON_ONCE(vlen != min_t(size_t, len - done, IOMAPFS_ITEM_MAX)))
			err = -EIO;
		if (!err) {
			memcpy(buf + done, tmp, min_t(size_t, vlen, size - done));
			done += min_t(size_t, vlen, size - done);
		}
	}
	meta_end_read(fs->meta);
	fs_iput(ip);
	if (err)
		return err == -ENOENT ? -EIO : err;
	if (done < size)
		buf[done] = '\0';	/* a convenience: the count excludes it */
	return done;
}

/* ---- create ---- */

bool fs_mode_is_valid(uint32_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG: case S_IFDIR: case S_IFLNK: case S_IFCHR:
	case S_IFBLK: case S_IFIFO: case S_IFSOCK:
		return true;
	}
	return false;
}

static int create_check(const char *name, const struct fs_create_args *args)
{
	int err = name_check(name);

	if (err)
		return err;
	if (name_is_dot(name))
		return -EEXIST;
	if (!fs_mode_is_valid(args->mode))
		return -EINVAL;
	if (S_ISLNK(args->mode)) {
		if (!args->symlink || !*args->symlink)
			return -ENOENT;
		if (strlen(args->symlink) > IOMAPFS_SYMLINK_MAX)
			return -ENAMETOOLONG;
	}
	return 0;
}

/* In a section: the target of a new symlink, in ITEM_MAX chunks. */
static int symlink_write(struct fs *fs, struct fs_inode *ip, const char *target)
{
	size_t len = strlen(target);
	int err = 0;

	for (size_t off = 0, chunk = 0; off < len && !err; off += IOMAPFS_ITEM_MAX, chunk++) {
		struct iomapfs_key key = meta_key(ip->ino, IOMAPFS_ITEM_SYMLINK, chunk);

		err = btree_insert(fs->meta, &key, target + off,
				   min_t(size_t, len - off, IOMAPFS_ITEM_MAX));
	}
	pthread_mutex_lock(&ip->lock);
	ip->di.size = len;
	pthread_mutex_unlock(&ip->lock);
	return err;
}

/* In a section, after the checks: the new inode's own items and parent. */
static int create_fill(struct fs *fs, struct fs_inode *dp, struct fs_inode *ip,
		       const struct fs_create_args *args)
{
	int err = 0;

	if (S_ISLNK(args->mode))
		err = symlink_write(fs, ip, args->symlink);
	for (unsigned i = 0; i < args->nr_xattrs && !err; i++)
		err = fs_xattr_set_locked(fs, ip, args->xattrs[i].name,
					  args->xattrs[i].value, args->xattrs[i].size,
					  XATTR_CREATE);
	if (S_ISDIR(args->mode)) {
		inode_set_parent(ip, dp->ino);
		err = fs_inode_add_link(dp);
	}
	return err;
}

/* One try of fs_create: the section.  *out is NULL after an error. */
static int create_once(struct fs *fs, struct fs_inode *dp, const char *name,
		       const struct fs_create_args *args, struct fs_inode **out)
{
	struct fs_inode *ip = NULL;
	struct fs_section sect;
	int err = 0;

	fs_section_begin1(&sect, dp);
	if (!inode_nlink(dp))
		err = -ENOENT;		/* removed while we were on our way */
	else if (S_ISDIR(args->mode) && inode_nlink(dp) >= NS_LINK_MAX)
		err = -EMLINK;
	if (!err)
		err = fs_dir_check_add(fs, dp->ino, name);
	if (!err)
		err = fs_inode_alloc(fs, dp, args, &ip);
	if (err)
		goto out_end;
	fs_section_adopt(&sect, ip);
	err = create_fill(fs, dp, ip, args);
	if (!err)
		err = fs_dir_add(fs, dp->ino, name, ip->ino, fs_mode_to_dtype(args->mode));
	if (err) {
		/* The inode goes away as an orphan. */
		fs_inode_drop_link(ip);
		if (S_ISDIR(args->mode))
			fs_inode_drop_link(ip);
		goto out_end;
	}
	dir_changed(dp, 1);
	err = fs_inode_write(ip);
	if (!err)
		err = fs_inode_write(dp);
out_end:
	fs_section_end(&sect);
	if (err && ip) {	/* outside the section: it may free the inode */
		fs_iput(ip);
		ip = NULL;
	}
	*out = ip;
	return err;
}

int fs_create(struct fs *fs, uint64_t dir, const char *name,
	      const struct fs_create_args *args, struct fs_inode **out)
{
	struct fs_inode *dp;
	int err = ns_may_write(fs), tries = 0;

	*out = NULL;
	if (!err)
		err = create_check(name, args);
	if (!err)
		err = dir_get(fs, dir, &dp);
	if (err)
		return err;
	do {
		err = create_once(fs, dp, name, args, out);
	} while (fs_enospc_retry(fs, err, &tries));
	fs_iput(dp);
	return err;
}

/* ---- link ---- */

static int link_check(struct fs *fs, struct fs_inode *ip, struct fs_inode *dp,
		      const char *name)
{
	if (S_ISDIR(inode_mode(ip)))
		return -EPERM;
	if (!inode_nlink(dp) || !inode_nlink(ip))
		return -ENOENT;
	if (inode_nlink(ip) >= NS_LINK_MAX)
		return -EMLINK;
	return fs_dir_check_add(fs, dp->ino, name);
}

int fs_link(struct fs *fs, uint64_t ino, uint64_t newdir, const char *name,
	    struct fs_inode **out)
{
	struct fs_inode *ip, *dp;
	struct fs_section sect;
	int err = ns_may_write(fs), tries = 0;

	if (!err)
		err = name_check(name);
	if (!err && name_is_dot(name))
		err = -EEXIST;
	if (err)
		return err;
	err = fs_iget(fs, ino, &ip);
	if (err)
		return err;
	err = dir_get(fs, newdir, &dp);
	if (err) {
		fs_iput(ip);
		return err;
	}
	do {
		fs_section_begin(&sect, fs, (struct fs_inode *[]){ ip, dp }, 2);
		err = link_check(fs, ip, dp, name);
		if (!err)
			err = fs_dir_add(fs, newdir, name, ino,
					 fs_mode_to_dtype(inode_mode(ip)));
		if (!err)
			err = fs_inode_add_link(ip);
		if (!err) {
			dir_changed(dp, 1);
			err = fs_inode_write(ip);
		}
		if (!err)
			err = fs_inode_write(dp);
		fs_section_end(&sect);
	} while (fs_enospc_retry(fs, err, &tries));
	fs_iput(dp);
	if (err) {
		fs_iput(ip);
		ip = NULL;
	}
	*out = ip;
	return err;
}

/* ---- unlink and rmdir ---- */

/* In a section: may the entry for @ip in @dp be removed? */
static int remove_check(struct fs *fs, struct fs_inode *ip, bool rmdir)
{
	bool isdir = S_ISDIR(inode_mode(ip));

	if (!rmdir)
		return isdir ? -EISDIR : 0;
	if (!isdir)
		return -ENOTDIR;
	return fs_dir_is_empty(fs, ip->ino) ? 0 : -ENOTEMPTY;
}

/* In a section, after remove_check: drop the entry and its links. */
static int remove_entry(struct fs *fs, struct fs_inode *dp, const char *name,
			struct fs_inode *ip, bool rmdir)
{
	int err = fs_dir_remove(fs, dp->ino, name);

	if (err)
		return err;
	dir_changed(dp, -1);
	if (rmdir) {
		err = fs_inode_drop_link(dp);	/* the child's ".." */
		if (!err)
			err = fs_inode_drop_link(ip);	/* the child's "." */
	}
	if (!err)
		err = fs_inode_drop_link(ip);
	if (!err)
		err = write_if_linked(ip);
	if (!err)
		err = fs_inode_write(dp);
	return err;
}

static int do_remove(struct fs *fs, uint64_t dir, const char *name, bool rmdir)
{
	struct fs_inode *dp, *ip;
	struct fs_section sect;
	uint64_t ino;
	int err = ns_may_write(fs);

	if (!err)
		err = name_check(name);
	if (!err && name_is_dot(name))
		err = !rmdir ? -EISDIR : strcmp(name, ".") ? -ENOTEMPTY : -EINVAL;
	if (!err)
		err = dir_get(fs, dir, &dp);
	if (err)
		return err;
	for (int tries = 0; ; tries++) {
		err = ns_find(fs, dir, name, &ino);
		if (!err)
			err = fs_iget(fs, ino, &ip);
		if (err)
			break;
		fs_section_begin(&sect, fs, (struct fs_inode *[]){ dp, ip }, 2);
		if (!ns_still(fs, dir, name, ip)) {
			fs_section_end(&sect);
			fs_iput(ip);
			err = -EAGAIN;
			if (tries < NS_RETRIES_MAX)
				continue;
			break;
		}
		err = remove_check(fs, ip, rmdir);
		if (!err)
			err = remove_entry(fs, dp, name, ip, rmdir);
		fs_section_end(&sect);
		fs_iput(ip);
		break;
	}
	fs_iput(dp);
	return err;
}

int fs_unlink(struct fs *fs, uint64_t dir, const char *name)
{
	return do_remove(fs, dir, name, false);
}

int fs_rmdir(struct fs *fs, uint64_t dir, const char *name)
{
	return do_remove(fs, dir, name, true);
}

/* ---- rename ---- */

struct rename_ctx {
	struct fs	*fs;
	uint64_t	dir, newdir;
	const char	*name, *newname;
	unsigned	flags;
	struct fs_inode	*dp, *ndp;	/* the two directories (may be one) */
	struct fs_inode	*sip, *tip;	/* source, and target (NULL: none) */
	bool		s_isdir, t_isdir;
};

static int rename_args_check(const char *name, const char *newname, unsigned flags)
{
	int err = name_check(name);

	if (!err)
		err = name_check(newname);
	if (err)
		return err;
	if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE) ||
	    flags == (RENAME_NOREPLACE | RENAME_EXCHANGE))
		return -EINVAL;
	if (name_is_dot(name) || name_is_dot(newname))
		return (flags & RENAME_NOREPLACE) && name_is_dot(newname) &&
		       !name_is_dot(name) ? -EEXIST : -EINVAL;
	return 0;
}

/*
 * In a section: is directory @anc an ancestor of (or equal to) @ino?
 * Walks the parent fields on disk; every rename that moves a directory
 * writes its new parent in the same section, so the tree is current, and
 * the caller holds fs.rename_lock, so no other rename moves one meanwhile.
 */
static int is_ancestor(struct fs *fs, uint64_t anc, uint64_t ino, bool *res)
{
	for (unsigned depth = 0; depth < (1u << 20); depth++) {
		struct iomapfs_key key = meta_key(ino, IOMAPFS_ITEM_INODE, 0);
		struct iomapfs_dinode di;
		uint32_t len = sizeof(di);
		int err;

		if (ino == anc) {
			*res = true;
			return 0;
		}
		if (ino == IOMAPFS_ROOT_INO)
			break;
		err = btree_lookup(fs->meta, &key, &di, &len);
		if (WARN_ON_ONCE(err || !di.parent))
			return -EIO;
		ino = di.parent;
	}
	*res = false;
	return 0;
}

/* In a section: every precondition, before anything changes. */
static int rename_check(struct rename_ctx *rc)
{
	struct fs *fs = rc->fs;
	bool loop = false;
	int err;

	if (!rc->sip)
		return -ENOENT;
	if (!inode_nlink(rc->ndp))
		return -ENOENT;
	if (rc->flags & RENAME_EXCHANGE && !rc->tip)
		return -ENOENT;
	if (rc->flags & RENAME_NOREPLACE && rc->tip)
		return -EEXIST;
	if (rc->tip && !(rc->flags & RENAME_EXCHANGE)) {
		if (rc->s_isdir && !rc->t_isdir)
			return -ENOTDIR;
		if (!rc->s_isdir && rc->t_isdir)
			return -EISDIR;
		if (rc->t_isdir && !fs_dir_is_empty(fs, rc->tip->ino))
			return -ENOTEMPTY;
	}
	if (rc->s_isdir && rc->dir != rc->newdir) {
		err = is_ancestor(fs, rc->sip->ino, rc->newdir, &loop);
		if (err || loop)
			return err ? err : -EINVAL;
		if (!rc->t_isdir && inode_nlink(rc->ndp) >= NS_LINK_MAX)
			return -EMLINK;	/* newdir gains a subdirectory */
	}
	if (rc->tip && rc->t_isdir && rc->flags & RENAME_EXCHANGE &&
	    rc->dir != rc->newdir) {
		err = is_ancestor(fs, rc->tip->ino, rc->dir, &loop);
		if (err || loop)
			return err ? err : -EINVAL;
	}
	if (!rc->tip)
		return fs_dir_check_add(fs, rc->newdir, rc->newname);
	return 0;
}

/* In a section: parents' link counts and ".." after the entries moved. */
static int rename_fix_parents(struct rename_ctx *rc)
{
	int ddp = 0, dndp = 0, err;

	if (rc->dir != rc->newdir && rc->s_isdir) {
		inode_set_parent(rc->sip, rc->newdir);
		ddp--;
		dndp++;
	}
	if (rc->tip && rc->t_isdir) {
		if (!(rc->flags & RENAME_EXCHANGE))
			dndp--;			/* the replaced directory's ".." */
		else if (rc->dir != rc->newdir) {
			inode_set_parent(rc->tip, rc->dir);
			dndp--;
			ddp++;
		}
	}
	if (rc->dp == rc->ndp)
		return nlink_adjust(rc->dp, ddp + dndp);
	err = nlink_adjust(rc->dp, ddp);
	return err ? err : nlink_adjust(rc->ndp, dndp);
}

/* In a section, after rename_check: move (or swap) the entries. */
static int rename_apply(struct rename_ctx *rc)
{
	struct fs *fs = rc->fs;
	unsigned sdt = fs_mode_to_dtype(inode_mode(rc->sip));
	int err = fs_dir_remove(fs, rc->dir, rc->name);

	if (!err && rc->tip)
		err = fs_dir_remove(fs, rc->newdir, rc->newname);
	if (!err)
		err = fs_dir_add(fs, rc->newdir, rc->newname, rc->sip->ino, sdt);
	if (!err && rc->flags & RENAME_EXCHANGE)
		err = fs_dir_add(fs, rc->dir, rc->name, rc->tip->ino,
				 fs_mode_to_dtype(inode_mode(rc->tip)));
	if (!err)
		err = rename_fix_parents(rc);
	if (!err && rc->tip && !(rc->flags & RENAME_EXCHANGE)) {
		if (rc->t_isdir)
			err = fs_inode_drop_link(rc->tip);	/* its "." */
		if (!err)
			err = fs_inode_drop_link(rc->tip);
	}
	if (err)
		return err;
	if (!(rc->flags & RENAME_EXCHANGE)) {
		dir_changed(rc->dp, -1);
		if (!rc->tip)
			dir_changed(rc->ndp, 1);
	}
	fs_inode_touch(rc->dp, FS_TOUCH_MTIME | FS_TOUCH_CTIME);
	fs_inode_touch(rc->ndp, FS_TOUCH_MTIME | FS_TOUCH_CTIME);
	fs_inode_touch(rc->sip, FS_TOUCH_CTIME);
	if (rc->tip && inode_nlink(rc->tip))
		fs_inode_touch(rc->tip, FS_TOUCH_CTIME);
	return 0;
}

static int rename_write(struct rename_ctx *rc)
{
	int err = fs_inode_write(rc->dp);

	if (!err && rc->ndp != rc->dp)
		err = fs_inode_write(rc->ndp);
	if (!err)
		err = write_if_linked(rc->sip);
	if (!err)
		err = write_if_linked(rc->tip);
	return err;
}

static void rename_put(struct rename_ctx *rc)
{
	if (rc->sip)
		fs_iput(rc->sip);
	if (rc->tip)
		fs_iput(rc->tip);
	rc->sip = rc->tip = NULL;
}

/* Find and reference both ends outside a section (see the file comment). */
static int rename_get(struct rename_ctx *rc)
{
	uint64_t sino, tino;
	int err = ns_find(rc->fs, rc->dir, rc->name, &sino);

	if (err)
		return err;	/* no source: -ENOENT whatever else holds */
	err = fs_iget(rc->fs, sino, &rc->sip);
	if (err)	/* the inode went away after we found its name */
		return err == -ENOENT ? -EAGAIN : err;
	rc->s_isdir = S_ISDIR(inode_mode(rc->sip));
	err = ns_find(rc->fs, rc->newdir, rc->newname, &tino);
	if (err == -ENOENT)
		return 0;
	if (!err)
		err = fs_iget(rc->fs, tino, &rc->tip);
	if (err)
		return err == -ENOENT ? -EAGAIN : err;
	rc->t_isdir = S_ISDIR(inode_mode(rc->tip));
	return 0;
}

/* One attempt; -EAGAIN when a name changed between lookup and section. */
static int rename_once(struct rename_ctx *rc)
{
	struct fs *fs = rc->fs;
	struct fs_section sect;
	int err = rename_get(rc);

	if (err)
		goto out_put;
	fs_section_begin(&sect, fs,
			 (struct fs_inode *[]){ rc->dp, rc->ndp, rc->sip, rc->tip }, 4);
	if (!ns_still(fs, rc->dir, rc->name, rc->sip) ||
	    !ns_still(fs, rc->newdir, rc->newname, rc->tip)) {
		err = -EAGAIN;
		goto out_end;
	}
	err = rename_check(rc);
	if (err || (rc->tip && rc->sip->ino == rc->tip->ino))
		goto out_end;	/* two links to one inode: nothing to do */
	err = rename_apply(rc);
	if (!err)
		err = rename_write(rc);
out_end:
	fs_section_end(&sect);
out_put:
	rename_put(rc);
	return err;
}

int fs_rename(struct fs *fs, uint64_t dir, const char *name, uint64_t newdir,
	      const char *newname, unsigned flags)
{
	struct rename_ctx rc = { .fs = fs, .dir = dir, .newdir = newdir,
				 .name = name, .newname = newname, .flags = flags };
	int err = ns_may_write(fs);

	if (!err)
		err = rename_args_check(name, newname, flags);
	if (!err)
		err = dir_get(fs, dir, &rc.dp);
	if (err)
		return err;
	err = dir_get(fs, newdir, &rc.ndp);
	if (err) {
		fs_iput(rc.dp);
		return err;
	}
	/* Between two directories, as the VFS's s_vfs_rename_mutex: no
	 * other rename moves a directory while is_ancestor() walks up. */
	if (dir != newdir)
		pthread_mutex_lock(&fs->rename_lock);
	for (int tries = 0, nospc = 0; tries < NS_RETRIES_MAX; tries++) {
		err = rename_once(&rc);
		if (fs_enospc_retry(fs, err, &nospc))
			continue;
		if (err != -EAGAIN)
			break;
	}
	if (dir != newdir)
		pthread_mutex_unlock(&fs->rename_lock);
	fs_iput(rc.ndp);
	fs_iput(rc.dp);
	return err;
}
