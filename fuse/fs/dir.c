// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Directory entries: DIRENT items keyed (dir ino, IOMAPFS_ITEM_DIRENT,
 * cookie), and readdir over them.
 *
 * cookie = hash56(name) << 8 | idx.  hash56 is never 0, so every cookie is
 * >= 256 and "." (1) and ".." (2) keep their own.  idx is the first free
 * slot 0..255 among names with the same hash (a full bucket is -ENOSPC).
 * A lookup walks one bucket: O(log n) in the B+tree however large the
 * directory.  A cookie depends only on the name and on which slots of its
 * bucket were taken when it was added, so it never changes while the
 * entry exists: readdir resumed from a cookie after inserts and deletes
 * neither skips nor repeats an entry that stayed (telldir/seekdir work).
 *
 * The readdir offset is not the key itself but the key with its slot byte
 * narrowed to 7 bits: pos = hash56 << 7 | idx.  The kernel keeps directory
 * offsets in a signed loff_t and lseek() refuses negative ones, so a 64-bit
 * key with the top bit set (half of them) could be read but not sought
 * back to.  The 63-bit pos is order-preserving and invertible because a
 * directory bucket holds at most 128 names (DIR_BUCKET_SLOTS); xattrs keep
 * their 256.  The on-disk keys are unchanged.
 *
 * Everything here runs in a FUSE request thread (or fsck), inside a
 * metadata section except fs_readdir, which takes its own sections.
 */
#include <dirent.h>
#include <string.h>
#include "fs_internal.h"

/* 64-bit FNV-1a, then the murmur3 finaliser so the top 56 bits are mixed. */
uint64_t fs_name_hash56(const char *name, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)name[i];
		h *= 0x100000001b3ull;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	h >>= 8;
	return h ? h : 1;
}

struct dirent_buf {
	struct iomapfs_dirent	de;
	char			name[IOMAPFS_NAME_MAX];
};

/*
 * Walk @name's bucket of b->type items under b->objectid.  Returns 0 with
 * the match's key and value in @b, -ENOENT with b->free_idx = the first
 * unused slot (256 when the bucket is full), or -errno.
 */
int fs_bucket_find(struct meta *m, struct fs_bucket *b, const char *name)
{
	size_t len = strlen(name);
	uint64_t base = fs_name_hash56(name, len) << 8;
	struct iomapfs_key max = meta_key(b->objectid, b->type, base | 255);
	bool have_free = false;

	b->key = meta_key(b->objectid, b->type, base);
	b->free_idx = 0;
	for (;;) {
		const char *iname;
		int err, ilen;

		b->val_len = sizeof(b->val);
		err = btree_next(m, &b->key, &max, b->val, &b->val_len);
		if (err)
			return err;
		unsigned idx = b->key.offset & 255;
		if (!have_free && idx != b->free_idx)
			have_free = true;
		else if (!have_free)
			b->free_idx = idx + 1;
		ilen = b->name_of(b->val, b->val_len, &iname);
		if (WARN_ON_ONCE(ilen < 0))
			return -EIO;
		if ((size_t)ilen == len && !memcmp(iname, name, len))
			return 0;
		if (idx == 255)
			return -ENOENT;
		meta_key_next(&b->key);
	}
}

static int dirent_name(const void *val, uint32_t len, const char **name)
{
	const struct iomapfs_dirent *de = val;

	if (len < sizeof(*de) || de->name_len != len - sizeof(*de))
		return -1;
	*name = (const char *)(de + 1);
	return de->name_len;
}

static void dir_bucket_init(struct fs_bucket *b, uint64_t dir)
{
	b->objectid = dir;
	b->type = IOMAPFS_ITEM_DIRENT;
	b->name_of = dirent_name;
}

int __fs_dir_find(struct meta *m, uint64_t dir, const char *name, uint64_t *ino,
		  unsigned *dtype)
{
	struct fs_bucket b;
	const struct iomapfs_dirent *de = (const void *)b.val;
	int err;

	dir_bucket_init(&b, dir);
	err = fs_bucket_find(m, &b, name);
	if (err)
		return err;
	if (ino)
		*ino = de->ino;
	if (dtype)
		*dtype = de->type;
	return 0;
}

/* Names per hash bucket in a directory: the slot must fit the 7 bits the
 * readdir offset keeps for it. */
#define DIR_BUCKET_SLOTS	128

static int dir_check_add(struct meta *m, uint64_t dir, const char *name,
			 unsigned *idx)
{
	struct fs_bucket b;
	int err;

	if (strlen(name) > IOMAPFS_NAME_MAX)
		return -ENAMETOOLONG;
	dir_bucket_init(&b, dir);
	err = fs_bucket_find(m, &b, name);
	if (!err)
		return -EEXIST;
	if (err != -ENOENT)
		return err;
	*idx = b.free_idx;
	return *idx >= DIR_BUCKET_SLOTS ? -ENOSPC : 0;
}

int __fs_dir_add(struct meta *m, uint64_t dir, const char *name, uint64_t ino,
		 unsigned dtype)
{
	size_t len = strlen(name);
	struct dirent_buf buf = { .de = { .ino = ino, .type = dtype,
					  .name_len = len } };
	struct iomapfs_key key;
	unsigned idx;
	int err = dir_check_add(m, dir, name, &idx);

	if (err)
		return err;
	memcpy(buf.name, name, len);
	key = meta_key(dir, IOMAPFS_ITEM_DIRENT,
		       fs_name_hash56(name, len) << 8 | idx);
	return btree_insert(m, &key, &buf, sizeof(buf.de) + len);
}

/*
 * What a namespace addition may add to the tree: the entry, a new inode's
 * INODE and ORPHAN-sized items, a symlink's target in chunks.
 */
#define NS_ADD_ITEMS	(3 + DIV_ROUND_UP(IOMAPFS_SYMLINK_MAX, IOMAPFS_ITEM_MAX))
#define NS_ADD_BYTES	(2 * IOMAPFS_ITEM_MAX + IOMAPFS_SYMLINK_MAX)

int fs_dir_check_add(struct fs *fs, uint64_t dir, const char *name)
{
	unsigned idx;
	int err = dir_check_add(fs->meta, dir, name, &idx);

	return err ? err : meta_check_growth(fs->meta, NS_ADD_ITEMS, NS_ADD_BYTES);
}

int fs_dir_add(struct fs *fs, uint64_t dir, const char *name, uint64_t ino,
	       unsigned dtype)
{
	return __fs_dir_add(fs->meta, dir, name, ino, dtype);
}

int fs_dir_remove(struct fs *fs, uint64_t dir, const char *name)
{
	struct fs_bucket b;
	int err;

	dir_bucket_init(&b, dir);
	err = fs_bucket_find(fs->meta, &b, name);
	if (err)
		return err;
	return btree_delete(fs->meta, &b.key);
}

int fs_dir_find(struct fs *fs, uint64_t dir, const char *name, uint64_t *ino,
		unsigned *dtype)
{
	return __fs_dir_find(fs->meta, dir, name, ino, dtype);
}

bool fs_dir_is_empty(struct fs *fs, uint64_t dir)
{
	struct iomapfs_key key = meta_key(dir, IOMAPFS_ITEM_DIRENT, 0);
	struct iomapfs_key max = meta_key(dir, IOMAPFS_ITEM_DIRENT, UINT64_MAX);
	struct dirent_buf buf;
	uint32_t vlen = sizeof(buf);

	/* An I/O error counts as "not empty": rmdir must not go ahead. */
	return btree_next(fs->meta, &key, &max, &buf, &vlen) == -ENOENT;
}

/* ---- readdir ---- */

/*
 * Entries are gathered a batch at a time inside a section and handed to
 * @fill outside it, so a slow consumer never holds the metadata lock.
 */
#define READDIR_BATCH	64

struct readdir_ent {
	uint64_t	cookie, ino;
	unsigned	dtype;
	char		name[IOMAPFS_NAME_MAX + 1];
};

static int readdir_dot(struct fs *fs, uint64_t dir, uint64_t *parent)
{
	struct iomapfs_key key = meta_key(dir, IOMAPFS_ITEM_INODE, 0);
	struct iomapfs_dinode di;
	uint32_t len = sizeof(di);
	int err;

	meta_begin_read(fs->meta);
	err = btree_lookup(fs->meta, &key, &di, &len);
	meta_end_read(fs->meta);
	if (err)
		return err;
	if (!S_ISDIR(di.mode))
		return -ENOTDIR;
	*parent = (di.parent && dir != IOMAPFS_ROOT_INO) ? di.parent : dir;
	return 0;
}

/* DIRENT key <-> readdir offset (see the top of the file). */
static uint64_t dirent_key_to_pos(uint64_t key)
{
	WARN_ON_ONCE((key & 255) >= DIR_BUCKET_SLOTS);
	return (key >> 8) << 7 | (key & (DIR_BUCKET_SLOTS - 1));
}

static uint64_t dirent_pos_to_key(uint64_t pos)
{
	return (pos >> 7) << 8 | (pos & (DIR_BUCKET_SLOTS - 1));
}

/* Up to READDIR_BATCH entries whose key is above @key_pos. */
static int readdir_batch(struct fs *fs, uint64_t dir, uint64_t key_pos,
			 struct readdir_ent *ents, unsigned *nr)
{
	struct iomapfs_key key = meta_key(dir, IOMAPFS_ITEM_DIRENT, key_pos + 1);
	struct iomapfs_key max = meta_key(dir, IOMAPFS_ITEM_DIRENT, UINT64_MAX);
	struct dirent_buf buf;
	int err = 0;

	*nr = 0;
	if (key_pos == UINT64_MAX)
		return 0;
	meta_begin_read(fs->meta);
	while (*nr < READDIR_BATCH) {
		uint32_t vlen = sizeof(buf);
		struct readdir_ent *e = &ents[*nr];

		err = btree_next(fs->meta, &key, &max, &buf, &vlen);
		if (err)
			break;
		if (WARN_ON_ONCE(buf.de.name_len != vlen - sizeof(buf.de))) {
			err = -EIO;
			break;
		}
		e->cookie = dirent_key_to_pos(key.offset);
		e->ino = buf.de.ino;
		e->dtype = buf.de.type;
		memcpy(e->name, buf.name, buf.de.name_len);
		e->name[buf.de.name_len] = '\0';
		(*nr)++;
		if (key.offset == UINT64_MAX)
			break;
		meta_key_next(&key);
	}
	meta_end_read(fs->meta);
	return err == -ENOENT ? 0 : err;
}

int fs_readdir(struct fs *fs, uint64_t dir, uint64_t pos, fs_filldir_t fill,
	       void *ctx)
{
	struct readdir_ent *ents;
	uint64_t parent;
	unsigned nr;
	int err = readdir_dot(fs, dir, &parent);

	if (err)
		return err;
	if (pos < 1 && fill(ctx, ".", dir, DT_DIR, 1))
		return 0;
	if (pos < 2 && fill(ctx, "..", parent, DT_DIR, 2))
		return 0;
	pos = pos < 2 ? 2 : pos;

	ents = kmalloc(READDIR_BATCH * sizeof(*ents));
	if (!ents)
		return -ENOMEM;
	for (;;) {
		err = readdir_batch(fs, dir, dirent_pos_to_key(pos), ents, &nr);
		if (err || !nr)
			break;
		for (unsigned i = 0; i < nr; i++) {
			if (fill(ctx, ents[i].name, ents[i].ino, ents[i].dtype,
				 ents[i].cookie))
				goto out;
			pos = ents[i].cookie;
		}
		if (nr < READDIR_BATCH)
			break;
	}
out:
	kfree(ents);
	return err;
}
