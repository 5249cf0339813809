// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * nullfs: the benchmark floor for anything answered through FUSE.  A
 * minimal libfuse lowlevel daemon that serves one regular file from
 * memory, with no cache, no device and no locks on the data path, set up
 * as iomapfs sets itself up by default: files opened FOPEN_DIRECT_IO, the
 * same INIT limits (1 MiB max_write and readahead, 64 background
 * requests), and the same request threads (clone_fd, 16 idle threads
 * kept, libfuse's 10 at most).  What iomapfs costs above this figure is
 * its own; what this costs is FUSE's.
 *
 *   nullfs [-f] [-o name=FILE,size=SIZE] MOUNTPOINT
 *
 * The file (default "file", 1 GiB) reads as zeros until written; writes
 * land in its memory, which is allocated lazily by the kernel (an
 * anonymous mapping), so an untouched file costs nothing.  Its size is
 * fixed: writes past the end fail with EFBIG, truncate is ignored.  Used
 * by tools/fsbench.sh (system "nullfs"); not part of the test command.
 */
#include <errno.h>
#include <fuse_lowlevel.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define FILE_INO	2

struct nullfs {
	char		*name;		/* the one file in the root directory */
	size_t		size;
	char		*data;		/* size bytes, anonymous memory */
	struct timespec	start;		/* every timestamp */
};

static struct nullfs *nfs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static void fill_stat(const struct nullfs *n, fuse_ino_t ino, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_uid = getuid();
	st->st_gid = getgid();
	st->st_atim = st->st_mtim = st->st_ctim = n->start;
	if (ino == FUSE_ROOT_ID) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
	} else {
		st->st_mode = S_IFREG | 0644;
		st->st_nlink = 1;
		st->st_size = n->size;
		st->st_blocks = n->size / 512;
		st->st_blksize = 4096;
	}
}

static void nf_init(void *userdata, struct fuse_conn_info *conn)
{
	/* iomapfs's ->init: no kernel data cache, large requests. */
	conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
	conn->max_write = 1u << 20;
	conn->max_readahead = 1u << 20;
	conn->max_background = 64;
	conn->congestion_threshold = 48;
}

static void nf_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct nullfs *n = nfs_of(req);
	struct fuse_entry_param e = { .attr_timeout = 1.0, .entry_timeout = 1.0 };

	if (parent != FUSE_ROOT_ID || strcmp(name, n->name)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	e.ino = FILE_INO;
	fill_stat(n, FILE_INO, &e.attr);
	fuse_reply_entry(req, &e);
}

static void nf_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;

	fill_stat(nfs_of(req), ino, &st);
	fuse_reply_attr(req, &st, 1.0);
}

/* Only the size may be "set", and only to what it is (fio checks it). */
static void nf_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		       int to_set, struct fuse_file_info *fi)
{
	nf_getattr(req, ino, fi);
}

static void nf_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (ino != FILE_INO) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	fi->direct_io = 1;	/* as iomapfs by default */
	fuse_reply_open(req, fi);
}

static void nf_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct nullfs *n = nfs_of(req);

	if (off < 0 || (size_t)off >= n->size)
		size = 0;
	else if (size > n->size - off)
		size = n->size - off;
	fuse_reply_buf(req, size ? n->data + off : NULL, size);
}

static void nf_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
		     off_t off, struct fuse_file_info *fi)
{
	struct nullfs *n = nfs_of(req);

	if (off < 0 || (size_t)off > n->size || size > n->size - off) {
		fuse_reply_err(req, EFBIG);
		return;
	}
	memcpy(n->data + off, buf, size);
	fuse_reply_write(req, size);
}

static void nf_ok(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fuse_reply_err(req, 0);
}

static void nf_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		     struct fuse_file_info *fi)
{
	fuse_reply_err(req, 0);
}

static void nf_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (ino != FUSE_ROOT_ID)
		fuse_reply_err(req, ENOTDIR);
	else
		fuse_reply_open(req, fi);
}

static void nf_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	struct nullfs *n = nfs_of(req);
	const char *names[] = { ".", "..", n->name };
	char *buf = calloc(1, size ? size : 1);
	size_t pos = 0;

	for (off_t i = off; buf && i < 3; i++) {
		struct stat st = { .st_ino = i == 2 ? FILE_INO : FUSE_ROOT_ID,
				   .st_mode = i == 2 ? S_IFREG : S_IFDIR };
		size_t len = fuse_add_direntry(req, buf + pos, size - pos, names[i], &st, i + 1);

		if (len > size - pos)
			break;
		pos += len;
	}
	if (!buf)
		fuse_reply_err(req, ENOMEM);
	else
		fuse_reply_buf(req, buf, pos);
	free(buf);
}

static void nf_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct nullfs *n = nfs_of(req);
	struct statvfs st = { .f_bsize = 4096, .f_frsize = 4096,
			      .f_blocks = n->size / 4096, .f_files = 2,
			      .f_namemax = 255 };

	fuse_reply_statfs(req, &st);
}

static const struct fuse_lowlevel_ops nullfs_ops = {
	.init		= nf_init,
	.lookup		= nf_lookup,
	.getattr	= nf_getattr,
	.setattr	= nf_setattr,
	.open		= nf_open,
	.read		= nf_read,
	.write		= nf_write,
	.flush		= nf_ok,
	.release	= nf_ok,
	.fsync		= nf_fsync,
	.opendir	= nf_opendir,
	.readdir	= nf_readdir,
	.releasedir	= nf_ok,
	.statfs		= nf_statfs,
};

/* "name=FILE" and "size=SIZE" (k/m/g); anything else goes to libfuse. */
static int parse_opt(struct nullfs *n, struct fuse_args *args, char *opt)
{
	char *end;

	if (!strncmp(opt, "name=", 5)) {
		if (!opt[5] || strchr(opt + 5, '/'))
			return -1;
		n->name = opt + 5;
		return 0;
	}
	if (!strncmp(opt, "size=", 5)) {
		n->size = strtoull(opt + 5, &end, 10);
		switch (*end) {
		case 'k': case 'K': n->size <<= 10; end++; break;
		case 'm': case 'M': n->size <<= 20; end++; break;
		case 'g': case 'G': n->size <<= 30; end++; break;
		}
		return *end || !n->size ? -1 : 0;
	}
	return fuse_opt_add_arg(args, "-o") || fuse_opt_add_arg(args, opt) ? -1 : 0;
}

static int parse_args(int argc, char **argv, struct nullfs *n, struct fuse_args *args,
		      const char **mnt, int *foreground)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-f")) {
			*foreground = 1;
		} else if (!strcmp(argv[i], "-o") && i + 1 < argc) {
			for (char *s = argv[++i], *opt; (opt = strsep(&s, ","));)
				if (*opt && parse_opt(n, args, opt))
					return -1;
		} else if (argv[i][0] != '-' && !*mnt) {
			*mnt = argv[i];
		} else {
			return -1;
		}
	}
	return *mnt ? 0 : -1;
}

/* The request threads iomapfs runs with by default (fuse/daemon/main.c). */
static int run_loop(struct fuse_session *se)
{
	struct fuse_loop_config *cfg = fuse_loop_cfg_create();
	int ret;

	fuse_loop_cfg_set_clone_fd(cfg, 1);
	fuse_loop_cfg_set_idle_threads(cfg, 16);
	ret = fuse_session_loop_mt(se, cfg);
	fuse_loop_cfg_destroy(cfg);
	return ret;
}

int main(int argc, char **argv)
{
	struct nullfs n = { .name = "file", .size = 1ull << 30 };
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct fuse_session *se;
	const char *mnt = NULL;
	int fg = 0, ret = 1;

	if (fuse_opt_add_arg(&args, argv[0]) ||
	    parse_args(argc, argv, &n, &args, &mnt, &fg)) {
		fprintf(stderr, "usage: %s [-f] [-o name=FILE,size=SIZE,fuse options] MOUNTPOINT\n",
			argv[0]);
		return 2;
	}
	clock_gettime(CLOCK_REALTIME, &n.start);
	n.data = mmap(NULL, n.size, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (n.data == MAP_FAILED) {
		perror("nullfs: mmap");
		return 1;
	}
	se = fuse_session_new(&args, &nullfs_ops, sizeof(nullfs_ops), &n);
	if (!se)
		goto out;
	if (fuse_set_signal_handlers(se))
		goto out_session;
	if (fuse_session_mount(se, mnt))
		goto out_signals;
	if (fuse_daemonize(fg) == 0)
		ret = run_loop(se) < 0 ? 1 : 0;
	fuse_session_unmount(se);
out_signals:
	fuse_remove_signal_handlers(se);
out_session:
	fuse_session_destroy(se);
out:
	fuse_opt_free_args(&args);
	munmap(n.data, n.size);
	return ret;
}
