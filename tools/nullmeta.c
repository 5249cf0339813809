// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * nullmeta: the benchmark floor for metadata through FUSE.  A libfuse
 * lowlevel daemon with a namespace in memory and nothing else: no device,
 * no journal, one mutex around a hash of names.  It negotiates what
 * iomapfs negotiates for names (POSIX ACLs, so the kernel checks
 * permissions itself and asks for the parent's attributes after it
 * changed; parallel directory operations; no FLUSH on close), caches
 * entries, attributes and absent names as long as iomapfs does, and runs
 * the same request threads, so the kernel sends it the same requests per
 * create, stat and unlink.  What iomapfs costs above this figure is its
 * own; what this costs is FUSE's.  tools/metabench.sh runs it as the
 * system "nullmeta".
 *
 *   nullmeta [-f] [-o FUSE-OPTIONS] MOUNTPOINT
 *
 * Supports what tools/metabench.c does: mkdir, create, lookup, getattr,
 * readdir, unlink, rmdir.  Inode numbers are never reused; an inode's
 * memory stays until unmount.  Not part of the test command.
 */
#include <errno.h>
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TIMEOUT		86400.0		/* iomapfs's entry/attr/negative default */
#define HASH_BITS	20

struct nm_inode {
	mode_t			mode;
	unsigned		nlink;
	uid_t			uid;
	gid_t			gid;
	struct timespec		mtime;
	struct nm_dirent	**ents;		/* directories: slot i = readdir offset i + 3 */
	size_t			nr_ents, cap_ents;
	size_t			nr_live;	/* names in it */
};

struct nm_dirent {
	struct nm_dirent	*hnext;
	fuse_ino_t		parent, ino;	/* ino 0: removed, slot kept for readdir */
	char			name[];
};

static struct {
	pthread_mutex_t		lock;
	struct nm_inode		**inodes;	/* by number; [1] the root */
	size_t			nr_inodes, cap_inodes;
	struct nm_dirent	*hash[1u << HASH_BITS];
} nm = { .lock = PTHREAD_MUTEX_INITIALIZER };

static unsigned name_hash(fuse_ino_t parent, const char *name)
{
	uint64_t h = parent * 0x9e3779b97f4a7c15ull;

	while (*name)
		h = (h ^ (unsigned char)*name++) * 0x100000001b3ull;
	return (unsigned)(h >> (64 - HASH_BITS));
}

/* Under nm.lock: the inode, or NULL. */
static struct nm_inode *iget(fuse_ino_t ino)
{
	return ino < nm.nr_inodes ? nm.inodes[ino] : NULL;
}

static struct nm_dirent **find_slot(fuse_ino_t parent, const char *name)
{
	struct nm_dirent **p = &nm.hash[name_hash(parent, name)];

	for (; *p; p = &(*p)->hnext)
		if ((*p)->parent == parent && !strcmp((*p)->name, name))
			return p;
	return p;
}

static void fill_stat(fuse_ino_t ino, const struct nm_inode *ip, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = ip->mode;
	st->st_nlink = ip->nlink;
	st->st_uid = ip->uid;
	st->st_gid = ip->gid;
	st->st_blksize = 4096;
	st->st_atim = st->st_mtim = st->st_ctim = ip->mtime;
	if (S_ISDIR(ip->mode))
		st->st_size = ip->nr_ents * 32;
}

/* Under nm.lock (or before the session): a new inode, its number in *ino. */
static struct nm_inode *inode_new(uid_t uid, gid_t gid, mode_t mode, fuse_ino_t *ino)
{
	struct nm_inode *ip = calloc(1, sizeof(*ip));

	if (!ip)
		return NULL;
	if (nm.nr_inodes >= nm.cap_inodes) {
		size_t cap = nm.cap_inodes ? nm.cap_inodes * 2 : 1024;
		struct nm_inode **v = realloc(nm.inodes, cap * sizeof(*v));

		if (!v) {
			free(ip);
			return NULL;
		}
		nm.inodes = v;
		nm.cap_inodes = cap;
	}
	ip->mode = mode;
	ip->nlink = S_ISDIR(mode) ? 2 : 1;
	ip->uid = uid;
	ip->gid = gid;
	clock_gettime(CLOCK_REALTIME, &ip->mtime);
	*ino = nm.nr_inodes;
	nm.inodes[nm.nr_inodes++] = ip;
	return ip;
}

/* Under nm.lock: link @ino as @name in @dp. */
static int dir_add(fuse_ino_t parent, struct nm_inode *dp, const char *name, fuse_ino_t ino)
{
	struct nm_dirent **slot = find_slot(parent, name);
	struct nm_dirent *de;

	if (dp->nr_ents == dp->cap_ents) {
		size_t cap = dp->cap_ents ? dp->cap_ents * 2 : 64;
		struct nm_dirent **v = realloc(dp->ents, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		dp->ents = v;
		dp->cap_ents = cap;
	}
	de = malloc(sizeof(*de) + strlen(name) + 1);
	if (!de)
		return -ENOMEM;
	de->parent = parent;
	de->ino = ino;
	strcpy(de->name, name);
	de->hnext = *slot;
	*slot = de;
	dp->ents[dp->nr_ents++] = de;
	dp->nr_live++;
	clock_gettime(CLOCK_REALTIME, &dp->mtime);
	return 0;
}

static void reply_new(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		      struct fuse_file_info *fi)
{
	struct fuse_entry_param e = { .attr_timeout = TIMEOUT, .entry_timeout = TIMEOUT };
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct nm_inode *dp, *ip = NULL;
	int err = -ENOENT;

	pthread_mutex_lock(&nm.lock);
	dp = iget(parent);
	if (dp && *find_slot(parent, name))
		err = -EEXIST;
	else if (dp && (ip = inode_new(ctx->uid, ctx->gid, mode, &e.ino)))
		err = dir_add(parent, dp, name, e.ino);
	if (!err) {
		fill_stat(e.ino, ip, &e.attr);
		if (S_ISDIR(mode))
			dp->nlink++;
	}
	pthread_mutex_unlock(&nm.lock);
	if (err)
		fuse_reply_err(req, -err);
	else if (fi)
		fuse_reply_create(req, &e, fi);
	else
		fuse_reply_entry(req, &e);
}

static void nm_init(void *userdata, struct fuse_conn_info *conn)
{
	/* As iomapfs's op_init, for what decides the requests of a name op. */
	conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
	if (conn->capable & FUSE_CAP_POSIX_ACL)
		conn->want |= FUSE_CAP_POSIX_ACL;
	if (conn->capable & FUSE_CAP_PARALLEL_DIROPS)
		conn->want |= FUSE_CAP_PARALLEL_DIROPS;
	conn->want &= ~(FUSE_CAP_READDIRPLUS | FUSE_CAP_READDIRPLUS_AUTO);
}

static void nm_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e = { .attr_timeout = TIMEOUT, .entry_timeout = TIMEOUT };
	struct nm_dirent *de;

	pthread_mutex_lock(&nm.lock);
	de = *find_slot(parent, name);
	if (de) {
		e.ino = de->ino;
		fill_stat(de->ino, iget(de->ino), &e.attr);
	}
	pthread_mutex_unlock(&nm.lock);
	fuse_reply_entry(req, &e);	/* ino 0: a cached negative entry */
}

static void nm_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct nm_inode *ip;
	struct stat st;

	pthread_mutex_lock(&nm.lock);
	ip = iget(ino);
	if (ip)
		fill_stat(ino, ip, &st);
	pthread_mutex_unlock(&nm.lock);
	if (!ip)
		fuse_reply_err(req, ENOENT);
	else
		fuse_reply_attr(req, &st, TIMEOUT);
}

static void nm_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	reply_new(req, parent, name, S_IFDIR | (mode & 07777), NULL);
}

static void nm_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode, struct fuse_file_info *fi)
{
	fi->direct_io = 1;
	fi->noflush = 1;
	reply_new(req, parent, name, S_IFREG | (mode & 07777), fi);
}

static void remove_name(fuse_req_t req, fuse_ino_t parent, const char *name, bool dir)
{
	struct nm_dirent **slot, *de;
	struct nm_inode *dp, *ip;
	int err = -ENOENT;

	pthread_mutex_lock(&nm.lock);
	slot = find_slot(parent, name);
	de = *slot;
	dp = iget(parent);
	ip = de ? iget(de->ino) : NULL;
	if (ip && dir != !!S_ISDIR(ip->mode))
		err = dir ? -ENOTDIR : -EISDIR;
	else if (ip && dir && ip->nr_live)
		err = -ENOTEMPTY;
	else if (ip) {
		*slot = de->hnext;
		de->ino = 0;		/* the readdir slot stays, skipped */
		ip->nlink = 0;
		dp->nr_live--;
		if (dir)
			dp->nlink--;
		clock_gettime(CLOCK_REALTIME, &dp->mtime);
		err = 0;
	}
	pthread_mutex_unlock(&nm.lock);
	fuse_reply_err(req, -err);
}

static void nm_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_name(req, parent, name, false);
}

static void nm_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_name(req, parent, name, true);
}

static void nm_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	char *buf = malloc(size ? size : 1);
	struct nm_inode *dp;
	size_t pos = 0;

	pthread_mutex_lock(&nm.lock);
	dp = iget(ino);
	for (off_t i = off; buf && dp && (size_t)i < dp->nr_ents + 2; i++) {
		struct nm_dirent *de = i < 2 ? NULL : dp->ents[i - 2];
		struct stat st = { .st_ino = de ? de->ino : ino };
		size_t len;

		if (de && !de->ino)
			continue;
		len = fuse_add_direntry(req, buf + pos, size - pos,
					de ? de->name : i ? ".." : ".", &st, i + 1);
		if (len > size - pos)
			break;
		pos += len;
	}
	pthread_mutex_unlock(&nm.lock);
	if (!buf || !dp)
		fuse_reply_err(req, buf ? ENOENT : ENOMEM);
	else
		fuse_reply_buf(req, buf, pos);
	free(buf);
}

static void nm_ok(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fuse_reply_err(req, 0);
}

static void nm_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fuse_reply_open(req, fi);
}

static void nm_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	fuse_reply_none(req);
}

static void nm_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs st = { .f_bsize = 4096, .f_frsize = 4096, .f_namemax = 255 };

	fuse_reply_statfs(req, &st);
}

static const struct fuse_lowlevel_ops nullmeta_ops = {
	.init		= nm_init,
	.lookup		= nm_lookup,
	.forget		= nm_forget,
	.getattr	= nm_getattr,
	.mkdir		= nm_mkdir,
	.create		= nm_create,
	.open		= nm_open,
	.release	= nm_ok,
	.unlink		= nm_unlink,
	.rmdir		= nm_rmdir,
	.opendir	= nm_open,
	.readdir	= nm_readdir,
	.releasedir	= nm_ok,
	.statfs		= nm_statfs,
};

static int run(const char *mnt, struct fuse_args *args, int foreground)
{
	struct fuse_session *se = fuse_session_new(args, &nullmeta_ops,
						   sizeof(nullmeta_ops), NULL);
	struct fuse_loop_config *cfg;
	int ret = 1;

	if (!se)
		return 1;
	if (fuse_session_mount(se, mnt) || fuse_daemonize(foreground)) {
		fuse_session_destroy(se);
		return 1;
	}
	/* The request threads iomapfs runs with by default. */
	cfg = fuse_loop_cfg_create();
	fuse_loop_cfg_set_clone_fd(cfg, 1);
	fuse_loop_cfg_set_idle_threads(cfg, 16);
	ret = fuse_session_loop_mt(se, cfg) ? 1 : 0;
	fuse_loop_cfg_destroy(cfg);
	fuse_session_unmount(se);
	fuse_session_destroy(se);
	return ret;
}

int main(int argc, char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	const char *mnt = NULL;
	fuse_ino_t root;
	int foreground = 0, bad = 0;

	if (fuse_opt_add_arg(&args, argv[0]) ||
	    fuse_opt_add_arg(&args, "-odefault_permissions,fsname=nullmeta"))
		return 1;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-f"))
			foreground = 1;
		else if (!strcmp(argv[i], "-o") && i + 1 < argc)
			bad |= fuse_opt_add_arg(&args, "-o") || fuse_opt_add_arg(&args, argv[++i]);
		else if (argv[i][0] != '-' && !mnt)
			mnt = argv[i];
		else
			bad = 1;
	}
	if (!mnt || bad) {
		fprintf(stderr, "usage: nullmeta [-f] [-o FUSE-OPTIONS] MOUNTPOINT\n");
		return 2;
	}
	/* Numbers 0 (never used: a negative entry) and 1 (the root). */
	nm.nr_inodes = 1;
	if (!inode_new(getuid(), getgid(), S_IFDIR | 0755, &root) || root != FUSE_ROOT_ID)
		return 1;
	return run(mnt, &args, foreground);
}
