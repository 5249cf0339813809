// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The FUSE lowlevel ops: the VFS glue between the kernel's FUSE requests and
 * the filesystem objects (fs.h).  It owns the translation only: entry and
 * attribute replies, lookup counts, open-file state (the errseq sample that
 * fsync reports against), the zero-copy read reply, ownership and mode of
 * new inodes (request context, setgid directories, umask or default ACL).
 * The xattr ops, with the daemon's own xattrs (user.iomapfs.*), live in
 * ops_xattr.c and FS_IOC_SHUTDOWN in ops_ioctl.c; the helpers they share
 * with this file (request accessors, reply_err(), caller checks) are
 * declared in ops.h.
 *
 * Every op runs in a FUSE request thread (task context).  -errno from the
 * filesystem becomes a FUSE error in exactly one place, reply_err().
 *
 * Lookup counts, as libfuse passthrough_hp: every entry reply (lookup,
 * create, mknod, mkdir, symlink, link, and readdirplus for each entry but
 * "." and "..") does fs_inode_lookup_inc(); forget gives them back.  When an
 * entry reply cannot be delivered (the request was interrupted) the count
 * is given back at once, because the kernel will never forget it.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/statvfs.h>
#include "ops.h"

/* Per open regular file: fi->fh. */
struct ops_file {
	struct fs_inode	*ip;		/* referenced until release */
	pthread_mutex_t	lock;		/* serializes fsyncs on this file: wb_err */
	errseq_t	wb_err;		/* errseq sample: errors seen by this open */
	bool		direct;		/* opened O_DIRECT: bypass the cache */
	bool		kernel_cached;	/* opened without FOPEN_DIRECT_IO
					 * (-o kernel_cache, kernel_cache.c) */
};

struct iomapfs_daemon *req_daemon(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

struct fs *req_fs(fuse_req_t req)
{
	return req_daemon(req)->fs;
}

static struct ops_file *file_of(const struct fuse_file_info *fi)
{
	return (struct ops_file *)(uintptr_t)fi->fh;
}

/* The one place -errno becomes a FUSE error. */
void reply_err(fuse_req_t req, int err)
{
	struct iomapfs_daemon *d = req_daemon(req);	/* the reply frees req */

	if (WARN_ON_ONCE(err > 0))
		err = -EIO;
	fuse_reply_err(req, -err);
	if (err == -EIO)	/* the first EIO of a shutdown, perhaps */
		notify_shutdown(d);
}

bool caller_is_root(fuse_req_t req)
{
	return fuse_req_ctx(req)->uid == 0;
}

/* in_group_or_capable(): may the caller keep S_ISGID on a file of @gid? */
bool caller_in_group(fuse_req_t req, gid_t gid)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	gid_t groups[64];
	int n;

	if (ctx->uid == 0 || ctx->gid == gid)
		return true;
	n = fuse_req_getgroups(req, ARRAY_SIZE(groups), groups);
	for (int i = 0; i < n && i < (int)ARRAY_SIZE(groups); i++)
		if (groups[i] == gid)
			return true;
	return false;
}

static mode_t inode_mode(struct fs_inode *ip)
{
	mode_t mode;

	pthread_mutex_lock(&ip->lock);
	mode = ip->di.mode;
	pthread_mutex_unlock(&ip->lock);
	return mode;
}

static int name_check(const char *name)
{
	return strlen(name) > IOMAPFS_NAME_MAX ? -ENAMETOOLONG : 0;
}

/* ---- entries and attributes ---- */

static void fill_entry(struct iomapfs_daemon *d, struct fs_inode *ip,
		       struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->ino = ip->ino;
	pthread_mutex_lock(&ip->lock);
	e->generation = ip->di.generation;
	pthread_mutex_unlock(&ip->lock);
	fs_fill_stat(ip, &e->attr);
	e->attr_timeout = d->attr_timeout;
	e->entry_timeout = d->entry_timeout;
}

/* Reply with @ip as a new entry; consumes the caller's reference. */
static void reply_entry(fuse_req_t req, struct fs_inode *ip)
{
	struct fs *fs = req_fs(req);
	struct fuse_entry_param e;
	uint64_t ino = ip->ino;

	fill_entry(req_daemon(req), ip, &e);
	fs_inode_lookup_inc(ip);
	fs_iput(ip);
	if (fuse_reply_entry(req, &e) == -ENOENT)
		fs_forget(fs, ino, 1);		/* interrupted: never reached the kernel */
}

static void reply_attr(fuse_req_t req, struct fs_inode *ip)
{
	struct stat st;

	fs_fill_stat(ip, &st);
	fuse_reply_attr(req, &st, req_daemon(req)->attr_timeout);
}

static bool name_is_dot_or_dotdot(const char *name)
{
	return name[0] == '.' && (!name[1] || (name[1] == '.' && !name[2]));
}

/*
 * With FUSE_CAP_EXPORT_SUPPORT the kernel resolves a file handle whose
 * inode it no longer caches by looking up "." in it (any file type), and a
 * directory's parent by looking up "..".  An inode number that is free
 * gives ENOENT, which the kernel turns into ESTALE; a number reused since
 * the handle was made has a new generation, which the kernel also rejects.
 */
static int lookup_dot(struct fs *fs, uint64_t ino, const char *name,
		      struct fs_inode **out)
{
	struct fs_inode *ip;
	uint64_t parent;
	int err = fs_iget(fs, ino, &ip);

	if (err || name[1] == '\0') {
		*out = ip;
		return err;
	}
	pthread_mutex_lock(&ip->lock);
	parent = ip->di.parent;
	if (!S_ISDIR(ip->di.mode))
		err = -ENOTDIR;
	pthread_mutex_unlock(&ip->lock);
	fs_iput(ip);
	if (err)
		return err;
	return fs_iget(fs, ino == IOMAPFS_ROOT_INO || !parent ? ino : parent, out);
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs_inode *ip;
	int err = name_check(name);

	if (!err && name_is_dot_or_dotdot(name))
		err = lookup_dot(req_fs(req), parent, name, &ip);
	else if (!err)
		err = fs_lookup(req_fs(req), parent, name, &ip);
	if (err == -ENOENT) {
		/* A negative entry (ino 0): only the kernel changes names in
		 * this filesystem, so it may cache the absence too. */
		struct fuse_entry_param e = {
			.entry_timeout = req_daemon(req)->negative_timeout,
		};

		fuse_reply_entry(req, &e);
		return;
	}
	if (err)
		return reply_err(req, err);
	reply_entry(req, ip);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	fs_forget(req_fs(req), ino, nlookup);
	fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count,
			    struct fuse_forget_data *forgets)
{
	for (size_t i = 0; i < count; i++)
		fs_forget(req_fs(req), forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_inode *ip;
	int err = fs_iget(req_fs(req), ino, &ip);

	if (err)
		return reply_err(req, err);
	reply_attr(req, ip);
	fs_iput(ip);
}

/* UTIME_NOW / UTIME_OMIT from the FUSE_SET_ATTR_* bits. */
static void setattr_times(const struct stat *attr, int to_set, struct fs_setattr *sa)
{
	if (to_set & FUSE_SET_ATTR_ATIME_NOW) {
		sa->valid |= FS_SET_ATIME;
		sa->atime.tv_nsec = UTIME_NOW;
	} else if (to_set & FUSE_SET_ATTR_ATIME) {
		sa->valid |= FS_SET_ATIME;
		sa->atime = attr->st_atim;
	}
	if (to_set & FUSE_SET_ATTR_MTIME_NOW) {
		sa->valid |= FS_SET_MTIME;
		sa->mtime.tv_nsec = UTIME_NOW;
	} else if (to_set & FUSE_SET_ATTR_MTIME) {
		sa->valid |= FS_SET_MTIME;
		sa->mtime = attr->st_mtim;
	}
}

/* Translate FUSE_SET_ATTR_* into struct fs_setattr.  Permission to chown,
 * chmod and set times was checked by the kernel (default_permissions). */
static void setattr_from_fuse(const struct stat *attr, int to_set, struct fs_setattr *sa)
{
	memset(sa, 0, sizeof(*sa));
	if (to_set & FUSE_SET_ATTR_MODE) {
		sa->valid |= FS_SET_MODE;
		sa->mode = attr->st_mode;
	}
	if (to_set & FUSE_SET_ATTR_UID) {
		sa->valid |= FS_SET_UID;
		sa->uid = attr->st_uid;
	}
	if (to_set & FUSE_SET_ATTR_GID) {
		sa->valid |= FS_SET_GID;
		sa->gid = attr->st_gid;
	}
	if (to_set & FUSE_SET_ATTR_SIZE) {
		sa->valid |= FS_SET_SIZE;
		sa->size = attr->st_size;
	}
	setattr_times(attr, to_set, sa);
	if (to_set & (FUSE_SET_ATTR_KILL_SUID | FUSE_SET_ATTR_KILL_SGID))
		sa->valid |= FS_SET_KILL_SUIDGID;
	if (!sa->valid && (to_set & FUSE_SET_ATTR_CTIME))
		sa->valid = FS_SET_CTIME_ONLY;
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		       int to_set, struct fuse_file_info *fi)
{
	struct fs *fs = req_fs(req);
	struct fs_inode *ip;
	struct fs_setattr sa;
	int err;

	struct iomapfs_daemon *d = req_daemon(req);	/* req is gone after the reply */
	struct kc_inval iv = { .needed = false };

	setattr_from_fuse(attr, to_set, &sa);
	err = req_daemon(req)->posix_acl ? acl_chmod_prepare(fs, ino, &sa) : 0;
	if (!err && sa.valid)
		err = fs_setattr(fs, ino, &sa);
	kfree((void *)sa.acl);
	if (!err)
		err = fs_iget(fs, ino, &ip);
	if (err)
		return reply_err(req, err);
	if (sa.valid & FS_SET_SIZE)
		kc_data_changing(d, ip, sa.size, KC_TO_END, &iv);
	reply_attr(req, ip);
	fs_iput(ip);
	kc_inval_queue(d, &iv);
}

/* ---- creating inodes ---- */

/*
 * Owner, group and mode of a new inode: the caller's fsuid/fsgid, the
 * parent's group and S_ISGID for directories under a setgid directory
 * (inode_init_owner), and the umask or the parent's default ACL.
 */
static int create_args(fuse_req_t req, uint64_t parent, struct fs_create_args *args,
		       struct acl_inherit *ai)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct fs *fs = req_fs(req);
	struct fs_inode *dp;
	mode_t dmode;
	gid_t dgid;
	int err;

	memset(ai, 0, sizeof(*ai));
	err = fs_iget(fs, parent, &dp);
	if (err)
		return err;
	pthread_mutex_lock(&dp->lock);
	dmode = dp->di.mode;
	dgid = dp->di.gid;
	pthread_mutex_unlock(&dp->lock);
	fs_iput(dp);
	if (!S_ISDIR(dmode))
		return -ENOTDIR;
	args->uid = ctx->uid;
	args->gid = ctx->gid;
	if (dmode & S_ISGID) {
		args->gid = dgid;
		if (S_ISDIR(args->mode))
			args->mode |= S_ISGID;
	}
	/* With FUSE_CAP_POSIX_ACL the kernel leaves the umask to us. */
	if (req_daemon(req)->posix_acl)
		return acl_prepare_create(fs, parent, &args->mode, ctx->umask, ai);
	return 0;
}

static int do_create(fuse_req_t req, uint64_t parent, const char *name, mode_t mode,
		     dev_t rdev, const char *target, struct fs_inode **out)
{
	struct fs_create_args args = { .mode = mode, .rdev = rdev, .symlink = target };
	struct fs *fs = req_fs(req);
	struct acl_inherit ai;
	int err;

	err = name_check(name);
	if (!err)
		err = create_args(req, parent, &args, &ai);
	if (!err) {
		acl_inherit_to_args(&ai, &args);
		err = fs_create(fs, parent, name, &args, out);
	}
	acl_inherit_free(&ai);
	return err;
}

static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode, dev_t rdev)
{
	struct fs_inode *ip;
	int err = do_create(req, parent, name, mode, rdev, NULL, &ip);

	if (err)
		return reply_err(req, err);
	reply_entry(req, ip);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	op_mknod(req, parent, name, (mode & 07777) | S_IFDIR, 0);
}

static void op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		       const char *name)
{
	struct fs_inode *ip;
	int err = -ENAMETOOLONG;

	if (strlen(link) <= IOMAPFS_SYMLINK_MAX)
		err = do_create(req, parent, name, S_IFLNK | 0777, 0, link, &ip);
	if (err)
		return reply_err(req, err);
	reply_entry(req, ip);
}

static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		    const char *newname)
{
	struct fs_inode *ip;
	int err = name_check(newname);

	if (!err)
		err = fs_link(req_fs(req), ino, newparent, newname, &ip);
	if (err)
		return reply_err(req, err);
	reply_entry(req, ip);
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	reply_err(req, fs_unlink(req_fs(req), parent, name));
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	reply_err(req, fs_rmdir(req_fs(req), parent, name));
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	int err = name_check(newname);

	if (flags & ~(unsigned)(RENAME_NOREPLACE | RENAME_EXCHANGE) ||
	    flags == (RENAME_NOREPLACE | RENAME_EXCHANGE))
		err = -EINVAL;	/* RENAME_WHITEOUT is for overlayfs' upper layers */
	if (!err)
		err = fs_rename(req_fs(req), parent, name, newparent, newname, flags);
	reply_err(req, err);
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	char buf[IOMAPFS_SYMLINK_MAX + 1];
	ssize_t n = fs_readlink(req_fs(req), ino, buf, sizeof(buf) - 1);

	if (n < 0)
		return reply_err(req, n);
	buf[n] = '\0';
	fuse_reply_readlink(req, buf);
}

/* ---- open files ---- */

static int file_open(fuse_req_t req, struct fs_inode *ip, struct fuse_file_info *fi)
{
	struct ops_file *of;

	if (!ip->mapping)
		return -EINVAL;	/* only regular files reach FUSE open */
	of = kzalloc(sizeof(*of));
	pthread_mutex_init(&of->lock, NULL);
	of->ip = ip;
	of->wb_err = cache_errseq_sample(ip->mapping);
	/* The kernel passes the open flags; fcntl(F_SETFL) changes of
	 * O_DIRECT never reach us, so the open decides, as FUSE can. */
	of->direct = fi->flags & O_DIRECT;
	fs_inode_open(ip);
	fi->fh = (uintptr_t)of;
	kc_open(req_daemon(req), ip, of->direct, fi);
	of->kernel_cached = !fi->direct_io;
	/* close() has nothing to do here (op_flush): spare the kernel the
	 * FLUSH round trip on every close. */
	fi->noflush = 1;
	return 0;
}

static void file_close(struct ops_file *of)
{
	fs_inode_release(of->ip);
	fs_iput(of->ip);
	pthread_mutex_destroy(&of->lock);
	kfree(of);
}

/* O_TRUNC with FUSE_CAP_ATOMIC_O_TRUNC arrives here, not as a setattr. */
static int open_truncate(fuse_req_t req, uint64_t ino)
{
	struct fs_setattr sa = { .valid = FS_SET_SIZE | FS_SET_MTIME, .size = 0 };

	sa.mtime.tv_nsec = UTIME_NOW;
	if (!caller_is_root(req))
		sa.valid |= FS_SET_KILL_SUIDGID;
	return fs_setattr(req_fs(req), ino, &sa);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct iomapfs_daemon *d = req_daemon(req);	/* req is gone after the reply */
	struct kc_inval iv = { .needed = false };
	struct fs_inode *ip;
	int err = fs_iget(req_fs(req), ino, &ip);

	if (err)
		return reply_err(req, err);
	if ((fi->flags & O_TRUNC) && ip->mapping) {
		mode_t before = inode_mode(ip);

		err = open_truncate(req, ino);
		notify_mode_change(req, ip, before);
		if (!err)	/* before file_open: no FOPEN_KEEP_CACHE */
			kc_data_changing(d, ip, 0, KC_TO_END, &iv);
	}
	if (!err)
		err = file_open(req, ip, fi);
	if (err) {
		fs_iput(ip);
		reply_err(req, err);
	} else if (fuse_reply_open(req, fi) == -ENOENT) {
		file_close(file_of(fi));	/* interrupted: no release will come */
	}
	kc_inval_queue(d, &iv);
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode, struct fuse_file_info *fi)
{
	struct fs *fs = req_fs(req);
	struct fuse_entry_param e;
	struct fs_inode *ip;
	int err = do_create(req, parent, name, (mode & 07777) | S_IFREG, 0, NULL, &ip);

	if (err)
		return reply_err(req, err);
	fill_entry(req_daemon(req), ip, &e);
	err = file_open(req, ip, fi);	/* the open file keeps our reference */
	if (err) {
		fs_iput(ip);
		return reply_err(req, err);
	}
	fs_inode_lookup_inc(ip);
	if (fuse_reply_create(req, &e, fi) == -ENOENT) {
		fs_forget(fs, e.ino, 1);
		file_close(file_of(fi));
	}
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	file_close(file_of(fi));
	fuse_reply_err(req, 0);
}

/*
 * Cheap on purpose: close() must not write back, and writeback errors are
 * reported by fsync (errseq), which POSIX requires, not by close, which it
 * does not.  Files are opened with fi->noflush, so the kernel sends FLUSH
 * only for an open that predates it; dirty pages of a shared mapping are
 * written back by the kernel when the mapping goes (fuse_vma_close), not at
 * close, so nothing is lost by skipping it.
 */
static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fuse_reply_err(req, 0);
}

/*
 * Zero copy: the reply's iovecs point into folio memory, referenced until
 * the kernel has copied them (cache_read_done after the reply).  We send
 * them with fuse_reply_iov: libfuse 3.14's fuse_reply_data copies any
 * bufvec of more than one memory buffer into a bounce buffer first
 * (fuse_send_data_iov_fallback), which a folio-per-page reply always is.
 *
 * A reference keeps the folio's memory, not its contents: a write, punch
 * or truncate could change them while the kernel copies (TSan saw it under
 * fsx).  So the read holds the inode's rwsem shared until the reply is
 * sent, as XFS holds its IOLOCK across a read: reads stay parallel, writers
 * wait for the copy.  fs_read takes the rwsem shared again inside; a second
 * read lock by the same thread is allowed for the default (reader-
 * preferring) glibc rwlock that fs_inode uses.  The hold also pins the
 * inode: once the reply is out, the kernel may release the file and the
 * last reference go before we unlock (fs_read_hold says why).
 */
/*
 * O_DIRECT read: the device reads straight into an aligned buffer of this
 * request, which the reply then copies to the kernel; the private cache is
 * not touched.  false: the range is not block-aligned, read buffered.
 */
static bool read_direct(fuse_req_t req, struct fs_inode *ip, size_t size, off_t off)
{
	size_t alloc = (size + PAGE_SIZE - 1) & ~(size_t)(PAGE_SIZE - 1);
	void *buf;
	ssize_t n;

	if (posix_memalign(&buf, PAGE_SIZE, alloc ? alloc : PAGE_SIZE)) {
		reply_err(req, -ENOMEM);
		return true;
	}
	n = fs_dio_read(ip, off, buf, size);
	if (n == -ENOTBLK) {
		free(buf);
		return false;
	}
	if (n < 0)
		reply_err(req, n);
	else
		fuse_reply_buf(req, buf, n);
	free(buf);
	return true;
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct cache_read_result *res;
	struct fs_inode *ip = file_of(fi)->ip;
	ssize_t n;

	atomic_fetch_add_explicit(&req_daemon(req)->reads, 1, memory_order_relaxed);
	if (file_of(fi)->direct && read_direct(req, ip, size, off))
		return;
	res = kmalloc(sizeof(*res));
	ip = fs_read_hold(ip);
	n = fs_read(ip, off, size, res);
	if (n < 0) {
		reply_err(req, n);
	} else {
		fuse_reply_iov(req, res->iov, res->nr_iov);
		cache_read_done(res);
	}
	fs_read_unhold(ip);
	kfree(res);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
		     off_t off, struct fuse_file_info *fi)
{
	/*
	 * file_remove_privs(): a write by a caller without CAP_FSETID clears
	 * setuid (and setgid with group-exec).  With FUSE_CAP_HANDLE_KILLPRIV
	 * off the kernel does it for chown and truncate but not for a write,
	 * and libfuse 3.14 does not pass FUSE_WRITE_KILL_SUIDGID, so the
	 * request's uid decides: root keeps the bits, anyone else (the owner
	 * included, as in the kernel) loses them.
	 */
	struct ops_file *of = file_of(fi);
	struct fs_inode *ip = of->ip;
	mode_t before = inode_mode(ip);
	bool kill = !caller_is_root(req) && (before & (S_ISUID | S_ISGID));
	ssize_t n = of->direct ? fs_dio_write(ip, off, buf, size, kill) :
				 fs_write(ip, off, buf, size, kill);
	struct iomapfs_daemon *d = req_daemon(req);	/* req is gone after the reply */
	struct kc_inval iv = { .needed = false };

	/* The kernel's page cache saw a write through a kernel-cached open,
	 * unless it failed: then it may keep bytes we do not have. */
	if (!of->kernel_cached || n < 0)
		kc_data_changing(d, ip, off, size, &iv);
	if (n < 0) {
		reply_err(req, n);
	} else {
		if (kill)	/* before the reply, so the writer's next stat sees it */
			notify_mode_change(req, ip, before);
		fuse_reply_write(req, n);
	}
	kc_inval_queue(d, &iv);
}

/*
 * With -o log_writes, a completed fsync leaves a mark "<op>:<ino>:<size>"
 * in the write log, so a replay can stop exactly where it returned.
 */
static void log_fsync_mark(fuse_req_t req, const char *op, struct fs_inode *ip)
{
	struct blk_dev *dev = fs_dev(req_fs(req));
	char mark[64];

	if (!blk_dev_has_log(dev))
		return;
	snprintf(mark, sizeof(mark), "%s:%llu:%llu", op, (unsigned long long)ip->ino,
		 (unsigned long long)(ip->mapping ? cache_mapping_size(ip->mapping)
						  : ip->di.size));
	blk_dev_log_mark(dev, mark);
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		     struct fuse_file_info *fi)
{
	struct ops_file *of = file_of(fi);
	int err;

	pthread_mutex_lock(&of->lock);
	err = fs_fsync(of->ip, datasync, &of->wb_err);
	pthread_mutex_unlock(&of->lock);
	if (!err)
		log_fsync_mark(req, datasync ? "fdatasync" : "fsync", of->ip);
	reply_err(req, err);
}

static void op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset,
			 off_t length, struct fuse_file_info *fi)
{
	struct iomapfs_daemon *d = req_daemon(req);	/* req is gone after the reply */
	struct fs_inode *ip = file_of(fi)->ip;
	struct kc_inval iv = { .needed = false };
	int err = -EINVAL;

	if (offset >= 0 && length > 0)
		err = fs_fallocate(ip, mode, offset, length);
	/* Punch and zero change the range; collapse and insert shift
	 * everything after it.  Preallocation changes no byte. */
	if (!err && (mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE)))
		kc_data_changing(d, ip, offset, length, &iv);
	else if (!err && (mode & ~FALLOC_FL_KEEP_SIZE))
		kc_data_changing(d, ip, offset, KC_TO_END, &iv);
	reply_err(req, err);
	kc_inval_queue(d, &iv);
}

static void op_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
		     struct fuse_file_info *fi)
{
	int64_t pos;

	if (whence != SEEK_DATA && whence != SEEK_HOLE)
		return reply_err(req, -EINVAL);	/* the kernel does the others */
	pos = fs_lseek(file_of(fi)->ip, off, whence);
	if (pos < 0)
		return reply_err(req, pos);
	fuse_reply_lseek(req, pos);
}

/* ---- directories ---- */

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_inode *ip;
	int err = fs_iget(req_fs(req), ino, &ip);

	if (err)
		return reply_err(req, err);
	if (!S_ISDIR(inode_mode(ip)))
		err = -ENOTDIR;
	fs_iput(ip);
	if (err)
		return reply_err(req, err);
	fi->fh = 0;
	/*
	 * The kernel may keep the listing across opens: it drops it itself
	 * when it changes the directory (every change comes through it), so
	 * a warm `ls -lR` costs one OPENDIR per directory and no READDIR.
	 * atime then moves only on the reads that reach us: the first after
	 * a change, which is when relatime moves it anyway (strictatime
	 * turns the cache off).
	 */
	if (req_daemon(req)->cache_readdir) {
		fi->cache_readdir = 1;
		fi->keep_cache = 1;
	}
	fuse_reply_open(req, fi);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fuse_reply_err(req, 0);
}

/* Entries are collected first and replied after fs_readdir() returns, so
 * that readdirplus's fs_iget never runs inside the directory walk. */
struct dirent_rec {
	uint64_t	ino, cookie;
	unsigned	dtype;
	char		*name;
};

struct readdir_ctx {
	fuse_req_t		req;
	bool			plus;
	size_t			size, used;
	struct dirent_rec	*ents;
	size_t			nr, cap;
};

static int readdir_collect(void *arg, const char *name, uint64_t ino,
			   unsigned dtype, uint64_t cookie)
{
	struct readdir_ctx *rc = arg;
	size_t need = rc->plus ?
		fuse_add_direntry_plus(rc->req, NULL, 0, name, NULL, 0) :
		fuse_add_direntry(rc->req, NULL, 0, name, NULL, 0);
	struct dirent_rec *r;

	if (rc->used + need > rc->size)
		return 1;	/* full: this entry comes again next time */
	if (rc->nr == rc->cap) {
		rc->cap = rc->cap ? 2 * rc->cap : 32;
		rc->ents = krealloc(rc->ents, rc->cap * sizeof(*rc->ents));
	}
	r = &rc->ents[rc->nr++];
	r->ino = ino;
	r->cookie = cookie;
	r->dtype = dtype;
	r->name = strdup(name);
	rc->used += need;
	return 0;
}

/*
 * One readdirplus entry.  An entry whose inode vanished since the walk is
 * still listed, without attributes (nodeid 0: the kernel makes no dentry):
 * skipping it could leave the reply empty, which the kernel takes for the
 * end of the directory.
 */
static size_t add_plus(fuse_req_t req, char *buf, size_t size,
		       const struct dirent_rec *r)
{
	struct fuse_entry_param e = { .attr.st_ino = r->ino,
				      .attr.st_mode = r->dtype << 12 };
	struct fs_inode *ip;

	if (!name_is_dot_or_dotdot(r->name) && !fs_iget(req_fs(req), r->ino, &ip)) {
		fill_entry(req_daemon(req), ip, &e);
		fs_inode_lookup_inc(ip);
		fs_iput(ip);
	}
	return fuse_add_direntry_plus(req, buf, size, r->name, &e, r->cookie);
}

/* iterate_dir()'s file_accessed(): atime per the mount's policy. */
static void dir_accessed(fuse_req_t req, fuse_ino_t ino)
{
	struct fs_inode *ip;

	if (!fs_iget(req_fs(req), ino, &ip)) {
		fs_inode_accessed(ip);
		fs_iput(ip);
	}
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       bool plus)
{
	struct readdir_ctx rc = { .req = req, .plus = plus, .size = size };
	char *buf;
	size_t pos = 0;
	int err;

	err = fs_readdir(req_fs(req), ino, off, readdir_collect, &rc);
	if (err < 0 && rc.nr == 0) {
		kfree(rc.ents);
		return reply_err(req, err);
	}
	dir_accessed(req, ino);
	buf = kmalloc(size ? size : 1);
	for (size_t i = 0; i < rc.nr; i++) {
		struct dirent_rec *r = &rc.ents[i];
		struct stat st = { .st_ino = r->ino, .st_mode = r->dtype << 12 };

		if (plus)
			pos += add_plus(req, buf + pos, size - pos, r);
		else
			pos += fuse_add_direntry(req, buf + pos, size - pos, r->name,
						 &st, r->cookie);
		free(r->name);
	}
	/* If the reply is lost, readdirplus's counts leak like passthrough_hp's:
	 * the kernel cannot tell us which entries it saw. */
	fuse_reply_buf(req, buf, pos);
	kfree(buf);
	kfree(rc.ents);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, false);
}

static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			   struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, true);
}

/* A directory's entries are metadata: one journal commit makes them durable. */
static void op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
			struct fuse_file_info *fi)
{
	struct fs *fs = req_fs(req);
	struct blk_dev *dev = fs_dev(fs);
	int err = fs_is_shutdown(fs) ? -EIO : meta_commit(fs_meta(fs));
	char mark[64];

	if (!err && blk_dev_has_log(dev)) {
		snprintf(mark, sizeof(mark), "fsyncdir:%llu", (unsigned long long)ino);
		blk_dev_log_mark(dev, mark);
	}
	reply_err(req, err);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs st;
	int err = fs_statfs(req_fs(req), &st);

	if (err)
		return reply_err(req, err);
	fuse_reply_statfs(req, &st);
}


/* ---- session ---- */

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	struct iomapfs_daemon *d = userdata;

	if (conn->capable & FUSE_CAP_POSIX_ACL) {
		conn->want |= FUSE_CAP_POSIX_ACL;
		d->posix_acl = true;
	}
	/* The kernel must not cache file data (see file_open) nor take over
	 * the suid/sgid clearing that op_write does. */
	conn->want &= ~(FUSE_CAP_WRITEBACK_CACHE | FUSE_CAP_HANDLE_KILLPRIV);
	/* With kernel_cache the daemon tells the kernel of every data change
	 * its page cache did not see (kernel_cache.c), so the kernel need not
	 * guess from mtime: that guess would drop a file's whole cache at the
	 * first attribute refresh after each write through the cache. */
	if (d->kernel_cache)
		conn->want &= ~FUSE_CAP_AUTO_INVAL_DATA;
	/* With ACLs the umask is ours to apply (acl_prepare_create): without
	 * FUSE_DONT_MASK the kernel would apply it before a default ACL could
	 * take its place. */
	if (d->posix_acl && (conn->capable & FUSE_CAP_DONT_MASK))
		conn->want |= FUSE_CAP_DONT_MASK;
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	/* File handles and NFS export: lookups of "." and ".." (lookup_dot),
	 * generations from the inode. */
	if (conn->capable & FUSE_CAP_EXPORT_SUPPORT)
		conn->want |= FUSE_CAP_EXPORT_SUPPORT;
	/* Lookups and readdirs in one directory may run concurrently: every
	 * name operation in fuse/fs finds and changes a name inside one
	 * metadata section, so the kernel's per-directory mutex adds nothing. */
	if (conn->capable & FUSE_CAP_PARALLEL_DIROPS)
		conn->want |= FUSE_CAP_PARALLEL_DIROPS;
	/* readdirplus pays for itself only when the reader stats what it
	 * lists (ls -l): let the kernel decide per directory. */
	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS;
	if (conn->capable & FUSE_CAP_READDIRPLUS_AUTO)
		conn->want |= FUSE_CAP_READDIRPLUS_AUTO;
	conn->max_write = 1u << 20;
	conn->max_readahead = 1u << 20;
	conn->time_gran = 1;
	/* Async direct I/O (io_uring, libaio) queues as background requests:
	 * the kernel's default of 12 in flight would cap a deep queue. */
	conn->max_background = 64;
	conn->congestion_threshold = 48;
}

const struct fuse_lowlevel_ops iomapfs_ll_ops = {
	.init		= op_init,
	.lookup		= op_lookup,
	.forget		= op_forget,
	.forget_multi	= op_forget_multi,
	.getattr	= op_getattr,
	.setattr	= op_setattr,
	.readlink	= op_readlink,
	.mknod		= op_mknod,
	.mkdir		= op_mkdir,
	.unlink		= op_unlink,
	.rmdir		= op_rmdir,
	.symlink	= op_symlink,
	.rename		= op_rename,
	.link		= op_link,
	.open		= op_open,
	.read		= op_read,
	.write		= op_write,
	.flush		= op_flush,
	.release	= op_release,
	.fsync		= op_fsync,
	.opendir	= op_opendir,
	.readdir	= op_readdir,
	.releasedir	= op_releasedir,
	.fsyncdir	= op_fsyncdir,
	.statfs		= op_statfs,
	.setxattr	= op_setxattr,
	.getxattr	= op_getxattr,
	.listxattr	= op_listxattr,
	.removexattr	= op_removexattr,
	.create		= op_create,
	.ioctl		= op_ioctl,
	.fallocate	= op_fallocate,
	.readdirplus	= op_readdirplus,
	.lseek		= op_lseek,
};
