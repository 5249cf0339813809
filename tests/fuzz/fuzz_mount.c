// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target: the mount-time path and everything a walk of the
 * mounted tree parses.  fs_mount (superblock, journal replay, bitmap, root
 * inode, orphans), then from the root: readdir of every directory, lookup
 * and getattr of every entry, a read of each regular file (start, middle,
 * end: the extent map), readlink, listxattr and getxattr of every name;
 * then unmount.  Bounded: FUZZ_MAX_INODES inodes, FUZZ_MAX_ENTRIES
 * entries per directory, so a directory loop on a crafted image ends.
 * The device (in-memory medium, fuzz_image_open) stays open across inputs;
 * each input mounts and unmounts the filesystem on it (fs_mount_dev).
 */
#include "fuzz_image.h"
#include "fs.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define FUZZ_MAX_INODES		256
#define FUZZ_MAX_ENTRIES	64
#define FUZZ_READ_BYTES		(64u << 10)

struct walk {
	struct fs	*fs;
	uint64_t	queue[FUZZ_MAX_INODES];	/* directories to read */
	unsigned	head, tail;
	uint64_t	seen[FUZZ_MAX_INODES];
	unsigned	nr_seen;
};

struct dir_batch {
	unsigned	nr;
	char		names[FUZZ_MAX_ENTRIES][IOMAPFS_NAME_MAX + 1];
};

/* True the first time @ino is seen (and while there is room to remember). */
static bool walk_first_visit(struct walk *w, uint64_t ino)
{
	for (unsigned i = 0; i < w->nr_seen; i++)
		if (w->seen[i] == ino)
			return false;
	if (w->nr_seen == FUZZ_MAX_INODES)
		return false;
	w->seen[w->nr_seen++] = ino;
	return true;
}

static int collect(void *ctx, const char *name, uint64_t ino, unsigned dtype,
		   uint64_t cookie)
{
	struct dir_batch *b = ctx;

	if (b->nr == FUZZ_MAX_ENTRIES)
		return 1;
	snprintf(b->names[b->nr++], sizeof(b->names[0]), "%s", name);
	return 0;
}

static void read_xattrs(struct fs *fs, uint64_t ino)
{
	static char list[1 << 16], value[IOMAPFS_XATTR_SIZE_MAX];
	ssize_t n = fs_listxattr(fs, ino, list, sizeof(list));

	for (ssize_t off = 0; n > 0 && off < n; off += strlen(list + off) + 1)
		fs_getxattr(fs, ino, list + off, value, sizeof(value));
}

static void read_file(struct fs_inode *ip, const struct stat *st)
{
	static struct cache_read_result res;
	uint64_t at[3] = { 0, st->st_size / 2, st->st_size > FUZZ_READ_BYTES ?
			   st->st_size - FUZZ_READ_BYTES : 0 };

	fs_inode_open(ip);
	for (int i = 0; i < 3; i++) {
		down_read(&ip->rwsem);
		if (fs_read(ip, at[i], FUZZ_READ_BYTES, &res) >= 0)
			cache_read_done(&res);
		up_read(&ip->rwsem);
	}
	fs_inode_release(ip);
}

static void visit(struct walk *w, uint64_t dir, const char *name)
{
	static char target[IOMAPFS_SYMLINK_MAX + 1];
	struct fs_inode *ip;
	struct stat st;

	if (fs_lookup(w->fs, dir, name, &ip))
		return;
	fs_fill_stat(ip, &st);
	if (walk_first_visit(w, ip->ino)) {
		if (S_ISREG(st.st_mode) && ip->mapping)
			read_file(ip, &st);
		else if (S_ISLNK(st.st_mode))
			fs_readlink(w->fs, ip->ino, target, sizeof(target));
		else if (S_ISDIR(st.st_mode) && w->tail < FUZZ_MAX_INODES)
			w->queue[w->tail++] = ip->ino;
		read_xattrs(w->fs, ip->ino);
	}
	fs_iput(ip);
}

static void walk_dir(struct walk *w, uint64_t dir)
{
	static struct dir_batch b;

	b.nr = 0;
	fs_readdir(w->fs, dir, 0, collect, &b);
	for (unsigned i = 0; i < b.nr; i++)
		if (strcmp(b.names[i], ".") && strcmp(b.names[i], ".."))
			visit(w, dir, b.names[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fs_mount_opts opts = { 0 };
	static struct walk w;

	if (fuzz_image_load(&fuzz_img, data, size))
		return -1;
	/* A small arena (a mount maps and frees it); 64 folios still hold
	 * one FUZZ_READ_BYTES read. */
	opts.cache.size_bytes = 256u << 10;
	opts.meta.buf_cache_bytes = 1u << 20;
	if (fs_mount_dev(fuzz_dev, &opts, &w.fs))
		return 0;
	w.head = w.tail = w.nr_seen = 0;
	walk_first_visit(&w, IOMAPFS_ROOT_INO);
	read_xattrs(w.fs, IOMAPFS_ROOT_INO);
	w.queue[w.tail++] = IOMAPFS_ROOT_INO;
	while (w.head < w.tail)
		walk_dir(&w, w.queue[w.head++]);
	fs_unmount(w.fs);
	return 0;
}
